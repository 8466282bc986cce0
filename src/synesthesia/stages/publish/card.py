"""The dataset card of an export: YAML metadata the Hub reads (licence,
task categories, tags, size category, ``configs``, ``dataset_info`` per
config) and the prose a person reads (warnings first, what the data is, the
configs and columns, how to load it, sources and licences, how it was
built, the citation).

The YAML is produced by ``huggingface_hub.DatasetCardData`` and the
``dataset_info`` blocks by ``datasets.DatasetInfosDict`` (the libraries
that read them), so the card parses as the Hub parses it.
"""

from __future__ import annotations

import json
from typing import Mapping

from synesthesia import __version__
from synesthesia.datasets.card import size_category
from synesthesia.datasets.markdown import md_table
from synesthesia.stages.publish.spec import Publication

REQUIRED = ("license", "task_categories", "tags", "size_categories", "pretty_name")
#: ``license_name`` when the sources carry different licences.
PER_SOURCE = "per-source-licences"


def license_fields(pub: Publication, override: str | None = None) -> dict:
    """``license`` (one id, or ``other`` with a ``license_name`` when the
    sources differ or are not open); ``override`` wins."""
    if override:
        return {"license": override}
    ids = {s.license for s in pub.sources}
    if len(ids) == 1 and "other" not in ids:
        return {"license": ids.pop()}
    return {"license": "other", "license_name": PER_SOURCE}


def total_rows(infos: Mapping[str, dict] | None, pub: Publication) -> int:
    if infos:
        return max(sum(s["num_examples"] for s in info["splits"].values()) for info in infos.values())
    return max((c.rows.num_rows for c in pub.configs), default=0)


def metadata(pub: Publication, infos: Mapping[str, dict] | None, license: str | None, data_files: Mapping[str, Mapping[str, str]] | None) -> str:
    """The YAML front matter (without the ``---`` lines). ``infos``:
    ``{config: {"features": …, "splits": {split: {num_examples, num_bytes}}}}``;
    ``data_files``: ``{config: {split: glob}}`` (None: no ``configs`` block)."""
    from huggingface_hub import DatasetCardData

    data = DatasetCardData(
        pretty_name=pub.pretty_name,
        task_categories=pub.task_categories,
        size_categories=[size_category(total_rows(infos, pub))],
        **license_fields(pub, license),
        **pub.card_data,
        synesthesia={"dataset": pub.dataset, "version": __version__},
    )
    data.tags = pub.tags
    if data_files:
        default = pub.configs[0].name
        data.configs = [
            {"config_name": name, **({"default": True} if name == default and len(data_files) > 1 else {}),
             "data_files": [{"split": s, "path": p} for s, p in files.items()]}
            for name, files in data_files.items()
        ]
    if infos:
        _dataset_info(data, infos)
    return data.to_yaml()


def _dataset_info(data, infos: Mapping[str, dict]) -> None:
    from datasets import Features
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.splits import SplitDict, SplitInfo

    out = {}
    for name, info in infos.items():
        splits = SplitDict()
        for split, n in info["splits"].items():
            splits.add(SplitInfo(name=split, num_bytes=n["num_bytes"], num_examples=n["num_examples"]))
        out[name] = DatasetInfo(features=Features.from_dict(info["features"]), splits=splits, config_name=name,
                                dataset_size=sum(n["num_bytes"] for n in info["splits"].values()),
                                download_size=info.get("download_size"))
    DatasetInfosDict(out).to_dataset_card_data(data)


def card_text(pub: Publication, infos: Mapping[str, dict] | None, *, license: str | None = None,
              data_files: Mapping[str, Mapping[str, str]] | None = None, embed_media: bool = True, usage: str = "") -> str:
    """The whole ``README.md``: front matter, then the prose."""
    sections = [f"# {pub.pretty_name}"]
    sections += [f"> **Warning.** {w}" for w in pub.warnings]
    if not embed_media:
        sections.append("> **Media are not embedded**: the image and audio columns hold paths of files on the machine "
                        "that exported this folder. Use it there; export with `--embed-media` to share it.")
    sections.append(pub.summary.strip())
    sections.append(_configs_section(pub, infos))
    if usage:
        sections.append(usage.strip())
    sections += [s.strip() for s in pub.sections]
    sections.append(_sources_section(pub, license))
    sections.append(_build_section(pub))
    sections.append("## Citation\n\nThe paper this dataset follows:\n\n```bibtex\n" + pub.citation.strip() + "\n```")
    return "---\n" + metadata(pub, infos, license, data_files).rstrip("\n") + "\n---\n\n" + "\n\n".join(sections) + "\n"


def _configs_section(pub: Publication, infos: Mapping[str, dict] | None) -> str:
    parts = ["## Configs and splits"]
    if infos:
        rows = [(f"`{name}`", split, n["num_examples"]) for name, info in infos.items() for split, n in info["splits"].items()]
        parts.append(md_table(["config", "split", "rows"], rows))
    for config in pub.configs:
        columns = [(f"`{c}`", config.descriptions.get(c, "")) for c in config.data_columns]
        columns += [(f"`{m.column}`", config.descriptions.get(m.column, f"the {m.kind} ({'Image' if m.kind == 'image' else 'Audio'} feature)"))
                    for m in config.media]
        columns += [(f"`{a.column}`", config.descriptions.get(a.column, f"Array{len(a.shape)}D {tuple(a.shape)} {a.dtype}")) for a in config.arrays]
        head = f"### `{config.name}`\n\n" + (config.summary.strip() + "\n\n" if config.summary else "")
        parts.append(head + md_table(["column", "meaning"], columns))
    return "\n\n".join(parts)


def _sources_section(pub: Publication, override: str | None) -> str:
    lines = ["## Sources and licences", md_table(["source", "part", "licence", "terms"],
                                                 [(s.name + (f" ({s.url})" if s.url else ""), s.role, s.license, s.terms) for s in pub.sources])]
    if override:
        lines.append(f"The exporter declared the licence `{override}` for the whole dataset.")
    elif license_fields(pub)["license"] == "other":
        lines.append("The parts keep the terms of their sources (the card's `license: other`). Check them before you "
                     "redistribute; `synesthesia export hf --license ID` records one licence when you know it.")
    return "\n\n".join(lines)


def _build_section(pub: Publication) -> str:
    import yaml

    plain = json.loads(json.dumps(pub.build, default=str))  # tuples and paths as YAML's plain types
    return (f"## How it was built\n\nBuilt with `synesthesia` {__version__} (`synesthesia build {pub.dataset}`); the build "
            "configuration, as the folder's `dataset.json` records it:\n\n```yaml\n"
            + yaml.safe_dump(plain, sort_keys=True, default_flow_style=None, allow_unicode=True).strip() + "\n```")
