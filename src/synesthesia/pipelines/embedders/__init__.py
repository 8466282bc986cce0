"""Embedder backends (each imported only when chosen by name; see
:data:`synesthesia.pipelines.embedding.EMBEDDERS`)."""
