"""MPD end to end at the paper's size: `build mpd --pairs 50000` and the three
annotation phases with simulated raters, on the default runner.

The corpus has the paper's shape and real formats (generated once, then
reused from the cache folder): ~11,000 paintings as JPEG of 0.3–4 MP (log-
uniform), 8 % PNG and 4 % PNG with an alpha channel; ~1,000 stereo tracks of
30–300 s (30 s plus an exponential tail of mean 70 s: ~6,100 clips of 15 s)
at 44.1 kHz (80 %) or 48 kHz, as MP3 (60 %, like FMA), Ogg Vorbis (20 %) and
FLAC (20 %), encoded by libsndfile (LAME, libvorbis, libFLAC). LAME costs
~2.4 CPU-seconds per minute of audio, so only ``--distinct-mp3`` (default
25 %) of the MP3s are encoded; the others are byte copies of them behind
their own ID3 tag (distinct files to ingest's deduplication, the same audio
and length as their source).

The build runs as `synesthesia build mpd` runs it (``flows.mpd.build_mpd``,
the ``local`` runner: a Prefect process pool of ``--workers``), then
simulated ratings, ``annotate_mpd`` (phase 2), simulated votes and
``annotate_mpd`` again (phase 3). Prints, per stage: wall and CPU time (this
process, the worker processes, the Prefect server), the shards' own CPU
time, orchestration wall time and peak RSS (sampled every 0.2 s); Prefect's
share of the whole (see ``scale_common``); the audio stage's clips/s and
real-time factor on these compressed files; the output's sizes.

    python benchmarks/mpd_paper_scale.py [--scale 1.0] [--pairs 50000] [--workers 2]
                                         [--cache DIR] [--out DIR] [--shard-size 200]

``--scale 0.1`` makes a tenth of the corpus (and of the pairs) for a quick
check. Goals (issue 21): orchestration < 10 % of wall time; the whole build
in < 15 min on 2 cores; no stage's memory grows with the corpus beyond its
shard (compare the peak RSS columns of two scales).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import scale_common as sc

PAPER_PAINTINGS = 11_000
PAPER_TRACKS = 1_000
IMAGE_FORMATS = {"jpeg": 0.88, "png": 0.08, "rgba": 0.04}
AUDIO_FORMATS = {"mp3": 0.6, "ogg": 0.2, "flac": 0.2}


def corpus_spec(scale: float, seed: int, distinct_mp3: float) -> dict:
    return {"paintings": int(round(PAPER_PAINTINGS * scale)), "tracks": int(round(PAPER_TRACKS * scale)), "seed": seed,
            "distinct_mp3": distinct_mp3, "version": 2}


def make_corpus(folder: Path, spec: dict, workers: int) -> dict:
    from synesthesia.datasets.synthetic import MUSIC_GENRES, PAINTING_STYLES

    rng = np.random.default_rng(spec["seed"])
    styles = sorted(PAINTING_STYLES)
    jobs = []
    mp = np.exp(rng.uniform(np.log(0.3), np.log(4.0), spec["paintings"]))
    for k, fmt in enumerate(sc.pick_formats(rng, spec["paintings"], IMAGE_FORMATS)):
        style = styles[k % len(styles)]
        ext = "jpg" if fmt == "jpeg" else "png"
        jobs.append((folder / "paintings" / style / PAINTING_STYLES[style][0] / f"{style}_{k:05d}.{ext}", style, [spec["seed"], 1, k], float(mp[k]), fmt))
    t0 = time.perf_counter()
    images = sc.parallel(sc.write_painting, jobs, workers)
    t_images = time.perf_counter() - t0
    genres = sorted(MUSIC_GENRES)
    seconds = np.minimum(300.0, 30.0 + rng.exponential(70.0, spec["tracks"])).round(1)
    rates = np.where(rng.random(spec["tracks"]) < 0.8, 44_100, 48_000)
    formats = sc.pick_formats(rng, spec["tracks"], AUDIO_FORMATS)
    path_of = [folder / "music" / genres[k % len(genres)] / f"track_{k:05d}.{ext}" for k, ext in enumerate(formats)]
    mp3 = [k for k, ext in enumerate(formats) if ext == "mp3"]
    n_distinct = max(1, int(round(len(mp3) * spec["distinct_mp3"]))) if mp3 else 0
    copies = dict(zip(mp3[n_distinct:], (mp3[j % n_distinct] for j in range(len(mp3)))))  # copy -> its source
    encoded = [k for k in range(spec["tracks"]) if k not in copies]
    jobs = [(path_of[k], genres[k % len(genres)], [spec["seed"], 2, k], float(seconds[k]), int(rates[k]), formats[k]) for k in encoded]
    t0 = time.perf_counter()
    tracks = sc.parallel(sc.write_track, jobs, workers)
    length = {k: s for k, (_, _, s) in zip(encoded, tracks)}
    tracks += [(str(path_of[k]), sc.tagged_copy(path_of[src], path_of[k], f"track {k}"), length[src]) for k, src in copies.items()]
    t_tracks = time.perf_counter() - t0
    return {
        "paintings": len(images), "painting_bytes": sum(b for _, b in images), "images_s": round(t_images, 1),
        "tracks": len(tracks), "track_bytes": sum(b for _, b, _ in tracks), "track_seconds": float(sum(s for _, _, s in tracks)),
        "tracks_s": round(t_tracks, 1),
    }


def instrument(acct: sc.Accounting) -> None:
    import synesthesia.recipes.mpd as mpd
    import synesthesia.recipes.mpd.annotation as annotation
    import synesthesia.recipes.mpd.build as build

    acct.wrap_run_shards()
    for attr, name in (("ingest", "ingest + splits + clip plan"), ("audio", "audio pass (mels, listening copies; pairs)"), ("finish_build", "build summary"),
                       ("run_phases", "annotation phases"), ("write_report", "report"), ("build_summary", "summary"),
                       ("annotation_config", "read config")):
        acct.wrap_stage(mpd, attr, name)
    acct.wrap_stage(build, "ingest_source", lambda path, config, out, name, *a, **k: f"validate {name}")
    for attr in ("plan_ratings", "listening_copies", "write_labelstudio_files", "score_ratings", "plan_preferences", "finish", "status"):
        acct.wrap_stage(annotation, attr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the paper's corpus (and of --pairs)")
    ap.add_argument("--pairs", type=int, default=50_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shard-size", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--cache", default=None, help="corpus cache folder (default ~/.cache/synesthesia-bench)")
    ap.add_argument("--out", default=None, help="output folder (default: a temporary one, removed at the end)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--distinct-mp3", type=float, default=0.25, help="fraction of the MP3s encoded (the rest: tagged copies)")
    args = ap.parse_args()

    from synesthesia.annotation.simulate import SimulatedRaters
    from synesthesia.flows.mpd import annotate_mpd, build_mpd
    from synesthesia.flows.runner import RunnerConfig
    from synesthesia.recipes import mpd

    print(sc.machine_line())
    spec = corpus_spec(args.scale, args.seed, args.distinct_mp3)
    folder = sc.cache_dir(args.cache) / f"mpd-{spec['paintings']}p-{spec['tracks']}t-s{args.seed}"
    corpus = sc.cached_corpus(folder, spec, lambda f: make_corpus(f, spec, args.workers))
    print(f"corpus {folder}: {corpus['paintings']:,} paintings ({corpus['painting_bytes'] / 2**30:.2f} GiB), "
          f"{corpus['tracks']:,} tracks ({corpus['track_seconds'] / 3600:.1f} h, {corpus['track_bytes'] / 2**30:.2f} GiB)"
          + (f"; generated in {corpus.get('generated_s', 0):.0f} s" if "generated_s" in corpus else ""))

    n_pairs = int(round(args.pairs * args.scale))
    config = mpd.MPDConfig(n_pairs=n_pairs, seed=args.seed)
    shard_size = args.shard_size or mpd.DEFAULT_SHARD_SIZE
    runner = RunnerConfig("local", args.workers)
    out_parent, out = sc.output_folder(args.out, "mpd")
    acct = sc.Accounting(args.workers)
    instrument(acct)
    raters = SimulatedRaters(seed=args.seed)
    with acct:
        with acct.flow("build-mpd"):
            build_mpd(folder / "paintings", folder / "music", out, config, shard_size, runner)
        with acct.stage("simulate ratings"):
            mpd.simulate_ratings(out, raters)
        with acct.flow("annotate-mpd (phase 2)"):
            annotate_mpd(out, shard_size, runner)
        with acct.stage("simulate votes"):
            mpd.simulate_votes(out, raters)
        with acct.flow("annotate-mpd (phase 3)"):
            phase3 = annotate_mpd(out, shard_size, runner)

    print(f"\nMPD at scale {args.scale:g}: {n_pairs:,} pairs, shard size {shard_size}, runner local x {args.workers}; "
          f"status: {phase3['status']['message']}")
    acct.print_table()
    import pyarrow.parquet as pq

    n_clips = pq.read_metadata(out / "clips.parquet").num_rows
    tracks = pq.read_table(out / "tracks.parquet", columns=["duration_s"]).column("duration_s").to_numpy()
    mel = next(r for r in acct.rows if r.name.startswith("audio pass"))
    cpu = sum(mel.cpu.values())
    print(f"\naudio stage: {n_clips:,} clips from {len(tracks):,} tracks ({tracks.sum() / 3600:.1f} h decoded): "
          f"{n_clips / mel.wall:,.0f} clips/s, {tracks.sum() / mel.wall:,.0f}x real time on {args.workers} workers "
          f"({tracks.sum() / cpu:,.0f}x per CPU second; {n_clips * 15 / mel.wall:,.0f}x counting only the clipped audio)  (goal >= 1,000x)")
    sc.finish(acct, out, out_parent, keep=bool(args.out), goal=' (goal < 15 min at scale 1)')


if __name__ == "__main__":
    main()
