"""ArtSound's final pairs: the chosen approach's pairs with their split
(section 5.2), the artwork/track metadata and kept captions, Table 5's
statistics, Figures 2 and 5, the card and the ``pairing`` block of the report.

Adds to the folder::

    DIR/pairing_stats.parquet                  schema.ARTSOUND_PAIRING_STATS (Table 5)
    DIR/style_by_genre.parquet                 schema.ARTSOUND_STYLE_BY_GENRE (Figure 5)
    DIR/pairs.parquet                          schema.artsound_pairs_schema(...)
    DIR/data/{train,val,test}.parquet          the same rows, one file per split
    DIR/figures/similarity_violins.png, DIR/figures/style_by_genre.png
    DIR/README.md                              Hugging Face dataset card
    DIR/report.md                              the "pairing" block (other phases keep theirs)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.datasets.markdown import upsert_section, value_counts
from synesthesia.recipes.artsound.config import APPROACHES, ID_COLUMN, TRAIN_FRACTION, VAL_SIZE, ArtSoundPairingConfig, config_dict
from synesthesia.recipes.artsound.pairing import Embedded, PairingInputs
from synesthesia.recipes.artsound.report import report_block, write_card
from synesthesia.stages import figures
from synesthesia.stages.pairing import pair_id
from synesthesia.stages.splits import allocate, split_by_counts, stratified_split


def artsound_splits(ids: list[str], styles: list[object], train_fraction: float = TRAIN_FRACTION, val_size: int = VAL_SIZE, seed: int = 0) -> list[str]:
    """Section 5.2: train/test stratified by artistic style, then a
    validation set of ``val_size`` sampled from the test split, stratified by
    style where possible.

    The paper does not say whether the validation artworks stay in the test
    split; here they leave it, so the three splits are disjoint (test =
    10 % − val). When the test split is smaller than ``2 × val_size``, val
    takes half of it (rounded down) so test keeps at least as many as val."""
    labels = stratified_split(ids, styles, {"train": train_fraction, "test": 1 - train_fraction}, seed)
    test = [k for k, s in enumerate(labels) if s == "test"]
    n_val = min(val_size, len(test) // 2)
    test_styles = [styles[k] for k in test]
    per_style: dict = {}
    for s in test_styles:
        per_style[s] = per_style.get(s, 0) + 1
    # Largest-remainder shares of n_val per style; a style too small for a
    # share that rounds up to one item gets none ("stratified where possible").
    quota = allocate(n_val, {str(s): c for s, c in per_style.items()}) if n_val else {}
    counts = {s: {"val": quota.get(str(s), 0), "test": c - quota.get(str(s), 0)} for s, c in per_style.items()}
    for k, label in zip(test, split_by_counts([ids[k] for k in test], test_styles, counts, seed)):
        labels[k] = label
    return labels


# --- tables -------------------------------------------------------------------------------------

def _caption_extras(table: pa.Table | None) -> list[pa.Field]:
    if table is None:
        return []
    return [f for f in table.schema if f.name not in S.CAPTION_KEY_COLUMNS]


def pairs_schema(inputs: PairingInputs) -> pa.Schema:
    return S.artsound_pairs_schema(_caption_extras(inputs.captions.get("image")), _caption_extras(inputs.captions.get("audio")))


def _lookup(table: pa.Table, key: str, columns: list[str]) -> dict[str, dict]:
    cols = {c: table.column(c).to_pylist() for c in columns if c in table.column_names}
    keys = table.column(key).to_pylist()
    return {k: {c: v[i] for c, v in cols.items()} for i, k in enumerate(keys)}


def assemble_pairs(final: pa.Table, splits: list[str], inputs: PairingInputs) -> pa.Table:
    """``pairs.parquet``: the final approach's pairs with their split, the
    artwork and track metadata, and the kept captions with their scores."""
    schema = pairs_schema(inputs)
    art = _lookup(inputs.artworks, "image_id", ["path", "style", "genre", "artist", "title", *S.PROVENANCE_COLUMNS])
    trk = _lookup(inputs.tracks, "audio_id", ["path", "genre", "subgenres", "artist", "title", *S.PROVENANCE_COLUMNS])
    caps = {}
    for modality in ("image", "audio"):
        t = inputs.captions.get(modality)
        caps[modality] = _lookup(t, ID_COLUMN[modality], [c for c in t.column_names if c not in (ID_COLUMN[modality], "kept")]) if t is not None else {}
    rows = []
    for a_id, i_id, s, approach, method, split in zip(
        final.column("audio_id").to_pylist(),
        final.column("image_id").to_pylist(),
        final.column("similarity").to_pylist(),
        final.column("approach").to_pylist(),
        final.column("method").to_pylist(),
        splits,
    ):
        a, t = art.get(i_id, {}), trk.get(a_id, {})
        row = {
            "pair_id": pair_id(i_id, a_id),
            "audio_id": a_id,
            "image_id": i_id,
            "similarity": s,
            "approach": approach,
            "method": method,
            "split": split,
            "audio_path": t.get("path"),
            "image_path": a.get("path"),
            "style": a.get("style"),
            "artwork_genre": a.get("genre"),
            "artist": a.get("artist"),
            "title": a.get("title"),
            "music_genre": t.get("genre"),
            "music_subgenres": t.get("subgenres"),
            "music_artist": t.get("artist"),
            "music_title": t.get("title"),
            **{f"artwork_{k}": a.get(k) for k in S.PROVENANCE_COLUMNS},
            **{f"music_{k}": t.get(k) for k in S.PROVENANCE_COLUMNS},
        }
        for modality, item in (("image", i_id), ("audio", a_id)):
            cap = caps[modality].get(item, {})
            row[f"{modality}_caption"] = cap.get("caption")
            for k, v in cap.items():
                if k != "caption" and f"{modality}_caption_{k}" in schema.names:
                    row[f"{modality}_caption_{k}"] = v
        rows.append(row)
    table = S.from_rows(rows, schema)
    return table.sort_by([("split", "ascending"), ("audio_id", "ascending")])


def style_by_genre(pairs: pa.Table) -> pa.Table:
    """Figure 5's counts: final pairs per (music genre, artistic style)."""
    counts: dict[tuple[str, str], int] = {}
    for g, s in zip(pairs.column("music_genre").to_pylist(), pairs.column("style").to_pylist()):
        key = ("(none)" if g is None else g, "(none)" if s is None else s)
        counts[key] = counts.get(key, 0) + 1
    rows = [{"music_genre": g, "style": s, "pairs": n} for (g, s), n in sorted(counts.items())]
    return S.from_rows(rows, S.ARTSOUND_STYLE_BY_GENRE)


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


REPORT_BLOCK = "pairing"


def finish_pairs(folder: Path, embedded: Embedded, stat_rows: list[dict], final: pa.Table, config: ArtSoundPairingConfig) -> dict:
    """The final approach's pairs with their splits (``pairs.parquet``,
    ``data/<split>.parquet``), Figure 5's counts, both figures, the phase's
    quarantine rows, its report block, the card and ``dataset.json``."""
    inputs = embedded.inputs
    style_of = dict(zip(inputs.artworks.column("image_id").to_pylist(), inputs.artworks.column("style").to_pylist()))
    image_ids = final.column("image_id").to_pylist()
    splits = artsound_splits(image_ids, [style_of.get(i) for i in image_ids], config.train_fraction, config.val_size, config.seed)
    pairs = assemble_pairs(final, splits, inputs)
    dio.write_table(pairs, folder / "pairs.parquet")
    for split in ("train", "val", "test"):
        dio.write_table(pairs.filter(pc.equal(pairs.column("split"), split)), folder / "data" / f"{split}.parquet")
    sbg = style_by_genre(pairs)
    dio.write_table(sbg, folder / "style_by_genre.parquet", S.ARTSOUND_STYLE_BY_GENRE)

    main = [r for r in stat_rows if r["method"] == config.method]
    sims = {APPROACHES[r["approach"]].label: _similarities(folder, r["approach"], config.method) for r in main}
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
    quarantine = _update_quarantine(folder, dio.concat(embedded.rejected, S.QUARANTINE))
    unpaired = next(r["unpaired_audio"] for r in stat_rows if r["approach"] == config.approach and r["method"] == config.method)
    summary = {
        "embeddings": {f"{m}-{v}": info for (m, v), info in embedded.stores.items()},
        "approaches": embedded.approaches,
        "skipped": embedded.skipped,
        "audio_items": inputs.tracks.num_rows,
        "artworks": inputs.artworks.num_rows,
        "pairs": pairs.num_rows,
        "unpaired_audio": unpaired,
        "rejected": quarantine,
        "splits": dict(value_counts(pairs.column("split").to_pylist())),
        "stats": stat_rows,
        "figures": plotted,
    }
    stats = S.from_rows(stat_rows, S.ARTSOUND_PAIRING_STATS)
    report_path = folder / "report.md"
    existing = report_path.read_text(encoding="utf-8") if report_path.exists() else ""
    dio.write_text(upsert_section(existing, REPORT_BLOCK, report_block(summary, stats, pairs, config), "ArtSound build report"), report_path)
    write_card(folder, pairs, config, stats)
    manifest = dio.read_manifest(folder)
    manifest["pairing"] = {"config": config_dict(config), "pairs": pairs.num_rows, "splits": summary["splits"]}
    dio.write_manifest(folder, manifest)
    return summary
