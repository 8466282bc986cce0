"""Shared test helpers: tiny models, generated folders, servers, crash injection."""
