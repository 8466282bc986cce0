"""Musipainter (Musipainter paper, sections 3.2–3.4): music → one "audio
token" in Stable Diffusion v1-4's text-embedding space.

    waveform (16 kHz, 30 s) → BEATs → layers 4, 8, 12 concatenated   φ(a) ∈ R^{tokens × 2304}
      → W1 (2304 → 2304) → GELU → W2 (2304 → 768)                      ē_audio
      → attentive pooling over the tokens                             e_audio ∈ R^{768}

The prompt "an art image of <*>" is tokenised with a placeholder token
``<*>`` added to SD's CLIP tokenizer; in the text encoder, the placeholder's
input embedding is replaced by ``e_audio`` (per example, through a hook on
the token-embedding table), and the text encoder's output conditions the
UNet. At generation the same token is written into the embedding table, so a
stock diffusers ``StableDiffusionPipeline`` runs the prompt.

Loss (Eq. 3): ``L = L_LDM + λ_l1 ‖e_audio‖₁ + λ_CL (1 − cos(e_audio, l̂))²``
with ``l̂`` the category name's embedding averaged over its tokens (Eq. 2),
and λ_l1 = λ_CL = 0.01 (the authors' values).

Two readings of Eq. 2–3 change what is trained; both are config keys, and
the defaults are the readings that reproduce the paper's training, i.e.
what the training code does: the authors' (as issue 23 reports it), and the
public Musipainter implementation ``Apand0/MusiPainter``
(``train_validation_no_accel_colab.py``: ``lambda_a * mean(|audio_token|)``
and ``txt_embeddings[ids].mean(0)`` over the input-embedding table, both
λ = 0.01):

* ``l1_reduction = "mean"`` (default): the L1 term is the *mean* absolute
  value of the 768-d token, so λ_l1 = 0.01 weighs it as the authors did.
  ``"sum"`` is Eq. 3 as printed (‖e‖₁, the sum): with the same λ it is 768×
  stronger, about the size of the diffusion loss, and pulls the token to 0.
* ``label_space = "input_embeddings"`` (default): ``l̂`` averages the
  label's rows of the text encoder's *input* token-embedding table, the space
  the audio token lives in (it replaces a token's input embedding), so the
  cosine compares like with like. ``"text_encoder_output"`` averages the text
  encoder's final hidden states at the label's tokens (the paper's "encoded
  using the generative model's textual encoder", read literally): a cosine
  across two spaces.

Choices where the paper is silent (also in the README):
* attentive pooling = softmax over tokens of a learned score; the pooled
  token is the weighted sum (weights sum to one). The score is the authors'
  released one, ``Linear(768 → 384) → tanh → Linear(384 → 1)``
  (``pooling_hidden = 384``); ``pooling_hidden = 0`` gives a single linear
  score ``w·ē_t + b``;
* the paper pools "a sequence of 248"; BEATs makes (frames // 16) × 8 tokens
  (1,496 for 30 s), which we pool over as they are (pooling is length-free);
* the L1 and Eq. 2 terms are averaged over the batch (Eq. 2 per example,
  then the mean); the LDM term is the mean squared error over latents;
* ``l̂`` uses the name's own tokens (start/end tokens and padding excluded).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from synesthesia.models.configs import ConfigData
from synesthesia.models.musipainter.beats import BEATs

SD_MODEL = "CompVis/stable-diffusion-v1-4"
PLACEHOLDER = "<*>"
PROMPT = "an art image of <*>"
#: "the 4th, 8th, and 12th out of a total of 12" BEATs layers.
BEATS_LAYERS = (4, 8, 12)
#: The authors' values (issue 10: "λ defaults as the authors used").
LAMBDA_L1 = 0.01
LAMBDA_CL = 0.01
CLIP_SECONDS = 30.0
SD_IMAGE_SIZE = 512
#: Hidden width of the attentive-pooling score (the authors' code: 768 → 384 → tanh → 1; the paper is silent).
POOLING_HIDDEN = 384
#: The readings of Eq. 3's L1 term and Eq. 2's label vector (see the module docstring); first = default.
L1_REDUCTIONS = ("mean", "sum")
LABEL_SPACES = ("input_embeddings", "text_encoder_output")


@dataclass(frozen=True)
class MusipainterConfig(ConfigData):
    sd_model: str = SD_MODEL
    beats_checkpoint: str | None = None  # else $SYNESTHESIA_BEATS_CHECKPOINT
    beats_layers: tuple[int, ...] = BEATS_LAYERS
    placeholder: str = PLACEHOLDER
    prompt: str = PROMPT
    lambda_l1: float = LAMBDA_L1
    lambda_cl: float = LAMBDA_CL
    image_size: int = SD_IMAGE_SIZE
    clip_seconds: float = CLIP_SECONDS
    pooling_hidden: int = POOLING_HIDDEN  # 0: a single linear score
    l1_reduction: str = L1_REDUCTIONS[0]
    label_space: str = LABEL_SPACES[0]

    def __post_init__(self):
        if self.l1_reduction not in L1_REDUCTIONS:
            raise ValueError(f"l1_reduction must be one of {L1_REDUCTIONS}, not {self.l1_reduction!r}")
        if self.label_space not in LABEL_SPACES:
            raise ValueError(f"label_space must be one of {LABEL_SPACES}, not {self.label_space!r}")
        if self.placeholder not in self.prompt:
            raise ValueError(f"the prompt {self.prompt!r} must contain the placeholder {self.placeholder!r}")


class AttentivePooling(nn.Module):
    """Softmax over the sequence of a learned score; returns the weighted
    sum ``[batch, dim]`` and the weights ``[batch, tokens]`` (sum to one).

    The score is ``Linear(dim, hidden) → tanh → Linear(hidden, 1)``, or one
    ``Linear(dim, 1)`` when ``hidden`` is 0."""

    def __init__(self, dim: int, hidden: int = POOLING_HIDDEN):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1)) if hidden else nn.Linear(dim, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = self.score(x).squeeze(-1).float().softmax(dim=-1).to(x.dtype)
        return torch.einsum("bt,btd->bd", weights, x), weights


class AudioProjection(nn.Module):
    """W1 (d → d), GELU, W2 (d → d_audio), attentive pooling."""

    def __init__(self, in_dim: int, token_dim: int, pooling_hidden: int = POOLING_HIDDEN):
        super().__init__()
        self.w1 = nn.Linear(in_dim, in_dim)
        self.w2 = nn.Linear(in_dim, token_dim)
        self.pool = AttentivePooling(token_dim, pooling_hidden)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pool(self.w2(F.gelu(self.w1(features))))


class AudioEmbedder(nn.Module):
    """The paper's "Embedder": BEATs + the projection network."""

    def __init__(self, beats: BEATs, token_dim: int, layers: tuple[int, ...] = BEATS_LAYERS, pooling_hidden: int = POOLING_HIDDEN):
        super().__init__()
        self.beats = beats
        self.layers = tuple(layers)
        self.projection = AudioProjection(len(self.layers) * beats.cfg.encoder_embed_dim, token_dim, pooling_hidden)

    def features(self, fbank: torch.Tensor) -> torch.Tensor:
        """φ(a): ``[batch, tokens, len(layers) × 768]`` (no grad while BEATs is frozen)."""
        frozen = not any(p.requires_grad for p in self.beats.parameters())
        with torch.no_grad() if frozen else contextlib.nullcontext():
            return self.beats.layer_outputs(fbank, self.layers)

    def forward(self, fbank: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.projection(self.features(fbank))


# --- the text side --------------------------------------------------------------------------


def add_placeholder(tokenizer, text_encoder, placeholder: str = PLACEHOLDER) -> int:
    """Add ``placeholder`` to the tokenizer (once) and give it a row in the
    text encoder's embedding table; returns its token id."""
    tokenizer.add_tokens([placeholder])
    token_id = tokenizer.convert_tokens_to_ids(placeholder)
    if text_encoder.get_input_embeddings().num_embeddings <= token_id:
        # The new row is never read as it is (the hook replaces it in training,
        # write_token at generation), so no mean/covariance initialisation.
        text_encoder.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    return int(token_id)


def prompt_ids(tokenizer, prompt: str, batch: int, device) -> torch.Tensor:
    ids = tokenizer([prompt] * batch, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt").input_ids
    return ids.to(device)


@contextlib.contextmanager
def injected(text_encoder, placeholder_id: int, tokens: torch.Tensor):
    """While active, the text encoder sees ``tokens[b]`` as the input
    embedding of the placeholder in example ``b`` (gradients flow to it)."""

    def hook(module, args, output):
        ids = args[0]
        mask = (ids == placeholder_id).unsqueeze(-1)
        if not bool(mask.any()):
            raise ValueError("the prompt has no placeholder token to replace")
        return torch.where(mask, tokens[:, None, :].to(output.dtype), output)

    handle = text_encoder.get_input_embeddings().register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def encode_prompt_with_audio(tokenizer, text_encoder, placeholder_id: int, tokens: torch.Tensor, prompt: str = PROMPT) -> torch.Tensor:
    """``[batch, 77, dim]`` text-encoder states of the prompt with each
    example's audio token in place of the placeholder."""
    ids = prompt_ids(tokenizer, prompt, tokens.shape[0], tokens.device)
    with injected(text_encoder, placeholder_id, tokens):
        return text_encoder(ids)[0]


@torch.no_grad()
def label_embeddings(tokenizer, text_encoder, labels: list[str], space: str = LABEL_SPACES[0]) -> torch.Tensor:
    """l̂ per label (Eq. 2) → ``[labels, dim]``: the mean over the label's own
    tokens of the input token-embedding rows (``space="input_embeddings"``,
    the audio token's space) or of the text encoder's final hidden states
    (``"text_encoder_output"``)."""
    if space not in LABEL_SPACES:
        raise ValueError(f"label space must be one of {LABEL_SPACES}, not {space!r}")
    table = text_encoder.get_input_embeddings()
    out = []
    for label in labels:
        ids = tokenizer(label, return_tensors="pt").input_ids.to(table.weight.device)  # start, label tokens, end
        rows = table(ids)[0] if space == "input_embeddings" else text_encoder(ids)[0][0]
        out.append(rows[1:-1].mean(dim=0) if ids.shape[1] > 2 else rows.mean(dim=0))
    return torch.stack(out)


def write_token(text_encoder, placeholder_id: int, token: torch.Tensor) -> None:
    """Write the audio token into the embedding table (for a stock pipeline)."""
    with torch.no_grad():
        table = text_encoder.get_input_embeddings().weight
        table[placeholder_id] = token.to(table.dtype).to(table.device)


# --- the loss --------------------------------------------------------------------------------


def classification_loss(tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 2 per example: ``(1 − cos(e_audio, l̂))²``."""
    return (1.0 - F.cosine_similarity(tokens.float(), labels.float(), dim=-1)) ** 2


def musipainter_loss(
    noise_pred: torch.Tensor,
    target: torch.Tensor,
    tokens: torch.Tensor,
    labels: torch.Tensor,
    lambda_l1: float = LAMBDA_L1,
    lambda_cl: float = LAMBDA_CL,
    l1_reduction: str = L1_REDUCTIONS[0],
) -> dict[str, torch.Tensor]:
    """Eq. 3. Returns the total and its three terms (batch means); the L1
    term is the token's mean or summed absolute value (``l1_reduction``)."""
    if l1_reduction not in L1_REDUCTIONS:
        raise ValueError(f"l1_reduction must be one of {L1_REDUCTIONS}, not {l1_reduction!r}")
    ldm = F.mse_loss(noise_pred.float(), target.float())
    magnitude = tokens.float().abs()
    l1 = (magnitude.mean(dim=-1) if l1_reduction == "mean" else magnitude.sum(dim=-1)).mean()
    cl = classification_loss(tokens, labels).mean()
    return {"loss": ldm + lambda_l1 * l1 + lambda_cl * cl, "ldm": ldm, "l1": l1, "cl": cl}
