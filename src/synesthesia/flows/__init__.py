"""Prefect flows: they only compose stages (nothing imports this package).

Importing the package sets the environment defaults for Prefect
(:data:`synesthesia.flows.server.PREFECT_DEFAULTS`) before any flow module
imports Prefect, which reads its settings once, at import."""

from synesthesia.flows.server import configure_prefect_defaults

configure_prefect_defaults()
