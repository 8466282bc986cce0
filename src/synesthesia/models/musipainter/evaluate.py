"""Evaluation like the paper's Tables 1 and 5: generate one image per sampled
test pair with each checkpoint, then AIS, IIS, FID and per-category GIILS.

Similarity space (``--embedder``): the paper used Wav2CLIP, which is not
packaged for offline use; the default here is ImageBind (audio and images in
one space, our own implementation of the official model). Any registered
embedder works; one without audio gives no AIS (the table says why).

FID (``--fid-model``): ``inception`` uses pytorch-fid's InceptionV3 pool3
features (``pip install pytorch-fid``; it needs torchvision and downloads its
FID weights once) — the standard. ``embedder``: the Fréchet distance of the
similarity embedder's image features (not comparable with published FIDs;
the table names the features). ``auto`` (default): inception when
pytorch-fid imports, else embedder. Reference set: every image of the split.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from synesthesia.datasets import io as dio
from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND, to_rgb
from synesthesia.models.audio_metrics import frechet_distance, gaussian_stats
from synesthesia.models.musipainter import metrics as MX
from synesthesia.datasets.markdown import md_table

#: "Results ... are computed after generating 335 images from music inputs sampled inside the test set."
PAPER_GENERATED = 335
#: Tables 5-6: "The values are obtained over 10 generated images, sampled among
#: those produced with inputs belonging to a specific category."
PAPER_GIILS_IMAGES = 10
FID_MODELS = ("auto", "inception", "embedder")


@dataclass(frozen=True)
class EvalConfig:
    split: str = "test"
    n_generated: int = PAPER_GENERATED
    steps: int = 50
    guidance_scale: float = 7.5
    seed: int = 0
    embedder: str = "imagebind"
    embedder_options: tuple = field(default_factory=tuple)  # (key, value) pairs
    fid_model: str = "auto"
    image_size: int | None = None  # default: the model's
    #: generated images per category that GIILS uses (seeded sample); None: all.
    #: Eq. 8's 1/G term then runs over the sampled images of every category.
    giils_images: int | None = PAPER_GIILS_IMAGES

    def __post_init__(self):
        if self.fid_model not in FID_MODELS:
            raise ValueError(f"fid_model must be one of {FID_MODELS}")
        if self.giils_images is not None and self.giils_images < 2:
            raise ValueError("giils_images must be >= 2 (GIILS needs a pair) or None for all")


def sample_pairs(data_dir, split: str, n: int, seed: int):
    """``n`` pairs of the split drawn without replacement (seeded), sorted by audio id."""
    from synesthesia.datasets.readers.museart import read_pairs

    table = read_pairs(data_dir, split).sort_by("audio_id")
    rows = table.to_pylist()
    if n < len(rows):
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), n, replace=False))
        rows = [rows[i] for i in keep]
    return rows, table.to_pylist()


def inception_features(images: Sequence) -> np.ndarray:
    """pytorch-fid's InceptionV3 pool3 features (2048-d) of PIL images."""
    try:
        import torch
        from pytorch_fid.inception import InceptionV3
    except ImportError as exc:
        raise RuntimeError("FID with Inception features needs pytorch-fid: pip install pytorch-fid (it brings torchvision)") from exc
    model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    feats = []
    with torch.no_grad():
        for start in range(0, len(images), 32):
            batch = np.stack([np.asarray(to_rgb(im).resize((299, 299)), np.float32) / 255.0 for im in images[start : start + 32]])
            feats.append(model(torch.from_numpy(batch).permute(0, 3, 1, 2))[0].squeeze(-1).squeeze(-1).numpy())
    return np.concatenate(feats)


def _fid(generated: Sequence, reference: Sequence, gen_feats: np.ndarray, ref_feats: np.ndarray, mode: str, embedder: str) -> tuple[float, str]:
    if mode in ("auto", "inception"):
        try:
            return frechet_distance(gaussian_stats(inception_features(generated)), gaussian_stats(inception_features(reference))), "inception-v3 (pytorch-fid)"
        except RuntimeError:
            if mode == "inception":
                raise
    return frechet_distance(gaussian_stats(gen_feats), gaussian_stats(ref_feats)), f"{embedder} image features"


def score_model(
    generated: list, rows: list[dict], split_rows: list[dict], embedder, config: EvalConfig, background: str = DEFAULT_ALPHA_BACKGROUND
) -> dict:
    """AIS, IIS, FID and GIILS of one model's generated images (``rows[i]``
    is the pair image ``i`` was generated from; ``split_rows`` the whole split;
    reference images composited onto the dataset's ``background``)."""
    from synesthesia.datasets.media import load_clip, open_rgb

    images = sorted({r["image_path"] for r in split_rows})
    audios = sorted({r["audio_path"] for r in split_rows})
    image_index = {p: k for k, p in enumerate(images)}
    audio_index = {p: k for k, p in enumerate(audios)}
    reference_images = [open_rgb(p, background=background) for p in images]
    gen = embedder.embed_images(generated)
    ref = embedder.embed_images(reference_images)
    labels = [r["category"] for r in rows]
    giils_idx = MX.giils_sample(labels, config.giils_images, config.seed)
    giils_gen = gen[giils_idx]
    result = {
        "iis": MX.iis(gen @ ref.T, [image_index[r["image_path"]] for r in rows]),
        "giils": MX.giils(giils_gen @ giils_gen.T, [labels[i] for i in giils_idx]),
        "giils_images": Counter(labels[i] for i in giils_idx),
        "n_generated": len(generated),
        "similarity_model": config.embedder,
    }
    if "audio" in embedder.modalities:
        aud = embedder.embed_audio([load_clip(p, 16_000) for p in audios], 16_000)
        result["ais"] = MX.ais(gen @ aud.T, [audio_index[r["audio_path"]] for r in rows])
        result["ais_note"] = None
    else:
        result["ais"], result["ais_note"] = None, f"embedder {config.embedder!r} does not embed audio"
    result["fid"], result["fid_features"] = _fid(generated, reference_images, gen, ref, config.fid_model, config.embedder)
    return result


def evaluate(checkpoints: Sequence[str | os.PathLike], data_dir: str | os.PathLike, out_dir: str | os.PathLike, config: EvalConfig = EvalConfig(),
             sd_model: str | None = None, beats_checkpoint: str | None = None, device: str = "auto") -> Path:
    """Generate (resumable: existing PNGs are reused) and score every checkpoint;
    writes ``results.parquet``, ``giils.parquet`` and ``results.md``."""
    from synesthesia.datasets import schema as S
    from synesthesia.datasets.media import open_rgb
    from synesthesia.datasets.readers.museart import alpha_background
    from synesthesia.models.musipainter.pipeline import audio_fbank, load_generator
    from synesthesia.models.embedders import get_embedder

    out_dir = Path(out_dir)
    rows, split_rows = sample_pairs(data_dir, config.split, config.n_generated, config.seed)
    embedder = get_embedder(config.embedder, **dict(config.embedder_options))
    results, giils_rows = [], []
    for k, checkpoint in enumerate(checkpoints):
        name = Path(checkpoint).stem if Path(checkpoint).is_file() else Path(checkpoint).name
        folder = out_dir / f"{k:02d}-{name}" / "generated"
        generator = None
        generated = []
        for i, row in enumerate(rows):
            path = folder / f"{row['audio_id']}.png"
            if not path.exists():
                generator = generator or load_generator(checkpoint, sd_model, beats_checkpoint, device)
                fbank = audio_fbank(row["audio_path"], generator.config.clip_seconds)
                image = generator.images(fbank, 1, config.steps, config.guidance_scale, config.seed + i, config.image_size)[0]
                path.parent.mkdir(parents=True, exist_ok=True)
                image.save(path)
            generated.append(open_rgb(path))
        scored = score_model(generated, rows, split_rows, embedder, config, alpha_background(data_dir))
        results.append({"model": name, "checkpoint": str(checkpoint), "split": config.split, **{k2: scored[k2] for k2 in
                        ("n_generated", "ais", "ais_note", "iis", "fid", "fid_features", "similarity_model")}})
        giils_rows += [{"model": name, "label": label, "giils": value, "n_images": scored["giils_images"][label]}
                       for label, value in scored["giils"].items()]
    dio.write_table(S.from_rows(results, S.MUSIPAINTER_RESULTS), out_dir / "results.parquet", S.MUSIPAINTER_RESULTS)
    dio.write_table(S.from_rows(giils_rows, S.MUSIPAINTER_GIILS), out_dir / "giils.parquet", S.MUSIPAINTER_GIILS)
    return dio.write_text(results_markdown(results, giils_rows), out_dir / "results.md")


def _num(v) -> str:
    return "–" if v is None else f"{v:.2f}"


def results_markdown(results: list[dict], giils_rows: list[dict]) -> str:
    """Table 1's layout (MODEL | AIS ↑ | IIS ↑ | FID ↓) and, per model,
    Table 5's (Music inputs label | GIILS ↑, descending)."""
    lines = ["# Musipainter evaluation", ""]
    lines.append(md_table(["MODEL", "AIS ↑", "IIS ↑", "FID ↓"], [(r["model"], _num(r["ais"]), _num(r["iis"]), _num(r["fid"])) for r in results]))
    lines.append("")
    for r in results:
        notes = [f"{r['n_generated']} images generated from the {r['split']} split; similarities in the {r['similarity_model']} space "
                 f"(the paper used Wav2CLIP); FID on {r['fid_features']}."]
        if r["ais_note"]:
            notes.append(f"No AIS: {r['ais_note']}.")
        lines += [f"- **{r['model']}**: " + " ".join(notes)]
    for r in results:
        rows = sorted((g for g in giils_rows if g["model"] == r["model"]), key=lambda g: -g["giils"])
        lines += ["", f"## GIILS — {r['model']}", "", md_table(["Music inputs label", "GIILS ↑", "images"], [(g["label"], _num(g["giils"]), g["n_images"]) for g in rows])]
    return "\n".join(lines) + "\n"
