"""The WikiArt reader on ArtGAN's published layout (support/corpora/images.py)."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image

from support.corpora import images as corpus
from support.corpora import img, item_rows, prob
from synesthesia.sources.common import IMAGE_KEYS, repair_mojibake
from synesthesia.sources.wikiart import MPD_STYLES, parse_name, read_wikiart

LACOMBE = "Symbolism/georges-lacombe\u00e2\u00a0_the-apple-picker.jpg"
MICHONZE = "Naive_Art_Primitivism/grã©goire-michonze_in-the-village-1978.jpg"
VLAMINCK = "Post_Impressionism/maurice-de-vlaminck_the-village.jpg"
POLLOCK_ABEX = "Abstract_Expressionism/jackson-pollock_number-12-1949.jpg"
POLLOCK_ACTION = "Action_painting/jackson-pollock_number-12-1949.jpg"

WIKIART_ITEMS = [
    img("Abstract_Expressionism/gene-davis_untitled-1979(3).jpg", "Abstract_Expressionism", "abstract_painting", "gene davis", "untitled"),
    img(POLLOCK_ABEX, "Abstract_Expressionism", None, "jackson pollock", "number 12"),
    img("Action_painting/franz-kline_le-gros.jpg", "Action_painting", None, "franz kline", "le gros"),
    img(POLLOCK_ACTION, "Action_painting", None, "jackson pollock", "number 12"),
    img(corpus.WIKIART_UNLISTED, "Analytical_Cubism", None, "georges braque", "pedestal table stal"),
    img("Analytical_Cubism/pablo-picasso_dance-of-the-veils-1907.jpg", "Analytical_Cubism", None, "Pablo Picasso", "dance of the veils"),
    img("Art_Nouveau_Modern/gustav-klimt_the-tree-of-life-stoclet-frieze.jpg", "Art_Nouveau_Modern", None, "gustav klimt", "the tree of life stoclet frieze"),
    img("Baroque/rembrandt_the-angel-appearing-to-the-shepherds-1634.jpg", "Baroque", "religious_painting", "Rembrandt", "the angel appearing to the shepherds"),
    img("Impressionism/claude-monet_not_detected_212144.jpg", "Impressionism", "genre_painting", "Claude Monet", None),
    img(MICHONZE, "Naive_Art_Primitivism", "genre_painting", "grégoire michonze", "in the village"),
    img(VLAMINCK, "Post_Impressionism", None, "maurice de vlaminck", "the village"),
    img(corpus.WIKIART_CORRUPT, "Post_Impressionism", "portrait", "Vincent van Gogh", "l arlesienne portrait of madame ginoux"),
    img("Realism/vincent-van-gogh_pine-trees-in-the-fen-1884.jpg", "Realism", "landscape", "Vincent van Gogh", "pine trees in the fen"),
    img(LACOMBE, "Symbolism", "genre_painting", "georges lacombe", "the apple picker"),
]
NOT_AN_IMAGE = prob("Baroque/Thumbs.db", "image", "not an image file (.db)")
ABSENT = prob(corpus.WIKIART_ABSENT, "image", "not found: listed in style_train.csv:9")


@pytest.fixture(scope="module")
def wikiart(tmp_path_factory):
    return corpus.make_wikiart(tmp_path_factory.mktemp("wikiart"))


def test_wikiart_reads_every_image_with_style_genre_artist_title(wikiart):
    res = read_wikiart(wikiart)
    assert res.root == wikiart / "wikiart"
    assert item_rows(res) == WIKIART_ITEMS
    conflict = f"genre left empty: {VLAMINCK} is listed under 2 genres (cityscape, landscape)"
    assert res.problems == [
        NOT_AN_IMAGE,
        ABSENT,
        prob("genre_val.csv:3", "image", conflict),
        prob("genre_val.csv:4", "image", conflict),
    ]
    for it in item_rows(res):
        assert set(it) == set(IMAGE_KEYS)
        assert (res.root / it["path"]).is_file()


def test_wikiart_mpd_styles_keep_duplicates_by_default(wikiart):
    res = read_wikiart(wikiart, styles=MPD_STYLES)
    assert [it["path"] for it in item_rows(res)] == [it["path"] for it in WIKIART_ITEMS[:8]]
    assert res.problems == [NOT_AN_IMAGE, ABSENT]


def test_wikiart_styles_written_as_people_write_them(wikiart):
    names = ["Art Nouveau Modern", "Abstract Expressionism", "Baroque", "Analytical Cubism", "Action Painting"]
    assert item_rows(read_wikiart(wikiart, styles=names)) == item_rows(read_wikiart(wikiart, styles=MPD_STYLES))
    # the class list's name for the Art Nouveau folder
    assert {it["style"] for it in item_rows(read_wikiart(wikiart, styles=["Art_Nouveau"]))} == {"Art_Nouveau_Modern"}
    with pytest.raises(ValueError, match="unknown WikiArt style.*Cubism_Synthetic"):
        read_wikiart(wikiart, styles=["Cubism_Synthetic"])


def test_wikiart_duplicates_first_and_drop(wikiart):
    first = read_wikiart(wikiart, styles=MPD_STYLES, duplicates="first")
    assert POLLOCK_ACTION not in [it["path"] for it in item_rows(first)]
    assert POLLOCK_ABEX in [it["path"] for it in item_rows(first)]
    assert first.problems[-1] == prob(
        POLLOCK_ACTION, "image",
        "duplicate across styles (duplicates='first'): the same file name is under styles Abstract_Expressionism, Action_painting; the Abstract_Expressionism copy is kept",
    )
    drop = read_wikiart(wikiart, styles=MPD_STYLES, duplicates="drop")
    assert {POLLOCK_ABEX, POLLOCK_ACTION}.isdisjoint(it["path"] for it in item_rows(drop))
    why = "duplicate across styles (duplicates='drop'): the same file name is under styles Abstract_Expressionism, Action_painting, ambiguous style"
    assert drop.problems[-2:] == [prob(POLLOCK_ABEX, "image", why), prob(POLLOCK_ACTION, "image", why)]
    # a duplicate only counts among the selected styles
    assert read_wikiart(wikiart, styles=["Action_painting"], duplicates="drop").problems == []
    with pytest.raises(ValueError, match="duplicates must be one of"):
        read_wikiart(wikiart, duplicates="merge")


def test_wikiart_without_lists_uses_folders_and_names(tmp_path, wikiart):
    shutil.copytree(wikiart / "wikiart", tmp_path / "wikiart")
    res = read_wikiart(tmp_path / "wikiart")
    assert len(item_rows(res)) == len(WIKIART_ITEMS)
    assert all(it["genre"] is None for it in item_rows(res))
    by_path = {it["path"]: it for it in item_rows(res)}
    # no artist_class list: the artist comes from the file name only
    assert by_path["Realism/vincent-van-gogh_pine-trees-in-the-fen-1884.jpg"]["artist"] == "vincent van gogh"
    assert res.problems == [NOT_AN_IMAGE]


def test_wikiart_csv_dir_elsewhere(tmp_path, wikiart):
    shutil.copytree(wikiart / "wikiart", tmp_path / "images" / "wikiart")
    shutil.copytree(wikiart / "WikiArt Dataset", tmp_path / "lists")
    res = read_wikiart(tmp_path / "images", lists=tmp_path / "lists")
    assert item_rows(res) == WIKIART_ITEMS


def test_wikiart_bad_rows_are_listed(tmp_path, wikiart):
    shutil.copytree(wikiart, tmp_path / "w")
    genre_val = tmp_path / "w" / "WikiArt Dataset" / "Genre" / "genre_val.csv"
    with open(genre_val, "a", encoding="utf-8", newline="") as fh:
        fh.write("Impressionism/claude-monet_water-lilies-6.jpg,12\r\nno comma here\r\n")
    res = read_wikiart(tmp_path / "w")
    assert res.problems[:2] == [
        prob("genre_val.csv:5", "image", "unknown class index: 12 is not in the class list"),
        prob("genre_val.csv:6", "image", "bad row: expected 'path,class_index', found 'no comma here'"),
    ]


def test_wikiart_file_names():
    assert parse_name("gene-davis_untitled-1979(3).jpg") == ("gene-davis", "untitled", "1979")
    assert parse_name("claude-monet_not_detected_212144.jpg") == ("claude-monet", None, None)
    assert parse_name("kitagawa-utamaro_not_detected_233117-1799.jpg") == ("kitagawa-utamaro", None, "1799")
    assert parse_name("raphael-kirchner_lollotte_02-1916.jpg") == ("raphael-kirchner", "lollotte_02", "1916")
    assert parse_name("vincent-van-gogh_digger-1882-1(1).jpg") == ("vincent-van-gogh", "digger-1882-1", None)
    assert repair_mojibake("joaquã\u00adn-sorolla") == "joaquín-sorolla"
    assert repair_mojibake("arnold-bã¶cklin") == "arnold-böcklin"
    assert repair_mojibake("eugã¨ne-grasset") == "eugène-grasset"
    assert repair_mojibake("georges-lacombe\u00e2\u00a0") == "georges-lacombe\u00a0"
    assert repair_mojibake("plain-ascii") == "plain-ascii"


def test_wikiart_fixture_media(wikiart):
    root = wikiart / "wikiart"
    with Image.open(root / "Realism/vincent-van-gogh_pine-trees-in-the-fen-1884.jpg") as im:
        im.load()
    with pytest.raises(OSError):
        with Image.open(root / corpus.WIKIART_CORRUPT) as im:
            im.load()
    # the published line endings
    assert (wikiart / "WikiArt Dataset/Style/style_train.csv").read_bytes().count(b"\r\n") == len(corpus.WIKIART_STYLE_TRAIN)
    assert b"\r" not in (wikiart / "WikiArt Dataset/Artist/artist_train").read_bytes()


