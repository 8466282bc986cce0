"""Generate music for artworks and score it: FAD, KL-Div, IBSc (Table 7).

Used by the trainer's validation and by ``synesthesia eval art2mus``. For
each (artwork, track) pair of the chosen split, a clip is generated from the
artwork and compared with the ground-truth track:

* the reference audio is the track's training segment (the 10 s the model is
  trained to match, 16 kHz, normalised as in training);
* **KL-Div** per pair (:func:`synesthesia.models.audio_metrics.spectral_kl`),
  averaged;
* **FAD** between the set of references and the set of generated clips, with
  VGGish when its weights are found (``fad="auto"``), else with the audio
  embedder named by ``fad_embedder`` — the results say which (``fad_model``);
* **IBSc** with the embedder named by ``ibsc_embedder`` (ImageBind in the
  paper): cosine(artwork, generated) and cosine(ground-truth track,
  generated). Artwork and track embeddings come from the ArtSound store when
  it has that embedder's vectors (the track's whole-file embedding, as the
  pairing used), otherwise they are computed — the artwork from its image,
  the track from the whole decoded file — and cached.

Generated clips are written as 16 kHz WAV files named after the pair; an
existing file is reused, so an interrupted evaluation resumes. Each clip's
noise comes from a generator seeded by (seed, image id), so a clip does not
depend on which batch it was generated in.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa

from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.models import audio_metrics as M
from synesthesia.models.art2mus.config import INFERENCE_STEPS, SAMPLE_SECONDS, FrontEndConfig
from synesthesia.datasets.readers.artsound import ArtSoundPairs, find_embedding_folder, load_images, resolve_embeddings
from synesthesia.models.art2mus.frontend import ground_truth_segment
from synesthesia.datasets.media import TARGET_SAMPLE_RATE, load_audio
from synesthesia.datasets.keys import stable_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalConfig:
    """How clips are generated and scored (defaults: the paper's validation)."""

    seconds: float = SAMPLE_SECONDS
    steps: int = INFERENCE_STEPS
    guidance_scale: float | None = None  # None: the model's (3.5)
    batch_size: int = 8
    seed: int = 0
    fad: str = "auto"  # "auto" (VGGish if its weights are found, else fad_embedder) | "vggish" | "embedder" | "none"
    vggish_weights: str | None = None
    fad_embedder: str = "imagebind"
    ibsc_embedder: str = "imagebind"  # "none" skips IBSc


# --- generation -----------------------------------------------------------------------

def clip_name(image_id: str, audio_id: str) -> str:
    return f"{image_id}__{audio_id}.wav"


def write_wav(path: Path, y: np.ndarray, sample_rate: int) -> None:
    import soundfile as sf

    with dio.atomic_output(path) as tmp:
        sf.write(tmp, np.clip(y, -1, 1), sample_rate, subtype="PCM_16", format="WAV")


def generate_clips(model, image_ids: Sequence[str], embeddings: np.ndarray, out_paths: Sequence[Path], config: EvalConfig) -> int:
    """Generate the clips whose file does not exist yet; returns how many were generated."""
    import torch

    todo = [i for i, p in enumerate(out_paths) if not Path(p).exists()]
    for k in range(0, len(todo), config.batch_size):
        batch = todo[k : k + config.batch_size]
        gens = [torch.Generator().manual_seed(int(stable_hash(config.seed, image_ids[i], length=8), 16)) for i in batch]
        audio = model.generate(torch.from_numpy(embeddings[batch]), seconds=config.seconds, steps=config.steps,
                               guidance_scale=config.guidance_scale, generator=gens)
        for i, y in zip(batch, audio):
            write_wav(Path(out_paths[i]), y, model.sample_rate)
    return len(todo)


# --- scoring --------------------------------------------------------------------------

class FadBackend:
    """Turns a set of 16 kHz waveforms into the embeddings FAD is computed on."""

    def __init__(self, config: EvalConfig):
        from synesthesia.models.vggish import VGGishEmbedder, find_weights

        self.vggish = None
        self.embedder = None
        if config.fad == "none":
            self.label = "none"
            return
        weights = find_weights(config.vggish_weights) if config.fad in ("auto", "vggish") else None
        if config.fad == "vggish" and weights is None:
            raise FileNotFoundError(
                "VGGish weights not found: download vggish-10086976.pth (the PyTorch port of VGGish) and pass "
                "--vggish-weights PATH or set SYNESTHESIA_VGGISH_WEIGHTS, or use --fad embedder"
            )
        if weights is not None:
            self.vggish = VGGishEmbedder(weights)
            self.label = self.vggish.label
        else:
            from synesthesia.models.embedders import get_embedder

            self.embedder = get_embedder(config.fad_embedder)
            self.label = f"embedder:{config.fad_embedder}"

    def embed(self, waveforms: Sequence[np.ndarray]) -> np.ndarray:
        if self.vggish is not None:
            return self.vggish.embed(waveforms)
        return np.asarray(self.embedder.embed_audio(list(waveforms), TARGET_SAMPLE_RATE), dtype=np.float64)


def fad_score(backend: FadBackend, references: Sequence[np.ndarray], generated: Sequence[np.ndarray]) -> float:
    if backend.label == "none":
        return float("nan")
    ref, gen = backend.embed(references), backend.embed(generated)
    if len(ref) < 2 or len(gen) < 2:
        log.warning("FAD needs at least 2 embeddings per set (got %d / %d): reported as NaN", len(ref), len(gen))
        return float("nan")
    return M.fad_from_embeddings(ref, gen)


def ibsc_scores(data_dir: Path, pairs: ArtSoundPairs, generated: Sequence[np.ndarray], embedder, name: str,
                cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair cosine(artwork, generated) and cosine(ground truth, generated)
    in the space of ``embedder`` (registered as ``name``)."""
    dim = getattr(embedder, "dim", 0) or None
    gen = np.asarray(embedder.embed_audio(list(generated), TARGET_SAMPLE_RATE), dtype=np.float32)
    path_of_image = dict(zip(pairs.image_id, pairs.image_path))

    def images(ids: list[str]) -> np.ndarray:
        return embedder.embed_images(load_images([path_of_image[i] for i in ids], pairs.alpha_background))

    art = resolve_embeddings(pairs.image_id, images, model=name, stores=[find_embedding_folder(data_dir, "image", name, dim)],
                             cache=cache / f"image-{name}", dim=dim)
    path_of_track = dict(zip(pairs.audio_id, pairs.audio_path))

    def tracks(ids: list[str]) -> np.ndarray:
        return embedder.embed_audio([load_audio(path_of_track[i]) for i in ids], TARGET_SAMPLE_RATE)

    gt = resolve_embeddings(pairs.audio_id, tracks, model=name, stores=[find_embedding_folder(data_dir, "audio", name, dim)],
                            cache=cache / f"audio-{name}", dim=dim)
    return M.cosine_rows(art, gen), M.cosine_rows(gt, gen)


class Scorer:
    """The metric models, loaded once (VGGish or the FAD embedder, the IBSc embedder)."""

    def __init__(self, config: EvalConfig):
        from synesthesia.models.embedders import get_embedder

        self.config = config
        self.fad = FadBackend(config)
        name = config.ibsc_embedder
        self.ibsc = get_embedder(name) if name and name != "none" else None

    def score(self, data_dir: Path, pairs: ArtSoundPairs, gen_paths: Sequence[Path], out_dir: Path, frontend: FrontEndConfig,
              step: int = 0) -> tuple[pa.Table, dict]:
        """Per-item table (``ART2MUS_ITEMS``) and the set-level numbers."""
        references = [ground_truth_segment(p, frontend) for p in pairs.audio_path]
        generated = [load_audio(p) for p in gen_paths]
        kl = []
        for r, g in zip(references, generated):
            try:
                kl.append(M.spectral_kl(r, g))
            except ValueError as exc:  # a silent clip: its spectral profile is undefined
                log.warning("KL-Div skipped for a pair: %s", exc)
                kl.append(float("nan"))
        fad = fad_score(self.fad, references, generated)
        if self.ibsc is not None:
            ib_art, ib_gt = ibsc_scores(data_dir, pairs, generated, self.ibsc, self.config.ibsc_embedder, Path(out_dir) / "embeddings")
        else:
            ib_art = ib_gt = np.full(len(pairs), np.nan)
        rows = [
            {"step": step, "image_id": i, "audio_id": a, "generated_path": str(Path(p).relative_to(out_dir)),
             "kl_div": k, "ibsc_artw_gemus": float(x), "ibsc_gtmus_gemus": float(y)}
            for i, a, p, k, x, y in zip(pairs.image_id, pairs.audio_id, gen_paths, kl, ib_art, ib_gt)
        ]
        summary = {
            "fad": fad,
            "fad_model": self.fad.label,
            "kl_div": M.mean_or_nan(kl),
            "ibsc_artw_gemus": M.mean_or_nan(list(ib_art)),
            "ibsc_gtmus_gemus": M.mean_or_nan(list(ib_gt)),
            "ibsc_model": self.config.ibsc_embedder if self.ibsc is not None else "none",
            "n_items": len(pairs),
        }
        return S.from_rows(rows, S.ART2MUS_ITEMS), summary


def evaluate_model(model, data_dir: Path, pairs: ArtSoundPairs, embeddings: np.ndarray, out_dir: Path, config: EvalConfig,
                   frontend: FrontEndConfig, scorer: Scorer, step: int = 0) -> tuple[pa.Table, dict]:
    """Generate (resumably) into ``out_dir/generated/`` and score."""
    out_dir = Path(out_dir)
    paths = [out_dir / "generated" / clip_name(i, a) for i, a in zip(pairs.image_id, pairs.audio_id)]
    generate_clips(model, pairs.image_id, embeddings, paths, config)
    return scorer.score(data_dir, pairs, paths, out_dir, frontend, step)


# --- Table 7 ------------------------------------------------------------------------------

TABLE7_HEADERS = ["Model", "Emb. Model", "Train Size (hrs)", "Tok/Img", "FAD ↓", "KL-Div ↓", "IBSc Artw-GeMus ↑", "IBSc GtMus-GeMus ↑"]


def results_row(model_name: str, model_config, train_hours: float, step: int, summary: dict, config: EvalConfig, guidance: float) -> dict:
    return {
        "model": model_name,
        "emb_model": model_config.image_encoder,
        "train_hours": train_hours,
        "tokens_per_image": model_config.n_tokens,
        "step": step,
        "inference_steps": config.steps,
        "seconds": config.seconds,
        "guidance_scale": guidance,
        **summary,
    }


def table7_markdown(results: pa.Table) -> str:
    """The results laid out like the paper's Table 7, with the embedders named."""
    from synesthesia.datasets.markdown import md_table

    def num(v, digits):
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"

    rows = []
    for r in results.to_pylist():
        rows.append([r["model"], r["emb_model"], num(r["train_hours"], 2), r["tokens_per_image"], num(r["fad"], 2),
                     num(r["kl_div"], 5), num(r["ibsc_artw_gemus"], 5), num(r["ibsc_gtmus_gemus"], 5)])
    notes = sorted({f"FAD computed with {r['fad_model']}; IBSc with {r['ibsc_model']}" for r in results.to_pylist()})
    details = [f"- {r['model']}: step {r['step']}, {r['n_items']} clips of {r['seconds']:g} s, {r['inference_steps']} DDIM steps, "
               f"guidance {r['guidance_scale']:g}" for r in results.to_pylist()]
    return "\n".join([md_table(TABLE7_HEADERS, rows), "", *[f"{n}." for n in notes], *details]) + "\n"


def write_results(out_dir: Path, results_rows: list[dict], items: pa.Table | None = None) -> Path:
    out_dir = Path(out_dir)
    table = S.from_rows(results_rows, S.ART2MUS_RESULTS)
    dio.write_table(table, out_dir / "results.parquet")
    if items is not None:
        dio.write_table(items, out_dir / "items.parquet")
    dio.write_text("# Art2Mus evaluation\n\n" + table7_markdown(table), out_dir / "results.md")
    return out_dir / "results.md"


def replace(config: EvalConfig, **changes) -> EvalConfig:
    return dataclasses.replace(config, **changes)


# --- entry points (the CLI's `eval art2mus` and `generate art2mus`) ------------------------

def _training_info(checkpoint: Path) -> dict:
    path = checkpoint / "training.json"
    return json.loads(path.read_text()) if path.exists() else {}


def run_evaluation(checkpoints: Sequence[str | Path], data_dir: str | Path, out_dir: str | Path, config: EvalConfig = EvalConfig(),
                   *, split: str = "test", limit: int | None = None, audioldm2: str | None = None, device: str | None = None,
                   image_embeddings: str | Path | None = None, frontend: FrontEndConfig | None = None) -> Path:
    """Evaluate one or more checkpoints on an ArtSound split; writes
    ``results.parquet``/``results.md`` (Table 7 layout) and per checkpoint
    ``<label>/generated/*.wav`` and ``<label>/items.parquet``. Returns results.md."""
    import torch

    from synesthesia.models.art2mus.data import image_embeddings as resolve_images
    from synesthesia.datasets.readers.artsound import read_pairs, validation_pairs
    from synesthesia.models.art2mus.model import Art2Mus, resolve_checkpoint
    from synesthesia.models.devices import resolve_device

    data_dir, out_dir = Path(data_dir), Path(out_dir)
    pairs = read_pairs(data_dir)
    chosen = validation_pairs(pairs, limit or 100, config.seed) if split in ("val", "validation") else pairs.where_split(split)
    if limit is not None:
        chosen = chosen.select(range(min(limit, len(chosen))))
    if not len(chosen):
        raise ValueError(f"{data_dir}: no pairs in split {split!r}")
    dev = resolve_device(device)
    dtype = torch.bfloat16 if dev.type == "cuda" else None
    scorer = Scorer(config)
    rows = []
    for k, ckpt in enumerate(checkpoints):
        folder = resolve_checkpoint(ckpt)
        model = Art2Mus.from_checkpoint(folder, audioldm2=audioldm2, dtype=dtype, device=dev)
        info = _training_info(folder)
        mc = model.config
        label = f"{k:02d}-{mc.image_encoder}-{mc.n_tokens}tok"
        front = frontend or _frontend_of(folder)
        store = Path(image_embeddings) if image_embeddings else None
        emb = resolve_images(data_dir, chosen, mc.image_encoder, mc.embedding_dim, out_dir / "embeddings" / f"image-{mc.image_encoder}", store)
        items, summary = evaluate_model(model, data_dir, chosen, emb, out_dir / label, config, front, scorer, int(info.get("step", 0)))
        dio.write_table(items, out_dir / label / "items.parquet")
        guidance = config.guidance_scale or mc.guidance_scale
        rows.append(results_row(f"Art2Mus [{label}]", mc, float(info.get("train_hours", float("nan"))), int(info.get("step", 0)),
                                summary, config, guidance))
        del model
    return write_results(out_dir, rows)


def _frontend_of(checkpoint: Path) -> FrontEndConfig:
    """The front end the checkpoint was trained with (from its run's run.json), else the default."""
    from synesthesia.models.art2mus.config import from_dict

    for run_json in (checkpoint.parent / "run.json", checkpoint.parent.parent / "run.json"):
        if run_json.exists():
            return from_dict(FrontEndConfig, json.loads(run_json.read_text())["frontend"])
    return FrontEndConfig()


def generate_wav(checkpoint: str | Path, image: str | Path, out: str | Path, *, seconds: float = SAMPLE_SECONDS,
                 steps: int = INFERENCE_STEPS, guidance_scale: float | None = None, seed: int = 0,
                 audioldm2: str | None = None, device: str | None = None) -> Path:
    """One artwork → one WAV: embed the image with the checkpoint's encoder, generate, write."""
    import torch

    from synesthesia.models.art2mus.model import Art2Mus
    from synesthesia.models.devices import resolve_device
    from synesthesia.models.embedders import get_embedder

    dev = resolve_device(device)
    model = Art2Mus.from_checkpoint(checkpoint, audioldm2=audioldm2, dtype=torch.bfloat16 if dev.type == "cuda" else None, device=dev)
    embedding = np.asarray(get_embedder(model.config.image_encoder).embed_images(load_images([Path(image)])), dtype=np.float32)
    if embedding.shape[1] != model.config.embedding_dim:
        raise ValueError(f"{model.config.image_encoder} gave {embedding.shape[1]}-d embeddings; the checkpoint expects {model.config.embedding_dim}")
    audio = model.generate(torch.from_numpy(embedding), seconds=seconds, steps=steps, guidance_scale=guidance_scale,
                           generator=[torch.Generator().manual_seed(seed)])
    write_wav(Path(out), audio[0], model.sample_rate)
    return Path(out)
