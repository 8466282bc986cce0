"""Loading Stable Diffusion and BEATs, Musipainter checkpoints, and generation
with a stock diffusers ``StableDiffusionPipeline``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from synesthesia.models.checkpoints import load_state, save_state
from synesthesia.models.devices import resolve_device
from synesthesia.models.musipainter.beats import SAMPLE_RATE, beats_fbank, load_beats
from synesthesia.models.musipainter.data import fixed_length
from synesthesia.models.musipainter.model import AudioEmbedder, MusipainterConfig, add_placeholder, write_token

FORMAT = "synesthesia.musipainter/1"
SD_HELP = (
    "Stable Diffusion v1-4 is read with diffusers' from_pretrained. Without hub access, download it once "
    "(`hf download CompVis/stable-diffusion-v1-4 --local-dir DIR`) and pass the folder as --sd-model DIR "
    "(or `sd_model:` in the config)."
)


@dataclass
class SDComponents:
    tokenizer: object
    text_encoder: object
    vae: object
    unet: object
    scheduler_config: dict


def load_sd_components(sd_model: str) -> SDComponents:
    """SD v1-4's tokenizer, text encoder, VAE, UNet and scheduler config."""
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    try:
        return SDComponents(
            tokenizer=CLIPTokenizer.from_pretrained(sd_model, subfolder="tokenizer"),
            text_encoder=CLIPTextModel.from_pretrained(sd_model, subfolder="text_encoder"),
            vae=AutoencoderKL.from_pretrained(sd_model, subfolder="vae"),
            unet=UNet2DConditionModel.from_pretrained(sd_model, subfolder="unet"),
            scheduler_config=dict(DDPMScheduler.load_config(sd_model, subfolder="scheduler")),
        )
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(f"cannot load Stable Diffusion from {sd_model!r} ({str(exc).splitlines()[0][:200]}). {SD_HELP}") from None


def build_embedder(config: MusipainterConfig, text_dim: int, beats_checkpoint: str | None = None) -> AudioEmbedder:
    return AudioEmbedder(load_beats(beats_checkpoint or config.beats_checkpoint), text_dim, config.beats_layers, config.pooling_hidden)


def audio_fbank(path: str | os.PathLike, clip_seconds: float) -> torch.Tensor:
    """The BEATs input of an audio file: 16 kHz mono, its first ``clip_seconds``
    (zero-padded when shorter), ``[1, frames, 128]``."""
    from synesthesia.datasets.media import load_audio

    y = fixed_length(load_audio(path, SAMPLE_RATE), int(round(clip_seconds * SAMPLE_RATE)))
    return torch.from_numpy(beats_fbank(y))[None]


# --- checkpoints ---------------------------------------------------------------------------


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    return save_state({"format": FORMAT, **state}, path)


def load_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "best.pt" if (path / "best.pt").exists() else path / "model.pt"
    if not path.exists():
        raise FileNotFoundError(f"no Musipainter checkpoint at {path}")
    state = load_state(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a Musipainter checkpoint written by synesthesia")
    return state


_EPOCH = re.compile(r"epoch-(\d+)\.pt$")


def epoch_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    found = [(int(m.group(1)), p) for p in (Path(run_dir) / "checkpoints").glob("epoch-*.pt") if (m := _EPOCH.search(p.name))]
    return [p for _, p in sorted(found)]


# --- generation ----------------------------------------------------------------------------


@dataclass
class Generator:
    """A stock ``StableDiffusionPipeline`` with the trained audio embedder."""

    pipe: object
    embedder: AudioEmbedder
    placeholder_id: int
    config: MusipainterConfig
    device: torch.device

    @torch.no_grad()
    def audio_token(self, fbank: torch.Tensor) -> torch.Tensor:
        token, _ = self.embedder(fbank.to(self.device))
        return token[0]

    @torch.no_grad()
    def images(self, fbank: torch.Tensor, n: int = 1, steps: int = 50, guidance_scale: float = 7.5, seed: int = 0, size: int | None = None) -> list:
        write_token(self.pipe.text_encoder, self.placeholder_id, self.audio_token(fbank))
        size = size or self.config.image_size
        generator = torch.Generator(device="cpu").manual_seed(seed)
        out = self.pipe(self.config.prompt, num_images_per_prompt=n, num_inference_steps=steps, guidance_scale=guidance_scale,
                        height=size, width=size, generator=generator, output_type="pil")
        return out.images


def load_generator(checkpoint: str | os.PathLike, sd_model: str | None = None, beats_checkpoint: str | None = None, device: str = "auto") -> Generator:
    """Rebuild SD + the placeholder + the embedder (and model 2's fine-tuned
    BEATs / UNet) from a Musipainter checkpoint."""
    from diffusers import StableDiffusionPipeline

    state = load_checkpoint(checkpoint)
    config = MusipainterConfig.from_dict(state["config"]["model"])
    sd_model = sd_model or config.sd_model
    dev = resolve_device(device)
    try:
        pipe = StableDiffusionPipeline.from_pretrained(sd_model, safety_checker=None, requires_safety_checker=False)
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(f"cannot load Stable Diffusion from {sd_model!r} ({str(exc).splitlines()[0][:200]}). {SD_HELP}") from None
    placeholder_id = add_placeholder(pipe.tokenizer, pipe.text_encoder, config.placeholder)
    embedder = build_embedder(config, pipe.text_encoder.config.hidden_size, beats_checkpoint)
    embedder.projection.load_state_dict(state["projection"])
    if state.get("beats") is not None:
        embedder.beats.load_state_dict(state["beats"])
    if state.get("unet") is not None:
        pipe.unet.load_state_dict(state["unet"])
    pipe.set_progress_bar_config(disable=True)
    return Generator(pipe.to(dev), embedder.to(dev).eval(), placeholder_id, config, dev)


def save_grid(images: list, path: str | os.PathLike) -> Path:
    """Images side by side in one PNG."""
    from PIL import Image

    w, h = images[0].size
    grid = Image.new("RGB", (w * len(images), h))
    for k, im in enumerate(images):
        grid.paste(im, (k * w, 0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)
    return path
