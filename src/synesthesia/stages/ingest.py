"""Ingest: validate each file of a :class:`~synesthesia.datasets.inputs.Source`,
quarantine the rest.

Images are decoded fully (and whether they have transparent pixels is
recorded). Audio is checked from its header and a short probe of its first
and last second (:func:`validate_audio`); the full decode happens once, in the
audio stage, which quarantines what only a full decode can catch.

What the files are and what their metadata says comes from the source's
reader (:mod:`synesthesia.sources`: a corpus reader, or the generic
folder/CSV scan); ingest only checks the media.

Every file found ends in exactly one of two places: the validated table
(:data:`schema.IMAGES` / :data:`schema.AUDIO`) or the quarantine table with
the stage and reason. Duplicate content (same sha256) is kept once; the other
copies go to quarantine with ``stage="dedup"``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import struct
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal, Sequence

import numpy as np
import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.inputs import Source, SourceItem, quarantine_row
from synesthesia.datasets.media import has_transparency
from synesthesia.stages.shards import ShardRunner, ShardStore, plan_shards, run_serially, work_dir, write_once

Kind = Literal["image", "audio"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".ogg", ".oga", ".aif", ".aiff"})


#: Part of every ingest shard's key: 2 = audio probed (not fully decoded), images' ``has_alpha``.
INGEST_VERSION = 2


class InvalidMedia(Exception):
    """A file that cannot be used; the message is the quarantine reason."""


@dataclass(frozen=True)
class IngestConfig:
    kind: Kind
    #: Sub-folder levels below the root, mapped to metadata fields in order
    #: (the generic scan's, :func:`synesthesia.sources.open_source`).
    folder_fields: tuple[str, ...] = ()
    #: Audio shorter than this is quarantined (e.g. one 15 s MPD clip).
    min_duration_s: float = 0.0
    #: Larger files are quarantined unread (None: :data:`MAX_BYTES` of the kind).
    max_bytes: int | None = None

    @property
    def size_limit(self) -> int:
        return self.max_bytes if self.max_bytes is not None else MAX_BYTES[self.kind]

    @classmethod
    def images(cls, folder_fields: Sequence[str] = ("style", "genre")) -> "IngestConfig":
        return cls("image", tuple(folder_fields))

    @classmethod
    def audio(cls, folder_fields: Sequence[str] = ("genre",), min_duration_s: float = 0.0) -> "IngestConfig":
        return cls("audio", tuple(folder_fields), float(min_duration_s))


#: Default size limits: larger files are quarantined without being read (a
#: 100-megapixel TIFF is ~300 MB; three hours of 96 kHz 24-bit stereo WAV ~3 GB).
MAX_BYTES = {"image": 512 * 2**20, "audio": 4 * 2**30}


def item_id(kind: Kind, relpath: str) -> str:
    """Stable id from the path relative to the input root."""
    prefix = "img" if kind == "image" else "aud"
    return f"{prefix}-{hashlib.sha1(relpath.encode('utf-8')).hexdigest()[:16]}"


# --- validation ----------------------------------------------------------------

def validate_image(data: bytes) -> dict:
    """Decode an image fully (catches truncation); return its size, format
    and whether it has transparent pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt = im.format
                im.load()
                width, height = im.size
                alpha = has_transparency(im)
    except UnidentifiedImageError:
        raise InvalidMedia("not a readable image (PIL cannot identify the format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidMedia(f"image too large: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidMedia(f"image decode failed: {exc}") from None
    if width < 1 or height < 1:
        raise InvalidMedia("image has no pixels")
    return {"width": width, "height": height, "format": fmt, "has_alpha": alpha}


def _riff_truncation(data: bytes) -> str | None:
    """libsndfile silently decodes a truncated WAV; check the chunk sizes."""
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        return None
    endian = "<" if data[:4] == b"RIFF" else ">"
    pos = 12
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        (size,) = struct.unpack(endian + "I", data[pos + 4 : pos + 8])
        if cid == b"data":
            have = len(data) - (pos + 8)
            if size != 0xFFFFFFFF and size > have:
                return f"truncated WAV: data chunk declares {size} bytes, file holds {have}"
            return None
        pos += 8 + size + (size & 1)
    return "truncated WAV: no complete data chunk"


def _ogg_truncation(data: bytes) -> str | None:
    """A complete Ogg stream ends with a whole page flagged end-of-stream."""
    if not data.startswith(b"OggS"):
        return None
    last = data.rfind(b"OggS")
    page = data[last:]
    if len(page) < 27:
        return "truncated Ogg: last page header incomplete"
    n_segments = page[26]
    if len(page) < 27 + n_segments:
        return "truncated Ogg: last page segment table incomplete"
    body = sum(page[27 : 27 + n_segments])
    if len(page) < 27 + n_segments + body:
        return "truncated Ogg: last page incomplete"
    if not page[5] & 0x04:
        return "truncated Ogg: stream has no end-of-stream page"
    return None


#: Seconds decoded at the start and at the declared end of an audio file.
PROBE_SECONDS = 1.0


def validate_audio(data: bytes, min_duration_s: float = 0.0) -> dict:
    """Check audio from its header and a cheap probe: the container's own
    truncation marks (RIFF sizes, Ogg end-of-stream), then the first and the
    last :data:`PROBE_SECONDS` of the declared length decoded with libsndfile
    (a file cut short cannot reach its declared end). Returns duration, rate,
    channels and the declared frame count; the full decode is the audio
    stage's (``stages.audio.decode_track``)."""
    import soundfile as sf

    reason = _riff_truncation(data) or _ogg_truncation(data)
    if reason:
        raise InvalidMedia(reason)
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            sr, channels, frames, fmt = f.samplerate, f.channels, f.frames, f.format
            probe = max(1, int(PROBE_SECONDS * sr))
            head = f.read(min(probe, frames), dtype="float32", always_2d=True) if frames > 0 else np.zeros((0, 1), np.float32)
            tail_start = max(frames - probe, head.shape[0])
            tail = np.zeros((0, channels), np.float32)
            if frames > tail_start:
                try:
                    f.seek(tail_start)
                    tail = f.read(frames - tail_start, dtype="float32", always_2d=True)
                except Exception:  # a seek past what the file holds
                    tail = None
    except Exception as exc:  # libsndfile raises several types; all mean "unusable"
        # Drop the in-memory buffer's repr (it holds an address) so reasons are reproducible.
        message = re.sub(r"Error opening <[^>]*>: ", "", str(exc).splitlines()[0])[:200]
        raise InvalidMedia(f"audio decode failed: {message}") from None
    if frames <= 0 or head.shape[0] == 0:
        raise InvalidMedia("audio has no samples")
    if tail is None or tail.shape[0] < frames - tail_start or head.shape[0] < min(probe, frames):
        raise InvalidMedia(f"truncated audio: the header declares {frames} frames, but its last second cannot be decoded")
    if not (np.isfinite(head).all() and np.isfinite(tail).all()):
        raise InvalidMedia("audio contains non-finite samples")
    duration = frames / sr
    if duration < min_duration_s:
        raise InvalidMedia(f"too short: {duration:.2f} s, need at least {min_duration_s:g} s")
    return {"duration_s": duration, "sample_rate": int(sr), "channels": int(channels), "n_frames": int(frames), "format": fmt}


def read_confined(root: Path, relpath: str, max_bytes: int) -> bytes:
    """The bytes of ``root/relpath``, only if it resolves inside ``root``
    (a symlink may point anywhere inside it), is a regular file (a FIFO would
    block forever, a device never end) and holds at most ``max_bytes``; else
    :class:`InvalidMedia` with the reason. Opened without following a link
    and checked on the open descriptor, so a file swapped after the check is
    not read either."""
    try:
        real = (root / relpath).resolve(strict=True)
    except FileNotFoundError:
        raise InvalidMedia("file not found") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a folder we cannot search
        raise InvalidMedia(f"unreadable: {getattr(exc, 'strerror', None) or exc}") from None
    if not real.is_relative_to(root):
        raise InvalidMedia(f"outside the input root: resolves to {real}")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise InvalidMedia(f"unreadable: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise InvalidMedia("not a regular file (a pipe, socket or device)")
        if st.st_size > max_bytes:
            raise InvalidMedia(f"too large: {st.st_size:,} bytes, over the {max_bytes:,}-byte limit for this kind")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew while being read
        raise InvalidMedia(f"too large: over the {max_bytes:,}-byte limit for this kind")
    return data


def ingest_items(root: str | os.PathLike, items: Iterable[SourceItem], config: IngestConfig) -> tuple[pa.Table, pa.Table]:
    """Validate a shard of files. Returns (valid rows, quarantine rows)."""
    root = Path(root).resolve()
    kind = config.kind
    extensions = IMAGE_EXTENSIONS if kind == "image" else AUDIO_EXTENSIONS
    good, bad = [], []
    for item in items:
        suffix = Path(item.path).suffix.lower()
        try:
            if suffix not in extensions:
                raise InvalidMedia(f"unsupported file type '{suffix or '(none)'}' for {kind}")
            data = read_confined(root, item.path, config.size_limit)
            if not data:
                raise InvalidMedia("empty file (0 bytes)")
            if kind == "image":
                props = validate_image(data)
            else:
                props = validate_audio(data, config.min_duration_s)
        except InvalidMedia as exc:
            bad.append(quarantine_row(item.path, kind, "ingest", str(exc)))
            continue
        row = {
            "image_id" if kind == "image" else "audio_id": item_id(kind, item.path),
            "path": item.path,
            "sha256": hashlib.sha256(data).hexdigest(),
            "n_bytes": len(data),
            **props,
            **item.metadata,
        }
        good.append(row)
    schema = S.IMAGES if kind == "image" else S.AUDIO
    allowed = set(schema.names)
    good = [{k: v for k, v in r.items() if k in allowed} for r in good]
    return S.from_rows(good, schema), S.from_rows(bad, S.QUARANTINE)


def deduplicate(table: pa.Table, kind: Kind) -> tuple[pa.Table, pa.Table]:
    """Keep the first file (by path) of each sha256; quarantine the copies."""
    if table.num_rows == 0:
        return table, S.empty(S.QUARANTINE)
    table = table.sort_by("path")
    shas = table.column("sha256").to_pylist()
    paths = table.column("path").to_pylist()
    first: dict[str, str] = {}
    keep, dupes = [], []
    for i, (sha, path) in enumerate(zip(shas, paths)):
        if sha in first:
            dupes.append(quarantine_row(path, kind, "dedup", f"duplicate content of {first[sha]}"))
        else:
            first[sha] = path
            keep.append(i)
    return table.take(pa.array(keep, pa.int64())), S.from_rows(dupes, S.QUARANTINE)


def file_fingerprint(root: Path, item: SourceItem) -> tuple:
    """What decides whether a finished ingest shard is still valid."""
    try:
        st = (root / item.path).stat()
        return (item.path, item.meta, st.st_size, st.st_mtime_ns)
    except OSError:
        return (item.path, item.meta, None, None)


# --- shard step ----------------------------------------------------------------

def ingest_shard_step(shard, root: str, config: IngestConfig, folder: str) -> dict:
    """Validate one shard of files and write its two parts (quarantine first,
    then the valid rows, whose file marks the shard done)."""

    def produce():
        good, bad = ingest_items(root, shard.items, config)
        return {"quarantine": (bad, S.QUARANTINE), "part": (good, None)}, {"valid": good.num_rows, "quarantined": bad.num_rows}

    return write_once(shard, folder, produce)


def collect_ingest(shards, folder: str, kind: Kind, problems: list[dict]) -> tuple[pa.Table, pa.Table]:
    """Merge a finished ingest stage: valid rows (deduplicated) and every
    quarantine row (scan problems, decode failures, duplicates)."""
    store = ShardStore(folder)
    files = store.finalize(shards, prefixes=["part", "quarantine"])
    schema = S.IMAGES if kind == "image" else S.AUDIO
    valid = dio.concat((dio.read_table(f, schema) for f in files), schema)
    rejected = [dio.read_table(store.path(s, "quarantine"), S.QUARANTINE) for s in shards]
    valid, dupes = deduplicate(valid, kind)
    quarantine = dio.concat([S.from_rows(problems, S.QUARANTINE), *rejected, dupes], S.QUARANTINE)
    return valid, quarantine


def ingest_source(
    source: Source,
    config: IngestConfig,
    out: str | os.PathLike,
    name: str,
    shard_size: int,
    run: ShardRunner = run_serially,
) -> tuple[Path, pa.Table, pa.Table]:
    """Validate (sharded, on ``run``) and merge one input :class:`Source`
    (:func:`synesthesia.sources.open_source` reads it). Returns ``(root,
    valid_table, quarantine_table)``; ``root`` is the folder the table's
    relative paths are relative to."""
    fingerprints = [file_fingerprint(source.root, item) for item in source.items]
    shards = plan_shards(f"ingest-{name}", source.items, shard_size, (config, INGEST_VERSION), fingerprints)
    folder = str(work_dir(out, f"ingest-{name}"))
    run(ingest_shard_step, shards, root=str(source.root), config=config, folder=folder)
    valid, quarantine = collect_ingest(shards, folder, config.kind, source.problems)
    return source.root, valid, quarantine


class NothingUsable(ValueError):
    """An input gave no usable file: the build stops (exit 2) rather than
    writing an empty dataset; the message has the counts and the reasons."""


def nothing_usable(inputs: Sequence[tuple[str, str | os.PathLike, pa.Table, pa.Table]]) -> str | None:
    """Why a build cannot go on, or None: for each ``(what, path, valid,
    quarantine)`` of an input that has no valid row, how many files were
    found and why they were rejected (the most frequent reasons)."""
    problems = []
    for what, path, valid, quarantine in inputs:
        if valid.num_rows:
            continue
        reasons = Counter(r.split(":")[0] for r in quarantine.column("reason").to_pylist()) if quarantine.num_rows else Counter()
        why = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common(4)) or "no files of a supported type"
        problems.append(f"no usable {what} in {path}: {quarantine.num_rows} file(s) found, none usable ({why})")
    if not problems:
        return None
    return "; ".join(problems) + ". Every rejected file is listed with its reason in quarantine.parquet."


# --- index files keyed by file name ------------------------------------------------

def stem_key(name: str) -> str:
    """How a file stem is compared with an index id: case-insensitive, spaces
    as underscores (published indexes and file names disagree on both)."""
    return name.strip().lower().replace(" ", "_")


def folder_key(name: str) -> str:
    """How a folder name is compared with a label: case-insensitive, ``_``/``-``
    as spaces, runs of spaces collapsed (``Heavy_metal`` == ``heavy metal``)."""
    return " ".join(re.sub(r"[_\-]+", " ", name).lower().split())


def match_by_stem(
    source: Source,
    rows: Sequence[dict],
    kind: Kind,
    index_name: str,
    id_field: str = "id",
    hint_field: str | None = None,
) -> tuple[list[tuple[SourceItem, dict]], list[dict]]:
    """Match the files of ``source`` to the rows of an index whose ``id_field``
    is the file's stem (compared with :func:`stem_key`).

    When several files or rows share an id (the same stem in two folders, or
    one id listed under two labels), a row takes the file whose folder names
    contain the row's ``hint_field`` value (compared with :func:`folder_key`).
    Returns ``(file, row)`` matches and quarantine rows for everything left:
    files the index does not list, files whose id is ambiguous, and index rows
    with no file (path ``<index_name>:<line>`` when rows carry a ``_line``).
    """
    files: dict[str, list[SourceItem]] = {}
    for item in source.items:
        files.setdefault(stem_key(Path(item.path).stem), []).append(item)
    by_id: dict[str, list[dict]] = {}
    for row in rows:
        by_id.setdefault(stem_key(str(row[id_field])), []).append(row)
    matches: list[tuple[SourceItem, dict]] = []
    problems: list[dict] = []

    def folders(item: SourceItem) -> set[str]:
        return {folder_key(p) for p in Path(item.path).parts[:-1]}

    for key in sorted(set(files) | set(by_id)):
        f_list, r_list = list(files.get(key, [])), list(by_id.get(key, []))
        if len(f_list) == 1 and len(r_list) == 1:
            matches.append((f_list[0], r_list[0]))
            continue
        if len(r_list) > 0 and hint_field is not None:
            for row in list(r_list):
                hint = folder_key(str(row.get(hint_field) or ""))
                chosen = [f for f in f_list if hint and hint in folders(f)]
                if len(chosen) == 1:
                    matches.append((chosen[0], row))
                    f_list.remove(chosen[0])
                    r_list.remove(row)
        for item in f_list:
            if r_list:
                reason = f"ambiguous: {len(files[key])} file(s) and {len(by_id[key])} {index_name} row(s) share the id '{key}' and the folder names do not tell them apart"
            elif key in by_id:
                reason = f"duplicate id: another file named '{key}' was matched to its {index_name} row"
            else:
                reason = f"not listed in {index_name}"
            problems.append(quarantine_row(item.path, kind, "ingest", reason))
        for row in r_list:
            where = f"{index_name}:{row['_line']}" if "_line" in row else f"{index_name}:{row[id_field]}"
            label = f" ({hint_field} '{row.get(hint_field)}')" if hint_field else ""
            problems.append(quarantine_row(where, kind, "ingest", f"listed in {index_name} but no file has that name: '{row[id_field]}'{label}"))
    matches.sort(key=lambda m: m[0].path)
    return matches, problems
