"""Publishing a built dataset: generic writers that know nothing of MPD,
ArtSound or Museart, only what a recipe hands them (:mod:`.spec`).

* :mod:`.hf` — the Hugging Face export (Parquet shards with ``Image()`` /
  ``Audio()`` / ``Array2D`` features, the card of :mod:`.card`);
* :mod:`.webdataset` — tar shards of the same examples and ``index.json``;
* :mod:`.hub` — checking an export, pushing it with ``huggingface_hub``;
* :mod:`.site` — the static dataset browser (assets in ``site/``).
"""
