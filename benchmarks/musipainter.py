"""Musipainter measurements (printed, not asserted).

1. BEATs fbank of a 30 s clip (numpy Kaldi fbank, Povey window): ms per clip.
2. Full-size BEATs (random weights, the released architecture) on 30 s clips:
   clips per second through layers 4/8/12 (CUDA + bf16 autocast when a GPU
   is present, else CPU fp32).
3. Training steps of the tiny offline SD stack with a tiny BEATs (the real
   loss, hook injection and backward; bf16 autocast on CUDA): seconds per step.
   The tiny model says nothing about SD v1-4's speed; it shows the path runs.

    python benchmarks/musipainter.py [--clips 8] [--steps 3]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()

    from synesthesia.models.musipainter import model as M
    from synesthesia.models.musipainter.beats import BEATs, BEATsConfig, beats_fbank, load_beats
    from synesthesia.models.musipainter.pipeline import load_sd_components
    from synesthesia.models.musipainter.tiny import save_tiny_beats, save_tiny_sd

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    rng = np.random.default_rng(0)
    clips = (rng.standard_normal((args.clips, 30 * 16_000)) * 0.1).astype(np.float32)
    beats_fbank(clips[0])
    t = time.perf_counter()
    fbanks = torch.from_numpy(np.stack([beats_fbank(c) for c in clips]))
    print(f"fbank: {1000 * (time.perf_counter() - t) / len(clips):.1f} ms per 30 s clip ({fbanks.shape[1]} frames x 128)")

    torch.manual_seed(0)
    beats = BEATs(BEATsConfig()).to(device).eval()
    with torch.no_grad(), autocast:
        beats.layer_outputs(fbanks[:1].to(device))
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = beats.layer_outputs(fbanks.to(device))
        if device.type == "cuda":
            torch.cuda.synchronize()
    dt = time.perf_counter() - t
    print(f"BEATs (full size, {device.type}{', bf16' if device.type == 'cuda' else ''}): {len(clips) / dt:.1f} clips/s, "
          f"features {tuple(out.shape)} per batch of {len(clips)}")

    with tempfile.TemporaryDirectory() as tmp:
        sd = load_sd_components(str(save_tiny_sd(Path(tmp) / "sd")))
        pid = M.add_placeholder(sd.tokenizer, sd.text_encoder)
        embedder = M.AudioEmbedder(load_beats(save_tiny_beats(Path(tmp) / "beats.pt")), sd.text_encoder.config.hidden_size).to(device)
        for module in (sd.text_encoder, sd.vae, sd.unet):
            module.to(device).requires_grad_(False)
        embedder.beats.requires_grad_(False)
        labels = M.label_embeddings(sd.tokenizer, sd.text_encoder, ["Baroque", "Heavy metal"])
        optimizer = torch.optim.AdamW(embedder.projection.parameters(), lr=1e-4)
        batch = min(4, len(clips))
        pixels = torch.rand(batch, 3, 32, 32, device=device) * 2 - 1
        times = []
        for step in range(args.steps + 1):
            t = time.perf_counter()
            with autocast:
                tokens, _ = embedder(fbanks[:batch].to(device))
                latents = sd.vae.encode(pixels).latent_dist.sample() * sd.vae.config.scaling_factor
                noise = torch.randn_like(latents)
                steps = torch.randint(0, 1000, (batch,), device=device)
                alphas = torch.linspace(0.999, 0.01, 1000, device=device)[steps].view(-1, 1, 1, 1)
                noisy = alphas.sqrt() * latents + (1 - alphas).sqrt() * noise
                states = M.encode_prompt_with_audio(sd.tokenizer, sd.text_encoder, pid, tokens)
                pred = sd.unet(noisy, steps, encoder_hidden_states=states).sample
            loss = M.musipainter_loss(pred, noise, tokens, labels[torch.arange(batch) % 2])["loss"]
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if step:
                times.append(time.perf_counter() - t)
        print(f"training (tiny SD + tiny BEATs, {device.type}{', bf16' if device.type == 'cuda' else ''}): "
              f"{np.mean(times):.3f} s/step at batch {batch} of 30 s clips; loss {float(loss):.4f}")


if __name__ == "__main__":
    main()
