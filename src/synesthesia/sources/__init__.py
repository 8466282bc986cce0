"""Readers of the public corpora as their users download them, and the
generic folder/CSV scan: each turns an input into a
:class:`synesthesia.datasets.inputs.Source` for ingest (paths relative to its
root, metadata per item, every row it cannot use as a quarantine row).

    wikiart       ArtGAN's WikiArt (Tan et al. 2019)             sources.wikiart
    artgraph      ArtGraph (images + an export of its graph)     sources.artgraph
    fma           FMA (Defferrard et al. 2017)                   sources.fma
    mtg-jamendo   MTG-Jamendo (Bogdanov et al. 2019)             sources.mtg_jamendo
    (plain PATH)  a folder tree or a path,... CSV                sources.generic

An input is named by a selector string (``wikiart:/data/wikiart?styles=mpd``;
see :mod:`synesthesia.sources.selector`) and opened with :func:`open_source`.
Imports only ``datasets``. Museart's published index stays with its recipe
(``recipes/museart/inputs.py``): it matches files by name against the index
and needs the recipe's category rules.
"""

from synesthesia.sources.generic import METADATA_CSV, scan_generic
from synesthesia.sources.selector import READERS, Selector, absolute, is_corpus, open_source, parse_selector
from synesthesia.sources.wikiart import MPD_STYLES

__all__ = ["METADATA_CSV", "MPD_STYLES", "READERS", "Selector", "absolute", "is_corpus", "open_source", "parse_selector", "scan_generic"]
