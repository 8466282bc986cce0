"""The real `build_artsound` Prefect flow (captioning phase) on the tiny corpus:
features captioner, ACS with the packaged MiniLM, ICS with a tiny random CLIP
and PAC-S weights in the OpenAI-CLIP layout; re-run safety; the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import torch

from support.tiny_models import build_clip

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.recipes.artsound import make_config, read_kept_captions
from synesthesia.recipes.artsound import ArtSoundPairingConfig
from synesthesia.flows.artsound import build_artsound
from synesthesia.flows.runner import RunnerConfig
from synesthesia.stages.captioning import FEATURES_MODEL
from synesthesia.stages.captioning.loop import LoopConfig
from synesthesia.stages.captioning.prompts import IMAGE_PROMPT_V1
from synesthesia.stages.quality.image import ICSConfig, openai_clip_to_hf
from synesthesia.stages.quality.text import PACKAGED_MINILM, ACSConfig

#: The demo's pairing phase: MiniLM caption embeddings, Image caption–Audio caption.
PAIRING = ArtSoundPairingConfig(embedder="minilm-text", approach="caption-caption")
TABLES = ["pairs", "artworks", "tracks", "quarantine", "audio_segment_captions", "image_captions", "audio_captions"]


def _openai_layout(hf_state: dict) -> dict:
    """transformers CLIP -> the PAC-S checkpoint layout (the test's own inverse,
    checked key by key in tests/stages/test_quality.py)."""
    from support.tiny_models import hf_to_openai

    return hf_to_openai(hf_state)


@pytest.fixture(scope="module")
def inputs(tiny_corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("artsound-in")
    music = root / "music"
    shutil.copytree(tiny_corpus["music"], music)
    sr = 16_000
    t = np.arange(int(5.0 * sr)) / sr
    sf.write(music / "ambient" / "short_5s.wav", (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)  # one padded segment
    sf.write(music / "ambient" / "blip.wav", np.zeros(int(0.5 * sr), np.float32), sr)  # too short even to pad
    clip = build_clip(root / "clip", seed=0)
    pac_source = build_clip(root / "pac", seed=1)
    from transformers import CLIPModel

    layout = _openai_layout(CLIPModel.from_pretrained(pac_source).state_dict())
    assert set(openai_clip_to_hf(layout)) >= {"visual_projection.weight", "text_projection.weight"}
    torch.save({"state_dict": layout}, root / "pac.pth")
    return {"artworks": tiny_corpus["paintings"], "music": music, "clip": str(clip), "pac": str(root / "pac.pth")}


def _config(inputs):
    return make_config(
        "features",
        ics=ICSConfig(clip_model=inputs["clip"], pac_weights=inputs["pac"]),
        acs=ACSConfig(bertscore_model=PACKAGED_MINILM),
        loop=LoopConfig(),
    )


@pytest.fixture(scope="module")
def built(prefect_api, inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("artsound")
    # threads: the workers share one copy of each model (the process pool is exercised by the re-run)
    summary = build_artsound(inputs["artworks"], inputs["music"], out, _config(inputs), shard_size=5, runner=RunnerConfig("threads", 2), pairing=PAIRING)
    return out, summary


def _snapshot(out: Path) -> dict:
    return {name: pq.read_table(out / f"{name}.parquet") for name in TABLES}


def test_outputs_and_contracts(built, tiny_corpus):
    out, summary = built
    for name in TABLES + ["report", "dataset"]:
        assert any(out.glob(f"{name}.*")), name
    t = _snapshot(out)
    assert t["artworks"].schema.names == S.IMAGES.names and t["tracks"].schema.names == S.AUDIO.names
    assert t["artworks"].num_rows == tiny_corpus["n_paintings"]
    # + the 5 s track, + the corpus's 10 s "too short" file (too short for a 15 s MPD clip, one ArtSound segment)
    assert t["tracks"].num_rows == tiny_corpus["n_tracks"] + 2
    reasons = t["quarantine"]["reason"].to_pylist()
    assert t["quarantine"].num_rows == len(tiny_corpus["broken"]) - 1 + 1  # - that file, + the 0.5 s blip
    assert [r for r in reasons if "too short" in r] == ["too short: 0.50 s, need at least 1 s"]

    # segments: floor(duration / 10 s) per track, the 5 s track padded to one
    seg = t["audio_segment_captions"]
    per_track = Counter(seg["audio_id"].to_pylist())
    for aid, frames, rate, path in zip(*(t["tracks"][c].to_pylist() for c in ("audio_id", "n_frames", "sample_rate", "path"))):
        expected = max(1, (frames * 16_000 // rate) // 160_000)
        assert per_track[aid] == expected, path
    padded = seg.filter(seg["padded"])
    assert padded.num_rows == 1 and padded["end_s"][0].as_py() == 10.0
    assert set(seg["backend"].to_pylist()) == {"features"}

    # attempt tables: every attempt, exactly one kept row per item, contiguous attempts
    for name, id_col, composite, items in (("image_captions", "image_id", "ics", t["artworks"]), ("audio_captions", "audio_id", "acs", t["tracks"])):
        table = t[name]
        assert table.schema.names == getattr(S, name.upper()).names
        rows = table.to_pylist()
        kept = Counter(r[id_col] for r in rows if r["kept"])
        assert set(kept) == set(items[id_col].to_pylist()) and set(kept.values()) == {1}
        by_item: dict[str, list[dict]] = {}
        for r in rows:
            by_item.setdefault(r[id_col], []).append(r)
        for attempts in by_item.values():
            attempts.sort(key=lambda r: r["attempt"])
            assert [r["attempt"] for r in attempts] == list(range(len(attempts))) and len(attempts) <= 4
            assert all(r[composite] is not None and r["error"] is None for r in attempts)
            # regenerated exactly while below 0.80
            assert all(r[composite] < 0.80 and not r["passed"] for r in attempts[:-1])
            assert len(attempts) == 4 or attempts[-1][composite] >= 0.80
            best = max(attempts, key=lambda r: r[composite])
            assert best["kept"] or best[composite] == max(a[composite] for a in attempts if a["kept"])
    kept_images, kept_audio = read_kept_captions(out)
    assert kept_images.num_rows == t["artworks"].num_rows and kept_audio.num_rows == t["tracks"].num_rows
    images = t["image_captions"].to_pylist()
    assert all(r["backend"] == "features" and r["model"] == FEATURES_MODEL == "features-stand-in-v2" for r in images)
    assert set(seg["model"].to_pylist()) == {FEATURES_MODEL} and {r["model"] for r in t["audio_captions"].to_pylist()} == {FEATURES_MODEL}
    assert {r["prompt"] for r in images if r["attempt"] == 0} == {IMAGE_PROMPT_V1}
    for r in images:
        assert r["ics"] == pytest.approx(0.35 * r["clip_norm"] + 0.65 * r["pac_norm"])
        assert r["clip_score"] == pytest.approx(2.5 * max(r["clip_cos"], 0.0))
        assert r["pac_norm"] == pytest.approx(min(2.0 * max(r["pac_cos"], 0.0), 1.0))
    audio = t["audio_captions"].to_pylist()
    for r in audio:
        assert r["acs"] == pytest.approx(0.30 * r["rouge1"] + 0.70 * r["bertscore"])
        assert r["reference_mode"] == "concat" and r["bertscore_model"] == PACKAGED_MINILM

    manifest = dio.read_manifest(out)
    assert manifest["dataset"] == "artsound"
    assert manifest["media_roots"] == {"artworks": str(Path(tiny_corpus["paintings"]).resolve()), "music": str(Path(summary["media_roots"]["music"]))}
    assert manifest["config"]["loop"] == {"threshold": 0.8, "max_regenerations": 3, "keep": "best"}
    report = (out / "report.md").read_text()
    for heading in ("## Counts per stage", "## Quarantine", "## Caption statistics (the paper's Table 1, on our data)", "## Regeneration loop", "## Models and prompts"):
        assert heading in report
    card = (out / "README.md").read_text()
    for text in (report, card):  # the stand-in, what ACS means for it, the padded segment
        assert "**Stand-in captions.**" in text and FEATURES_MODEL in text and "ACS here measures how much of the segments' wording" in text
        assert "**Zero padding.** 1 of " in text
    # no fused caption passes by copying a segment sentence
    sentences = {s.strip() for c in seg["caption"].to_pylist() for s in c.split(". ")}
    assert not any(s.strip() in sentences for r in audio for s in r["caption"].split(". "))
    n_pass = sum(r["passed"] for r in audio if r["kept"])
    assert f"| ≥ threshold (0.80) | – | – | – | {sum(r['passed'] for r in images if r['kept'])} | – | – | – | {n_pass} |" in report
    assert summary["failed"] == {"artworks": [], "tracks": []}
    # the flow went on into the pairing phase: every captioned track paired once, by caption similarity
    pairs = t["pairs"]
    assert summary["pairing"]["pairs"] == pairs.num_rows == len(set(pairs["audio_id"].to_pylist())) == t["tracks"].num_rows
    assert len(set(pairs["image_id"].to_pylist())) == pairs.num_rows  # each artwork at most once
    assert set(pairs["approach"].to_pylist()) == {"caption-caption"}
    assert set(pairs["split"].to_pylist()) <= {"train", "val", "test"}
    assert (out / "README.md").exists() and (out / "figures" / "similarity_violins.png").exists()


def _worker_processes() -> list:
    """Live process-pool workers started by this test process."""
    import psutil

    return [p for p in psutil.Process().children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]


def test_rerun_regenerates_nothing_and_each_phase_releases_its_workers(built, inputs, monkeypatch):
    """On the process pool: the captioning phase's workers (each with its own
    models) are gone before the pairing phase starts its own."""
    from synesthesia.recipes import artsound

    out, _ = built
    before = _snapshot(out)
    parts = {p: p.stat().st_mtime_ns for p in (out / "_work").rglob("part-*.parquet")}
    at_pairing: list = []
    real_embed = artsound.embed

    def embed(*args, **kwargs):
        at_pairing.extend(_worker_processes())
        return real_embed(*args, **kwargs)

    monkeypatch.setattr(artsound, "embed", embed)
    summary = build_artsound(inputs["artworks"], inputs["music"], out, _config(inputs), shard_size=5, runner=RunnerConfig("local", 2), pairing=PAIRING)
    assert summary["pairing"]["pairs"] > 0 and at_pairing == []
    after = _snapshot(out)
    for name in TABLES:
        assert before[name].equals(after[name]), name
    assert {p: p.stat().st_mtime_ns for p in (out / "_work").rglob("part-*.parquet")} == parts


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "synesthesia", *args]


WIDE = {**os.environ, "COLUMNS": "250"}  # typer's help table wraps option names on narrow terminals


def test_cli_help_and_missing_weights_message(tmp_path, tiny_corpus):
    out = subprocess.run(_cli("build", "artsound", "--help"), capture_output=True, text=True, check=True, env=WIDE).stdout
    for option in ["--paintings", "--music", "--out", "--captioner", "--bertscore-model", "--skip-ics", "--skip-pac", "--skip-acs", "--pac-weights",
                   "--lpmusiccaps-checkpoint", "--bart-tokenizer", "--threshold", "--max-regenerations", "--openai-base-url", "--engine-option",
                   "--embedder", "--pairing", "--approach", "--captions-only"]:
        assert option in out, option
    args = ["build", "artsound", "--paintings", str(tiny_corpus["paintings"]), "--music", str(tiny_corpus["music"]), "--out", str(tmp_path / "x")]
    env = {**os.environ, "SYNESTHESIA_IMAGEBIND_CHECKPOINT": str(tmp_path / "absent.pth"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(_cli(*args, "--captioner", "features"), capture_output=True, text=True, timeout=120, env=env)
    # every missing piece in one message, no traceback, and the offline command that runs here
    assert result.returncode == 2 and "Traceback" not in result.stderr and result.stderr.startswith("error: the ArtSound build cannot start")
    for piece in ("clip_ViT-B-32.pth", "--skip-pac", "'openai/clip-vit-base-patch32'", "BERTScore model 'roberta-large'", "imagebind_huge.pth"):
        assert piece in result.stderr, piece
    offline = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("synesthesia build artsound")]
    assert offline and "--captioner features --skip-ics --bertscore-model minilm-packaged --embedder minilm-text --approach caption-caption" in offline[0]
    result = subprocess.run(_cli(*args, "--captioner", "vllm", "--skip-ics"), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "transfer.pth" in result.stderr and "--lpmusiccaps-checkpoint" in result.stderr
    # captioning needs nothing missing here, but the default pairing embedder (ImageBind) has no checkpoint
    result = subprocess.run(_cli(*args, "--captioner", "features", "--skip-ics", "--bertscore-model", "minilm-packaged"), capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2 and "imagebind_huge.pth" in result.stderr and "dl.fbaipublicfiles.com" in result.stderr
    assert not (tmp_path / "x").exists()  # stopped before doing any work


def test_demo_config_is_offline_and_labelled():
    from synesthesia.flows.demo import demo_artsound_config

    cfg = demo_artsound_config()
    assert cfg.image_captioner.backend == cfg.fusion.backend == cfg.segments.backend == "features"
    assert cfg.acs.bertscore_model == PACKAGED_MINILM and cfg.ics.skip_clip and cfg.ics.skip_pac
    assert "offline demo" in cfg.ics.skip_reason


def test_cli_pairing_options_reach_the_flow(prefect_api, tmp_path, tiny_corpus):
    """`build artsound --embedder/--approach/--pairing` run captioning and then
    pairing with exactly those choices; an unknown approach is a usage error."""
    from typer.testing import CliRunner

    from synesthesia.cli import app
    from synesthesia.datasets import io as dio

    out = tmp_path / "artsound"
    args = ["build", "artsound", "--paintings", str(tiny_corpus["paintings"]), "--music", str(tiny_corpus["music"]), "--out", str(out)]
    bad = CliRunner().invoke(app, [*args, "--captioner", "features", "--skip-ics", "--skip-acs", "--approaches", "image-image"])
    assert bad.exit_code == 2 and "image-image" in bad.output and not out.exists()
    result = CliRunner().invoke(app, [
        *args, "--captioner", "features", "--skip-ics", "--skip-acs", "--embedder", "minilm-text", "--approach", "caption-caption",
        "--pairing", "optimal-knn", "--seed", "3", "--runner", "threads", "--shard-size", "8",
    ])
    assert result.exit_code == 0, result.output
    pairs = dio.read_table(out / "pairs.parquet").to_pylist()
    assert pairs and {(p["approach"], p["method"]) for p in pairs} == {("caption-caption", "optimal-knn")}
    stats = dio.read_table(out / "pairing_stats.parquet").to_pylist()
    assert {s["embedder"] for s in stats} == {"minilm-text"}
    assert ("caption-caption", "greedy") in {(s["approach"], s["method"]) for s in stats}  # --compare (default) runs the other method too


def test_preflight_says_when_a_captioning_backend_is_not_installed(monkeypatch):
    """Before ingest, not after it inside a worker."""
    import dataclasses
    import importlib.util

    from synesthesia.recipes.artsound import preflight
    from synesthesia.flows.demo import demo_artsound_config
    from synesthesia.recipes.artsound import ArtSoundPreflightError
    from synesthesia.stages.captioning import GeneratorConfig

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None if name in ("vllm", "transformers") else real(name, *a, **k))
    for backend, install in (("vllm", r"pip install 'synesthesia\[vllm\]'"), ("transformers", r"pip install 'synesthesia\[ml\]'")):
        for field in ("image_captioner", "fusion"):
            config = dataclasses.replace(demo_artsound_config(), **{field: GeneratorConfig(backend, "some/model")})
            with pytest.raises(ArtSoundPreflightError, match=install):
                preflight(config, None)
    preflight(demo_artsound_config(), None)  # the features backend needs nothing
