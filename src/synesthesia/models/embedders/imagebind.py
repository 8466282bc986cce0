"""The ``imagebind`` embedder: images, audio and text into ImageBind-Huge's
1024-d space, L2-normalised float32 rows (cosine similarity = dot product).

    embedder = get_embedder("imagebind", checkpoint="/models/imagebind_huge.pth")
    embedder.embed_images([...])          # PIL images, paths, bytes or uint8 arrays
    embedder.embed_audio([...], 16000)    # mono waveforms at that rate
    embedder.embed_texts([...])           # image captions and music captions alike

Audio: three 2 s clips per file, embedded and averaged as the official model
does (see :mod:`.preprocess`). Text: CLIP's 77-token window. The official
tokenizer truncates longer text (``long_text="truncate"``, the default: the
official behaviour); ``long_text="windows"`` instead uses the toolkit's
sentence windows (whole sentences packed into at most 75 BPE tokens, a longer
sentence cut at words), embeds every window and averages the unit vectors.
:meth:`ImageBindEmbedder.text_token_counts` tells which texts exceed the window.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Literal, Sequence

import numpy as np
import torch

from synesthesia.models.imagebind.checkpoint import LoadReport, load_imagebind
from synesthesia.models.imagebind.model import IMAGEBIND_HUGE, ImageBind, ImageBindConfig
from synesthesia.models.imagebind.preprocess import IMAGEBIND_FBANK, AudioConfig, audio_features, image_pixels
from synesthesia.models.imagebind.tokenizer import ClipTokenizer
from synesthesia.models.embedders.text import embed_windowed, sentence_windows
from synesthesia.models.embedders import Embedder, l2_normalize

class ImageBindEmbedder(Embedder):
    """ImageBind-Huge (our torch implementation) on the official checkpoint.

    ``checkpoint``: path of ``imagebind_huge.pth`` (else
    ``$SYNESTHESIA_IMAGEBIND_CHECKPOINT``, else the cache folder; see
    :mod:`.checkpoint`). ``device``: default CUDA when available. ``dtype``:
    ``"auto"`` = bfloat16 (or float16) on a GPU, float32 on the CPU.
    ``config``: model sizes (tests pass a tiny one with a matching checkpoint).
    ``workers``: threads decoding/resizing images and computing fbanks.
    """

    name = "imagebind"
    modalities = frozenset({"image", "audio", "text"})

    def __init__(
        self,
        checkpoint: str | os.PathLike | None = None,
        *,
        config: ImageBindConfig = IMAGEBIND_HUGE,
        device: str | None = None,
        dtype: str = "auto",
        **options: Any,
    ):
        model, report = load_imagebind(checkpoint, config, device, dtype)
        self._setup(model, report, **options)

    @classmethod
    def preflight(cls, **options: Any) -> None:
        """Known option names and the checkpoint file present (the error
        says where to download it and how large it is); nothing is loaded."""
        from synesthesia.models.imagebind.checkpoint import resolve_checkpoint
        from synesthesia.models.embedders import check_option_names, parameter_names

        # __init__'s own keywords, and _setup's (which its **options go to).
        accepted = parameter_names(cls.__init__, forwarded=True) | parameter_names(cls._setup, ("self", "model", "report"))
        check_option_names(cls.name, options, accepted)
        resolve_checkpoint(options.get("checkpoint"))

    @classmethod
    def from_model(cls, model: ImageBind, **options: Any) -> "ImageBindEmbedder":
        """Wrap an already built model (no checkpoint file)."""
        self = cls.__new__(cls)
        self._setup(model.eval().requires_grad_(False), LoadReport(path="<model>", loaded=len(model.state_dict())), **options)
        return self

    def _setup(
        self,
        model: ImageBind,
        report: LoadReport,
        batch_size: int = 32,
        audio_batch_size: int = 8,
        long_text: Literal["truncate", "windows"] = "truncate",
        workers: int | None = None,
        bpe_path: str | os.PathLike | None = None,
    ) -> None:
        if long_text not in ("truncate", "windows"):
            raise ValueError(f"long_text must be 'truncate' or 'windows', not {long_text!r}")
        self.model, self.load_report, self.config = model, report, model.config
        self.model_id = model.config.name
        self.dim = model.config.embed_dim
        self.image_size = int(model.config.image_size)
        self.device = next(model.parameters()).device
        self.tokenizer = ClipTokenizer(bpe_path, context_length=model.config.context_length)
        self.audio_config = AudioConfig(fbank=dataclasses.replace(IMAGEBIND_FBANK, num_mel_bins=model.config.num_mel_bins), target_frames=model.config.audio_frames)
        self.batch_size, self.audio_batch_size, self.long_text = batch_size, audio_batch_size, long_text
        self.workers = workers or min(8, os.cpu_count() or 1)

    # --- batching ---------------------------------------------------------------------

    def _prepared(self, items: Sequence[Any], prepare: Callable[[Any], np.ndarray], size: int) -> Iterator[np.ndarray]:
        """Stacked prepared batches; the next batch is prepared by the thread
        pool while the model runs on the current one."""
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        if not chunks:
            return
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            pending = pool.map(prepare, chunks[0])
            for k in range(len(chunks)):
                current = list(pending)
                if k + 1 < len(chunks):
                    pending = pool.map(prepare, chunks[k + 1])
                yield np.stack(current)

    @torch.inference_mode()
    def _run(self, encode: Callable[[torch.Tensor], torch.Tensor], batches: Iterator[np.ndarray]) -> np.ndarray:
        outputs = [encode(torch.from_numpy(batch).to(self.device)).float().cpu().numpy() for batch in batches]
        if not outputs:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalize(np.concatenate(outputs))

    # --- the Embedder interface ------------------------------------------------------------

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        size = self.config.image_size
        return self._run(self.model.encode_image, self._prepared(list(images), lambda im: image_pixels(im, size), self.batch_size))

    def embed_audio(self, waveforms: Sequence[np.ndarray], sample_rate: int) -> np.ndarray:
        from synesthesia.datasets.media import resample

        config = self.audio_config

        def prepare(waveform: np.ndarray) -> np.ndarray:
            y = np.asarray(waveform, dtype=np.float32)
            if y.ndim != 1:
                raise ValueError(f"expected a mono waveform (1-D), got shape {y.shape}")
            return audio_features(resample(y, sample_rate, config.sample_rate), config)

        return self._run(self.model.encode_audio, self._prepared(list(waveforms), prepare, self.audio_batch_size))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if self.long_text == "truncate":
            return self._encode_texts(texts)
        return embed_windowed(texts, self._count, self.config.context_length - 2, self._encode_texts, self.batch_size)

    def _encode_texts(self, texts: list[str]) -> np.ndarray:
        rows = self.tokenizer(texts) if texts else np.zeros((0, self.config.context_length), np.int64)
        return self._run(self.model.encode_text, iter(np.split(rows, range(self.batch_size, len(rows), self.batch_size))))

    # --- long text ---------------------------------------------------------------------------

    def _count(self, text: str) -> int:
        return len(self.tokenizer.encode(text))

    def text_token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text needs, both special tokens included; above
        ``context_length`` (77) it does not fit one window."""
        return [self.tokenizer.n_tokens(t) for t in texts]

    def text_windows(self, text: str) -> np.ndarray:
        """Token rows ``[windows, context_length]`` covering all of ``text``:
        the toolkit's sentence windows of at most ``context_length - 2`` BPE
        tokens (:func:`synesthesia.models.embedders.text.sentence_windows`)."""
        return self.tokenizer(sentence_windows(text, self._count, self.config.context_length - 2))
