"""Museart's inputs as selectors: a corpus reader's style (images) or genre
(audio) is the category; the published index gives its own provenance."""

from __future__ import annotations

import pytest

from support.corpora import WA as WIKIART
from support.corpora import images, music
from synesthesia.recipes import museart as M



def test_a_corpus_reader_s_labels_become_the_categories(tmp_path):
    wikiart = images.make_wikiart(tmp_path / "wikiart")
    source, info = M.scan_museart_source(f"wikiart:{wikiart}?styles=Baroque,Realism", "image")
    assert {i.path: i.metadata["category"] for i in source.items} == {
        "Baroque/rembrandt_the-angel-appearing-to-the-shepherds-1634.jpg": "Baroque",
        "Realism/vincent-van-gogh_pine-trees-in-the-fen-1884.jpg": "Realism",
    }
    assert {(i.metadata["source"], i.metadata["licence"]) for i in source.items} == {("wikiart", WIKIART)}
    assert info["Realism/vincent-van-gogh_pine-trees-in-the-fen-1884.jpg"] == {"name": "vincent-van-gogh_pine-trees-in-the-fen-1884", "published_split": None}
    assert [p["path"] for p in source.problems] == ["Baroque/Thumbs.db", images.WIKIART_ABSENT]  # the reader's rows, kept


def test_tracks_without_a_genre_are_not_categorised_silently(tmp_path):
    fma = music.make_fma(tmp_path / "fma")
    source, _ = M.scan_museart_source(f"fma:{fma / 'fma_large'}", "audio")
    categories = {i.metadata["source_id"]: i.metadata["category"] for i in source.items}
    assert categories == {"2": "Hip-Hop", "3": "Hip-Hop", "5": "Hip-Hop", "10": "Pop", "1000": "Experimental"}
    reasons = {p["path"]: p["reason"] for p in source.problems}
    assert reasons["000/000020.mp3"] == reasons["000/000666.mp3"] == "not given a genre by its corpus"


def test_the_published_index_matches_plain_folders_only(tmp_path):
    folder = tmp_path / "images"
    images.write_jpeg(folder / "kittelsen38.jpg")
    rows = [{"id": "kittelsen38", "category": "European traditional folklore", "published_split": "train", "set": "train", "_line": 2}]
    source, info = M.scan_museart_source(str(folder), "image", rows, "images.csv")
    (item,) = source.items
    assert item.metadata == {"category": "European traditional folklore", "source": "museart", "source_id": "kittelsen38"}
    with pytest.raises(ValueError, match="a corpus reader .wikiart:. brings its own labels, so leave --csv-dir out"):
        M.scan_museart_source(f"wikiart:{folder}", "image", rows, "images.csv")
