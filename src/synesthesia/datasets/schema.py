"""Every Parquet table synesthesia writes, as explicit pyarrow schemas.

One module, versioned: a stage never invents columns on the fly. It is
longer than the ~450 lines a module should have on purpose: every table of
the three datasets, read top to bottom in one place, changes together with
:data:`SCHEMA_VERSION`; split by dataset, the shared tables (ingest,
quarantine, clips) would have no obvious home. Readers and
writers go through :func:`conform` so a table always carries exactly the
columns (and types) listed here, plus the schema version in its metadata.

Conventions
-----------
* Ids are stable strings derived from content or source path, never row numbers.
* ``path`` columns are relative to the input root the item was ingested from.
* Vectors and spectrograms are fixed-size lists; their shape lives in the
  schema metadata (``shape``) so a reader can rebuild the array.
"""

from __future__ import annotations

import json
from typing import Iterable, Mapping

import pyarrow as pa

#: 2: provenance (licence, source_id) and subgenres on the item tables.
#: 3: ``has_alpha`` on image tables; ``source_peak`` and ``gain`` on clip files.
SCHEMA_VERSION = "3"

# --- ingest ----------------------------------------------------------------

#: Where an item comes from, set by its reader (``synesthesia.sources``):
#: ``source`` the corpus (``wikiart``, ``artgraph``, ``fma``, ``mtg-jamendo``,
#: ``museart``; or a CSV's ``source`` column), ``licence`` the terms the
#: corpus gives for it, ``source_id`` the corpus's own id of the item.
PROVENANCE = (("source", pa.string()), ("licence", pa.string()), ("source_id", pa.string()))
PROVENANCE_COLUMNS = tuple(name for name, _ in PROVENANCE)

#: Validated images, as produced by ``stages.ingest`` for any dataset.
IMAGES = pa.schema(
    [
        ("image_id", pa.string()),
        ("path", pa.string()),
        ("sha256", pa.string()),
        ("n_bytes", pa.int64()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("format", pa.string()),
        # at least one pixel is not fully opaque; every pixel reader composites
        # such an image onto the build's alpha background (datasets.media.to_rgb)
        ("has_alpha", pa.bool_()),
        ("style", pa.string()),
        ("genre", pa.string()),
        ("artist", pa.string()),
        ("title", pa.string()),
        *PROVENANCE,
        ("category", pa.string()),
    ]
)

#: Validated audio files, as produced by ``stages.ingest`` for any dataset.
AUDIO = pa.schema(
    [
        ("audio_id", pa.string()),
        ("path", pa.string()),
        ("sha256", pa.string()),
        ("n_bytes", pa.int64()),
        ("duration_s", pa.float64()),
        ("sample_rate", pa.int32()),
        ("channels", pa.int32()),
        ("n_frames", pa.int64()),  # as the header declares (the audio stage checks the full decode)
        ("format", pa.string()),
        ("genre", pa.string()),
        ("subgenres", pa.list_(pa.string())),  # FMA's track.genres, MTG-Jamendo's genre tags
        ("artist", pa.string()),
        ("title", pa.string()),
        *PROVENANCE,
        ("category", pa.string()),
    ]
)

#: Every rejected input, with the stage that rejected it and why.
QUARANTINE = pa.schema(
    [
        ("path", pa.string()),
        ("kind", pa.string()),  # "image" | "audio" | ...
        ("stage", pa.string()),  # "ingest" | "dedup" | "audio" | ...
        ("reason", pa.string()),
    ]
)

# --- MPD -------------------------------------------------------------------

_SPLIT = ("split", pa.string())

MPD_PAINTINGS = pa.schema(
    [("painting_id", pa.string())] + [f for f in IMAGES if f.name != "image_id"] + [_SPLIT]
)
MPD_TRACKS = pa.schema(
    [("track_id", pa.string())] + [f for f in AUDIO if f.name != "audio_id"] + [_SPLIT]
)
CLIPS = pa.schema(
    [
        ("clip_id", pa.string()),
        ("track_id", pa.string()),
        ("clip_index", pa.int32()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        _SPLIT,
    ]
)
MPD_PAIRS = pa.schema(
    [
        ("pair_id", pa.string()),
        ("painting_id", pa.string()),
        ("clip_id", pa.string()),
        _SPLIT,
    ]
)


def mels_schema(n_mels: int, n_frames: int, extra: Mapping[str, object] | None = None) -> pa.Schema:
    """Schema of ``mels/part-*.parquet``: one row per clip, the log-mel as a
    float16 fixed-size list of ``n_mels * n_frames`` values in row-major
    (mel, time) order. The shape is recorded in the schema metadata."""
    meta = {"shape": [n_mels, n_frames], "axes": ["mel", "time"]}
    meta.update(extra or {})
    return pa.schema(
        [("clip_id", pa.string()), ("mel", pa.list_(pa.float16(), n_mels * n_frames))],
        metadata={"synesthesia": json.dumps(meta), "schema_version": SCHEMA_VERSION},
    )


def schema_meta(schema: pa.Schema) -> dict:
    """The ``synesthesia`` JSON metadata block of a schema (empty if absent)."""
    raw = (schema.metadata or {}).get(b"synesthesia")
    return json.loads(raw) if raw else {}


def empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


def from_rows(rows: Iterable[Mapping[str, object]], schema: pa.Schema) -> pa.Table:
    """Build a table with exactly ``schema``'s columns from dict rows
    (missing keys become nulls, unknown keys are an error)."""
    rows = list(rows)
    names = set(schema.names)
    for row in rows:
        unknown = set(row) - names
        if unknown:
            raise KeyError(f"columns not in schema: {sorted(unknown)}")
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    return pa.table(columns, schema=schema)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Select and cast ``table``'s columns to ``schema`` (missing → null)."""
    cols = []
    for field in schema:
        if field.name in table.column_names:
            cols.append(table.column(field.name).cast(field.type))
        else:
            cols.append(pa.nulls(table.num_rows, field.type))
    out = pa.Table.from_arrays(cols, schema=schema)
    return out


# --- MPD annotation (scores and consensus preferences: what MPJudge reads) -----

#: One row per pair with enough ratings: trimmed mean and dispersion.
MPD_SCORES = pa.schema(
    [
        ("pair_id", pa.string()),
        ("score", pa.float64()),  # drop one highest and one lowest rating, mean of the rest
        ("n_ratings", pa.int32()),
        ("sigma", pa.float64()),  # dispersion of the raw ratings
        ("min", pa.float64()),
        ("max", pa.float64()),
        ("ambiguous", pa.bool_()),  # score inside the ambiguity band [0.4, 0.6]
    ]
)

#: Preference task kinds, in the paper's notation:
#: {(M_i, M_j) | P_m}: which of two clips fits painting P_m better;
#: {(P_i, P_j) | M_n}: which of two paintings fits clip M_n better.
PREFERENCE_KINDS = ("clips_given_painting", "paintings_given_clip")

#: Consensus preference pairs (strict majority of votes): what DPO trains on.
#: query_id is a painting_id or clip_id (per kind); chosen/rejected are the
#: candidates of the other modality.
MPD_PREFERENCE_PAIRS = pa.schema(
    [
        ("task_id", pa.string()),
        ("kind", pa.string()),
        ("query_id", pa.string()),
        ("chosen_id", pa.string()),
        ("rejected_id", pa.string()),
        ("votes_for", pa.int32()),
        ("votes_total", pa.int32()),
        ("split", pa.string()),
    ]
)


# --- MPD annotation: rater assignments, raw ratings and votes, preference tasks --
# (issue 3; MPD_SCORES / MPD_PREFERENCE_PAIRS above are the tables MPJudge reads.)

#: Which raters are asked to rate each pair (``slot`` 0..k-1; seeded, balanced load).
MPD_ASSIGNMENTS = pa.schema(
    [
        ("pair_id", pa.string()),
        ("rater_id", pa.string()),
        ("slot", pa.int32()),
    ]
)

#: One row per (pair, rater): the rater's coherence score in [0, 1].
#: ``source``: "labelstudio" (imported export) or "simulated" (demo/test raters).
MPD_RATINGS = pa.schema(
    [
        ("pair_id", pa.string()),
        ("rater_id", pa.string()),
        ("score", pa.float64()),
        ("annotation_id", pa.string()),
        ("lead_time_s", pa.float64()),
        ("annotated_at", pa.timestamp("us", tz="UTC")),
        ("source", pa.string()),
    ]
)

#: Pairs that got ratings but too few to be scored (they are not in scores.parquet).
MPD_UNSCORED = pa.schema(
    [
        ("pair_id", pa.string()),
        ("n_ratings", pa.int32()),
        ("reason", pa.string()),
    ]
)

#: Per-rater agreement and quality-control figures (so a project lead can spot
#: a bad rater), and the flag of annotation.quality's rule.
MPD_RATER_STATS = pa.schema(
    [
        ("rater_id", pa.string()),
        ("n_ratings", pa.int64()),
        ("mean_score", pa.float64()),
        ("bias", pa.float64()),  # mean(rating - leave-one-out consensus)
        ("corr", pa.float64()),  # Pearson r with the leave-one-out consensus
        ("alpha_without", pa.float64()),  # Krippendorff's alpha with this rater left out
        ("alpha_delta", pa.float64()),  # alpha_without - alpha (> 0: agreement rises without the rater)
        ("n_gold", pa.int64()),  # gold rating tasks answered
        ("gold_mae", pa.float64()),  # mean |rating - agreed reference score| over them
        ("n_repeats", pa.int64()),  # repeated pairs answered twice
        ("repeat_mad", pa.float64()),  # mean |first rating - second rating| over them
        ("n_vote_gold", pa.int64()),  # gold preference tasks answered
        ("vote_gold_wrong", pa.float64()),  # share of them answered against the obvious choice
        ("n_vote_repeats", pa.int64()),  # preference tasks answered twice
        ("vote_repeat_flips", pa.float64()),  # share of them answered differently the second time
        ("n_late", pa.int64()),  # the rater's latest ratings (a third, by annotated_at) with a consensus
        ("late_deviation", pa.float64()),  # mean |rating - mean of the pair's other ratings| over them
        ("median_seconds", pa.float64()),  # median Label Studio lead time per task, all kinds
        ("flagged", pa.bool_()),  # the flag rule fired (the ratings are kept; see flag_reasons)
        ("flag_reasons", pa.string()),  # why, "; "-separated ("" when not flagged)
        ("excluded", pa.bool_()),  # left out of scores, alpha and consensus (annotate run --exclude-flagged)
    ]
)

#: Pairwise preference tasks built from ambiguous pairs (kind in PREFERENCE_KINDS).
#: candidate_a/b are clip ids (clips_given_painting) or painting ids
#: (paintings_given_clip); pair_a/b the rated pairs (query, candidate).
MPD_PREFERENCE_TASKS = pa.schema(
    [
        ("task_id", pa.string()),
        ("kind", pa.string()),
        ("query_id", pa.string()),
        ("candidate_a", pa.string()),
        ("candidate_b", pa.string()),
        ("pair_a", pa.string()),
        ("pair_b", pa.string()),
        ("score_a", pa.float64()),
        ("score_b", pa.float64()),
        ("split", pa.string()),
    ]
)

#: Which raters are asked to answer each preference task.
MPD_PREFERENCE_ASSIGNMENTS = pa.schema(
    [
        ("task_id", pa.string()),
        ("rater_id", pa.string()),
        ("slot", pa.int32()),
    ]
)

#: One row per (task, rater): which candidate fits the query better.
MPD_PREFERENCE_VOTES = pa.schema(
    [
        ("task_id", pa.string()),
        ("rater_id", pa.string()),
        ("choice", pa.string()),  # "a" | "b"
        ("chosen_id", pa.string()),
        ("annotation_id", pa.string()),
        ("lead_time_s", pa.float64()),
        ("annotated_at", pa.timestamp("us", tz="UTC")),
        ("source", pa.string()),
    ]
)

#: Reference answers for quality control (``annotate serve/push --gold FILE``):
#: a rating pair with an agreed score, or a preference task with an obvious answer.
MPD_GOLD = pa.schema(
    [
        ("gold_id", pa.string()),
        ("kind", pa.string()),  # "ratings" or a PREFERENCE_KINDS value
        ("painting_id", pa.string()),  # ratings: the pair shown
        ("clip_id", pa.string()),
        ("score", pa.float64()),  # ratings: the agreed reference score
        ("query_id", pa.string()),  # preferences: a painting_id or clip_id, per kind
        ("better_id", pa.string()),  # preferences: the candidate that obviously fits better
        ("worse_id", pa.string()),
    ]
)

#: Every task of every rater's queue (one Label Studio project per rater and
#: project kind), in the order the rater gets them.
MPD_QUEUES = pa.schema(
    [
        ("rater_id", pa.string()),  # planned rater (assignments.parquet)
        ("project_kind", pa.string()),  # "ratings" or a PREFERENCE_KINDS value
        ("position", pa.int32()),
        ("item_id", pa.string()),  # pair_id / task_id, or the qc_id of a check
        ("check", pa.string()),  # "" (a task of the plan), "gold" or "repeat"
    ]
)

#: The quality-control tasks mixed into the queues: what each shows, what it checks.
MPD_QC_TASKS = pa.schema(
    [
        ("qc_id", pa.string()),
        ("check", pa.string()),  # "gold" | "repeat"
        ("project_kind", pa.string()),
        ("rater_id", pa.string()),  # planned rater whose queue holds it
        ("of_id", pa.string()),  # repeat: the pair_id / task_id shown again; gold: the gold_id
        ("painting_id", pa.string()),  # ratings: the pair shown
        ("clip_id", pa.string()),
        ("query_id", pa.string()),  # preferences: what is shown
        ("candidate_a", pa.string()),
        ("candidate_b", pa.string()),
        ("reference_score", pa.float64()),  # gold ratings
        ("reference_id", pa.string()),  # gold preferences: the better candidate
    ]
)

#: Answers to quality-control tasks. They never enter ratings.parquet or
#: preference_votes.parquet, so no pair is scored twice from one rater.
MPD_QC_ANSWERS = pa.schema(
    [
        ("qc_id", pa.string()),
        ("rater_id", pa.string()),  # who answered (ls-user-<id>)
        ("score", pa.float64()),  # ratings
        ("chosen_id", pa.string()),  # preferences
        ("annotation_id", pa.string()),
        ("lead_time_s", pa.float64()),
        ("annotated_at", pa.timestamp("us", tz="UTC")),
        ("source", pa.string()),
    ]
)

#: Annotations an import did not use, each with the reason (nothing is dropped silently).
ANNOTATION_REJECTS = pa.schema(
    [
        ("export_file", pa.string()),
        ("kind", pa.string()),  # "ratings" | "preferences"
        ("task_ref", pa.string()),  # our pair/task id, or "ls-task-<id>" when ours is missing
        ("annotation_id", pa.string()),
        ("rater_id", pa.string()),
        ("reason", pa.string()),
        ("value", pa.string()),  # the offending result, as JSON text
    ]
)

# --- ArtSound captioning (Art2Mus paper, section 3.2) ---------------------------
#
# A built ArtSound folder holds ``artworks.parquet`` (:data:`IMAGES` rows) and
# ``tracks.parquet`` (:data:`AUDIO` rows) plus the caption tables below. The
# two attempt tables keep *every* generation attempt of the regenerate-below-
# threshold loop; ``kept`` is true for exactly one row per item that has a
# caption (the caption the dataset uses). An item whose every attempt failed
# with a backend error has no kept row (its error rows say why; a re-run
# retries it).

ARTSOUND_ARTWORKS = IMAGES
ARTSOUND_TRACKS = AUDIO

#: One row per 10 s segment of a track and its segment-level caption
#: (LP-MusicCaps, or the ``features`` captioner in the demo).
AUDIO_SEGMENT_CAPTIONS = pa.schema(
    [
        ("segment_id", pa.string()),  # <audio_id>-sNNN
        ("audio_id", pa.string()),
        ("segment_index", pa.int32()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),  # start_s + 10 (a padded segment runs past the track's end)
        ("padded", pa.bool_()),  # zero-padded: the track is shorter than one segment
        ("caption", pa.string()),
        ("n_chars", pa.int32()),
        ("backend", pa.string()),  # "lpmusiccaps" | "features"
        ("model", pa.string()),  # checkpoint file name / model id
    ]
)

#: Columns every attempt row has, whichever modality.
_ATTEMPT_HEAD = [
    ("attempt", pa.int32()),  # 0 = first generation; 1..3 = regenerations
    ("caption", pa.string()),  # null when the attempt failed (see ``error``)
    ("n_chars", pa.int32()),
    ("backend", pa.string()),  # "vllm" | "openai" | "transformers" | "features"
    ("model", pa.string()),
    ("prompt_version", pa.string()),  # e.g. "image-v1" / "image-refine-v1"
    ("prompt", pa.string()),  # the full instruction sent (refined prompts quote the previous caption)
]
_ATTEMPT_TAIL = [
    ("threshold", pa.float64()),
    ("passed", pa.bool_()),  # composite >= threshold; null when the composite is null
    ("kept", pa.bool_()),
    ("score_note", pa.string()),  # why a score is null (skipped / missing weights), else null
    ("error", pa.string()),  # backend error of a failed attempt, else null
]

#: Image captions: every attempt with CLIP-S, PAC-S and ICS.
#: ``*_cos`` are raw cosines, ``*_score`` the paper's scaled scores
#: (w·max(cos, 0), w = 2.5 / 2.0), ``*_norm`` the scores clipped to [0, 1]
#: (the normalisation the 0.80 threshold is applied to);
#: ``ics = 0.35·clip_norm + 0.65·pac_norm``. ``text_windows``: how many
#: sentence windows of <= 77 CLIP tokens the caption was scored as.
IMAGE_CAPTIONS = pa.schema(
    [("image_id", pa.string())]
    + _ATTEMPT_HEAD
    + [
        ("clip_cos", pa.float64()),
        ("clip_score", pa.float64()),
        ("clip_norm", pa.float64()),
        ("pac_cos", pa.float64()),
        ("pac_score", pa.float64()),
        ("pac_norm", pa.float64()),
        ("ics", pa.float64()),
        ("text_windows", pa.int32()),
    ]
    + _ATTEMPT_TAIL
)

#: Fused audio captions: every attempt with ROUGE-1 F, BERTScore F1 and ACS
#: (``acs = 0.30·rouge1 + 0.70·bertscore``), scored against the track's
#: segment captions (``n_segments`` of them; how several references are
#: combined is ``reference_mode``).
AUDIO_CAPTIONS = pa.schema(
    [("audio_id", pa.string())]
    + _ATTEMPT_HEAD
    + [
        ("n_segments", pa.int32()),
        ("rouge1", pa.float64()),
        ("bertscore", pa.float64()),
        ("acs", pa.float64()),
        ("reference_mode", pa.string()),
        ("bertscore_model", pa.string()),
    ]
    + _ATTEMPT_TAIL
)


# --- audio clips stored as files (Museart) -------------------------------------

#: One stored clip file, 16-bit PCM: 16 kHz mono (Museart) or the track's own
#: rate and channels (MPD's listening copies). ``path`` is relative to the
#: clip folder; ``signal_samples`` < ``n_samples`` means the end is zero padding.
#: ``source_peak``: the clip's largest absolute sample before the gain (> 1:
#: the source decodes above full scale); ``gain``: applied to every clip of the
#: track, 1 unless the track peaks above full scale (then 1 / its peak).
CLIP_FILES = pa.schema(
    [
        ("clip_id", pa.string()),
        ("path", pa.string()),
        ("sample_rate", pa.int32()),
        ("n_samples", pa.int64()),
        ("signal_samples", pa.int64()),
        ("source_peak", pa.float64()),
        ("gain", pa.float64()),
    ]
)

# --- Museart -------------------------------------------------------------------

#: ``name`` is the Museart id (the file stem); ``published_split`` the
#: published index's ``set`` (train/val/test, null without an index).
MUSEART_IMAGES = pa.schema(
    [
        ("image_id", pa.string()),
        ("name", pa.string()),
        ("path", pa.string()),  # relative to the images root (dataset.json media_roots.images)
        ("sha256", pa.string()),
        ("n_bytes", pa.int64()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("format", pa.string()),
        ("has_alpha", pa.bool_()),
        ("category", pa.string()),
        *PROVENANCE,
        ("published_split", pa.string()),
        _SPLIT,
    ]
)

#: One row per 30 s audio item (a clip of a source file; a 30 s file is one clip).
MUSEART_AUDIO = pa.schema(
    [
        ("audio_id", pa.string()),  # <track_id>-cNNN
        ("track_id", pa.string()),  # the source file's ingest id
        ("name", pa.string()),  # Museart id: file stem, + "segmentNN" when a file gives several clips
        ("group", pa.string()),  # source track (grouping key), from the name
        ("path", pa.string()),  # source file, relative to the audio root
        ("clip_path", pa.string()),  # stored clip, relative to the dataset folder
        ("clip_index", pa.int32()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("signal_s", pa.float64()),  # seconds of real signal (< 30: zero-padded)
        ("source_peak", pa.float64()),  # the clip's peak before the gain (> 1: above full scale)
        ("gain", pa.float64()),  # applied to the stored clip (1 unless the track peaks above full scale)
        ("source_duration_s", pa.float64()),
        ("source_sample_rate", pa.int32()),
        ("source_channels", pa.int32()),
        ("sha256", pa.string()),  # of the source file
        ("category", pa.string()),
        *PROVENANCE,  # of the source file
        ("published_split", pa.string()),
        _SPLIT,
    ]
)

#: Materialised pairing: each audio item with one image of its category and split.
MUSEART_PAIRS = pa.schema(
    [
        ("audio_id", pa.string()),
        ("image_id", pa.string()),
        ("category", pa.string()),
        _SPLIT,
    ]
)

#: ``pairs/<split>/part-*.parquet``: the pairs of one split with what a
#: trainer needs to load them (see ``datasets.readers.museart.read_pairs``).
MUSEART_PAIR_ROWS = pa.schema(
    [
        ("audio_id", pa.string()),
        ("image_id", pa.string()),
        ("category", pa.string()),
        _SPLIT,
        ("audio_name", pa.string()),
        ("image_name", pa.string()),
        ("group", pa.string()),
        ("audio_path", pa.string()),  # relative to the dataset folder
        ("image_path", pa.string()),  # relative to the images root
    ]
)

# --- MPJudge (models/mpjudge) ----------------------------------------------------

#: `synesthesia eval mpjudge`: one row per scored pair of the evaluated split.
MPJUDGE_PREDICTIONS = pa.schema(
    [
        ("pair_id", pa.string()),
        ("painting_id", pa.string()),
        ("clip_id", pa.string()),
        ("split", pa.string()),
        ("score", pa.float64()),  # the annotated score (scores.parquet)
        ("predicted", pa.float64()),  # the model's coherence score in [0, 1]
    ]
)

# --- Art2Mus (training logs, validation and evaluation results) ------------------

def art2mus_embeddings_schema(dim: int) -> pa.Schema:
    """Image/audio embeddings Art2Mus computes when the ArtSound store lacks them
    (cached in the run folder): the columns of ArtSound's embeddings store
    (``id, vector, model, dim``), vectors float32 and L2-normalised."""
    return pa.schema(
        [("id", pa.string()), ("vector", pa.list_(pa.float32(), dim)), ("model", pa.string()), ("dim", pa.int32())],
        metadata={"synesthesia": json.dumps({"shape": [dim]}), "schema_version": SCHEMA_VERSION},
    )


#: One row per optimiser step (``train_log.parquet`` of a run folder).
ART2MUS_TRAIN_LOG = pa.schema(
    [
        ("step", pa.int64()),
        ("epoch", pa.int32()),
        ("loss", pa.float64()),  # min-SNR weighted (Eq. 11), mean over the step's examples
        ("mse", pa.float64()),  # unweighted noise-prediction MSE (Eq. 9)
        ("lr", pa.float64()),
        ("grad_norm", pa.float64()),  # before clipping
        ("examples", pa.int32()),
        ("seconds", pa.float64()),  # wall time of the step
    ]
)

#: Per generated clip of a validation or evaluation run.
ART2MUS_ITEMS = pa.schema(
    [
        ("step", pa.int64()),  # training step of the checkpoint
        ("image_id", pa.string()),
        ("audio_id", pa.string()),
        ("generated_path", pa.string()),  # relative to the output folder
        ("kl_div", pa.float64()),  # spectral-profile KL(ground truth || generated)
        ("ibsc_artw_gemus", pa.float64()),  # cosine(artwork, generated) in the IBSc embedder's space
        ("ibsc_gtmus_gemus", pa.float64()),  # cosine(ground-truth track, generated)
    ]
)

#: One row per evaluated model: the columns of the paper's Table 7, plus
#: which embedder produced the FAD and IBSc numbers and how many clips.
ART2MUS_RESULTS = pa.schema(
    [
        ("model", pa.string()),
        ("emb_model", pa.string()),
        ("train_hours", pa.float64()),
        ("tokens_per_image", pa.int32()),
        ("step", pa.int64()),
        ("fad", pa.float64()),
        ("fad_model", pa.string()),
        ("kl_div", pa.float64()),
        ("ibsc_artw_gemus", pa.float64()),
        ("ibsc_gtmus_gemus", pa.float64()),
        ("ibsc_model", pa.string()),
        ("n_items", pa.int32()),
        ("inference_steps", pa.int32()),
        ("seconds", pa.float64()),
        ("guidance_scale", pa.float64()),
    ]
)


# --- embeddings store (issue 5) ---------------------------------------------------

#: What an embedding was computed from: the item itself or its kept caption.
EMBEDDING_VIEWS = ("raw", "caption")


def embeddings_schema(dim: int, extra: Mapping[str, object] | None = None) -> pa.Schema:
    """Schema of ``embeddings/{modality}-{view}/part-*.parquet``: one row per
    item, its L2-normalised vector as a float32 fixed-size list of ``dim``
    values, the model that produced it, and ``dim`` (also in the metadata)."""
    meta = {"dim": dim}
    meta.update(extra or {})
    return pa.schema(
        [
            ("id", pa.string()),
            ("vector", pa.list_(pa.float32(), dim)),
            ("model", pa.string()),
            ("dim", pa.int32()),
        ],
        metadata={"synesthesia": json.dumps(meta), "schema_version": SCHEMA_VERSION},
    )


# --- ArtSound pairing (issue 5) -------------------------------------------------------

#: One approach's pairs (``pairings/{method}/{approach}.parquet``).
ARTSOUND_APPROACH_PAIRS = pa.schema(
    [
        ("audio_id", pa.string()),
        ("image_id", pa.string()),
        ("similarity", pa.float64()),
        ("approach", pa.string()),
        ("method", pa.string()),
        ("rank", pa.int64()),  # order of choice (greedy: 0 = most similar pair, taken first)
    ]
)

#: Table 5 on our data: one row per (approach, method).
ARTSOUND_PAIRING_STATS = pa.schema(
    [
        ("approach", pa.string()),
        ("method", pa.string()),
        ("embedder", pa.string()),
        ("audio", pa.int64()),  # audio items with the embedding this approach needs
        ("images", pa.int64()),
        ("pairs", pa.int64()),
        ("unpaired_audio", pa.int64()),
        ("min", pa.float64()),
        ("max", pa.float64()),
        ("mean", pa.float64()),
        ("std", pa.float64()),
        ("p10", pa.float64()),
        ("bottom_decile_mean", pa.float64()),
        ("low", pa.int64()),  # similarity <= 0.25
        ("medium", pa.int64()),  # 0.25 < similarity < 0.6
        ("high", pa.int64()),  # similarity >= 0.6
        ("seconds", pa.float64()),
    ]
)

#: Figure 5's counts: final pairs per (music genre, artistic style).
ARTSOUND_STYLE_BY_GENRE = pa.schema([("music_genre", pa.string()), ("style", pa.string()), ("pairs", pa.int64())])

_ARTSOUND_PAIRS_BASE = [
    ("pair_id", pa.string()),
    ("audio_id", pa.string()),
    ("image_id", pa.string()),
    ("similarity", pa.float64()),
    ("approach", pa.string()),
    ("method", pa.string()),
    ("split", pa.string()),
    ("audio_path", pa.string()),  # relative to dataset.json media_roots["music"]
    ("image_path", pa.string()),  # relative to dataset.json media_roots["artworks"]
    ("style", pa.string()),
    ("artwork_genre", pa.string()),
    ("artist", pa.string()),
    ("title", pa.string()),
    ("music_genre", pa.string()),
    ("music_subgenres", pa.list_(pa.string())),
    ("music_artist", pa.string()),
    ("music_title", pa.string()),
    ("artwork_source", pa.string()),
    ("artwork_licence", pa.string()),
    ("artwork_source_id", pa.string()),
    ("music_source", pa.string()),
    ("music_licence", pa.string()),
    ("music_source_id", pa.string()),
    ("image_caption", pa.string()),
    ("audio_caption", pa.string()),
]

#: Caption-table columns that are not carried into ``pairs.parquet`` as scores.
CAPTION_KEY_COLUMNS = ("image_id", "audio_id", "caption", "kept")


def artsound_pairs_schema(image_caption_fields: Iterable[pa.Field] = (), audio_caption_fields: Iterable[pa.Field] = ()) -> pa.Schema:
    """Schema of ArtSound's ``pairs.parquet`` and ``data/{split}.parquet``.

    The fixed columns, then every other column of the kept caption rows
    (``attempt`` and the quality scores the captioning phase wrote), prefixed
    ``image_caption_`` / ``audio_caption_`` and keeping their types."""
    fields = list(_ARTSOUND_PAIRS_BASE)
    for prefix, extra in (("image_caption_", image_caption_fields), ("audio_caption_", audio_caption_fields)):
        for f in extra:
            if f.name not in CAPTION_KEY_COLUMNS:
                fields.append((prefix + f.name, f.type))
    return pa.schema(fields)


# --- Musipainter (models/musipainter) -------------------------------------------------

#: `synesthesia eval musipainter`: one row per evaluated checkpoint (Table 1's columns).
MUSIPAINTER_RESULTS = pa.schema(
    [
        ("model", pa.string()),
        ("checkpoint", pa.string()),
        ("split", pa.string()),
        ("n_generated", pa.int32()),
        ("ais", pa.float64()),  # Eq. 5, percent; null when the embedder has no audio
        ("ais_note", pa.string()),
        ("iis", pa.float64()),  # Eq. 6, percent
        ("fid", pa.float64()),
        ("fid_features", pa.string()),  # which features the Fréchet distance used
        ("similarity_model", pa.string()),  # the embedder of AIS / IIS / GIILS
    ]
)

#: GIILS (Eq. 8) per checkpoint and music category (Tables 5 and 6).
MUSIPAINTER_GIILS = pa.schema(
    [
        ("model", pa.string()),
        ("label", pa.string()),
        ("giils", pa.float64()),
        ("n_images", pa.int32()),
    ]
)
