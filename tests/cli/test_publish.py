"""`synesthesia export …` and `synesthesia view` on the demo's Museart folder
(the smallest): the export and the shards are written, `check` reads the
export back, a push without network ends in one `error:` line that holds no
token, and `view` writes a site."""

from __future__ import annotations

from typer.testing import CliRunner

from synesthesia.cli import app

SECRET = "hf_not_a_real_token_0987654321"


def test_export_check_and_a_push_that_cannot_reach_the_hub(demo_folders, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SECRET)  # the tests run with HF_HUB_OFFLINE=1: no request leaves the machine
    runner = CliRunner()
    out = tmp_path / "hf"
    pushed = runner.invoke(app, ["export", "hf", str(demo_folders["museart"]), "--out", str(out), "--push", "someone/museart", "--private"])
    assert pushed.exit_code == 2, pushed.output
    errors = [line for line in pushed.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "could not upload to the Hugging Face Hub" in errors[0] and SECRET not in pushed.output
    assert "checked; uploading to someone/museart (private)" in pushed.output  # it got as far as the upload
    checked = runner.invoke(app, ["export", "check", str(out)])
    assert checked.exit_code == 0 and checked.output.strip().endswith(f"{out}: ok"), checked.output
    refused = runner.invoke(app, ["export", "hf", str(demo_folders["museart"]), "--out", str(tmp_path / "x"), "--no-embed-media", "--push", "a/b"])
    assert refused.exit_code == 2 and "--push needs the media embedded" in refused.output


def test_webdataset_and_view(demo_folders, tmp_path):
    runner = CliRunner()
    shards = runner.invoke(app, ["export", "webdataset", str(demo_folders["museart"]), "--out", str(tmp_path / "shards"), "--max-samples", "4"])
    assert shards.exit_code == 0 and "index.json" in shards.output, shards.output
    assert len(list((tmp_path / "shards").glob("default/*.tar"))) >= 4
    view = runner.invoke(app, ["view", str(demo_folders["museart"]), "--out", str(tmp_path / "site")])
    assert view.exit_code == 0 and (tmp_path / "site" / "index.html").is_file() and "open file://" in view.output, view.output
    missing = runner.invoke(app, ["view", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "error:" in missing.output and "no dataset.json" in missing.output


def test_export_says_what_to_install(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None if name == "datasets" else real(name, *a, **k))
    result = CliRunner().invoke(app, ["export", "hf", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "needs datasets" in result.output and "pip install" in result.output
