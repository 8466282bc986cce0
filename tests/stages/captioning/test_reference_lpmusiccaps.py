"""LP-MusicCaps (stages/captioning/lpmusiccaps.py) against the official
seungheondoh/lp-music-caps ``BartCaptionModel``: a tiny random-weight model run
by the official code under the transformers version it pins (4.26.1), saved
with its inputs and outputs under fixtures/lpmusiccaps/ (see its README).

Our model loads the state dict through ``load_model`` (the released-checkpoint
loader: ``transfer.pth`` layout with ``module.`` prefixes, the BART
architecture from the tokenizer folder's config.json) and must give the same
log-mel, audio embeddings and BART encoder output (fp32, max abs diff < 1e-4:
same float32 operations, rounding only), and the same token ids for a greedy
decode and for the released 5-beam decode. The greedy choices of the reference
are at least 0.039 logits from their runner-up (fixture config.json,
``min_greedy_margin``), far above rounding, so equal ids are a fair demand.
"""

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from synesthesia.stages.captioning.lpmusiccaps import LPMusicCapsConfig, build_model, load_model

FIXTURE = Path(__file__).parent / "fixtures" / "lpmusiccaps"
BOUND = 1e-4


def _config(num_beams: int) -> LPMusicCapsConfig:
    meta = json.loads((FIXTURE / "config.json").read_text())
    audio, gen = meta["audio"], meta["generate"]
    return LPMusicCapsConfig(
        segment_seconds=audio["duration"], n_mels=audio["n_mels"], n_convs=audio["num_of_conv"],
        num_beams=num_beams, max_length=gen["max_length"], min_length=gen["min_length"],
    )


def _load(tmp_path, num_beams: int):
    checkpoint = tmp_path / "transfer.pth"
    if not checkpoint.exists():  # the release's file layout
        torch.save({"state_dict": load_file(FIXTURE / "state_dict.safetensors"), "epoch": 0}, checkpoint)
    model, _ = load_model(checkpoint, FIXTURE / "bart", _config(num_beams))
    return model


def test_front_end_buffers_match_torchaudio():
    """Our own window and HTK filterbank (built before any checkpoint is
    loaded) equal the torchaudio buffers the official model saved."""
    sd = load_file(FIXTURE / "state_dict.safetensors")
    fresh = build_model(_config(1), _config(1).bart_config()).audio_encoder.mel_encoder
    assert (fresh.spec_fn.window - sd["module.audio_encoder.mel_encoder.spec_fn.window"]).abs().max() < 1e-6
    assert (fresh.mel_scale.fb - sd["module.audio_encoder.mel_encoder.mel_scale.fb"]).abs().max() < 1e-5


def test_encoder_matches_official(tmp_path):
    model = _load(tmp_path, num_beams=1)
    ref = load_file(FIXTURE / "io.safetensors")
    wav = ref["waveform"]
    with torch.no_grad():
        mel = model.audio_encoder.mel_encoder(wav)
        embs = model.audio_encoder(wav)
        hidden = model.bart.model.encoder(inputs_embeds=embs, return_dict=True).last_hidden_state
    # log-mel in dB (tens): a relative bound; float32 STFTs agree to ~1e-6 relative
    assert (mel - ref["mel"]).abs().max() < 1e-4 * ref["mel"].abs().max()
    assert (embs - ref["audio_embs"]).abs().max() < BOUND
    assert (hidden - ref["encoder_out"]).abs().max() < BOUND


def test_greedy_decode_matches_official(tmp_path):
    ref = load_file(FIXTURE / "io.safetensors")
    ids = _load(tmp_path, num_beams=1).generate(ref["waveform"])
    assert ids.tolist() == ref["greedy_ids"].tolist()
    assert ref["greedy_ids"][0].tolist() != ref["greedy_ids"][1].tolist()  # the audio steers the decoder


def test_beam_decode_matches_official(tmp_path):
    ref = load_file(FIXTURE / "io.safetensors")
    ids = _load(tmp_path, num_beams=5).generate(ref["waveform"])
    assert ids.tolist() == ref["beam_ids"].tolist()
