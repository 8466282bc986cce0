"""Media loading shared by stages, readers and models: audio decoding and
resampling, clip cutting, log-mel spectrograms, image decoding.

Mel spectrogram (MPD paper, Experimental Details): 16 kHz, FFT/window 1024,
hop 512, 128 mel bins. With a centred STFT a 15 s clip (240,000 samples) has
``1 + 240000 // 512 = 469`` frames, so one clip is a **128 × 469** array:
axis 0 is mel frequency (low → high), axis 1 is time. The paper writes
"469 × 128" (time × frequency); we store frequency-first, the usual layout for
2-D convolutions over spectrograms. Values are log power in dB,
``10·log10(max(power, 1e-10))`` with reference 1 (no per-clip max
normalisation, so loudness differences between clips survive), which also
keeps them inside float16's range for storage.

Decoding: :func:`decode_audio` reads a whole file once, at its own rate and
channels; :func:`load_audio` (mono, 16 kHz) is built on it, and the audio
stages call :func:`decode_audio` once per track for everything they make from
it (mels, listening copies, the track's peak).

Images: one policy for transparency (:func:`to_rgb`): a painting with
transparent pixels is composited onto a named background colour
(:data:`DEFAULT_ALPHA_BACKGROUND`, ``--alpha-background``) before anything
looks at its pixels, so features, scorers, embedders, the models' readers and
the copies raters see all get the same picture.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

TARGET_SAMPLE_RATE = 16_000
#: MPD: "non-overlapping 15-second clips".
MPD_CLIP_SECONDS = 15.0


@dataclass(frozen=True)
class ClipConfig:
    """How a track is cut into clips (all at ``sample_rate``).

    ``short_track``: what to do with a track shorter than one clip — ``"drop"``
    (it yields no clip; ingest quarantines it) or ``"pad"`` (one zero-padded
    clip). ``tail``: a remainder shorter than a clip at the end of a longer
    track is always dropped (``"drop"``) unless ``"pad"``.
    """

    clip_seconds: float = MPD_CLIP_SECONDS
    sample_rate: int = TARGET_SAMPLE_RATE
    short_track: Literal["drop", "pad"] = "drop"
    tail: Literal["drop", "pad"] = "drop"

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))


@dataclass(frozen=True)
class MelConfig:
    """Log-mel parameters (defaults: the MPD paper).

    ``power``: 2 = power spectrogram (MPD), 1 = magnitude (AudioLDM).
    ``log``: ``"db"`` = ``10·log10(max(mel, amin))`` (MPD), ``"ln"`` =
    ``ln(max(mel, amin))`` (AudioLDM's "dynamic range compression").
    ``pad_mode``: how the centred STFT pads the ends — zeros (``"constant"``,
    MPD) or a mirror image (``"reflect"``, AudioLDM's STFT).
    """

    sample_rate: int = TARGET_SAMPLE_RATE
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None  # None → sample_rate / 2
    amin: float = 1e-10
    power: float = 2.0
    log: Literal["db", "ln"] = "db"
    pad_mode: Literal["constant", "reflect"] = "constant"

    @property
    def scale(self) -> str:
        """How the values are scaled, in words (recorded in mel shards' metadata)."""
        kind = "power" if self.power == 2.0 else ("magnitude" if self.power == 1.0 else f"|X|^{self.power}")
        what = f"10*log10(max({kind}, amin)) dB, ref 1" if self.log == "db" else f"ln(max({kind}, amin))"
        return f"{what}, amin={self.amin}, centred STFT padded '{self.pad_mode}'"

    def n_frames(self, n_samples: int) -> int:
        """Frames of a centred STFT over ``n_samples``."""
        return 1 + n_samples // self.hop_length


# --- decoding ------------------------------------------------------------------

def resampled_length(n_frames: int, sample_rate: int, target_sr: int = TARGET_SAMPLE_RATE) -> int:
    """Samples a track has after resampling, by integer arithmetic (floor), so
    the clip plan can be made from ingest metadata without decoding."""
    return n_frames * target_sr // sample_rate


def decode_audio(source: str | Path | bytes) -> tuple[np.ndarray, int]:
    """Decode a whole file: float32 ``[frames, channels]`` at the file's own
    rate, and that rate. Values are not clipped: a lossy stream (Vorbis, MP3)
    can decode above full scale, and what is made from it must say so
    (listening copies record a gain, see ``stages.audio``)."""
    import soundfile as sf

    def handle():
        return io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source

    # libsndfile's int→float conversion is slow (measured ~8x slower than
    # reading 16-bit PCM as int16 and scaling here).
    pcm16 = sf.info(handle()).subtype == "PCM_16"
    samples, sr = sf.read(handle(), dtype="int16" if pcm16 else "float32", always_2d=True)
    if pcm16:
        samples = np.multiply(samples, np.float32(1 / 32768), dtype=np.float32)
    return samples, int(sr)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of ``[frames, channels]`` (a matvec; ``.mean`` is slow here)."""
    weights = np.full(samples.shape[1], 1.0 / samples.shape[1], np.float32)
    return samples @ weights


def load_audio(source: str | Path | bytes, target_sr: int = TARGET_SAMPLE_RATE) -> np.ndarray:
    """Decode, average channels to mono, resample (soxr, high quality) to ``target_sr``."""
    samples, sr = decode_audio(source)
    return resample(to_mono(samples), sr, target_sr)


def resample(y: np.ndarray, sr: int, target_sr: int = TARGET_SAMPLE_RATE) -> np.ndarray:
    if sr == target_sr:
        return np.ascontiguousarray(y, dtype=np.float32)
    import soxr

    return soxr.resample(y, sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def clip_starts(n_samples: int, config: ClipConfig) -> list[int]:
    """Start samples of the non-overlapping clips cut from the start of a track."""
    size = config.clip_samples
    if n_samples < size:
        return [0] if (config.short_track == "pad" and n_samples > 0) else []
    n_full = n_samples // size
    starts = [i * size for i in range(n_full)]
    if config.tail == "pad" and n_samples % size:
        starts.append(n_full * size)
    return starts


def cut_clips(y: np.ndarray, starts: list[int], size: int) -> np.ndarray:
    """Stack clips ``y[start:start+size]``; zero-pad any that run past the end."""
    out = np.zeros((len(starts), size), dtype=np.float32)
    for k, s in enumerate(starts):
        piece = y[s : s + size]
        out[k, : len(piece)] = piece
    return out


# --- mel ---------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).astype(np.float32)


@lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    # Periodic Hann, as librosa's get_window("hann", n, fftbins=True).
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def log_mel(clips: np.ndarray, config: MelConfig = MelConfig()) -> np.ndarray:
    """Log-mel of a batch of clips ``[n, samples]`` → ``[n, n_mels, frames]``.

    Equal to ``librosa.feature.melspectrogram(y, sr, n_fft, hop, n_mels, fmin,
    fmax, power, center=True, pad_mode)`` followed by ``power_to_db(ref=1,
    amin, top_db=None)`` (``log="db"``) or ``log(max(·, amin))`` (``log="ln"``)
    — both tested — but batched: all frames of all clips go through one FFT
    and one matrix product.
    """
    import scipy.fft

    clips = np.atleast_2d(np.asarray(clips, dtype=np.float32))
    n, length = clips.shape
    pad = config.n_fft // 2
    padded = np.pad(clips, ((0, 0), (pad, pad)), mode=config.pad_mode)
    n_frames = config.n_frames(length)
    frames = np.lib.stride_tricks.sliding_window_view(padded, config.n_fft, axis=1)[:, :: config.hop_length][:, :n_frames]
    spec = scipy.fft.rfft(frames * _hann(config.n_fft), axis=-1, workers=1)
    power = spec.real**2 + spec.imag**2  # [n, frames, bins]
    if config.power != 2.0:
        power = power ** (config.power / 2.0)
    basis = _mel_basis(config.sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax)
    mel = np.matmul(basis, power.transpose(0, 2, 1))  # [n, n_mels, frames]
    if config.log == "ln":
        return np.log(np.maximum(mel, config.amin))
    return 10.0 * np.log10(np.maximum(mel, config.amin))


def load_clip(path: str | Path, sample_rate: int = TARGET_SAMPLE_RATE) -> np.ndarray:
    """A stored clip as float32 mono at ``sample_rate`` (no resampling when the
    file already has that rate, which stored clips do)."""
    return load_audio(path, sample_rate)


# --- images ----------------------------------------------------------------------------

#: The colour transparent pixels are composited onto (``--alpha-background``;
#: any CSS colour name or ``#rrggbb``). White: a painting with transparency is
#: most often an object cut out of its background, and white is the page a
#: browser (and so a Label Studio rater) shows it on.
DEFAULT_ALPHA_BACKGROUND = "white"
#: Modes that carry an alpha channel; ``P``, ``L``, ``RGB`` images may carry a
#: transparency key in ``info["transparency"]`` instead.
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
#: Integer greyscale modes: 16-bit data (PNG and TIFF decoders give ``I;16*``
#: or ``I``), scaled to 8 bits (a plain conversion would clip them to white).
_WIDE_GREY = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})


def background_rgb(background: str = DEFAULT_ALPHA_BACKGROUND) -> tuple[int, int, int]:
    """The RGB triple of a colour name or ``#rrggbb`` (ValueError names the problem)."""
    from PIL import ImageColor

    try:
        rgb = ImageColor.getrgb(background)
    except ValueError:
        raise ValueError(f"--alpha-background {background!r} is not a colour: use a name (white, black, grey) or #rrggbb") from None
    return tuple(rgb[:3])  # type: ignore[return-value]


def has_transparency(im) -> bool:
    """Whether a (loaded) PIL image has at least one pixel that is not fully
    opaque: an alpha channel or a transparency key that is actually used."""
    if im.mode not in _ALPHA_MODES and "transparency" not in im.info:
        return False
    alpha = im.convert("RGBA").getchannel("A") if im.mode != "RGBA" else im.getchannel("A")
    return alpha.getextrema()[0] < 255


def to_rgb(im, background: str = DEFAULT_ALPHA_BACKGROUND):
    """The one conversion every pixel reader uses: an 8-bit RGB PIL image.

    * transparency (alpha channel, palette or colour key): composited onto
      ``background``, so whatever colour data hides under transparent pixels
      never shows (a plain ``convert("RGB")`` exposes it);
    * 16-bit greyscale: scaled to 8 bits (``value / 257``);
    * anything else (CMYK, palette, 1-bit, greyscale, YCbCr): PIL's conversion.
    """
    from PIL import Image

    if im.mode == "RGB" and "transparency" not in im.info:
        return im.copy()
    if im.mode in _WIDE_GREY:
        grey = np.clip(np.asarray(im, dtype=np.float64) / 257.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        base = Image.new("RGBA", rgba.size, background_rgb(background) + (255,))
        return Image.alpha_composite(base, rgba).convert("RGB")
    return im.convert("RGB")


def open_rgb(source: str | os.PathLike | bytes, background: str = DEFAULT_ALPHA_BACKGROUND):
    """Decode an image file (or its bytes) into an 8-bit RGB PIL image under the
    transparency policy of :func:`to_rgb`."""
    from PIL import Image

    with Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source) as img:
        img.load()
        return to_rgb(img, background)


def load_rgb(path: str | os.PathLike, size: int, background: str = DEFAULT_ALPHA_BACKGROUND) -> np.ndarray:
    """A painting as uint8 ``[size, size, 3]``: :func:`open_rgb`, resized
    (bicubic) to a square."""
    from PIL import Image

    return np.asarray(open_rgb(path, background).resize((size, size), Image.Resampling.BICUBIC), dtype=np.uint8)
