"""MPD's data path on tables: how tracks are split."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synesthesia.datasets import schema as S
from synesthesia.recipes.mpd import MPDConfig, assemble_items
from synesthesia.stages.audio import plan_clips


def test_tracks_are_split_by_their_share_of_clips():
    """Orchestral tracks of 1-5 minutes: each split's share of the 15 s clips
    is within a point of 80/10/10 (by track count, test held 5 %)."""
    rng = np.random.default_rng(22)
    seconds = rng.uniform(60, 300, 38)
    audio = S.from_rows(
        [{"audio_id": f"a{k:02d}", "path": f"{k}.ogg", "sha256": str(k), "n_frames": int(s * 44_100), "sample_rate": 44_100,
          "duration_s": float(s), "genre": "orchestral"} for k, s in enumerate(seconds)],
        S.AUDIO,
    )
    images = S.from_rows([{"image_id": f"i{k}", "path": f"{k}.png", "sha256": str(k), "style": "s"} for k in range(10)], S.IMAGES)
    config = MPDConfig()
    _, tracks = assemble_items(images, audio, config)
    clips = plan_clips(tracks, config.clip)
    for split, target in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        share = pc.sum(pc.equal(clips["split"], split)).as_py() / clips.num_rows
        assert abs(share - target) <= 0.01, (split, share)
    per_track = {t: set() for t in tracks["track_id"].to_pylist()}
    for t, s in zip(clips["track_id"].to_pylist(), clips["split"].to_pylist()):
        per_track[t].add(s)
    assert all(len(v) == 1 for v in per_track.values())  # tracks stay whole
