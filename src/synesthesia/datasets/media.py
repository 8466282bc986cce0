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

Decoding: :func:`decode_track_audio` reads a file once, block by block, and
gives what the audio stages make from it (the mono signal at the model's
rate, the native samples of requested spans, the track's peak);
:func:`load_audio` is its mono signal. The audio stages decode each track
once for everything they make from it (mels, listening copies, the peak).

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
from typing import Literal, Sequence

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


#: Frames decoded at a time: a worker holds ~2 MiB of decoded audio whatever
#: the track's length (a 300 s 48 kHz stereo track is 110 MB as float32).
#: Blocks of 65,536 frames cost ~10 % more CPU on MP3 than one read.
DECODE_BLOCK = 1 << 18


@dataclass
class DecodedAudio:
    """One decoded file: its rate, channels and length, the largest absolute
    sample (lossy streams decode above full scale), the mono signal at the
    requested rate, and the native samples of the requested spans."""

    sample_rate: int
    channels: int
    frames: int
    peak: float
    finite: bool
    mono: np.ndarray
    spans: list[np.ndarray]  # float32 [frames, channels], one per requested span (shorter at the end)


def decode_track_audio(
    source: str | Path | bytes, target_sr: int = TARGET_SAMPLE_RATE, spans: Sequence[tuple[float, float]] = ()
) -> DecodedAudio:
    """Decode a file once: average channels to mono, resample (soxr, high
    quality) to ``target_sr``, keep the native samples (the file's own rate
    and channels, not clipped) of each ``(start_s, seconds)`` span, and track
    the peak and whether every sample is finite.

    The decoder is libsndfile (``soundfile``: mpg123 for MP3, libvorbis,
    libFLAC, its own WAV/AIFF readers), the fastest of those measured on MP3,
    Ogg Vorbis and FLAC at 44.1 kHz stereo and exact (gapless: encoder delay
    and padding removed; ``benchmarks/audio_decode.py``, docs/performance.md).
    The track is decoded, mixed down and resampled block by block
    (:data:`DECODE_BLOCK` frames; soxr's stream gives the same samples as one
    call on the whole track, bit for bit), so memory grows with the spans
    kept, not with the track's length."""
    import soundfile as sf

    handle = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    with sf.SoundFile(handle) as f:
        sr, channels = f.samplerate, f.channels
        # libsndfile's int→float conversion is slow (measured ~8x slower than
        # reading 16-bit PCM as int16 and scaling here).
        pcm16 = f.subtype == "PCM_16"
        scale = np.float32(1 / 32768 if pcm16 else 1.0)
        weights = np.full(channels, scale / channels, np.float32)
        stream = None
        if sr != target_sr:
            import soxr

            stream = soxr.ResampleStream(sr, target_sr, 1, dtype="float32", quality="HQ")
        wanted = [(int(round(a * sr)), int(round(a * sr)) + int(round(d * sr))) for a, d in spans]
        kept: list[list[np.ndarray]] = [[] for _ in wanted]
        out, pos, peak, finite = [], 0, 0.0, True
        for block in f.blocks(DECODE_BLOCK, dtype="int16" if pcm16 else "float32", always_2d=True):
            n = block.shape[0]
            if n:
                peak = max(peak, max(float(block.max()), -float(block.min())) * float(scale))  # negate as float: -(-32768) overflows int16
                finite = finite and (pcm16 or bool(np.isfinite(block).all()))
            for k, (a, b) in enumerate(wanted):
                if a < pos + n and b > pos:
                    piece = block[max(a - pos, 0) : min(b - pos, n)]
                    kept[k].append(piece.astype(np.float32) * scale if pcm16 else piece.copy())
            mono = block.astype(np.float32, copy=False) @ weights  # channel average (a matvec; .mean is slow here)
            out.append(mono if stream is None else stream.resample_chunk(mono))
            pos += n
        if stream is not None:
            out.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    mono = np.concatenate(out).astype(np.float32, copy=False) if out else np.zeros(0, np.float32)
    pieces = [np.concatenate(p) if p else np.zeros((0, channels), np.float32) for p in kept]
    return DecodedAudio(sr, channels, pos, peak, finite, mono, pieces)


def load_audio(source: str | Path | bytes, target_sr: int = TARGET_SAMPLE_RATE) -> np.ndarray:
    """Decode, average channels to mono, resample (soxr, high quality) to
    ``target_sr``: the mono signal of :func:`decode_track_audio`."""
    return decode_track_audio(source, target_sr).mono


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

#: Reduced-size JPEG decoding keeps at least this many times the pixels the
#: consumer resizes to (on each side), as Pillow's own ``thumbnail`` does
#: (``reducing_gap=2``): the final resize still sees 2x oversampled input.
DRAFT_GAP = 2.0
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


def build_alpha_background(manifest: dict) -> str:
    """The colour a build composited transparent pixels onto (``--alpha-background``
    in its ``dataset.json`` config; the default for folders built before it)."""
    return (manifest.get("config") or {}).get("alpha_background") or DEFAULT_ALPHA_BACKGROUND


def background_rgb(background: str = DEFAULT_ALPHA_BACKGROUND) -> tuple[int, int, int]:
    """The RGB triple of a colour name or ``#rrggbb`` (ValueError names the problem)."""
    from PIL import ImageColor

    try:
        rgb = ImageColor.getrgb(background)
    except ValueError:
        raise ValueError(f"--alpha-background {background!r} is not a colour: use a name (white, black, grey) or #rrggbb") from None
    return tuple(rgb[:3])  # type: ignore[return-value]


def may_have_transparency(im) -> bool:
    """Whether an image's header allows transparent pixels (an alpha channel
    or a transparency key): the cheap test before :func:`has_transparency`."""
    return im.mode in _ALPHA_MODES or "transparency" in im.info


def has_transparency(im) -> bool:
    """Whether a (loaded) PIL image has at least one pixel that is not fully
    opaque: an alpha channel or a transparency key that is actually used."""
    if not may_have_transparency(im):
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


def open_rgb(
    source: str | os.PathLike | bytes, min_side: int | None = None, gap: float = DRAFT_GAP, *, background: str = DEFAULT_ALPHA_BACKGROUND
):
    """An image file (or its bytes) as a loaded 8-bit RGB PIL image, under the
    transparency policy of :func:`to_rgb` (``background``).

    ``min_side``: the consumer will resize the image so that its sides are at
    most about this many pixels (an embedder's or scorer's 224 px input, a
    thumbnail). A JPEG is then decoded at the smallest of 1/1, 1/2, 1/4, 1/8
    scale that keeps both sides at least ``gap`` × ``min_side``
    (libjpeg's DCT-domain reduction through Pillow's ``draft``) instead of at
    full size first — several times faster on multi-megapixel paintings
    (``benchmarks/artsound_scale.py`` measures both). Other formats are
    decoded in full."""
    from PIL import Image

    with Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source) as im:
        if min_side:
            target = int(round(min_side * gap))
            im.draft("RGB", (target, target))
        im.load()
        return to_rgb(im, background)


def load_rgb(path: str | os.PathLike, size: int, background: str = DEFAULT_ALPHA_BACKGROUND) -> np.ndarray:
    """A painting as uint8 ``[size, size, 3]``: :func:`open_rgb` (a JPEG at
    reduced size, transparency composited onto ``background``), resized
    (bicubic) to a square."""
    from PIL import Image

    return np.asarray(open_rgb(path, size, background=background).resize((size, size), Image.Resampling.BICUBIC), dtype=np.uint8)
