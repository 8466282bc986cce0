"""ArtSound pairing phase as a Prefect (sub)flow: embeddings → the four
pairing approaches → statistics, figures → final pairs, splits, card, report.

Thin: every step is a stage from ``pipelines`` or ``datasets.artsound_pairing``.
``build_artsound`` continues into this flow after captioning; it also runs on
its own (``synesthesia build artsound-pairs --dataset DIR``) on any folder the
captioning phase wrote. Re-running resumes: finished embedding shards are
skipped, and an approach's pairs are reused while its embeddings and the
pairing config are unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import flow, get_run_logger

from synesthesia.datasets import artsound_pairing as AP
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.flows.common import RunnerConfig, ensure_prefect_api, run_shards
from synesthesia.pipelines import embedding_store as ES
from synesthesia.pipelines import figures
from synesthesia.pipelines.matching import match_ids
from synesthesia.pipelines.report import upsert_section, value_counts
from synesthesia.pipelines.shards import stable_hash

REPORT_BLOCK = "pairing"


def compute_stores(inputs: AP.PairingInputs, needed: list[tuple[str, str]], config: AP.ArtSoundPairingConfig) -> tuple[dict, list[pa.Table]]:
    """The sharded embedding stage for every needed store, all shards mapped
    over the task runner together; returns per-store summaries and the rejected rows."""
    plans, stage_of = {}, {}
    for modality, view in needed:
        ids, kwargs = AP.store_inputs(inputs, modality, view)
        items, prints = ES.work_items(ids, **kwargs)
        shards = ES.plan_store(modality, view, items, prints, config.embed, config.shard_size)
        folder = ES.store_dir(inputs.folder, modality, view)
        root = None if view == "caption" else AP.media_root(inputs, modality)
        plans[(modality, view)] = (len(items), shards, folder)
        stage_of[f"embed-{modality}-{view}"] = (modality, view, root, str(folder))
    all_shards = [s for _, shards, _ in plans.values() for s in shards]
    results = run_shards(ES.embed_any_shard_step, all_shards, stores=stage_of, config=config.embed)
    skipped = {}
    for shard, result in zip(all_shards, results):
        skipped[shard.stage] = skipped.get(shard.stage, 0) + bool(result.get("skipped"))
    info, rejected = {}, []
    for (modality, view), (n_items, shards, folder) in plans.items():
        bad = ES.collect_store(shards, folder)
        rejected.append(bad)
        info[(modality, view)] = {
            "items": n_items,
            "rejected": bad.num_rows,
            "shards": len(shards),
            "skipped_shards": skipped.get(f"embed-{modality}-{view}", 0),
            "files": sorted(p.name for p in dio.part_files(folder, "part-")),
        }
    return info, rejected


def _pairing_key(approach: str, method: str, config: AP.ArtSoundPairingConfig, stores: dict) -> str:
    a = AP.APPROACHES[approach]
    return stable_hash(approach, method, config.match(method), stores[("image", a.image_view)]["files"], stores[("audio", a.audio_view)]["files"])


def pair_approach(folder: Path, approach: str, method: str, config: AP.ArtSoundPairingConfig, stores: dict, vectors: dict) -> tuple[pa.Table, dict]:
    """One approach's pairs (reused from ``pairings/`` when still valid) and its Table 5 row."""
    a = AP.APPROACHES[approach]
    path = folder / "pairings" / method / f"{approach}.parquet"
    key = _pairing_key(approach, method, config, stores)
    a_ids, A, _ = vectors[("audio", a.audio_view)]
    i_ids, X, _ = vectors[("image", a.image_view)]
    if path.exists():
        cached = pq.read_table(path)
        meta = S.schema_meta(cached.schema)
        if meta.get("key") == key:
            sims = cached.column("similarity").to_numpy()
            return cached, AP.stats_row(approach, method, config.embedder, len(a_ids), len(i_ids), sims, int(meta["unpaired"]), float(meta["seconds"]))
    result = match_ids(a_ids, A, i_ids, X, config.match(method))
    table = result.table(approach, method)
    meta = {"key": key, "unpaired": len(result.unpaired_audio), "seconds": result.stats["seconds"], "stats": result.stats}
    table = table.replace_schema_metadata({b"synesthesia": json.dumps(meta, default=str)})
    dio.write_table(table, path)
    row = AP.stats_row(approach, method, config.embedder, len(a_ids), len(i_ids), result.similarity, len(result.unpaired_audio), result.stats["seconds"])
    return table, row


@flow(name="pair-artsound", validate_parameters=False)
def pair_artsound_flow(dataset: str, config: AP.ArtSoundPairingConfig = AP.ArtSoundPairingConfig()) -> dict:
    logger = get_run_logger()
    folder = Path(dataset)
    AP.preflight_pairing(config, folder)
    inputs = AP.read_inputs(folder)
    approaches, skipped = AP.plan_approaches(config, inputs)
    for name, reason in skipped.items():
        logger.info("approach %s skipped: %s", name, reason)

    stores, rejected = compute_stores(inputs, AP.stores_needed(approaches), config)
    for (modality, view), info in stores.items():
        logger.info("embeddings %s-%s: %d items, %d rejected (%d/%d shards reused)", modality, view, info["items"], info["rejected"], info["skipped_shards"], info["shards"])
    vectors = {mv: ES.read_embeddings(ES.store_dir(folder, *mv)) for mv in stores}
    for mv, (ids, _, meta) in vectors.items():
        stores[mv].update({"embedded": len(ids), "models": meta.get("models", []), "dim": meta.get("dim")})

    stat_rows, final = [], None
    runs = [(a, config.method) for a in approaches]
    if config.compare_methods:
        runs += [(config.approach, m) for m in ("greedy", "optimal-knn") if m != config.method]
    for approach, method in runs:
        table, row = pair_approach(folder, approach, method, config, stores, vectors)
        stat_rows.append(row)
        logger.info("pairing %s (%s): %d pairs, mean similarity %s, %d unpaired (%.1fs)", approach, method, row["pairs"], f"{row['mean']:.4f}" if row["pairs"] else "-", row["unpaired_audio"], row["seconds"])
        if approach == config.approach and method == config.method:
            final = table
    stats = S.from_rows(stat_rows, S.ARTSOUND_PAIRING_STATS)
    dio.write_table(stats, folder / "pairing_stats.parquet", S.ARTSOUND_PAIRING_STATS)

    style_of = dict(zip(inputs.artworks.column("image_id").to_pylist(), inputs.artworks.column("style").to_pylist()))
    image_ids = final.column("image_id").to_pylist()
    splits = AP.artsound_splits(image_ids, [style_of.get(i) for i in image_ids], config.train_fraction, config.val_size, config.seed)
    pairs = AP.assemble_pairs(final, splits, inputs)
    dio.write_table(pairs, folder / "pairs.parquet")
    for split in ("train", "val", "test"):
        dio.write_table(pairs.filter(pc.equal(pairs.column("split"), split)), folder / "data" / f"{split}.parquet")
    sbg = AP.style_by_genre(pairs)
    dio.write_table(sbg, folder / "style_by_genre.parquet", S.ARTSOUND_STYLE_BY_GENRE)

    main = [r for r in stat_rows if r["method"] == config.method]
    sims = {AP.APPROACHES[r["approach"]].label: _similarities(folder, r["approach"], config.method) for r in main}
    # What each figure drew (counts read back from it), kept in the summary.
    plotted = {
        "similarity_violins": figures.similarity_violins(sims, folder / "figures" / "similarity_violins.png", f"Similarity of the chosen pairs ({config.embedder}, {config.method})"),
        "style_by_genre": figures.stacked_counts(
            [(r["music_genre"], r["style"], r["pairs"]) for r in sbg.to_pylist()],
            folder / "figures" / "style_by_genre.png",
            "Final pairs by music genre, segmented by artistic style",
            max_segments=config.figure_max_styles,
            legend_title="artistic style",
        ),
    }

    quarantine = _update_quarantine(folder, dio.concat(rejected, S.QUARANTINE))
    unpaired = next(r["unpaired_audio"] for r in stat_rows if r["approach"] == config.approach and r["method"] == config.method)
    summary = {
        "embeddings": {f"{m}-{v}": info for (m, v), info in stores.items()},
        "approaches": approaches,
        "skipped": skipped,
        "audio_items": inputs.tracks.num_rows,
        "artworks": inputs.artworks.num_rows,
        "pairs": pairs.num_rows,
        "unpaired_audio": unpaired,
        "rejected": quarantine,
        "splits": dict(value_counts(pairs.column("split").to_pylist())),
        "stats": stat_rows,
        "figures": plotted,
    }
    report_path = folder / "report.md"
    existing = report_path.read_text(encoding="utf-8") if report_path.exists() else ""
    dio.write_text(upsert_section(existing, REPORT_BLOCK, AP.report_block(summary, stats, pairs, config), "ArtSound build report"), report_path)
    AP.write_card(folder, pairs, config, stats)
    manifest = dio.read_manifest(folder)
    manifest["pairing"] = {"config": AP.config_dict(config), "pairs": pairs.num_rows, "splits": summary["splits"]}
    dio.write_manifest(folder, manifest)
    logger.info("ArtSound pairs: %d (%s); report: %s", pairs.num_rows, summary["splits"], report_path)
    return summary


def _similarities(folder: Path, approach: str, method: str) -> np.ndarray:
    return pq.read_table(folder / "pairings" / method / f"{approach}.parquet", columns=["similarity"]).column("similarity").to_numpy()


def _update_quarantine(folder: Path, rejected: pa.Table) -> int:
    """Replace this phase's rows (stage ``embed``) in ``quarantine.parquet``,
    keeping every other phase's; returns how many are this phase's."""
    path = folder / "quarantine.parquet"
    existing = dio.read_table(path, S.QUARANTINE) if path.exists() else S.empty(S.QUARANTINE)
    others = existing.filter(pc.not_equal(existing.column("stage"), "embed")) if existing.num_rows else existing
    dio.write_table(dio.concat([others, rejected], S.QUARANTINE), path, S.QUARANTINE)
    return rejected.num_rows


def pair_artsound(dataset: str | os.PathLike, config: AP.ArtSoundPairingConfig = AP.ArtSoundPairingConfig(), runner: RunnerConfig = RunnerConfig()) -> dict:
    """Run the pairing flow on its own with the chosen task runner (the
    entry point behind ``synesthesia build artsound-pairs``). Inside another
    flow, call ``pair_artsound_flow.with_options(task_runner=runner.task_runner())(dir, config)``.

    Checks its inputs first (:func:`~synesthesia.datasets.artsound_pairing.preflight_pairing`):
    a missing input raises ``PairingPreflightError`` before any work, Prefect included."""
    AP.preflight_pairing(config, dataset)
    ensure_prefect_api()
    return pair_artsound_flow.with_options(task_runner=runner.task_runner())(str(dataset), config)
