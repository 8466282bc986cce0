"""``clip``: CLIP image and text embeddings (transformers ``CLIPModel``).

Images go through the checkpoint's image processor (the PIL backend,
``CLIPImageProcessorPil``: resize, centre crop, rescale to [0, 1], normalise)
and ``get_image_features``. The normalisation is pinned to OpenAI CLIP's
per-channel mean and standard deviation (:data:`CLIP_IMAGE_MEAN`,
:data:`CLIP_IMAGE_STD`, the values CLIP was trained with), whatever the
checkpoint's ``preprocessor_config.json`` says or a library default would be; texts through its tokenizer and
``get_text_features``; both are the projected features, L2-normalised. CLIP
reads at most 77 tokens, so a long caption is embedded in sentence windows
whose embeddings are averaged (:mod:`synesthesia.models.embedders.text`)
rather than silently truncated. CLIP has no audio tower.

``model_id`` is a hub id or a local folder (default
``openai/clip-vit-base-patch32``); with no hub access, download the
checkpoint once where there is access and pass its folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from synesthesia.datasets.media import to_rgb
from synesthesia.models.embedders.text import WindowedTextEmbedding
from synesthesia.models.embedders import Embedder, l2_normalize, require_modules

DEFAULT_CLIP_MODEL = "openai/clip-vit-base-patch32"
#: OpenAI CLIP's image normalisation (per RGB channel, on pixels rescaled to
#: [0, 1]), as in the released CLIP preprocessing.
CLIP_IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)
_DOWNLOAD_HELP = (
    f"Download it where the Hugging Face hub is reachable (`huggingface-cli download {DEFAULT_CLIP_MODEL} "
    "--local-dir DIR`) and pass model_id=DIR (CLI: --embedder-option model_id=DIR)."
)


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
            # Resize / crop sizes from the checkpoint; the normalisation pinned.
            self.processor = CLIPImageProcessorPil.from_pretrained(
                model_id, local_files_only=local_files_only, do_normalize=True, image_mean=list(CLIP_IMAGE_MEAN), image_std=list(CLIP_IMAGE_STD)
            )
        except (OSError, ValueError) as exc:
            raise FileNotFoundError(
                f"clip: cannot load the CLIP checkpoint {model_id!r} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
                + _DOWNLOAD_HELP
            ) from exc
        self.model_id = model_id
        self.device = device
        self.batch_size = batch_size
        self.dim = int(self.model.config.projection_dim)
        self.image_size = int(self.model.config.vision_config.image_size)
        self.max_tokens = int(self.model.config.text_config.max_position_embeddings)
        self._torch = torch

    @classmethod
    def preflight(cls, **options: Any) -> None:
        """torch and transformers installed; a ``model_id`` that names a local
        folder holds a checkpoint; a hub id resolves (its ``config.json`` from
        the local cache or the hub: a few kB, so an offline machine is told
        before any work rather than when a worker loads the model)."""
        super().preflight(**options)
        require_modules("clip", ("torch", "transformers"), "pip install 'synesthesia[ml]'")
        model_id = str(options.get("model_id", DEFAULT_CLIP_MODEL))
        path = Path(model_id).expanduser()
        if path.is_absolute() or model_id.startswith((".", "~")) or path.exists():
            if not (path / "config.json").is_file():
                raise FileNotFoundError(f"clip: no CLIP checkpoint in {path} (expected config.json, weights, tokenizer and preprocessor_config.json). " + _DOWNLOAD_HELP)
            return
        from huggingface_hub import hf_hub_download

        try:
            hf_hub_download(model_id, "config.json")
        except Exception as exc:  # offline, unknown repo, gated, ...
            raise FileNotFoundError(
                f"clip: cannot get {model_id!r} from the Hugging Face hub or its local cache ({type(exc).__name__}). " + _DOWNLOAD_HELP
            ) from None

    def pixel_values(self, images: Sequence[Any]):
        """The model's input for ``images``: resized and centre-cropped as the
        checkpoint says, normalised with :data:`CLIP_IMAGE_MEAN` / :data:`CLIP_IMAGE_STD`."""
        batch = [to_rgb(im) for im in images]  # callers composite with their dataset's background; the same policy for anything else
        return self.processor(images=batch, return_tensors="pt")["pixel_values"]

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        torch = self._torch
        out = []
        for s in range(0, len(images), self.batch_size):
            pixels = self.pixel_values(images[s : s + self.batch_size]).to(self.device)
            with torch.inference_mode():
                feats = _features(self.model.get_image_features(pixel_values=pixels))
            out.append(l2_normalize(feats.float().cpu().numpy()))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._torch.inference_mode():
            feats = _features(self.model.get_text_features(**self._tokenize(texts)))
        return l2_normalize(feats.float().cpu().numpy())
