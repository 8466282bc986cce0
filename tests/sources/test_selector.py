"""Selectors: one string names the reader, the path and its options; it is
what --paintings/--music take and what the flows pass on."""

from __future__ import annotations

import pytest

from support.corpora import images, item_rows, music
from synesthesia.sources import MPD_STYLES, Selector, absolute, is_corpus, open_source, parse_selector


def test_parse_plain_paths_and_corpus_selectors(tmp_path):
    assert parse_selector("/data/paintings") == Selector("generic", "/data/paintings")
    assert parse_selector(tmp_path) == Selector("generic", str(tmp_path))
    assert parse_selector("fma:/data/fma_large") == parse_selector("FMA:/data/fma_large") == Selector("fma", "/data/fma_large")
    wikiart = parse_selector("wikiart:/data/wikiart?styles=mpd&duplicates=first")
    assert wikiart == Selector("wikiart", "/data/wikiart", (("styles", "mpd"), ("duplicates", "first")))
    assert str(wikiart) == "wikiart:/data/wikiart?styles=mpd&duplicates=first"
    assert parse_selector("fma:/d?no-top-genre=drop").options == (("no_top_genre", "drop"),)  # hyphens as in CLI options
    assert parse_selector("generic:/data/x?accept_labels=yes") == Selector("generic", "/data/x", (("accept_labels", "yes"),))
    # a '?' that starts no option list is part of the path; a colon in an existing path is not a reader
    assert parse_selector("/data/what?.jpg").path == "/data/what?.jpg"
    odd = tmp_path / "my:folder"
    odd.mkdir()
    assert parse_selector(str(odd)) == Selector("generic", str(odd))
    round_trip = Selector("wikiart", "/data/a&b", (("styles", "Art Nouveau Modern,Baroque"), ("lists", "/x/y?z")))
    assert parse_selector(str(round_trip)) == round_trip


@pytest.mark.parametrize("text, message", [
    ("wikiartt:/data/w", r"unknown reader 'wikiartt:' \(known: wikiart:, artgraph:, fma:, mtg-jamendo: or a plain folder/CSV path"),
    ("fma:/d?subset=tiny", "subset must be one of small, medium, large, full, not 'tiny'"),
    ("fma:/d?styles=mpd", r"the fma reader has no option 'styles' \(its options: subset, no_top_genre, audio, metadata"),
    ("wikiart:/w?styles=mpd&styles=Baroque", "option styles given twice"),
    ("/data/x?accept_labels=maybe", "accept_labels must be yes or no"),
    ("fma:", "no path after 'fma:'"),
])
def test_bad_selectors_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_selector(text)


def test_absolute_resolves_paths_and_checks_kind_and_existence(tmp_path, monkeypatch):
    (tmp_path / "fma_large").mkdir()
    (tmp_path / "lists").mkdir()
    monkeypatch.chdir(tmp_path)
    assert absolute("fma:fma_large?subset=small", "audio") == f"fma:{tmp_path / 'fma_large'}?subset=small"
    assert absolute("wikiart:.?lists=lists&styles=mpd", "image") == f"wikiart:{tmp_path}?lists={tmp_path / 'lists'}&styles=mpd"
    assert absolute("fma_large") == str(tmp_path / "fma_large")
    with pytest.raises(ValueError, match=r"fma is a corpus of music \(--music\), not of images"):
        absolute("fma:fma_large", "image")
    with pytest.raises(ValueError, match=r"wikiart is a corpus of paintings/artworks \(--paintings\)"):
        absolute("wikiart:.", "audio")
    with pytest.raises(FileNotFoundError, match="absent: no such folder or CSV file .the fma reader's input"):
        absolute("fma:absent", "audio")
    assert is_corpus("fma:x") and not is_corpus("x")


def test_open_source_passes_the_options_to_the_reader(tmp_path):
    wikiart = images.make_wikiart(tmp_path / "wikiart")
    mpd = open_source(f"wikiart:{wikiart}?styles=mpd", "image")
    assert {i.metadata["style"] for i in mpd.items} == set(MPD_STYLES)
    first = open_source(f"wikiart:{wikiart}?styles=Action Painting,abstract_expressionism&duplicates=first", "image")
    assert {i.metadata["style"] for i in first.items} == {"Abstract_Expressionism", "Action_painting"}
    assert any("duplicates='first'" in p["reason"] for p in first.problems)
    fma = music.make_fma(tmp_path / "fma")
    dropped = open_source(f"fma:{fma / 'fma_large'}?no_top_genre=drop", "audio")
    assert all(r["genre"] is not None for r in item_rows(dropped))
    small = open_source(f"fma:{fma}?subset=small", "audio")
    assert small.root == (fma / "fma_small").resolve()
    # the generic scan: folder fields from the caller, the guard's option from the selector
    with pytest.raises(ValueError, match="look like numbers"):
        open_source(str(fma / "fma_large"), "audio", ("genre",))
    accepted = open_source(f"{fma / 'fma_large'}?accept_labels=yes", "audio", ("genre",))
    assert "000" in {i.metadata.get("genre") for i in accepted.items}
