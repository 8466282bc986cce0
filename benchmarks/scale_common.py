"""Shared by the scale benchmarks (``mpd_paper_scale.py``, ``artsound_scale.py``):
a corpus of realistic media cached on disk, and per-stage accounting of wall
time, CPU time and memory across the whole process tree (this process, the
Prefect server it started, the task runner's worker processes).

What "Prefect's share" counts
-----------------------------
* the Prefect server process's CPU time (it records every flow and task run);
* this process's CPU time inside ``run_shards`` (task submission, futures,
  state changes, progress) — the recipes' own work happens in
  the workers;
* the workers' CPU time beyond what the shard steps themselves used
  (``flows.tasks._run_step`` reports each step's own CPU time): task
  start-up, argument transfer, state reporting;
* this process's CPU time inside a flow call but outside every stage
  (flow start and end).

Its wall-clock share counts the flow calls' time outside the stages plus, per
``run_shards`` call, its wall time beyond the shortest possible makespan of
its steps (max(Σ step wall / workers, the longest step)).
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import psutil  # a dependency of dask.distributed

MiB = 2**20


def cache_dir(explicit: str | None) -> Path:
    """Where generated corpora are kept between runs."""
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "synesthesia-bench"


def cached_corpus(folder: Path, spec: dict, make: Callable[[Path], dict]) -> dict:
    """``make(folder)`` once per ``spec``; a later run with the same spec reuses the files."""
    marker = folder / "corpus.json"
    if marker.exists():
        saved = json.loads(marker.read_text())
        if saved.get("spec") == spec:
            return saved["written"]
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    written = make(folder)
    written["generated_s"] = round(time.perf_counter() - t0, 1)
    marker.write_text(json.dumps({"spec": spec, "written": written}, indent=2))
    return written


def parallel(fn: Callable, jobs: list, workers: int) -> list:
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(fn, jobs, chunksize=max(1, len(jobs) // (workers * 8))))


# --- realistic media ----------------------------------------------------------------

def write_painting(job: tuple) -> tuple[str, int]:
    """One painting: a procedural style image drawn small, scaled to
    ``megapixels`` (aspect 0.6–1.6) with grain, saved as JPEG (quality 88–95),
    PNG or PNG with an alpha channel. Returns (path, bytes)."""
    from PIL import Image

    from synesthesia.datasets.synthetic import PAINTING_STYLES, painting_pixels

    path, style, seed, megapixels, fmt = job
    if Path(path).exists():  # written by an earlier, interrupted run (files appear whole: see below)
        return str(path), Path(path).stat().st_size
    rng = np.random.default_rng(seed)
    aspect = float(rng.uniform(0.6, 1.6))
    w = max(16, int(round(np.sqrt(megapixels * 1e6 * aspect))))
    h = max(16, int(round(megapixels * 1e6 / w)))
    base = Image.fromarray(painting_pixels(style, rng, 160)).resize((w, h), Image.Resampling.BICUBIC)
    pixels = np.asarray(base, dtype=np.int16)
    # Grain, so that files are as large as photographed paintings (~1-3 bits/pixel).
    grain = rng.integers(-14, 15, size=(h, 1, 1), dtype=np.int16) + rng.integers(-14, 15, size=(1, w, 3), dtype=np.int16)
    pixels = np.clip(pixels + grain + rng.integers(-3, 4, size=pixels.shape, dtype=np.int16), 0, 255).astype(np.uint8)
    img = Image.fromarray(pixels)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(f"{path}.tmp")
    if fmt == "rgba":
        alpha = Image.linear_gradient("L").resize((w, h))
        img.putalpha(alpha)
        img.save(tmp, format="PNG")
    elif fmt == "png":
        img.save(tmp, format="PNG")
    else:
        img.save(tmp, format="JPEG", quality=int(rng.integers(88, 96)))
    tmp.replace(path)
    assert style in PAINTING_STYLES
    return str(path), Path(path).stat().st_size


AUDIO_FORMATS = {"mp3": ("MP3", "MPEG_LAYER_III"), "ogg": ("OGG", "VORBIS"), "flac": ("FLAC", "PCM_16")}


def write_track(job: tuple) -> tuple[str, int, float]:
    """One stereo track of generated music (a different part on each channel)
    at ``sr``, encoded by libsndfile (LAME, libvorbis, libFLAC). Returns
    (path, bytes, seconds)."""
    import soundfile as sf

    from synesthesia.datasets.synthetic import synth_track

    path, genre, seed, seconds, sr, ext = job
    if Path(path).exists():
        return str(path), Path(path).stat().st_size, seconds
    rng = np.random.default_rng(seed)
    left = synth_track(genre, seconds, sr, rng)
    right = 0.8 * np.roll(left, int(0.013 * sr)) + 0.2 * synth_track(genre, seconds, sr, rng)
    stereo = np.stack([left, right], axis=1).astype(np.float32)
    fmt, subtype = AUDIO_FORMATS[ext]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(f"{path}.tmp")
    with sf.SoundFile(tmp, "w", sr, 2, format=fmt, subtype=subtype) as f:
        for s in range(0, len(stereo), 1 << 16):  # libsndfile 1.2's Vorbis encoder crashes on one long write
            f.write(stereo[s : s + (1 << 16)])
    tmp.replace(path)
    return str(path), Path(path).stat().st_size, seconds


def id3_tag(text: str) -> bytes:
    """An ID3v2.3 tag with one comment frame (what taggers prepend to MP3s)."""
    import struct

    payload = b"\x00eng\x00" + text.encode("latin-1")
    frame = b"COMM" + struct.pack(">I", len(payload)) + b"\x00\x00" + payload
    size = len(frame)
    synchsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x03\x00\x00" + synchsafe + frame


def tagged_copy(source: Path, path: Path, text: str) -> int:
    """``source`` (an MP3) copied to ``path`` behind its own ID3 tag: distinct
    bytes for ingest's deduplication, the same audio for the decoder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = id3_tag(text) + source.read_bytes()
    path.write_bytes(data)
    return len(data)


def pick_formats(rng: np.random.Generator, n: int, weights: dict[str, float]) -> list[str]:
    names = list(weights)
    p = np.array([weights[k] for k in names], dtype=float)
    return [names[i] for i in rng.choice(len(names), n, p=p / p.sum())]


# --- process-tree accounting ------------------------------------------------------------

def _kind(proc: psutil.Process) -> str:
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return "worker"
    return "server" if ("prefect.server" in cmd or "uvicorn" in cmd) else "worker"


class Sampler(threading.Thread):
    """Polls this process and its descendants: CPU seconds per pid (the last
    value seen survives the process), peak RSS per kind."""

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        self.interval = interval
        self.me = psutil.Process()
        self.cpu: dict[int, tuple[str, float]] = {}
        self.active: list[dict] = []  # the peak-RSS dicts of the stages running now
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.kinds: dict[int, str] = {}

    def sample(self) -> None:
        procs = [self.me]
        try:
            procs += self.me.children(recursive=True)
        except psutil.Error:
            pass
        workers_total = 0
        with self.lock:
            for p in procs:
                try:
                    t = p.cpu_times()
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                kind = "main" if p.pid == self.me.pid else self.kinds.setdefault(p.pid, _kind(p))
                self.cpu[p.pid] = (kind, t.user + t.system)
                for peak in self.active:
                    peak[kind] = max(peak[kind], rss)
                if kind == "worker":
                    workers_total += rss
            for peak in self.active:
                peak["workers_total"] = max(peak["workers_total"], workers_total)

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            self.sample()

    def snapshot(self) -> dict[str, float]:
        self.sample()
        with self.lock:
            out = {"main": 0.0, "server": 0.0, "worker": 0.0}
            for kind, cpu in self.cpu.values():
                out[kind] += cpu
            return out

    def track(self) -> dict:
        peak = {"main": 0, "server": 0, "worker": 0, "workers_total": 0}
        with self.lock:
            self.active.append(peak)
        return peak

    def untrack(self, peak: dict) -> None:
        with self.lock:
            self.active = [p for p in self.active if p is not peak]

    def stop(self) -> None:
        self.stop_event.set()


@dataclass
class StageRow:
    name: str
    wall: float = 0.0
    cpu: dict = field(default_factory=dict)
    peak: dict = field(default_factory=dict)
    steps: int = 0
    step_wall: float = 0.0
    step_cpu: float = 0.0
    shards_wall: float = 0.0  # wall time inside run_shards
    shards_main_cpu: float = 0.0  # this process's CPU inside run_shards
    shards_overhead_wall: float = 0.0  # run_shards wall beyond the ideal packing of its steps
    depth: int = 0  # 1: inside another stage (its time is also in the outer one)
    start: float = 0.0


class _Detached:
    """What an :class:`Accounting` becomes when pickled: Prefect pickles the
    flow's function (with the wrappers in its globals) for the worker
    processes, which never call the wrappers."""


class Accounting:
    """Per-stage accounting; see the module docstring for Prefect's share."""

    def __reduce__(self):
        return (_Detached, ())

    def __init__(self, workers: int):
        self.workers = workers
        self.sampler = Sampler()
        self.rows: list[StageRow] = []
        self.flows: list[dict] = []
        self.current: StageRow | None = None
        self.started = time.perf_counter()
        self.cpu0 = None

    def __enter__(self):
        self.sampler.start()
        self.cpu0 = self.sampler.snapshot()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.total_wall = time.perf_counter() - self.started
        end = self.sampler.snapshot()
        self.total_cpu = {k: end[k] - self.cpu0[k] for k in end}
        self.sampler.stop()

    @contextmanager
    def stage(self, name: str):
        outer = self.current
        row = StageRow(name, depth=0 if outer is None else outer.depth + 1, start=time.perf_counter())
        self.current = row
        peak = self.sampler.track()
        before, t0 = self.sampler.snapshot(), time.perf_counter()
        try:
            yield row
        finally:
            row.wall = time.perf_counter() - t0
            after = self.sampler.snapshot()
            row.cpu = {k: after[k] - before[k] for k in after}
            self.sampler.untrack(peak)
            row.peak = {k: v / MiB for k, v in peak.items()}
            self.rows.append(row)
            self.current = outer

    @contextmanager
    def flow(self, name: str):
        """A flow call: its time outside the stages is Prefect's."""
        stages_before = len(self.rows)
        before, t0 = self.sampler.snapshot(), time.perf_counter()
        try:
            yield
        finally:
            wall = time.perf_counter() - t0
            after = self.sampler.snapshot()
            inner = [r for r in self.rows[stages_before:] if r.depth == 0]
            self.flows.append({
                "name": name,
                "wall": wall,
                "outside_wall": wall - sum(r.wall for r in inner),
                "outside_main_cpu": (after["main"] - before["main"]) - sum(r.cpu.get("main", 0.0) for r in inner),
            })

    def wrap_stage(self, module, attr: str, name: str | Callable | None = None) -> None:
        """Time every call of ``module.attr`` as a stage (``name``: a label,
        or a function of the call's arguments that returns one)."""
        fn = getattr(module, attr)

        def wrapped(*args, **kwargs):
            label = name(*args, **kwargs) if callable(name) else (name or attr)
            with self.stage(label):
                return fn(*args, **kwargs)

        setattr(module, attr, wrapped)

    def wrap_run_shards(self) -> None:
        """Account every stage's shards: wraps ``synesthesia.flows.tasks.run_shards``,
        which each flow's ``shard_runner`` hands its recipe."""
        import synesthesia.flows.tasks as tasks

        fn = tasks.run_shards
        acct = self

        def run_shards(task_runner, step, shards, **kwargs):
            t0, c0 = time.perf_counter(), time.process_time()
            results = fn(task_runner, step, shards, **kwargs)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            row = acct.current
            if row is not None:
                walls = [r.get("seconds", 0.0) for r in results]
                row.steps += len(results)
                row.step_wall += sum(walls)
                row.step_cpu += sum(r.get("cpu_seconds", 0.0) for r in results)
                row.shards_wall += wall
                row.shards_main_cpu += cpu
                # The shortest possible makespan of these steps on the workers:
                # what is beyond it is orchestration, not the sharding's imbalance.
                ideal = max(sum(walls) / max(1, min(acct.workers, len(walls))), max(walls, default=0.0))
                row.shards_overhead_wall += max(0.0, wall - ideal)
            return results

        tasks.run_shards = run_shards

    # --- the summary ------------------------------------------------------------------

    def prefect_share(self) -> dict:
        server = self.total_cpu["server"]
        main_in_shards = sum(r.shards_main_cpu for r in self.rows)
        workers_beyond_steps = max(0.0, self.total_cpu["worker"] - sum(r.step_cpu for r in self.rows))
        flow_main = sum(f["outside_main_cpu"] for f in self.flows)
        cpu = server + main_in_shards + workers_beyond_steps + flow_main
        wall = sum(f["outside_wall"] for f in self.flows) + sum(r.shards_overhead_wall for r in self.rows)
        total_cpu = sum(self.total_cpu.values())
        return {
            "cpu_s": cpu, "cpu_share": cpu / total_cpu if total_cpu else 0.0,
            "wall_s": wall, "wall_share": wall / self.total_wall if self.total_wall else 0.0,
            "server_cpu_s": server, "main_in_run_shards_cpu_s": main_in_shards,
            "workers_beyond_steps_cpu_s": workers_beyond_steps, "flow_start_end_main_cpu_s": flow_main,
        }

    def print_table(self) -> None:
        print(f"\n{'stage':<28} {'wall s':>8} {'CPU s':>8} {'(main':>7} {'workers':>8} {'server)':>8} "
              f"{'shards':>6} {'steps CPU s':>11} {'orch. wall s':>12} {'peak RSS MiB: main':>19} {'worker':>7} {'all workers':>11}")
        for r in sorted(self.rows, key=lambda r: r.start):
            total = sum(r.cpu.values())
            name = ("  " * r.depth + r.name)[:28]
            print(f"{name:<28} {r.wall:8.1f} {total:8.1f} {r.cpu['main']:7.1f} {r.cpu['worker']:8.1f} {r.cpu['server']:8.1f} "
                  f"{r.steps:6d} {r.step_cpu:11.1f} {r.shards_overhead_wall:12.1f} {r.peak['main']:19.0f} {r.peak['worker']:7.0f} {r.peak['workers_total']:11.0f}")
        total = sum(self.total_cpu.values())
        print(f"{'whole run':<28} {self.total_wall:8.1f} {total:8.1f} {self.total_cpu['main']:7.1f} {self.total_cpu['worker']:8.1f} {self.total_cpu['server']:8.1f}")
        p = self.prefect_share()
        print(f"\nPrefect's share: {p['wall_s']:.1f} s of {self.total_wall:.1f} s wall ({100 * p['wall_share']:.1f} %), "
              f"{p['cpu_s']:.1f} s of {total:.1f} s CPU ({100 * p['cpu_share']:.1f} %): server {p['server_cpu_s']:.1f} s, "
              f"submission/states in this process {p['main_in_run_shards_cpu_s']:.1f} s, workers beyond the steps "
              f"{p['workers_beyond_steps_cpu_s']:.1f} s, flow start/end {p['flow_start_end_main_cpu_s']:.1f} s  (goal < 10 % of wall)")


def folder_sizes(root: Path) -> list[tuple[str, int, int]]:
    """(top-level entry, bytes, files) of an output folder, largest first."""
    rows = []
    for entry in sorted(root.iterdir()):
        if entry.is_file():
            rows.append((entry.name, entry.stat().st_size, 1))
        else:
            files = [p for p in entry.rglob("*") if p.is_file()]
            rows.append((entry.name + "/", sum(p.stat().st_size for p in files), len(files)))
    return sorted(rows, key=lambda r: -r[1])


def print_sizes(root: Path, top: int = 12) -> None:
    rows = folder_sizes(root)
    total = sum(r[1] for r in rows)
    print(f"\noutput {root}: {total / MiB:,.1f} MiB in {sum(r[2] for r in rows):,} files")
    for name, size, files in rows[:top]:
        print(f"  {name:<36} {size / MiB:10,.1f} MiB {files:8,} files")


def machine_line() -> str:
    load = os.getloadavg()
    return (f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
            f"load average before the run {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")


def output_folder(explicit: str | None, name: str) -> tuple[Path, Path]:
    """(parent, dataset folder): ``explicit/name`` (emptied) or a temporary folder."""
    import shutil
    import tempfile

    parent = Path(explicit) if explicit else Path(tempfile.mkdtemp(prefix=f"{name}-scale-"))
    out = parent / name
    if out.exists():
        shutil.rmtree(out)
    return parent, out


def finish(acct: Accounting, out: Path, out_parent: Path, keep: bool, goal: str = "") -> None:
    """The closing lines of a scale benchmark: total time, output sizes; a
    temporary output folder is removed."""
    import shutil

    print(f"whole run {acct.total_wall / 60:.1f} min{goal}")
    print_sizes(out)
    if not keep:
        shutil.rmtree(out_parent, ignore_errors=True)
