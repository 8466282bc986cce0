"""One transparency policy for every reader of pixels (datasets.media.to_rgb):
an RGBA painting with coloured pixels under its transparent area must look,
to every stage, model reader and serving copy, exactly like its composite
onto the alpha background; 16-bit, CMYK and palette images are converted
right too."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND, background_rgb, has_transparency, load_rgb, open_rgb, to_rgb
from synesthesia.datasets.synthetic import SPECIAL_IMAGES, painting_pixels, special_image


def _cutout(tmp_path: Path, hidden=(230, 20, 200)) -> tuple[Path, Path, np.ndarray]:
    """An RGBA painting whose transparent pixels hide a loud colour, and the
    same picture composited onto white by hand (saved as an RGB PNG)."""
    rng = np.random.default_rng(0)
    rgb = painting_pixels("nocturne", rng, 64)
    yy, xx = np.mgrid[0:64, 0:64]
    alpha = np.clip(255 - 10 * np.hypot(yy - 32, xx - 32) + 100, 0, 255).astype(np.uint8)  # opaque centre, soft edge, clear corners
    under = rgb.copy()
    under[alpha == 0] = hidden
    Image.fromarray(np.dstack([under, alpha]), "RGBA").save(tmp_path / "cutout.png")
    a = alpha[..., None].astype(np.float64) / 255.0
    expected = np.clip(np.floor(under * a + 255.0 * (1 - a) + 0.5), 0, 255).astype(np.uint8)
    Image.fromarray(expected).save(tmp_path / "composite.png")
    return tmp_path / "cutout.png", tmp_path / "composite.png", expected


def test_transparent_pixels_are_composited_not_exposed(tmp_path):
    cutout, composite, expected = _cutout(tmp_path)
    ours = np.asarray(open_rgb(cutout))
    assert np.abs(ours.astype(int) - expected).max() <= 1  # PIL's alpha_composite rounds
    naive = np.asarray(Image.open(cutout).convert("RGB"))
    assert (naive[0, 0] == (230, 20, 200)).all() and (ours[0, 0] == 255).all()  # what the hidden pixels would have shown
    with Image.open(cutout) as im:
        assert has_transparency(im)
    with Image.open(composite) as im:
        assert not has_transparency(im)
    black = np.asarray(open_rgb(cutout, background="black"))
    assert (black[0, 0] == 0).all() and np.array_equal(black[32, 32], ours[32, 32])
    assert background_rgb(DEFAULT_ALPHA_BACKGROUND) == (255, 255, 255) and background_rgb("#808080") == (128, 128, 128)
    with pytest.raises(ValueError, match="not a colour"):
        background_rgb("transparent-ish")


def test_palette_transparency_16_bit_and_cmyk(tmp_path):
    rgb = painting_pixels("geometric", np.random.default_rng(1), 48)
    by_kind = {}
    for kind in SPECIAL_IMAGES:
        img, fmt, ext = special_image(kind, rgb, np.random.default_rng(2))
        path = tmp_path / f"{kind}.{ext}"
        path.write_bytes(fmt) if img is None else img.save(path, format=fmt)
        by_kind[kind] = path
    # 16-bit greyscale: scaled to 8 bits, not clipped to white
    grey = np.asarray(open_rgb(by_kind["grey16-png"]))[..., 0].astype(float)
    luminance = 0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]
    assert np.abs(grey - luminance).max() <= 1.0
    assert (np.asarray(Image.open(by_kind["grey16-png"]).convert("RGB")) == 255).mean() > 0.5  # the bug it avoids
    # 48-bit RGB and CMYK come back as the painting (CMYK through JPEG: close)
    assert np.array_equal(np.asarray(open_rgb(by_kind["rgb48-png"])), rgb)
    assert np.abs(np.asarray(open_rgb(by_kind["cmyk-jpeg"]), float) - rgb).mean() < 12
    # a palette PNG's transparent colour becomes the background
    with Image.open(by_kind["palette-transparent"]) as im:
        assert im.mode == "P" and has_transparency(im)
        transparent = np.asarray(im) == im.info["transparency"]
    assert (np.asarray(open_rgb(by_kind["palette-transparent"]))[transparent] == 255).all()


def test_every_pixel_reader_sees_the_composite(tmp_path):
    """Features captioner, embedding store, OpenAI-compatible requests,
    the three datasets' readers and the models' preprocessing."""
    from synesthesia.datasets.readers.artsound import load_images
    from synesthesia.models.imagebind.preprocess import image_pixels
    from synesthesia.models.musipainter.data import image_pixels as musipainter_pixels
    from synesthesia.stages import embedding_store as ES
    from synesthesia.stages.captioning.features import image_features
    from synesthesia.stages.captioning.openai_backend import image_data_url

    cutout, composite, _ = _cutout(tmp_path)
    assert image_features(str(cutout)) == image_features(str(composite))
    # the raw-image embedding store decodes what the embedder gets
    _, inputs, _ = ES._load_inputs([{"id": "a", "path": cutout.name}, {"id": "b", "path": composite.name}], "image", "raw", str(tmp_path))
    assert np.array_equal(np.asarray(inputs[0]), np.asarray(inputs[1]))
    # an OpenAI-compatible server is sent the composite, re-encoded
    sent = Image.open(io.BytesIO(base64.b64decode(image_data_url(cutout).split(",", 1)[1])))
    assert sent.mode == "RGB" and np.array_equal(np.asarray(sent), np.asarray(open_rgb(composite)))
    a, b = load_images([cutout, composite])
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert np.array_equal(load_rgb(cutout, 32), load_rgb(composite, 32))
    np.testing.assert_array_equal(image_pixels(str(cutout)), image_pixels(str(composite)))
    with Image.open(cutout) as im:  # an RGBA image handed straight to a model's preprocessing
        np.testing.assert_array_equal(musipainter_pixels(im, 32), musipainter_pixels(Image.open(composite), 32))


def test_scorer_and_embedder_inputs_match_the_composite(tmp_path):
    """CLIP-S / PAC-S image embeddings (the ICS scorer) and the clip embedder, on a tiny random CLIP."""
    from support.tiny_models import build_clip

    from synesthesia.models.embedders import get_embedder
    from synesthesia.stages.quality.image import ICSConfig, ICSScorer

    cutout, composite, _ = _cutout(tmp_path)
    folder = build_clip(tmp_path / "clip")
    scorer = ICSScorer(ICSConfig(clip_model=str(folder), skip_pac=True))
    v = scorer.clip.embed_images([str(cutout), str(composite)], 2)
    np.testing.assert_allclose(v[0], v[1], atol=1e-6)
    clip = get_embedder("clip", model_id=str(folder))
    with Image.open(cutout) as rgba:
        rgba.load()
        pixels = clip.pixel_values([rgba, Image.open(composite)])
    assert np.array_equal(pixels[0].numpy(), pixels[1].numpy())
    assert to_rgb(rgba).mode == "RGB"
