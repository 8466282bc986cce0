"""The three trainers take `synesthesia export webdataset` shards in place of
the built folder (unpacked once into a folder their readers read), on the
tiny configs of the model tests: MPJudge trains to the same history from
either, Art2Mus and Musipainter read the same examples and train a step."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from synesthesia.datasets.readers import shards as W
from synesthesia.flows import publish as P


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: one intra-op thread (threads only contend on a shared 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _shards(folder: Path, out: Path) -> Path:
    P.export_webdataset(folder, out, max_samples=64, log=lambda m: None)
    return out


def test_mpjudge_reads_the_same_tables_and_trains_alike_on_shards(demo_folders, tmp_path):
    from synesthesia.datasets.readers.mpd import read_preference_pairs, read_scored_pairs
    from synesthesia.models.mpjudge.config import load_config
    from synesthesia.models.mpjudge.train import train

    folder = demo_folders["mpd"]
    shards = _shards(folder, tmp_path / "shards")
    unpacked = W.training_folder(shards, "mpd")
    for split in ("train", "val", "test"):
        assert read_scored_pairs(unpacked, split).equals(read_scored_pairs(folder, split))
        assert read_preference_pairs(unpacked, split).equals(read_preference_pairs(folder, split))
    # one epoch without DPO (its reference model would double the time; the preference tables are equal above)
    config = load_config("tiny").replace(progress=False, epochs=1, batch_size=64, dpo_start_epoch=1, eval_split="val")
    on_folder = train(folder, tmp_path / "run-folder", config, log=lambda m: None)["history"]
    on_shards = train(shards, tmp_path / "run-shards", config, log=lambda m: None)["history"]
    assert len(on_shards) == 1 and on_shards[0]["n_scored"] == read_scored_pairs(folder, "train").num_rows
    for key in ("train_loss", "train_mse", "n_scored", "val_srcc", "val_mae"):
        assert on_folder[0][key] == on_shards[0][key] or (math.isnan(on_folder[0][key]) and math.isnan(on_shards[0][key])), key
    assert list((shards / W.UNPACKED).iterdir()) == [unpacked]  # unpacked once, reused by the trainer


def test_art2mus_reads_the_same_pairs_and_trains_on_shards(demo_folders, tmp_path, monkeypatch):
    import support.art2mus as H
    from synesthesia.datasets.readers.artsound import read_pairs
    from synesthesia.models.art2mus import config as C
    from synesthesia.models.art2mus.evaluate import EvalConfig
    from synesthesia.models.art2mus.model import Art2Mus, load_audioldm2
    from synesthesia.models.art2mus.tiny import save_tiny_audioldm2
    from synesthesia.models.art2mus.train import train_art2mus

    H.register(monkeypatch)
    shards = _shards(demo_folders["artsound"], tmp_path / "shards")
    folder, unpacked = read_pairs(demo_folders["artsound"]), read_pairs(W.training_folder(shards, "artsound"))
    mine = {(a, i): (s, p, q) for a, i, s, p, q in zip(folder.audio_id, folder.image_id, folder.split, folder.audio_path, folder.image_path)}
    theirs = {(a, i): (s, p, q) for a, i, s, p, q in zip(unpacked.audio_id, unpacked.image_id, unpacked.split, unpacked.audio_path, unpacked.image_path)}
    assert mine.keys() == theirs.keys()
    for k, (split, audio, image) in mine.items():
        assert theirs[k][0] == split and theirs[k][1].read_bytes() == audio.read_bytes() and theirs[k][2].read_bytes() == image.read_bytes()

    pipe = load_audioldm2(str(save_tiny_audioldm2(tmp_path / "audioldm2")))
    config = C.Art2MusConfig(audioldm2="unused", image_encoder="tiny-imagebind", embedding_dim=1024, n_tokens=2)
    train_config = C.TrainConfig(total_steps=2, batch_size=4, micro_batch_size=2, warmup_steps=1, learning_rate=1e-3, checkpoint_every=1,
                                 keep_checkpoints=1, val_artworks=0, val_seconds=0.32, val_steps=2, num_workers=0)
    summary = train_art2mus(shards, tmp_path / "run", config, train_config, C.FrontEndConfig.for_seconds(1.28),
                            EvalConfig(fad="embedder", fad_embedder="tiny-clip", ibsc_embedder="tiny-imagebind"),
                            model=Art2Mus(pipe, config), device="cpu")
    assert summary["step"] == 2 and summary["quarantined"] == 0


def test_musipainter_reads_the_same_examples_and_trains_on_shards(demo_folders, tmp_path):
    from synesthesia.models.musipainter.config import load_config
    from synesthesia.models.musipainter.data import MusipainterExamples
    from synesthesia.models.musipainter.tiny import save_tiny_beats, save_tiny_sd
    from synesthesia.models.musipainter.train import Trainer

    shards = _shards(demo_folders["museart"], tmp_path / "shards")
    folder = MusipainterExamples(demo_folders["museart"], "train", 32, 2.0)
    unpacked = MusipainterExamples(W.training_folder(shards, "museart"), "train", 32, 2.0)
    by_id = lambda ex: {ex.pairs.rows[i]["audio_id"]: ex[i] for i in range(len(ex))}  # noqa: E731
    mine, theirs = by_id(folder), by_id(unpacked)
    assert mine.keys() == theirs.keys() and folder.categories == unpacked.categories
    for k, item in mine.items():
        assert torch.equal(item["fbank"], theirs[k]["fbank"]) and torch.equal(item["pixels"], theirs[k]["pixels"])
        assert item["category_index"] == theirs[k]["category_index"]

    run = load_config("tiny")
    model = {"sd_model": str(save_tiny_sd(tmp_path / "sd", seed=2)), "beats_checkpoint": str(save_tiny_beats(tmp_path / "beats.pt", seed=1))}
    trainer = Trainer(shards, tmp_path / "run", run.replace(model, progress=False, max_steps=1))
    assert trainer.data_dir == W.training_folder(shards, "museart") and len(trainer.train_set) == len(folder)
    before = {k: v.clone() for k, v in trainer.embedder.projection.state_dict().items()}
    trainer.train_epoch(progress=False)
    assert trainer.step == 1 and any(not torch.equal(v, before[k]) for k, v in trainer.embedder.projection.state_dict().items())
    assert np.isfinite(float(trainer.embedder.projection.state_dict()[next(iter(before))].sum()))
