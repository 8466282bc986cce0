"""Musipainter on tiny components: BEATs (official key layout, strict load,
fbank), the projection and attentive pooling, the placeholder injection,
the Eq. 3 loss, one training step per configuration, the paper's metrics on
hand-computed similarity matrices, and the CLI end to end (train, resume,
eval, generate) on a Museart folder built by the real flow."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from synesthesia.models.fbank import kaldi_fbank
from synesthesia.models.musipainter import beats as B
from synesthesia.models.musipainter import metrics as MX
from synesthesia.models.musipainter import model as M
from synesthesia.models.musipainter.config import load_config
from synesthesia.models.musipainter.tiny import TINY_BEATS, save_tiny_beats, save_tiny_sd

torch.set_num_threads(1)  # tiny models: threads only contend on a shared 2-core machine


# --- BEATs -------------------------------------------------------------------------------------


def official_beats_layout(cfg: B.BEATsConfig = B.BEATsConfig()) -> dict[str, tuple]:
    """Parameter names and shapes of the official ``BEATs`` (unilm/beats/BEATs.py
    and backbone.py) for the fine-tuned iter3+ configuration, derived from the
    code: ``patch_embedding`` Conv2d(1, embed, p, p, bias=False); ``layer_norm``
    over embed; ``post_extract_proj`` Linear(embed → 768); ``encoder.pos_conv``
    = Sequential(weight_norm(Conv1d(768, 768, 128, groups=16), dim=2), SamePad,
    GELU) → ``0.weight_g`` [1, 1, 128], ``0.weight_v`` [768, 48, 128], ``0.bias``;
    per layer ``self_attn.{k,v,q,out}_proj`` Linear(768, 768), the relative
    position table Embedding(320, 12) — created in layer 0 and assigned to every
    other layer, so ``state_dict()`` lists it under all 12 — ``grep_linear``
    Linear(64 → 8), ``grep_a`` [1, 12, 1, 1], two LayerNorms, ``fc1``/``fc2``;
    ``encoder.layer_norm``; ``predictor`` Linear(768 → 527)."""
    e, d, f, h = cfg.embed_dim, cfg.encoder_embed_dim, cfg.encoder_ffn_embed_dim, cfg.encoder_attention_heads
    p, k = cfg.input_patch_size, cfg.conv_pos
    out = {
        "patch_embedding.weight": (e, 1, p, p), "layer_norm.weight": (e,), "layer_norm.bias": (e,),
        "post_extract_proj.weight": (d, e), "post_extract_proj.bias": (d,),
        "encoder.pos_conv.0.weight_g": (1, 1, k), "encoder.pos_conv.0.weight_v": (d, d // cfg.conv_pos_groups, k), "encoder.pos_conv.0.bias": (d,),
        "encoder.layer_norm.weight": (d,), "encoder.layer_norm.bias": (d,),
        "predictor.weight": (cfg.predictor_class, d), "predictor.bias": (cfg.predictor_class,),
    }
    for i in range(cfg.encoder_layers):
        a = f"encoder.layers.{i}."
        for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
            out[a + f"self_attn.{proj}.weight"], out[a + f"self_attn.{proj}.bias"] = (d, d), (d,)
        out[a + "self_attn.relative_attention_bias.weight"] = (cfg.num_buckets, h)
        out[a + "self_attn.grep_linear.weight"], out[a + "self_attn.grep_linear.bias"] = (8, d // h), (8,)
        out[a + "self_attn.grep_a"] = (1, h, 1, 1)
        for norm in ("self_attn_layer_norm", "final_layer_norm"):
            out[a + f"{norm}.weight"], out[a + f"{norm}.bias"] = (d,), (d,)
        out[a + "fc1.weight"], out[a + "fc1.bias"] = (f, d), (f,)
        out[a + "fc2.weight"], out[a + "fc2.bias"] = (d, f), (d,)
    return out


def test_full_size_beats_has_the_official_names_and_shapes():
    with torch.device("meta"):
        model = B.BEATs(B.BEATsConfig())
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == official_beats_layout()
    assert len(ours) == 252
    # ~90 M parameters, as the released BEATs (the shared table counted once)
    assert 89e6 < sum(p.numel() for p in model.parameters()) < 91e6
    # Musipainter's projection over layers 4, 8, 12: 3 × 768 = 2,304 → 2,304 → 768
    with torch.device("meta"):
        embedder = M.AudioEmbedder(model, 768)
    assert tuple(embedder.projection.w1.weight.shape) == (2304, 2304) and tuple(embedder.projection.w2.weight.shape) == (768, 2304)


@pytest.fixture(scope="module")
def tiny_beats_file(tmp_path_factory) -> Path:
    return save_tiny_beats(tmp_path_factory.mktemp("beats") / "beats.pt", seed=1)


def test_a_checkpoint_in_the_official_layout_loads_strictly(tiny_beats_file, tmp_path):
    state = torch.load(tiny_beats_file, weights_only=True)
    assert set(state) == {"cfg", "model"} and state["model"].keys() == official_beats_layout(TINY_BEATS).keys()
    model = B.load_beats(tiny_beats_file)
    for key, value in state["model"].items():
        assert torch.equal(model.state_dict()[key], value), key
    # strict: a missing or an unexpected tensor is an error, not a silent partial load
    for broken in ({k: v for k, v in state["model"].items() if k != "encoder.layers.3.fc1.bias"}, {**state["model"], "extra.weight": torch.zeros(1)}):
        torch.save({"cfg": state["cfg"], "model": broken}, tmp_path / "bad.pt")
        with pytest.raises(RuntimeError):
            B.load_beats(tmp_path / "bad.pt")


def test_missing_beats_checkpoint_says_where_to_get_it(monkeypatch, tmp_path):
    monkeypatch.delenv(B.CHECKPOINT_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="microsoft/unilm/tree/master/beats"):
        B.load_beats(None)
    with pytest.raises(FileNotFoundError, match="BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt"):
        B.load_beats(tmp_path / "absent.pt")


def test_fbank_is_the_official_preprocess_and_tokens_follow_the_patches(tiny_beats_file):
    assert (B.FBANK_MEAN, B.FBANK_STD, B.SAMPLE_RATE) == (15.41663, 6.55582, 16_000)
    assert B.BEATS_FBANK.window == "povey" and B.BEATS_FBANK.num_mel_bins == 128
    y = (np.random.default_rng(0).standard_normal(16_000 * 4) * 0.1).astype(np.float32)
    fb = B.beats_fbank(y)
    expected = (kaldi_fbank(y * 32768, B.BEATS_FBANK) - 15.41663) / (2 * 6.55582)
    assert fb.shape == (398, 128)
    np.testing.assert_allclose(fb, expected, rtol=1e-6)
    model = B.load_beats(tiny_beats_file)
    with torch.no_grad():
        out = model.layer_outputs(torch.from_numpy(fb)[None], (4, 8, 12))
        again = model.layer_outputs(torch.from_numpy(fb)[None], (4, 8, 12))
        last = model.layer_outputs(torch.from_numpy(fb)[None], (12,))
    assert out.shape == (1, B.n_tokens(len(y), TINY_BEATS), 3 * TINY_BEATS.encoder_embed_dim) == (1, 24 * 8, 72)
    assert torch.equal(out, again) and torch.equal(out[..., -24:], last)
    assert B.n_tokens(30 * 16_000) == 187 * 8  # 30 s: 2,998 frames → 187 × 8 patches


# --- projection, pooling, injection, loss ----------------------------------------------------------


@pytest.mark.parametrize("hidden", [M.POOLING_HIDDEN, 0], ids=["authors-tanh-head", "linear"])
def test_attentive_pooling_weights_sum_to_one_and_pool_the_sequence(hidden):
    pool = M.AttentivePooling(6, hidden)
    x = torch.randn(3, 11, 6)
    pooled, w = pool(x)
    assert w.shape == (3, 11) and torch.allclose(w.sum(-1), torch.ones(3)) and (w > 0).all()
    assert torch.allclose(pooled, (w[..., None] * x).sum(1), atol=1e-6)
    last = pool.score[-1] if hidden else pool.score
    if hidden:  # the score is the authors' Linear → tanh → Linear
        assert isinstance(pool.score[1], torch.nn.Tanh) and pool.score[0].out_features == hidden == 384
        expected = pool.score[2](torch.tanh(pool.score[0](x))).squeeze(-1).softmax(-1)
        assert torch.allclose(w, expected, atol=1e-6)
    # with a zero score every token weighs the same: the mean
    torch.nn.init.zeros_(last.weight), torch.nn.init.zeros_(last.bias)
    assert torch.allclose(pool(x)[0], x.mean(1), atol=1e-6)


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory) -> Path:
    return save_tiny_sd(tmp_path_factory.mktemp("sd") / "sd", seed=2)


def _text(sd_path):
    from transformers import CLIPTextModel, CLIPTokenizer

    return CLIPTokenizer.from_pretrained(sd_path, subfolder="tokenizer"), CLIPTextModel.from_pretrained(sd_path, subfolder="text_encoder")


def test_the_audio_token_replaces_exactly_the_placeholder(tiny_sd):
    tokenizer, text_encoder = _text(tiny_sd)
    pid = M.add_placeholder(tokenizer, text_encoder)
    assert M.add_placeholder(tokenizer, text_encoder) == pid  # once
    ids = M.prompt_ids(tokenizer, M.PROMPT, 2, "cpu")
    position = int((ids[0] == pid).nonzero())
    assert (ids == pid).sum() == 2 and tokenizer.decode(ids[0, 1:position]).replace(" ", "") == "anartimageof"
    tokens = torch.randn(2, text_encoder.config.hidden_size)
    table = text_encoder.get_input_embeddings()
    with M.injected(text_encoder, pid, tokens):
        embedded = table(ids)
    plain = table(ids)
    assert torch.equal(embedded[:, position], tokens)
    mask = ids != pid
    assert torch.equal(embedded[mask], plain[mask])
    # training (hook) and generation (token written into the table) condition the UNet identically
    states = M.encode_prompt_with_audio(tokenizer, text_encoder, pid, tokens[:1])
    M.write_token(text_encoder, pid, tokens[0])
    assert torch.allclose(states, text_encoder(ids[:1])[0], atol=1e-6)


def test_label_embedding_is_the_mean_over_the_labels_tokens_in_either_space(tiny_sd):
    tokenizer, text_encoder = _text(tiny_sd)
    ids = tokenizer("Baroque", return_tensors="pt").input_ids
    with torch.no_grad():
        rows = text_encoder.get_input_embeddings()(ids)[0]
        states = text_encoder(ids)[0][0]
    default = M.label_embeddings(tokenizer, text_encoder, ["Heavy metal", "Baroque"])
    assert default.shape == (2, text_encoder.config.hidden_size)
    # default: the input-embedding rows of the label's tokens, the space the audio token replaces a row of
    assert torch.allclose(default[1], rows[1:-1].mean(0))
    assert torch.equal(default, M.label_embeddings(tokenizer, text_encoder, ["Heavy metal", "Baroque"], "input_embeddings"))
    output = M.label_embeddings(tokenizer, text_encoder, ["Heavy metal", "Baroque"], "text_encoder_output")
    assert torch.allclose(output[1], states[1:-1].mean(0))
    assert not torch.allclose(output, default)  # the two readings differ
    with pytest.raises(ValueError, match="label space"):
        M.label_embeddings(tokenizer, text_encoder, ["Baroque"], "logits")


def test_loss_equals_eq3_on_a_hand_made_example():
    pred, target = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, 2.0], [1.0, 1.0]])  # MSE = (1+0+1+1)/4
    tokens = torch.tensor([[3.0, -4.0], [0.0, 2.0]])  # |e| per example: mean 3.5 and 1 → 2.25; sum 7 and 2 → 4.5
    labels = torch.tensor([[3.0, -4.0], [2.0, 0.0]])  # cos: 1 and 0 → (1 − cos)²: 0 and 1 → mean 0.5
    out = M.musipainter_loss(pred, target, tokens, labels, lambda_l1=0.01, lambda_cl=0.01)  # default: the mean
    assert out["ldm"].item() == pytest.approx(0.75) and out["l1"].item() == pytest.approx(2.25) and out["cl"].item() == pytest.approx(0.5)
    assert out["loss"].item() == pytest.approx(0.75 + 0.01 * 2.25 + 0.01 * 0.5)
    printed = M.musipainter_loss(pred, target, tokens, labels, lambda_l1=0.01, lambda_cl=0.01, l1_reduction="sum")  # Eq. 3 as printed
    assert printed["l1"].item() == pytest.approx(4.5) and printed["loss"].item() == pytest.approx(0.75 + 0.01 * 4.5 + 0.01 * 0.5)
    with pytest.raises(ValueError, match="l1_reduction"):
        M.musipainter_loss(pred, target, tokens, labels, l1_reduction="max")


def test_the_l1_readings_differ_by_the_token_width_at_sd_size():
    # SD v1-4's 768-d token: the printed sum is 768x the authors' mean, so with λ = 0.01 it is as large as L_LDM (~0.1-1)
    tokens = torch.randn(4, 768) * 0.02  # the scale of CLIP's input embeddings
    zeros = torch.zeros(4, 4)
    mean = M.musipainter_loss(zeros, zeros, tokens, tokens)["l1"]
    total = M.musipainter_loss(zeros, zeros, tokens, tokens, l1_reduction="sum")["l1"]
    assert total.item() == pytest.approx(768 * mean.item(), rel=1e-5)
    assert 0.01 * total.item() > 0.1 > 100 * 0.01 * mean.item()


def test_paper_defaults():
    cfg = M.MusipainterConfig()
    assert (cfg.lambda_l1, cfg.lambda_cl, cfg.beats_layers, cfg.prompt, cfg.sd_model) == (0.01, 0.01, (4, 8, 12), "an art image of <*>", "CompVis/stable-diffusion-v1-4")
    assert (cfg.clip_seconds, cfg.image_size) == (30.0, 512)
    assert (cfg.l1_reduction, cfg.label_space) == ("mean", "input_embeddings")  # the readings of the authors' training
    with pytest.raises(ValueError, match="label_space"):
        M.MusipainterConfig(label_space="outputs")
    m1, m2 = load_config("model1").train, load_config("model2").train
    assert (m1.trainable, m1.epochs, m1.lr, m1.batch_size, m1.val_batch_size, m1.lr_schedule) == ("projection", 25, 8e-5, 8, 1, "cosine")
    assert (m2.trainable, m2.epochs, m2.lr, m2.batch_size, m2.val_batch_size, m2.lr_schedule) == ("projection+beats+unet", 50, 1e-5, 8, 8, "cosine")


# --- the paper's metrics ---------------------------------------------------------------------------


def test_ais_and_iis_on_hand_computed_similarities():
    # perfect: each generated item is similar only to its own reference → x = 1 → 100
    assert MX.ais(np.eye(3), [0, 1, 2]) == pytest.approx(100.0)
    # no preference: x = 0.5 − (0.5 + 0.5)/3 → Eq. 5 divides the sum over j ≠ i by T
    sim = np.full((2, 3), 0.5)
    x = 0.5 - 1.0 / 3
    assert MX.ais(sim, [0, 2]) == pytest.approx((1 - math.acos(x) / math.pi) * 100)
    sim = np.array([[0.9, 0.1, 0.2], [0.3, 0.4, 0.8]])
    x = ((0.9 - 0.3 / 3) + (0.8 - 0.7 / 3)) / 2
    assert MX.iis(sim, [0, 2]) == pytest.approx((1 - math.acos(x) / math.pi) * 100)
    assert MX.arccos_percentage(0.0) == pytest.approx(50.0)


def test_giils_on_a_hand_computed_matrix():
    sim = np.array([[1.0, 0.8, 0.1], [0.8, 1.0, 0.3], [0.1, 0.3, 1.0]])
    labels = ["a", "a", "b"]
    # label a, ordered pairs (0,1), (1,0); G = 3: row means over k ≠ i are (0.9/3, 1.1/3)
    x_a = ((0.8 - 0.9 / 3) + (0.8 - 1.1 / 3)) / 2
    assert MX.giils(sim, labels) == {"a": pytest.approx((1 - math.acos(x_a) / math.pi) * 100)}  # "b" has no pair


def test_giils_uses_a_seeded_sample_of_ten_images_per_category():
    from synesthesia.models.musipainter.evaluate import PAPER_GIILS_IMAGES, EvalConfig

    assert PAPER_GIILS_IMAGES == 10 and EvalConfig().giils_images == PAPER_GIILS_IMAGES
    labels = ["a"] * 25 + ["b"] * 3 + ["c"] + ["a"] * 5
    idx = MX.giils_sample(labels, PAPER_GIILS_IMAGES, seed=1)
    picked = [labels[i] for i in idx]
    assert (picked.count("a"), picked.count("b"), picked.count("c")) == (10, 3, 1)  # capped, or all the category has
    assert list(idx) == sorted(set(idx.tolist()))  # no repeats, original order
    assert np.array_equal(idx, MX.giils_sample(labels, 10, seed=1)) and not np.array_equal(idx, MX.giils_sample(labels, 10, seed=2))
    assert np.array_equal(MX.giils_sample(labels, None), np.arange(len(labels)))
    with pytest.raises(ValueError):
        EvalConfig(giils_images=1)


# --- training and the CLI on a real Museart folder --------------------------------------------------


@pytest.fixture(scope="module")
def museart_dir(prefect_api, tmp_path_factory) -> Path:
    from synesthesia.recipes import museart as MU
    from synesthesia.datasets.synthetic_museart import MuseartCorpusSpec, make_museart_corpus
    from synesthesia.flows.runner import RunnerConfig
    from synesthesia.flows.museart import build_museart

    spec = MuseartCorpusSpec(categories=2, tracks_per_category=4, min_segments=1, max_segments=1, image_size=48, layout="folders", seed=9, broken=False)
    corpus = make_museart_corpus(tmp_path_factory.mktemp("mp-corpus"), spec)
    out = tmp_path_factory.mktemp("mp-museart")
    build_museart(corpus["images"], corpus["audio"], out, MU.MuseartConfig(seed=1, split="paper"), None, shard_size=8, runner=RunnerConfig("threads", 2))
    return out


def _run(tiny_sd, tiny_beats_file, trainable="projection", **train):
    run = load_config("tiny")
    model = {"sd_model": str(tiny_sd), "beats_checkpoint": str(tiny_beats_file)}
    return run.replace(model, trainable=trainable, progress=False, **train)


@pytest.mark.parametrize("trainable", ["projection", "projection+beats+unet"])
def test_one_training_step_changes_only_the_trainable_parameters(museart_dir, tiny_sd, tiny_beats_file, trainable):
    from synesthesia.models.musipainter.train import Trainer

    trainer = Trainer(museart_dir, museart_dir / f"run-{trainable}", _run(tiny_sd, tiny_beats_file, trainable, max_steps=1))
    modules = {"projection": trainer.embedder.projection, "beats": trainer.embedder.beats, "unet": trainer.unet,
               "vae": trainer.vae, "text_encoder": trainer.text_encoder}
    before = {name: {k: v.clone() for k, v in m.state_dict().items()} for name, m in modules.items()}
    trainer.train_epoch(progress=False)
    assert trainer.step == 1
    expected = set(trainable.split("+"))
    for name, module in modules.items():
        changed = [k for k, v in module.state_dict().items() if not torch.equal(v, before[name][k])]
        assert bool(changed) == (name in expected), (name, changed[:3])


def test_cli_trains_resumes_evaluates_and_generates(museart_dir, tiny_sd, tiny_beats_file, tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    import support.art2mus as art2mus_helpers
    from synesthesia.cli import app
    from synesthesia.datasets import io as dio

    art2mus_helpers.register(monkeypatch)  # a small image+audio embedder, registered by name (no ImageBind weights here)
    runner = CliRunner()
    run_dir = tmp_path / "run"
    common = ["--data", str(museart_dir), "--out", str(run_dir), "--config", "tiny", "--sd-model", str(tiny_sd), "--beats-checkpoint", str(tiny_beats_file)]
    first = runner.invoke(app, ["train", "musipainter", *common, "--max-steps", "1"])
    assert first.exit_code == 0, first.output
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1]
    second = runner.invoke(app, ["train", "musipainter", *common])  # resumes with epoch 2 of 2
    assert second.exit_code == 0, second.output
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2] and all(np.isfinite(h["val_loss"]) for h in history)
    best_epoch = min(history, key=lambda h: h["val_loss"])["epoch"]
    # TensorBoard: per-step curves continue across the resume; validation losses and generated images per epoch
    from support.tensorboard import read_events, scalars

    curves = scalars(run_dir)
    steps = [h["step"] for h in history]
    assert [s for s, _ in curves["train/loss"]] == list(range(1, steps[-1] + 1))
    assert all(np.isfinite(v) for _, v in curves["train/grad_norm"]) and curves["train/ldm"] and curves["train/cl"]
    assert curves["val/loss"] == [(s, pytest.approx(h["val_loss"])) for s, h in zip(steps, history)]
    images = sorted(read_events(run_dir).Images("val/generated"), key=lambda im: im.step)  # files read in name order
    assert [im.step for im in images] == steps and (images[0].width, images[0].height) == (2 * 32, 32)  # two samples side by side
    assert torch.load(run_dir / "best.pt", weights_only=False)["epoch"] == best_epoch  # validation loss picks the checkpoint
    refused = runner.invoke(app, ["train", "musipainter", *common[:-4], "--sd-model", str(tiny_sd), "--beats-checkpoint", str(tiny_beats_file), "--config", "model1"])
    assert refused.exit_code != 0  # another config into the same run folder

    out = tmp_path / "eval"
    result = runner.invoke(app, ["eval", "musipainter", "--checkpoint", str(run_dir), "--data", str(museart_dir), "--out", str(out), "--n", "6",
                                 "--steps", "2", "--embedder", "tiny-imagebind", "--fid-model", "embedder", "--split", "train",
                                 "--giils-images", "2"])
    assert result.exit_code == 0, result.output
    table = dio.read_table(out / "results.parquet").to_pylist()[0]
    assert table["n_generated"] == len(list(out.glob("*/generated/*.png"))) > 0
    assert 0 <= table["ais"] <= 100 and 0 <= table["iis"] <= 100 and table["fid"] >= 0
    assert table["fid_features"] == "tiny-imagebind image features" and table["similarity_model"] == "tiny-imagebind"
    assert "| MODEL | AIS ↑ | IIS ↑ | FID ↓ |" in (out / "results.md").read_text()
    giils = dio.read_table(out / "giils.parquet").to_pylist()  # the train split: 3 pairs in each of 2 categories
    assert len(giils) == 2 and all(g["n_images"] == 2 and 0 <= g["giils"] <= 100 for g in giils)  # capped by --giils-images

    audio = next((museart_dir / "clips").rglob("*.flac"))
    png = tmp_path / "out.png"
    result = runner.invoke(app, ["generate", "musipainter", "--checkpoint", str(run_dir), "--audio", str(audio), "--out", str(png), "--n", "3", "--steps", "2"])
    assert result.exit_code == 0, result.output
    from PIL import Image

    with Image.open(png) as im:
        assert im.size == (3 * 32, 32)
        tiles = [np.asarray(im.convert("RGB").crop((32 * k, 0, 32 * (k + 1), 32)), dtype=np.float32) for k in range(3)]
    assert all(t.std() > 0 for t in tiles)  # real images, not blank tiles
    assert not np.array_equal(tiles[0], tiles[1]) and not np.array_equal(tiles[1], tiles[2])  # one noise seed per image


def test_missing_stable_diffusion_says_how_to_get_it(tmp_path):
    from synesthesia.models.musipainter.pipeline import load_sd_components

    with pytest.raises(FileNotFoundError, match="hf download CompVis/stable-diffusion-v1-4"):
        load_sd_components(str(tmp_path / "no-such-model"))
