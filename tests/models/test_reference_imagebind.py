"""ImageBind (models/imagebind/) against the official facebookresearch/ImageBind
model code: a tiny random-weight six-modality model built and run by the
official ``ImageBindModel``, saved with its inputs and outputs under
fixtures/imagebind/ (see its README).

Our model loads the official state dict through ``load_imagebind`` (meta-device
build, the depth / thermal / IMU entries set aside by name, a strict load of
the rest) and must give the official embeddings of images, audio (three clips
per track, averaged after post-processing) and text (read at the end-of-text
token). Bound: 1e-4 absolute in fp32; the outputs are unit vectors times 1
(vision), 20 (audio) and the learned text scale (40 here), so that is at most
~3e-6 relative: float32 rounding (our fused attention vs. nn.MultiheadAttention).
"""

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from synesthesia.models.imagebind.checkpoint import load_imagebind
from synesthesia.models.imagebind.model import ImageBindConfig

FIXTURE = Path(__file__).parent / "fixtures" / "imagebind"
BOUND = 1e-4


def _config() -> ImageBindConfig:
    meta = json.loads((FIXTURE / "config.json").read_text())
    s = meta["sizes"]
    return ImageBindConfig(
        name="imagebind_reference_tiny", embed_dim=s["out_embed_dim"],
        vision_width=s["vision_embed_dim"], vision_layers=s["vision_num_blocks"], vision_heads=s["vision_num_heads"],
        image_size=meta["image_size"], patch_size=s["kernel_size"][1], video_frames=s["video_frames"],
        audio_width=s["audio_embed_dim"], audio_layers=s["audio_num_blocks"], audio_heads=s["audio_num_heads"],
        num_mel_bins=s["audio_num_mel_bins"], audio_frames=s["audio_target_len"],
        audio_kernel=s["audio_kernel_size"], audio_stride=s["audio_stride"],
        text_width=s["text_embed_dim"], text_layers=s["text_num_blocks"], text_heads=s["text_num_heads"],
        context_length=meta["context_length"], vocab_size=meta["vocab_size"],
    )


def test_imagebind_matches_official(tmp_path):
    checkpoint = tmp_path / "imagebind_tiny.pth"  # a plain state dict of all six modalities, as imagebind_huge.pth
    torch.save(load_file(FIXTURE / "state_dict.safetensors"), checkpoint)
    model, report = load_imagebind(checkpoint, _config(), device="cpu", dtype="float32")
    assert set(report.set_aside) == {"depth", "thermal", "imu"}
    ref = load_file(FIXTURE / "io.safetensors")
    with torch.no_grad():
        out = model({"vision": ref["vision"], "audio": ref["audio"], "text": ref["text"]})
        clips = model.encode_audio(ref["audio"].flatten(0, 1))
    for name in ("vision", "audio", "text"):
        diff = (out[name] - ref[f"{name}_embedding"]).abs().max().item()
        assert diff < BOUND, f"{name}: max abs diff {diff:.3g}"
    assert (clips - ref["audio_clip_embedding"]).abs().max() < BOUND
    # the fixture's rows differ (the comparison is not of constant vectors)
    for name in ("vision", "audio", "text"):
        emb = ref[f"{name}_embedding"]
        assert (emb[0] - emb[1]).abs().max() > 0.1 * emb[0].abs().max()
