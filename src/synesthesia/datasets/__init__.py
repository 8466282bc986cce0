"""Schemas, Parquet I/O, per-dataset table assembly, dataset cards and readers."""
