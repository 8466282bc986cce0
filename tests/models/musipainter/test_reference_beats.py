"""BEATs (models/musipainter/beats.py) against the official microsoft/unilm
beats/ code: a tiny random-weight model (12 layers of width 32) run by the
official code, saved with its inputs and outputs under fixtures/beats/ (see
its README). Our model loads the state dict through ``load_beats`` (the
released-checkpoint loader, strict) and must give the same hidden states after
layers 4, 8 and 12, the same encoder output and the same clip probabilities.

Bound: 1e-4 absolute in fp32. The two codes do the same float32 operations in
a different order (fused scaled attention vs. fairseq's [T, B, C] layout), so
they differ by rounding only: a few 1e-6 here after 12 post-norm layers.
"""

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from synesthesia.models.musipainter.beats import load_beats

FIXTURE = Path(__file__).parent / "fixtures" / "beats"
BOUND = 1e-4


def _model(tmp_path):
    cfg = json.loads((FIXTURE / "config.json").read_text())["cfg"]
    checkpoint = tmp_path / "beats_tiny.pt"
    # The released file's layout: {"cfg": {...}, "model": state_dict}.
    torch.save({"cfg": cfg, "model": load_file(FIXTURE / "state_dict.safetensors")}, checkpoint)
    return load_beats(checkpoint)


def test_beats_matches_official_layers_and_output(tmp_path):
    model = _model(tmp_path)
    ref = load_file(FIXTURE / "io.safetensors")
    with torch.no_grad():
        states = model.layer_outputs(ref["fbank"], layers=(4, 8, 12))
        hidden = model.layer_outputs(ref["fbank"], layers=(12,))
        # The fine-tuned model's clip probabilities, as the official
        # extract_features computes them from the encoder output (no padding):
        # sigmoid of the token-mean of the predictor's logits.
        lprobs = torch.sigmoid(model.predictor(hidden).mean(dim=1))
    width = model.cfg.encoder_embed_dim
    assert states.shape == (2, 48, 3 * width)
    for k, layer in enumerate((4, 8, 12)):
        ours = states[..., k * width : (k + 1) * width]
        diff = (ours - ref[f"layer_{layer}"]).abs().max().item()
        assert diff < BOUND, f"layer {layer}: max abs diff {diff:.3g}"
    assert (hidden - ref["encoder_out"]).abs().max().item() < BOUND
    assert (lprobs - ref["lprobs"]).abs().max().item() < BOUND
    # The states are not trivially close: layers differ from each other.
    assert (ref["layer_4"] - ref["layer_12"]).abs().max() > 0.5
