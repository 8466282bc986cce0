"""Tiny random-weight models built from configs, for the captioning tests.

Nothing is downloaded: the tokenizer is a word-level vocabulary made here
(with a chat template), the models are random. Importable (tests) and
runnable in another interpreter (the vLLM venv builds its own copies so the
config files match its transformers version)::

    python tests/tiny_models.py qwen2|llava-next|bart-tokenizer OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: Words the tiny models can say (and the tokenizer knows).
WORDS = (
    "the a an of and with in on is are this that it its artwork painting music piece track song sound "
    "red blue yellow green black white dark bright warm cool calm quiet loud slow fast soft strong "
    "piano guitar drums bass synth strings voice melody rhythm beat chords mood style colour colours "
    "shapes lines light shadow landscape portrait abstract expressionist baroque ambient rock classical "
    "electronic minor major tempo description segment describe you are expert art provide concise "
    "subject matter emotion conveys key artistic techniques possible period school image merge "
    "previous did not meet required quality threshold issues write new fixes only what visible "
    "keep their content wording instruments genre changes between add anything say mention ask "
    "questions below descriptions consecutive second seconds one whole single paragraph where".split()
)
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<image>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }} "
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for part in m['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% else %}<image>{% endif %}{% endfor %}"
    "{% endif %}<|im_end|> {% endfor %}{% if add_generation_prompt %}<|im_start|>assistant {% endif %}"
)
VOCAB_SIZE = 512
#: The shared size of the tiny language models (head_dim 64).
TINY_LM = dict(vocab_size=VOCAB_SIZE, hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=1, num_key_value_heads=1)


def _bpe(specials: list[str], vocab_size: int):
    """A byte-level BPE (the GPT-2 / Qwen / BART family) trained on :data:`WORDS`."""
    from tokenizers import ByteLevelBPETokenizer

    trainer = ByteLevelBPETokenizer()
    corpus = [" ".join(WORDS), " ".join(w.capitalize() for w in WORDS), "This is a calm piano piece. A loud rock song, with drums!"]
    trainer.train_from_iterator(corpus, vocab_size=vocab_size, min_frequency=1, special_tokens=specials)
    return trainer


def build_tokenizer(out: Path | None, add_bos_eos: bool = False):
    """A byte-level BPE fast tokenizer with the specials above and a chat
    template (loadable as Qwen2Tokenizer, which transformers 5 forces for
    qwen2). ``add_bos_eos``: wrap every encoding in <s> ... </s> (as CLIP's
    tokenizer does)."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    core = _bpe(SPECIALS, VOCAB_SIZE - 8)._tokenizer
    if add_bos_eos:
        bos, eos = core.token_to_id("<s>"), core.token_to_id("</s>")
        core.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", bos), ("</s>", eos)])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=["<image>", "<|im_start|>", "<|im_end|>"],
    )
    assert len(tok) <= VOCAB_SIZE, len(tok)
    tok.chat_template = CHAT_TEMPLATE
    tok.model_max_length = 4096
    if out is not None:
        tok.save_pretrained(out)
    return tok


def build_qwen2(out: Path) -> Path:
    """Tiny random Qwen2 causal LM (head_dim 64: vLLM's CPU attention rejects 16)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    tok = build_tokenizer(out)
    ids = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    config = Qwen2Config(**TINY_LM, **ids, max_position_embeddings=1024, tie_word_embeddings=True)
    Qwen2ForCausalLM(config).save_pretrained(out)
    return out


def build_llava_next(out: Path) -> Path:
    """Tiny random LLaVA-NeXT (CLIP vision tower + Mistral LM), the
    architecture of llava-v1.6-mistral, with its processor."""
    import torch
    from transformers import (
        CLIPVisionConfig,
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessor,
        LlavaNextProcessor,
        MistralConfig,
    )

    torch.manual_seed(0)
    tok = build_tokenizer(None)
    image_token = tok.convert_tokens_to_ids("<image>")
    vision = CLIPVisionConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1, image_size=32, patch_size=8, projection_dim=64
    )
    ids = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    text = MistralConfig(**TINY_LM, **ids, head_dim=64, max_position_embeddings=2048, sliding_window=None)
    config = LlavaNextConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=image_token,
        image_grid_pinpoints=[[32, 32], [32, 64], [64, 32]],
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        tie_word_embeddings=False,
    )
    model = LlavaNextForConditionalGeneration(config)
    model.save_pretrained(out)
    image_processor = LlavaNextImageProcessor(
        size={"shortest_edge": 32},
        crop_size={"height": 32, "width": 32},
        image_grid_pinpoints=[[32, 32], [32, 64], [64, 32]],
    )
    processor = LlavaNextProcessor(
        image_processor=image_processor,
        tokenizer=build_tokenizer(None),
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # the CLS token, dropped by the "default" strategy
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)
    build_tokenizer(out)
    return out


def build_clip(out: Path, seed: int = 0) -> Path:
    """Tiny random CLIP (77-token text window, 32 px images) with a tokenizer
    that adds <s>/</s> and a PIL image processor."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(seed)
    tok = build_tokenizer(out, add_bos_eos=True)
    config = CLIPConfig(
        text_config=dict(
            vocab_size=VOCAB_SIZE, hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2,
            max_position_embeddings=77, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        ),
        vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=8),
        projection_dim=32,
    )
    CLIPModel(config).save_pretrained(out)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def build_bart_tokenizer(out: Path) -> Path:
    """A byte-level BPE tokenizer in BART's file layout (vocab.json +
    merges.txt, ids <s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=4)."""
    out.mkdir(parents=True, exist_ok=True)
    _bpe(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], 400).save_model(str(out))
    return out


BUILDERS = {"qwen2": build_qwen2, "llava-next": build_llava_next, "clip": build_clip, "bart-tokenizer": build_bart_tokenizer}

if __name__ == "__main__":
    kind, folder = sys.argv[1], Path(sys.argv[2])
    BUILDERS[kind](folder)
    print(folder)


def hf_to_openai(sd: dict) -> dict:
    """The test's own inverse of the OpenAI-CLIP -> transformers mapping (the
    PAC-S checkpoint layout), to check the loader against."""
    import torch

    out = {}
    for k, v in sd.items():
        if k.endswith("position_ids"):
            continue
        k2 = (
            k.replace("text_model.embeddings.token_embedding.weight", "token_embedding.weight")
            .replace("text_model.embeddings.position_embedding.weight", "positional_embedding")
            .replace("text_model.final_layer_norm", "ln_final")
            .replace("vision_model.embeddings.class_embedding", "visual.class_embedding")
            .replace("vision_model.embeddings.position_embedding.weight", "visual.positional_embedding")
            .replace("vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight")
            .replace("vision_model.pre_layrnorm", "visual.ln_pre")
            .replace("vision_model.post_layernorm", "visual.ln_post")
        )
        if k == "text_projection.weight":
            out["text_projection"] = v.T.clone()
        elif k == "visual_projection.weight":
            out["visual.proj"] = v.T.clone()
        elif ".encoder.layers." in k:
            tower, rest = k.split(".encoder.layers.")
            idx, name = rest.split(".", 1)
            prefix = ("visual." if tower == "vision_model" else "") + f"transformer.resblocks.{idx}."
            if name.startswith("self_attn.q_proj"):
                kind = name.rsplit(".", 1)[1]
                parts = [sd[f"{tower}.encoder.layers.{idx}.self_attn.{p}_proj.{kind}"] for p in "qkv"]
                out[prefix + f"attn.in_proj_{kind}"] = torch.cat(parts, 0).clone()
            elif name.startswith(("self_attn.k_proj", "self_attn.v_proj")):
                continue
            else:
                name = (
                    name.replace("self_attn.out_proj", "attn.out_proj").replace("layer_norm1", "ln_1").replace("layer_norm2", "ln_2")
                    .replace("mlp.fc1", "mlp.c_fc").replace("mlp.fc2", "mlp.c_proj")
                )
                out[prefix + name] = v.clone()
        else:
            out[k2] = v.clone()
    return out
