"""Make ``asv publish`` output viewable offline and from disk (``file://``).

Two things keep asv's pages from working when opened as files without a network:

* asv's HTML loads jQuery, flot, bootstrap and three small plugins from CDNs.  This
  script fetches the same libraries from the npm registry (``npm pack``), copies the
  files into ``<html>/vendor/`` and rewrites the ``src``/``href`` attributes of every
  page to point there.
* asv's scripts read ``info.json``, ``index.json``, ``regressions.json`` and the
  graphs' JSON with ``$.ajax`` (XMLHttpRequest), which browsers refuse on ``file://``
  pages: the page says "Error fetching content".  This script writes each
  ``<name>.json`` again as a script, ``<name>.json.js``, and adds ``offline_data.js``
  to the pages: on ``file://`` only, a jQuery transport that answers asv's JSON
  requests by loading those scripts with ``<script>`` tags, which browsers allow.
  Over http (``asv preview``, a web server) the pages work as asv wrote them.

::

    asv publish
    python tools/asv_offline.py            # default: .asv/html
    # then open .asv/html/index.html in a browser, or run asv preview

Run it after every ``asv publish`` (which rewrites the folder).  Vendoring needs
``npm`` on PATH and the npm registry; ``--no-vendor`` does only the ``file://`` step
(the pages then still load the libraries from the CDNs).  ``stupidtable`` 1.0.1 is not
on npm; the nearest release there (``stupid-table-plugin`` 1.1.3, same API) is used
instead.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

#: CDN address -> (npm package spec, file inside its tarball, local name under vendor/)
VENDORED = {
    "https://code.jquery.com/jquery-3.3.1.min.js":
        ("jquery@3.3.1", "package/dist/jquery.min.js", "jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js":
        ("flot@0.8.3", "package/jquery.flot.js", "jquery.flot.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js":
        ("flot@0.8.3", "package/jquery.flot.time.js", "jquery.flot.time.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js":
        ("flot@0.8.3", "package/jquery.flot.selection.js", "jquery.flot.selection.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js":
        ("flot@0.8.3", "package/jquery.flot.categories.js", "jquery.flot.categories.js"),
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js":
        ("flot-orderbars@1.0.0", "package/js/jquery.flot.orderBars.js", "jquery.flot.orderBars.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js":
        ("stupid-table-plugin@1.1.3", "package/stupidtable.min.js", "stupidtable.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js":
        ("blueimp-md5@2.19.0", "package/js/md5.min.js", "md5.min.js"),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js":
        ("bootstrap@3.1.1", "package/dist/js/bootstrap.min.js", "js/bootstrap.min.js"),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css":
        ("bootstrap@3.1.1", "package/dist/css/bootstrap.min.css", "css/bootstrap.min.css"),
}
#: Extra files a vendored file refers to (bootstrap's css loads its icon font).
EXTRA = {"bootstrap@3.1.1": ("package/dist/fonts/", "fonts/")}

_TAG = re.compile(r"<(?:script|link)\b[^>]*>")
_ATTR = re.compile(r'(?P<attr>src|href)="(?P<url>https?://[^"]+)"')
# Subresource-integrity hashes are those of the CDN's files; the vendored copies are
# the same releases from npm but not always byte-identical (flot ships unminified).
_INTEGRITY = re.compile(r'\s+(?:integrity|crossorigin)="[^"]*"')


#: The loader every page gets: on file:// pages, a jQuery transport (tried before the
#: XMLHttpRequest one) answers a request for ``<path>.json`` by running the script
#: ``<path>.json.js`` (see ``data_script``) and handing its data to asv; a request for
#: ``swallow.ico``, asv's "is the server still up?" probe, succeeds at once.
LOADER_NAME = "offline_data.js"
LOADER_JS = """\
/* Written by tools/asv_offline.py: asv's JSON on file:// pages, where browsers refuse
   XMLHttpRequest.  <path>.json is read from the script <path>.json.js beside it. */
(function ($) {
  if (window.location.protocol !== "file:") { return; }
  window.asvOfflineData = window.asvOfflineData || {};
  $.ajaxTransport("+*", function (options) {
    var url = options.url.split(/[?#]/)[0];
    if (url === "swallow.ico") {
      return {send: function (headers, done) { done(200, "success", {text: ""}); },
              abort: function () {}};
    }
    if (!/\\.json$/.test(url)) { return undefined; }
    var key = decodeURIComponent(url), script = null;
    function finish(done) {
      var data = window.asvOfflineData[key];
      if (data === undefined) { done(404, "not found"); } else { done(200, "success", {json: data}); }
    }
    return {
      send: function (headers, done) {
        script = document.createElement("script");
        script.onload = function () { finish(done); };
        script.onerror = function () { done(404, "not found"); };
        script.src = url + ".js";
        document.head.appendChild(script);
      },
      abort: function () { if (script) { script.onload = script.onerror = null; } }
    };
  });
}(jQuery));
"""
_ASV_JS_TAG = re.compile(r'<script\b[^>]*\bsrc="asv\.js"[^>]*>\s*</script>')
_LOADER_TAG = f'<script src="{LOADER_NAME}"></script>'


def data_script(key: str, text: str) -> str:
    """The script form of one JSON file: stores its data under ``key`` (its path
    relative to the html folder, as asv requests it) in ``window.asvOfflineData``."""
    data = json.dumps(json.loads(text), separators=(",", ":"))  # ascii: safe in a script
    return ("window.asvOfflineData = window.asvOfflineData || {};\n"
            f"window.asvOfflineData[{json.dumps(key)}] = {data};\n")


def embed_data(html_dir: Path) -> int:
    """Write ``<name>.json.js`` beside every ``<name>.json`` under ``html_dir``;
    returns how many."""
    paths = sorted(html_dir.rglob("*.json"))
    for path in paths:
        key = path.relative_to(html_dir).as_posix()
        script = data_script(key, path.read_text(encoding="utf-8"))
        path.with_name(path.name + ".js").write_text(script, encoding="utf-8")
    return len(paths)


def add_loader(text: str) -> str | None:
    """Add the loader's ``<script>`` tag just before asv.js's (so after jQuery, which
    it needs, and before asv.js's first request).  None if the page loads no asv.js;
    an unchanged page if it has the loader already."""
    if _LOADER_TAG in text:
        return text
    match = _ASV_JS_TAG.search(text)
    if match is None:
        return None
    return f"{text[:match.start()]}{_LOADER_TAG}\n    {text[match.start():]}"


def install_loader(html_dir: Path) -> list[str]:
    """Write the loader into ``html_dir`` and add it to every page that loads asv.js;
    returns the names of those pages."""
    (html_dir / LOADER_NAME).write_text(LOADER_JS, encoding="utf-8")
    pages = []
    for page in sorted(html_dir.glob("*.html")):
        text = add_loader(page.read_text(encoding="utf-8"))
        if text is not None:
            page.write_text(text, encoding="utf-8")
            pages.append(page.name)
    return pages


def rewrite(text: str, local: dict[str, str]) -> tuple[str, list[str]]:
    """Point the ``<script src>``/``<link href>`` tags found in ``local`` (url ->
    relative path) at the local copies, dropping their integrity attributes.

    Returns the new text and the external script or stylesheet addresses left
    (links to web pages in ``<a href>`` are fine offline and are not touched).
    """
    left = []

    def fix_tag(tag_match: re.Match) -> str:
        tag = tag_match.group(0)
        changed = False

        def swap(match: re.Match) -> str:
            nonlocal changed
            url = match.group("url")
            if url in local:
                changed = True
                return f'{match.group("attr")}="{local[url]}"'
            if match.group("attr") == "src" or url.endswith((".css", ".js")):
                left.append(url)
            return match.group(0)

        tag = _ATTR.sub(swap, tag)
        return _INTEGRITY.sub("", tag) if changed else tag

    return _TAG.sub(fix_tag, text), left


def fetch(html_dir: Path, npm: str = "npm") -> dict[str, str]:
    """npm-pack every package once and copy the files into ``html_dir/vendor``."""
    vendor = html_dir / "vendor"
    local = {}
    with tempfile.TemporaryDirectory() as tmp:
        tarballs: dict[str, Path] = {}
        for spec in sorted({spec for spec, _, _ in VENDORED.values()}):
            out = subprocess.run([npm, "pack", spec, "--pack-destination", tmp, "--silent"],
                                 capture_output=True, text=True, check=True)
            tarballs[spec] = Path(tmp) / out.stdout.strip().splitlines()[-1]
        for url, (spec, member, name) in VENDORED.items():
            with tarfile.open(tarballs[spec]) as tar:
                data = tar.extractfile(member)
                if data is None:
                    raise FileNotFoundError(f"{member} not in {spec}")
                target = vendor / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data.read())
            local[url] = f"vendor/{name}"
        for spec, (prefix, dest) in EXTRA.items():
            with tarfile.open(tarballs[spec]) as tar:
                for info in tar.getmembers():
                    if info.isfile() and info.name.startswith(prefix):
                        target = vendor / dest / info.name[len(prefix):]
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(tar.extractfile(info).read())
    return local


def make_file_readable(html_dir: Path) -> bool:
    """The ``file://`` step: data scripts and the loader.  False (with a message) if
    no page loads asv.js, so that nothing could read them."""
    count = embed_data(html_dir)
    pages = install_loader(html_dir)
    if not pages:
        print(f"asv_offline: no page in {html_dir} loads asv.js; the pages will say "
              "'Error fetching content' when opened from disk: use 'asv preview'",
              file=sys.stderr)
        return False
    print(f"asv_offline: {count} JSON files readable from file:// pages ({', '.join(pages)})")
    return True


def vendor(html_dir: Path) -> int:
    """The offline step: vendor the CDN files and point the pages at them."""
    if shutil.which("npm") is None:
        print("asv_offline: npm is not on PATH: the pages still load jQuery, flot and "
              "bootstrap from CDNs (run with --no-vendor to skip this step)", file=sys.stderr)
        return 2
    local = fetch(html_dir)
    remaining = set()
    for page in html_dir.glob("*.html"):
        text, left = rewrite(page.read_text(encoding="utf-8"), local)
        page.write_text(text, encoding="utf-8")
        remaining.update(left)
    for url in sorted(remaining):
        print(f"asv_offline: still external: {url}", file=sys.stderr)
    print(f"asv_offline: {len(local)} files vendored into {html_dir / 'vendor'}")
    return 1 if remaining else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", nargs="?", default=".asv/html",
                        help="asv's html_dir (default .asv/html)")
    parser.add_argument("--no-vendor", action="store_true",
                        help="only make the pages work from disk; keep the CDN addresses")
    args = parser.parse_args(argv)
    html_dir = Path(args.html_dir)
    if not (html_dir / "index.html").is_file():
        print(f"asv_offline: no index.html in {html_dir}: run 'asv publish' first", file=sys.stderr)
        return 2
    if not make_file_readable(html_dir):
        return 1
    return 0 if args.no_vendor else vendor(html_dir)


if __name__ == "__main__":
    sys.exit(main())
