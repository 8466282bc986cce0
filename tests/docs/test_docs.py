"""The docs cannot drift from the code.

* Every column table (``| file | columns |``) in README.md and docs/ lists, for
  each table file it names, exactly the columns of the schema in
  ``synesthesia.datasets.schema`` (or the code) that writes that file.
* Every relative link points at a file that exists, and at a heading there.
* docs/architecture.md quotes the import-linter contracts of pyproject.toml
  verbatim, and draws the layers in the contract's order.
* Every ``synesthesia.<module>[.<name>]`` in backticks, and every
  ``from synesthesia.… import …`` in a code block, imports.
* Every package path and source path named in backticks exists.
* Every ``--option`` of a ``synesthesia <group> <command> …`` line is an
  option of that command, spelled as ``--help`` shows it (hidden old
  spellings do not count).

Nothing here reads a built dataset: the schemas are the code's own. One
file of about 500 lines, over the usual ~450: the checks share one small
Markdown parser (fences, inline code, tables, links, headings), and about 60
lines are the file -> schema map.
"""

from __future__ import annotations

import importlib
import re
import tomllib
import unicodedata
from pathlib import Path

import pyarrow as pa
import pytest

from synesthesia.annotation.labelstudio.accounts import RATERS_COLUMNS
from synesthesia.annotation.quality import GOLD_COLUMNS
from synesthesia.datasets import schema as S

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "synesthesia"
DOCS = sorted((REPO / "docs").rglob("*.md"))
PAGES = [REPO / "README.md", *DOCS]


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


FENCE = re.compile(r"^(```|~~~)(\w*)[^\n]*\n(.*?)^\1[ \t]*$", re.M | re.S)


def code_blocks(page: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block."""
    return [(m.group(2), m.group(3)) for m in FENCE.finditer(page)]


def prose(page: str) -> str:
    """The page without its fenced code blocks."""
    return FENCE.sub("", page)


def inline_code(page: str) -> list[str]:
    """Every inline code span of the prose (double backticks included)."""
    return [m.group(2).strip() for m in re.finditer(r"(`+)(.+?)\1", prose(page))]


# --- column tables ----------------------------------------------------------------------


def column_tables(page: str) -> list[tuple[str, str]]:
    """(file cell, columns cell) of every row of every ``| file | columns |`` table."""
    rows, inside = [], False
    for line in prose(page).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else None
        if cells is None:
            inside = False
            continue
        if [c.lower() for c in cells[:2]] == ["file", "columns"] and len(cells) == 2:
            inside = True
            continue
        if inside and not set(line.replace("|", "").strip()) <= set("-: "):
            # The file cell holds no `|`; the columns cell is everything after
            # the first separator (a remark there may hold one).
            file_cell, _, rest = line.strip().strip("|").partition("|")
            rows.append((file_cell.strip(), rest.strip().rstrip("|").strip()))
    return rows


def first_code(cell: str) -> str | None:
    m = re.match(r"\s*`([^`]+)`", cell)
    return m.group(1) if m else None


def names(schema: pa.Schema | list[str]) -> list[str]:
    return list(schema.names) if isinstance(schema, pa.Schema) else list(schema)


def mpd_scored_pairs_columns(tmp_path: Path) -> list[str]:
    """The columns of MPD's ``hf/scores`` shards, which have no schema constant:
    from ``scored_pairs_table`` itself, on a one-pair folder."""
    from synesthesia.datasets import io as dio
    from synesthesia.recipes.mpd import CLIP_MEDIA, SCORES, scored_pairs_table

    rows = {
        "pairs.parquet": (S.MPD_PAIRS, {"pair_id": "p", "painting_id": "i", "clip_id": "c", "split": "train"}),
        SCORES: (S.MPD_SCORES, {"pair_id": "p", "score": 0.5, "n_ratings": 5}),
        "paintings.parquet": (S.MPD_PAINTINGS, {"painting_id": "i", "path": "a/b.png", "style": "s"}),
        "clips.parquet": (S.CLIPS, {"clip_id": "c", "track_id": "t", "start_s": 0.0, "end_s": 15.0}),
        CLIP_MEDIA: (S.CLIP_FILES, {"clip_id": "c", "path": "ab/c.flac"}),
    }
    for name, (schema, row) in rows.items():
        dio.write_table(S.from_rows([row], schema), tmp_path / name, schema)
    return scored_pairs_table(tmp_path).column_names


def mpjudge_metric_columns() -> list[str]:
    from synesthesia.models.mpjudge.train import METRIC_COLUMNS

    return METRIC_COLUMNS


ARTSOUND_PAIRS = S.artsound_pairs_schema(S.IMAGE_CAPTIONS, S.AUDIO_CAPTIONS)

#: page -> {file cell -> the columns that file has}: a schema, or a function of a
#: temporary folder that returns the column names the code writes.
COLUMNS = {
    "docs/datasets/mpd.md": {
        "paintings.parquet": S.MPD_PAINTINGS,
        "tracks.parquet": S.MPD_TRACKS,
        "clips.parquet": S.CLIPS,
        "mels/part-*.parquet": S.mels_schema(128, 469),
        "pairs.parquet": S.MPD_PAIRS,
        "quarantine.parquet": S.QUARANTINE,
    },
    "docs/annotation.md": {
        "assignments.parquet": S.MPD_ASSIGNMENTS,
        "clip_files.parquet": S.CLIP_FILES,
        "ratings.parquet": S.MPD_RATINGS,
        "annotation_rejects.parquet": S.ANNOTATION_REJECTS,
        "scores.parquet": S.MPD_SCORES,
        "unscored.parquet": S.MPD_UNSCORED,
        "rater_stats.parquet": S.MPD_RATER_STATS,
        "qc_gold.parquet": S.MPD_GOLD,
        "queues.parquet": S.MPD_QUEUES,
        "qc_tasks.parquet": S.MPD_QC_TASKS,
        "qc_answers.parquet": S.MPD_QC_ANSWERS,
        "gold.csv": list(GOLD_COLUMNS),
        "raters.csv": list(RATERS_COLUMNS),
        "preference_tasks.parquet": S.MPD_PREFERENCE_TASKS,
        "preference_assignments.parquet": S.MPD_PREFERENCE_ASSIGNMENTS,
        "preference_votes.parquet": S.MPD_PREFERENCE_VOTES,
        "preference_pairs.parquet": S.MPD_PREFERENCE_PAIRS,
        "hf/scores/<split>/part-NNNNN.parquet": mpd_scored_pairs_columns,
        "hf/preferences/<split>/part-NNNNN.parquet": S.MPD_PREFERENCE_PAIRS,
    },
    "docs/datasets/artsound.md": {
        "artworks.parquet": S.ARTSOUND_ARTWORKS,
        "tracks.parquet": S.ARTSOUND_TRACKS,
        "audio_segment_captions.parquet": S.AUDIO_SEGMENT_CAPTIONS,
        "image_captions.parquet": S.IMAGE_CAPTIONS,
        "audio_captions.parquet": S.AUDIO_CAPTIONS,
        "quarantine.parquet": S.QUARANTINE,
        "embeddings/{image,audio}-{raw,caption}/part-*.parquet": S.embeddings_schema(1024),
        "pairings/{greedy,optimal-knn}/{approach}.parquet": S.ARTSOUND_APPROACH_PAIRS,
        "pairing_stats.parquet": S.ARTSOUND_PAIRING_STATS,
        "style_by_genre.parquet": S.ARTSOUND_STYLE_BY_GENRE,
        "pairs.parquet": ARTSOUND_PAIRS,
        "data/{train,val,test}.parquet": ARTSOUND_PAIRS,
    },
    "docs/datasets/museart.md": {
        "images.parquet": S.MUSEART_IMAGES,
        "audio.parquet": S.MUSEART_AUDIO,
        "pairs.parquet": S.MUSEART_PAIRS,
        "pairs/<split>/part-*.parquet": S.MUSEART_PAIR_ROWS,
        "quarantine.parquet": S.QUARANTINE,
    },
    "docs/models/mpjudge.md": {
        "metrics.csv": lambda _: mpjudge_metric_columns(),
        "predictions-<split>.parquet": S.MPJUDGE_PREDICTIONS,
    },
    "docs/models/art2mus.md": {
        "train_log.parquet": S.ART2MUS_TRAIN_LOG,
        "validation.parquet": S.ART2MUS_RESULTS,
        "results.parquet": S.ART2MUS_RESULTS,
        "items.parquet": S.ART2MUS_ITEMS,
        "embeddings/image-<encoder>/part-*.parquet": S.art2mus_embeddings_schema(1024),
        "quarantine.parquet": S.QUARANTINE,
    },
    "docs/models/musipainter.md": {
        "results.parquet": S.MUSIPAINTER_RESULTS,
        "giils.parquet": S.MUSIPAINTER_GIILS,
    },
}
TABLES = {(page, file): columns for page, files in COLUMNS.items() for file, columns in files.items()}


def documented_tables() -> dict[tuple[str, str], list[str]]:
    """(page, file) -> the columns cells of every column-table row naming that
    file on that page (a page may list a file in two tables, e.g. the
    quarantine of two phases)."""
    found: dict[tuple[str, str], list[str]] = {}
    for page in PAGES:
        for file_cell, columns_cell in column_tables(text(page)):
            name = first_code(file_cell)
            assert name, f"{rel(page)}: a column-table row without a `file`: {file_cell!r}"
            found.setdefault((rel(page), name), []).append(columns_cell)
    return found


def test_every_table_file_is_checked():
    """A column-table row naming a table file (Parquet or CSV) must be in TABLES,
    and every TABLES entry must still be in the docs (no test goes vacuous)."""
    found = documented_tables()
    tables = {k for k in found if k[1].endswith((".parquet", ".csv"))}
    assert tables - set(TABLES) == set(), f"table files in the docs that this test does not check: {sorted(tables - set(TABLES))}"
    assert set(TABLES) - set(found) == set(), f"checked tables no longer in the docs: {sorted(set(TABLES) - set(found))}"


@pytest.mark.parametrize("key", sorted(TABLES), ids=lambda k: f"{k[0]}:{k[1]}")
def test_documented_columns_equal_the_schema(key, tmp_path):
    page, file = key
    expected = TABLES[key]
    expected = names(expected(tmp_path) if callable(expected) else expected)
    for cell in documented_tables()[key]:
        check_cell(page, file, cell, expected, tmp_path)


def check_cell(page: str, file: str, cell: str, expected: list[str], tmp_path: Path) -> None:
    same = re.match(r"the rows of `([^`]+)`", cell)
    if same:
        # "the rows of `X`": X is documented on the same page, with these columns.
        other = (page, same.group(1))
        assert other in TABLES, f"{page}: {file} refers to {same.group(1)}, which is not a checked table there"
        reference = TABLES[other]
        reference = names(reference(tmp_path) if callable(reference) else reference)
        assert reference == expected, f"{page}: {file} is not 'the rows of {same.group(1)}' in the code"
        return
    listed = first_code(cell)
    assert listed, f"{page}: {file}: the columns cell must start with the column list in backticks"
    documented = [c.strip() for c in listed.split(",")]
    assert documented == expected, f"{page}: {file}\n documented: {documented}\n in the code: {expected}"


# --- links ------------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text (no backticks, emphasis
    marks or link targets), lower case, without punctuation but `-` and `_`,
    spaces as hyphens."""
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    s = re.sub(r"[`*]", "", s).lower()
    s = "".join(ch for ch in s if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return s.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in prose(text(page)).splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def test_slug_matches_github():
    assert slug("Output tables (MPD)") == "output-tables-mpd"
    assert slug("Model (`models/mpjudge/model.py`)") == "model-modelsmpjudgemodelpy"
    assert slug("Greedy pairing: what it computes and how") == "greedy-pairing-what-it-computes-and-how"
    assert slug("Splits (section 5.2)") == "splits-section-52"


def links(page: Path) -> list[str]:
    return re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)", prose(text(page)))


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_relative_links_resolve(page):
    checked = 0
    for target in links(page):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{rel(page)}: link to {target!r}: {dest} does not exist"
        if anchor:
            assert dest.suffix == ".md", f"{rel(page)}: anchor into a non-Markdown file: {target!r}"
            assert anchor in anchors(dest), f"{rel(page)}: link to {target!r}: no heading #{anchor} in {rel(dest)}"
        checked += 1
    if page.name in ("README.md", "index.md"):
        assert checked >= 5, f"{rel(page)}: the link parser found only {checked} links"


def test_docs_are_linked_from_the_index():
    """Every page of docs/ is reachable from docs/index.md, and the README links the index."""
    index = REPO / "docs" / "index.md"
    reached = {(index.parent / t.partition("#")[0]).resolve() for t in links(index) if not re.match(r"[a-z]+:", t)}
    assert {p.resolve() for p in DOCS if p != index} <= reached, "pages of docs/ not linked from docs/index.md"
    assert "docs/index.md" in links(REPO / "README.md")


def test_readme_is_short():
    assert len(text(REPO / "README.md").splitlines()) <= 250


# --- architecture ---------------------------------------------------------------------


def pyproject() -> str:
    return text(REPO / "pyproject.toml")


def contracts_section() -> str:
    """The [tool.importlinter] section of pyproject.toml, as written there."""
    lines = pyproject().splitlines()
    start = lines.index("[tool.importlinter]")
    end = start + 1
    while end < len(lines) and not (lines[end].startswith("[") and "tool.importlinter" not in lines[end]):
        end += 1
    return "\n".join(lines[start:end]).strip()


def architecture() -> str:
    return text(REPO / "docs" / "architecture.md")


def section(page: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", page, re.M | re.S)
    assert m, f"no section '## {title}'"
    return m.group(1)


def test_architecture_quotes_the_contracts_verbatim():
    blocks = [body for lang, body in code_blocks(section(architecture(), "The contracts")) if lang == "toml"]
    assert len(blocks) == 1, "the contracts section holds one toml block"
    assert blocks[0].strip() == contracts_section()
    quoted = tomllib.loads(blocks[0])["tool"]["importlinter"]
    assert quoted == tomllib.loads(pyproject())["tool"]["importlinter"]
    assert quoted["contracts"], "no contracts quoted"


def test_architecture_draws_the_layers_in_contract_order():
    """The diagram's floors, top to bottom, are the layers contract's layers."""
    config = tomllib.loads(pyproject())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    contract = [sorted(m.strip().removeprefix("synesthesia.") for m in re.split(r"[|:]", layer)) for layer in layers]
    top = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    diagram = code_blocks(section(architecture(), "The layers"))[0][1]
    floors = []
    for line in diagram.splitlines():
        floor = sorted(m for m in re.findall(r"(?:^|[│|\s])(\w+)/", line) if m in top)
        if floor:
            floors.append(floor)
    assert floors == contract
    assert sorted(sum(contract, [])) == sorted(top), "a top-level package is missing from the layers contract"


def test_architecture_lists_every_package():
    table = section(architecture(), "The packages")
    listed = {m.group(1).rstrip("/") for m in re.finditer(r"^\| `([\w/]+/)` \|", table, re.M)}
    packages = {p.parent.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE}
    assert packages - listed == set(), f"packages missing from docs/architecture.md: {sorted(packages - listed)}"
    assert listed - packages == set(), f"docs/architecture.md lists packages that do not exist: {sorted(listed - packages)}"


# --- module paths and source paths ---------------------------------------------------------


DOTTED = re.compile(r"\bsynesthesia(?:\.[A-Za-z_]\w*)+")


def resolve(dotted: str):
    """Import the longest importable module prefix of ``dotted``, then getattr the rest."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name and not ".".join(parts[:cut]).startswith(exc.name):
                raise  # the module exists but one of its own imports is missing
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def dotted_paths(page: str) -> set[str]:
    found = {m.group(0) for span in inline_code(page) for m in DOTTED.finditer(span)}
    for lang, body in code_blocks(page):
        if lang == "python":
            for m in re.finditer(r"^\s*from (synesthesia[\w.]*) import ([\w, ]+)", body, re.M):
                found.update(f"{m.group(1)}.{n.strip()}" for n in m.group(2).split(",") if n.strip())
            found.update(m.group(0) for m in DOTTED.finditer(body))
    return found


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_module_paths_import(page):
    for dotted in sorted(dotted_paths(text(page))):
        try:
            resolve(dotted)
        except (ImportError, AttributeError) as exc:
            pytest.fail(f"{rel(page)}: `{dotted}` does not resolve: {exc!r}")


PATHLIKE = re.compile(r"^(?:src|tests|benchmarks|scripts|docs)/[\w./*-]+$|^\w+(?:/\w+)+\.py$|^(?:cli|flows|recipes|stages|annotation|sources|models|datasets)/[\w/]*$")


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_source_paths_exist(page):
    """`src/...`, `tests/...`, `benchmarks/...` and package paths such as
    `models/mpjudge/train.py` or `stages/` name files that exist."""
    page_text = text(page)
    for span in inline_code(page_text) + [w for lang, body in code_blocks(page_text) if lang == "" for w in body.split()]:
        for word in re.split(r"[\s,()]+", span):
            word = word.strip("`'\".:;")
            if "<" in word or "{" in word or not PATHLIKE.match(word) or word.startswith(("DIR/", "RUN_DIR/")):
                continue
            if "*" in word:
                continue
            candidates = [REPO / word, PACKAGE / word]
            assert any(c.exists() for c in candidates), f"{rel(page)}: `{word}` does not exist (under the repo or src/synesthesia)"


def test_no_old_layout_in_docs():
    old = re.compile(r"\bpipelines\b|datasets/(?:mpd|artsound|museart)\w*\.py|datasets\.(?:mpd|artsound|museart)\b|flows[./]common|flows[./]artsound_pairing|mpd_training|\bcli\.py\b")
    for page in PAGES:
        hits = [m.group(0) for m in old.finditer(text(page))]
        assert not hits, f"{rel(page)} still names the old layout: {hits}"


# --- command lines -------------------------------------------------------------------------


def command_lines(page: str) -> list[str]:
    """Every `synesthesia …` invocation: in code blocks (continued lines joined)
    and in inline code spans."""
    out = []
    for lang, body in code_blocks(page):
        if lang in ("bash", "sh", "console", ""):
            for line in body.replace("\\\n", " ").splitlines():
                out.append(line.split("#", 1)[0] if " #" in line else line)
    out += inline_code(page)
    commands = []
    for line in out:
        for part in re.split(r"&&|;|\s\|\s", line):
            m = re.search(r"(?:^|[\s/])synesthesia\s+(.+)$", part)
            if m and not re.match(r"\[|'", m.group(1)):
                commands.append("synesthesia " + m.group(1).strip())
    return commands


def cli_root():
    import typer

    from synesthesia.cli import app

    return typer.main.get_command(app)


def visible_options(command) -> set[str]:
    opts = {"--help"}
    for p in command.params:
        if getattr(p, "param_type_name", "") == "option" and not getattr(p, "hidden", False):
            opts.update(o for o in [*p.opts, *p.secondary_opts] if o.startswith("--"))
    return opts


def resolve_command(words: list[str]):
    command, path = cli_root(), ["synesthesia"]
    for word in words:
        if not hasattr(command, "commands") or not re.fullmatch(r"[a-z][a-z0-9-]*", word):
            break  # an option, or a placeholder such as `…`
        assert word in command.commands, f"`{' '.join(path)}` has no command {word!r}"
        command = command.commands[word]
        path.append(word)
    return command, " ".join(path)


def test_command_lines_use_real_options():
    checked = set()
    for page in PAGES:
        for line in command_lines(text(page)):
            words = line.split()[1:]
            command, name = resolve_command(words)
            allowed = visible_options(command)
            for option in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", line):
                assert option in allowed, f"{rel(page)}: `{name}` has no option {option} (line: {line!r})"
            checked.add(name)
    # Every build command, and each command group, is shown somewhere in the docs.
    for name in ("synesthesia build mpd", "synesthesia build artsound", "synesthesia build artsound-pairs",
                 "synesthesia build museart", "synesthesia annotate run", "synesthesia train mpjudge",
                 "synesthesia eval art2mus", "synesthesia generate musipainter", "synesthesia judge", "synesthesia demo"):
        assert name in checked, f"no docs line runs `{name}`"


def test_command_check_catches_a_wrong_option():
    """The option check is not vacuous: an old spelling (hidden) and a made-up
    option both fail it."""
    command, _ = resolve_command(["build", "mpd"])
    allowed = visible_options(command)
    assert "--paintings" in allowed and "--split-mode" in allowed
    assert "--artworks" not in allowed and "--no-such-option" not in allowed
    with pytest.raises(AssertionError):
        resolve_command(["build", "no-such-dataset"])
