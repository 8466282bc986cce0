"""ICS: how well a caption describes its artwork.

``ICS = γ·CLIP-S + (1-γ)·PAC-S``, γ = 0.35 (Art2Mus eq. 1), where

* CLIP-S (Hessel et al. 2021) = ``2.5·max(cos, 0)`` with CLIP ViT-B/32
  (``openai/clip-vit-base-patch32`` through transformers), and
* PAC-S (Sarto et al. 2023) = ``2.0·max(cos, 0)`` with the PAC-S fine-tuned
  CLIP ViT-B/32 weights (the authors' ``clip_ViT-B-32.pth``, an OpenAI-CLIP
  state dict that :func:`openai_clip_to_hf` maps onto the transformers model).

Both embed the caption as ``"A photo depicts " + caption`` (the prefix both
reference implementations use).

**Scales and the 0.80 threshold.** The two scores live on different scales
(CLIP-S reaches 2.5, PAC-S 2.0) while the paper's Table 1 reports both with a
maximum of exactly 1.0000 and compares ICS with 0.80. We store the raw cosine
(``*_cos``), the paper's scaled score (``*_score``) and the score clipped to
[0, 1] (``*_norm = min(w·max(cos, 0), 1)``); ICS is computed from the
clipped values and that is what the threshold applies to (``normalise=
"clip01"``, default). ``normalise="none"`` uses the unclipped scores instead.

**Long captions.** CLIP's text encoder sees 77 tokens; an average ArtSound
caption (950 characters) is about three times that, and truncation would
silently score only its first sentences. We split the caption into *sentence
windows*: consecutive whole sentences packed greedily while the prefixed
window fits in 77 tokens (a single sentence that is too long is split at word
boundaries). Every window is embedded, and the caption's cosine is the
**mean of the windows' cosines** with the image; no text is dropped.
``text_windows`` records how many windows a caption needed.
``long_text="truncate"`` gives the reference implementations' behaviour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND, open_rgb
from synesthesia.models.embedders.text import sentence_windows
from synesthesia.models.devices import resolve_device
from synesthesia.stages.quality.common import MissingWeights

#: Art2Mus eq. 1: "γ = 0.35 is an empirically selected weight".
ICS_GAMMA = 0.35
#: CLIP-Score (Hessel et al.): w = 2.5.
CLIP_S_WEIGHT = 2.5
#: PAC-Score (Sarto et al.): w = 2.0.
PAC_S_WEIGHT = 2.0
DEFAULT_CLIP_MODEL = "openai/clip-vit-base-patch32"
TEXT_PREFIX = "A photo depicts "
NORMALISATIONS = ("clip01", "none")
LONG_TEXT = ("sentence-windows", "truncate")
PAC_WEIGHTS_HELP = (
    "PAC-Score needs the PAC-S fine-tuned CLIP ViT-B/32 weights, clip_ViT-B-32.pth, linked from the "
    "'Loading CLIP Models' section of the PAC-S authors' repository (aimagelab/pacscore on GitHub). "
    "Pass its path with --pac-weights PATH, or --skip-pac to record PAC-S (and ICS) as null."
)


@dataclass(frozen=True)
class ICSConfig:
    gamma: float = ICS_GAMMA
    clip_model: str = DEFAULT_CLIP_MODEL
    pac_weights: str | None = None
    clip_weight: float = CLIP_S_WEIGHT
    pac_weight: float = PAC_S_WEIGHT
    text_prefix: str = TEXT_PREFIX
    normalise: str = "clip01"
    long_text: str = "sentence-windows"
    skip_clip: bool = False
    skip_pac: bool = False
    #: Why skipped scores are null (recorded in ``score_note``).
    skip_reason: str = "skipped by the user"
    batch_size: int = 16
    device: str | None = None

    def __post_init__(self):
        if self.normalise not in NORMALISATIONS:
            raise ValueError(f"normalise must be one of {NORMALISATIONS}")
        if self.long_text not in LONG_TEXT:
            raise ValueError(f"long_text must be one of {LONG_TEXT}")

    def key(self) -> tuple:
        pac = None
        if self.pac_weights and not self.skip_pac:
            st = Path(self.pac_weights).stat() if Path(self.pac_weights).exists() else None
            pac = (self.pac_weights, st.st_size if st else None)
        return (self.gamma, self.clip_model, pac, self.clip_weight, self.pac_weight, self.text_prefix, self.normalise, self.long_text, self.skip_clip, self.skip_pac)


def scaled(cos: float, weight: float) -> float:
    """The paper's score: ``w·max(cos, 0)``."""
    return weight * max(cos, 0.0)


def normalised(score: float, mode: str = "clip01") -> float:
    return min(score, 1.0) if mode == "clip01" else score


def ics(clip_norm: float, pac_norm: float, gamma: float = ICS_GAMMA) -> float:
    return gamma * clip_norm + (1.0 - gamma) * pac_norm


# --- OpenAI-CLIP state dict -> transformers CLIPModel -------------------------------

def openai_clip_to_hf(state_dict: dict) -> dict:
    """Map an OpenAI-CLIP (ViT) state dict, the layout of the PAC-S
    checkpoints, onto transformers' ``CLIPModel`` parameter names.

    Fused attention ``in_proj`` weights are split into q/k/v; the two
    projection matrices are transposed (OpenAI stores ``x @ proj``)."""
    sd = {k.removeprefix("module."): v for k, v in state_dict.items()}
    out: dict = {}
    top = {
        "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
        "positional_embedding": "text_model.embeddings.position_embedding.weight",
        "ln_final.weight": "text_model.final_layer_norm.weight",
        "ln_final.bias": "text_model.final_layer_norm.bias",
        "logit_scale": "logit_scale",
        "visual.class_embedding": "vision_model.embeddings.class_embedding",
        "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
        "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
        "visual.ln_pre.weight": "vision_model.pre_layrnorm.weight",
        "visual.ln_pre.bias": "vision_model.pre_layrnorm.bias",
        "visual.ln_post.weight": "vision_model.post_layernorm.weight",
        "visual.ln_post.bias": "vision_model.post_layernorm.bias",
    }
    block = {
        "attn.out_proj.weight": "self_attn.out_proj.weight",
        "attn.out_proj.bias": "self_attn.out_proj.bias",
        "ln_1.weight": "layer_norm1.weight",
        "ln_1.bias": "layer_norm1.bias",
        "ln_2.weight": "layer_norm2.weight",
        "ln_2.bias": "layer_norm2.bias",
        "mlp.c_fc.weight": "mlp.fc1.weight",
        "mlp.c_fc.bias": "mlp.fc1.bias",
        "mlp.c_proj.weight": "mlp.fc2.weight",
        "mlp.c_proj.bias": "mlp.fc2.bias",
    }
    ignored = {"input_resolution", "context_length", "vocab_size"}
    for key, value in sd.items():
        if key in ignored:
            continue
        if key in top:
            out[top[key]] = value
        elif key == "text_projection":
            out["text_projection.weight"] = value.T.contiguous()
        elif key == "visual.proj":
            out["visual_projection.weight"] = value.T.contiguous()
        else:
            m = re.fullmatch(r"(visual\.)?transformer\.resblocks\.(\d+)\.(.+)", key)
            if not m:
                raise KeyError(f"unexpected key in an OpenAI-CLIP state dict: {key}")
            tower = "vision_model" if m.group(1) else "text_model"
            prefix = f"{tower}.encoder.layers.{m.group(2)}."
            rest = m.group(3)
            if rest in ("attn.in_proj_weight", "attn.in_proj_bias"):
                kind = "weight" if rest.endswith("weight") else "bias"
                q, k, v = value.chunk(3, dim=0)
                for name, part in zip("qkv", (q, k, v)):
                    out[f"{prefix}self_attn.{name}_proj.{kind}"] = part.contiguous()
            elif rest in block:
                out[prefix + block[rest]] = value
            else:
                raise KeyError(f"unexpected key in an OpenAI-CLIP state dict: {key}")
    return out


def load_pac_state_dict(path: str | Path) -> dict:
    import torch

    path = Path(path)
    if not path.is_file():
        raise MissingWeights(f"PAC-S weights file not found: {path}. " + PAC_WEIGHTS_HELP)
    obj = torch.load(path, map_location="cpu", weights_only=True)
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
    return openai_clip_to_hf(state)


# --- the scorer ------------------------------------------------------------------------

class _ClipEncoder:
    """A transformers CLIP model + tokenizer + image processor on one device."""

    def __init__(self, model, tokenizer, processor, device: str):
        self.model = model.eval().to(device)
        self.tokenizer = tokenizer
        self.processor = processor
        self.device = device
        self.max_tokens = int(model.config.text_config.max_position_embeddings)

    def n_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, truncation=False)["input_ids"])

    def embed_images(self, paths: Sequence[str], batch_size: int, backgrounds: Sequence[str] | None = None) -> np.ndarray:
        """Unit vectors of images read with :func:`~synesthesia.datasets.media.open_rgb`
        (transparent pixels composited onto each one's background)."""
        import torch

        backgrounds = list(backgrounds) if backgrounds is not None else [DEFAULT_ALPHA_BACKGROUND] * len(paths)
        out = []
        size = int(self.model.config.vision_config.image_size)  # 224 for ViT-B/32
        for i in range(0, len(paths), batch_size):
            images = [open_rgb(p, size, background=b) for p, b in zip(paths[i : i + batch_size], backgrounds[i : i + batch_size])]
            pixels = self.processor(images=images, return_tensors="pt")["pixel_values"].to(self.device)
            with torch.no_grad():
                feats = _features(self.model.get_image_features(pixel_values=pixels))
            out.append(torch.nn.functional.normalize(feats.float(), dim=-1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def embed_texts(self, texts: Sequence[str], batch_size: int, truncate: bool) -> np.ndarray:
        import torch

        out = []
        for i in range(0, len(texts), batch_size):
            batch = self.tokenizer(
                list(texts[i : i + batch_size]), padding=True, truncation=truncate, max_length=self.max_tokens if truncate else None, return_tensors="pt"
            )
            if batch["input_ids"].shape[1] > self.max_tokens:
                raise ValueError(f"a text window has {batch['input_ids'].shape[1]} tokens > {self.max_tokens}")
            with torch.no_grad():
                feats = _features(self.model.get_text_features(input_ids=batch["input_ids"].to(self.device), attention_mask=batch["attention_mask"].to(self.device)))
            out.append(torch.nn.functional.normalize(feats.float(), dim=-1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def _features(output):
    """transformers 5 returns a model output object from get_*_features; 4.x a tensor."""
    if hasattr(output, "pooler_output") and not hasattr(output, "shape"):
        return output.pooler_output
    return output


def _load_clip(name: str, device: str, weights: dict | None = None) -> _ClipEncoder:
    try:
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel
    except ImportError:
        raise MissingWeights("CLIP-S/PAC-S need transformers and torch: pip install 'synesthesia[ml]'") from None
    try:
        model = CLIPModel.from_pretrained(name)
        tokenizer = AutoTokenizer.from_pretrained(name)
        processor = AutoImageProcessor.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise MissingWeights(
            f"CLIP model {name!r} could not be loaded ({str(exc).splitlines()[0][:200]}). Download it (e.g. "
            f"`huggingface-cli download {DEFAULT_CLIP_MODEL}`) and pass its folder with --clip-model PATH, "
            "or pass --skip-ics to record CLIP-S/PAC-S/ICS as null."
        ) from None
    if weights is not None:
        missing, unexpected = model.load_state_dict(weights, strict=False)
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing or unexpected:
            raise ValueError(f"PAC-S weights do not fit {name}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return _ClipEncoder(model, tokenizer, processor, device)


class ICSScorer:
    """CLIP-S + PAC-S + ICS of captions against their artworks."""

    composite = "ics"
    label = "ICS"

    def __init__(self, config: ICSConfig = ICSConfig()):
        self.config = config
        device = str(resolve_device(config.device))
        self.clip = None if config.skip_clip else _load_clip(config.clip_model, device)
        self.pac = None
        if not config.skip_pac:
            if not config.pac_weights:
                raise MissingWeights(PAC_WEIGHTS_HELP)
            self.pac = _load_clip(config.clip_model, device, load_pac_state_dict(config.pac_weights))

    def windows(self, caption: str, encoder: _ClipEncoder) -> list[str]:
        prefix = self.config.text_prefix
        if self.config.long_text == "truncate":
            return [caption]
        return sentence_windows(caption, lambda t: encoder.n_tokens(prefix + t), encoder.max_tokens)

    def cosines(
        self, encoder: _ClipEncoder, image_paths: Sequence[str], captions: Sequence[str], backgrounds: Sequence[str] | None = None
    ) -> tuple[np.ndarray, list[int]]:
        """Per caption: mean cosine of its windows with its image, and the window count."""
        truncate = self.config.long_text == "truncate"
        images = encoder.embed_images(list(image_paths), self.config.batch_size, backgrounds)
        windows = [self.windows(c, encoder) for c in captions]
        flat = [self.config.text_prefix + w for ws in windows for w in ws]
        texts = encoder.embed_texts(flat, self.config.batch_size, truncate)
        out, pos = [], 0
        for i, ws in enumerate(windows):
            out.append(float((texts[pos : pos + len(ws)] @ images[i]).mean()))
            pos += len(ws)
        return np.asarray(out), [len(ws) for ws in windows]

    def score(self, items, captions: Sequence[str]) -> list[dict]:
        """Loop protocol: one dict of ``IMAGE_CAPTIONS`` score columns per caption."""
        cfg = self.config
        paths = [item.image_path for item in items]
        backgrounds = [item.image_background for item in items]
        rows = [{} for _ in captions]
        notes = []
        for name, encoder, weight, skipped in (("clip", self.clip, cfg.clip_weight, cfg.skip_clip), ("pac", self.pac, cfg.pac_weight, cfg.skip_pac)):
            if encoder is None:
                notes.append(f"{'CLIP-S' if name == 'clip' else 'PAC-S'} {cfg.skip_reason}")
                for row in rows:
                    row.update({f"{name}_cos": None, f"{name}_score": None, f"{name}_norm": None})
                continue
            cos, n_windows = self.cosines(encoder, paths, captions, backgrounds)
            for row, c, n in zip(rows, cos, n_windows):
                s = scaled(float(c), weight)
                row.update({f"{name}_cos": float(c), f"{name}_score": s, f"{name}_norm": normalised(s, cfg.normalise), "text_windows": n})
        note = "; ".join(notes) + " (ICS needs both)" if notes else None
        for row in rows:
            row.setdefault("text_windows", None)
            both = row["clip_norm"] is not None and row["pac_norm"] is not None
            row["ics"] = ics(row["clip_norm"], row["pac_norm"], cfg.gamma) if both else None
            row["score_note"] = note
        return rows
