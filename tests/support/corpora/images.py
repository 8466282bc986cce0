"""WikiArt (ArtGAN) and ArtGraph in their published layouts (see the package docstring)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from support.corpora.media import write_corrupt_jpeg, write_jpeg, write_lines

# --- WikiArt (ArtGAN) -------------------------------------------------------------

STYLE_CLASSES = [
    "Abstract_Expressionism", "Action_painting", "Analytical_Cubism", "Art_Nouveau", "Baroque",
    "Color_Field_Painting", "Contemporary_Realism", "Cubism", "Early_Renaissance", "Expressionism",
    "Fauvism", "High_Renaissance", "Impressionism", "Mannerism_Late_Renaissance", "Minimalism",
    "Naive_Art_Primitivism", "New_Realism", "Northern_Renaissance", "Pointillism", "Pop_Art",
    "Post_Impressionism", "Realism", "Rococo", "Romanticism", "Symbolism", "Synthetic_Cubism", "Ukiyo_e",
]
GENRE_CLASSES = [
    "abstract_painting", "cityscape", "genre_painting", "illustration", "landscape",
    "nude_painting", "portrait", "religious_painting", "sketch_and_study", "still_life",
]
ARTIST_CLASSES = [
    "Albrecht_Durer", "Boris_Kustodiev", "Camille_Pissarro", "Childe_Hassam", "Claude_Monet", "Edgar_Degas",
    "Eugene_Boudin", "Gustave_Dore", "Ilya_Repin", "Ivan_Aivazovsky", "Ivan_Shishkin", "John_Singer_Sargent",
    "Marc_Chagall", "Martiros_Saryan", "Nicholas_Roerich", "Pablo_Picasso", "Paul_Cezanne",
    "Pierre_Auguste_Renoir", "Pyotr_Konchalovsky", "Raphael_Kirchner", "Rembrandt", "Salvador_Dali",
    "Vincent_van_Gogh",
]

#: Real rows of Style/style_train.csv (kept in their published order).
WIKIART_STYLE_TRAIN = [
    "Abstract_Expressionism/gene-davis_untitled-1979(3).jpg,0",
    "Art_Nouveau_Modern/gustav-klimt_the-tree-of-life-stoclet-frieze.jpg,3",
    "Naive_Art_Primitivism/grã©goire-michonze_in-the-village-1978.jpg,15",
    "Action_painting/franz-kline_le-gros.jpg,1",
    "Analytical_Cubism/pablo-picasso_dance-of-the-veils-1907.jpg,2",
    "Abstract_Expressionism/jackson-pollock_number-12-1949.jpg,0",
    "Realism/vincent-van-gogh_pine-trees-in-the-fen-1884.jpg,21",
    "Action_painting/jackson-pollock_number-12-1949.jpg,1",
    "Baroque/rembrandt_woman-standing-with-raised-hands.jpg,4",
    "Baroque/rembrandt_the-angel-appearing-to-the-shepherds-1634.jpg,4",
    "Post_Impressionism/vincent-van-gogh_l-arlesienne-portrait-of-madame-ginoux-1890.jpg,20",
]
WIKIART_STYLE_VAL = [
    "Impressionism/claude-monet_not_detected_212144.jpg,12",
    "Post_Impressionism/maurice-de-vlaminck_the-village.jpg,20",
    "Symbolism/georges-lacombe\u00e2\u00a0_the-apple-picker.jpg,24",
]
WIKIART_GENRE_TRAIN = [
    "Baroque/rembrandt_woman-standing-with-raised-hands.jpg,8",
    "Abstract_Expressionism/gene-davis_untitled-1979(3).jpg,0",
    "Naive_Art_Primitivism/grã©goire-michonze_in-the-village-1978.jpg,2",
    "Realism/vincent-van-gogh_pine-trees-in-the-fen-1884.jpg,4",
    "Baroque/rembrandt_the-angel-appearing-to-the-shepherds-1634.jpg,7",
    "Post_Impressionism/vincent-van-gogh_l-arlesienne-portrait-of-madame-ginoux-1890.jpg,6",
]
WIKIART_GENRE_VAL = [
    "Impressionism/claude-monet_not_detected_212144.jpg,2",
    "Symbolism/georges-lacombe\u00e2\u00a0_the-apple-picker.jpg,2",
    "Post_Impressionism/maurice-de-vlaminck_the-village.jpg,1",
    "Post_Impressionism/maurice-de-vlaminck_the-village.jpg,4",
]
WIKIART_ARTIST_TRAIN = [
    "(Path to image),, (Groundtruth class) ",
    "",
    "Realism/vincent-van-gogh_pine-trees-in-the-fen-1884.jpg,,22",
    "Baroque/rembrandt_the-angel-appearing-to-the-shepherds-1634.jpg,,20",
    "Post_Impressionism/vincent-van-gogh_l-arlesienne-portrait-of-madame-ginoux-1890.jpg,,22",
    "Baroque/rembrandt_woman-standing-with-raised-hands.jpg,,20",
]
WIKIART_ARTIST_VAL = [
    "(Path to image),, (Groundtruth class)",
    "",
    "Impressionism/claude-monet_not_detected_212144.jpg,,4",
]
#: Listed in style_train.csv but not in the archive (bad CRC in wikiart.zip,
#: cs-chan/ArtGAN#14; absent from the archive.org copy, optas/artemis#13).
WIKIART_ABSENT = "Baroque/rembrandt_woman-standing-with-raised-hands.jpg"
#: On disk but cannot be decoded (wikiart.zip: "invalid compressed data to inflate").
WIKIART_CORRUPT = "Post_Impressionism/vincent-van-gogh_l-arlesienne-portrait-of-madame-ginoux-1890.jpg"
#: In a style folder, in no list (the fixture keeps only some rows).
WIKIART_UNLISTED = "Analytical_Cubism/georges-braque_pedestal-table-stal-1912.jpg"


def make_wikiart(base: Path) -> Path:
    """``base/wikiart/<Style>/...`` and ``base/WikiArt Dataset/{Style,Genre,Artist}/...``
    (the repository's layout of the lists). Returns ``base``."""
    base = Path(base)
    images = base / "wikiart"
    rows = [r.rsplit(",", 1)[0] for r in WIKIART_STYLE_TRAIN + WIKIART_STYLE_VAL]
    for i, rel in enumerate(rows):
        if rel in (WIKIART_ABSENT, WIKIART_CORRUPT):
            continue
        write_jpeg(images / rel, seed=i)
    write_corrupt_jpeg(images / WIKIART_CORRUPT)
    write_jpeg(images / WIKIART_UNLISTED, seed=50)
    (images / "Baroque" / "Thumbs.db").write_bytes(b"\x00" * 16)
    lists = base / "WikiArt Dataset"
    write_lines(lists / "Style" / "style_train.csv", WIKIART_STYLE_TRAIN, "\r\n")
    write_lines(lists / "Style" / "style_val.csv", WIKIART_STYLE_VAL, "\r\n")
    write_lines(lists / "Style" / "style_class.txt", [f"{i} {n}" for i, n in enumerate(STYLE_CLASSES)], "\n")
    write_lines(lists / "Genre" / "genre_train.csv", WIKIART_GENRE_TRAIN, "\r\n")
    write_lines(lists / "Genre" / "genre_val.csv", WIKIART_GENRE_VAL, "\r\n")
    write_lines(lists / "Genre" / "genre_class", [f"{i} {n}" for i, n in enumerate(GENRE_CLASSES)], "\n")
    write_lines(lists / "Artist" / "artist_train", WIKIART_ARTIST_TRAIN, "\n")
    write_lines(lists / "Artist" / "artist_val", WIKIART_ARTIST_VAL, "\n")
    write_lines(lists / "Artist" / "artist_class", [f"{i} {n}" for i, n in enumerate(ARTIST_CLASSES)], "\n")
    return base


# --- ArtGraph --------------------------------------------------------------------------

ARTGRAPH_HEADER = ["artwork", "title", "artist", "style", "genre"]
ARTGRAPH_ROWS = [
    # artwork name (real), title/artist (PLACEHOLDER), style/genre (real ArtGraph labels)
    ["claude-monet_charing-cross-bridge-1903.jpg", "Charing Cross Bridge", "Claude Monet", "impressionism", "cityscape"],
    ["gr-goire-michonze_shepherds-in-the-valley-1981.jpg", "Shepherds in the Valley", "Grégoire Michonze", "naïve art (primitivism)", "genre painting"],
    ["joaqu-n-sorolla_before-the-bath-1909.jpg", "Before the Bath", "Joaquín Sorolla", "impressionism", "genre painting"],
    ["joaqu-n-sorolla_before-the-bath-1909.jpg", "Before the Bath", "Joaquín Sorolla", "impressionism", "portrait"],
    ["arnold-bocklin_pieta-1885.jpg", "Pieta", "Arnold Böcklin", "symbolism", "religious painting"],
    ["arnold-bocklin_pieta-1885.jpg", "Pieta", "Arnold Böcklin", "romanticism", "religious painting"],
    ["m-c-escher_not_detected_204665.jpg", "", "M.C. Escher", "surrealism", "sketch and study"],
    ["robert-montenegro_tehuana-1950.jpg", "Tehuana", "Roberto Montenegro", "", "portrait"],
    ["pierre-auguste-renoir_la-grenouillere-1869-1.jpg", "La Grenouillere", "Pierre-Auguste Renoir", "impressionism", "genre painting"],
    ["", "Row Without A Name", "", "baroque", ""],
    ["claude-monet_charing-cross-bridge-1903.jpg", "Charing Cross Bridge", "Claude Monet", "impressionism", "cityscape"],
]
ARTGRAPH_ON_DISK = [
    "claude-monet_charing-cross-bridge-1903.jpg",
    "gr-goire-michonze_shepherds-in-the-valley-1981.jpg",
    "joaqu-n-sorolla_before-the-bath-1909.jpg",
    "arnold-bocklin_pieta-1885.jpg",
    "m-c-escher_not_detected_204665.jpg",
    "robert-montenegro_tehuana-1950.jpg",
    "erin-hanson_thistles-on-orange-2016.jpg",  # no Artwork row in the export
]


def make_artgraph(base: Path, *, as_json: bool = False) -> Path:
    """``base/imagesf2/<name>`` and the metadata export (``artgraph_artworks.csv``,
    quoted like Neo4j Browser's CSV export; or ``metadata.json`` as
    ``DataFrame.to_json()``). Returns ``base``."""
    base = Path(base)
    for i, name in enumerate(ARTGRAPH_ON_DISK):
        write_jpeg(base / "imagesf2" / name, seed=100 + i)
    if as_json:
        cols = {c: {str(i): (row[j] or None) for i, row in enumerate(ARTGRAPH_ROWS)} for j, c in enumerate(ARTGRAPH_HEADER)}
        (base / "metadata.json").write_text(json.dumps(cols, ensure_ascii=True), encoding="utf-8")
    else:
        with open(base / "artgraph_artworks.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
            w.writerow(ARTGRAPH_HEADER)
            w.writerows(ARTGRAPH_ROWS)
    return base
