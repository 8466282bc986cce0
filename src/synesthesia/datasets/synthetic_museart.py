"""A Museart-shaped sample corpus for the offline demo and the tests: per
category, tracks cut into 30 s segment files and as many images as segments,
in the published index layout or in plain category folders, with the broken
and awkward files the published index has. Paintings and tracks come from
:mod:`synesthesia.datasets.synthetic`; the same seed gives byte-identical
files.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synesthesia.datasets.synthetic import painting_pixels, synth_track

#: Demo categories (names from the Musipainter paper) → (painting style, music genre).
MUSEART_DEMO_CATEGORIES: dict[str, tuple[str, str]] = {
    "20th century abstractionism": ("color_field", "ambient"),
    "Electronic music": ("stripes", "electronic"),
    "Heavy metal": ("expressionist", "rock"),
    "Romanticism open view": ("nocturne", "classical"),
    "Baroque Classical symbolism": ("geometric", "classical"),
    "Renaissance symbolism": ("pointillist", "ambient"),
}


@dataclass(frozen=True)
class MuseartCorpusSpec:
    """A small corpus in Museart's shape: per category, tracks cut into 30 s
    segment files named ``<track>segmentN`` and as many images as segments.

    ``layout="published"``: ``images.csv``/``audio.csv`` (id, class, set; the
    set drawn per segment, so it leaks tracks like the published one) and
    ``images|audio/<set>/<Class_Folder>/<id>.*``. ``layout="folders"``:
    ``images|audio/<Category>/<id>.*`` and no index."""

    categories: int = 4
    tracks_per_category: int = 6
    min_segments: int = 1
    max_segments: int = 3
    segment_seconds: float = 30.0
    image_size: int = 96
    layout: str = "published"
    seed: int = 0
    broken: bool = True


def _class_folder(category: str) -> str:
    return category.replace(" ", "_")


def write_museart(root: Path, spec: MuseartCorpusSpec) -> dict:
    import csv

    import soundfile as sf
    from PIL import Image

    published = spec.layout == "published"
    if spec.layout not in ("published", "folders"):
        raise ValueError("layout must be 'published' or 'folders'")
    images_dir, audio_dir = root / "images", root / "audio"
    audio_rows, image_rows = [], []
    sets = np.array(["train", "validation", "test"])

    def place(kind_dir: Path, category: str, split: str, name: str) -> Path:
        folder = kind_dir / split / _class_folder(category) if published else kind_dir / category
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    n_audio = n_images = 0
    for c_index, (category, (style, genre)) in enumerate(list(MUSEART_DEMO_CATEGORIES.items())[: spec.categories]):
        rng = np.random.default_rng([spec.seed, 3, c_index])
        n_items = 0
        for k in range(spec.tracks_per_category):
            n_seg = int(rng.integers(spec.min_segments, spec.max_segments + 1))
            sr = 22_050 if k % 2 == 0 else 44_100
            # The last segment of every third track is a 20 s remainder (zero-padded at build).
            seconds = n_seg * spec.segment_seconds - (10.0 if k % 3 == 2 else 0.0)
            y = synth_track(genre, seconds, sr, rng)
            first = int(rng.integers(0, 40))
            for j in range(n_seg):
                name = f"{genre}_{category.split()[0].lower()}_piece_{k:02d}segment{first + j}"
                split = str(sets[rng.choice(3, p=[0.8, 0.1, 0.1])])
                piece = y[int(j * spec.segment_seconds * sr) : int((j + 1) * spec.segment_seconds * sr)]
                if k % 4 == 1:  # some stereo files
                    piece = np.stack([piece, np.roll(piece, int(0.01 * sr))], axis=1)
                sf.write(place(audio_dir, category, split, f"{name}.wav"), piece, sr, format="WAV", subtype="PCM_16")
                audio_rows.append({"id": name, "class": category, "set": split})
                n_items += 1
        for k in range(n_items):  # as many images as audio items (as in the paper)
            name = f"{style}{k}"
            split = str(sets[rng.choice(3, p=[0.8, 0.1, 0.1])])
            img = Image.fromarray(painting_pixels(style, np.random.default_rng([spec.seed, 4, c_index, k]), spec.image_size))
            img.save(place(images_dir, category, split, f"{name}.jpg"), format="JPEG", quality=90)
            image_rows.append({"id": name, "class": category, "set": split})
        n_audio += n_items
        n_images += n_items

    broken: dict[str, str] = {}
    if spec.broken and spec.categories >= 2:
        cats = list(MUSEART_DEMO_CATEGORIES)[: spec.categories]
        a_cat, b_cat = cats[0], cats[1]
        genre = MUSEART_DEMO_CATEGORIES[a_cat][1]
        y = synth_track(genre, 30.0, 16_000, np.random.default_rng(spec.seed))
        buf = io.BytesIO()
        sf.write(buf, y, 16_000, format="WAV", subtype="PCM_16")
        path = place(audio_dir, a_cat, "train", "broken_truncatedsegment1.wav")
        path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        broken[path.relative_to(audio_dir).as_posix()] = "truncated"
        path = place(audio_dir, a_cat, "train", "broken_too_shortsegment1.wav")
        sf.write(path, y[: 5 * 16_000], 16_000, format="WAV", subtype="PCM_16")
        broken[path.relative_to(audio_dir).as_posix()] = "too short"
        path = place(images_dir, a_cat, "train", "broken_empty.jpg")
        path.write_bytes(b"")
        broken[path.relative_to(images_dir).as_posix()] = "zero bytes"
        path = place(images_dir, b_cat, "train", "broken_not_an_image.jpg")
        path.write_text("this is a text file, not a JPEG\n")
        broken[path.relative_to(images_dir).as_posix()] = "not an image"
        for name, kind in (("broken_truncatedsegment1", "audio"), ("broken_too_shortsegment1", "audio")):
            audio_rows.append({"id": name, "class": a_cat, "set": "train"})
        image_rows += [{"id": "broken_empty", "class": a_cat, "set": "train"}, {"id": "broken_not_an_image", "class": b_cat, "set": "train"}]
        if published:
            # Index rows without a file, a file without an index row, and one image id
            # listed under two classes (like the published images.csv) with a file in each.
            audio_rows.append({"id": "missing_tracksegment3", "class": a_cat, "set": "test"})
            broken["audio.csv:missing_tracksegment3"] = "listed, no file"
            image_rows.append({"id": "missing_painting", "class": b_cat, "set": "train"})
            broken["images.csv:missing_painting"] = "listed, no file"
            path = place(audio_dir, b_cat, "train", "unlisted_tracksegment0.wav")
            sf.write(path, y, 16_000, format="WAV", subtype="PCM_16")
            broken[path.relative_to(audio_dir).as_posix()] = "not listed"
            for c_index, cat in enumerate((a_cat, b_cat)):
                style = MUSEART_DEMO_CATEGORIES[cat][0]
                img = Image.fromarray(painting_pixels(style, np.random.default_rng([spec.seed, 5, c_index]), spec.image_size))
                img.save(place(images_dir, cat, "train", "twice_listed1.jpg"), format="JPEG", quality=90)
                image_rows.append({"id": "twice_listed1", "class": cat, "set": "train"})
            n_images += 2
        else:
            path = audio_dir / "no_category.wav"
            sf.write(path, y, 16_000, format="WAV", subtype="PCM_16")
            broken["no_category.wav"] = "not in a category folder"
    if published:
        for name, rows in (("audio.csv", audio_rows), ("images.csv", image_rows)):
            with open(root / name, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=["id", "class", "set"])
                writer.writeheader()
                writer.writerows(rows)
    return {"n_audio": n_audio, "n_images": n_images, "broken": broken}


def make_museart_corpus(root: str | Path, spec: MuseartCorpusSpec = MuseartCorpusSpec()) -> dict:
    """Write a Museart-shaped corpus under ``root`` (idempotent like
    :func:`make_corpus`). Returns ``images``, ``audio``, ``csv_dir`` (None for
    the folder layout), the counts of good files and the broken ones."""
    import dataclasses
    import json

    root = Path(root)
    marker = root / "corpus.json"
    spec_json = json.loads(json.dumps(dataclasses.asdict(spec), sort_keys=True))
    paths = {"images": root / "images", "audio": root / "audio", "csv_dir": root if spec.layout == "published" else None}
    if marker.exists() and json.loads(marker.read_text()).get("spec") == spec_json:
        return {**paths, **json.loads(marker.read_text())["written"]}
    for sub in ("images", "audio"):
        shutil.rmtree(root / sub, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    written = write_museart(root, spec)
    marker.write_text(json.dumps({"spec": spec_json, "written": written}, indent=2, sort_keys=True))
    return {**paths, **written}
