"""Prefect flows: they only compose stages (nothing imports this package)."""
