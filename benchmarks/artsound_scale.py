"""ArtSound's stages at a fraction of the paper's scale (default 10 %:
~11,600 artworks, ~10,600 tracks of 30 s), offline: the ``features``
captioner, ACS with the packaged MiniLM, ICS recorded as null (no CLIP or
PAC-S weights offline), and the pairing phase with the ``minilm-text``
embedder (Image Caption–Audio Caption, greedy; optimal-knn alongside).

Corpus (generated once, then reused from the cache folder): artworks as
JPEG of 0.3–4 MP (log-uniform), 8 % PNG, 4 % PNG with alpha; tracks of 30 s,
44.1 kHz stereo MP3 (like FMA). Encoding MP3 costs ~2.4 CPU-seconds per
minute of audio, so only ``--distinct-tracks`` (default 5 %) of the tracks
are encoded; the others are byte copies of them with their own ID3 tag (a
real FMA file carries one too), so every file is distinct to ingest's
deduplication while decoding the same audio. Likewise ``--distinct-images``
(default 25 %) with a JPEG comment segment (PNGs are always drawn).

Prints the same per-stage figures as ``mpd_paper_scale.py`` (wall and CPU
time per stage and process kind, Prefect's share, peak RSS, output sizes),
and first the image decode path for 224 px consumers on a sample of the
corpus's JPEGs: full-size decoding then resizing, against reduced-size
decoding (``datasets.media.open_rgb``: Pillow's draft) then the same
resizing — time per image and how close the 224 px results are (PSNR).

    python benchmarks/artsound_scale.py [--scale 0.1] [--workers 2] [--cache DIR] [--out DIR]
                                        [--images-only] [--decode-sample 200]
"""

from __future__ import annotations

import argparse
import struct
import time
from pathlib import Path

import numpy as np

import scale_common as sc

PAPER_ARTWORKS = 116_475
PAPER_AUDIO = 105_884
IMAGE_FORMATS = {"jpeg": 0.88, "png": 0.08, "rgba": 0.04}


def jpeg_with_comment(data: bytes, text: str) -> bytes:
    """The same JPEG with a COM segment after SOI (decodes to the same pixels)."""
    body = text.encode("latin-1")
    return data[:2] + b"\xff\xfe" + struct.pack(">H", len(body) + 2) + body + data[2:]


def corpus_spec(args) -> dict:
    return {
        "artworks": int(round(PAPER_ARTWORKS * args.scale)), "tracks": int(round(PAPER_AUDIO * args.scale)),
        "distinct_images": args.distinct_images, "distinct_tracks": args.distinct_tracks, "seed": args.seed, "version": 1,
    }


def make_corpus(folder: Path, spec: dict, workers: int) -> dict:
    from synesthesia.datasets.synthetic import MUSIC_GENRES, PAINTING_STYLES

    rng = np.random.default_rng(spec["seed"])
    styles, genres = sorted(PAINTING_STYLES), sorted(MUSIC_GENRES)
    n_art, n_trk = spec["artworks"], spec["tracks"]
    formats = sc.pick_formats(rng, n_art, IMAGE_FORMATS)
    mp = np.exp(rng.uniform(np.log(0.3), np.log(4.0), n_art))
    path_of = [folder / "artworks" / styles[k % len(styles)] / PAINTING_STYLES[styles[k % len(styles)]][0]
               / f"art_{k:06d}.{'jpg' if f == 'jpeg' else 'png'}" for k, f in enumerate(formats)]
    jpegs = [k for k, f in enumerate(formats) if f == "jpeg"]
    n_distinct = max(1, int(round(len(jpegs) * spec["distinct_images"])))
    drawn = [k for k, f in enumerate(formats) if f != "jpeg"] + jpegs[:n_distinct]
    t0 = time.perf_counter()
    sc.parallel(sc.write_painting, [(path_of[k], styles[k % len(styles)], [spec["seed"], 1, k], float(mp[k]), formats[k]) for k in drawn], workers)
    for j, k in enumerate(jpegs[n_distinct:]):  # copies with their own comment
        source = path_of[jpegs[j % n_distinct]]
        path_of[k].parent.mkdir(parents=True, exist_ok=True)
        path_of[k].write_bytes(jpeg_with_comment(source.read_bytes(), f"artwork {k}"))
    t_images = time.perf_counter() - t0
    n_distinct_trk = max(1, int(round(n_trk * spec["distinct_tracks"])))
    track_path = [folder / "music" / genres[k % len(genres)] / f"track_{k:06d}.mp3" for k in range(n_trk)]
    t0 = time.perf_counter()
    sc.parallel(sc.write_track, [(track_path[k], genres[k % len(genres)], [spec["seed"], 2, k], 30.0, 44_100, "mp3") for k in range(n_distinct_trk)], workers)
    for k in range(n_distinct_trk, n_trk):
        source = track_path[k % n_distinct_trk]
        sc.tagged_copy(source, track_path[k], f"track {k}")
    t_tracks = time.perf_counter() - t0
    return {
        "artworks": n_art, "artwork_bytes": sum(p.stat().st_size for p in path_of), "images_s": round(t_images, 1),
        "tracks": n_trk, "track_bytes": sum(p.stat().st_size for p in track_path), "tracks_s": round(t_tracks, 1),
    }


def decode_path(folder: Path, sample: int, size: int = 224) -> None:
    """Full-size decoding vs reduced-size decoding for a 224 px consumer
    (resize the shorter side to 224, bicubic, centre crop), as CLIP's and
    ImageBind's preprocessing do."""
    from PIL import Image

    from synesthesia.datasets.media import open_rgb

    def to224(im):
        w, h = im.size
        s = size / min(w, h)
        im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.Resampling.BICUBIC)
        left, top = (im.size[0] - size) // 2, (im.size[1] - size) // 2
        return np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.float64)

    def full(path):
        with Image.open(path) as im:
            return im.convert("RGB")

    paths = sorted((folder / "artworks").rglob("*.jpg"))
    paths = [paths[i] for i in np.linspace(0, len(paths) - 1, min(sample, len(paths))).astype(int)]
    results = {}
    variants = (("full-size decode", full), ("reduced, gap 2", lambda p: open_rgb(p, size)), ("reduced, gap 1", lambda p: open_rgb(p, size, gap=1.0)))
    for name, fn in variants:
        c0, t0 = time.process_time(), time.perf_counter()
        results[name] = [to224(fn(p)) for p in paths]
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        print(f"  {name:<18}: {1000 * cpu / len(paths):6.1f} ms CPU per image ({1000 * wall / len(paths):6.1f} ms wall), "
              f"{len(paths) / cpu:6.1f} images per CPU second")
    megapixels = []
    for p in paths:
        with Image.open(p) as im:
            megapixels.append(im.size[0] * im.size[1] / 1e6)
    print(f"  {len(paths)} JPEGs of {min(megapixels):.1f}-{max(megapixels):.1f} MP (mean {np.mean(megapixels):.1f}); "
          "PSNR of the 224 px inputs against full-size decoding (inf: the same pixels; a rounding of the resize can shift the crop by a pixel):")
    for name, _ in variants[1:]:
        mse = np.array([np.mean((a - b) ** 2) for a, b in zip(results["full-size decode"], results[name])])
        psnr = np.where(mse > 0, 10 * np.log10(255.0**2 / np.maximum(mse, 1e-12)), np.inf)
        print(f"    {name}: {np.min(psnr):.1f} dB min, {np.percentile(psnr, 10):.1f} dB 10th percentile, {np.median(psnr):.1f} dB median")


def instrument(acct: sc.Accounting) -> None:
    import synesthesia.flows.artsound as flows_artsound
    import synesthesia.recipes.artsound as artsound
    import synesthesia.recipes.artsound.captions as captions

    acct.wrap_run_shards(flows_artsound)
    for attr in ("ingest", "segment_captions", "audio_captions", "image_captions", "finish_captions", "embed", "pair_approaches", "finish_pairs"):
        acct.wrap_stage(artsound, attr)
    acct.wrap_stage(captions, "ingest_source", lambda path, config, out, name, *a, **k: f"validate {name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.1, help="fraction of the paper's 116,475 artworks and 105,884 tracks")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shard-size", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--distinct-images", type=float, default=0.25, help="fraction of the JPEGs drawn (the rest: tagged copies)")
    ap.add_argument("--distinct-tracks", type=float, default=0.05, help="fraction of the tracks encoded (the rest: tagged copies)")
    ap.add_argument("--decode-sample", type=int, default=200, help="JPEGs timed for the 224 px decode path")
    ap.add_argument("--images-only", action="store_true", help="only the decode-path measurement")
    ap.add_argument("--cache", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    print(sc.machine_line())
    spec = corpus_spec(args)
    folder = sc.cache_dir(args.cache) / f"artsound-{spec['artworks']}a-{spec['tracks']}t-s{args.seed}"
    corpus = sc.cached_corpus(folder, spec, lambda f: make_corpus(f, spec, args.workers))
    print(f"corpus {folder}: {corpus['artworks']:,} artworks ({corpus['artwork_bytes'] / 2**30:.2f} GiB), "
          f"{corpus['tracks']:,} tracks of 30 s ({corpus['track_bytes'] / 2**30:.2f} GiB)"
          + (f"; generated in {corpus['generated_s']:.0f} s" if "generated_s" in corpus else ""))
    print("\nimage decode path for a 224 px consumer:")
    decode_path(folder, args.decode_sample)
    if args.images_only:
        return

    from synesthesia.flows.artsound import build_artsound
    from synesthesia.flows.demo import DEMO_ARTSOUND_PAIRING, demo_artsound_config
    from synesthesia.flows.runner import RunnerConfig
    from synesthesia.recipes import artsound

    shard_size = args.shard_size or artsound.DEFAULT_SHARD_SIZE
    out_parent, out = sc.output_folder(args.out, "artsound")
    acct = sc.Accounting(args.workers)
    instrument(acct)
    with acct:
        with acct.flow("build-artsound"):
            summary = build_artsound(folder / "artworks", folder / "music", out, demo_artsound_config(), shard_size,
                                     RunnerConfig("local", args.workers), DEMO_ARTSOUND_PAIRING)
    print(f"\nArtSound at scale {args.scale:g}: shard size {shard_size}, runner local x {args.workers}; "
          f"{summary['image_attempts']:,} image and {summary['audio_attempts']:,} audio caption attempts, "
          f"{summary['segments']:,} segment captions; {summary['pairing']['pairs']:,} pairs")
    acct.print_table()
    seg = next(r for r in acct.rows if r.name == "segment_captions")
    audio_s = corpus["tracks"] * 30.0
    print(f"\nsegment captions (decode + 10 s features): {audio_s / seg.wall:,.0f}x real time on {args.workers} workers, "
          f"{audio_s / max(sum(seg.cpu.values()), 1e-9):,.0f}x per CPU second")
    sc.finish(acct, out, out_parent, keep=bool(args.out))


if __name__ == "__main__":
    main()
