"""``synesthesia export hf | webdataset | check | push`` and ``synesthesia view``:
publish a built dataset folder and look at it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from synesthesia.cli.common import command, fail, writes

PUBLISH_INSTALL = "pip install 'synesthesia[publish]'"

export_app = typer.Typer(
    help="Publish a built dataset folder: a self-contained Hugging Face export (and push) or WebDataset shards.",
    no_args_is_help=True,
)
view_app = typer.Typer()

DirArgument = typer.Argument(..., help="A dataset folder built by `synesthesia build …` (it has a dataset.json).", show_default=False)
ShardMbOption = typer.Option(None, "--shard-mb", help="Target size of one shard in MB (default 500).")


def _need(*modules: str) -> None:
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        fail(f"this command needs {', '.join(missing)}, which is not installed: {PUBLISH_INSTALL}")


@export_app.command("hf")
@command()
@writes("folder", "export hf")
def export_hf_cmd(
    folder: Path = DirArgument,
    out: Path = typer.Option(..., "--out", help="The export folder (the Hub's layout: README.md card, <config>/<split>-*.parquet)."),
    push: Optional[str] = typer.Option(None, "--push", metavar="REPO_ID", help="Upload to this Hub dataset repo (user/name) after checking the export."),
    private: bool = typer.Option(False, "--private", help="Create the Hub repo private (with --push)."),
    embed_media: bool = typer.Option(True, "--embed-media/--no-embed-media",
                                     help="Embed the image and audio bytes (default); without, the columns hold paths on this machine."),
    license: Optional[str] = typer.Option(None, "--license", help="One Hugging Face licence id for the whole dataset (default: per source, `other`)."),
    shard_mb: Optional[float] = ShardMbOption,
):
    """Export a dataset folder in the Hugging Face layout: Parquet shards per config and split (train/validation/test)
    with Image()/Audio()/Array2D features and a card with complete metadata; with --push, check and upload it.
    The Hub token comes from HF_TOKEN or `hf auth login` and is never printed.

    Example: synesthesia export hf demo-output/mpd --out mpd-hf --push your-name/mpd-demo --private
    """
    _need("datasets", "huggingface_hub")
    from synesthesia.flows import publish as P
    from synesthesia.stages.publish.hf import DEFAULT_SHARD_MB

    if push and not embed_media:
        fail("--push needs the media embedded: --no-embed-media leaves paths of this machine in the export")
    started = time.perf_counter()
    result = P.export_hf(folder, out, embed_media, shard_mb or DEFAULT_SHARD_MB, license, log=typer.echo, repo_id=push)
    typer.echo(f"wrote {out} ({result['bytes'] / 1e6:,.1f} MB in {len(result['files'])} files, {time.perf_counter() - started:.0f} s)")
    if push:
        _check_and_push(out, push, private)
    else:
        typer.echo(f"next: synesthesia export check {out}   then: synesthesia export push {out} --repo USER/NAME")


@export_app.command("check")
@command()
def export_check_cmd(out: Path = typer.Argument(..., help="A folder written by `synesthesia export hf`.", show_default=False)):
    """Check an export as the Hub will read it: the card parses with every required field, every config and split has
    the rows its dataset_info announces, and the first row of each split decodes.

    Example: synesthesia export check mpd-hf
    """
    _need("datasets", "huggingface_hub")
    from synesthesia.flows import publish as P

    for config, splits in P.check(out).items():
        typer.echo(f"{config}: " + ", ".join(f"{s} {n:,}" for s, n in splits.items()))
    typer.echo(f"{out}: ok")


@export_app.command("push")
@command()
def export_push_cmd(
    out: Path = typer.Argument(..., help="A folder written by `synesthesia export hf`.", show_default=False),
    repo: str = typer.Option(..., "--repo", metavar="REPO_ID", help="The Hub dataset repo (user/name); created if missing."),
    private: bool = typer.Option(False, "--private", help="Create the repo private."),
):
    """Check an export, then upload it to a Hub dataset repo. The token comes from HF_TOKEN or `hf auth login`.

    Example: synesthesia export push mpd-hf --repo your-name/mpd-demo --private
    """
    _need("datasets", "huggingface_hub")
    _check_and_push(out, repo, private)


def _check_and_push(out: Path, repo: str, private: bool) -> None:
    from synesthesia.flows import publish as P

    P.check(out)
    typer.echo(f"{out}: checked; uploading to {repo} ({'private' if private else 'public'}) …")
    typer.echo(f"uploaded: {P.push(out, repo, private)}")


@export_app.command("webdataset")
@command()
@writes("folder", "export webdataset")
def export_webdataset_cmd(
    folder: Path = DirArgument,
    out: Path = typer.Option(..., "--out", help="The shard folder (index.json, <config>/<split>-NNNNNN.tar)."),
    shard_mb: Optional[float] = ShardMbOption,
    max_samples: Optional[int] = typer.Option(None, "--max-samples", help="At most this many samples per shard (default: by size only)."),
):
    """Export a dataset folder as WebDataset tar shards ({key}.json, {key}.jpg|png, {key}.flac|wav, {key}.mel.npy) with an
    index.json; `synesthesia train …` accepts the shard folder in place of the dataset folder.

    Example: synesthesia export webdataset demo-output/mpd --out mpd-shards --shard-mb 200
    """
    from synesthesia.flows import publish as P
    from synesthesia.stages.publish.webdataset import DEFAULT_SHARD_MB

    index = P.export_webdataset(folder, out, shard_mb or DEFAULT_SHARD_MB, max_samples, log=typer.echo)
    n = sum(len(s["shards"]) for c in index["configs"].values() for s in c["splits"].values())
    typer.echo(f"wrote {out}: {n} shards, index {out / 'index.json'}")


@view_app.command("view")
@command()
def view_cmd(
    folder: Path = typer.Argument(..., help="A dataset folder, or a folder of them (e.g. the demo's output).", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", help="Where the site goes (default: FOLDER/site)."),
    port: Optional[int] = typer.Option(None, "--port", help="Also serve the site on 127.0.0.1:PORT until Ctrl-C (0: any free port)."),
):
    """Write a browser for a dataset: a static site (plain HTML and JavaScript) with a grid of pairs — painting, audio
    player, scores, captions, categories — filters, sorting and paging. Open its index.html from disk, or serve it with --port.

    Example: synesthesia view demo-output --port 8000
    """
    from synesthesia.flows import publish as P
    from synesthesia.stages.publish.site import serve

    site = P.build_site(folder, out or folder / "site", log=typer.echo)
    typer.echo(f"open {site.page.resolve().as_uri()}")
    if port is None:
        return
    server, url = serve(site, port)
    typer.echo(f"serving {url} (only the site and its media folders; Ctrl-C stops)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.shutdown()
