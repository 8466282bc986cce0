"""The FMA and MTG-Jamendo readers on their published layouts (support/corpora/music.py)."""

from __future__ import annotations

import ast
import shutil

import pandas as pd
import pytest
import soundfile as sf

from support.corpora import BY_NC_ND, BY_SA, item_rows, prob, trk
from support.corpora import music as corpus
from synesthesia.sources.common import TRACK_KEYS
from synesthesia.sources.fma import read_fma
from synesthesia.sources.mtg_jamendo import read_mtg_jamendo

# --- FMA -------------------------------------------------------------------------------------

def fma_items(*tids):
    known = {
        2: trk("000/000002.mp3", "Hip-Hop", ["Hip-Hop"], "AWOL", "Food", BY_SA, "2"),
        3: trk("000/000003.mp3", "Hip-Hop", ["Hip-Hop"], "AWOL", "Electric Ave", BY_SA, "3"),
        5: trk("000/000005.mp3", "Hip-Hop", ["Hip-Hop"], "AWOL", "This World", BY_SA, "5"),
        10: trk("000/000010.mp3", "Pop", ["Pop"], "Kurt Vile", "Freeway", BY_NC_ND, "10"),
        20: trk("000/000020.mp3", None, ["Experimental Pop", "Singer-Songwriter"], "Nicky Cook", "Spiritual Level", BY_NC_ND, "20"),
        666: trk("000/000666.mp3", None, [], "Placeholder Without Genre", "No Genre At All", BY_SA, "666"),
        1000: trk("001/001000.mp3", "Experimental", ["Avant-Garde", "Experimental"], "Ensemble Sébastien Ørsted", "Ça ne finit jamais — 終わり", None, "1000"),
    }
    return [known[t] for t in tids]


KNOWN_EMPTY = prob("133/133297.mp3", "audio", "known FMA issue: this 30 s clip holds no audio (wrong duration metadata; mdeff/fma#4, #41, #44)")
EMPTY_777 = prob("000/000777.mp3", "audio", "empty file (0 bytes)")
ORPHAN = prob("000/000001.mp3", "audio", "not listed in tracks.csv: a file of fma_large/")


@pytest.fixture(scope="module")
def fma(tmp_path_factory):
    return corpus.make_fma(tmp_path_factory.mktemp("fma"))


def test_fma_large(fma):
    """The audio folder itself, as users name it: fma_metadata/ is its sibling, the subset its name."""
    res = read_fma(fma / "fma_large")
    assert res.root == fma / "fma_large"
    assert item_rows(res) == fma_items(2, 3, 5, 10, 20, 666, 1000)
    assert res.problems == [
        EMPTY_777,
        KNOWN_EMPTY,
        prob("155/155066.mp3", "audio", "not found in fma_large/: listed in tracks.csv:14 (subset medium)"),
        ORPHAN,
    ]
    for it in item_rows(res):
        assert set(it) == set(TRACK_KEYS)
    # the folder holding fma_metadata/ and the audio, with the subset named, reads the same
    assert item_rows(read_fma(fma, subset="large")) == item_rows(res)


def test_fma_folder_with_two_subsets_asks_which(fma, tmp_path):
    with pytest.raises(ValueError, match=r"holds fma_large, fma_small: say which with \?subset="):
        read_fma(fma)
    shutil.copytree(fma / "fma_small", tmp_path / "fma_small")
    shutil.copytree(fma / "fma_metadata", tmp_path / "fma_metadata")
    assert read_fma(tmp_path).root == tmp_path / "fma_small"  # the one audio folder there
    with pytest.raises(FileNotFoundError, match="no fma_small/, fma_medium/, fma_large/ or fma_full/ folder"):
        read_fma(tmp_path / "fma_metadata")


def test_fma_subsets(fma):
    small = read_fma(fma, subset="small")
    assert small.root == fma / "fma_small"
    assert item_rows(small) == fma_items(2, 5, 10)
    assert small.problems == [KNOWN_EMPTY]
    medium = read_fma(fma, subset="medium", audio=fma / "fma_large")
    assert item_rows(medium) == fma_items(2, 3, 5, 10)
    assert medium.problems == [
        KNOWN_EMPTY,
        prob("155/155066.mp3", "audio", "not found in fma_large/: listed in tracks.csv:14 (subset medium)"),
        ORPHAN,
    ]
    # fma_full holds the untrimmed tracks: the known empty clips are not flagged there
    full = read_fma(fma, subset="full", audio=fma / "fma_large")
    assert "133/133297.mp3" in [it["path"] for it in item_rows(full)]
    with pytest.raises(ValueError, match="subset must be one of"):
        read_fma(fma, subset="tiny")


def test_fma_no_top_genre_drop(fma):
    res = read_fma(fma / "fma_large", no_top_genre="drop")
    assert item_rows(res) == fma_items(2, 3, 5, 10, 1000)
    assert res.problems[:2] == [
        prob("000/000020.mp3", "audio", "no top-level genre: its genres fall under 2 top-level genres (Folk, Pop), so FMA left track.genre_top empty (no_top_genre='drop')"),
        prob("000/000666.mp3", "audio", "no top-level genre: the track has no genre (track.genres is empty) (no_top_genre='drop')"),
    ]


def test_fma_rejects_a_plain_csv(tmp_path, fma):
    shutil.copytree(fma / "fma_large", tmp_path / "fma_large")
    (tmp_path / "fma_metadata").mkdir()
    (tmp_path / "fma_metadata" / "tracks.csv").write_text("path,genre\n000/000002.mp3,Hip-Hop\n")
    shutil.copy(fma / "fma_metadata" / "genres.csv", tmp_path / "fma_metadata" / "genres.csv")
    with pytest.raises(ValueError, match="not FMA's tracks.csv"):
        read_fma(tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere: no such folder"):
        read_fma(fma / "nowhere", subset="small", metadata=fma / "fma_metadata")
    with pytest.raises(FileNotFoundError, match="fma_medium: no such folder .unzip fma_medium.zip here"):
        read_fma(fma, subset="medium")


def test_fma_fixture_is_what_fma_utils_load_reads(fma):
    # mdeff/fma utils.load('tracks.csv'): read_csv(index_col=0, header=[0, 1]) + literal_eval of the lists
    tracks = pd.read_csv(fma / "fma_metadata" / "tracks.csv", index_col=0, header=[0, 1])
    assert tracks.shape == (len(corpus.FMA_ROWS), 52)
    assert tracks.index.name == "track_id"
    genres_all = tracks["track", "genres_all"].map(ast.literal_eval)
    assert genres_all.loc[20] == [17, 10, 76, 103]
    assert pd.isna(tracks.loc[20, ("track", "genre_top")])
    assert tracks.loc[20, ("artist", "members")] == "Nicky Cook\n"
    genres = pd.read_csv(fma / "fma_metadata" / "genres.csv", index_col=0)
    assert list(genres.columns) == ["#tracks", "parent", "title", "top_level"]
    # real MP3s decode; the known-bad clip does not
    x, sr = sf.read(fma / "fma_large" / "000" / "000002.mp3")
    assert sr == 22050 and x.size > 5000
    with pytest.raises(sf.LibsndfileError):
        sf.read(fma / "fma_large" / "133" / "133297.mp3")
    assert (fma / "fma_large" / "133" / "133297.mp3").stat().st_size == 1752


# --- MTG-Jamendo -----------------------------------------------------------------------------

MTG_941 = ["ambient", "chillout", "downtempo", "easylistening", "electronic", "lounge"]


@pytest.fixture(scope="module")
def mtg(tmp_path_factory):
    return corpus.make_mtg_jamendo(tmp_path_factory.mktemp("mtg"))


def test_mtg_jamendo_genre_tsv(mtg):
    res = read_mtg_jamendo(mtg)
    assert res.root == mtg / "audio"
    assert item_rows(res) == [
        trk("41/241.mp3", "rock", ["rock"], "Placeholder Band", 'Placeholder "Rock Song',
            "CC BY-NC-SA (https://creativecommons.org/licenses/by-nc-sa/3.0/)", "track_0000241", "mtg-jamendo"),
        trk("42/242.low.mp3", "rock", ["rock"], "Placeholder Band", "Second Song", None, "track_0000242", "mtg-jamendo"),
        trk("46/946.mp3", "downtempo", MTG_941, "José Ñandú", "Lounge Placeholder",
            "CC BY (https://creativecommons.org/licenses/by/3.0/)", "track_0000946", "mtg-jamendo"),
        trk("47/947.mp3", "downtempo", ["ambient", "downtempo", "easylistening", "electronic", "lounge", "triphop"],
            None, None, None, "track_0000947", "mtg-jamendo"),
    ]
    assert res.problems == [
        prob("raw.meta.tsv:5", "audio", "bad row, artist and title not read: 3 tab-separated fields, expected 8"),
        prob("43/243.mp3", "audio", "empty file (0 bytes)"),
        prob("48/948.mp3", "audio", "not found: listed in autotagging_genre.tsv:7 (looked for 48/948.mp3 and 48/948.low.mp3)"),
    ]


def test_mtg_jamendo_quality(mtg):
    full = read_mtg_jamendo(mtg, quality="audio")
    assert [it["path"] for it in item_rows(full)] == ["41/241.mp3", "46/946.mp3", "47/947.mp3"]
    assert prob("42/242.mp3", "audio", "not found: listed in autotagging_genre.tsv:3 (looked for 42/242.mp3)") in full.problems
    low = read_mtg_jamendo(mtg, quality="audio-low", audio=mtg / "audio")
    assert [it["path"] for it in item_rows(low)] == ["42/242.low.mp3", "46/946.low.mp3"]


def test_mtg_jamendo_tracks_without_genre(mtg):
    kept = read_mtg_jamendo(mtg, tsv="raw_30s.tsv")
    assert [(it["path"], it["genre"], it["subgenres"]) for it in item_rows(kept)] == [
        ("41/241.mp3", "rock", ["rock"]),
        ("46/22546.mp3", None, []),
    ]
    dropped = read_mtg_jamendo(mtg, tsv="raw_30s.tsv", no_genre="drop")
    assert [it["path"] for it in item_rows(dropped)] == ["41/241.mp3"]
    assert dropped.problems[-1] == prob("46/22546.mp3", "audio", "no genre tag (no_genre='drop')")


def test_mtg_jamendo_header_is_checked(tmp_path, mtg):
    shutil.copytree(mtg, tmp_path / "m")
    (tmp_path / "m" / "data" / "autotagging_genre.tsv").write_text("id,genre\n1,rock\n")
    with pytest.raises(ValueError, match="expected header TRACK_ID ARTIST_ID"):
        read_mtg_jamendo(tmp_path / "m")


