"""The ground floor: every table's schema, Parquet I/O, dataset cards and
Markdown tables, stable keys (hashes, seeded streams, split names), media
loading, what an input reader hands to ingest, the generated sample corpus,
and the readers of built folders that the models train on. Imports nothing
else of the package."""
