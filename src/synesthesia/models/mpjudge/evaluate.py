"""Evaluation: SRCC, PLCC, MAE and accuracy on a split (paper, Table 2/3).

* SRCC: Spearman rank correlation of predicted and annotated scores.
* PLCC: Pearson linear correlation (on the raw scores; no logistic fit).
* MAE: mean absolute error.
* ACC: prediction and annotation each binarised at ``threshold`` (0.5:
  "matches" iff score ≥ 0.5), fraction that agree (see
  ``config.ACCURACY_THRESHOLD`` for why this reading of "a fixed threshold").
* Beyond the paper: ``pref_acc``, the fraction of the split's consensus
  preference pairs whose chosen item gets the higher score.

A correlation is NaN (``null`` in JSON) when either side is constant.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.models.devices import resolve_device
from synesthesia.datasets.readers.mpd import MPDMedia, read_preference_pairs, read_scored_pairs
from synesthesia.models.mpjudge import checkpoint as ckpt
from synesthesia.models.mpjudge.config import ACCURACY_THRESHOLD, TrainConfig
from synesthesia.models.mpjudge.model import MPJudge
from synesthesia.datasets.markdown import md_table

METRICS = ("srcc", "plcc", "mae", "acc")


def coherence_metrics(predicted, target, threshold: float = ACCURACY_THRESHOLD) -> dict:
    from scipy import stats

    p = np.asarray(predicted, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if len(p) != len(t):
        raise ValueError("predicted and target differ in length")
    out = {"n": int(len(p)), "srcc": math.nan, "plcc": math.nan, "mae": math.nan, "acc": math.nan}
    if len(p) == 0:
        return out
    out["mae"] = float(np.mean(np.abs(p - t)))
    out["acc"] = float(np.mean((p >= threshold) == (t >= threshold)))
    if len(p) > 1 and np.ptp(p) > 0 and np.ptp(t) > 0:
        out["srcc"] = float(stats.spearmanr(p, t).statistic)
        out["plcc"] = float(stats.pearsonr(p, t).statistic)
    return out


def autocast(device: torch.device, amp: str):
    """bf16 autocast on CUDA unless ``amp == "off"``; on CPU only for ``amp == "bf16"``."""
    if amp == "off" or (device.type != "cuda" and amp != "bf16"):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def to_model_inputs(paintings, mels, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 ``[B, H, W, 3]`` and float16 dB ``[B, n_mels, frames]`` (numpy or
    torch) → model inputs on ``device``: float RGB in [0, 1] ``[B, 3, H, W]``
    and float32 mels. Conversion happens on the device (uint8 travels)."""
    images = torch.as_tensor(paintings).to(device, non_blocking=True)
    images = images.permute(0, 3, 1, 2).float().div_(255.0)
    mels_t = torch.as_tensor(mels).to(device, non_blocking=True).float()
    return images, mels_t


@torch.no_grad()
def predict(model: MPJudge, media: MPDMedia, painting_rows, clip_rows, batch_size: int = 256, amp: str = "auto") -> np.ndarray:
    """Scores of (painting, clip) row pairs, in order, in eval mode."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, len(painting_rows), batch_size):
            p = painting_rows[start : start + batch_size]
            c = clip_rows[start : start + batch_size]
            images, mels = to_model_inputs(media.paintings(p), media.mels(c), device)
            with autocast(device, amp):
                out.append(model(images, mels).float().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def preference_rows(media: MPDMedia, prefs: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(painting, clip) rows of the chosen and of the rejected pair of each preference item."""
    kinds = prefs.column("kind").to_pylist()
    q, c, r = (prefs.column(n).to_pylist() for n in ("query_id", "chosen_id", "rejected_id"))
    by_painting = [k == "clips_given_painting" for k in kinds]
    chosen_p = [qi if bp else ci for qi, ci, bp in zip(q, c, by_painting)]
    chosen_c = [ci if bp else qi for qi, ci, bp in zip(q, c, by_painting)]
    rejected_p = [qi if bp else ri for qi, ri, bp in zip(q, r, by_painting)]
    rejected_c = [ri if bp else qi for qi, ri, bp in zip(q, r, by_painting)]
    pc_, cc_ = media.rows_of(chosen_p, chosen_c)
    pr_, cr_ = media.rows_of(rejected_p, rejected_c)
    return pc_, cc_, pr_, cr_


def evaluate_split(model: MPJudge, folder, media: MPDMedia, split: str, batch_size: int = 256, threshold: float = ACCURACY_THRESHOLD, amp: str = "auto") -> tuple[dict, pa.Table]:
    """Metrics on ``split``'s scored pairs (+ preference accuracy) and the predictions table."""
    pairs = read_scored_pairs(folder, split)
    p_rows, c_rows = media.rows_of(pairs.column("painting_id").to_pylist(), pairs.column("clip_id").to_pylist())
    predicted = predict(model, media, p_rows, c_rows, batch_size, amp)
    target = pairs.column("score").to_numpy()
    metrics = {"split": split, **coherence_metrics(predicted, target, threshold), "threshold": threshold}
    prefs = read_preference_pairs(folder, split)
    metrics["n_pref"] = prefs.num_rows
    metrics["pref_acc"] = math.nan
    if prefs.num_rows:
        pc_, cc_, pr_, cr_ = preference_rows(media, prefs)
        chosen = predict(model, media, pc_, cc_, batch_size, amp)
        rejected = predict(model, media, pr_, cr_, batch_size, amp)
        metrics["pref_acc"] = float(np.mean(chosen > rejected))
    table = pa.table(
        {
            "pair_id": pairs.column("pair_id"),
            "painting_id": pairs.column("painting_id"),
            "clip_id": pairs.column("clip_id"),
            "split": pairs.column("split"),
            "score": pairs.column("score"),
            "predicted": pa.array(predicted.astype(np.float64)),
        }
    )
    return metrics, S.conform(table, S.MPJUDGE_PREDICTIONS)


# --- tables like the paper's -------------------------------------------------------------

#: Table 3's rows, in its order: MAN without DPO, then the fusion variants
#: (painting-only "Baseline", "+ Concat", "+ C.A." = cross-attention), then
#: the full model ("Ours" = MAN + DPO).
TABLE3_ROWS = ("w/o DPO Loss", "Baseline", "+ Concat", "+ C.A.", "Ours")
_FUSION_ROWS = {"none": "Baseline", "concat": "+ Concat", "cross-attention": "+ C.A."}


def method_label(model_config: dict, train_config: dict, trained_dpo: bool) -> str:
    """A run's row name in Table 3. MAN with DPO is ``Ours``, MAN without
    ``w/o DPO Loss``; the other fusions are named by fusion when trained
    with DPO (the paper does not say how its fusion rows were trained; the
    default config trains them with the full loss), and one trained without
    DPO gets " (w/o DPO Loss)" after its name, so no two configurations share
    a row name."""
    fusion = model_config["fusion"]
    if fusion == "man":
        return "Ours" if trained_dpo else "w/o DPO Loss"
    return _FUSION_ROWS[fusion] + ("" if trained_dpo else " (w/o DPO Loss)")


def table3_order(label: str) -> int:
    """Where a row name goes in Table 3's order (names outside it last)."""
    base = label.split(" (w/o DPO Loss)")[0]
    return TABLE3_ROWS.index(base) if base in TABLE3_ROWS else len(TABLE3_ROWS)


def _fmt(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def results_table(rows: list[tuple[str, dict]]) -> str:
    """Markdown in the layout of Tables 2 ("Our Dataset" block) and 3:
    one row per method, columns SRCC, PLCC, MAE, ACC, rows in Table 3's order
    (``TABLE3_ROWS``; rows with the same name keep the order given)."""
    rows = sorted(rows, key=lambda row: table3_order(row[0]))
    split = rows[0][1].get("split", "") if rows else ""
    n = rows[0][1].get("n", 0) if rows else 0
    threshold = rows[0][1].get("threshold", ACCURACY_THRESHOLD) if rows else ACCURACY_THRESHOLD
    body = md_table(["Method", "SRCC", "PLCC", "MAE", "ACC"], [(name, *(_fmt(m[k]) for k in METRICS)) for name, m in rows])
    return f"MPD, {split} split ({n} scored pairs; ACC at threshold {threshold:g})\n\n{body}"


def evaluate_checkpoints(checkpoints: list[str | os.PathLike], folder, split: str = "test", out: str | os.PathLike | None = None, batch_size: int = 256, device: str = "auto", cache_dir=None) -> tuple[str, list[dict]]:
    """Evaluate checkpoints on ``split``; write ``eval-<split>.json``/``.md``
    and ``predictions-<split>.parquet`` (per checkpoint, beside it unless
    ``out`` is given). Returns the results table and the metrics."""
    dev = resolve_device(device)
    rows, results = [], []
    media_by_size: dict[int, MPDMedia] = {}
    paths = [ckpt.resolve(spec) for spec in checkpoints]
    per_folder = Counter(p.parent for p in paths)
    for path in paths:
        model, info = ckpt.load_model(path, dev)
        size = model.cfg.image_size
        if size not in media_by_size:
            media_by_size[size] = MPDMedia.build(folder, size, cache_dir)
        train_cfg = TrainConfig.from_dict(info["train_config"])
        metrics, predictions = evaluate_split(model, folder, media_by_size[size], split, batch_size, train_cfg.accuracy_threshold, train_cfg.amp)
        label = method_label(info["model_config"], info["train_config"], bool(info.get("trained_dpo")))
        metrics.update({"method": label, "checkpoint": str(path), "global_step": info.get("global_step")})
        target = Path(out) if out is not None else path.parent
        if out is None:  # beside the checkpoint; named after it when its folder holds another evaluated one
            stem = f"eval-{split}" + (f"-{path.stem}" if per_folder[path.parent] > 1 else "")
        else:
            stem = f"eval-{split}" if len(paths) == 1 else f"eval-{split}-{path.parent.name}-{path.stem}"
        dio.write_text(json.dumps(json_safe(metrics), indent=2) + "\n", target / f"{stem}.json")
        dio.write_table(predictions, target / f"{stem.replace('eval-', 'predictions-')}.parquet", S.MPJUDGE_PREDICTIONS)
        rows.append((label, metrics))
        results.append(metrics)
    table = results_table(rows)
    if out is not None:
        dio.write_text(table + "\n", Path(out) / f"eval-{split}.md")
    else:
        for metrics in results:
            dio.write_text(table + "\n", Path(metrics["checkpoint"]).parent / f"eval-{split}.md")
    return table, results


def json_safe(metrics: dict) -> dict:
    """NaN → None, so JSON has ``null`` rather than the non-standard ``NaN``."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()}
