"""Art2Mus configuration: the paper's numbers as named defaults, configs as data.

Three dataclasses, each saved as JSON next to what it produced:

* :class:`Art2MusConfig` — the model (which AudioLDM2, which image encoder,
  how many tokens, the prompts). Stored in every checkpoint: a checkpoint is
  enough to rebuild the model.
* :class:`FrontEndConfig` — audio → the VAE's input (AudioLDM's log-mel).
* :class:`TrainConfig` — optimisation, checkpoints, validation.

Where the paper (Rinaldi et al., *Art2Mus*, sections 4 and 5.2) gives a
number it is a module constant below, named after what it is; where it is
silent the choice is documented on the field and in the README.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from synesthesia.datasets.media import TARGET_SAMPLE_RATE, MelConfig

# --- the paper ----------------------------------------------------------------

#: Section 4: the pretrained backbone (the music variant of AudioLDM 2).
DEFAULT_AUDIOLDM2 = "cvssp/audioldm2-music"
#: Section 4.3: the fixed prompt of the Flan-T5 stream, at training and inference.
ARTWORK_PROMPT = "Music representing the content of this artwork"
#: Sections 4.4 and 5.2: the negative prompt of classifier-free guidance.
NEGATIVE_PROMPT = "Low quality."
#: Section 4.2: embedding sizes of the two visual encoders and of GPT-2.
IMAGEBIND_DIM = 1024
CLIP_DIM = 512
STAGING_DIM = 1024  # "a 1024-dimensional staging space before projection"
GPT2_DIM = 768
#: Section 5.4 / Table 6: best tokens per image for each encoder.
TOKENS_IMAGEBIND = 16
TOKENS_CLIP = 6
#: Section 5.2: optimisation.
LEARNING_RATE = 2e-5
WARMUP_STEPS = 1_324
TOTAL_STEPS = 37_200
BATCH_SIZE = 128
GRADIENT_ACCUMULATION = 1  # with 4 GPUs × 32; one GPU reaches 128 by accumulating (see TrainConfig)
#: Eq. 11: min-SNR weighting.
MIN_SNR_GAMMA = 5.0
#: Section 5.2: validation generates 10 s with 200 inference steps for 100 artworks.
SAMPLE_SECONDS = 10.0
INFERENCE_STEPS = 200
VAL_ARTWORKS = 100
#: Not in the paper: the authors' code and diffusers' AudioLDM2 default.
GUIDANCE_SCALE = 3.5

ENCODERS = ("imagebind", "clip")


def _encoder_defaults(encoder: str) -> tuple[int, int]:
    """(embedding dim, tokens per image) of a visual encoder name."""
    if encoder == "clip":
        return CLIP_DIM, TOKENS_CLIP
    return IMAGEBIND_DIM, TOKENS_IMAGEBIND


@dataclass(frozen=True)
class Art2MusConfig:
    """The model.

    ``image_encoder`` is an embedder name from
    :data:`synesthesia.models.embedders.EMBEDDERS` (``imagebind`` or
    ``clip``, or any registered embedder with ``embed_images``);
    ``embedding_dim`` is its output size. An embedding smaller or larger than
    ``staging_dim`` goes through the upscaler first (the CLIP path).
    ``loa_tokens`` is how many LoA tokens GPT-2 generates (None: the
    checkpoint's ``language_model.config.max_new_tokens``, 8 for AudioLDM 2).
    """

    audioldm2: str = DEFAULT_AUDIOLDM2
    image_encoder: str = "imagebind"
    embedding_dim: int = IMAGEBIND_DIM
    n_tokens: int = TOKENS_IMAGEBIND
    staging_dim: int = STAGING_DIM
    prompt: str = ARTWORK_PROMPT
    negative_prompt: str = NEGATIVE_PROMPT
    guidance_scale: float = GUIDANCE_SCALE
    loa_tokens: int | None = None

    @classmethod
    def for_encoder(cls, encoder: str, **overrides: Any) -> "Art2MusConfig":
        """The paper's best configuration for ``encoder``: ImageBind with 16
        tokens, CLIP with 6 (Table 6); other names keep the ImageBind sizes
        unless ``embedding_dim``/``n_tokens`` are given."""
        dim, tokens = _encoder_defaults(encoder)
        values = {"image_encoder": encoder, "embedding_dim": dim, "n_tokens": tokens}
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class FrontEndConfig:
    """Audio → AudioLDM's log-mel, the VAE's input ("Latent Extractor").

    A track is decoded to 16 kHz mono; ``segment_seconds`` are taken starting
    ``offset_seconds`` in (the authors' code trims 10–20 s of each FMA track;
    a shorter track gives its last ``segment_seconds``, or all of it), the mean
    is removed and the peak scaled to ``peak`` (AudioLDM's normalisation),
    then it is zero-padded to ``target_frames · hop`` samples. The log-mel of
    that is ``target_frames`` frames long (the last frame of the centred STFT
    is dropped): 1024 × 64 for 10 s, the shape AudioLDM 2's VAE was trained on
    (10.24 s).
    """

    segment_seconds: float = SAMPLE_SECONDS
    offset_seconds: float = 10.0
    target_frames: int = 1024
    peak: float = 0.5
    mel: MelConfig = field(
        default_factory=lambda: MelConfig(
            sample_rate=TARGET_SAMPLE_RATE,
            n_fft=1024,
            hop_length=160,
            n_mels=64,
            fmin=0.0,
            fmax=8000.0,
            amin=1e-5,
            power=1.0,
            log="ln",
            pad_mode="reflect",
        )
    )

    @classmethod
    def for_seconds(cls, seconds: float, **overrides: Any) -> "FrontEndConfig":
        """Segments of ``seconds``, padded up to a multiple of 64 frames (10 s → 1024,
        the VAE's training length; a multiple of 64 survives the VAE's and UNet's
        downsampling)."""
        base = cls(**overrides)
        frames = int(-(-round(seconds * base.mel.sample_rate / base.mel.hop_length) // 64) * 64)
        return dataclasses.replace(base, segment_seconds=seconds, target_frames=frames)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, checkpoints and validation.

    ``batch_size`` is the effective batch of one optimiser step; it is reached
    with micro-batches of ``micro_batch_size`` and gradient accumulation
    (``batch_size // micro_batch_size`` micro-batches per step; the paper ran
    4 GPUs × 32 with no accumulation, the same 128 per step).

    Choices where the paper is silent:
    ``lr_schedule="constant"`` — linear warm-up for ``warmup_steps`` then
    constant (the authors' code uses diffusers' "constant" family);
    ``max_grad_norm=1.0`` and AdamW's defaults otherwise (betas 0.9/0.999,
    eps 1e-8, weight decay 0.01) as in the authors' code;
    ``train_guidance_scale`` — the authors train the aligner through the
    *guided* noise prediction ``ε_neg + s·(ε_img − ε_neg)`` (their code passes
    the negative prompt and ``guidance_scale=3.5`` to the training forward);
    set 1.0 for the plain conditional prediction of Eq. 9;
    ``mixed_precision="bf16"`` applies on CUDA only (frozen components in
    bf16, the aligner's weights and the loss in fp32); ``validate_every=None``
    validates once per epoch, as the authors do.
    """

    learning_rate: float = LEARNING_RATE
    warmup_steps: int = WARMUP_STEPS
    total_steps: int = TOTAL_STEPS
    batch_size: int = BATCH_SIZE
    micro_batch_size: int = 32
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    min_snr_gamma: float = MIN_SNR_GAMMA
    train_guidance_scale: float = GUIDANCE_SCALE
    mixed_precision: Literal["bf16", "no"] = "bf16"
    seed: int = 0
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    validate_every: int | None = None
    val_artworks: int = VAL_ARTWORKS
    val_seconds: float = SAMPLE_SECONDS
    val_steps: int = INFERENCE_STEPS
    num_workers: int = 4
    log_every: int = 10
    #: Where the curves go (models/tracking.py): tensorboard, wandb, "tensorboard,wandb" or none;
    #: each validation also logs its first ``sample_clips`` generated clips as audio.
    tracker: str = "tensorboard"
    sample_clips: int = 4

    def __post_init__(self):
        from synesthesia.models.tracking import parse_trackers

        parse_trackers(self.tracker)

    @property
    def accumulation(self) -> int:
        if self.batch_size % self.micro_batch_size:
            raise ValueError(f"batch_size {self.batch_size} is not a multiple of micro_batch_size {self.micro_batch_size}")
        return self.batch_size // self.micro_batch_size


# --- (de)serialisation: the toolkit's shared config helpers ----------------------

from synesthesia.models.configs import from_dict, load_json, save_json, to_dict  # noqa: E402,F401 (re-exported)
