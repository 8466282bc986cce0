"""Helpers for the ArtSound pairing tests: an ArtSound folder as the
captioning phase leaves it (generated media ingested with the real ingest
stage, caption tables with several attempts per item and one kept row), and
a small feature embedder for the approaches that need raw audio (ImageBind
is its own issue)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.models.embedders import Embedder, l2_normalize
from synesthesia.sources import scan_generic
from synesthesia.stages.ingest import IngestConfig, ingest_items

#: Words a caption uses for each generated style / genre.
STYLE_WORDS = {
    "color_field": "large soft fields of warm red and orange colour, calm and meditative",
    "geometric": "bold primary colours in rectangles separated by black lines, rhythmic and ordered",
    "pointillist": "a sunny landscape built from countless small dots of colour, bright and cheerful",
    "nocturne": "a dark blue night scene under a pale moon, quiet and melancholic",
    "expressionist": "violent red and black strokes, tense, dramatic and anguished",
    "stripes": "parallel stripes of blue, white and coral, cool and steady",
}
GENRE_WORDS = {
    "ambient": "slow sustained synth pads, quiet and melancholic like a night sky, calm and meditative",
    "classical": "a gentle orchestral piece with strings, bright and cheerful like a sunny landscape",
    "rock": "loud distorted guitars and pounding drums, tense, dramatic and anguished",
    "electronic": "a steady electronic beat with rhythmic and ordered synth patterns",
}


def make_artsound_folder(folder: Path, corpus: dict, attempts: int = 2, drop_caption: bool = True) -> Path:
    """Write ``dataset.json``, ``artworks.parquet``, ``tracks.parquet`` and the
    two caption tables (``attempts`` rows per item, the last one kept; with
    ``drop_caption`` one artwork has no kept row) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    roots = {}
    tables = {}
    for key, kind, config in (("artworks", "image", IngestConfig.images()), ("music", "audio", IngestConfig.audio())):
        source = scan_generic(corpus["paintings" if kind == "image" else "music"], config.kind, config.folder_fields)
        good, _bad = ingest_items(source.root, source.items, config)
        sha = good.column("sha256").to_pylist()
        keep = [i for i in range(good.num_rows) if sha.index(sha[i]) == i]  # drop byte-identical copies
        tables[kind] = good.take(pa.array(keep, pa.int64()))
        roots[key] = str(source.root)
    dio.write_table(tables["image"], folder / "artworks.parquet", S.IMAGES)
    dio.write_table(tables["audio"], folder / "tracks.parquet", S.AUDIO)
    dio.write_manifest(folder, {"dataset": "artsound", "media_roots": roots, "config": {}})
    for kind, id_col, words, field, score in (
        ("image", "image_id", STYLE_WORDS, "style", "ics"),
        ("audio", "audio_id", GENRE_WORDS, "genre", "acs"),
    ):
        t = tables[kind]
        rows = []
        ids = t.column(id_col).to_pylist()
        labels = t.column(field).to_pylist()
        for n, (item, label) in enumerate(zip(ids, labels)):
            for a in range(attempts):
                kept = a == attempts - 1 and not (drop_caption and kind == "image" and n == 0)
                text = f"This {'artwork' if kind == 'image' else 'music piece'} shows {words.get(label, label)}. Attempt {a}."
                rows.append({id_col: item, "attempt": a, "caption": text, score: 0.7 + 0.1 * a, "kept": kept})
        dio.write_table(pa.Table.from_pylist(rows), folder / f"{kind}_captions.parquet")
    return folder


def _projection(seed: str, rows: int, dim: int) -> np.ndarray:
    rng = np.random.default_rng(int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16))
    return rng.standard_normal((rows, dim)).astype(np.float32)


class FeatureEmbedder(Embedder):
    """Hand-made features (colour statistics; band energies; hashed words)
    projected into one 16-dim space. Deterministic, fast, no weights."""

    name = "features"
    model_id = "features-v1"
    dim = 16
    modalities = frozenset({"image", "audio", "text"})

    def embed_images(self, images):
        feats = []
        for im in images:
            x = np.asarray(im.convert("RGB").resize((32, 32)), dtype=np.float32) / 255.0
            feats.append(np.concatenate([x.mean((0, 1)), x.std((0, 1)), [x.mean()], np.zeros(5)]))
        return l2_normalize(np.asarray(feats) @ _projection("img", 12, self.dim))

    def embed_audio(self, waveforms, sample_rate):
        feats = []
        for y in waveforms:
            spec = np.abs(np.fft.rfft(y[: sample_rate * 10])) ** 2
            bands = np.array_split(spec, 12)
            feats.append(np.log1p([b.mean() for b in bands]))
        return l2_normalize(np.asarray(feats, dtype=np.float32) @ _projection("aud", 12, self.dim))

    def embed_texts(self, texts):
        out = np.zeros((len(texts), 64), np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, int(hashlib.md5(w.strip(".,").encode()).hexdigest()[:4], 16) % 64] += 1
        return l2_normalize(out @ _projection("txt", 64, self.dim))


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
