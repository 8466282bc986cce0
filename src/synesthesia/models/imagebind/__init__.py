"""ImageBind-Huge (vision, audio, text) in plain torch, loading the official checkpoint.

- :mod:`.model`: the network (parameter names = the official ``imagebind_huge.pth``).
- :mod:`.preprocess`: image and audio preprocessing identical to the official loaders.
- :mod:`.tokenizer`: OpenAI CLIP's BPE tokenizer from `openai-clip` (77-token rows).
- :mod:`.checkpoint`: finding and strictly loading the checkpoint.
- :mod:`.embedder`: the ``imagebind`` :class:`~synesthesia.models.embedders.Embedder`.

Modules import torch lazily from here, so ``import synesthesia.models.imagebind``
is cheap.
"""
