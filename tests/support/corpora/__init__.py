"""Small fixtures of each corpus in its published layout (docs/sources.md):
real header rows, folder depth, file-name patterns and line endings, real
rows where the published files show them, and tiny real media (JPEG/PNG with
Pillow, MP3 and WAV/FLAC with soundfile, whose libsndfile encodes MPEG
Layer III). ``media`` writes the files, ``images`` WikiArt and ArtGraph,
``music`` FMA and MTG-Jamendo.

Provenance of the rows (the research notes behind docs/sources.md quote them):

* WikiArt: every image path, class index and class list is a real line of
  cs-chan/ArtGAN ``WikiArt Dataset/`` (line numbers differ: only some rows are
  kept). Line endings as published: CRLF for Style/Genre lists, LF for the
  Artist lists and class lists.
* FMA: the 52-column, 3-row header is FMA's; rows of tracks 2, 3, 5, 10 and 20
  carry the values shown in mdeff/fma ``usage.ipynb`` (outputs branch) where
  shown in full (truncated cells are left empty); ``genres.csv`` rows are real.
  Rows marked PLACEHOLDER (tracks 666, 777, 1000, 133297, 155066) have invented
  metadata: they exist to exercise the awkward cases.
* MTG-Jamendo: TSV rows of tracks 241, 242, 946-948 and 22546 are real lines of
  MTG/mtg-jamendo-dataset ``data/splits/split-0``; ``raw.meta.tsv`` and
  ``audio_licenses.txt`` have the published header / the block shape a
  third-party validator documents, with PLACEHOLDER values.
* ArtGraph: file names are real ArtGraph artwork names (Art2Mus'
  ``image_audio_subset_df.json``, artgraph-neo4j2raw ``split/``); style and
  genre names are real ArtGraph labels (CILAB multi-modal-art-classifier
  results); titles, artists and which artwork gets which label are PLACEHOLDERS.
"""


def item_rows(source) -> list[dict]:
    """A :class:`~synesthesia.datasets.inputs.Source`'s items as plain dicts
    (``path`` first, then the reader's keys; tuples back to lists)."""
    return [{"path": i.path, **{k: list(v) if isinstance(v, tuple) else v for k, v in i.meta}} for i in source.items]


#: The licences the fixtures carry (WikiArt's terms; two of FMA's per-track licences).
WA = "WikiArt.org terms of use: non-commercial research only"
BY_SA = "Attribution-NonCommercial-ShareAlike 3.0 International"
BY_NC_ND = "Attribution-NonCommercial-NoDerivatives (aka Music Sharing) 3.0 International"


def img(path, style, genre, artist, title, source="wikiart", source_id=None) -> dict:
    """An expected image item."""
    return {"path": path, "style": style, "genre": genre, "artist": artist, "title": title,
            "source": source, "licence": WA, "source_id": source_id if source_id is not None else path}


def trk(path, genre, subgenres, artist, title, licence, source_id, source="fma") -> dict:
    """An expected track item."""
    return {"path": path, "genre": genre, "subgenres": subgenres, "artist": artist, "title": title,
            "source": source, "licence": licence, "source_id": source_id}


def prob(path, kind, reason) -> dict:
    """An expected quarantine row of a reader."""
    return {"path": path, "kind": kind, "stage": "source", "reason": reason}
