"""Inputs confined to their roots: symlinks and CSV rows that leave the root,
FIFOs, devices, oversized and unreadable files or folders are quarantined
with their reason, never read; an input with nothing usable stops the build
with exit 2 and the counts."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.sources.generic import scan_generic
from synesthesia.stages.ingest import IngestConfig, ingest_items

pytestmark = pytest.mark.faults


def _image(path: Path, colour=(200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), colour).save(path)
    return path


def _wav(path: Path, seconds: float = 1.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(16000 * seconds), np.float32), 16000)
    return path


def _ingest(root: Path, config: IngestConfig):
    source = scan_generic(root, config.kind, config.folder_fields)
    good, bad = ingest_items(source.root, source.items, config)
    reasons = {r["path"]: r["reason"] for r in S.from_rows(source.problems, S.QUARANTINE).to_pylist() + bad.to_pylist()}
    return good, reasons


def test_symlinks_inside_the_root_are_read_and_anything_outside_is_quarantined(tmp_path):
    outside = _image(tmp_path / "secret" / "outside.png", (1, 2, 3))
    root = tmp_path / "paintings"
    _image(root / "Baroque" / "portrait" / "a.png")
    (root / "Baroque" / "portrait" / "link-inside.png").symlink_to(root / "Baroque" / "portrait" / "a.png")
    (root / "Baroque" / "portrait" / "link-outside.png").symlink_to(outside)
    (root / "Cubism").mkdir()
    (root / "Cubism" / "escape").symlink_to(tmp_path / "secret", target_is_directory=True)
    (root / "Cubism" / "loop").symlink_to(root, target_is_directory=True)  # a cycle: walked once
    good, reasons = _ingest(root, IngestConfig.images())
    assert sorted(good.column("path").to_pylist()) == ["Baroque/portrait/a.png", "Baroque/portrait/link-inside.png"]
    assert reasons["Baroque/portrait/link-outside.png"].startswith("outside the input root: resolves to")
    assert reasons["Cubism/escape/"].startswith("outside the input root: a symlinked folder")
    assert "Cubism/escape/outside.png" not in reasons and len(reasons) == 2


def test_csv_rows_that_leave_the_root_are_quarantined_and_absolute_paths_inside_become_relative(tmp_path):
    root = tmp_path / "corpus"
    _image(root / "a.png")
    _image(root / "sub" / "b.png")
    _image(tmp_path / "x.png")
    (root / "index.csv").write_text(
        f"path,style\na.png,Baroque\n../x.png,Baroque\n{tmp_path / 'x.png'},Baroque\n{root / 'sub' / 'b.png'},Cubism\n", encoding="utf-8"
    )
    good, reasons = _ingest(root / "index.csv", IngestConfig.images())
    assert sorted(good.column("path").to_pylist()) == ["a.png", "sub/b.png"]
    assert reasons["../x.png"].startswith("outside the input root") and reasons[str(tmp_path / "x.png")].startswith("outside the input root")


def test_pipes_and_devices_are_never_opened_for_reading(tmp_path):
    root = tmp_path / "music"
    _wav(root / "jazz" / "ok.wav")
    os.mkfifo(root / "jazz" / "pipe.wav")  # reading it would block forever
    (root / "jazz" / "zero.wav").symlink_to("/dev/zero")  # reading it would never end
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(zip(("good", "reasons"), _ingest(root, IngestConfig.audio()))), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "ingest hung on a FIFO"
    assert result["good"].column("path").to_pylist() == ["jazz/ok.wav"]
    assert result["reasons"]["jazz/pipe.wav"] == "not a regular file (a pipe, socket or device)"
    assert result["reasons"]["jazz/zero.wav"].startswith("outside the input root: resolves to /dev/zero")


def test_files_over_the_size_limit_are_quarantined_unread(tmp_path):
    root = tmp_path / "paintings"
    small = _image(root / "a.png")
    _image(root / "b.png", (0, 0, 0))
    limit = small.stat().st_size
    big = root / "big.png"
    Image.effect_noise((256, 256), 64).convert("RGB").save(big)
    good, reasons = _ingest(root, IngestConfig("image", max_bytes=limit))
    assert "big.png" not in good.column("path").to_pylist()
    assert reasons["big.png"] == f"too large: {big.stat().st_size:,} bytes, over the {limit:,}-byte limit for this kind"


def test_an_unreadable_folder_is_quarantined_not_skipped(tmp_path, monkeypatch):
    """A folder the walk cannot list (permission denied: simulated, since
    root reads everything) is a quarantine row, not a silent gap."""
    root = tmp_path / "paintings"
    _image(root / "open" / "a.png")
    _image(root / "closed" / "b.png")
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == root / "closed":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    source = scan_generic(root, "image")
    assert [i.path for i in source.items] == ["open/a.png"]
    assert source.problems == [{"path": "closed/", "kind": "image", "stage": "ingest", "reason": "unreadable folder: Permission denied"}]


@pytest.mark.slow
@pytest.mark.parametrize("content", ["empty", "broken"])
def test_an_input_with_nothing_usable_stops_the_build_with_the_counts(prefect_api, tmp_path, content):
    paintings, music = tmp_path / "paintings", tmp_path / "music"
    _image(paintings / "Baroque" / "portrait" / "a.png")
    music.mkdir()
    if content == "broken":
        (music / "jazz").mkdir()
        (music / "jazz" / "a.wav").write_bytes(b"RIFF\x00\x00not a wav")
        (music / "jazz" / "b.mp3").write_bytes(b"")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "synesthesia", "build", "mpd", "--paintings", str(paintings), "--music", str(music), "--out", str(out),
         "--runner", "threads", "--workers", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    found = 2 if content == "broken" else 0
    assert error and f"no usable music tracks in {music}: {found} file(s) found, none usable" in error[0]
    assert "Traceback" not in result.stderr
    if content == "broken":
        quarantine = dio.read_table(out / "quarantine.parquet", S.QUARANTINE)
        assert sorted(quarantine.column("path").to_pylist()) == ["jazz/a.wav", "jazz/b.mp3"]
    assert not (out / "pairs.parquet").exists()
