"""ArtGraph (Castellano et al.; the release Art2Mus/ArtSound use: 116,475
artworks, 32 styles, 18 genres), as its users get it from Zenodo record 8172374.

That record is a Neo4j 4.4 database dump (``artgraph2.0.dump``) plus the
images (a zip whose folder is ``imagesf2/``, one ``<Artwork.name>`` file per
artwork, flat). The labels live only in the graph: ``(:Artwork {name, title,
image_url})-[:hasStyle]->(:Style {name})``, ``-[:hasGenre]->(:Genre {name})``,
``-[:createdBy]->(:Artist {name})``. No CSV of them is published, so this
reader reads the one table a user exports from the loaded graph with the
query in ``EXPORT_QUERY`` (``docs/sources.md`` has the steps), in either form:

* ``artgraph_artworks.csv``: header ``artwork,title,artist,style,genre``
  (Neo4j Browser "Export CSV" or ``apoc.export.csv.query``; quoted or not);
* ``metadata.json``: ``pandas.DataFrame.to_json()`` of the same rows
  (``{"artwork": {"0": ...}, "style": {...}, ...}``), the form the ArtGraph
  group's own ``get_metadata`` export script writes (artwork, style, genre).

One row per (artwork, style, genre, artist) combination: an artwork that has
two styles in the graph shows up twice. Rows of the same artwork are merged;
``docs/sources.md`` has the rules on conflicting labels.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterable

from synesthesia.datasets.inputs import Source
from synesthesia.sources.common import IMAGE_SUFFIXES, item, list_files, nfc, none_if_blank, norm_label, problem, to_source
from synesthesia.sources.wikiart import display, parse_name

SOURCE = "artgraph"
LICENCE = "WikiArt.org terms of use: non-commercial research only"
KIND = "image"
IMAGES_DIR = "imagesf2"
METADATA_FILES = ("artgraph_artworks.csv", "metadata.json")
NAME_COLUMNS = ("artwork", "name")

#: Run once in the loaded ArtGraph database; export the result as CSV.
EXPORT_QUERY = (
    "MATCH (a:Artwork) "
    "OPTIONAL MATCH (a)-[:createdBy]->(ar:Artist) "
    "OPTIONAL MATCH (a)-[:hasStyle]->(s:Style) "
    "OPTIONAL MATCH (a)-[:hasGenre]->(g:Genre) "
    "RETURN a.name AS artwork, a.title AS title, ar.name AS artist, s.name AS style, g.name AS genre"
)


def _read_csv(path: Path) -> list[tuple[str, dict]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in (reader.fieldnames or [])]
        reader.fieldnames = fields
        if not any(c in fields for c in NAME_COLUMNS) or "style" not in fields:
            raise ValueError(f"{path}: expected columns artwork,title,artist,style,genre (the ArtGraph export query); found {fields}")
        return [(f"{path.name}:{i}", row) for i, row in enumerate(reader, start=2)]


def _read_json(path: Path) -> list[tuple[str, dict]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not any(c in data for c in NAME_COLUMNS) or "style" not in data:
        raise ValueError(f"{path}: expected DataFrame.to_json() columns artwork, style (, genre, artist, title); found {list(data) if isinstance(data, dict) else type(data).__name__}")
    keys = list(data[next(c for c in NAME_COLUMNS if c in data)].keys())
    rows = []
    for k in keys:
        rows.append((f"{path.name}:row {k}", {col: (vals.get(k) if isinstance(vals, dict) else None) for col, vals in data.items()}))
    return rows


def read_metadata(path: Path) -> list[tuple[str, dict]]:
    """``(where, row)`` pairs of an export (CSV or pandas JSON)."""
    return _read_json(path) if path.suffix.lower() == ".json" else _read_csv(path)


def _resolve(path: Path, metadata: Path | None, images: Path | None) -> tuple[Path, Path]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such folder (expected the folder holding {IMAGES_DIR}/ and {METADATA_FILES[0]})")
    if path.is_file():
        meta = path
        base = path.parent
    else:
        base = path
        meta = Path(metadata) if metadata else next((base / n for n in METADATA_FILES if (base / n).is_file()), None)
        if meta is None:
            raise FileNotFoundError(f"{base}: no {' or '.join(METADATA_FILES)} (export it from the ArtGraph Neo4j dump with the query in docs/sources.md, synesthesia.sources.artgraph.EXPORT_QUERY)")
    if not meta.is_file():
        raise FileNotFoundError(f"{meta}: no such file (the ArtGraph metadata export)")
    if images is not None:
        if not Path(images).is_dir():
            raise FileNotFoundError(f"{images}: no such folder (images= names ArtGraph's image folder, {IMAGES_DIR}/)")
        return meta, Path(images)
    if (base / IMAGES_DIR).is_dir():
        return meta, base / IMAGES_DIR
    raise FileNotFoundError(f"{base}: no {IMAGES_DIR}/ folder (unzip ArtGraph's image archive from Zenodo here, or give images=FOLDER)")


def read_artgraph(
    path: Path,
    *,
    metadata: Path | None = None,
    images: Path | None = None,
    styles: Iterable[str] | None = None,
) -> Source:
    """Read ArtGraph at ``path`` (a folder with ``imagesf2/`` and the metadata
    export, or the export file itself; ``metadata``/``images`` name them
    when they are elsewhere). ``styles``: only these styles
    (ArtGraph names such as ``baroque`` or ``art nouveau (modern)``, any case
    or punctuation)."""
    meta, images = _resolve(path, metadata, images)
    rows = read_metadata(meta)
    problems: list[dict] = []

    by_name: dict[str, dict] = {}
    order: list[str] = []
    for where, row in rows:
        name = none_if_blank(next((row.get(c) for c in NAME_COLUMNS if c in row), None))
        if name is None:
            problems.append(problem(where, KIND, "row without an artwork file name"))
            continue
        name = nfc(name)
        rec = by_name.get(name)
        if rec is None:
            rec = by_name[name] = {"where": where, "styles": set(), "genres": set(), "artists": set(), "titles": set()}
            order.append(name)
        for col, key in (("style", "styles"), ("genre", "genres"), ("artist", "artists"), ("title", "titles")):
            v = none_if_blank(row.get(col))
            if v is not None:
                rec[key].add(v)

    wanted = None
    if styles is not None:
        wanted = {norm_label(s) for s in styles}
        known = {norm_label(s) for r in by_name.values() for s in r["styles"]}
        unknown = [s for s in styles if norm_label(s) not in known]
        if unknown:
            raise ValueError(f"unknown ArtGraph style(s) {unknown}; styles in {meta.name}: {', '.join(sorted({s for r in by_name.values() for s in r['styles']}))}")

    on_disk = {nfc(n): n for n in list_files(images)}
    items: list[dict] = []
    for name in sorted(by_name):
        rec = by_name[name]
        style_set = rec["styles"]
        if wanted is not None and not any(norm_label(s) in wanted for s in style_set):
            continue
        if name not in on_disk:
            problems.append(problem(name, KIND, f"not in {images.name}/: listed in {rec['where']}"))
            continue
        if not style_set:
            problems.append(problem(name, KIND, "no style in the graph (no hasStyle relation)"))
            continue
        if len(style_set) > 1:
            problems.append(problem(name, KIND, f"ambiguous style: {len(style_set)} styles in the graph ({', '.join(sorted(style_set))})"))
            continue
        genre = None
        if len(rec["genres"]) == 1:
            genre = next(iter(rec["genres"]))
        elif len(rec["genres"]) > 1:
            problems.append(problem(rec["where"], KIND, f"genre left empty: {name} has {len(rec['genres'])} genres in the graph ({', '.join(sorted(rec['genres']))})"))
        artist_slug, title_slug, _ = parse_name(name)
        artist = next(iter(rec["artists"])) if len(rec["artists"]) == 1 else None
        title = next(iter(rec["titles"])) if len(rec["titles"]) == 1 else None
        items.append(
            item(
                KIND,
                path=on_disk[name],
                style=next(iter(style_set)),
                genre=genre,
                artist=artist or display(artist_slug),
                title=title or display(title_slug),
                source=SOURCE,
                licence=LICENCE,
                source_id=name,
            )
        )

    if wanted is None:
        for key in sorted(set(on_disk) - set(by_name)):
            real = on_disk[key]
            if Path(real).suffix.lower() in IMAGE_SUFFIXES:
                problems.append(problem(real, KIND, f"image without an Artwork row in {meta.name}"))
    return to_source(images, items, problems)
