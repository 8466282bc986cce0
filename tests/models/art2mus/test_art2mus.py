"""Art2Mus on a tiny random-weight AudioLDM 2 assembled from configs (offline).

Model: only the aligner trains, min-SNR weights, guidance, LoA generation,
waveform length. Data: ArtSound reading, embeddings store, validation set.
Trainer: checkpoints, exact resume, quarantine, validation metrics. CLI:
train → eval → generate.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

import support.art2mus as H
from support.tensorboard import read_events, scalars
from synesthesia.models.art2mus import config as C
from synesthesia.models.art2mus.model import Art2Mus, ImageAligner, generate_loa, load_audioldm2, min_snr_weights

SMALL_FRONT = C.FrontEndConfig.for_seconds(1.28)  # 128 frames: tiny but the real layout


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: one intra-op thread. On a shared 2-core machine, OpenMP
    threads spinning for ops this small made each step ~20x slower (measured)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from synesthesia.models.art2mus.tiny import save_tiny_audioldm2

    return save_tiny_audioldm2(tmp_path_factory.mktemp("audioldm2") / "tiny")


@pytest.fixture(scope="module")
def tiny_pipe(tiny_dir):
    return load_audioldm2(str(tiny_dir))


def _model(pipe, **overrides) -> Art2Mus:
    values = {"image_encoder": "tiny-clip", "embedding_dim": 32, "n_tokens": 3}
    values.update(overrides)
    torch.manual_seed(0)
    return Art2Mus(pipe, C.Art2MusConfig(**values))


def _embeddings(n: int, dim: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)), dim=-1)


# --- the paper's numbers ----------------------------------------------------------------------

def test_paper_defaults_are_named_and_used():
    assert C.ARTWORK_PROMPT == "Music representing the content of this artwork"
    assert C.NEGATIVE_PROMPT == "Low quality."
    assert C.DEFAULT_AUDIOLDM2 == "cvssp/audioldm2-music"
    ib, clip = C.Art2MusConfig.for_encoder("imagebind"), C.Art2MusConfig.for_encoder("clip")
    assert (ib.embedding_dim, ib.n_tokens, ib.staging_dim) == (1024, 16, 1024)
    assert (clip.embedding_dim, clip.n_tokens) == (512, 6)
    t = C.TrainConfig()
    assert (t.learning_rate, t.warmup_steps, t.total_steps, t.batch_size, t.min_snr_gamma) == (2e-5, 1324, 37_200, 128, 5.0)
    assert t.accumulation * t.micro_batch_size == 128
    assert (t.val_artworks, t.val_seconds, t.val_steps) == (100, 10.0, 200)
    assert C.from_dict(C.TrainConfig, json.loads(json.dumps(C.to_dict(t)))) == t
    assert C.from_dict(C.FrontEndConfig, json.loads(json.dumps(C.to_dict(SMALL_FRONT)))) == SMALL_FRONT
    with pytest.raises(KeyError):
        C.from_dict(C.TrainConfig, {"learnig_rate": 1.0})


def test_aligner_is_the_authors_projection_with_an_upscaler_for_clip():
    ib = ImageAligner(1024, 16, 768)
    assert isinstance(ib.upscaler, torch.nn.Identity)
    first, act, last = ib.projection
    assert (first.in_features, first.out_features, last.out_features) == (1024, 1536, 16 * 768) and isinstance(act, torch.nn.Tanh)
    assert ib(torch.randn(2, 1024)).shape == (2, 16, 768)
    clip = ImageAligner(512, 6, 768)
    assert (clip.upscaler.in_features, clip.upscaler.out_features) == (512, 1024)
    assert clip(torch.randn(3, 512)).shape == (3, 6, 768)
    a, b = ImageAligner(32, 2, 8), ImageAligner(32, 2, 8)
    a.reset_parameters(5)
    b.reset_parameters(5)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_min_snr_weights_equal_eq_11():
    betas = np.linspace(0.0015**0.5, 0.0195**0.5, 1000, dtype=np.float64) ** 2  # AudioLDM 2's scaled-linear schedule
    alphas_bar = np.cumprod(1 - betas)
    t = torch.tensor([0, 10, 100, 250, 500, 999])
    snr = alphas_bar[t.numpy()] / (1 - alphas_bar[t.numpy()])
    expected = np.minimum(snr, 5.0) / snr
    got = min_snr_weights(torch.tensor(alphas_bar), t, 5.0).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert got[0] < 1 and got[-1] == pytest.approx(1.0)  # clean timesteps down-weighted, noisy ones kept
    np.testing.assert_allclose(min_snr_weights(torch.tensor(alphas_bar), t, 5.0, "v_prediction").numpy(), np.minimum(snr, 5.0) / (snr + 1), rtol=1e-6)
    assert torch.equal(min_snr_weights(torch.tensor(alphas_bar), t, None), torch.ones(6))


def test_loa_loop_equals_diffusers_cached_generation(tiny_pipe):
    from diffusers import AudioLDM2Pipeline
    from transformers import GPT2LMHeadModel

    torch.manual_seed(1)
    lm = GPT2LMHeadModel(tiny_pipe.language_model.config).eval()
    embeds = torch.randn(2, 5, lm.config.n_embd)
    mask = torch.ones(2, 5, dtype=torch.long)

    class Holder:  # what AudioLDM2Pipeline.generate_language_model reads from `self`
        language_model = lm
        device = torch.device("cpu")

    with torch.no_grad():
        theirs = AudioLDM2Pipeline.generate_language_model(Holder(), embeds, max_new_tokens=8, attention_mask=mask)
        ours = generate_loa(lm, embeds, mask, 8)
        ours_base = generate_loa(lm.transformer, embeds, mask, 8)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(ours_base, ours)


def test_prompt_streams_equal_diffusers_encode_prompt(tiny_pipe):
    from diffusers import AudioLDM2Pipeline
    from transformers import GPT2LMHeadModel

    lm = GPT2LMHeadModel(tiny_pipe.language_model.config).eval()  # diffusers' encode_prompt needs generate()'s helpers
    lm.transformer.load_state_dict(tiny_pipe.language_model.state_dict())
    pipe = AudioLDM2Pipeline(**{**tiny_pipe.components, "language_model": lm})
    model = _model(pipe)
    t5, mask, neg_t5, neg_mask, neg_loa = model._prompts()
    with torch.no_grad():
        embeds, masks, loas = pipe.encode_prompt(model.config.prompt, torch.device("cpu"), 1, True,
                                                 negative_prompt=model.config.negative_prompt, max_new_tokens=model.loa_tokens)
    torch.testing.assert_close(neg_t5, embeds[:1])
    torch.testing.assert_close(t5, embeds[1:])
    assert torch.equal(torch.cat([neg_mask, mask]), masks)
    torch.testing.assert_close(neg_loa, loas[:1], atol=1e-5, rtol=1e-4)


# --- model -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("guidance_scale", [1.0, 3.5], ids=["eq11-as-written", "authors-guided"])
def test_one_training_step_changes_only_the_aligner(tiny_pipe, guidance_scale):
    model = _model(tiny_pipe)
    frozen = {f"{name}.{k}": v.detach().clone() for name in ("vae", "text_encoder", "text_encoder_2", "projection_model",
                                                              "language_model", "unet", "vocoder")
              for k, v in getattr(tiny_pipe, name).state_dict().items()}
    aligner_before = {k: v.clone() for k, v in model.aligner.state_dict().items()}
    assert {n for n, _ in model.named_parameters()} == {f"aligner.{n}" for n, _ in model.aligner.named_parameters()}
    optimizer = torch.optim.AdamW(model.aligner.parameters(), lr=1e-3)
    mel = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 128, 64)).astype(np.float32) - 4)
    loss, info = model.training_loss(_embeddings(2), mel, torch.Generator().manual_seed(0), min_snr_gamma=5.0, guidance_scale=guidance_scale)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.aligner.parameters())
    assert all(p.grad is None for m in (tiny_pipe.unet, tiny_pipe.language_model, tiny_pipe.vae) for p in m.parameters())
    optimizer.step()
    after = {f"{name}.{k}": v for name in ("vae", "text_encoder", "text_encoder_2", "projection_model", "language_model", "unet", "vocoder")
             for k, v in getattr(tiny_pipe, name).state_dict().items()}
    assert all(torch.equal(frozen[k], after[k]) for k in frozen)
    assert all(not torch.equal(aligner_before[k], v) for k, v in model.aligner.state_dict().items())
    # the loss is Eq. 11 with the weights of the drawn timesteps
    np.testing.assert_allclose(info["weights"], min_snr_weights(tiny_pipe.scheduler.alphas_cumprod, info["timesteps"], 5.0), rtol=1e-6)


def test_guided_training_prediction_is_the_cfg_combination(tiny_pipe):
    model = _model(tiny_pipe)
    z = torch.randn(2, 4, 32, 16)
    t = torch.tensor([10, 700])
    emb = _embeddings(2, seed=1)
    with torch.no_grad():
        plain = model.predict_noise(z, t, emb, 1.0)
        guided = model.predict_noise(z, t, emb, 3.0)
        c = model.conditions(emb)
        negative = model._unet(z, t, c["neg_loa"], c["neg_t5"], c["neg_t5_mask"])
    torch.testing.assert_close(guided, negative + 3.0 * (plain - negative), atol=1e-5, rtol=1e-5)
    # the image reaches the UNet: another embedding, another prediction
    with torch.no_grad():
        assert not torch.allclose(plain, model.predict_noise(z, t, _embeddings(2, seed=2), 1.0))


def test_generation_returns_a_waveform_of_the_requested_length(tiny_pipe):
    model = _model(tiny_pipe)
    for seconds in (0.5, 0.64):
        audio = model.generate(_embeddings(2), seconds=seconds, steps=2, generator=[torch.Generator().manual_seed(k) for k in range(2)])
        assert audio.shape == (2, int(seconds * 16_000)) and np.isfinite(audio).all()
    one = model.generate(_embeddings(1), seconds=0.5, steps=2, generator=[torch.Generator().manual_seed(0)])
    again = model.generate(_embeddings(1), seconds=0.5, steps=2, generator=[torch.Generator().manual_seed(0)])
    np.testing.assert_array_equal(one, again)


def test_a_missing_checkpoint_says_what_to_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="hf download"):
        load_audioldm2(str(tmp_path / "not-downloaded"))


# --- data ------------------------------------------------------------------------------------------------

def test_artsound_pairs_validation_set_and_embeddings_store(tmp_path, tiny_corpus, monkeypatch):
    from synesthesia.datasets.readers import artsound as D
    from synesthesia.models.art2mus.data import image_embedder_compute

    H.register(monkeypatch)
    folder = H.build_artsound(tmp_path / "artsound", tiny_corpus)
    pairs = D.read_pairs(folder)
    assert len(pairs) == 12 and pairs.split.count("train") == 8
    assert all(p.exists() for p in pairs.audio_path + pairs.image_path)
    val = D.validation_pairs(pairs, 3, seed=0)
    assert len(val) == 3 and set(val.split) == {"test"} and len(set(val.image_id)) == 3
    assert D.validation_pairs(pairs, 3, seed=0).image_id == val.image_id  # fixed set
    marked = D.read_pairs(H.build_artsound(tmp_path / "with-val", tiny_corpus, val_rows=True))
    assert D.validation_pairs(marked, 100).split == ["val", "val"]

    store = D.find_embedding_folder(folder, "image", "tiny-imagebind", 1024)
    assert store == folder / "embeddings" / "image-tiny-imagebind"
    assert D.find_embedding_folder(folder, "image", "tiny-imagebind", 512) is None
    stored = D.read_embedding_folder(store)
    calls: list[list[str]] = []
    compute = image_embedder_compute("tiny-imagebind", dict(zip(pairs.image_id, pairs.image_path)))

    def counting(ids):
        calls.append(ids)
        return compute(ids)

    cache = tmp_path / "run" / "embeddings" / "image-tiny-imagebind"
    first = D.resolve_embeddings(pairs.image_id, counting, model="tiny-imagebind", stores=[store], cache=cache, dim=1024)
    assert first.shape == (12, 1024)
    assert set(calls[0]) == set(pairs.image_id) - set(stored.ids) and calls[0]  # only what the store lacks
    index = stored.lookup()
    for k, image_id in enumerate(pairs.image_id):  # stored vectors are used as stored
        if image_id in index:
            np.testing.assert_array_equal(first[k], stored.vectors[index[image_id]])
    again = D.resolve_embeddings(pairs.image_id, counting, model="tiny-imagebind", stores=[store], cache=cache, dim=1024)
    assert len(calls) == 1 and np.array_equal(first, again)  # the cache answers the rest
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)


# --- trainer -----------------------------------------------------------------------------------------------

def _train_config(**overrides) -> C.TrainConfig:
    values = dict(total_steps=2, batch_size=4, micro_batch_size=2, warmup_steps=1, learning_rate=1e-3, checkpoint_every=1,
                  keep_checkpoints=2, val_artworks=0, val_seconds=0.32, val_steps=2, num_workers=0, train_guidance_scale=3.5)
    values.update(overrides)
    return C.TrainConfig(**values)


def test_lr_warms_up_then_stays_constant():
    from synesthesia.models.art2mus.train import lr_factor

    cfg = C.TrainConfig()
    assert lr_factor(0, cfg) == pytest.approx(1 / 1324)
    assert lr_factor(661, cfg) == pytest.approx(662 / 1324)
    assert lr_factor(1323, cfg) == 1.0 and lr_factor(30_000, cfg) == 1.0
    cosine = dataclasses.replace(cfg, lr_schedule="cosine")
    assert lr_factor(37_200, cosine) == pytest.approx(0.0, abs=1e-9)


def test_training_checkpoints_resumes_exactly_and_quarantines_bad_tracks(tmp_path, tiny_corpus, tiny_pipe, monkeypatch):
    from safetensors.torch import load_file

    from synesthesia.models.art2mus.evaluate import EvalConfig
    from synesthesia.models.art2mus.train import train_art2mus

    H.register(monkeypatch)
    data = H.build_artsound(tmp_path / "artsound", tiny_corpus, broken_track=True)
    config = C.Art2MusConfig(audioldm2="unused", image_encoder="tiny-imagebind", embedding_dim=1024, n_tokens=2)
    evals = EvalConfig(fad="embedder", fad_embedder="tiny-clip", ibsc_embedder="tiny-imagebind")

    def run(out, steps):
        return train_art2mus(data, out, config, _train_config(total_steps=steps, val_artworks=2, validate_every=2), SMALL_FRONT, evals,
                             model=Art2Mus(tiny_pipe, config), device="cpu")

    straight = tmp_path / "straight"
    summary = run(straight, 4)
    assert summary["step"] == 4
    log = pq.read_table(straight / "train_log.parquet").to_pylist()
    assert [r["step"] for r in log] == [1, 2, 3, 4] and all(np.isfinite(r["loss"]) and r["loss"] > 0 for r in log)
    assert log[0]["lr"] == pytest.approx(1e-3)  # warm-up of 1 step
    assert sorted(p.name for p in (straight / "checkpoints").iterdir()) == ["step-0000003", "step-0000004"]  # keep 2
    quarantine = pq.read_table(straight / "quarantine.parquet").to_pylist()
    assert [q["path"].endswith("damaged.wav") for q in quarantine] == [True] and quarantine[0]["stage"] == "art2mus-train"
    cached = pq.read_table(next((straight / "embeddings" / "image-tiny-imagebind").glob("part-*.parquet")))
    assert cached.num_rows > 0 and cached.schema.field("vector").type.list_size == 1024

    resumed = tmp_path / "resumed"
    run(resumed, 2)
    run(resumed, 4)  # the same command with more steps continues from step 2
    a, b = load_file(str(straight / "final" / "aligner.safetensors")), load_file(str(resumed / "final" / "aligner.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["step"] for r in pq.read_table(resumed / "train_log.parquet").to_pylist()] == [1, 2, 3, 4]
    # TensorBoard: the resumed run's curves continue from the checkpoint, equal to the uninterrupted run's
    curves, straight_curves = scalars(resumed), scalars(straight)
    for name in ("train/loss", "train/lr", "train/grad_norm"):
        assert [s for s, _ in curves[name]] == [1, 2, 3, 4], name
        assert [v for _, v in curves[name]] == pytest.approx([v for _, v in straight_curves[name]], rel=1e-5), name
    validations = pq.read_table(straight / "validation.parquet").to_pylist()
    assert [v for _, v in straight_curves["val/kl_div"]] == pytest.approx([r["kl_div"] for r in validations])
    events = read_events(straight)
    clips = [tag for tag in events.Tags()["audio"] if tag.startswith("val/generated/")]
    assert clips and {a.step for tag in clips for a in events.Audio(tag)} == {r["step"] for r in validations}
    assert events.Audio(clips[0])[0].sample_rate == 16_000
    with pytest.raises(ValueError, match="different model config"):
        train_art2mus(data, resumed, dataclasses.replace(config, n_tokens=3), _train_config(total_steps=4), SMALL_FRONT, evals,
                      model=Art2Mus(tiny_pipe, dataclasses.replace(config, n_tokens=3)), device="cpu")


def test_cli_train_eval_generate(tmp_path, tiny_corpus, tiny_dir, monkeypatch):
    import soundfile as sf
    from typer.testing import CliRunner

    from synesthesia.cli import app

    H.register(monkeypatch)
    data = H.build_artsound(tmp_path / "artsound", tiny_corpus, stored_fraction=0.0)
    run = tmp_path / "run"
    runner = CliRunner()
    metric_opts = ["--fad", "embedder", "--fad-embedder", "tiny-clip", "--ibsc-embedder", "tiny-imagebind"]
    result = runner.invoke(app, [
        "train", "art2mus", "--data", str(data), "--out", str(run), "--audioldm2", str(tiny_dir), "--encoder", "tiny-clip",
        "--embedding-dim", "32", "--tokens", "2", "--steps", "2", "--batch-size", "2", "--micro-batch-size", "2", "--warmup", "1",
        "--segment-seconds", "1.28", "--val-artworks", "2", "--val-seconds", "0.32", "--val-steps", "2", "--num-workers", "0",
        "--device", "cpu", *metric_opts,
    ])
    assert result.exit_code == 0, result.output
    assert (run / "final" / "aligner.safetensors").exists()
    assert json.loads((run / "final" / "model_config.json").read_text())["image_encoder"] == "tiny-clip"
    validation = pq.read_table(run / "validation.parquet").to_pylist()
    assert [v["step"] for v in validation] == [2]  # one epoch is longer than 2 steps: validated at the end
    v = validation[0]
    assert v["n_items"] == 2 and v["fad_model"] == "embedder:tiny-clip" and v["ibsc_model"] == "tiny-imagebind"
    assert all(np.isfinite(v[k]) for k in ("fad", "kl_div", "ibsc_artw_gemus", "ibsc_gtmus_gemus"))
    clips = sorted((run / "validation" / "step-0000002" / "generated").glob("*.wav"))
    assert len(clips) == 2 and sf.info(clips[0]).frames == int(0.32 * 16_000)

    out = tmp_path / "eval"
    result = runner.invoke(app, [
        "eval", "art2mus", "--checkpoint", str(run), "--data", str(data), "--out", str(out), "--limit", "3", "--steps", "2",
        "--seconds", "0.32", "--device", "cpu", *metric_opts,
    ])
    assert result.exit_code == 0, result.output
    table = (out / "results.md").read_text()
    assert "| Model | Emb. Model | Train Size (hrs) | Tok/Img | FAD ↓ | KL-Div ↓ | IBSc Artw-GeMus ↑ | IBSc GtMus-GeMus ↑ |" in table
    assert "FAD computed with embedder:tiny-clip; IBSc with tiny-imagebind" in table
    row = pq.read_table(out / "results.parquet").to_pylist()[0]
    assert row["n_items"] == 3 and row["tokens_per_image"] == 2 and row["emb_model"] == "tiny-clip" and row["step"] == 2
    assert row["train_hours"] == pytest.approx(8 * 1.28 / 3600)
    items = pq.read_table(next(out.glob("*/items.parquet"))).to_pylist()
    assert len(items) == 3 and all(np.isfinite(i["kl_div"]) and -1 <= i["ibsc_artw_gemus"] <= 1 for i in items)
    generated = sorted(out.glob("*/generated/*.wav"))
    mtimes = [p.stat().st_mtime_ns for p in generated]
    assert runner.invoke(app, ["eval", "art2mus", "--checkpoint", str(run), "--data", str(data), "--out", str(out), "--limit", "3",
                               "--steps", "2", "--seconds", "0.32", "--device", "cpu", *metric_opts]).exit_code == 0
    assert [p.stat().st_mtime_ns for p in generated] == mtimes  # resumed: nothing regenerated

    image = next(p for p in tiny_corpus["paintings"].rglob("*.png") if not p.name.startswith("broken"))
    wav = tmp_path / "out.wav"
    result = runner.invoke(app, ["generate", "art2mus", "--checkpoint", str(run), "--image", str(image), "--out", str(wav),
                                 "--seconds", "0.5", "--steps", "2", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    info = sf.info(wav)
    assert (info.samplerate, info.frames) == (16_000, 8000)


def test_cli_defaults_are_the_configs_defaults():
    """`train/eval/generate art2mus` take their defaults from the config, not literals."""
    import inspect

    from synesthesia.cli import models as cli
    from synesthesia.models.art2mus import config as C

    def defaults(command):
        return {name: getattr(p.default, "default", p.default) for name, p in inspect.signature(command).parameters.items()}

    train, cfg = defaults(cli.train_art2mus_cmd), C.TrainConfig()
    assert (train["steps"], train["batch_size"], train["micro_batch_size"], train["lr"], train["warmup"]) == (
        cfg.total_steps, cfg.batch_size, cfg.micro_batch_size, cfg.learning_rate, cfg.warmup_steps)
    assert (train["min_snr_gamma"], train["train_guidance_scale"], train["val_artworks"], train["val_steps"], train["val_seconds"]) == (
        cfg.min_snr_gamma, cfg.train_guidance_scale, cfg.val_artworks, cfg.val_steps, cfg.val_seconds)
    assert train["segment_seconds"] == C.FrontEndConfig().segment_seconds and train["audioldm2"] == C.DEFAULT_AUDIOLDM2
    assert (cfg.total_steps, cfg.batch_size, cfg.learning_rate, cfg.warmup_steps, cfg.min_snr_gamma) == (37_200, 128, 2e-5, 1_324, 5.0)
    for command in (cli.eval_art2mus_cmd, cli.generate_art2mus_cmd):
        d = defaults(command)
        assert (d["steps"], d["seconds"]) == (C.INFERENCE_STEPS, C.SAMPLE_SECONDS) == (200, 10.0)
