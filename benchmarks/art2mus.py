"""Art2Mus measurements (printed, not asserted).

1. The AudioLDM mel front end (batched numpy STFT of ``stages.audio``) vs
   librosa, per 10 s segment, and the ratio.
2. The FAD trace term: symmetric eigendecompositions vs ``scipy.linalg.sqrtm``
   at the embedding size of ImageBind (1024), and the ratio.
3. Training steps of the tiny offline AudioLDM 2 (on CUDA with bf16 frozen
   components when a GPU is present, else CPU): seconds per step and examples
   per second at ``--micro-batch`` 10 s segments. The tiny model says nothing
   about the real backbone's speed; it shows the pipeline runs on the device.

    python benchmarks/art2mus.py [--segments 32] [--micro-batch 4] [--steps 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def front_end(segments: int) -> None:
    import librosa

    from synesthesia.models.art2mus.config import FrontEndConfig
    from synesthesia.models.art2mus.frontend import waveform_mel

    cfg = FrontEndConfig()
    rng = np.random.default_rng(0)
    batch = (rng.standard_normal((segments, cfg.target_frames * cfg.mel.hop_length)) * 0.1).astype(np.float32)
    ours = timed(lambda: waveform_mel(batch, cfg))
    theirs = timed(lambda: [np.log(np.maximum(librosa.feature.melspectrogram(
        y=y, sr=16_000, n_fft=1024, hop_length=160, n_mels=64, fmin=0, fmax=8000, power=1.0, pad_mode="reflect"), 1e-5)) for y in batch])
    print(f"front end: {segments} x 10.24 s segments -> {segments} x 1024 x 64 log-mels")
    print(f"  ours    {ours / segments * 1e3:7.2f} ms/segment  ({segments * 10.24 / ours:,.0f}x real time)")
    print(f"  librosa {theirs / segments * 1e3:7.2f} ms/segment  -> ratio librosa/ours = {theirs / ours:.2f}")


def fad_trace(dim: int = 1024) -> None:
    from scipy import linalg

    from synesthesia.models.audio_metrics import trace_sqrt_product

    rng = np.random.default_rng(0)
    a = np.cov(rng.standard_normal((2 * dim, dim)), rowvar=False)
    b = np.cov(rng.standard_normal((2 * dim, dim)) @ rng.standard_normal((dim, dim)) / np.sqrt(dim), rowvar=False)
    eig = timed(lambda: trace_sqrt_product(a, b), repeat=2)
    sq = timed(lambda: np.trace(linalg.sqrtm(a @ b)).real, repeat=1)
    diff = abs(trace_sqrt_product(a, b) - np.trace(linalg.sqrtm(a @ b)).real)
    print(f"FAD trace term at dim {dim}: eigh {eig:.2f} s, sqrtm {sq:.2f} s -> ratio {sq / eig:.1f}; |difference| {diff:.2e}")


def training(micro_batch: int, steps: int) -> None:
    import torch

    from synesthesia.models.art2mus.config import Art2MusConfig
    from synesthesia.models.art2mus.model import Art2Mus
    from synesthesia.models.art2mus.tiny import build_tiny_audioldm2

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    pipe = build_tiny_audioldm2()
    pipe.set_progress_bar_config(disable=True)
    if cuda:
        pipe = pipe.to(dtype=torch.bfloat16)
    for m in (pipe.vae, pipe.unet, pipe.language_model, pipe.text_encoder, pipe.text_encoder_2, pipe.projection_model, pipe.vocoder):
        m.requires_grad_(False)
    model = Art2Mus(pipe, Art2MusConfig(image_encoder="bench", embedding_dim=1024, n_tokens=16)).to(device)
    opt = torch.optim.AdamW(model.aligner.parameters(), lr=2e-5)
    emb = torch.nn.functional.normalize(torch.randn(micro_batch, 1024), dim=-1)
    mel = torch.randn(micro_batch, 1024, 64, device=device) - 5

    def step(k: int) -> None:
        loss, _ = model.training_loss(emb, mel, torch.Generator().manual_seed(k), min_snr_gamma=5.0, guidance_scale=3.5)
        loss.backward()
        opt.step()
        opt.zero_grad()
        if cuda:
            torch.cuda.synchronize()

    step(0)  # warm-up
    t = time.perf_counter()
    for k in range(steps):
        step(k + 1)
    per = (time.perf_counter() - t) / steps
    dtype = "bf16 frozen components" if cuda else "fp32"
    print(f"training (tiny AudioLDM 2, {device}, {dtype}): {per:.3f} s/step at {micro_batch} x 10.24 s -> {micro_batch / per:.1f} examples/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=32)
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--fad-dim", type=int, default=1024)
    args = parser.parse_args()
    front_end(args.segments)
    fad_trace(args.fad_dim)
    training(args.micro_batch, args.steps)


if __name__ == "__main__":
    main()
