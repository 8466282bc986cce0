"""Tiny real media files for the corpus fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

def write_jpeg(path: Path, seed: int = 0, size: tuple[int, int] = (24, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path, format="JPEG", quality=80)
    return path


def write_corrupt_jpeg(path: Path) -> Path:
    """A JPEG cut after 200 bytes, like the entry of wikiart.zip that does not
    inflate (cs-chan/ArtGAN#4, #14): a file that exists but cannot be decoded."""
    write_jpeg(path, seed=99, size=(64, 64))
    path.write_bytes(path.read_bytes()[:200])
    return path


def tone(seconds: float, sr: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_audio(path: Path, seconds: float = 0.5, sr: int = 22050, freq: float = 440.0) -> Path:
    """A real audio file; format from the suffix (.mp3 is MPEG Layer III)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    fmt = {".mp3": ("MP3", "MPEG_LAYER_III"), ".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16")}[suffix]
    sf.write(path, tone(seconds, sr, freq), sr, format=fmt[0], subtype=fmt[1])
    return path


def write_corrupt_mp3(path: Path, size: int = 1752) -> Path:
    """An MP3 with an ID3 tag and no audio frames, ``size`` bytes, like
    ``fma_large/133/133297.mp3`` (1,752 bytes; mdeff/fma#4)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = b"ID3\x03\x00\x00\x00\x00\x00\x00"
    path.write_bytes(header + b"\x00" * (size - len(header)))
    return path


def write_lines(path: Path, lines: list[str], newline: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("".join(line + newline for line in lines))
    return path
