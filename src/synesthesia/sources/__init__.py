"""Readers of public corpora as their users download them (WikiArt,
ArtGraph, FMA, MTG-Jamendo, ...): each turns a corpus into a
:class:`synesthesia.datasets.inputs.Source` for ingest, with every row it
cannot use as a quarantine row. Imports only ``datasets``."""
