import csv
import io

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf
from PIL import Image

from synesthesia.datasets import schema as S
from synesthesia.sources import scan_generic
from synesthesia.stages.ingest import (
    IngestConfig,
    deduplicate,
    ingest_items,
    item_id,
)


def _ingest(path, config):
    source = scan_generic(path, config.kind, config.folder_fields)
    good, bad = ingest_items(source.root, source.items, config)
    good, dupes = deduplicate(good, config.kind)
    bad = pa.concat_tables([S.from_rows(source.problems, S.QUARANTINE), bad, dupes])
    return source, good, bad


def test_every_broken_painting_is_quarantined_with_a_reason_and_good_ones_kept(tiny_corpus):
    source, good, bad = _ingest(tiny_corpus["paintings"], IngestConfig.images())
    broken = {k: v for k, v in tiny_corpus["broken"].items() if k.endswith((".jpg", ".png", ".txt"))}
    reasons = dict(zip(bad.column("path").to_pylist(), bad.column("reason").to_pylist()))
    assert set(reasons) == set(broken)
    assert "empty file" in reasons[next(k for k, v in broken.items() if v == "zero bytes")]
    assert "decode failed" in reasons[next(k for k, v in broken.items() if v == "truncated")]
    assert "not a readable image" in reasons[next(k for k, v in broken.items() if v == "not an image")]
    assert "unsupported file type" in reasons[next(k for k, v in broken.items() if v == "unsupported type")]
    assert "duplicate content of" in reasons[next(k for k, v in broken.items() if v == "duplicate")]
    assert set(bad.column("stage").to_pylist()) == {"ingest", "dedup"}
    # every other file is present, exactly once
    all_files = {i.path for i in source.items}
    assert set(good.column("path").to_pylist()) == all_files - set(broken)
    assert good.num_rows == tiny_corpus["n_paintings"]
    row = good.filter(pa.compute.equal(good["path"], "geometric/abstract/geometric_000.png")).to_pylist()[0]
    assert (row["style"], row["genre"], row["width"], row["height"], row["format"]) == ("geometric", "abstract", 96, 96, "PNG")
    assert row["image_id"] == item_id("image", row["path"])
    # transparency is recorded: the RGBA cut-outs and the palette PNG with a transparent colour, nothing else
    alpha = {p for p, a in zip(good["path"].to_pylist(), good["has_alpha"].to_pylist()) if a}
    assert alpha == {"color_field/abstract/color_field_001.png", "expressionist/figurative/expressionist_001.png", "stripes/abstract/stripes_001.png"}
    assert set(good["format"].to_pylist()) == {"PNG", "JPEG"}  # CMYK JPEG, 16-bit and 48-bit PNGs are valid paintings too
    assert len(row["sha256"]) == 64


def test_every_broken_track_is_quarantined_with_a_reason(tiny_corpus):
    source, good, bad = _ingest(tiny_corpus["music"], IngestConfig.audio(min_duration_s=15.0))
    broken = {k: v for k, v in tiny_corpus["broken"].items() if k.endswith((".wav", ".mp3", ".flac"))}
    reasons = dict(zip(bad.column("path").to_pylist(), bad.column("reason").to_pylist()))
    assert set(reasons) == set(broken)
    by_kind = {v: reasons[k] for k, v in broken.items()}
    assert by_kind["zero bytes"].startswith("empty file")
    assert by_kind["truncated"].startswith("truncated WAV")
    assert by_kind["not audio"].startswith("audio decode failed")
    assert by_kind["too short"].startswith("too short: 10.00 s")
    assert by_kind["duplicate"].startswith("duplicate content of")
    assert good.num_rows == tiny_corpus["n_tracks"]
    assert set(good.column("sample_rate").to_pylist()) == {22_050, 44_100}
    assert set(good.column("channels").to_pylist()) == {1, 2}
    assert all(30.0 <= d <= 50.0 for d in good.column("duration_s").to_pylist())


def test_truncated_flac_mp3_and_ogg_are_detected(tmp_path):
    y = (np.random.default_rng(0).standard_normal((16_000 * 20, 1)) * 0.1).astype(np.float32)
    for fmt, sub, ext in [("FLAC", "PCM_16", "flac"), ("MP3", "MPEG_LAYER_III", "mp3"), ("OGG", "VORBIS", "ogg")]:
        buf = io.BytesIO()
        sf.write(buf, y, 16_000, format=fmt, subtype=sub)
        (tmp_path / f"ok.{ext}").write_bytes(buf.getvalue())
        (tmp_path / f"cut.{ext}").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    source, good, bad = _ingest(tmp_path, IngestConfig.audio(folder_fields=()))
    assert sorted(good.column("path").to_pylist()) == ["ok.flac", "ok.mp3", "ok.ogg"]
    assert sorted(bad.column("path").to_pylist()) == ["cut.flac", "cut.mp3", "cut.ogg"]


def test_csv_input_with_metadata_and_missing_rows(tmp_path):
    Image.new("RGB", (20, 10), (255, 0, 0)).save(tmp_path / "a.png")
    Image.new("RGB", (30, 40), (0, 255, 0)).save(tmp_path / "b.jpg")
    with open(tmp_path / "meta.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "style", "genre", "artist", "title", "source", "unused"])
        w.writerow(["a.png", "Baroque", "portrait", "Anon", "Red", "wikiart", "x"])
        w.writerow(["b.jpg", "Cubism", "", "", "", "aacp", "y"])
        w.writerow(["missing.jpg", "Cubism", "", "", "", "", ""])
        w.writerow(["", "Cubism", "", "", "", "", ""])
    source, good, bad = _ingest(tmp_path / "meta.csv", IngestConfig.images())
    rows = {r["path"]: r for r in good.to_pylist()}
    assert rows["a.png"]["style"] == "Baroque" and rows["a.png"]["artist"] == "Anon" and rows["a.png"]["source"] == "wikiart"
    assert rows["b.jpg"]["genre"] is None and (rows["b.jpg"]["width"], rows["b.jpg"]["height"]) == (30, 40)
    reasons = dict(zip(bad.column("path").to_pylist(), bad.column("reason").to_pylist()))
    assert reasons["missing.jpg"] == "file not found"
    assert reasons["meta.csv:5"] == "CSV row has an empty path"


def test_csv_without_path_column_is_a_clear_error(tmp_path):
    (tmp_path / "x.csv").write_text("file,style\na.png,x\n")
    with pytest.raises(ValueError, match="'path' column is required"):
        scan_generic(tmp_path / "x.csv", "image")


def test_metadata_csv_in_a_folder_overrides_folder_names(tmp_path):
    (tmp_path / "Baroque").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "Baroque" / "p.png")
    (tmp_path / "metadata.csv").write_text("path,artist,style\nBaroque/p.png,Rubens,\n")
    source, good, bad = _ingest(tmp_path, IngestConfig.images())
    row = good.to_pylist()[0]
    assert (row["style"], row["artist"]) == ("Baroque", "Rubens")
    assert bad.num_rows == 0


def test_ids_are_stable_and_path_derived():
    assert item_id("image", "a/b.png") == item_id("image", "a/b.png")
    assert item_id("image", "a/b.png") != item_id("image", "a/c.png")
    assert item_id("audio", "a/b.png").startswith("aud-")
