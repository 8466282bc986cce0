"""Listening copies of clips: the audio a rater hears for each clip.

Raters must hear exactly the clip a pair is about, not the whole track, so
each planned clip is cut from its source track **at the track's own sample
rate and channels** (the 16 kHz mono signal is for the model, not for
people) and written as one small file, ``<clip_id>.<format>``.

Default FLAC: lossless, plays in every current browser, and encodes ~50×
faster than MP3 here (measured: 0.12 s vs 1.6 s for a 15 s 44.1 kHz stereo
clip on a loaded 2-core machine) at ~8× the size (2.1 MB vs 0.26 MB). For
6,127 clips that is ~13 GB; choose ``mp3`` (or ``ogg``) to trade encoding
time for disk.

The clip boundaries are the ones in ``clips.parquet`` (seconds), so a clip's
listening copy and its mel cover the same stretch of music.

Sharded like the mel stage (work items from ``audio.mel_work_items``: one per
track with its clips); each file is written atomically and a shard's part
file (``schema.CLIP_MEDIA`` rows) marks it done.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S

FORMATS = {"mp3": ("MP3", "MPEG_LAYER_III"), "flac": ("FLAC", "PCM_16"), "wav": ("WAV", "PCM_16"), "ogg": ("OGG", "VORBIS")}
DEFAULT_FORMAT = "flac"


def _write_atomic(path: Path, samples: np.ndarray, sample_rate: int, fmt: str) -> None:
    import soundfile as sf

    container, subtype = FORMATS[fmt]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, samples, sample_rate, format=container, subtype=subtype)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cut_track(
    source: Path, clips: list[tuple[str, float, float]], folder: Path, relative_to: Path, fmt: str = DEFAULT_FORMAT
) -> list[dict]:
    """Write one file per ``(clip_id, start_s, end_s)`` of one track into
    ``folder``; return their rows (``path`` relative to ``relative_to``). A
    clip running past the end of the track is padded with silence."""
    import soundfile as sf

    if fmt not in FORMATS:
        raise ValueError(f"unknown clip media format {fmt!r}; choose from {sorted(FORMATS)}")
    folder.mkdir(parents=True, exist_ok=True)
    dtype = "int16" if FORMATS[fmt][1] == "PCM_16" else "float32"
    rows = []
    with sf.SoundFile(str(source)) as f:
        sr, channels = f.samplerate, f.channels
        for clip_id, start_s, end_s in clips:
            a, b = int(round(start_s * sr)), int(round(end_s * sr))
            f.seek(min(a, f.frames))
            piece = f.read(b - a, dtype=dtype, always_2d=True)
            if piece.shape[0] < b - a:
                piece = np.concatenate([piece, np.zeros((b - a - piece.shape[0], channels), piece.dtype)])
            path = folder / f"{clip_id}.{fmt}"
            _write_atomic(path, piece, sr, fmt)
            rows.append(
                {
                    "clip_id": clip_id,
                    "path": path.relative_to(relative_to).as_posix(),
                    "format": fmt,
                    "sample_rate": sr,
                    "channels": channels,
                    "n_bytes": path.stat().st_size,
                }
            )
    return rows


def clip_media_shard_step(shard, root: str, folder: str, media_folder: str, relative_to: str, fmt: str = DEFAULT_FORMAT) -> dict:
    """Cut the listening copies of one shard of tracks (items from
    ``audio.mel_work_items``, whose clips are ``(clip_id, start_s)``; each
    item also carries ``clip_seconds``)."""
    from synesthesia.pipelines.shards import ShardStore

    store = ShardStore(folder)
    if store.done(shard):
        return {"skipped": True}
    rows = []
    for item in shard.items:
        length = item["clip_seconds"]
        clips = [(cid, start, start + length) for cid, start in item["clips"]]
        rows.extend(cut_track(Path(root) / item["path"], clips, Path(media_folder), Path(relative_to), fmt))
    dio.write_table(S.from_rows(rows, S.CLIP_MEDIA), store.path(shard))
    return {"tracks": len(shard.items), "clips": len(rows)}


def read_clip_media(folder: str | os.PathLike) -> pa.Table:
    return dio.read_parts(folder, S.CLIP_MEDIA)
