"""Objective metrics for generated audio: FAD, spectral KL, embedding cosine.

Definitions (Art2Mus paper, section 5.3, made precise):

**FAD** (Eq. 13). Fit a Gaussian to each set of embeddings — mean ``μ`` and
covariance ``Σ`` (unbiased, ``n − 1``) — and take the Fréchet distance
``‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^{1/2})`` (the trace of the
square root computed exactly from symmetric eigendecompositions). With VGGish (see
:mod:`synesthesia.models.vggish`) each 0.96 s example of every file is one
embedding, as in the FAD toolkit; with another embedder each clip is one.

**KL-Div** (Eq. 12), the authors' spectral-profile definition (it is what
gives the paper's 0.002–0.004 range; the PANNs-classifier KL of AudioLDM
would be 1–3): for each waveform (16 kHz) take the power spectrogram
``|STFT|²`` (FFT 2048, hop 512, Hann, centred), convert it to dB relative
to its maximum with librosa's ``amplitude_to_db`` (``20·log10``, floor
``−80`` dB, as the authors apply it to the power spectrogram), sum over time
for each of the 1025 frequency bins and divide by the total. Both sums are
negative, so the quotient is a distribution over frequency bins (``P`` for
the reference, ``Q`` for the generated clip); ``KL(P‖Q) = Σ_i P_i ln(P_i/Q_i)``
(natural log). The score of a set is the mean over (reference, generated)
pairs. It is invariant to a gain change (dB relative to the maximum).

**IBSc** (Eq. 14): cosine similarity between two embeddings; reported as the
mean over pairs for artwork ↔ generated and ground truth ↔ generated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

# --- FAD ------------------------------------------------------------------------------

@dataclass(frozen=True)
class GaussianStats:
    mean: np.ndarray
    cov: np.ndarray
    n: int


def gaussian_stats(embeddings: np.ndarray) -> GaussianStats:
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"need at least 2 embeddings of shape [n, dim] to fit a Gaussian, got {x.shape}")
    return GaussianStats(x.mean(axis=0), np.cov(x, rowvar=False), len(x))


def trace_sqrt_product(a: np.ndarray, b: np.ndarray) -> float:
    """``Tr((A B)^{1/2})`` for symmetric positive semi-definite ``A``, ``B``.

    ``A B`` is similar to ``A^{1/2} B A^{1/2}`` (symmetric PSD), so the trace
    of its square root is the sum of the square roots of that matrix's
    eigenvalues: two symmetric eigendecompositions in real arithmetic instead
    of ``sqrtm`` of a non-symmetric matrix (faster — ``benchmarks/art2mus.py``
    measures it — and no imaginary round-off to discard)."""
    w, v = np.linalg.eigh(a)
    half = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = half @ b @ half
    eig = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """Fréchet distance between two Gaussians (Eq. 13):
    ``‖μ_a − μ_b‖² + Tr(Σ_a) + Tr(Σ_b) − 2·Tr((Σ_a Σ_b)^{1/2})`` (clipped at 0 against round-off)."""
    diff = a.mean - b.mean
    value = float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2.0 * trace_sqrt_product(a.cov, b.cov))
    return max(value, 0.0)


def fad_from_embeddings(reference: np.ndarray, generated: np.ndarray) -> float:
    return frechet_distance(gaussian_stats(reference), gaussian_stats(generated))


# --- KL -----------------------------------------------------------------------------------

KL_N_FFT = 2048
KL_HOP = 512
KL_TOP_DB = 80.0


def spectral_profile(y: np.ndarray, n_fft: int = KL_N_FFT, hop_length: int = KL_HOP, top_db: float = KL_TOP_DB) -> np.ndarray:
    """The distribution over frequency bins used by :func:`spectral_kl`."""
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if len(y) < n_fft:
        y = np.pad(y, (0, n_fft - len(y)))
    power = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2
    if not power.max() > 0:
        raise ValueError("silent clip: its spectral profile is undefined")
    db = librosa.amplitude_to_db(power, ref=np.max, top_db=top_db)  # ≤ 0, ≥ −top_db
    totals = db.sum(axis=1)
    return totals / totals.sum()


def kl_divergence(p: np.ndarray, q: np.ndarray, eps: float = 1e-12) -> float:
    """``Σ p ln(p/q)`` of two distributions (each renormalised to sum 1)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], eps))))


def spectral_kl(reference: np.ndarray, generated: np.ndarray) -> float:
    """KL-Div (Eq. 12) of one (reference, generated) pair of 16 kHz waveforms."""
    return kl_divergence(spectral_profile(reference), spectral_profile(generated))


# --- embedding cosine ----------------------------------------------------------------------

def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two ``[n, dim]`` arrays (Eq. 14)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    num = np.sum(a * b, axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return num / np.maximum(den, 1e-12)


def mean_or_nan(values: Sequence[float]) -> float:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")
