"""Art2Mus audio: AudioLDM's mel front end, FAD, KL-Div, VGGish, IBSc."""

import numpy as np
import pytest

from synesthesia.models import audio_metrics as M
from synesthesia.models.art2mus.config import FrontEndConfig
from synesthesia.models.art2mus.frontend import normalise, segment_start, segment_waveform, waveform_mel
from synesthesia.datasets.media import log_mel

SR = 16_000


def _music(seconds: float, seed: int = 0, f0: float = 220.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 5)) * 0.2 + 0.01 * rng.standard_normal(len(t))
    return y.astype(np.float32)


# --- front end ------------------------------------------------------------------------------

def test_audioldm_front_end_is_the_papers_mel():
    mel = FrontEndConfig().mel
    assert (mel.sample_rate, mel.n_fft, mel.hop_length, mel.n_mels, mel.fmin, mel.fmax) == (16_000, 1024, 160, 64, 0.0, 8000.0)
    assert (mel.power, mel.log, mel.amin, mel.pad_mode) == (1.0, "ln", 1e-5, "reflect")
    assert FrontEndConfig().target_frames == 1024 and FrontEndConfig().segment_seconds == 10.0


def test_audioldm_log_mel_equals_librosa():
    import librosa

    y = _music(3.0, seed=1)
    cfg = FrontEndConfig().mel
    ours = log_mel(y[None], cfg)[0]
    ref = np.log(np.maximum(librosa.feature.melspectrogram(
        y=y, sr=16_000, n_fft=1024, hop_length=160, n_mels=64, fmin=0.0, fmax=8000.0, power=1.0, center=True, pad_mode="reflect"), 1e-5))
    assert ours.shape == ref.shape == (64, 1 + len(y) // 160)
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_segment_is_taken_10s_in_normalised_and_padded_to_1024_frames():
    cfg = FrontEndConfig()
    assert segment_start(30 * SR, cfg) == 10 * SR  # the authors' 10–20 s
    assert segment_start(14 * SR, cfg) == 4 * SR  # a short track gives its last 10 s
    assert segment_start(6 * SR, cfg) == 0
    y = _music(30.0) + 0.3  # a DC offset the normalisation removes
    seg = segment_waveform(y, cfg)
    assert len(seg) == 1024 * 160
    body = seg[: 10 * SR]
    assert abs(body.mean()) < 1e-3 and np.isclose(np.abs(body).max(), 0.5, atol=1e-4)
    assert not seg[10 * SR :].any()  # zero padding after the 10 s
    np.testing.assert_allclose(body, normalise(y[10 * SR : 20 * SR], 0.5), atol=1e-6)
    mel = waveform_mel(seg[None], cfg)
    assert mel.shape == (1, 1024, 64)  # time first, as the VAE takes it
    short = segment_waveform(_music(3.0), cfg)
    assert np.count_nonzero(short) <= 3 * SR and len(short) == 1024 * 160


def test_front_end_for_shorter_segments_pads_to_a_multiple_of_64_frames():
    assert FrontEndConfig.for_seconds(10.0).target_frames == 1024
    assert FrontEndConfig.for_seconds(1.28).target_frames == 128
    assert FrontEndConfig.for_seconds(1.0).target_frames == 128


# --- FAD ----------------------------------------------------------------------------------------

def test_fad_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 16))
    assert M.fad_from_embeddings(x, x) == pytest.approx(0.0, abs=1e-6)
    previous = 0.0
    for size in (0.1, 0.5, 1.0, 2.0):
        shift = np.full(16, size)
        fad = M.fad_from_embeddings(x, x + shift)
        assert fad == pytest.approx(float(shift @ shift), rel=1e-6)  # a pure shift moves only the means
        assert fad > previous
        previous = fad


def test_trace_of_the_matrix_square_root_matches_scipy_sqrtm():
    from scipy import linalg

    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((50, 12)), rng.standard_normal((80, 12)) @ rng.standard_normal((12, 12))
    a, b = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    assert M.trace_sqrt_product(a, b) == pytest.approx(np.trace(linalg.sqrtm(a @ b)).real, rel=1e-8)
    low_rank = np.cov(rng.standard_normal((5, 12)), rowvar=False)  # fewer samples than dimensions
    assert M.trace_sqrt_product(low_rank, b) == pytest.approx(np.trace(linalg.sqrtm(low_rank @ b)).real, rel=1e-5)


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    sd_a, sd_b = np.array([1.0, 2.0, 0.5]), np.array([2.0, 1.0, 0.5])
    a = M.GaussianStats(mu_a, np.diag(sd_a**2), 10)
    b = M.GaussianStats(mu_b, np.diag(sd_b**2), 10)
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((sd_a - sd_b) ** 2)
    assert M.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


# --- KL -------------------------------------------------------------------------------------------

def test_kl_is_the_formula_of_eq_12():
    p = np.array([0.5, 0.25, 0.25])
    q = np.array([0.25, 0.25, 0.5])
    assert M.kl_divergence(p, q) == pytest.approx(0.5 * np.log(2) + 0.25 * np.log(0.5))
    assert M.kl_divergence(p, p) == 0.0


def test_spectral_kl_is_zero_for_the_same_clip_gain_invariant_and_grows_with_difference():
    y = _music(4.0, f0=220.0)
    assert M.spectral_kl(y, y) == pytest.approx(0.0, abs=1e-12)
    assert M.spectral_kl(y, 0.3 * y) == pytest.approx(0.0, abs=1e-6)  # dB relative to the maximum
    near = M.spectral_kl(y, _music(4.0, seed=3, f0=233.0))
    far = M.spectral_kl(y, _music(4.0, seed=3, f0=1760.0))
    assert 0 < near < far
    profile = M.spectral_profile(y)
    assert profile.shape == (1025,) and np.isclose(profile.sum(), 1.0) and (profile > 0).all()


def test_kl_spectral_profile_follows_the_definition():
    import librosa

    y = _music(2.0, seed=5)
    power = np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) ** 2
    db = 20 * np.log10(np.maximum(power, 1e-10) / power.max())
    db = np.maximum(db, -80.0)
    expected = db.sum(axis=1) / db.sum()
    np.testing.assert_allclose(M.spectral_profile(y), expected, rtol=1e-4, atol=1e-7)


# --- VGGish ----------------------------------------------------------------------------------------

def test_vggish_front_end():
    from synesthesia.models import vggish as V

    w = V.mel_matrix()
    assert w.shape == (257, 64) and not w[0].any()
    centres = 700 * (np.exp(np.linspace(V._hz_to_mel(125), V._hz_to_mel(7500), 66)[1:-1] / 1127) - 1)
    peak_bins = np.linspace(0, 8000, 257)[w.argmax(axis=0)]
    assert np.all(np.abs(peak_bins - centres) <= 31.25 + 1e-9)  # each band peaks at the FFT bin nearest its centre
    t = np.arange(3 * SR) / SR
    ex = V.examples(np.sin(2 * np.pi * 1000 * t))
    assert ex.shape == (3, 96, 64)  # 298 frames → three 0.96 s examples
    band = int(np.abs(centres - 1000).argmin())
    assert abs(int(ex.mean(axis=(0, 1)).argmax()) - band) <= 1


def test_vggish_weights_load_by_shape_and_give_fad_zero_on_the_same_set(tmp_path, monkeypatch):
    import torch

    from synesthesia.models import vggish as V
    from synesthesia.models.art2mus.evaluate import EvalConfig, FadBackend, fad_score

    torch.manual_seed(0)
    tiny = V.build_vggish((4, 8, 8, 8, 16, 16), hidden=32, out_dim=8)
    with torch.no_grad():  # larger weights than the default init, so the random net's outputs vary with the input
        for p in tiny.parameters():
            p.mul_(2.0)
    assert sorted(tiny.state_dict())[:2] == ["embeddings.0.bias", "embeddings.0.weight"]
    path = tmp_path / "vggish-tiny.pth"
    torch.save(tiny.state_dict(), path)
    monkeypatch.delenv(V.WEIGHTS_ENV, raising=False)
    backend = FadBackend(EvalConfig(fad="vggish", vggish_weights=str(path)))
    assert backend.label == "vggish (vggish-tiny.pth)"
    a = [_music(3.0, seed=k, f0=200 + 20 * k) for k in range(4)]
    b = [_music(3.0, seed=10 + k, f0=1500 + 50 * k) + 0.05 * np.random.default_rng(k).standard_normal(3 * SR).astype(np.float32) for k in range(4)]
    assert backend.embed(a).shape == (12, 8)
    assert fad_score(backend, a, a) == pytest.approx(0.0, abs=1e-6)
    assert fad_score(backend, a, b) > 0.1
    with pytest.raises(FileNotFoundError, match="vggish-10086976.pth"):
        FadBackend(EvalConfig(fad="vggish"))


def test_fad_falls_back_to_the_configured_embedder_and_says_so(monkeypatch):
    import support.art2mus as H

    from synesthesia.models import vggish as V
    from synesthesia.models.art2mus.evaluate import EvalConfig, FadBackend

    H.register(monkeypatch)
    monkeypatch.delenv(V.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(V, "find_weights", lambda path=None: None)
    backend = FadBackend(EvalConfig(fad="auto", fad_embedder="tiny-clip"))
    assert backend.label == "embedder:tiny-clip"
    assert backend.embed([_music(1.0), _music(1.0, seed=2)]).shape == (2, 32)


def test_ibsc_is_the_cosine_of_eq_14():
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    b = np.array([[0.0, 2.0], [2.0, 2.0]])
    np.testing.assert_allclose(M.cosine_rows(a, b), [0.0, 1.0])
