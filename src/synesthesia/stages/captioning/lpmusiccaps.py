"""LP-MusicCaps (Doh et al. 2023): music captioning of 10 s segments.

Our own implementation of the released captioning model, readable top to
bottom, that loads the authors' ``transfer.pth`` checkpoint as is:

1. **Log-mel front end.** 16 kHz mono, STFT with a 1024-point periodic Hann
   window, hop 160 (10 ms), centred with reflect padding; power from the
   *real part* of the STFT only (``real(X)^2``: what the released model
   was trained on); 128 HTK mel bands 0-8 kHz without area normalisation;
   ``10·log10(max(mel, 1e-10))``. A 10 s segment gives 1001 frames.
2. **Convolutional stack.** Conv1d(128 -> 768, k3, stride 1) then five
   Conv1d(768 -> 768, k3, stride 2), GELU after each: 1001 -> 32 frames;
   plus fixed sinusoidal position embeddings (Whisper-style).
3. **BART-base encoder-decoder.** The 32 audio frames are the encoder's
   ``inputs_embeds``; the decoder writes the caption. Beam search with 5
   beams, max length 128 (the released inference settings), min length 2,
   no repeated 3-grams, early stopping and ``<s>`` forced as the first
   generated token (the generation defaults the released code inherits from
   ``facebook/bart-base``'s config under its pinned transformers 4.26.1;
   transformers 5 no longer reads them from config.json, so they are passed
   explicitly: without the forced ``<s>`` the ids differ from the official
   code's, tests/models/test_reference_lpmusiccaps.py).

State-dict layout of the release (``{"state_dict": ..., "epoch": ...}``,
keys optionally prefixed ``module.``)::

    audio_encoder.mel_encoder.spec_fn.window         [1024]
    audio_encoder.mel_encoder.mel_scale.fb           [513, 128]
    audio_encoder.conv1.{weight,bias}                [768, 128, 3]
    audio_encoder.conv_stack.{0..4}.{weight,bias}    [768, 768, 3]
    audio_encoder.positional_embedding               [32, 768]
    bart.<transformers BartForConditionalGeneration keys>

Segments: the track is cut from its start into 10 s segments; a track
shorter than 10 s is zero-padded to one segment and a shorter tail is
dropped (``stages.audio.ClipConfig(10, short_track="pad", tail="drop")``),
as the released inference script does.

A missing checkpoint or BART tokenizer stops with a message naming the file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
import numpy as np

from synesthesia.stages.captioning import SegmentCaptioner, SegmentCaptionerConfig

SAMPLE_RATE = 16_000
SEGMENT_SECONDS = 10.0
#: facebook/bart-base's architecture (used when the tokenizer folder has no config.json).
BART_BASE = (
    ("vocab_size", 50265),
    ("d_model", 768),
    ("encoder_layers", 6),
    ("decoder_layers", 6),
    ("encoder_attention_heads", 12),
    ("decoder_attention_heads", 12),
    ("encoder_ffn_dim", 3072),
    ("decoder_ffn_dim", 3072),
    ("max_position_embeddings", 1024),
    ("activation_function", "gelu"),
    ("pad_token_id", 1),
    ("bos_token_id", 0),
    ("eos_token_id", 2),
    ("decoder_start_token_id", 2),
    ("forced_eos_token_id", 2),
    ("scale_embedding", False),
)
CHECKPOINT_HELP = (
    "LP-MusicCaps needs the released checkpoint transfer.pth (Hugging Face Hub repository "
    "seungheondoh/lp-music-caps, file transfer.pth); pass it with --lpmusiccaps-checkpoint PATH."
)
TOKENIZER_HELP = (
    "LP-MusicCaps needs the facebook/bart-base tokenizer files (vocab.json and merges.txt, plus config.json) "
    "in one folder, e.g. `huggingface-cli download facebook/bart-base vocab.json merges.txt config.json "
    "--local-dir DIR`; pass DIR with --bart-tokenizer DIR."
)


@dataclass(frozen=True)
class LPMusicCapsConfig:
    sample_rate: int = SAMPLE_RATE
    segment_seconds: float = SEGMENT_SECONDS
    n_fft: int = 1024
    hop_length: int = 160
    n_mels: int = 128
    f_min: float = 0.0
    f_max: float = 8000.0
    n_convs: int = 6
    bart: tuple = BART_BASE
    num_beams: int = 5
    max_length: int = 128
    min_length: int = 2
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 3
    early_stopping: bool = True
    forced_bos_token_id: int | None = 0
    batch_size: int = 8

    @property
    def segment_samples(self) -> int:
        return int(round(self.segment_seconds * self.sample_rate))

    @property
    def n_ctx(self) -> int:
        frames = self.segment_samples // self.hop_length
        return frames // 2 ** (self.n_convs - 1) + 1

    def bart_config(self):
        from transformers import BartConfig

        return BartConfig(**dict(self.bart))


def sinusoids(length: int, channels: int, max_timescale: float = 10_000.0) -> np.ndarray:
    """Fixed position embeddings: sines then cosines over geometric timescales."""
    increment = math.log(max_timescale) / (channels // 2 - 1)
    inv = np.exp(-increment * np.arange(channels // 2))
    t = np.arange(length)[:, None] * inv[None, :]
    return np.concatenate([np.sin(t), np.cos(t)], axis=1).astype(np.float32)


def htk_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """``[n_fft // 2 + 1, n_mels]`` triangular HTK-mel filters, unnormalised."""
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=True, norm=None).T.astype(np.float32)


def build_model(config: LPMusicCapsConfig, bart_config=None):
    """The captioning model with random weights (load a state dict into it)."""
    import torch
    from torch import nn
    from transformers import BartForConditionalGeneration

    class Holder(nn.Module):
        """Holds one named buffer (keeps the release's key names)."""

        def __init__(self, name: str, value: np.ndarray):
            super().__init__()
            self.register_buffer(name, torch.from_numpy(value))

    class LogMel(nn.Module):
        def __init__(self):
            super().__init__()
            self.spec_fn = Holder("window", (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(config.n_fft) / config.n_fft)).astype(np.float32))
            self.mel_scale = Holder("fb", htk_mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, config.f_min, config.f_max))

        def forward(self, wav):  # [B, samples] -> [B, n_mels, frames]
            spec = torch.stft(
                wav, config.n_fft, hop_length=config.hop_length, win_length=config.n_fft, window=self.spec_fn.window,
                center=True, pad_mode="reflect", normalized=False, onesided=True, return_complex=True,
            )
            power = spec.real.pow(2)  # the release squares the real part only
            mel = torch.matmul(power.transpose(-1, -2), self.mel_scale.fb).transpose(-1, -2)
            return 10.0 * torch.log10(torch.clamp(mel, min=1e-10))

    class AudioEncoder(nn.Module):
        def __init__(self, width: int):
            super().__init__()
            self.mel_encoder = LogMel()
            self.conv1 = nn.Conv1d(config.n_mels, width, kernel_size=3, padding=1)
            self.conv_stack = nn.ModuleList(nn.Conv1d(width, width, kernel_size=3, stride=2, padding=1) for _ in range(config.n_convs - 1))
            self.register_buffer("positional_embedding", torch.from_numpy(sinusoids(config.n_ctx, width)))

        def forward(self, wav):  # -> [B, n_ctx, width]
            x = nn.functional.gelu(self.conv1(self.mel_encoder(wav)))
            for conv in self.conv_stack:
                x = nn.functional.gelu(conv(x))
            return x.permute(0, 2, 1) + self.positional_embedding

    class LPMusicCaps(nn.Module):
        def __init__(self, bart_config):
            super().__init__()
            self.bart = BartForConditionalGeneration(bart_config)
            self.audio_encoder = AudioEncoder(bart_config.d_model)

        @torch.no_grad()
        def generate(self, wav):
            from transformers.modeling_outputs import BaseModelOutput

            hidden = self.bart.model.encoder(inputs_embeds=self.audio_encoder(wav), return_dict=True).last_hidden_state
            start = torch.full((wav.shape[0], 1), self.bart.config.decoder_start_token_id, dtype=torch.long, device=wav.device)
            return self.bart.generate(
                encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
                decoder_input_ids=start,
                decoder_attention_mask=torch.ones_like(start),
                num_beams=config.num_beams,
                max_length=config.max_length,
                min_length=config.min_length,
                repetition_penalty=config.repetition_penalty,
                no_repeat_ngram_size=config.no_repeat_ngram_size,
                early_stopping=config.early_stopping,
                forced_bos_token_id=config.forced_bos_token_id,
                do_sample=False,
            )

    return LPMusicCaps(bart_config if bart_config is not None else config.bart_config())


def load_released_state_dict(path: str | Path) -> dict:
    """The ``state_dict`` of a released checkpoint, ``module.`` prefixes removed."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LP-MusicCaps checkpoint not found: {path}. {CHECKPOINT_HELP}")
    obj = torch.load(path, map_location="cpu", weights_only=True)
    state = obj["state_dict"] if isinstance(obj, dict) and "state_dict" in obj else obj
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_tokenizer(folder: str | Path | None):
    if not folder or not Path(folder).is_dir() or not (Path(folder) / "vocab.json").is_file() or not (Path(folder) / "merges.txt").is_file():
        raise FileNotFoundError(f"BART tokenizer not found at {folder!r}. {TOKENIZER_HELP}")
    from transformers import BartTokenizer

    return BartTokenizer.from_pretrained(str(folder))


def load_model(checkpoint: str | Path, tokenizer_folder: str | Path, config: LPMusicCapsConfig = LPMusicCapsConfig(), device: str = "cpu"):
    """(model, tokenizer) from a released checkpoint. The BART architecture
    comes from ``config.json`` in the tokenizer folder when there is one (as
    the released code reads it from ``facebook/bart-base``), else from
    :data:`BART_BASE`."""
    from transformers import BartConfig

    tokenizer = load_tokenizer(tokenizer_folder)
    state = load_released_state_dict(checkpoint)
    cfg_file = Path(tokenizer_folder) / "config.json"
    bart_config = BartConfig(**json.loads(cfg_file.read_text())) if cfg_file.is_file() else config.bart_config()
    model = build_model(config, bart_config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{checkpoint} does not have the LP-MusicCaps layout for this config: "
            f"missing {sorted(missing)[:6]}, unexpected {sorted(unexpected)[:6]}"
        )
    return model.eval().to(device), tokenizer


class LPMusicCapsCaptioner(SegmentCaptioner):
    """The ``lpmusiccaps`` segment captioner (options: ``batch_size``, ``device``)."""

    name = "lpmusiccaps"

    def __init__(self, config: SegmentCaptionerConfig, model_config: LPMusicCapsConfig | None = None):
        import torch

        options = dict(config.options)
        self.model_config = model_config or LPMusicCapsConfig(batch_size=int(options.get("batch_size", 8)))
        if not config.checkpoint:
            raise FileNotFoundError(CHECKPOINT_HELP)
        self.device = options.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
        self.net, self.tokenizer = load_model(config.checkpoint, config.tokenizer, self.model_config, self.device)
        self.model = Path(config.checkpoint).name

    def caption(self, segments: np.ndarray, sample_rate: int) -> list[str]:
        import torch

        cfg = self.model_config
        segments = np.atleast_2d(np.asarray(segments, dtype=np.float32))
        if sample_rate != cfg.sample_rate or segments.shape[1] != cfg.segment_samples:
            raise ValueError(f"LP-MusicCaps takes {cfg.segment_seconds:g} s segments at {cfg.sample_rate} Hz; got {segments.shape[1]} samples at {sample_rate}")
        out: list[str] = []
        for i in range(0, len(segments), cfg.batch_size):
            wav = torch.from_numpy(segments[i : i + cfg.batch_size]).to(self.device)
            ids = self.net.generate(wav)
            out.extend(t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True))
        return out
