"""Decoding real formats: JPEGs at reduced size for 224 px consumers, and
compressed audio (MP3, Ogg Vorbis, FLAC at 44.1 kHz stereo) to 16 kHz mono."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from synesthesia.datasets.media import DRAFT_GAP, decode_track_audio, load_audio, load_rgb, open_rgb, resample
from synesthesia.datasets.synthetic import painting_pixels, synth_track


def painting(path, w, h, fmt="JPEG"):
    small = Image.fromarray(painting_pixels("expressionist", np.random.default_rng(0), 160))
    img = small.resize((w, h), Image.Resampling.BICUBIC)
    img.save(path, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return img


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse)


def test_a_large_jpeg_is_decoded_at_reduced_size_for_a_224_px_consumer(tmp_path):
    painting(tmp_path / "big.jpg", 2400, 1600)
    reduced = open_rgb(tmp_path / "big.jpg", 224)
    assert reduced.mode == "RGB"
    # 1/2 is the smallest libjpeg scale keeping both sides >= 2 x 224 (1/4 would give 600 x 400)
    assert reduced.size == (1200, 800)
    assert min(reduced.size) >= DRAFT_GAP * 224
    full = open_rgb(tmp_path / "big.jpg")
    assert full.size == (2400, 1600)
    # what the consumer sees after its resize is nearly the same picture
    a = np.asarray(full.resize((336, 224), Image.Resampling.BICUBIC))
    b = np.asarray(reduced.resize((336, 224), Image.Resampling.BICUBIC))
    assert psnr(a, b) > 35


def test_small_jpegs_and_other_formats_decode_in_full(tmp_path):
    painting(tmp_path / "small.jpg", 300, 200)
    assert open_rgb(tmp_path / "small.jpg", 224).size == (300, 200)
    img = painting(tmp_path / "big.png", 1600, 1200, "PNG")
    np.testing.assert_array_equal(np.asarray(open_rgb(tmp_path / "big.png", 224)), np.asarray(img))


def test_load_rgb_gives_the_square_the_model_reads(tmp_path):
    painting(tmp_path / "big.jpg", 3000, 2000)
    x = load_rgb(tmp_path / "big.jpg", 128)
    assert x.shape == (128, 128, 3) and x.dtype == np.uint8
    with Image.open(tmp_path / "big.jpg") as im:
        full = np.asarray(im.convert("RGB").resize((128, 128), Image.Resampling.BICUBIC))
    assert psnr(x, full) > 30


def stereo(seconds: float, sr: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    left = synth_track("electronic", seconds, sr, rng)
    return np.stack([left, 0.7 * np.roll(left, 50) + 0.3 * synth_track("classical", seconds, sr, rng)], axis=1) * 0.9


@pytest.mark.parametrize("fmt,subtype,min_corr", [("MP3", "MPEG_LAYER_III", 0.99), ("OGG", "VORBIS", 0.99), ("FLAC", "PCM_16", 0.99999)])
def test_compressed_audio_decodes_to_16k_mono_aligned_with_the_source(tmp_path, fmt, subtype, min_corr):
    sr, seconds = 44_100, 20.0
    y = stereo(seconds, sr)
    path = tmp_path / f"track.{fmt.lower()}"
    with sf.SoundFile(path, "w", sr, 2, format=fmt, subtype=subtype) as f:
        for s in range(0, len(y), 1 << 16):
            f.write(y[s : s + (1 << 16)])
    got = load_audio(path)
    want = resample(y.mean(axis=1).astype(np.float32), sr)
    assert got.dtype == np.float32 and got.ndim == 1
    assert len(got) == len(want) == int(seconds * 16_000)  # gapless: encoder delay and padding removed
    inner = slice(1600, -1600)
    corr = np.corrcoef(got[inner], want[inner])[0, 1]
    assert corr > min_corr  # same signal, same alignment (a shift of one sample at 16 kHz would cost more)
    assert np.abs(got[inner]).max() == pytest.approx(np.abs(want[inner]).max(), rel=0.05)


@pytest.mark.parametrize("sr,channels,subtype", [(44_100, 2, "PCM_16"), (22_050, 1, "PCM_16"), (48_000, 2, "FLOAT"), (16_000, 2, "PCM_16"), (8_000, 1, "PCM_16")])
def test_load_audio_in_blocks_equals_decoding_the_whole_track_at_once(tmp_path, sr, channels, subtype):
    """Block-wise decoding, mix-down and resampling give the samples of the
    one-shot pipeline bit for bit (the track spans several blocks)."""
    import soxr

    from synesthesia.datasets.media import DECODE_BLOCK

    y = stereo(2.5 * DECODE_BLOCK / sr, sr)[:, :channels]
    sf.write(tmp_path / "t.wav", y, sr, subtype=subtype)
    pcm16 = subtype == "PCM_16"
    whole, _ = sf.read(tmp_path / "t.wav", dtype="int16" if pcm16 else "float32", always_2d=True)
    mono = whole.astype(np.float32) @ np.full(channels, (1 / 32768 if pcm16 else 1.0) / channels, np.float32)
    want = mono if sr == 16_000 else soxr.resample(mono, sr, 16_000, quality="HQ")
    got = load_audio(tmp_path / "t.wav")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(load_audio((tmp_path / "t.wav").read_bytes()), got)  # bytes in, same out


def test_the_peak_of_16_bit_pcm_at_negative_full_scale_is_one(tmp_path):
    """-32768 is the one 16-bit sample whose negation overflows int16."""
    y = np.zeros((44_100, 2), np.int16)
    y[100, 1] = -32768
    y[200, 0] = 16384
    sf.write(tmp_path / "full.wav", y, 44_100, subtype="PCM_16")
    assert decode_track_audio(tmp_path / "full.wav").peak == 1.0
