"""Label Studio round trip: labeling configs, task JSON, export parsing, SDK client.

Only :mod:`.client` needs ``label-studio-sdk`` (the ``annotation`` extra);
everything else is plain JSON and works without it.
"""
