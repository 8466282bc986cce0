"""VGGish (models/vggish.py) against torchvggish 0.2 from PyPI (the numpy
front end of the TF release, and its network with the widths shrunk to a tiny
random-weight model): fixtures/vggish/ (see its README).

Our front end must give the package's ``[examples, 96, 64]`` log-mel patches,
and our network, loaded through ``load_vggish`` (widths read from the state
dict) and run through ``VGGishEmbedder``, the package's embeddings: before
the final ReLU (our default, the FAD setting) and with it.

Bounds: the patches are computed in float64 by both and compared in float32
(< 1e-5 on log values of a few units); the embeddings reach ~30 in size, so
1e-4 absolute is ~3e-6 relative, float32 rounding over seven layers.
"""

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from synesthesia.models.vggish import VGGishEmbedder, examples, load_vggish

FIXTURE = Path(__file__).parent / "fixtures" / "vggish"


def _weights(tmp_path) -> Path:
    path = tmp_path / "vggish_tiny.pth"  # a plain state dict, as vggish-10086976.pth
    torch.save(load_file(FIXTURE / "state_dict.safetensors"), path)
    return path


def test_front_end_matches_torchvggish():
    ref = load_file(FIXTURE / "io.safetensors")
    ours = examples(ref["waveform"].numpy())
    assert ours.shape == tuple(ref["examples"].shape) == (3, 96, 64)
    assert np.abs(ours - ref["examples"].numpy()).max() < 1e-5


def test_embeddings_match_torchvggish(tmp_path):
    ref = load_file(FIXTURE / "io.safetensors")
    weights = _weights(tmp_path)
    embeddings = VGGishEmbedder(weights).embed([ref["waveform"].numpy()])
    assert embeddings.shape == (3, 128)
    assert np.abs(embeddings - ref["embedding"].numpy()).max() < 1e-4
    assert (ref["embedding"] < 0).any()  # the pre-ReLU values are really compared
    with torch.no_grad():
        relu = load_vggish(weights)(ref["examples"][:, None], final_relu=True)
    assert (relu - ref["embedding_relu"]).abs().max() < 1e-4
