"""Label Studio round trip, aggregation, agreement, preferences, simulated raters."""
