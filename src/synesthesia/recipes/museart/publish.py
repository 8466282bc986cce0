"""What Museart publishes (``synesthesia export`` / ``view``): one config of
audio–image pairs with the 30 s clip (``Audio``, the stored 16 kHz FLAC),
the image (``Image``) and the category (``ClassLabel``, in ``dataset.json``'s
order, as the Musipainter reader numbers them), and the browser's cards."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets.media import build_alpha_background
from synesthesia.datasets import schema as S
from synesthesia.datasets.readers import museart as reader
from synesthesia.datasets.readers.shards import MUSEART_PAIRS
from synesthesia.stages.publish.spec import Config, Field, Gallery, Media, Publication, Source, declared_sources

PRETTY_NAME = "Museart (synesthesia build)"
CITATION = """@article{baione2026musipainter,
  title   = {Musipainter: A music-conditioned generative architecture for artistic image synthesis},
  author  = {Baione, Alfredo and Rizzo, Giuseppe and Barco, Luca and Urbanelli, Angelica and Di Biasi, Luigi and Tortora, Genoveffa},
  journal = {Intelligent Systems with Applications},
  volume  = {29},
  pages   = {200611},
  year    = {2026},
  doi     = {10.1016/j.iswa.2025.200611}
}"""
#: The paper's sources (section 3.1): five image collections and YouTube music clips.
PAPER_SOURCES = [
    Source("WikiArt, A Refined WikiArt Dataset, Best Artworks of All Time, Classical Asian Art, Pinterest", "images", "other",
           "images keep their holders' rights"),
    Source("YouTube music clips", "audio", "other", "the rights stay with the owners of the videos"),
    Source("Museart index (Kaggle)", "categories and splits", "other", "the published dataset's terms",
           "https://www.kaggle.com/datasets/alfredobaione/museart"),
]
TASK_CATEGORIES = ["any-to-any", "audio-classification"]
TAGS = ["music", "art", "audio-to-image", "image-generation", "cross-modal", "musipainter"]
DESCRIPTIONS = {
    "audio_id": "the 30 s audio item", "image_id": "the image", "category": "one of the Museart categories (ClassLabel)",
    "audio_name": "Museart id of the audio item", "image_name": "Museart id of the image", "group": "source track (grouping key of the splits)",
    "start_s": "start in the source file (s)", "end_s": "end (s)", "signal_s": "seconds of real signal (< 30: zero-padded)",
    "audio": "the clip: 30 s, 16 kHz mono 16-bit FLAC (Audio)", "image": "the image file (Image)",
}


def _rows(folder: Path) -> tuple[pa.Table, list[str]]:
    manifest = dio.read_manifest(folder)
    pairs = reader.read_pairs(folder)  # absolute audio_path / image_path
    audio = dio.read_table(folder / "audio.parquet", S.MUSEART_AUDIO).select(["audio_id", "start_s", "end_s", "signal_s", "clip_path"])
    df = pairs.to_pandas().merge(audio.to_pandas(), on="audio_id", how="left")
    root = Path(manifest["media_roots"]["images"])
    df["image_name"] = df["image_name"].astype(object)
    df["image_file"], df["audio_file"] = df["image_path"], df["audio_path"]
    df["image_rel"] = [str(Path(p).relative_to(root)) for p in df["image_path"]]
    cols = ["audio_id", "image_id", "category", "audio_name", "image_name", "group", "start_s", "end_s", "signal_s", "split",
            "audio_file", "clip_path", "image_file", "image_rel"]
    return pa.Table.from_pandas(df[cols], preserve_index=False), list(manifest["categories"])


def publication(folder: str | Path) -> Publication:
    folder = Path(folder)
    manifest = dio.read_manifest(folder)
    rows, categories = _rows(folder)
    return Publication(
        dataset="museart", pretty_name=PRETTY_NAME, folder=folder,
        configs=[Config(MUSEART_PAIRS, rows, "audio_id", media=(Media("audio", "audio", "audio_file", "clip_path"),
                                                                Media("image", "image", "image_file", "image_rel")),
                        labels={"category": categories}, descriptions=DESCRIPTIONS,
                        summary="One row per audio item, paired with an image of its category and split.")],
        summary=("Music–image pairs in the layout of **Museart** (Musipainter paper, section 3.1): every 30 s audio item is "
                 "paired with a random image of the same category and split. Splits are grouped by source track, so no "
                 "track's segments are in two splits."),
        sources=declared_sources(manifest, {"images": manifest["media_roots"].get("images"), "audio": manifest["media_roots"].get("audio")},
                                 PAPER_SOURCES),
        task_categories=TASK_CATEGORIES, tags=TAGS, citation=CITATION, build={**manifest.get("config", {}), "categories": categories},
    )


def gallery(folder: str | Path) -> Gallery:
    rows, _ = _rows(Path(folder))
    df = rows.to_pandas().rename(columns={"audio_id": "key"})
    df["heading"] = df["category"]
    cols = ["key", "split", "image_file", "audio_file", "heading", "category", "audio_name", "image_name", "signal_s"]
    return Gallery(
        dataset="museart", title=PRETTY_NAME, alpha_background=build_alpha_background(dio.read_manifest(folder)), rows=pa.Table.from_pandas(df[cols], preserve_index=False), noun="pairs",
        facets=["split", "category"], sorts=["signal_s"], heading="heading",
        fields=[Field("audio_name", "audio"), Field("image_name", "image"), Field("signal_s", "signal (s)", "number", 1)],
        description="A 30 s audio item and the image of its category it is paired with.",
    )
