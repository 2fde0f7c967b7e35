"""Make ``asv publish`` output viewable offline.

asv's HTML loads jQuery, flot, bootstrap and three small plugins from CDNs, so the
published pages are blank without a network.  This script fetches the same libraries
from the npm registry (``npm pack``), copies the files into ``<html>/vendor/`` and
rewrites the ``src``/``href`` attributes of every page to point there::

    asv publish
    python tools/asv_offline.py            # default: .asv/html
    asv preview                            # or open .asv/html/index.html directly

Needs ``npm`` on PATH and the npm registry.  ``stupidtable`` 1.0.1 is not on npm; the
nearest release there (``stupid-table-plugin`` 1.1.3, same API) is used instead.
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", nargs="?", default=".asv/html",
                        help="asv's html_dir (default .asv/html)")
    args = parser.parse_args(argv)
    html_dir = Path(args.html_dir)
    if not (html_dir / "index.html").is_file():
        print(f"asv_offline: no index.html in {html_dir}: run 'asv publish' first", file=sys.stderr)
        return 2
    if shutil.which("npm") is None:
        print("asv_offline: npm is not on PATH", file=sys.stderr)
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


if __name__ == "__main__":
    sys.exit(main())
