"""Readers of built dataset folders for model training and evaluation (one
module per dataset; torch-facing but torch-free: map-style datasets and
memory-mapped arrays a ``DataLoader`` can use)."""
