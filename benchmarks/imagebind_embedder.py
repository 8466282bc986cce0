"""Throughput of the ImageBind embedder: preprocessing alone, end to end, model alone.

    python benchmarks/imagebind_embedder.py                       # tiny random model, CPU
    python benchmarks/imagebind_embedder.py --size huge           # random ImageBind-Huge (GPU advised)
    python benchmarks/imagebind_embedder.py --checkpoint imagebind_huge.pth

Random weights run at the same speed as the real ones. Prints items per
second; nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image

from synesthesia.models.imagebind.checkpoint import inference_dtype
from synesthesia.models.embedders.imagebind import ImageBindEmbedder
from synesthesia.models.imagebind.model import IMAGEBIND_HUGE, ImageBind, ImageBindConfig
from synesthesia.models.imagebind.preprocess import audio_features, image_pixels

TINY = ImageBindConfig(name="tiny", embed_dim=16, vision_width=32, vision_layers=2, vision_heads=2, audio_width=24,
                       audio_layers=2, audio_heads=2, text_width=32, text_layers=2, text_heads=2)


def rate(n: int, fn, sync: bool) -> float:
    fn()  # warm-up
    if sync:
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if sync:
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint")
    parser.add_argument("--size", choices=["tiny", "huge"], default="tiny")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--tracks", type=int, default=16)
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    device = torch.device(args.device)
    if args.checkpoint:
        embedder = ImageBindEmbedder(args.checkpoint, device=args.device, workers=args.workers)
    else:
        with device:
            model = ImageBind(IMAGEBIND_HUGE if args.size == "huge" else TINY)
        model = model.to(inference_dtype(device))
        embedder = ImageBindEmbedder.from_model(model, workers=args.workers)
    embedder.batch_size, embedder.audio_batch_size = 64, 16
    sync = device.type == "cuda"
    rng = np.random.default_rng(0)
    images = [Image.fromarray((rng.random((768, 1024, 3)) * 255).astype(np.uint8)) for _ in range(args.images)]
    tracks = [(0.1 * rng.standard_normal(30 * 16000)).astype(np.float32) for _ in range(args.tracks)]
    texts = [f"caption {i}: " + "a calm impressionist landscape with water lilies and a bridge. " * (1 + i % 3) for i in range(args.texts)]

    print(f"model {embedder.model_id} on {device} in {embedder.model.dtype}, {embedder.workers} preprocessing threads")
    rows = [
        ("image preprocess (1024x768 -> 224), 1 thread", rate(len(images), lambda: [image_pixels(im) for im in images], False)),
        ("audio preprocess (30 s track -> 3 fbanks), 1 thread", rate(len(tracks), lambda: [audio_features(t) for t in tracks], False)),
        ("text tokenize", rate(len(texts), lambda: embedder.tokenizer(texts), False)),
        ("images end to end", rate(len(images), lambda: embedder.embed_images(images), sync)),
        ("audio tracks end to end", rate(len(tracks), lambda: embedder.embed_audio(tracks, 16000), sync)),
        ("texts end to end", rate(len(texts), lambda: embedder.embed_texts(texts), sync)),
    ]
    model, dtype = embedder.model, embedder.model.dtype
    with torch.inference_mode():
        pixels = torch.randn(64, 3, 224, 224, device=device, dtype=dtype)
        mels = torch.randn(16, 3, 1, 128, 204, device=device, dtype=dtype)
        tokens = torch.randint(0, 49407, (256, 77), device=device)
        rows += [
            ("images, model only (batch 64)", rate(64, lambda: model.encode_image(pixels), sync)),
            ("audio tracks, model only (batch 16 x 3 clips)", rate(16, lambda: model.encode_audio(mels), sync)),
            ("texts, model only (batch 256)", rate(256, lambda: model.encode_text(tokens), sync)),
        ]
    for name, value in rows:
        print(f"{name:50s} {value:10.1f} /s")


if __name__ == "__main__":
    main()
