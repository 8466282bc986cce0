"""The generic folder/CSV scan and its label guard: a corpus read as a plain
folder (FMA's numbered folders, a download's top folder) stops with the
reader to use instead of becoming meaningless labels."""

from __future__ import annotations

import csv

import pytest
from PIL import Image

from support.corpora import images, music
from synesthesia.sources.generic import looks_like_id, scan_generic, suggest_reader, suspicious_folder_names


def test_names_that_look_like_ids():
    names = ["000", "001", "Rock", "155", "0c72c3288b796a1dbe931ae78f08f757c", "Baroque", "deadbeef",
             "2019", "Hip-Hop", "1a2b3c4d", "001", "20th century abstractionism",
             "123e4567-e89b-12d3-a456-426614174000", "Old-Time / Historic"]
    assert suspicious_folder_names(names) == [
        "000", "001", "155", "0c72c3288b796a1dbe931ae78f08f757c", "2019", "1a2b3c4d",
        "123e4567-e89b-12d3-a456-426614174000",
    ]
    assert not looks_like_id("deadbeef") and not looks_like_id("") and looks_like_id(" 42 ")
    assert suggest_reader(["000", "001", "155"]) == "fma"
    assert suggest_reader(["00", "41", "99"]) == "mtg-jamendo"
    assert suggest_reader(["0c72c3288b796a1dbe931ae78f08f757c"]) is None


def test_fma_numbered_folders_stop_the_scan_and_name_the_reader(tmp_path):
    fma = music.make_fma(tmp_path / "fma")
    with pytest.raises(ValueError) as err:
        scan_generic(fma / "fma_large", "audio", ("genre",))
    message = str(err.value)
    assert "genre labels look like numbers or hashes" in message and "000, 001, 133" in message
    assert f"--music fma:{fma / 'fma_large'}" in message and "?accept_labels=yes" in message
    # the option keeps today's behaviour: the folder names become genres
    source = scan_generic(fma / "fma_large", "audio", ("genre",), accept_labels=True)
    assert {i.metadata.get("genre") for i in source.items} == {"000", "001", "133", None}  # None: the checksums file


def test_many_numbered_folders_are_counted_not_all_listed(tmp_path):
    music.make_numbered_folders(tmp_path, names=[f"{n:03d}" for n in range(8)])
    with pytest.raises(ValueError, match=r"000, 001, 002, 003, 004, … \(8 of 8 folders\)"):
        scan_generic(tmp_path, "audio", ("genre",))


def test_mtg_jamendo_and_hashed_folders(tmp_path):
    mtg = music.make_mtg_jamendo(tmp_path / "mtg")
    with pytest.raises(ValueError, match="MTG-Jamendo's layout .* mtg-jamendo:PATH"):
        scan_generic(mtg / "audio", "audio", ("genre",))
    hashed = tmp_path / "hashed"
    images.write_jpeg(hashed / "0c72c3288b796a1dbe931ae78f08f757c" / "a.jpg")
    images.write_jpeg(hashed / "Baroque" / "b.jpg")
    with pytest.raises(ValueError, match=r"style labels look like .*\(0c72c3288b796a1dbe931ae78f08f757c\)\. If this is a published corpus"):
        scan_generic(hashed, "image", ("style", "genre"))


@pytest.mark.parametrize("make, reader, option", [
    (music.make_fma, "fma", "--music"),
    (music.make_mtg_jamendo, "mtg-jamendo", "--music"),
    (images.make_wikiart, "wikiart", "--paintings"),
    (images.make_artgraph, "artgraph", "--paintings"),
])
def test_a_corpus_download_read_as_a_plain_folder_names_its_reader(tmp_path, make, reader, option):
    base = make(tmp_path / reader)
    for kind in ("image", "audio"):  # whichever input it was given to
        with pytest.raises(ValueError, match=f"Read it with its reader: {option} {reader}:{base} "):
            scan_generic(base, kind, ("genre",))


def test_plain_layouts_pass_the_guard(tmp_path):
    # WikiArt's style folders themselves are a fine generic input (style = folder)
    wikiart = images.make_wikiart(tmp_path / "w")
    source = scan_generic(wikiart / "wikiart", "image", ("style", "genre"))
    assert "Baroque" in {i.metadata["style"] for i in source.items}
    # Museart's hash-like ids are file names, not folders; no folder fields, no guard
    Image.new("RGB", (4, 4)).save(tmp_path / "0c72c3288b796a1dbe931ae78f08f757c.png")
    assert len(scan_generic(tmp_path, "image").items) > 0
    # labels from metadata.csv, not from the numbered folders: nothing to guard
    numbered = music.make_numbered_folders(tmp_path / "n", names=("000",))
    (numbered / "metadata.csv").write_text("path,genre\n000/000000.mp3,Rock\n")
    assert [i.metadata["genre"] for i in scan_generic(numbered, "audio", ("genre",)).items] == ["Rock"]


def test_csv_carries_provenance_and_subgenres(tmp_path):
    music.write_audio(tmp_path / "a.wav")
    with open(tmp_path / "tracks.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "genre", "subgenres", "source", "licence", "source_id", "unused"])
        w.writerow(["a.wav", "Pop", "Synth-Pop| Electropop", "mine", "CC BY 4.0", "42", "x"])
    (item,) = scan_generic(tmp_path / "tracks.csv", "audio").items
    assert item.path == "a.wav"
    assert item.metadata == {"genre": "Pop", "subgenres": ("Synth-Pop", "Electropop"), "source": "mine", "licence": "CC BY 4.0", "source_id": "42"}
