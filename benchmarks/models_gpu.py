"""Full-size forward passes of the toolkit's own model implementations, random
weights: throughput and peak memory per model (printed, asserted nothing).

* ImageBind-Huge: images (224²), audio (three 2 s clips of 128 × 204 fbank
  per track), text (77 tokens) — one row each;
* BEATs (released iter3+ architecture): 30 s clips through layers 4/8/12;
* LP-MusicCaps (BART-base + the audio encoder): the encoder on 10 s
  segments, and the released decode (5 beams, up to 128 tokens; random
  weights rarely stop early, so this is the slow end);
* MPJudge, the paper's configuration (ViT 256²/16 × 12, width 512, MAN):
  painting + 15 s mel pairs.

Each model runs at ``--dtype`` (bf16 by default) the way the toolkit runs it
on a GPU: ImageBind with its weights cast (the embedder's ``dtype="auto"``);
BEATs, MPJudge and LP-MusicCaps with fp32 weights under autocast (their
trainers and the captioning stage; LP-MusicCaps's STFT front end stays fp32).
Every pass runs under ``torch.no_grad``; each row is the mean over ``--iters`` timed passes after
``--warmup`` untimed ones, with CUDA synchronised around them. Peak memory is
``torch.cuda.max_memory_allocated`` from a reset before the model is built
(weights + activations); on the CPU it is not measured.

    python benchmarks/models_gpu.py --device cuda            # the figures in docs/performance.md
    python benchmarks/models_gpu.py --device cpu --tiny      # a seconds-long check of the script itself
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

MODELS = ("imagebind", "beats", "lpmusiccaps", "mpjudge")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


@dataclasses.dataclass
class Case:
    """One measured forward: ``run()`` consumes ``items`` examples."""

    model: str
    what: str
    items: int
    unit: str
    run: Callable[[], object]
    params: int
    precision: str


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _autocast(device: torch.device, dtype: torch.dtype) -> Callable[[Callable], Callable]:
    """Wrap a pass in autocast to ``dtype`` (fp32: no autocast)."""

    def wrap(fn: Callable) -> Callable:
        def run():
            with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                return fn()

        return run

    return wrap


def _names(dtype: torch.dtype) -> tuple[str, str]:
    short = {v: k for k, v in DTYPES.items()}[dtype]
    return f"{short} weights", (f"{short} autocast" if dtype != torch.float32 else "fp32")


def imagebind_cases(device, dtype, batch: int, tiny: bool) -> list[Case]:
    from synesthesia.models.imagebind.model import IMAGEBIND_HUGE, ImageBind

    cfg = IMAGEBIND_HUGE
    if tiny:
        cfg = dataclasses.replace(cfg, embed_dim=16, vision_width=32, vision_layers=2, vision_heads=4, image_size=56,
                                  audio_width=32, audio_layers=2, audio_heads=4, num_mel_bins=32, audio_frames=44,
                                  text_width=32, text_layers=2, text_heads=4)
    with torch.device(device):  # random init where the model runs (fast on a GPU)
        model = ImageBind(cfg).to(device, dtype).eval()
    images = torch.randn(batch, 3, cfg.image_size, cfg.image_size, device=device)
    mels = torch.randn(batch, 3, 1, cfg.num_mel_bins, cfg.audio_frames, device=device)
    tokens = torch.randint(1, cfg.vocab_size - 2, (batch, cfg.context_length), device=device)
    tokens[:, 0], tokens[:, 20], tokens[:, 21:] = cfg.vocab_size - 2, cfg.vocab_size - 1, 0  # <sot> 19 tokens <eot> padding
    n, label, weights = _params(model), "ImageBind (tiny)" if tiny else "ImageBind-Huge", _names(dtype)[0]
    return [Case(label, f"images {cfg.image_size}²", batch, "images", lambda: model.encode_image(images), n, weights),
            Case(label, "audio, 3 clips of 2 s", batch, "tracks", lambda: model.encode_audio(mels), n, weights),
            Case(label, f"text, {cfg.context_length} tokens", batch, "texts", lambda: model.encode_text(tokens), n, weights)]


def beats_cases(device, dtype, batch: int, tiny: bool) -> list[Case]:
    from synesthesia.models.musipainter.beats import BEATS_FBANK, BEATs, BEATsConfig

    cfg = BEATsConfig()
    seconds = 30.0
    if tiny:
        cfg = dataclasses.replace(cfg, encoder_embed_dim=32, encoder_ffn_embed_dim=64, encoder_attention_heads=4, embed_dim=48,
                                  conv_pos=16, conv_pos_groups=4)
        seconds = 2.0
    with torch.device(device):
        model = BEATs(cfg).to(device).eval()
    fbank = torch.randn(batch, BEATS_FBANK.n_frames(int(seconds * 16_000)), BEATS_FBANK.num_mel_bins, device=device)
    run = _autocast(device, dtype)(lambda: model.layer_outputs(fbank))
    return [Case("BEATs (tiny)" if tiny else "BEATs iter3+", f"{seconds:g} s clips, layers 4/8/12", batch, "clips", run,
                 _params(model), _names(dtype)[1])]


def lpmusiccaps_cases(device, dtype, batch: int, tiny: bool) -> list[Case]:
    from synesthesia.stages.captioning.lpmusiccaps import LPMusicCapsConfig, build_model

    cfg = LPMusicCapsConfig()
    if tiny:
        bart = dict(cfg.bart, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
                    encoder_ffn_dim=64, decoder_ffn_dim=64, vocab_size=400, max_position_embeddings=64)
        cfg = dataclasses.replace(cfg, bart=tuple(bart.items()), segment_seconds=0.5, n_mels=16, n_convs=3, max_length=20)
    # fp32 weights under autocast: the STFT front end stays fp32 (no bf16 FFT), the convolutions and BART run in ``dtype``.
    with torch.device(device):
        model = build_model(cfg, cfg.bart_config()).to(device).eval()
    wav = torch.randn(batch, cfg.segment_samples, device=device) * 0.1

    def encode():
        return model.bart.model.encoder(inputs_embeds=model.audio_encoder(wav), return_dict=True).last_hidden_state

    wrap, precision = _autocast(device, dtype), _names(dtype)[1]

    n = _params(model)
    label = "LP-MusicCaps (tiny)" if tiny else "LP-MusicCaps"
    return [Case(label, f"encoder, {cfg.segment_seconds:g} s segments", batch, "segments", wrap(encode), n, precision),
            Case(label, f"caption, {cfg.num_beams} beams, ≤ {cfg.max_length} tokens", batch, "segments",
                 wrap(lambda: model.generate(wav)), n, precision)]


def mpjudge_cases(device, dtype, batch: int, tiny: bool) -> list[Case]:
    from synesthesia.models.mpjudge.config import load_config
    from synesthesia.models.mpjudge.model import MPJudge

    cfg = load_config("tiny" if tiny else "paper").model
    with torch.device(device):
        model = MPJudge(cfg).to(device).eval()
    images = torch.rand(batch, 3, cfg.image_size, cfg.image_size, device=device)
    mels = torch.randn(batch, cfg.n_mels, cfg.mel_frames, device=device) * 10 - 40
    name = "MPJudge (tiny config)" if tiny else "MPJudge (paper config)"
    run = _autocast(device, dtype)(lambda: model(images, mels))
    return [Case(name, f"{cfg.image_size}² painting + 15 s mel", batch, "pairs", run, _params(model), _names(dtype)[1])]


BUILDERS = {"imagebind": imagebind_cases, "beats": beats_cases, "lpmusiccaps": lpmusiccaps_cases, "mpjudge": mpjudge_cases}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(name: str, device: torch.device, dtype: torch.dtype, batch: int, iters: int, warmup: int, tiny: bool) -> list[dict]:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(0)
    rows = []
    with torch.no_grad():
        cases = BUILDERS[name](device, dtype, batch, tiny)
        for case in cases:
            for _ in range(warmup):
                case.run()
            _sync(device)
            started = time.perf_counter()
            for _ in range(iters):
                case.run()
            _sync(device)
            seconds = (time.perf_counter() - started) / iters
            rows.append({"model": case.model, "input": case.what, "precision": case.precision, "batch": case.items,
                         "params_m": round(case.params / 1e6, 1),
                         "ms_per_batch": round(seconds * 1000, 2), "per_second": float(f"{case.items / seconds:.4g}"), "unit": case.unit})
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    for row in rows:  # one peak per model: weights + the largest of its passes
        row["peak_gib"] = round(peak, 2) if peak is not None else None
    del cases
    return rows


def markdown(rows: list[dict], device: str) -> str:
    lines = [f"| model | input | precision | batch | params (M) | ms / batch | throughput | peak memory ({device}) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        peak = f"{r['peak_gib']:.2f} GiB" if r["peak_gib"] is not None else "not measured"
        lines.append(f"| {r['model']} | {r['input']} | {r['precision']} | {r['batch']} | {r['params_m']} | {r['ms_per_batch']} | "
                     f"{r['per_second']} {r['unit']}/s | {peak} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda, cuda:1, cpu")
    ap.add_argument("--dtype", default="bf16", choices=sorted(DTYPES))
    ap.add_argument("--batch", type=int, default=16, help="examples per forward pass")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    ap.add_argument("--tiny", action="store_true", help="tiny configurations (checks the script on a CPU in seconds)")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("CUDA is not available here; use --device cpu (with --tiny for a quick check)")
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        ap.error(f"unknown models {unknown}; choose from {list(MODELS)}")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        print(f"# {torch.cuda.get_device_name(device)}, torch {torch.__version__}", flush=True)
    rows = []
    for name in names:
        rows += measure(name, device, DTYPES[args.dtype], args.batch, args.iters, args.warmup, args.tiny)
        print(markdown(rows[-1:], args.device).splitlines()[-1], flush=True)
    print()
    print(markdown(rows, args.device))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
