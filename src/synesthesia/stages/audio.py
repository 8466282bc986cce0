"""The audio stages: clip plans, and one pass over the tracks that makes
log-mel shards and clip files.

Shared by the three datasets (MPD: 15 s clips; ArtSound: 10 s segments;
Museart: 30 s clips); only :class:`~synesthesia.datasets.media.ClipConfig`
differs. Ingest validates a file from its header and a short probe; the full
decode happens here, **once per track**, and feeds everything made from it
(:func:`audio_pass`): the log-mels of its clips (:class:`MelJob`), clip files
(:class:`CopyJob`: 16 kHz mono model input, or listening copies at the
track's own rate and channels) and the track's peak. A track that fails the
full decode (or decodes shorter than its header said, so its clip plan does
not fit) is reported as a quarantine row with ``stage="audio"``.

Clip files, and how they avoid clipping, are in
:mod:`synesthesia.stages.clip_files`.

Shards hold tracks of about equal total duration (:func:`plan_pass`), so a
few long tracks still spread over every worker. Decoding, resampling and the
mel maths live in :mod:`synesthesia.datasets.media`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.inputs import quarantine_row
from synesthesia.datasets.keys import stable_hash
from synesthesia.datasets.media import ClipConfig, DecodedAudio, MelConfig, clip_starts, cut_clips, decode_track_audio, log_mel, resampled_length
from synesthesia.stages.clip_files import CopyJob, copy_rows, copy_spans, prune_clip_files
from synesthesia.stages.shards import Shard, ShardRunner, ShardStore, partition_by_weight, run_serially, work_dir

#: An audio shard holds at most this much audio (and at most ``shard_size`` tracks).
SHARD_SECONDS = 1800.0
#: ... and a stage has at least this many shards when it has that many tracks,
#: so a handful of long tracks still keeps every worker of a small machine busy
#: (independent of ``--workers``, so a resumed run with other workers reuses
#: every finished shard).
MIN_SHARDS = 8

# --- clips -----------------------------------------------------------------------

def clip_id(track_id: str, index: int) -> str:
    return f"{track_id}-c{index:03d}"


def planned_starts(n_frames: int, sample_rate: int, config: ClipConfig) -> list[int]:
    """Clip starts (at ``config.sample_rate``) of a track of ``n_frames`` at ``sample_rate``."""
    return clip_starts(resampled_length(n_frames, sample_rate, config.sample_rate), config)


def plan_clips(tracks: pa.Table, config: ClipConfig, id_column: str = "track_id") -> pa.Table:
    """``clips.parquet`` rows for every track, from ingest metadata alone."""
    rows = []
    ids = tracks.column(id_column).to_pylist()
    frames = tracks.column("n_frames").to_pylist()
    rates = tracks.column("sample_rate").to_pylist()
    splits = tracks.column("split").to_pylist() if "split" in tracks.column_names else [None] * len(ids)
    sr = config.sample_rate
    for tid, n, rate, split in zip(ids, frames, rates, splits):
        for i, start in enumerate(planned_starts(n, rate, config)):
            rows.append(
                {
                    "clip_id": clip_id(tid, i),
                    "track_id": tid,
                    "clip_index": i,
                    "start_s": start / sr,
                    "end_s": (start + config.clip_samples) / sr,
                    "split": split,
                }
            )
    return S.from_rows(rows, S.CLIPS)


def mel_table(clip_ids: list[str], mels: np.ndarray, config: MelConfig) -> pa.Table:
    """Mel rows; ``mels`` is ``[n, n_mels, frames]`` (its shape goes into the schema, also when ``n == 0``)."""
    schema = S.mels_schema(
        config.n_mels,
        mels.shape[-1],
        {
            "sample_rate": config.sample_rate,
            "n_fft": config.n_fft,
            "hop_length": config.hop_length,
            "scale": config.scale,
            "amin": config.amin,
        },
    )
    column = dio.numpy_to_fixed_list(mels.astype(np.float16), pa.float16())
    return pa.Table.from_arrays([pa.array(clip_ids, pa.string()), column], schema=schema)


def clip_mels(y: np.ndarray, starts: list[int], clip: ClipConfig, mel: MelConfig) -> np.ndarray:
    """Log-mels of the clips of a resampled mono track ``y`` starting at ``starts``."""
    if not starts:
        return np.zeros((0, mel.n_mels, mel.n_frames(clip.clip_samples)), np.float32)
    # Small batches: one FFT over a few clips stays in cache (measured ~3x
    # faster per clip than one FFT over 40 clips).
    batch = 4
    return np.concatenate(
        [log_mel(cut_clips(y, starts[i : i + batch], clip.clip_samples), mel) for i in range(0, len(starts), batch)]
    )


def read_mels(folder: str | Path) -> tuple[list[str], np.ndarray]:
    """All mels of a ``mels/`` folder: (clip ids, float32 array ``[n, mel, time]``)."""
    import pyarrow.parquet as pq

    files = dio.part_files(folder)
    if not files:
        return [], np.zeros((0, 0, 0), np.float32)
    ids: list[str] = []
    arrays = [np.zeros((0, 0, 0), np.float32)]
    for f in files:
        table = pq.read_table(f)
        if not table.num_rows:  # a shard whose tracks all failed their decode
            continue
        shape = tuple(S.schema_meta(table.schema)["shape"])
        ids.extend(table.column("clip_id").to_pylist())
        arrays.append(dio.fixed_list_to_numpy(table.column("mel"), shape).astype(np.float32))
    return ids, (np.concatenate(arrays[1:]) if len(arrays) > 1 else arrays[0])


# --- one decoded track ------------------------------------------------------------------

class TrackFailed(Exception):
    """The full decode of a track failed; the message is the quarantine reason."""


def decode_track(path: Path, declared_frames: int | None, plan: ClipConfig, spans=()) -> DecodedAudio:
    """Decode a whole track once (mono at ``plan.sample_rate``, the native
    samples of ``spans``: ``(start_s, seconds)``) and check what ingest could
    not: that it decodes to the end, without non-finite samples, and
    (``declared_frames``: what its header said) long enough for the clip plan
    made from the header."""
    try:
        track = decode_track_audio(path, plan.sample_rate, spans)
    except Exception as exc:  # libsndfile raises several types; all mean "unusable"
        raise TrackFailed(f"audio decode failed: {str(exc).splitlines()[0][:200]}") from None
    if not track.finite:
        raise TrackFailed("audio contains non-finite samples")
    n, sr = track.frames, track.sample_rate
    if declared_frames and n < declared_frames and planned_starts(n, sr, plan) != planned_starts(declared_frames, sr, plan):
        raise TrackFailed(f"truncated audio: decoded {n} of {declared_frames} declared frames, fewer clips than the header promised")
    return track


# --- the pass -------------------------------------------------------------------------------

@dataclass(frozen=True)
class MelJob:
    """Log-mels of ``clips`` (``clips.parquet`` rows) into ``out/mels/``."""

    clips: pa.Table
    clip: ClipConfig
    mel: MelConfig


@dataclass(frozen=True)
class PassShard(Shard):
    """A shard of the audio pass: its tracks, and the key of each output
    (``mels`` / ``copies``) so each is resumed on its own."""

    keys: tuple[tuple[str, str], ...] = ()

    def view(self, output: str) -> Shard:
        return Shard(output, self.index, self.n_shards, (), dict(self.keys)[output])


def _by_track(clips: pa.Table | None) -> dict[str, tuple]:
    out: dict[str, list] = {}
    if clips is not None:
        for cid, tid, start in zip(clips.column("clip_id").to_pylist(), clips.column("track_id").to_pylist(), clips.column("start_s").to_pylist()):
            out.setdefault(tid, []).append((cid, start))
    return {t: tuple(sorted(c, key=lambda x: x[1])) for t, c in out.items()}


def plan_pass(
    tracks: pa.Table, shard_size: int, mels: MelJob | None = None, copies: CopyJob | None = None, id_column: str = "track_id"
) -> list[PassShard]:
    """Cut the tracks into shards of about equal total duration (at most
    ``shard_size`` tracks and :data:`SHARD_SECONDS` each, at least
    :data:`MIN_SHARDS`). The cut depends on the tracks alone, so the mels of a
    build and the listening copies of a later ``annotate run`` share shards."""
    mel_clips, copy_clips = _by_track(mels.clips if mels else None), _by_track(copies.clips if copies else None)
    items = [
        {"track_id": t, "path": p, "sha256": h, "n_frames": n, "mels": mel_clips.get(t, ()), "copies": copy_clips.get(t, ())}
        for t, p, h, n in zip(*(tracks.column(c).to_pylist() for c in (id_column, "path", "sha256", "n_frames")))
    ]
    seconds = [n / r for n, r in zip(tracks.column("n_frames").to_pylist(), tracks.column("sample_rate").to_pylist())]
    cuts = partition_by_weight(seconds, shard_size, SHARD_SECONDS, MIN_SHARDS)
    outputs = {"mels": (mels.clip, mels.mel) if mels else None, "copies": copies.key if copies else None}
    shards = []
    for index, cut in enumerate(cuts):
        part = items[cut]
        keys = tuple(
            (name, stable_hash("clip-files" if name == "copies" else name, config, [(i["track_id"], i["sha256"], i[name]) for i in part]))
            for name, config in outputs.items()
            if config is not None
        )
        shards.append(PassShard("audio", index, len(cuts), tuple(part), stable_hash(keys), keys))
    return shards


def single_threaded_blas():
    """Parallelism comes from running shards side by side, one process per
    core; a multi-threaded BLAS inside each worker only contends (measured:
    matmuls 20x slower, and an MP3 audio stage at 443x real time on 2 cores
    instead of 1,301x; ``benchmarks/audio_stage.py``)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def pass_step(shard: PassShard, root: str, out: str, mels: MelJob | None, copies: CopyJob | None) -> dict:
    """Decode each track of a shard once and write what its outputs still lack:
    a mel part, clip files and their index part, each with a quarantine part
    (tracks that failed the full decode) written first."""
    stores = {"mels": ShardStore(Path(out) / "mels"), "copies": ShardStore(work_dir(out, "clip-files"))}
    todo = [name for name, _ in shard.keys if not stores[name].done(shard.view(name))]
    if not todo:
        return {"skipped": True}
    plan = (mels or copies).clip
    mel_ids, mel_arrays, rows, failed = [], [], [], []
    with single_threaded_blas():
        for item in shard.items:
            wanted = [name for name in todo if item[name]]
            if not wanted:
                continue
            spans = copy_spans(item["copies"], copies.clip.clip_seconds) if "copies" in wanted and copies.native else ()
            try:
                track = decode_track(Path(root) / item["path"], item["n_frames"], plan, spans)
            except TrackFailed as exc:
                failed.append(quarantine_row(item["path"], "audio", "audio", str(exc)))
                continue
            if "mels" in wanted:
                starts = [int(round(start * mels.clip.sample_rate)) for _, start in item["mels"]]
                mel_arrays.append(clip_mels(track.mono, starts, mels.clip, mels.mel))
                mel_ids.extend(cid for cid, _ in item["mels"])
            if "copies" in wanted:
                rows.extend(copy_rows(track, item["copies"], copies, Path(out) / "clips"))
    quarantine = S.from_rows(failed, S.QUARANTINE)
    counts: dict = {"tracks": len(shard.items), "failed": len(failed)}
    for name in todo:
        if name == "mels":
            frames = mels.mel.n_frames(mels.clip.clip_samples)
            stacked = np.concatenate(mel_arrays) if mel_arrays else np.zeros((0, mels.mel.n_mels, frames), np.float32)
            table, schema = mel_table(mel_ids, stacked, mels.mel), None
            counts["mels"] = table.num_rows
        else:
            table, schema = S.from_rows(rows, S.CLIP_FILES), S.CLIP_FILES
            counts["clip_files"] = table.num_rows
        store, view = stores[name], shard.view(name)
        dio.write_table(quarantine, store.path(view, "quarantine"), S.QUARANTINE)
        dio.write_table(table, store.path(view), schema)
    return counts


@dataclass
class PassResult:
    """What the pass left: the mel parts, the clip-file rows, the tracks that
    failed the full decode (quarantine rows, ``stage="audio"``) and each shard's counts."""

    mel_parts: list[Path]
    clip_files: pa.Table | None
    failed: pa.Table
    shards: list[dict]

    def failed_paths(self) -> set[str]:
        return set(self.failed.column("path").to_pylist())


def audio_pass(
    tracks: pa.Table, root: str | Path, out: str | Path, shard_size: int, mels: MelJob | None = None, copies: CopyJob | None = None,
    id_column: str = "track_id", run: ShardRunner = run_serially,
) -> PassResult:
    """The sharded audio stage: each track decoded once for the mels and the
    clip files asked for. Clip files no current clip owns are removed; a
    finished shard whose clip files were deleted since is redone."""
    if mels is None and copies is None:
        raise ValueError("the audio pass needs mels, copies or both")
    out = Path(out)
    shards = plan_pass(tracks, shard_size, mels, copies, id_column)
    if copies is not None:
        store = ShardStore(work_dir(out, "clip-files"))
        for shard in shards:
            view = shard.view("copies")
            if store.done(view):
                paths = dio.read_table(store.path(view), columns=["path"]).column("path").to_pylist()
                if not all((out / "clips" / p).is_file() for p in paths):
                    store.path(view).unlink()
    stores = {"mels": ShardStore(out / "mels"), "copies": ShardStore(work_dir(out, "clip-files"))}
    results = run(
        pass_step, shards, root=str(root), out=str(out), mels=mels, copies=copies,
        # the annotation phases pass over the tracks again for listening copies the build made
        is_done=lambda shard: all(stores[name].done(shard.view(name)) for name, _ in shard.keys),
    )
    failed, mel_parts, clip_files = [], [], None
    if mels is not None:
        views = [s.view("mels") for s in shards]
        mel_parts = ShardStore(out / "mels").finalize(views, prefixes=["part", "quarantine"])
        failed += [dio.read_table(ShardStore(out / "mels").path(v, "quarantine"), S.QUARANTINE) for v in views]
    if copies is not None:
        store, views = ShardStore(work_dir(out, "clip-files")), [s.view("copies") for s in shards]
        files = store.finalize(views, prefixes=["part", "quarantine"])
        failed += [dio.read_table(store.path(v, "quarantine"), S.QUARANTINE) for v in views]
        clip_files = dio.concat((dio.read_table(f, S.CLIP_FILES) for f in files), S.CLIP_FILES)
        prune_clip_files(out / "clips", set(clip_files.column("path").to_pylist()))
    quarantine = dio.concat(failed, S.QUARANTINE)
    if quarantine.num_rows:  # a track that failed for both outputs is reported once
        quarantine = S.from_rows(list({r["path"]: r for r in quarantine.to_pylist()}.values()), S.QUARANTINE)
    return PassResult(mel_parts, clip_files, quarantine, results)


# --- pieces for benchmarks and tests ------------------------------------------------------

def clip_work_items(tracks: pa.Table, clips: pa.Table, id_column: str = "track_id") -> list[dict]:
    """One item per track that has clips: its id, path, sha256, declared
    frames and (clip_id, start second) of its clips."""
    by_track = _by_track(clips)
    return [
        {"track_id": t, "path": p, "sha256": h, "n_frames": n, "clips": by_track[t]}
        for t, p, h, n in zip(*(tracks.column(c).to_pylist() for c in (id_column, "path", "sha256", "n_frames")))
        if t in by_track
    ]


def mel_shard(root: str | Path, items: list[dict], clip: ClipConfig = ClipConfig(), mel: MelConfig = MelConfig()) -> pa.Table:
    """The mel rows of a list of tracks (items from :func:`clip_work_items`), unsharded."""
    ids, arrays = [], []
    with single_threaded_blas():  # as pass_step: what a build's worker does
        for item in items:
            track = decode_track(Path(root) / item["path"], item.get("n_frames"), clip)
            arrays.append(clip_mels(track.mono, [int(round(s * clip.sample_rate)) for _, s in item["clips"]], clip, mel))
            ids.extend(cid for cid, _ in item["clips"])
    frames = mel.n_frames(clip.clip_samples)
    return mel_table(ids, np.concatenate(arrays) if arrays else np.zeros((0, mel.n_mels, frames), np.float32), mel)


def clip_file_shard(root: str | Path, items: list[dict], clip: ClipConfig, folder: str | Path, fmt: str = "flac", native: bool = False) -> pa.Table:
    """The clip files of a list of tracks (items from :func:`clip_work_items`)
    written under ``folder``, unsharded; returns their ``CLIP_FILES`` rows."""
    job = CopyJob(S.empty(S.CLIPS), clip, fmt, native)
    rows = []
    for item in items:
        spans = copy_spans(item["clips"], clip.clip_seconds) if native else ()
        rows += copy_rows(decode_track(Path(root) / item["path"], item.get("n_frames"), clip, spans), item["clips"], job, Path(folder))
    return S.from_rows(rows, S.CLIP_FILES)
