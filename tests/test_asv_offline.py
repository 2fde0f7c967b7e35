"""The asv offline step rewrites CDN addresses to vendored files (no network here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("asv_offline", ROOT / "tools" / "asv_offline.py")
asv_offline = importlib.util.module_from_spec(spec)
spec.loader.exec_module(asv_offline)


def test_rewrite_points_every_cdn_file_at_vendor():
    page = "\n".join(
        f'<script src="{url}" integrity="sha256-abc" crossorigin="anonymous"></script>'
        if url.endswith(".js")
        else f'<link href="{url}" rel="stylesheet" integrity="sha384-x">'
        for url in asv_offline.VENDORED
    )
    page += '\n<a href="https://github.com/airspeed-velocity/asv/">asv</a><script src="asv.js"></script>'
    local = {url: f"vendor/{name}" for url, (_, _, name) in asv_offline.VENDORED.items()}
    text, left = asv_offline.rewrite(page, local)
    assert left == []
    assert "cdn" not in text and "code.jquery.com" not in text
    assert 'src="vendor/jquery.min.js"' in text and 'href="vendor/css/bootstrap.min.css"' in text
    assert 'href="https://github.com/airspeed-velocity/asv/"' in text  # a link, fine offline
    assert "integrity" not in text and "crossorigin" not in text  # hashes of the CDN files


def test_unknown_external_scripts_are_reported():
    text, left = asv_offline.rewrite('<script src="https://example.org/x.js"></script>', {})
    assert left == ["https://example.org/x.js"] and "example.org" in text


def test_every_cdn_address_of_the_installed_asv_is_covered():
    import pytest

    asv = pytest.importorskip("asv", reason="asv comes with the bench extra")

    template = Path(asv.__file__).parent / "www" / "index.html"
    text, left = asv_offline.rewrite(template.read_text(), {u: "x" for u in asv_offline.VENDORED})
    assert left == [], f"asv loads files the offline step does not vendor: {left}"
