"""Checking an export before it is shared, and pushing it to the Hub.

:func:`check` reads the folder as the Hub and ``datasets`` will: the card
parses (``DatasetCard.load``) with every required field, every config's
files exist and hold the rows ``dataset_info`` announces, and the first row
of every split decodes (the image to a PIL image, the audio bytes with
soundfile, the arrays to their shape).

:func:`push` uploads with ``huggingface_hub``. The token comes from the
environment (``HF_TOKEN``) or the Hub's own login (``hf auth login``); it
is never read, printed or passed by this code. Any failure to reach the Hub
becomes one :class:`HubError` line.
"""

from __future__ import annotations

import io
from pathlib import Path

from synesthesia.stages.publish.card import REQUIRED

LOGIN_HINT = "set HF_TOKEN or log in with `hf auth login`"


class HubError(OSError):
    """The Hub could not be reached or refused the upload (one line, no token)."""


def _is_network_error(exc: BaseException) -> bool:
    roots = {c.__module__.split(".")[0] for c in type(exc).__mro__}
    return isinstance(exc, OSError) or bool(roots & {"httpx", "httpx2", "requests", "urllib3", "huggingface_hub"})


def push(folder: str | Path, repo_id: str, private: bool = False, message: str | None = None) -> str:
    """Create (if needed) the dataset repo ``repo_id`` and upload ``folder``; returns its URL."""
    from huggingface_hub import HfApi, get_token

    folder = Path(folder)
    if not (folder / "README.md").is_file():
        raise FileNotFoundError(f"{folder}: no README.md; export first (synesthesia export hf)")
    if get_token() is None:
        raise HubError(f"no Hugging Face token: {LOGIN_HINT}")
    api = HfApi()
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset",
                          commit_message=message or f"synesthesia export ({folder.name})", ignore_patterns=[".*", "**/.*"])
    except Exception as exc:  # noqa: BLE001 - network and Hub errors become one line
        if not _is_network_error(exc):
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise HubError(f"could not upload to the Hugging Face Hub ({type(exc).__name__}: {first}); check the network, "
                       f"the repo id {repo_id!r} and your login ({LOGIN_HINT})") from None
    return str(getattr(url, "url", url))


def check(folder: str | Path) -> dict:
    """Check an export; returns ``{config: {split: rows}}`` or raises ValueError naming the problem."""
    import pyarrow.parquet as pq
    from huggingface_hub import DatasetCard

    folder = Path(folder)
    if not (folder / "README.md").is_file():
        raise FileNotFoundError(f"{folder}: no README.md; is this a `synesthesia export hf` folder?")
    data = DatasetCard.load(folder / "README.md").data.to_dict()
    missing = [k for k in REQUIRED + ("configs", "dataset_info") if not data.get(k)]
    if missing:
        raise ValueError(f"{folder}/README.md: metadata lacks {', '.join(missing)}")
    infos = data["dataset_info"] if isinstance(data["dataset_info"], list) else [data["dataset_info"]]
    infos = {i.get("config_name", "default"): i for i in infos}
    found: dict = {}
    for config in data["configs"]:
        name = config["config_name"]
        if name not in infos:
            raise ValueError(f"{folder}/README.md: config {name!r} has no dataset_info")
        expected = {s["name"]: s["num_examples"] for s in infos[name]["splits"]}
        for entry in config["data_files"]:
            files = sorted(folder.glob(entry["path"]))
            if not files:
                raise ValueError(f"{folder}: config {name!r} split {entry['split']!r}: no files match {entry['path']}")
            rows = sum(pq.read_metadata(f).num_rows for f in files)
            if rows != expected.get(entry["split"]):
                raise ValueError(f"{folder}: {name}/{entry['split']} holds {rows} rows, dataset_info says {expected.get(entry['split'])}")
            _first_row_decodes(folder, name, entry["split"])
            found.setdefault(name, {})[entry["split"]] = rows
    return found


def _first_row_decodes(folder: Path, config: str, split: str) -> None:
    import datasets
    import numpy as np
    import soundfile as sf

    ds = datasets.load_dataset(str(folder), config, split=split, streaming=True)
    for name, feature in ds.features.items():
        if isinstance(feature, datasets.Audio):
            ds = ds.cast_column(name, datasets.Audio(decode=False))
    row = next(iter(ds))
    for name, feature in ds.features.items():
        where = f"{folder}: {config}/{split} first row, column {name!r}"
        if isinstance(feature, datasets.Image) and not hasattr(row[name], "size"):
            raise ValueError(f"{where}: the image does not decode")
        if isinstance(feature, datasets.Audio):
            try:
                sf.info(io.BytesIO(row[name]["bytes"]))
            except Exception as exc:  # noqa: BLE001
                raise ValueError(f"{where}: the audio bytes do not decode ({exc})") from None
        if isinstance(feature, (datasets.Array2D, datasets.Array3D)) and np.asarray(row[name]).shape != tuple(feature.shape):
            raise ValueError(f"{where}: shape {np.asarray(row[name]).shape}, expected {feature.shape}")
