"""The builds on corpora as their users download them, from the command line:
`build mpd --paintings wikiart:… --music fma:…` and `build artsound
--paintings artgraph:… --music fma:…` on the exact-format fixtures
(tests/support/corpora), with provenance in the tables, the reports and the card."""

from __future__ import annotations

from collections import Counter

import pytest
from typer.testing import CliRunner

from support.corpora import BY_NC_ND, BY_SA, images, music
from support.corpora import WA as WIKIART
from synesthesia.cli import app
from synesthesia.datasets import io as dio
from synesthesia.datasets import schema as S
from synesthesia.sources import MPD_STYLES

#: FMA fixture tracks that decode (each lasts the fixture's ``seconds``).
FMA_GOOD = {"2": BY_SA, "3": BY_SA, "5": BY_SA, "10": BY_NC_ND, "20": BY_NC_ND, "666": BY_SA, "1000": None}
#: What the FMA reader lists (paths relative to fma_large/).
FMA_SOURCE_PROBLEMS = {"000/000777.mp3", "133/133297.mp3", "155/155066.mp3", "000/000001.mp3"}


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpora")
    # 16 s tracks: MPD keeps tracks of at least one 15 s clip
    return {"wikiart": images.make_wikiart(root / "wikiart"), "artgraph": images.make_artgraph(root / "artgraph"), "fma": music.make_fma(root / "fma", seconds=16.0)}


def _quarantine(out) -> dict[str, tuple[str, str]]:
    q = dio.read_table(out / "quarantine.parquet", S.QUARANTINE).to_pylist()
    return {r["path"]: (r["stage"], r["reason"]) for r in q}


def _check_fma_tracks(tracks: list[dict], quarantine: dict) -> None:
    by_id = {t["source_id"]: t for t in tracks}
    assert set(by_id) == set(FMA_GOOD)
    assert {i: t["licence"] for i, t in by_id.items()} == FMA_GOOD
    assert {t["source"] for t in tracks} == {"fma"}
    assert (by_id["20"]["genre"], by_id["20"]["subgenres"]) == (None, ["Experimental Pop", "Singer-Songwriter"])  # no top genre: kept
    assert (by_id["10"]["genre"], by_id["10"]["artist"], by_id["10"]["title"]) == ("Pop", "Kurt Vile", "Freeway")
    for path in FMA_SOURCE_PROBLEMS:
        assert quarantine[path][0] == "source", path
    assert "known FMA issue" in quarantine["133/133297.mp3"][1]


def test_build_mpd_from_wikiart_and_fma(prefect_api, corpora, tmp_path):
    out = tmp_path / "mpd"
    result = CliRunner().invoke(app, [
        "build", "mpd", "--paintings", f"wikiart:{corpora['wikiart']}?styles=mpd", "--music", f"fma:{corpora['fma'] / 'fma_large'}",
        "--out", str(out), "--pairs", "20", "--runner", "threads", "--shard-size", "4",
    ])
    assert result.exit_code == 0, result.output
    paintings = dio.read_table(out / "paintings.parquet", S.MPD_PAINTINGS).to_pylist()
    tracks = dio.read_table(out / "tracks.parquet", S.MPD_TRACKS).to_pylist()
    quarantine = _quarantine(out)
    # MPD's five styles only, Pollock's Number 12 in both Abstract Expressionism and Action painting (kept, as MPD's counts say)
    assert Counter(p["style"] for p in paintings) == {"Abstract_Expressionism": 2, "Action_painting": 2, "Analytical_Cubism": 2, "Art_Nouveau_Modern": 1, "Baroque": 1}
    assert set(Counter(p["style"] for p in paintings)) == set(MPD_STYLES)
    assert {(p["source"], p["licence"]) for p in paintings} == {("wikiart", WIKIART)}
    rembrandt = next(p for p in paintings if p["source_id"] == "Baroque/rembrandt_the-angel-appearing-to-the-shepherds-1634.jpg")
    assert (rembrandt["artist"], rembrandt["title"], rembrandt["genre"]) == ("Rembrandt", "the angel appearing to the shepherds", "religious_painting")
    assert quarantine[images.WIKIART_ABSENT] == ("source", "not found: listed in style_train.csv:9")
    assert quarantine["Baroque/Thumbs.db"][0] == "source"
    _check_fma_tracks(tracks, quarantine)
    assert 0 < dio.read_table(out / "pairs.parquet", S.MPD_PAIRS).num_rows <= 20
    assert dio.read_manifest(out)["media_roots"] == {"paintings": str(corpora["wikiart"] / "wikiart"), "music": str(corpora["fma"] / "fma_large")}
    report = (out / "report.md").read_text(encoding="utf-8")
    assert f"| paintings | wikiart | {WIKIART} | 8 |" in report
    assert f"| tracks | fma | {BY_SA} | 4 |" in report and "| tracks | fma | (not given) | 1 |" in report
    assert "**This dataset mixes 3 licences.**" in report


def test_build_artsound_from_artgraph_and_fma(prefect_api, corpora, tmp_path):
    out = tmp_path / "artsound"
    result = CliRunner().invoke(app, [
        "build", "artsound", "--paintings", f"artgraph:{corpora['artgraph']}", "--music", f"fma:{corpora['fma']}?subset=large",
        "--out", str(out), "--captioner", "features", "--skip-ics", "--skip-acs", "--embedder", "minilm-text", "--approach", "caption-caption",
        "--runner", "threads", "--shard-size", "4",
    ])
    assert result.exit_code == 0, result.output
    artworks = dio.read_table(out / "artworks.parquet", S.IMAGES).to_pylist()
    tracks = dio.read_table(out / "tracks.parquet", S.AUDIO).to_pylist()
    quarantine = _quarantine(out)
    assert {a["source_id"]: (a["style"], a["genre"]) for a in artworks} == {
        "claude-monet_charing-cross-bridge-1903.jpg": ("impressionism", "cityscape"),
        "gr-goire-michonze_shepherds-in-the-valley-1981.jpg": ("naïve art (primitivism)", "genre painting"),
        "joaqu-n-sorolla_before-the-bath-1909.jpg": ("impressionism", None),  # two genres in the graph
        "m-c-escher_not_detected_204665.jpg": ("surrealism", "sketch and study"),
    }
    assert quarantine["arnold-bocklin_pieta-1885.jpg"] == ("source", "ambiguous style: 2 styles in the graph (romanticism, symbolism)")
    assert quarantine["erin-hanson_thistles-on-orange-2016.jpg"][0] == "source"
    _check_fma_tracks(tracks, quarantine)
    pairs = dio.read_table(out / "pairs.parquet").to_pylist()
    assert len(pairs) == 4  # one artwork per track while artworks last (greedy, each artwork once)
    for p in pairs:
        track = next(t for t in tracks if t["audio_id"] == p["audio_id"])
        assert (p["artwork_source"], p["artwork_licence"], p["music_source"], p["music_licence"]) == ("artgraph", WIKIART, "fma", track["licence"])
        assert (p["music_source_id"], p["music_subgenres"], p["music_artist"]) == (track["source_id"], track["subgenres"], track["artist"])
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "## Licences" in card and f"| artworks | artgraph | {WIKIART} | 4 |" in card
    assert "mixes" in card and "license: other" in card
    assert "| `music_subgenres` | `list<item: string>` |" in card  # in backticks, so a Markdown viewer shows it
    report = (out / "report.md").read_text(encoding="utf-8")
    assert f"| tracks | fma | {BY_NC_ND} | 2 |" in report


def test_a_numbered_folder_given_as_plain_music_stops_with_the_reader_to_use(prefect_api, corpora, tmp_path):
    out = tmp_path / "mpd"
    result = CliRunner().invoke(app, ["build", "mpd", "--paintings", str(corpora["wikiart"] / "wikiart"), "--music", str(corpora["fma"] / "fma_large"), "--out", str(out)])
    assert result.exit_code == 2
    assert "look like numbers or hashes" in result.output and f"fma:{corpora['fma'] / 'fma_large'}" in result.output
    result = CliRunner().invoke(app, ["build", "mpd", "--paintings", f"fma:{corpora['fma']}", "--music", str(corpora["fma"]), "--out", str(out)])
    assert result.exit_code == 2 and "fma is a corpus of music (--music), not of images" in result.output
    assert not (out / "paintings.parquet").exists()
