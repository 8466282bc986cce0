"""The dataset browser: a static site (plain HTML, CSS and JavaScript, no
framework, nothing to build) written to a folder, that works from
``file://`` and from any static server, and reads nothing but what the
recipe's :class:`Gallery` names (the dataset folder's tables and media).

::

    SITE/index.html              one page per dataset (several: SITE/<dataset>/index.html and a list)
    SITE/assets/app.js, app.css  the viewer
    SITE/data/index.js           every row's key, filter codes, sort values and thumbnail (columnar)
    SITE/data/chunk-NNNNN.js     the rest of each row, CHUNK_ROWS rows a file, loaded when a page shows them
    SITE/thumbs/…/*.jpg          images shrunk to THUMB_SIZE px (made once; a changed image gets a new one)
    SITE/full/…/*.png            full-size composites of the images with transparent pixels (made once)

Data files are JavaScript (``SYN.load({...})``), not JSON, because browsers
refuse ``fetch`` on ``file://`` but run ``<script src>``. Audio and the
full-size images are linked by **relative** path from the page, so the site
works in place from ``file://`` and from a server whose root holds both the
site and the media; :func:`serve` is such a server, limited to those folders.
50,000 rows make a ~2.5 MB index; filtering and sorting run in the browser
(``benchmarks/browser.py`` measures both).
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import shutil
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from synesthesia.datasets import io as dio
from synesthesia.datasets.keys import stable_hash
from synesthesia.datasets.media import DEFAULT_ALPHA_BACKGROUND, has_transparency, may_have_transparency, open_rgb, to_rgb
from synesthesia.stages.publish.spec import Gallery

ASSETS = Path(__file__).with_name("site")
THUMB_SIZE = 320
CHUNK_ROWS = 100
THUMB_WORKERS = 4


@dataclass
class Site:
    page: Path  # the page to open
    folder: Path
    media_dirs: list[Path]  # folders the pages link into (what serve() may show besides the site)


def url(target: str | Path, start: Path) -> str:
    """A relative URL from the folder ``start`` to ``target``."""
    return Links(start)(target)


class Links:
    """Relative URLs from one folder, resolving each distinct parent folder
    once (50,000 rows share a few hundred folders; resolving every path is
    ~100x slower)."""

    def __init__(self, start: Path):
        self.start = os.path.realpath(start)
        self.folders: dict[str, str] = {}

    def __call__(self, target: str | Path) -> str:
        folder, name = os.path.split(os.fspath(target))
        if folder not in self.folders:
            self.folders[folder] = os.path.relpath(os.path.realpath(folder), self.start)
        return urllib.parse.quote(Path(self.folders[folder], name).as_posix())


def thumbnail(source: str, folder: Path, background: str = DEFAULT_ALPHA_BACKGROUND) -> str:
    """Make (once) the thumbnail of ``source`` under ``folder``; its path relative to ``folder``.
    Transparent pixels are composited onto ``background`` (the build's), as
    the model's reader and the raters see the painting."""
    stat = os.stat(source)
    name = stable_hash(os.path.abspath(source), stat.st_size, stat.st_mtime_ns, THUMB_SIZE, background, length=16)
    rel = f"thumbs/{name[:2]}/{name}.jpg"
    target = folder / rel
    if not target.exists():
        from PIL import Image

        img = open_rgb(source, THUMB_SIZE, background=background)
        img.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
        with dio.atomic_output(target) as tmp:
            img.save(tmp, "JPEG", quality=82, optimize=True)
    return rel


def full_size(source: str, folder: Path, background: str = DEFAULT_ALPHA_BACKGROUND) -> str | None:
    """What a click on a card opens for ``source``: ``None`` for the file
    itself, or, for an image with transparent pixels, the path (relative to
    ``folder``; made once) of its full-size composite onto ``background``, the
    picture the model and the raters see (a browser would draw the transparent
    file over the page's own colour). Only the header is read for the others."""
    from PIL import Image

    with Image.open(source) as im:
        if not may_have_transparency(im):
            return None
        stat = os.stat(source)
        name = stable_hash(os.path.abspath(source), stat.st_size, stat.st_mtime_ns, "full", background, length=16)
        rel = f"full/{name[:2]}/{name}.png"
        if (folder / rel).exists():
            return rel
        im.load()
        if not has_transparency(im):  # an alpha channel that is opaque everywhere
            return None
        with dio.atomic_output(folder / rel) as tmp:
            to_rgb(im, background).save(tmp, "PNG", compress_level=1)  # 4x faster than level 6, ~13 % larger
    return rel


def _value(v):
    if isinstance(v, float) and v != v:  # NaN → null
        return None
    return v


def gallery_data(g: Gallery, page_dir: Path, thumbs_dir: Path, log=print) -> tuple[dict, list[list[dict]]]:
    """The index (columnar) and the chunks of ``g`` for a page in ``page_dir``."""
    rows = g.rows.sort_by("key").to_pylist()
    images = sorted({r["image_file"] for r in rows if r.get("image_file")})
    with ThreadPoolExecutor(THUMB_WORKERS) as pool:
        thumbs = dict(zip(images, pool.map(lambda p: thumbnail(p, thumbs_dir, g.alpha_background), images)))
        fulls = dict(zip(images, pool.map(lambda p: full_size(p, thumbs_dir, g.alpha_background), images)))
    log(f"{g.dataset}: {len(rows)} {g.noun}, {len(images)} thumbnails")
    link = Links(page_dir)
    thumb_urls = sorted({link(thumbs_dir / t) for t in thumbs.values()})
    thumb_code = {u: i for i, u in enumerate(thumb_urls)}
    facets = {}
    for name in g.facets:
        values = [("(none)" if r.get(name) is None else str(r[name])) for r in rows]
        names = sorted(set(values), key=lambda v: (SPLIT_RANK.get(v, 9), v)) if name == "split" else sorted(set(values))
        code = {v: i for i, v in enumerate(names)}
        facets[name] = {"values": names, "codes": [code[v] for v in values]}
    index = {
        "dataset": g.dataset, "title": g.title, "noun": g.noun, "description": g.description, "notes": g.notes,
        "total": len(rows), "chunk_rows": CHUNK_ROWS, "keys": [r["key"] for r in rows],
        "thumb_urls": thumb_urls,  # each distinct thumbnail once; "thumbs" holds a row's position in it
        "thumbs": [thumb_code[link(thumbs_dir / thumbs[r["image_file"]])] if r.get("image_file") else None for r in rows],
        "facets": facets, "sorts": {name: [_value(r.get(name)) for r in rows] for name in g.sorts},
        "fields": [{"column": f.column, "label": f.label, "kind": f.kind, "digits": f.digits} for f in g.fields],
    }
    detail = [
        {"heading": r.get(g.heading) or r["key"],
         "image": (link(thumbs_dir / fulls[r["image_file"]]) if fulls[r["image_file"]] else link(r["image_file"])) if r.get("image_file") else None,
         "audio": link(r["audio_file"]) if r.get("audio_file") else None,
         "values": {f.column: _value(r.get(f.column)) for f in g.fields}}
        for r in rows
    ]
    return index, [detail[k : k + CHUNK_ROWS] for k in range(0, len(detail), CHUNK_ROWS)]


SPLIT_RANK = {"train": 0, "val": 1, "validation": 1, "test": 2}


def _script(call: str, *args) -> str:
    return f"SYN.{call}(" + ", ".join(json.dumps(a, ensure_ascii=False, separators=(",", ":")) for a in args) + ");\n"


def _page(title: str, assets: str, body: str, scripts: list[str]) -> str:
    tags = "\n".join(f'<script src="{html.escape(s)}"></script>' for s in scripts)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><link rel="stylesheet" href="{assets}/app.css"></head>
<body>{body}
{tags}
</body></html>
"""


def write_gallery(g: Gallery, page_dir: Path, site_dir: Path, log=print) -> int:
    page_dir.mkdir(parents=True, exist_ok=True)
    index, chunks = gallery_data(g, page_dir, site_dir, log)
    data = page_dir / "data"
    if data.is_dir():
        shutil.rmtree(data)  # chunks of an earlier, larger build
    data.mkdir(parents=True)
    for k, chunk in enumerate(chunks):
        dio.write_text(_script("chunk", k, chunk), data / f"chunk-{k:05d}.js")
    dio.write_text(_script("load", index), data / "index.js")
    assets = url(site_dir / "assets", page_dir)
    body = '<div id="app" data-chunks="data/chunk-"><noscript>This browser has JavaScript turned off; the dataset browser needs it.</noscript></div>'
    dio.write_text(_page(g.title, assets, body, [f"{assets}/app.js", "data/index.js"]), page_dir / "index.html")
    return len(index["keys"])


def build_site(galleries: list[Gallery], out: str | Path, log=print) -> Site:
    """Write the site for ``galleries`` into ``out``."""
    out = Path(out)
    (out / "assets").mkdir(parents=True, exist_ok=True)
    for name in ("app.js", "app.css"):
        shutil.copyfile(ASSETS / name, out / "assets" / name)
    media: set[Path] = set()
    for g in galleries:
        for column in ("image_file", "audio_file"):
            folders = {os.path.dirname(f) for f in g.rows.column(column).to_pylist() if f}
            if folders:
                media.add(Path(os.path.commonpath([os.path.realpath(f) for f in folders])))
    if len(galleries) == 1:
        write_gallery(galleries[0], out, out, log)
        return Site(out / "index.html", out, sorted(media))
    items = []
    for g in galleries:
        n = write_gallery(g, out / g.dataset, out, log)
        items.append(f'<li><a href="{g.dataset}/index.html"><strong>{html.escape(g.title)}</strong></a> — {n:,} {html.escape(g.noun)}'
                     f'<br><span>{html.escape(g.description)}</span></li>')
    body = '<header class="top"><h1>Datasets</h1></header><main class="list"><ul>' + "".join(items) + "</ul></main>"
    dio.write_text(_page("synesthesia datasets", "assets", body, []), out / "index.html")
    return Site(out / "index.html", out, sorted(media))


# --- serving -----------------------------------------------------------------------------------

class _Handler(http.server.SimpleHTTPRequestHandler):
    allowed: tuple[Path, ...] = ()

    def send_head(self):
        full = Path(self.translate_path(self.path)).resolve()
        if not any(full == a or a in full.parents for a in self.allowed):
            self.send_error(404, "not part of the site")
            return None
        return super().send_head()

    def log_message(self, format, *args):  # noqa: A002 - the signature of the base class
        pass


def serve(site: Site, port: int = 8000, host: str = "127.0.0.1") -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``site`` (and only the site and its media folders) on ``host:port``
    in a background thread; returns the server and the page's URL."""
    allowed = tuple(p.resolve() for p in [site.folder, *site.media_dirs])
    root = Path(os.path.commonpath([str(p) for p in allowed]))
    handler = functools.partial(type("Handler", (_Handler,), {"allowed": allowed}), directory=str(root))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = urllib.parse.quote(site.page.resolve().relative_to(root).as_posix())
    return server, f"http://{host}:{server.server_address[1]}/{page}"
