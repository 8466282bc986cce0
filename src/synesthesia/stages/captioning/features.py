"""The ``features`` captioner: offline, deterministic, no model.

It describes *measured* properties in plain sentences, so the whole ArtSound
pipeline (loop, scores, tables, report) runs anywhere, e.g. in the demo. Its
captions are labelled as such: ``backend = "features"`` and ``model =
"synesthesia-features-v1"`` in every table, and the report says so. They are
not LLaVA / LP-MusicCaps / Qwen3 captions and say nothing about subject
matter or style.

* Artworks: palette (median-cut colours, named by hue / lightness, with their
  share of the image), brightness, contrast, saturation, edge density,
  dominant stroke orientation, where the visual weight sits and left-right
  symmetry.
* Music segments: loudness (RMS dBFS), tempo (librosa's beat tracker),
  spectral brightness (centroid), onset density and a major/minor key
  estimate (chroma correlated with the Krumhansl-Kessler key profiles).
* Fusion (text only, from the segment captions): an extractive merge. The
  first attempt keeps the first sentence of each segment caption (dropping
  repeats); a refined request (attempt >= 1) keeps every sentence, so the
  demo's ACS loop has something to improve.
"""

from __future__ import annotations

import colorsys
import contextlib
import re
import tempfile
from pathlib import Path
from typing import Sequence

try:  # POSIX: the numba cache lock below
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

import numpy as np

from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND, open_rgb
from synesthesia.stages.captioning import (
    FEATURES_MODEL,
    GenerationRequest,
    GenerationResult,
    GeneratorConfig,
    SegmentCaptioner,
    SegmentCaptionerConfig,
    TextGenerator,
)

# --- images ----------------------------------------------------------------------

_HUES = [(15, "red"), (40, "orange"), (65, "yellow"), (160, "green"), (200, "teal"), (255, "blue"), (290, "purple"), (335, "pink"), (360, "red")]


def colour_name(rgb: Sequence[float]) -> str:
    """A plain name for an RGB colour (0-255): hue bucket plus lightness."""
    r, g, b = (float(c) / 255.0 for c in rgb)
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    if v < 0.16:
        return "black"
    if s < 0.18:
        return "white" if v > 0.85 else ("light grey" if v > 0.6 else ("grey" if v > 0.35 else "dark grey"))
    hue = next(name for limit, name in _HUES if h * 360 <= limit)
    if hue in ("orange", "red") and v < 0.6 and s > 0.4:
        hue = "brown" if hue == "orange" else "dark red"
        return hue
    if v < 0.4:
        return f"dark {hue}"
    if s < 0.4 and v > 0.7:
        return f"pale {hue}"
    return hue


def _level(value: float, cuts: Sequence[float], words: Sequence[str]) -> str:
    for cut, word in zip(cuts, words):
        if value < cut:
            return word
    return words[-1]


def image_features(path: str, max_side: int = 256, background: str = DEFAULT_ALPHA_BACKGROUND) -> dict:
    """Measured properties of an image (see the module docstring), of its
    pixels as :func:`~synesthesia.datasets.media.open_rgb` gives them
    (transparent pixels composited onto ``background``)."""
    from PIL import Image

    im = open_rgb(path, background)
    im.thumbnail((max_side, max_side))
    rgb = np.asarray(im, dtype=np.float32)
    quant = im.quantize(colors=5, method=Image.Quantize.MEDIANCUT)
    palette = np.asarray(quant.getpalette()[:15], dtype=np.float32).reshape(-1, 3)
    counts = np.bincount(np.asarray(quant).ravel(), minlength=len(palette))[: len(palette)]
    lum = (0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]) / 255.0
    mx, mn = rgb.max(axis=-1), rgb.min(axis=-1)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    gy, gx = np.gradient(lum)
    mag = np.hypot(gx, gy)
    weight = np.abs(lum - lum.mean()) + 0.5 * sat + 1e-6
    h, w = lum.shape
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = float((weight * yy).sum() / weight.sum() / max(h - 1, 1)), float((weight * xx).sum() / weight.sum() / max(w - 1, 1))
    order = np.argsort(-counts)
    share = counts / max(counts.sum(), 1)
    named: dict[str, float] = {}
    for i in order:
        if share[i] > 0:
            name = colour_name(palette[i])
            named[name] = named.get(name, 0.0) + float(share[i])
    return {
        "palette": sorted(named.items(), key=lambda kv: -kv[1]),
        "brightness": float(lum.mean()),
        "contrast": float(lum.std()),
        "saturation": float(sat.mean()),
        "edge_density": float((mag > 0.08).mean()),
        "horizontal_energy": float(np.abs(gy).mean()),
        "vertical_energy": float(np.abs(gx).mean()),
        "centre": (cx, cy),
        "asymmetry": float(np.abs(lum - lum[:, ::-1]).mean()),
        "warmth": float(((rgb[..., 0] - rgb[..., 2]) / 255.0).mean()),
        "size": (w, h),
    }


def describe_image(f: dict, detail: int = 0) -> str:
    """Sentences from :func:`image_features`; ``detail`` > 0 adds more."""
    brightness = _level(f["brightness"], [0.2, 0.4, 0.6, 0.8], ["very dark", "dark", "moderately lit", "bright", "very bright"])
    contrast = _level(f["contrast"], [0.08, 0.18, 0.28], ["very low contrast", "low contrast", "moderate contrast", "high contrast"])
    saturation = _level(f["saturation"], [0.15, 0.35, 0.6], ["nearly monochrome", "muted", "moderately saturated", "vivid"])
    edges = _level(f["edge_density"], [0.03, 0.12, 0.3], ["smooth, almost featureless areas", "broad, simple areas", "a moderate amount of detail", "a busy, densely detailed surface"])
    top = f["palette"][:3]
    colours = ", ".join(f"{name} ({share:.0%})" for name, share in top[:-1])
    colours = f"{colours} and {top[-1][0]} ({top[-1][1]:.0%})" if len(top) > 1 else f"{top[0][0]} ({top[0][1]:.0%})"
    ratio = f["horizontal_energy"] / max(f["vertical_energy"], 1e-9)
    orientation = "mostly horizontal bands and edges" if ratio > 1.25 else ("mostly vertical strokes and edges" if ratio < 0.8 else "with no dominant edge direction")
    cx, cy = f["centre"]
    vertical = "upper" if cy < 0.42 else ("lower" if cy > 0.58 else "middle")
    horizontal = "left" if cx < 0.42 else ("right" if cx > 0.58 else "centre")
    position = "the centre" if (vertical, horizontal) == ("middle", "centre") else f"the {vertical} {horizontal}".replace("middle ", "")
    symmetry = "nearly symmetric from left to right" if f["asymmetry"] < 0.06 else "asymmetric"
    sentences = [
        f"A {brightness}, {saturation} image with {contrast}.",
        f"Its palette is dominated by {colours}.",
        f"The surface shows {edges} ({f['edge_density']:.0%} of pixels lie on edges), {orientation}.",
        f"The visual weight sits towards {position}, and the composition is {symmetry}.",
    ]
    if detail > 0:
        warmth = "warm" if f["warmth"] > 0.05 else ("cool" if f["warmth"] < -0.05 else "neutral")
        w, h = f["size"]
        shape = "landscape" if w > h * 1.1 else ("portrait" if h > w * 1.1 else "square")
        rest = ", ".join(name for name, _ in f["palette"][3:]) or "no other colours"
        sentences.append(f"Overall the colour temperature is {warmth}, on a {shape} format; minor colours: {rest}.")
    return " ".join(sentences)


# --- audio ---------------------------------------------------------------------------

# Krumhansl-Kessler key profiles (C major / C minor), rotated for other tonics.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_NOTES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


def estimate_key(chroma_mean: np.ndarray) -> tuple[str, str, float]:
    """(tonic, "major"|"minor", correlation) of a mean chroma vector."""
    best = ("C", "major", -2.0)
    for mode, profile in (("major", _MAJOR), ("minor", _MINOR)):
        for k in range(12):
            r = float(np.corrcoef(chroma_mean, np.roll(profile, k))[0, 1])
            if np.isfinite(r) and r > best[2]:
                best = (_NOTES[k], mode, r)
    return best


_COMPILED = False


@contextlib.contextmanager
def _first_compile_lock():
    """librosa's jitted functions are cached on disk by numba. Two worker
    processes compiling different signatures at once can leave the cache
    index pointing at the other one's machine code, and every later run
    segfaults (seen here after a first demo on a fresh venv). The first call
    in each process, which compiles or loads them, runs under a file lock;
    numba re-reads the index before each save, so serial saves are safe."""
    global _COMPILED
    if _COMPILED or fcntl is None:
        yield
        return
    with open(Path(tempfile.gettempdir()) / "synesthesia-numba-cache.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
            _COMPILED = True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def audio_features(y: np.ndarray, sr: int) -> dict:
    y = np.asarray(y, dtype=np.float32)
    rms = float(np.sqrt(np.mean(y**2)) + 1e-12)
    if rms < 1e-5:
        return {"silent": True, "loudness_db": 20 * np.log10(rms)}
    with _first_compile_lock():
        return _measured_features(y, sr, rms)


def _measured_features(y: np.ndarray, sr: int, rms: float) -> dict:
    import librosa

    onset = librosa.onset.onset_strength(y=y, sr=sr)
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset, sr=sr))[0])
    onsets = librosa.onset.onset_detect(onset_envelope=onset, sr=sr)
    centroid = float(librosa.feature.spectral_centroid(y=y, sr=sr).mean())
    chroma = librosa.feature.chroma_stft(y=y, sr=sr).mean(axis=1)
    tonic, mode, strength = estimate_key(chroma)
    return {
        "silent": False,
        "loudness_db": float(20 * np.log10(rms)),
        "tempo_bpm": tempo,
        "onsets_per_s": len(onsets) / (len(y) / sr),
        "centroid_hz": centroid,
        "key": tonic,
        "mode": mode,
        "key_strength": strength,
    }


def describe_audio(f: dict) -> str:
    if f["silent"]:
        return "A silent passage."
    loud = _level(f["loudness_db"], [-35, -24, -16, -10], ["very quiet", "quiet", "moderately loud", "loud", "very loud"])
    speed = _level(f["tempo_bpm"], [76, 108, 132], ["slow", "moderate", "fast", "very fast"])
    timbre = _level(f["centroid_hz"], [800, 1600, 2800], ["dark, mellow", "warm", "bright", "very bright, sharp"])
    attacks = _level(f["onsets_per_s"], [1.0, 3.0, 6.0], ["few distinct attacks", "a gentle pulse of attacks", "a steady rhythmic pulse", "dense, busy attacks"])
    certainty = "clearly" if f["key_strength"] > 0.6 else "probably"
    return (
        f"A {loud} passage at a {speed} tempo of about {f['tempo_bpm']:.0f} BPM with {attacks}. "
        f"Its timbre is {timbre} (spectral centroid near {f['centroid_hz']:.0f} Hz), and it is {certainty} "
        f"in {f['key']} {f['mode']}."
    )


# --- fusion ------------------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def merge_segment_captions(segments: Sequence[str], attempt: int = 0) -> str:
    """Extractive merge: attempt 0 keeps the first sentence of each segment
    caption, later attempts keep every sentence; repeats are dropped."""
    kept: list[str] = []
    for caption in segments:
        parts = sentences(caption)
        for s in parts[:1] if attempt == 0 else parts:
            if s not in kept:
                kept.append(s)
    if not kept:
        return ""
    if len(segments) > 1:
        kept[0] = "Throughout the track: " + kept[0][0].lower() + kept[0][1:]
    return " ".join(kept)


# --- backends ------------------------------------------------------------------------------

class FeaturesGenerator(TextGenerator):
    """Image captions from measured properties; fusion by extractive merge."""

    name = "features"
    supports_images = True

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__(config)

    @property
    def model(self) -> str:
        return FEATURES_MODEL

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        out = []
        for req in requests:
            try:
                if req.image_path is not None:
                    out.append(GenerationResult(describe_image(image_features(req.image_path, background=req.image_background), detail=req.attempt)))
                elif req.context:
                    out.append(GenerationResult(merge_segment_captions(req.context, req.attempt)))
                else:
                    out.append(GenerationResult(None, "the features backend captions images or merges segment captions; got neither"))
            except (OSError, ValueError) as exc:
                out.append(GenerationResult(None, f"features backend: {exc}"))
        return out


class FeaturesSegmentCaptioner(SegmentCaptioner):
    name = "features"
    model = FEATURES_MODEL

    def __init__(self, config: SegmentCaptionerConfig | None = None):
        self.config = config

    def caption(self, segments: np.ndarray, sample_rate: int) -> list[str]:
        return [describe_audio(audio_features(seg, sample_rate)) for seg in np.atleast_2d(segments)]
