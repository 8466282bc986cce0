"""A deterministic sample corpus for the offline demo and the tests.

Procedural "paintings" in visually distinct styles (a few stored as real
digital corpora store theirs: cut-outs with colour under transparent pixels,
palette PNGs with a transparent colour, CMYK JPEG, 16-bit PNG), synthesized
music tracks (tempo, timbre, mode and loudness differ by genre) and a few
deliberately broken files of each kind, so every demo run exercises the
quarantine.
Nothing here is downloaded; the same seed gives byte-identical files.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: style → (genre sub-folder, palette as RGB rows)
PAINTING_STYLES: dict[str, tuple[str, list[tuple[int, int, int]]]] = {
    "color_field": ("abstract", [(200, 60, 40), (240, 170, 60), (120, 30, 50), (250, 220, 180)]),
    "geometric": ("abstract", [(230, 30, 30), (20, 60, 180), (250, 220, 20), (245, 245, 240), (10, 10, 10)]),
    "pointillist": ("landscape", [(60, 140, 70), (110, 170, 220), (240, 210, 90), (200, 120, 160)]),
    "nocturne": ("landscape", [(10, 20, 50), (30, 50, 90), (200, 200, 150), (80, 90, 120)]),
    "expressionist": ("figurative", [(200, 30, 20), (20, 20, 20), (240, 120, 20), (60, 20, 90)]),
    "stripes": ("abstract", [(30, 120, 160), (230, 230, 230), (240, 90, 70), (40, 40, 60)]),
}

#: genre → (tempo range bpm, waveform, mode, loudness dBFS range)
MUSIC_GENRES: dict[str, tuple[tuple[int, int], str, str, tuple[float, float]]] = {
    "ambient": ((60, 80), "sine", "minor", (-26.0, -20.0)),
    "classical": ((80, 110), "triangle", "major", (-22.0, -16.0)),
    "rock": ((120, 150), "square", "minor", (-14.0, -9.0)),
    "electronic": ((124, 140), "saw", "major", (-16.0, -10.0)),
}

_MAJOR = [0, 2, 4, 5, 7, 9, 11]
_MINOR = [0, 2, 3, 5, 7, 8, 10]


@dataclass(frozen=True)
class CorpusSpec:
    paintings_per_style: int = 10
    tracks_per_genre: int = 5
    min_seconds: float = 30.0
    max_seconds: float = 90.0
    image_size: int = 256
    seed: int = 0
    broken: bool = True
    #: The second painting of each style stored as one of SPECIAL_IMAGES (transparency, CMYK, 16-bit).
    special_images: bool = True


# --- paintings -----------------------------------------------------------------

def painting_pixels(style: str, rng: np.random.Generator, size: int) -> np.ndarray:
    palette = np.array(PAINTING_STYLES[style][1], dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.zeros((size, size, 3), np.float32)
    if style == "color_field":
        a, b = palette[rng.choice(len(palette), 2, replace=False)]
        split = rng.uniform(0.3, 0.7)
        t = 1 / (1 + np.exp(-(yy - split) * rng.uniform(8, 20)))
        img = a * (1 - t[..., None]) + b * t[..., None]
        img += rng.normal(0, 6, img.shape)
    elif style == "geometric":
        img[:] = palette[3]
        xs = np.sort(rng.uniform(0.1, 0.9, rng.integers(2, 5)))
        ys = np.sort(rng.uniform(0.1, 0.9, rng.integers(2, 5)))
        for x0, x1 in zip(np.r_[0, xs], np.r_[xs, 1]):
            for y0, y1 in zip(np.r_[0, ys], np.r_[ys, 1]):
                if rng.random() < 0.35:
                    m = (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
                    img[m] = palette[rng.integers(0, 3)]
        for x in xs:
            img[np.abs(xx - x) < 0.012] = palette[4]
        for y in ys:
            img[np.abs(yy - y) < 0.012] = palette[4]
    elif style == "pointillist":
        horizon = rng.uniform(0.4, 0.6)
        img[:] = np.where((yy < horizon)[..., None], palette[1], palette[0])
        n = 1400
        cx, cy = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
        colors = palette[rng.integers(0, len(palette), n)]
        for x, y, c in zip((cx * size).astype(int), (cy * size).astype(int), colors):
            img[max(0, y - 2) : y + 2, max(0, x - 2) : x + 2] = c
    elif style == "nocturne":
        img = palette[0] * (1 - yy[..., None]) + palette[1] * yy[..., None]
        mx, my, r = rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.35), rng.uniform(0.05, 0.1)
        img[(xx - mx) ** 2 + (yy - my) ** 2 < r**2] = palette[2]
        ground = yy > rng.uniform(0.7, 0.85) + 0.05 * np.sin(xx * rng.uniform(5, 12))
        img[ground] = palette[3] * 0.4
        img += rng.normal(0, 3, img.shape)
    elif style == "expressionist":
        img[:] = palette[rng.integers(0, len(palette))] * 0.6
        for _ in range(60):
            x0, y0 = rng.uniform(0, 1, 2)
            angle, length, width = rng.uniform(0, np.pi), rng.uniform(0.1, 0.5), rng.uniform(0.01, 0.04)
            dx, dy = np.cos(angle), np.sin(angle)
            along = (xx - x0) * dx + (yy - y0) * dy
            across = np.abs(-(xx - x0) * dy + (yy - y0) * dx)
            img[(along > 0) & (along < length) & (across < width)] = palette[rng.integers(0, len(palette))]
        img += rng.normal(0, 12, img.shape)
    elif style == "stripes":
        freq, phase, amp = rng.uniform(6, 14), rng.uniform(0, 2 * np.pi), rng.uniform(0.02, 0.08)
        band = ((yy + amp * np.sin(xx * 2 * np.pi * 3 + phase)) * freq).astype(int) % len(palette)
        img = palette[band]
    else:  # pragma: no cover
        raise KeyError(style)
    return np.clip(img, 0, 255).astype(np.uint8)


#: The second painting of each style (in style order) is stored the way real
#: digital corpora hold some of theirs: what a plain RGB conversion gets wrong.
SPECIAL_IMAGES = ("rgba-cutout", "palette-transparent", "cmyk-jpeg", "grey16-png", "rgb48-png", "rgba-cutout-black")


def _cutout_alpha(size: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 alpha of an object cut out of its background: an opaque ellipse
    with a soft (anti-aliased) edge, fully transparent outside."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    cx, cy, rx, ry = rng.uniform(0.4, 0.6), rng.uniform(0.4, 0.6), rng.uniform(0.22, 0.34), rng.uniform(0.22, 0.34)
    r = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    return (np.clip((1.0 - r) * size * 0.15, 0.0, 1.0) * 255).round().astype(np.uint8)


def special_image(kind: str, rgb: np.ndarray, rng: np.random.Generator):
    """``(PIL image, format, extension)`` of a painting stored as ``kind``
    (one of :data:`SPECIAL_IMAGES`); 16-bit RGB is returned as PNG bytes
    (PIL cannot write it), with ``None`` as the image."""
    from PIL import Image

    size = rgb.shape[0]
    if kind in ("rgba-cutout", "rgba-cutout-black"):
        alpha = _cutout_alpha(size, rng)
        under = rgb.copy()
        hidden = alpha == 0
        if kind == "rgba-cutout-black":
            under[hidden] = 0  # black under the transparency
        else:  # smears of leftover paint under the transparency, far from the visible colours
            smear = np.stack([np.full((size, size), c, np.float32) for c in rng.integers(0, 256, 3)], -1)
            smear += rng.normal(0, 40, smear.shape)
            under[hidden] = np.clip(smear[hidden], 0, 255).astype(np.uint8)
        return Image.fromarray(np.dstack([under, alpha]), "RGBA"), "PNG", "png"
    if kind == "palette-transparent":
        img = Image.fromarray(rgb).quantize(colors=16)
        pal = img.copy()
        corner = int(np.asarray(pal)[0, 0])  # the corner colour's palette index is transparent
        pal.info["transparency"] = corner
        return pal, "PNG", "png"
    if kind == "cmyk-jpeg":
        return Image.fromarray(rgb).convert("CMYK"), "JPEG", "jpg"
    if kind == "grey16-png":
        grey = (0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]) * 257.0
        return Image.fromarray(np.clip(grey, 0, 65535).astype(np.uint16)), "PNG", "png"
    if kind == "rgb48-png":
        return None, _png48(rgb.astype(np.uint16) * 257), "png"
    raise KeyError(kind)  # pragma: no cover


def _png48(rgb16: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG (colour type 2, bit depth 16) of ``rgb16`` ``[h, w, 3]``."""
    import struct
    import zlib

    h, w, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def write_paintings(folder: Path, spec: CorpusSpec) -> list[Path]:
    from PIL import Image

    written = []
    for s_index, (style, (genre, _)) in enumerate(sorted(PAINTING_STYLES.items())):
        for k in range(spec.paintings_per_style):
            rng = np.random.default_rng([spec.seed, 1, s_index, k])
            rgb = painting_pixels(style, rng, spec.image_size)
            if k == 1 and spec.special_images:
                img, fmt, ext = special_image(SPECIAL_IMAGES[s_index % len(SPECIAL_IMAGES)], rgb, rng)
            else:
                img, fmt = Image.fromarray(rgb), ("PNG" if k % 3 == 0 else "JPEG")
                ext = "png" if fmt == "PNG" else "jpg"
            path = folder / style / genre / f"{style}_{k:03d}.{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            if img is None:
                path.write_bytes(fmt)
            else:
                img.save(path, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
            written.append(path)
    return written


# --- music -----------------------------------------------------------------------

def _wave(kind: str, phase: np.ndarray) -> np.ndarray:
    frac = (phase / (2 * np.pi)) % 1.0
    if kind == "sine":
        return np.sin(phase)
    if kind == "triangle":
        return 4 * np.abs(frac - 0.5) - 1
    if kind == "square":
        return np.where(frac < 0.5, 1.0, -1.0)
    if kind == "saw":
        return 2 * frac - 1
    raise KeyError(kind)  # pragma: no cover


def synth_track(genre: str, seconds: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A short piece: a melody on the genre's scale over a bass line, with
    drums for the fast genres, normalised to the genre's loudness."""
    (lo, hi), wave, mode, (db_lo, db_hi) = MUSIC_GENRES[genre]
    bpm = rng.uniform(lo, hi)
    beat = 60.0 / bpm
    scale = _MAJOR if mode == "major" else _MINOR
    root = 48 + int(rng.integers(0, 12))
    n = int(seconds * sr)
    t = np.arange(n) / sr
    out = np.zeros(n, np.float32)
    note_len = beat / 2 if bpm > 110 else beat
    starts = np.arange(0, seconds, note_len)
    degrees = np.cumsum(rng.integers(-2, 3, len(starts))) % 14
    for start, degree in zip(starts, degrees):
        i0, i1 = int(start * sr), min(n, int((start + note_len) * sr))
        if i1 <= i0:
            continue
        midi = root + 12 + scale[degree % 7] + 12 * (degree // 7)
        f = 440.0 * 2 ** ((midi - 69) / 12)
        seg = t[i0:i1] - start
        env = np.minimum(1.0, seg / 0.01) * np.exp(-seg * (3.0 if wave == "sine" else 6.0))
        out[i0:i1] += 0.5 * env * _wave(wave, 2 * np.pi * f * seg)
    bar = 4 * beat
    for k, start in enumerate(np.arange(0, seconds, bar)):
        i0, i1 = int(start * sr), min(n, int((start + bar) * sr))
        f = 440.0 * 2 ** ((root + scale[(k * 3) % 7] - 69) / 12)
        seg = t[i0:i1] - start
        out[i0:i1] += 0.35 * np.sin(2 * np.pi * f * seg) * np.exp(-seg * 0.8)
    if bpm > 110:
        for start in np.arange(0, seconds, beat):
            i0 = int(start * sr)
            i1 = min(n, i0 + int(0.15 * sr))
            seg = t[i0:i1] - start
            out[i0:i1] += 0.8 * np.sin(2 * np.pi * 60 * seg * np.exp(-seg * 8)) * np.exp(-seg * 25)
    rms = np.sqrt(np.mean(out**2)) + 1e-9
    target = 10 ** (rng.uniform(db_lo, db_hi) / 20)
    return np.clip(out * (target / rms), -1, 1).astype(np.float32)


def write_tracks(folder: Path, spec: CorpusSpec) -> list[Path]:
    import soundfile as sf

    written = []
    for g_index, genre in enumerate(sorted(MUSIC_GENRES)):
        for k in range(spec.tracks_per_genre):
            rng = np.random.default_rng([spec.seed, 2, g_index, k])
            seconds = float(np.round(rng.uniform(spec.min_seconds, spec.max_seconds), 1))
            sr = 22_050 if k % 2 == 0 else 44_100
            y = synth_track(genre, seconds, sr, rng)
            if k % 3 == 1:  # some stereo files: a slightly delayed copy on the right
                y = np.stack([y, np.roll(y, int(0.01 * sr))], axis=1)
            ext, fmt = ("flac", "FLAC") if k % 4 == 3 else ("wav", "WAV")
            path = folder / genre / f"{genre}_{k:03d}.{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, y, sr, format=fmt, subtype="PCM_16")
            written.append(path)
    return written


# --- broken files ---------------------------------------------------------------------

def write_broken(paintings: Path, music: Path, spec: CorpusSpec) -> dict[str, str]:
    """One broken file of each kind; returns relative path → what is wrong."""
    import soundfile as sf
    from PIL import Image

    broken: dict[str, str] = {}
    style = sorted(PAINTING_STYLES)[0]
    folder = paintings / style / PAINTING_STYLES[style][0]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken_empty.jpg").write_bytes(b"")
    broken[f"{style}/{PAINTING_STYLES[style][0]}/broken_empty.jpg"] = "zero bytes"
    buf = io.BytesIO()
    Image.fromarray(painting_pixels(style, np.random.default_rng(spec.seed), spec.image_size)).save(buf, format="JPEG")
    (folder / "broken_truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    broken[f"{style}/{PAINTING_STYLES[style][0]}/broken_truncated.jpg"] = "truncated"
    (folder / "broken_not_an_image.png").write_text("this is a text file, not a PNG\n")
    broken[f"{style}/{PAINTING_STYLES[style][0]}/broken_not_an_image.png"] = "not an image"
    (folder / "notes.txt").write_text("curator notes\n")
    broken[f"{style}/{PAINTING_STYLES[style][0]}/notes.txt"] = "unsupported type"
    first = sorted(p for p in folder.glob(f"{style}_*"))[0]
    shutil.copyfile(first, folder / f"copy_of_{first.name}")
    broken[f"{style}/{PAINTING_STYLES[style][0]}/copy_of_{first.name}"] = "duplicate"

    genre = sorted(MUSIC_GENRES)[0]
    folder = music / genre
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken_empty.wav").write_bytes(b"")
    broken[f"{genre}/broken_empty.wav"] = "zero bytes"
    y = synth_track(genre, 40.0, 16_000, np.random.default_rng(spec.seed))
    buf = io.BytesIO()
    sf.write(buf, y, 16_000, format="WAV", subtype="PCM_16")
    (folder / "broken_truncated.wav").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    broken[f"{genre}/broken_truncated.wav"] = "truncated"
    (folder / "broken_garbage.mp3").write_bytes(np.random.default_rng(spec.seed).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    broken[f"{genre}/broken_garbage.mp3"] = "not audio"
    sf.write(folder / "broken_too_short.wav", y[: 10 * 16_000], 16_000, format="WAV", subtype="PCM_16")
    broken[f"{genre}/broken_too_short.wav"] = "too short"
    first = sorted(p for p in folder.glob(f"{genre}_*"))[0]
    shutil.copyfile(first, folder / f"copy_of_{first.name}")
    broken[f"{genre}/copy_of_{first.name}"] = "duplicate"
    return broken


def make_corpus(root: str | Path, spec: CorpusSpec = CorpusSpec()) -> dict:
    """Write ``root/paintings`` and ``root/music`` (idempotent: same files for
    the same spec). Returns what was written, including the broken files."""
    import dataclasses
    import json

    root = Path(root)
    paintings, music = root / "paintings", root / "music"
    marker = root / "corpus.json"
    spec_json = json.dumps(dataclasses.asdict(spec), sort_keys=True)
    if marker.exists() and json.loads(marker.read_text()).get("spec") == json.loads(spec_json):
        # Already written with this spec: leave the files (and their mtimes)
        # alone so a re-run of the demo resumes instead of re-ingesting.
        return {"paintings": paintings, "music": music, **json.loads(marker.read_text())["written"]}
    p = write_paintings(paintings, spec)
    m = write_tracks(music, spec)
    broken = write_broken(paintings, music, spec) if spec.broken else {}
    written = {"n_paintings": len(p), "n_tracks": len(m), "broken": broken}
    marker.write_text(json.dumps({"spec": json.loads(spec_json), "written": written}, indent=2, sort_keys=True))
    return {"paintings": paintings, "music": music, **written}
