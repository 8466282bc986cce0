"""The ArtGraph reader on ImagesF2 plus the export of its graph (support/corpora/images.py)."""

from __future__ import annotations

import pytest

from support.corpora import images as corpus
from support.corpora import img, item_rows, prob
from synesthesia.sources.artgraph import read_artgraph


def ag(name, style, genre, artist, title):
    return img(name, style, genre, artist, title, source="artgraph")


ARTGRAPH_ITEMS = [
    ag("claude-monet_charing-cross-bridge-1903.jpg", "impressionism", "cityscape", "Claude Monet", "Charing Cross Bridge"),
    ag("gr-goire-michonze_shepherds-in-the-valley-1981.jpg", "naïve art (primitivism)", "genre painting", "Grégoire Michonze", "Shepherds in the Valley"),
    ag("joaqu-n-sorolla_before-the-bath-1909.jpg", "impressionism", None, "Joaquín Sorolla", "Before the Bath"),
    ag("m-c-escher_not_detected_204665.jpg", "surrealism", "sketch and study", "M.C. Escher", None),
]


def artgraph_problems(meta, row):
    return [
        prob(row("11", "9"), "image", "row without an artwork file name"),
        prob("arnold-bocklin_pieta-1885.jpg", "image", "ambiguous style: 2 styles in the graph (romanticism, symbolism)"),
        prob(row("4", "2"), "image", "genre left empty: joaqu-n-sorolla_before-the-bath-1909.jpg has 2 genres in the graph (genre painting, portrait)"),
        prob("pierre-auguste-renoir_la-grenouillere-1869-1.jpg", "image", f"not in imagesf2/: listed in {row('10', '8')}"),
        prob("robert-montenegro_tehuana-1950.jpg", "image", "no style in the graph (no hasStyle relation)"),
        prob("erin-hanson_thistles-on-orange-2016.jpg", "image", f"image without an Artwork row in {meta}"),
    ]


def test_artgraph_csv_export(tmp_path):
    base = corpus.make_artgraph(tmp_path)
    res = read_artgraph(base)
    assert res.root == base / "imagesf2"
    assert item_rows(res) == ARTGRAPH_ITEMS
    assert res.problems == artgraph_problems("artgraph_artworks.csv", lambda line, _k: f"artgraph_artworks.csv:{line}")
    # the export file itself is a valid path too
    assert item_rows(read_artgraph(base / "artgraph_artworks.csv")) == ARTGRAPH_ITEMS


def test_artgraph_pandas_json_export(tmp_path):
    base = corpus.make_artgraph(tmp_path, as_json=True)
    res = read_artgraph(base)
    assert item_rows(res) == ARTGRAPH_ITEMS
    assert res.problems == artgraph_problems("metadata.json", lambda _line, k: f"metadata.json:row {k}")


def test_artgraph_styles_filter(tmp_path):
    base = corpus.make_artgraph(tmp_path)
    res = read_artgraph(base, styles=["Impressionism"])
    assert [it["path"] for it in item_rows(res)] == ["claude-monet_charing-cross-bridge-1903.jpg", "joaqu-n-sorolla_before-the-bath-1909.jpg"]
    assert [p["path"] for p in res.problems] == [
        "artgraph_artworks.csv:11",
        "artgraph_artworks.csv:4",
        "pierre-auguste-renoir_la-grenouillere-1869-1.jpg",
    ]
    assert [it["style"] for it in item_rows(read_artgraph(base, styles=["Naive Art Primitivism"]))] == ["naïve art (primitivism)"]
    with pytest.raises(ValueError, match="unknown ArtGraph style"):
        read_artgraph(base, styles=["Art_Nouveau_Modern"])


def test_artgraph_needs_its_export(tmp_path):
    (tmp_path / "imagesf2").mkdir()
    with pytest.raises(FileNotFoundError, match="EXPORT_QUERY"):
        read_artgraph(tmp_path)
    (tmp_path / "artgraph_artworks.csv").write_text("path,label\nx.jpg,y\n")
    with pytest.raises(ValueError, match="expected columns artwork,title,artist,style,genre"):
        read_artgraph(tmp_path)


