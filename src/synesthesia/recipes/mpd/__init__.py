"""The MPD recipe (MPJudge paper): plain functions over an MPD folder.

In the order a build runs them (``flows/mpd.py`` maps them onto Prefect):

1. :func:`ingest` — validate paintings and music, split them (leak-free,
   stratified; tracks by their share of clips), plan the 15 s clips;
2. :func:`audio` — the random pairs, then one decode per track for the
   128 × 469 log-mel of every clip and the paired clips' listening copies;
3. :func:`finish_build` — ``dataset.json`` and the build summary;
4. :func:`run_phases` — the annotation phases as far as the folder's data
   allows (rating tasks → scores and preference tasks → consensus, card);
5. :func:`write_report` — ``report.md``.

Between the phases, people label in Label Studio
(:func:`labelstudio_tasks`, :func:`import_annotations`; a whole campaign with
per-rater queues and quality checks: :func:`setup_campaign`, ``server``,
``live``); :func:`status` says what a folder waits for.
"""

from synesthesia.recipes.mpd.annotation import (
    finish,
    listening_copies,
    plan_preferences,
    plan_ratings,
    run_phases,
    score_ratings,
    simulate_ratings,
    simulate_votes,
)
from synesthesia.recipes.mpd.build import Items, assemble_items, audio, build_summary, draw_pairs, finish_build, ingest, listening_job
from synesthesia.recipes.mpd.config import (  # the folder layout and the configs
    DEFAULT_SHARD_SIZE,
    BUILD_SUMMARY,
    ASSIGNMENTS,
    CLIP_MEDIA,
    CLIP_MEDIA_DIR,
    DEFAULT_FORMAT,
    RATINGS_FILE,
    SCORES,
    UNSCORED,
    RATER_STATS,
    AGREEMENT,
    PREFERENCE_TASKS_FILE,
    PREFERENCE_ASSIGNMENTS,
    PREFERENCE_VOTES,
    PREFERENCE_PAIRS,
    REJECTS,
    GOLD,
    QUEUES,
    QC_TASKS,
    QC_ANSWERS,
    SERVED_MEDIA,
    SERVER_POINTER,
    LABELSTUDIO,
    IMPORT_LOG,
    PROCESSED,
    PROJECTS,
    FIGURES,
    WAITING_FOR_RATINGS,
    WAITING_FOR_VOTES,
    WAITING_FOR_MORE_VOTES,
    COMPLETE,
    WAITING_FOR_RUN,
    MPDAnnotationConfig,
    annotation_config,
    excluded_raters,
    set_exclude_flagged,
    used_votes,
    DATASET,
    SPLIT_MODES,
    MPDConfig,
    NotAnMPDFolder,
    read_optional,
    require_mpd_folder,
)
from synesthesia.recipes.mpd.export import HF_FOLDER, scored_pairs_table, write_hf_export
from synesthesia.recipes.mpd.labelstudio import (
    default_links, import_annotations, import_log, labelstudio_tasks, media_files, served_media, storage_folders, write_labelstudio_files,
)
from synesthesia.recipes.mpd.campaign import import_gold, phase_kinds, plan_campaign, rater_tasks, roster_for, setup_campaign
from synesthesia.recipes.mpd.report import annotation_sections, data_sections, write_report
from synesthesia.recipes.mpd.status import status

__all__ = [
    "Items", "assemble_items", "audio", "build_summary", "draw_pairs", "finish_build", "ingest", "listening_job",
    "finish", "listening_copies", "plan_preferences", "plan_ratings", "run_phases", "score_ratings",
    "simulate_ratings", "simulate_votes",
    "HF_FOLDER", "scored_pairs_table", "write_hf_export",
    "default_links", "import_annotations", "import_log", "labelstudio_tasks", "media_files", "served_media", "storage_folders",
    "write_labelstudio_files",
    "import_gold", "phase_kinds", "plan_campaign", "rater_tasks", "roster_for", "setup_campaign",
    "write_report", "annotation_sections", "data_sections", "status",
    "DEFAULT_SHARD_SIZE",
    "BUILD_SUMMARY",
    "ASSIGNMENTS",
    "CLIP_MEDIA",
    "CLIP_MEDIA_DIR",
    "DEFAULT_FORMAT",
    "RATINGS_FILE",
    "SCORES",
    "UNSCORED",
    "RATER_STATS",
    "AGREEMENT",
    "PREFERENCE_TASKS_FILE",
    "PREFERENCE_ASSIGNMENTS",
    "PREFERENCE_VOTES",
    "PREFERENCE_PAIRS",
    "REJECTS",
    "GOLD",
    "QUEUES",
    "QC_TASKS",
    "QC_ANSWERS",
    "SERVED_MEDIA",
    "SERVER_POINTER",
    "LABELSTUDIO",
    "IMPORT_LOG",
    "PROCESSED",
    "PROJECTS",
    "FIGURES",
    "WAITING_FOR_RATINGS",
    "WAITING_FOR_VOTES",
    "WAITING_FOR_MORE_VOTES",
    "COMPLETE",
    "WAITING_FOR_RUN",
    "MPDAnnotationConfig",
    "annotation_config",
    "excluded_raters",
    "set_exclude_flagged",
    "used_votes",
    "DATASET",
    "SPLIT_MODES",
    "MPDConfig",
    "read_optional",
    "NotAnMPDFolder",
    "require_mpd_folder",
    "NotAnMPDFolder",
    "require_mpd_folder",
]
