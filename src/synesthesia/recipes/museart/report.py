"""Museart's ``report.md`` and dataset card."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from synesthesia.datasets import card as C
from synesthesia.datasets import io as dio
from synesthesia.datasets import markdown as R
from synesthesia.datasets import schema as S
from synesthesia.datasets.keys import SPLITS
from synesthesia.recipes.museart.build import split_proportions
from synesthesia.recipes.museart.config import PAPER_CATEGORIES


def _mode_text(mode: str, group_pattern: str) -> str:
    if mode == "grouped":
        return (f"`grouped`: 80/10/10 per category with every source track in one split (track = item name matched by "
                f"`{group_pattern}`, first group).")
    if mode == "paper":
        return "`paper`: 80/10/10 per category at item level (largest-remainder sizes per category); segments of one track may land in different splits."
    return "`from-csv`: the published `set` column, as is (`validation` → `val`)."


def report_sections(out: Path, summary: dict) -> list[str]:
    """The sections of ``report.md``."""
    images = dio.read_table(out / "images.parquet", S.MUSEART_IMAGES)
    audio = dio.read_table(out / "audio.parquet", S.MUSEART_AUDIO)
    pairs = dio.read_table(out / "pairs.parquet", S.MUSEART_PAIRS)
    quarantine = dio.read_table(out / "quarantine.parquet", S.QUARANTINE)
    cfg = summary["config"]
    media = media_notes(out, summary)
    counts = R.md_table(
        ["stage", "count"],
        [
            ("image files found", summary["images_found"]),
            ("valid images (after dedup)", images.num_rows),
            ("audio files found", summary["audio_found"]),
            ("valid audio files (after dedup)", summary["audio_files"]),
            (f"{cfg['clip_seconds']:g} s audio items", audio.num_rows),
            ("  of which zero-padded", media["padded"]),
            ("  of which written with a gain < 1 (source above full scale)", media["gained"]),
            ("images with transparent pixels", media["alpha"]),
            ("pairs", pairs.num_rows),
            ("rejected inputs", quarantine.num_rows),
        ],
    )
    categories = sorted(set(images.column("category").to_pylist()) | set(audio.column("category").to_pylist()))
    paper = [c for c in categories if c in PAPER_CATEGORIES]
    other = [c for c in categories if c not in PAPER_CATEGORIES]
    cat_text = f"{len(categories)} categories: {len(paper)} of the paper's 18" + (f", plus {len(other)} other(s): {', '.join(other)}" if other else "") + "."

    split_rows = []
    a_counts = Counter(zip(audio.column("category").to_pylist(), audio.column("split").to_pylist()))
    i_counts = Counter(zip(images.column("category").to_pylist(), images.column("split").to_pylist()))
    p_counts = Counter(zip(pairs.column("category").to_pylist(), pairs.column("split").to_pylist()))
    for c in categories + ["(all)"]:
        def n(counter, split, c=c):
            return sum(v for (cc, s), v in counter.items() if s == split and (c == "(all)" or cc == c))
        split_rows.append([c] + [f"{n(a_counts, s)} / {n(i_counts, s)} / {n(p_counts, s)}" for s in SPLITS])
    props = split_proportions(audio)
    target = dict(cfg["fractions"])
    worst = max((abs(p[s] - target[s]) for p in props.values() for s in SPLITS), default=0.0)
    split_text = (
        f"Mode {_mode_text(cfg['split'], cfg['group_pattern'])} Seed {cfg['seed']}.\n\n"
        "Each cell: audio items / images / pairs.\n\n"
        + R.md_table(["category", *SPLITS], split_rows)
        + f"\n\nLargest deviation of a category's audio split proportion from {'/'.join(f'{target[s]:.0%}' for s in SPLITS)}: "
        f"{worst * 100:.2f} points."
    )
    leak_rows = [
        (mode + (" (this build)" if mode == cfg["split"] else ""), v["groups"], v["leaked"], f"{(v['leaked'] / v['groups'] * 100 if v['groups'] else 0):.1f}%")
        for mode, v in summary["leakage"].items()
    ]
    leak_text = (
        "A source track leaks when its segments are in more than one split (a model then sees test music in training). "
        "Every mode, computed on these items:\n\n"
        + R.md_table(["split mode", "source tracks", "leaked across splits", "share"], leak_rows)
    )
    use = summary["pairing"]
    order = {s: i for i, s in enumerate(SPLITS)}
    cells = sorted(use.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], len(order)), kv[0][1]))
    usage_rows = [(c, s, u["queries"], u["partners"], u["min_use"], u["max_use"]) for (c, s), u in cells]
    pair_text = (
        f"Each audio item is paired once with an image of its category and split (seed {cfg['seed']}); "
        "within a cell every image is used `floor(a/i)` or `ceil(a/i)` times.\n\n"
        + R.md_table(["category", "split", "audio", "images", "min use", "max use"], usage_rows)
        + (f"\n\n{summary['unpaired']} audio item(s) had no image in their cell and are in the quarantine (stage `pairing`)." if summary["unpaired"] else "")
    )
    return [
        "## Counts per stage\n\n" + counts + "\n\n" + " ".join(media["notes"]),
        "## Quarantine\n\n" + R.quarantine_section(quarantine),
        "## Categories\n\n" + cat_text,
        "## Splits\n\n" + split_text,
        "## Source-track leakage\n\n" + leak_text,
        "## Pairing\n\n" + pair_text,
    ]


def media_notes(out: Path, summary: dict) -> dict:
    """Zero-padded items, items written with a gain, transparent images: the counts and what the card says of them."""
    audio = dio.read_table(out / "audio.parquet", S.MUSEART_AUDIO)
    images = dio.read_table(out / "images.parquet", S.MUSEART_IMAGES)
    cfg = summary["config"]
    padded = sum(1 for s in audio.column("signal_s").to_pylist() if s is not None and s < cfg["clip_seconds"] - 1e-6)
    gained = sum(1 for g in audio.column("gain").to_pylist() if g is not None and g < 1.0)
    alpha = sum(v is True for v in images.column("has_alpha").to_pylist())
    notes = [
        f"{padded} of {audio.num_rows} audio items hold less than {cfg['clip_seconds']:g} s of signal and are zero-padded to "
        f"{cfg['clip_seconds']:g} s (`signal_s` gives the real length)." if padded else f"Every audio item holds {cfg['clip_seconds']:g} s of signal."
    ]
    if gained:
        notes.append(f"{gained} items come from sources that peak above full scale and were written with the gain in `gain` (the source peak is in `source_peak`), not clipped.")
    if alpha:
        notes.append(f"{alpha} of {images.num_rows} images have transparent pixels; the reader composites them onto `{cfg.get('alpha_background', 'white')}`.")
    return {"padded": padded, "gained": gained, "alpha": alpha, "notes": notes}


def card_sections(summary: dict, notes: list[str] = ()) -> list[str]:
    cfg = summary["config"]
    sizes = summary["split_sizes"]
    return [
        "Music–image pairs in the layout of **Museart** (Musipainter, section 3.1): each audio item, a 30 s clip "
        "(16 kHz mono FLAC), is paired with an image of the same category and split. "
        f"Built by `synesthesia build museart` with split mode `{cfg['split']}`, seed {cfg['seed']}. " + " ".join(notes),
        "## Splits\n\n" + R.md_table(["split", "pairs"], [(s, sizes.get(s, 0)) for s in SPLITS]),
        "## Files\n\n"
        "- `pairs/<split>/part-*.parquet`: `audio_id, image_id, category, split, audio_name, image_name, group, "
        "audio_path` (relative to this folder), `image_path` (relative to the images root in `dataset.json`).\n"
        "- `clips/`: the audio items, 30 s (zero-padded where `signal_s` is shorter), 16 kHz mono, 16-bit.\n"
        "- `images.parquet`, `audio.parquet`, `pairs.parquet`, `quarantine.parquet`, `report.md`.\n\n"
        "Load with `synesthesia.datasets.readers.museart.MuseartPairs(DIR, split)` (audio array + PIL image + category).",
    ]


def licences(out: Path) -> str:
    """The licence section of the report and the card (audio: once per source file)."""
    images = dio.read_table(out / "images.parquet", S.MUSEART_IMAGES)
    audio = dio.read_table(out / "audio.parquet", S.MUSEART_AUDIO)
    return C.licence_section({"images": C.item_licences(images), "audio files": C.item_licences(audio, id_column="track_id")})


def write_report_and_card(out: Path, summary: dict) -> None:
    """``report.md`` and the dataset card ``README.md`` (YAML configs → ``pairs/<split>/*.parquet``)."""
    licence_text = licences(out)
    report = "# Museart build report\n\n" + "\n\n".join(report_sections(out, summary) + [licence_text]) + "\n"
    dio.write_text(report, out / "report.md")
    notes = media_notes(out, summary)["notes"]
    C.write_dataset_card(
        out, "Museart (synesthesia build)", {s: f"pairs/{s}/*.parquet" for s in summary["splits"]}, card_sections(summary, notes) + [licence_text], {"license": "other"}
    )
