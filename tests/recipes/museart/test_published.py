"""Museart split and pairing logic on the published index (no media needed):
the published split's sizes and leakage, and our `paper` / `grouped` modes."""

from __future__ import annotations

import gzip
import os
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa
import pytest

from synesthesia.recipes import museart as M
from synesthesia.datasets.keys import DEFAULT_FRACTIONS, SPLITS

#: Where the published csv files live: ``<repo root>/../shared/data/museart``
#: (the project's shared data beside the checkout); SYNESTHESIA_MUSEART_CSV
#: overrides. A clone elsewhere falls back to the gzipped copy shipped with the
#: tests (tests/data/museart), which must equal the shared files when both exist.
RELATIVE_CSV_DIR = Path("..") / "shared" / "data" / "museart"
BUNDLED = Path(__file__).resolve().parents[2] / "data" / "museart"


def _shared_dirs(repo_root: Path) -> list[Path]:
    candidates = [Path(os.environ["SYNESTHESIA_MUSEART_CSV"])] if os.environ.get("SYNESTHESIA_MUSEART_CSV") else []
    # The repo root's sibling `shared/`; a git worktree may sit one level deeper.
    candidates += [parent / "shared" / "data" / "museart" for parent in [repo_root, *repo_root.parents][1:4]]
    return [f for f in candidates if (f / "audio.csv").is_file() and (f / "images.csv").is_file()]


@pytest.fixture(scope="module")
def csv_dir(repo_root, tmp_path_factory) -> Path:
    found = _shared_dirs(repo_root)
    if found:
        return found[0]
    folder = tmp_path_factory.mktemp("museart-index")
    for name in ("audio.csv", "images.csv"):
        (folder / name).write_bytes(gzip.decompress((BUNDLED / f"{name}.gz").read_bytes()))
    return folder


def test_bundled_copy_equals_the_shared_index(repo_root):
    for folder in _shared_dirs(repo_root)[:1]:  # nothing to compare on a clone without ../shared
        for name in ("audio.csv", "images.csv"):
            assert gzip.decompress((BUNDLED / f"{name}.gz").read_bytes()) == (folder / name).read_bytes(), name


@pytest.fixture(scope="module")
def published(csv_dir):
    audio_rows, a_problems = M.read_index(csv_dir / "audio.csv", "audio")
    image_rows, i_problems = M.read_index(csv_dir / "images.csv", "image")
    assert a_problems == [] and i_problems == []
    return M.index_items(audio_rows, "audio"), M.index_items(image_rows, "image")


def _split(audio, images, mode, seed=0):
    return M.assign_splits(audio, images, M.MuseartConfig(split=mode, seed=seed))


def _per_category(table) -> dict[str, Counter]:
    out: dict[str, Counter] = defaultdict(Counter)
    for c, s in zip(table.column("category").to_pylist(), table.column("split").to_pylist()):
        out[c][s] += 1
    return out


def test_published_index_has_the_papers_size_and_18_categories(published):
    audio, images = published
    assert audio.num_rows == images.num_rows == M.PUBLISHED_ITEMS == 24_216
    assert set(audio.column("category").to_pylist()) == set(M.PAPER_CATEGORIES)
    assert set(images.column("category").to_pylist()) == set(M.PAPER_CATEGORIES)
    assert len(M.PAPER_CATEGORIES) == 18
    assert len(set(audio.column("group").to_pylist())) == 1_310


def test_from_csv_keeps_the_published_split_which_leaks_949_of_1310_tracks(published):
    audio, images = published
    a, i = _split(audio, images, "from-csv")
    assert Counter(a.column("split").to_pylist()) == M.PUBLISHED_SPLIT_SIZES == {"train": 19_366, "val": 2_425, "test": 2_425}
    assert Counter(i.column("split").to_pylist()) == M.PUBLISHED_SPLIT_SIZES
    assert M.leakage(a) == {"groups": 1_310, "leaked": 949}


def test_paper_split_is_within_two_items_of_every_published_category_size(published):
    audio, images = published
    reference = _per_category(_split(audio, images, "from-csv")[0])
    a, i = _split(audio, images, "paper")
    ours = _per_category(a)
    worst = max(abs(ours[c][s] - reference[c][s]) for c in reference for s in SPLITS)
    assert worst <= 2
    # images follow the audio of their category exactly when the counts are equal (they are)
    assert _per_category(i) == ours
    # item-level: the paper split leaks tracks too (reported, not hidden)
    assert M.leakage(a)["leaked"] > 900
    # seeded: same seed same split, other seed another split of the same sizes
    again, _ = _split(audio, images, "paper")
    other, _ = _split(audio, images, "paper", seed=1)
    assert again.column("split").equals(a.column("split"))
    assert not other.column("split").equals(a.column("split"))
    assert _per_category(other) == ours


@pytest.mark.parametrize("seed", [0, 1])
def test_grouped_split_leaks_nothing_and_keeps_80_10_10_within_2_points(published, seed):
    audio, images = published
    a, i = _split(audio, images, "grouped", seed)
    assert M.leakage(a) == {"groups": 1_310, "leaked": 0}
    proportions = M.split_proportions(a)
    assert set(proportions) == set(M.PAPER_CATEGORIES)
    for category, p in proportions.items():
        for split in SPLITS:
            assert abs(p[split] - DEFAULT_FRACTIONS[split]) <= 0.02, (category, split, p)
    # images: per category, within one item of the audio's proportions
    a_counts, i_counts = _per_category(a), _per_category(i)
    for c in a_counts:
        n_a, n_i = sum(a_counts[c].values()), sum(i_counts[c].values())
        for split in SPLITS:
            assert abs(i_counts[c][split] - a_counts[c][split] * n_i / n_a) <= 1


def test_leakage_by_mode_reports_every_mode(published):
    audio, _ = published
    report = M.leakage_by_mode(audio, M.MuseartConfig())
    assert report["from-csv"] == {"groups": 1_310, "leaked": 949}
    assert report["grouped"]["leaked"] == 0
    assert report["paper"]["leaked"] > 0


def test_pairing_on_the_published_index(published):
    audio, images = published
    a, i = _split(audio, images, "grouped")
    pairs, usage, unpaired = M.pair_items(a, i, seed=0)
    assert unpaired == [] and pairs.num_rows == a.num_rows
    assert sorted(pairs.column("audio_id").to_pylist()) == sorted(a.column("audio_id").to_pylist())
    a_cell = dict(zip(a.column("audio_id").to_pylist(), zip(a.column("category").to_pylist(), a.column("split").to_pylist())))
    i_cell = dict(zip(i.column("image_id").to_pylist(), zip(i.column("category").to_pylist(), i.column("split").to_pylist())))
    for row in pairs.to_pylist():
        assert a_cell[row["audio_id"]] == i_cell[row["image_id"]] == (row["category"], row["split"])
    # balance: within a category × split cell, image usage differs by at most one
    use = Counter(pairs.column("image_id").to_pylist())
    by_cell: dict = defaultdict(list)
    for image_id, cell in i_cell.items():
        by_cell[cell].append(use.get(image_id, 0))
    for cell, counts in by_cell.items():
        assert max(counts) - min(counts) <= 1, cell
        assert usage[cell]["max_use"] - usage[cell]["min_use"] <= 1
    # determinism, and the seed matters
    again, _, _ = M.pair_items(a, i, seed=0)
    other, _, _ = M.pair_items(a, i, seed=1)
    assert again.equals(pairs)
    assert not other.column("image_id").equals(pairs.column("image_id"))
    assert other.column("audio_id").to_pylist() == pairs.column("audio_id").to_pylist()


def test_published_index_read_errors_are_clear(tmp_path):
    bad = tmp_path / "audio.csv"
    bad.write_text("name,label\nx,y\n")
    with pytest.raises(ValueError, match="id"):
        M.read_index(bad, "audio")
    with pytest.raises(FileNotFoundError, match="audio.csv"):
        M.read_index(tmp_path / "nope" / "audio.csv", "audio")
    bad.write_text("id,class,set\nasegment1,Heavy metal,train\n,Heavy metal,train\nasegment1,heavy_metal,test\nb,Jazz,holdout\n")
    rows, problems = M.read_index(bad, "audio")
    assert [r["id"] for r in rows] == ["asegment1", "b"]
    assert rows[0]["category"] == "Heavy metal" and rows[1]["category"] == "Jazz"
    assert rows[1]["published_split"] is None and rows[1]["set"] == "holdout"
    reasons = {p["path"]: p["reason"] for p in problems}
    assert "without an id" in reasons["audio.csv:3"] and "repeated row: same id and class as line 2" in reasons["audio.csv:4"]
    table = M.index_items(rows, "audio")
    assert isinstance(table, pa.Table) and table.column("group").to_pylist() == ["a", "b"]
