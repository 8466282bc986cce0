"""The audio pass (stages.audio): one full decode per track feeding mels and
clip files, clip files that never clip silently, shards of equal duration,
and tracks that only a full decode can reject."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.media import ClipConfig, MelConfig, load_audio
from synesthesia.stages.audio import MIN_SHARDS, CopyJob, MelJob, audio_pass, plan_clips, plan_pass, read_mels
from synesthesia.sources import scan_generic
from synesthesia.stages.ingest import IngestConfig, ingest_items
from synesthesia.stages.shards import plan_shards


def _tracks(folder: Path, files: dict[str, tuple[np.ndarray, int, str, str]]) -> pa.Table:
    """Write ``{name: (samples, rate, format, subtype)}`` and ingest them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (y, sr, fmt, sub) in files.items():
        with sf.SoundFile(folder / name, "w", sr, 1 if y.ndim == 1 else y.shape[1], sub, format=fmt) as f:
            for start in range(0, len(y), 1 << 16):  # in blocks: libsndfile 1.2 crashes writing long Vorbis in one call
                f.write(y[start : start + (1 << 16)])
    config = IngestConfig.audio(folder_fields=())
    source = scan_generic(folder, config.kind, config.folder_fields)
    good, bad = ingest_items(source.root, source.items, config)
    assert bad.num_rows == 0, bad.to_pylist()
    return good.rename_columns(["track_id" if c == "audio_id" else c for c in good.column_names])


def _hot_square(seconds: float, sr: int = 44_100) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.99 * np.sign(np.sin(2 * np.pi * 220 * t))
    return np.stack([y, np.roll(y, 30)], axis=1).astype(np.float32)


def test_each_track_is_decoded_once_for_ingest_mels_and_listening_copies(tmp_path, monkeypatch):
    """Ingest checks header + probe; the one full decode feeds both outputs
    (counted as whole-file decodes: soundfile's block reader, which only the
    full decode uses; ingest's probe reads two seconds)."""
    reads = Counter()
    real_blocks = sf.SoundFile.blocks

    def counting_blocks(self, *args, **kwargs):
        reads[Path(str(self.name)).name] += 1
        return real_blocks(self, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "blocks", counting_blocks)
    rng = np.random.default_rng(0)
    files = {f"t{k}.{ext}": ((rng.standard_normal((int(sr * s), 2)) * 0.1).astype(np.float32), sr, fmt, sub)
             for k, (s, sr, ext, fmt, sub) in enumerate([(31, 44_100, "ogg", "OGG", "VORBIS"), (47, 22_050, "flac", "FLAC", "PCM_16"), (16, 16_000, "wav", "WAV", "PCM_16")])}
    tracks = _tracks(tmp_path / "music", files)
    assert sum(reads.values()) == 0  # ingest decoded no whole file
    clips = plan_clips(tracks, ClipConfig())
    copies = CopyJob(clips.filter(pa.compute.equal(clips["clip_index"], 0)), ClipConfig(), native=True)
    result = audio_pass(tracks, tmp_path / "music", tmp_path / "out", 200, mels=MelJob(clips, ClipConfig(), MelConfig()), copies=copies)
    assert reads == Counter({name: 1 for name in files})
    assert len(read_mels(tmp_path / "out" / "mels")[0]) == clips.num_rows == 2 + 3 + 1
    assert result.clip_files.num_rows == 3 and result.failed.num_rows == 0
    # a re-run decodes nothing; asking for other copies decodes only the tracks that have any
    audio_pass(tracks, tmp_path / "music", tmp_path / "out", 200, mels=MelJob(clips, ClipConfig(), MelConfig()), copies=copies)
    assert sum(reads.values()) == 3
    second = CopyJob(clips.filter(pa.compute.equal(clips["clip_index"], 1)), ClipConfig(), native=True)
    audio_pass(tracks, tmp_path / "music", tmp_path / "out", 200, copies=second)
    assert reads == Counter({"t0.ogg": 2, "t1.flac": 2, "t2.wav": 1})  # t2 (16 s) has no second clip


def test_hot_vorbis_listening_copies_are_not_clipped(tmp_path):
    tracks = _tracks(tmp_path / "music", {"hot.ogg": (_hot_square(20.0), 44_100, "OGG", "VORBIS")})
    source, sr = sf.read(tmp_path / "music" / "hot.ogg", dtype="float32", always_2d=True)
    peak = float(np.abs(source).max())
    assert peak > 1.1  # Vorbis decodes a full-scale square wave well above full scale
    clips = plan_clips(tracks, ClipConfig())
    result = audio_pass(tracks, tmp_path / "music", tmp_path / "out", 200, copies=CopyJob(clips, ClipConfig(), native=True))
    row = result.clip_files.to_pylist()[0]
    assert row["gain"] == pytest.approx(1.0 / peak) and row["source_peak"] == pytest.approx(peak)
    copy, rate = sf.read(tmp_path / "out" / "clips" / row["path"], dtype="float32", always_2d=True)
    assert rate == 44_100 and copy.shape == (15 * 44_100, 2)
    # the copy is the source scaled by the gain, to 16-bit precision: no sample was clipped
    assert np.abs(source[: len(copy)]).max() > 1.1
    np.testing.assert_allclose(copy, source[: len(copy)] * row["gain"], atol=1.5 / 32768)


def test_hot_flac_resampled_clip_files_keep_their_range(tmp_path):
    """Museart's 16 kHz clip files: resampling a full-scale square wave overshoots 1.0."""
    tracks = _tracks(tmp_path / "music", {"hot.flac": (_hot_square(31.0), 44_100, "FLAC", "PCM_16")})
    clip = ClipConfig(clip_seconds=30.0, short_track="pad")
    result = audio_pass(tracks, tmp_path / "music", tmp_path / "out", 200, copies=CopyJob(plan_clips(tracks, clip), clip))
    row = result.clip_files.to_pylist()[0]
    y16 = load_audio(tmp_path / "music" / "hot.flac")
    assert row["source_peak"] > 1.0 and row["gain"] == pytest.approx(1.0 / float(np.abs(y16).max()))
    stored, _ = sf.read(tmp_path / "out" / "clips" / row["path"], dtype="float32")
    np.testing.assert_allclose(stored, y16[: 30 * 16_000] * row["gain"], atol=1.5 / 32768)


def test_a_few_long_tracks_are_cut_into_shards_of_equal_duration():
    """38 tracks of 1-5 minutes were one shard at --shard-size 200: one worker idled."""
    rng = np.random.default_rng(3)
    seconds = rng.uniform(60, 300, 38)
    tracks = pa.table({
        "track_id": [f"t{k:02d}" for k in range(38)], "path": [f"t{k:02d}.ogg" for k in range(38)], "sha256": ["x"] * 38,
        "n_frames": (seconds * 44_100).astype(np.int64), "sample_rate": [44_100] * 38,
    })
    assert len(plan_shards("mels", list(range(38)), 200)) == 1  # by count
    shards = plan_pass(tracks, 200, mels=MelJob(plan_clips(tracks, ClipConfig()), ClipConfig(), MelConfig()))
    assert len(shards) == MIN_SHARDS
    totals = [sum(i["n_frames"] for i in s.items) / 44_100 for s in shards]
    assert sum(len(s.items) for s in shards) == 38
    assert max(totals) < 1.5 * np.mean(totals) and min(totals) > 0.6 * np.mean(totals)
    few = plan_pass(tracks.slice(0, 3), 200, mels=MelJob(plan_clips(tracks.slice(0, 3), ClipConfig()), ClipConfig(), MelConfig()))
    assert [len(s.items) for s in few] == [1, 1, 1]
    # the cut does not depend on what is asked of the tracks: mels and later copies share shards
    copies = plan_pass(tracks, 200, copies=CopyJob(plan_clips(tracks, ClipConfig()).slice(0, 5), ClipConfig(), native=True))
    assert [[i["track_id"] for i in s.items] for s in copies] == [[i["track_id"] for i in s.items] for s in shards]


def test_a_track_only_the_full_decode_rejects_is_quarantined(tmp_path):
    """Non-finite samples in the middle of a float WAV pass the header and the
    probe; the audio pass reports them and makes nothing from that track."""
    good = (np.random.default_rng(0).standard_normal(16_000 * 20) * 0.1).astype(np.float32)
    bad = good.copy()
    bad[16_000 * 8] = np.nan
    tracks = _tracks(tmp_path / "music", {"good.wav": (good, 16_000, "WAV", "FLOAT"), "bad.wav": (bad, 16_000, "WAV", "FLOAT")})
    clips = plan_clips(tracks, ClipConfig())
    result = audio_pass(tracks, tmp_path / "music", tmp_path / "out", 200, mels=MelJob(clips, ClipConfig(), MelConfig()))
    assert result.failed.to_pylist() == [{"path": "bad.wav", "kind": "audio", "stage": "audio", "reason": "audio contains non-finite samples"}]
    ids, _ = read_mels(tmp_path / "out" / "mels")
    bad_id = tracks.filter(pa.compute.equal(tracks["path"], "bad.wav"))["track_id"][0].as_py()
    assert ids and not any(i.startswith(bad_id) for i in ids)
    parts = sorted((tmp_path / "out" / "mels").glob("quarantine-*"))  # one per shard (the two tracks may be in two)
    assert sum(dio.read_table(p, S.QUARANTINE).num_rows for p in parts) == 1
