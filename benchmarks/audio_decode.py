"""Audio decoders on real formats: speed and exactness of MP3 / Ogg Vorbis /
FLAC at 44.1 kHz stereo → 16 kHz mono.

Writes generated music (``datasets.synthetic.synth_track``, a different
signal on each channel) as MP3, Ogg Vorbis and FLAC with libsndfile's
encoders (LAME, libvorbis, libFLAC), then decodes each file with every
decoder that is installed and turns it into what the audio stages consume:
float32 mono at 16 kHz.

* ``soundfile``: libsndfile (mpg123 for MP3, libvorbis, libFLAC), float32,
  channel mean, soxr HQ — what ``load_audio`` did before.
* ``pyav``: FFmpeg through PyAV (``pip install av``), packed float32 frames,
  channel mean, soxr HQ.
* ``pyav-swr``: PyAV with FFmpeg's own resampler (swresample) doing the
  downmix and the 44.1 → 16 kHz conversion.
* ``miniaudio``: dr_mp3 / stb_vorbis / dr_flac (``pip install miniaudio``),
  float32, channel mean, soxr HQ.
* ``pedalboard``: JUCE's readers (``pip install pedalboard``), channel mean, soxr HQ.
* ``load_audio``: ``synesthesia.datasets.media.load_audio`` as it is now.

Exactness is measured against a reference decode of the same file at
float64 precision: libsndfile's float decode for MP3 and Vorbis (the lossy
formats have no "true" signal; decoders may legitimately differ by rounding,
but not by alignment or gain), the original PCM for FLAC; both go through the
same channel mean and soxr HQ. Printed: CPU and wall time (best of
``--repeat``; CPU time is the steadier figure on a shared machine), length
difference in samples at 16 kHz, the lag that best aligns the two, the gain
between them, and the SNR of the difference once the gain is fitted (dB).

    python benchmarks/audio_decode.py [--seconds 120] [--repeat 3]

Goal (issue 21): the audio stage >= 1,000x real time per 2-core machine on
MP3 input (this script measures decoding alone, one process).
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from synesthesia.datasets.media import load_audio
from synesthesia.datasets.synthetic import synth_track

SR_IN = 44_100
SR_OUT = 16_000
FORMATS = {"mp3": ("MP3", "MPEG_LAYER_III"), "ogg": ("OGG", "VORBIS"), "flac": ("FLAC", "PCM_16")}


def stereo_music(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    left = synth_track("electronic", seconds, SR_IN, rng)
    right = synth_track("classical", seconds, SR_IN, rng)
    return np.stack([left, right], axis=1) * 0.9


def to16k(stereo: np.ndarray, sr: int) -> np.ndarray:
    # channel mean as a matrix-vector product, as load_audio does (numpy's .mean is ~10x slower here)
    mono = np.ascontiguousarray(stereo, dtype=np.float32) @ np.full(stereo.shape[1], 1 / stereo.shape[1], np.float32)
    return soxr.resample(mono, sr, SR_OUT, quality="HQ").astype(np.float32, copy=False)


# --- decoders: path -> float32 mono at 16 kHz --------------------------------------

def dec_soundfile(path: Path) -> np.ndarray:
    y, sr = sf.read(path, dtype="float32", always_2d=True)
    return to16k(y, sr)


def dec_pyav(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        sr = stream.codec_context.sample_rate
        parts = [frame.to_ndarray() for frame in container.decode(stream)]
    y = np.concatenate(parts, axis=1)  # planar [channels, n] or packed [1, n*ch]
    fmt = stream.codec_context.format
    if not fmt.is_planar:
        y = y.reshape(-1, stream.codec_context.channels).T
    if y.dtype.kind == "i":  # FLAC decodes to integers: scale to [-1, 1)
        y = y.astype(np.float32) / np.float32(2 ** (8 * y.dtype.itemsize - 1))
    return to16k(y.T.astype(np.float32, copy=False), sr)


def dec_pyav_swr(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SR_OUT)
        parts = []
        for frame in container.decode(stream):
            parts.extend(f.to_ndarray()[0] for f in resampler.resample(frame))
        parts.extend(f.to_ndarray()[0] for f in resampler.resample(None))
    return np.concatenate(parts)


def dec_miniaudio(path: Path) -> np.ndarray:
    import miniaudio

    d = miniaudio.decode_file(str(path), output_format=miniaudio.SampleFormat.FLOAT32)
    y = np.frombuffer(d.samples, dtype=np.float32).reshape(-1, d.nchannels)
    return to16k(y, d.sample_rate)


def dec_pedalboard(path: Path) -> np.ndarray:
    from pedalboard.io import AudioFile

    with AudioFile(str(path)) as f:
        y = f.read(f.frames)
        sr = f.samplerate
    return to16k(y.T, int(sr))


DECODERS = {
    "soundfile": (dec_soundfile, "soundfile"),
    "pyav": (dec_pyav, "av"),
    "pyav-swr": (dec_pyav_swr, "av"),
    "miniaudio": (dec_miniaudio, "miniaudio"),
    "pedalboard": (dec_pedalboard, "pedalboard"),
    "load_audio": (lambda p: load_audio(p, SR_OUT), "soundfile"),
}


def compare(y: np.ndarray, ref: np.ndarray, max_lag: int = 2048) -> tuple[int, int, float, float]:
    """(length difference, best lag in samples, gain, SNR in dB at that lag
    after fitting the gain: a decoder that mixes down as (L+R)/sqrt(2)
    differs by a constant gain, not by error)."""
    from scipy.signal import correlate

    n = min(len(y), len(ref)) - 2 * max_lag
    window = ref[max_lag : max_lag + n].astype(np.float64)
    xc = correlate(y[: n + 2 * max_lag].astype(np.float64), window, mode="valid", method="fft")  # lags 0..2*max_lag
    lag = int(np.argmax(xc)) - max_lag
    seg = y[max_lag + lag : max_lag + lag + n].astype(np.float64)
    gain = float(seg @ window / (seg @ seg))
    snr = 10 * np.log10(np.sum(window**2) / max(np.sum((gain * seg - window) ** 2), 1e-30))
    return len(y) - len(ref), lag, 1 / gain, snr


def write(path: Path, stereo: np.ndarray, fmt: str, subtype: str) -> None:
    # In blocks: libsndfile 1.2's Vorbis encoder crashes on one long write.
    with sf.SoundFile(path, "w", SR_IN, stereo.shape[1], format=fmt, subtype=subtype) as f:
        for s in range(0, len(stereo), 1 << 16):
            f.write(stereo[s : s + (1 << 16)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--repeat", type=int, default=7, help="best of N timings")
    args = ap.parse_args()
    stereo = stereo_music(args.seconds)
    available = {k: v for k, v in DECODERS.items() if importlib.util.find_spec(v[1]) is not None}
    missing = sorted({v[1] for k, v in DECODERS.items() if k not in available})
    print(f"{args.seconds:g} s of 44.1 kHz stereo; decoders: {', '.join(available)}"
          + (f" (not installed: {', '.join(missing)})" if missing else ""))
    with tempfile.TemporaryDirectory() as tmp:
        for ext, (fmt, subtype) in FORMATS.items():
            path = Path(tmp) / f"track.{ext}"
            write(path, stereo, fmt, subtype)
            ref = to16k(stereo, SR_IN) if ext == "flac" else to16k(sf.read(path, dtype="float64", always_2d=True)[0], SR_IN)
            print(f"\n{ext}: {path.stat().st_size / 2**20:.2f} MiB; reference: {'the original PCM' if ext == 'flac' else 'libsndfile float64 decode'}")
            outputs, walls, cpus = {}, {}, {}
            for name, (fn, _) in available.items():
                try:
                    outputs[name] = fn(path)
                except Exception as exc:  # a decoder without this format
                    print(f"  {name:>11}: failed: {type(exc).__name__}: {str(exc)[:80]}")
            for _ in range(args.repeat):  # interleaved, so a burst of load hits every decoder alike
                for name in outputs:
                    t0, c0 = time.perf_counter(), time.process_time()
                    available[name][0](path)
                    walls.setdefault(name, []).append(time.perf_counter() - t0)
                    cpus.setdefault(name, []).append(time.process_time() - c0)
            for name, y in outputs.items():
                wall, cpu = min(walls[name]), min(cpus[name])
                dlen, lag, gain, snr = compare(y, ref)
                print(f"  {name:>11}: {cpu * 1000:6.1f} ms CPU ({args.seconds / cpu:5.0f}x real time), {wall * 1000:6.1f} ms wall; "
                      f"length {dlen:+d}, lag {lag:+d} samples, gain {gain:.3f}, SNR {snr:5.1f} dB")


if __name__ == "__main__":
    main()
