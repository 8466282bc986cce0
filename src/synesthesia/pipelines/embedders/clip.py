"""``clip``: CLIP image and text embeddings (transformers ``CLIPModel``).

Images go through the checkpoint's own image processor (the PIL backend,
``CLIPImageProcessorPil``: resize, centre crop, normalise) and
``get_image_features``; texts through its tokenizer and
``get_text_features``; both are the projected features, L2-normalised. CLIP
reads at most 77 tokens, so a long caption is embedded in sentence windows
whose embeddings are averaged (:mod:`synesthesia.pipelines.embedders.text`)
rather than silently truncated. CLIP has no audio tower.

``model_id`` is a hub id or a local folder (default
``openai/clip-vit-base-patch32``); with no hub access, download the
checkpoint once where there is access and pass its folder.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from synesthesia.pipelines.embedders.text import WindowedTextEmbedding
from synesthesia.pipelines.embedding import Embedder, l2_normalize

DEFAULT_CLIP_MODEL = "openai/clip-vit-base-patch32"


def _features(output: Any):
    # transformers >= 5 returns a model output whose pooler_output holds the
    # projected features; 4.x returned the tensor itself.
    return output if hasattr(output, "shape") else output.pooler_output


class CLIPEmbedder(WindowedTextEmbedding, Embedder):
    name = "clip"
    modalities = frozenset({"image", "text"})

    def __init__(self, model_id: str = DEFAULT_CLIP_MODEL, device: str = "cpu", batch_size: int = 32, local_files_only: bool = False):
        try:
            import torch
            from transformers import CLIPImageProcessorPil, CLIPModel, CLIPTokenizer
        except ImportError as exc:
            raise RuntimeError("the clip embedder needs torch and transformers: pip install 'synesthesia[ml]'") from exc
        try:
            self.model = CLIPModel.from_pretrained(model_id, local_files_only=local_files_only).eval().to(device)
            self.tokenizer = CLIPTokenizer.from_pretrained(model_id, local_files_only=local_files_only)
            self.processor = CLIPImageProcessorPil.from_pretrained(model_id, local_files_only=local_files_only)
        except (OSError, ValueError) as exc:
            raise FileNotFoundError(
                f"clip: cannot load the CLIP checkpoint {model_id!r} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
                f"Download it where the Hugging Face hub is reachable (`huggingface-cli download {DEFAULT_CLIP_MODEL} "
                "--local-dir DIR`) and pass model_id=DIR (CLI: --embedder-option model_id=DIR)."
            ) from exc
        self.model_id = model_id
        self.device = device
        self.batch_size = batch_size
        self.dim = int(self.model.config.projection_dim)
        self.max_tokens = int(self.model.config.text_config.max_position_embeddings)
        self._torch = torch

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        torch = self._torch
        out = []
        for s in range(0, len(images), self.batch_size):
            batch = [im.convert("RGB") for im in images[s : s + self.batch_size]]
            pixels = self.processor(images=batch, return_tensors="pt")["pixel_values"].to(self.device)
            with torch.inference_mode():
                feats = _features(self.model.get_image_features(pixel_values=pixels))
            out.append(l2_normalize(feats.float().cpu().numpy()))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._torch.inference_mode():
            feats = _features(self.model.get_text_features(**self._tokenize(texts)))
        return l2_normalize(feats.float().cpu().numpy())
