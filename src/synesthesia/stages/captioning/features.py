"""The ``features`` captioner: an offline, deterministic **stand-in**, no model.

It describes *measured* properties in plain sentences, so the whole ArtSound
pipeline (loop, scores, tables, report) runs anywhere, e.g. in the demo. Its
captions are labelled as a stand-in wherever they go: ``backend =
"features"`` and ``model = FEATURES_MODEL`` (``features-stand-in-v2``) in
every caption row, and the report and the dataset card say so. They are not
LLaVA / LP-MusicCaps / Qwen3 captions and say nothing about subject matter,
instruments or style.

* Artworks: palette (median-cut colours, named by hue / lightness, with their
  share of the image), brightness, contrast, saturation, edge density,
  dominant stroke orientation, where the visual weight sits and left-right
  symmetry; of the pixels every other stage sees (transparency composited,
  ``datasets.media.open_rgb``).
* Music segments: loudness (RMS dBFS of the real signal; zero padding is not
  measured), spectral brightness (centroid), onset density, and two estimates
  given **only when the evidence is clear**: a tempo (librosa's tracker) when
  the onset envelope has a sharp, periodic pulse (:data:`MIN_PULSE_CLARITY`,
  :data:`MIN_ONSET_PEAKINESS`), a major/minor key (chroma correlated with the
  Krumhansl-Kessler profiles) when the correlation reaches
  :data:`MIN_KEY_STRENGTH`. Less than :data:`MIN_RHYTHM_SECONDS` of signal
  (a short effect) gets neither. Otherwise the caption says there is no
  steady beat / no clear key: librosa's tempo prior would otherwise put most
  beat-less music at 117-125 BPM.
* Fusion (text only, from its own segment captions): a **summary** of the
  values the segment captions state (ranges, medians, the key most segments
  share), in its own sentences. It never copies a segment sentence, so ACS
  measures what it measures for a language model's fusion: how much of the
  segments' wording and meaning a summary keeps. A refined request (attempt
  >= 1) adds how the track changes from beginning to end. Segment captions
  it did not write (e.g. LP-MusicCaps) are summarised by their most frequent
  words.
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

    im = open_rgb(path, max_side, background=background)  # a JPEG decoded at reduced size
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

#: A tempo is stated only when the onset envelope, detrended over 1 s, has an
#: autocorrelation peak at least this high between 40 and 240 BPM ...
MIN_PULSE_CLARITY = 0.5
#: ... and its strongest onsets stand this far above its median (a pulse of
#: attacks, not the slow swell of sustained notes or noise). Both calibrated
#: on the generated corpus (rhythmic tracks: clarity 0.7-0.9, peakiness > 15)
#: against noise and sustained chords (peakiness about 4).
MIN_ONSET_PEAKINESS = 8.0
#: A key is stated only when the chroma correlates this well with a key
#: profile (noise: about 0.3; the generated tracks: 0.5-0.9).
MIN_KEY_STRENGTH = 0.6
#: Less real signal than this: no tempo or key (a short effect has no metre).
MIN_RHYTHM_SECONDS = 4.0


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
    """Measured properties of a segment (see the module docstring). Trailing
    zeros (the padding of a segment past the end of its track) are left out."""
    y = np.trim_zeros(np.asarray(y, dtype=np.float32), "b")
    seconds = len(y) / sr
    rms = float(np.sqrt(np.mean(y**2)) + 1e-12) if len(y) else 1e-12
    if rms < 1e-5:
        return {"silent": True, "loudness_db": 20 * np.log10(rms), "seconds": seconds}
    with _first_compile_lock():
        return _measured_features(y, sr, rms)


def _pulse(onset: np.ndarray, fps: float) -> tuple[float, float]:
    """(clarity, peakiness) of an onset envelope: the highest autocorrelation
    of the envelope minus its 1 s moving average at lags of 40-240 BPM, and
    the envelope's maximum over its median."""
    import scipy.ndimage

    if len(onset) < 4:
        return 0.0, 0.0
    detrended = onset - scipy.ndimage.uniform_filter1d(onset, size=max(1, int(fps)), mode="nearest")
    ac = np.correlate(detrended, detrended, "full")[len(detrended) - 1 :]
    if ac[0] <= 0:
        return 0.0, 0.0
    ac = ac / ac[0]
    lo, hi = int(np.floor(fps * 60 / 240)), min(len(ac) - 1, int(np.ceil(fps * 60 / 40)))
    clarity = float(ac[lo : hi + 1].max()) if hi >= lo else 0.0
    return clarity, float(onset.max() / (np.median(onset) + 1e-9))


def _measured_features(y: np.ndarray, sr: int, rms: float) -> dict:
    import librosa

    seconds = len(y) / sr
    onset = librosa.onset.onset_strength(y=y, sr=sr)
    onsets = librosa.onset.onset_detect(onset_envelope=onset, sr=sr)
    centroid = float(librosa.feature.spectral_centroid(y=y, sr=sr).mean())
    out = {
        "silent": False,
        "seconds": seconds,
        "loudness_db": float(20 * np.log10(rms)),
        "onsets_per_s": len(onsets) / seconds,
        "centroid_hz": centroid,
        "tempo_bpm": None,
        "key": None,
        "mode": None,
    }
    if seconds < MIN_RHYTHM_SECONDS:
        return out
    clarity, peakiness = _pulse(onset, sr / 512)
    out.update(pulse_clarity=clarity, onset_peakiness=peakiness)
    if clarity >= MIN_PULSE_CLARITY and peakiness >= MIN_ONSET_PEAKINESS:
        out["tempo_bpm"] = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset, sr=sr))[0])
    tonic, mode, strength = estimate_key(librosa.feature.chroma_stft(y=y, sr=sr).mean(axis=1))
    out["key_strength"] = strength
    if strength >= MIN_KEY_STRENGTH:
        out["key"], out["mode"] = tonic, mode
    return out


_LOUDNESS = ["very quiet", "quiet", "moderately loud", "loud", "very loud"]
_TIMBRE = ["dark, mellow", "warm", "bright", "very bright, sharp"]


def describe_audio(f: dict) -> str:
    """Sentences from :func:`audio_features`; each stands on its own (no
    sentence leans on a pronoun for the one before it)."""
    if f["silent"]:
        return "A silent passage."
    loud = _level(f["loudness_db"], [-35, -24, -16, -10], _LOUDNESS)
    timbre = _level(f["centroid_hz"], [800, 1600, 2800], _TIMBRE)
    if f["seconds"] < MIN_RHYTHM_SECONDS:
        return (
            f"A {loud} sound of {f['seconds']:.1f} s with a {timbre} timbre (spectral centroid near {f['centroid_hz']:.0f} Hz), "
            "too short to measure a tempo or a key."
        )
    attacks = _level(f["onsets_per_s"], [1.0, 3.0, 6.0], ["few distinct attacks", "a gentle pulse of attacks", "a steady rhythmic pulse", "dense, busy attacks"])
    if f["tempo_bpm"] is not None:
        speed = _level(f["tempo_bpm"], [76, 108, 132], ["slow", "moderate", "fast", "very fast"])
        pace = f"at a {speed} tempo of about {f['tempo_bpm']:.0f} BPM"
    else:
        pace = "with no steady beat to measure"
    harmony = f"and the harmony points to {f['key']} {f['mode']}" if f["key"] else "with no clear key"
    return (
        f"A {loud} passage {pace}, with {attacks}. "
        f"The timbre is {timbre} (spectral centroid near {f['centroid_hz']:.0f} Hz), {harmony}."
    )


# --- fusion: a summary of the segment captions ------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_PARSE = {
    "loudness": re.compile(r"^A (" + "|".join(sorted(_LOUDNESS, key=len, reverse=True)) + r") (?:passage|sound)"),
    "tempo": re.compile(r"about (\d+) BPM"),
    "timbre": re.compile(r"(" + "|".join(sorted(_TIMBRE, key=len, reverse=True)) + r") timbre|timbre is (" + "|".join(sorted(_TIMBRE, key=len, reverse=True)) + r")"),
    "centroid": re.compile(r"spectral centroid near (\d+) Hz"),
    "key": re.compile(r"points to ([A-G]#?) (major|minor)"),
}
_STOPWORDS = frozenset("a an the and or of in on at to with is are was its it this that for from by as be has have".split())


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def parse_segment_caption(caption: str) -> dict | None:
    """The values a features segment caption states, or None when it is not one."""
    if caption.strip() == "A silent passage.":
        return {"silent": True}
    loud = _PARSE["loudness"].search(caption)
    centroid = _PARSE["centroid"].search(caption)
    if not loud or not centroid:
        return None
    timbre = _PARSE["timbre"].search(caption)
    tempo, key = _PARSE["tempo"].search(caption), _PARSE["key"].search(caption)
    return {
        "silent": False,
        "loudness": _LOUDNESS.index(loud.group(1)),
        "timbre": (timbre.group(1) or timbre.group(2)) if timbre else None,
        "centroid": int(centroid.group(1)),
        "tempo": int(tempo.group(1)) if tempo else None,
        "key": f"{key.group(1)} {key.group(2)}" if key else None,
    }


def _span(values: list[str]) -> str:
    return values[0] if len(set(values)) == 1 else f"from {min(values, key=_LOUDNESS.index)} to {max(values, key=_LOUDNESS.index)}"


def _summary(parsed: list[dict], part: str = "") -> list[str]:
    sound = [p for p in parsed if not p["silent"]]
    n = len(parsed)
    if not sound:
        return [f"{part or 'The track'} is silent."]
    loudness = [_LOUDNESS[p["loudness"]] for p in sound]
    tempos = sorted(p["tempo"] for p in sound if p["tempo"] is not None)
    keys = [p["key"] for p in sound if p["key"]]
    timbres = [p["timbre"] for p in sound if p["timbre"]]
    centroids = [p["centroid"] for p in sound]
    where = f"{part}, the music" if part else "The music"
    out = [f"{where} is {_span(loudness)}" + (f", silent in {n - len(sound)} of {n} segments." if len(sound) < n else ".")]
    if not tempos:
        out.append(f"{where} has no steady beat in any of its {n} segments.")
    elif len(tempos) == 1:
        out.append(f"{where} has a measurable beat in one of {n} segments, near {tempos[0]} BPM.")
    elif tempos[0] == tempos[-1]:
        out.append(f"{where} has a measurable beat in {len(tempos)} of {n} segments, at about {tempos[0]} BPM.")
    else:
        out.append(f"{where} has a measurable beat in {len(tempos)} of {n} segments, between {tempos[0]} and {tempos[-1]} BPM (median {int(np.median(tempos))}).")
    if timbres:
        common = max(sorted(set(timbres)), key=timbres.count)
        out.append(f"The timbre is mostly {common}, with the spectral centroid between {min(centroids)} and {max(centroids)} Hz.")
    if keys:
        top = max(sorted(set(keys)), key=keys.count)
        share = keys.count(top)
        out.append(f"A key of {top} holds in {share} of {n} segments." if share * 2 >= len(sound) else f"No single key holds: {len(set(keys))} different keys across {n} segments.")
    else:
        out.append("No segment has a clear key.")
    return out


def merge_segment_captions(segments: Sequence[str], attempt: int = 0) -> str:
    """A summary of a track's segment captions (see the module docstring);
    ``attempt`` >= 1 adds the beginning, middle and end of longer tracks."""
    parsed = [parse_segment_caption(c) for c in segments]
    if not segments:
        return ""
    if any(p is None for p in parsed):
        words = [w for c in segments for w in re.findall(r"[a-z]+", c.lower()) if w not in _STOPWORDS and len(w) > 2]
        top = sorted(set(words), key=lambda w: (-words.count(w), w))[:8]
        return f"Across {len(segments)} segments the captions most often mention: {', '.join(top)}." if top else ""
    head = f"Over {len(segments)} ten-second segment{'s' if len(segments) > 1 else ''}: "
    body = _summary(parsed)
    text = head + body[0][0].lower() + body[0][1:] + (" " + " ".join(body[1:]) if len(body) > 1 else "")
    if attempt >= 1 and len(parsed) >= 3:
        thirds = np.array_split(np.arange(len(parsed)), 3)
        for name, idx in zip(("At the beginning", "In the middle", "At the end"), thirds):
            text += " " + _summary([parsed[i] for i in idx], name)[0]
    return text


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
