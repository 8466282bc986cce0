"""Test helpers for Art2Mus: small deterministic embedders and an ArtSound folder.

The embedders stand in for ImageBind/CLIP through the same ``Embedder``
interface (registered by name in tests); they are fixed random projections of
simple image and audio features, so similar inputs get similar vectors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import soundfile as sf

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.media import MelConfig, log_mel, resample
from synesthesia.models.embedders import Embedder, l2_normalize

_AUDIO_MEL = MelConfig(n_fft=512, hop_length=256, n_mels=24)


class _TinyEmbedder(Embedder):
    modalities = frozenset({"image", "audio"})

    def __init__(self):
        rng = np.random.default_rng([len(self.name), self.dim])
        self._image = rng.standard_normal((8 * 8 * 3, self.dim)).astype(np.float32)
        self._audio = rng.standard_normal((2 * _AUDIO_MEL.n_mels, self.dim)).astype(np.float32)

    def embed_images(self, images) -> np.ndarray:
        feats = []
        for im in images:
            small = np.asarray(im.convert("RGB").resize((8, 8)), dtype=np.float32) / 255.0 - 0.5
            feats.append(small.reshape(-1))
        return l2_normalize(np.stack(feats) @ self._image)

    def embed_audio(self, waveforms, sample_rate: int) -> np.ndarray:
        feats = []
        for y in waveforms:
            y = resample(np.asarray(y, np.float32), sample_rate, 16_000)
            mel = log_mel(y[None], _AUDIO_MEL)[0] / 40.0
            feats.append(np.concatenate([mel.mean(axis=1), mel.std(axis=1)]))
        return l2_normalize(np.stack(feats) @ self._audio)


class TinyImageBind(_TinyEmbedder):
    """1024-d like ImageBind (no upscaler in the aligner)."""

    name = "tiny-imagebind"
    model_id = "test/tiny-imagebind"
    dim = 1024


class TinyClip(_TinyEmbedder):
    """32-d, so the aligner gets an upscaler (the CLIP path)."""

    name = "tiny-clip"
    model_id = "test/tiny-clip"
    dim = 32


def register(monkeypatch) -> None:
    from synesthesia.models.embedders import EMBEDDERS

    monkeypatch.setitem(EMBEDDERS, "tiny-imagebind", "support.art2mus:TinyImageBind")
    monkeypatch.setitem(EMBEDDERS, "tiny-clip", "support.art2mus:TinyClip")


def _media(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in suffixes and not p.name.startswith(("broken_", "copy_of_")))


def build_artsound(root: Path, corpus: dict, *, n_train: int = 8, val_rows: bool = False, broken_track: bool = False,
                   stored_fraction: float = 0.5) -> Path:
    """An ArtSound folder over the generated corpus: track k paired with
    artwork k; the first ``n_train`` pairs train, the rest test (or, with
    ``val_rows``, the last two marked ``val``). Image embeddings of the first
    ``stored_fraction`` of the artworks are in the store (tiny-imagebind)."""
    root.mkdir(parents=True, exist_ok=True)
    paintings, music = Path(corpus["paintings"]), Path(corpus["music"])
    images = _media(paintings, (".png", ".jpg"))
    tracks = _media(music, (".wav", ".flac"))
    if broken_track:
        # A file that decodes as nothing (damaged after the build). The shared
        # corpus stays untouched: this folder's music root links to its tracks.
        linked = root / "music"
        for t in tracks:
            (linked / t.relative_to(music)).parent.mkdir(parents=True, exist_ok=True)
            (linked / t.relative_to(music)).symlink_to(t)
        music = linked
        tracks = [linked / t.relative_to(corpus["music"]) for t in tracks]
        bad = music / "damaged.wav"
        bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
        tracks = tracks + [bad]
    image_rows = [{"image_id": f"img-{p.stem}", "path": str(p.relative_to(paintings)), "style": p.parts[-3]} for p in images]
    track_rows = []
    for p in tracks:
        try:
            info = sf.info(p)
            duration, rate = info.duration, info.samplerate
        except Exception:  # noqa: BLE001 - the damaged file
            duration, rate = 30.0, 16_000
        track_rows.append({"audio_id": f"aud-{p.stem}", "path": str(p.relative_to(music)), "duration_s": duration, "sample_rate": rate})
    dio.write_table(S.from_rows(image_rows, S.IMAGES), root / "artworks.parquet")
    dio.write_table(S.from_rows(track_rows, S.AUDIO), root / "tracks.parquet")
    n = len(track_rows)
    splits = ["train" if k < n_train else "test" for k in range(n)]
    if val_rows:
        splits[-2:] = ["val", "val"]
    if broken_track:
        splits[-1] = "train"
    pairs = pa.table({
        "audio_id": [r["audio_id"] for r in track_rows],
        "image_id": [image_rows[k]["image_id"] for k in range(n)],
        "similarity": [0.1 + 0.01 * k for k in range(n)],
        "approach": ["image-audio"] * n,
        "split": splits,
    })
    dio.write_table(pairs, root / "pairs.parquet")
    dio.write_manifest(root, {"dataset": "artsound", "media_roots": {"artworks": str(paintings), "music": str(music)}})
    stored = image_rows[: int(len(image_rows) * stored_fraction)]
    if stored:
        from PIL import Image

        from synesthesia.datasets.readers.artsound import write_embedding_part

        vectors = TinyImageBind().embed_images([Image.open(paintings / r["path"]) for r in stored])
        write_embedding_part(root / "embeddings" / "image-tiny-imagebind", [r["image_id"] for r in stored], vectors, "test/tiny-imagebind")
    return root
