"""Reading a run's TensorBoard event files back (tests of the trainers' logging)."""

from __future__ import annotations

from pathlib import Path


def read_events(run_dir: str | Path):
    """TensorBoard's own reader over RUN_DIR/tensorboard (all event files, purges applied)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(Path(run_dir) / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "audio": 0})
    acc.Reload()
    return acc


def scalars(run_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} in step order. Event files are read in name
    order (a one-second timestamp, then the pid), so a resumed run started in
    the same second as the first can come first: sort by step (a stable sort,
    so a duplicated step still shows)."""
    acc = read_events(run_dir)
    return {tag: sorted(((e.step, e.value) for e in acc.Scalars(tag)), key=lambda sv: sv[0]) for tag in acc.Tags()["scalars"]}
