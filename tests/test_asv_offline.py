"""The asv offline step: CDN addresses rewritten to vendored files (no network here),
and asv's JSON made readable by pages opened from disk (file://)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

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
    asv = pytest.importorskip("asv", reason="asv comes with the bench extra")

    template = Path(asv.__file__).parent / "www" / "index.html"
    text, left = asv_offline.rewrite(template.read_text(), {u: "x" for u in asv_offline.VENDORED})
    assert left == [], f"asv loads files the offline step does not vendor: {left}"


# file:// pages ---------------------------------------------------------------------

#: The JSON files of a tiny published site: one benchmark, one machine whose cpu name
#: has a space (asv's graph paths are percent-encoded in requests, not on disk).
BENCH = "bench_x.Suite.time_step"
SITE = {
    "info.json": {"asv-version": "0.6.6", "timestamp": 1},
    "index.json": {
        "project": "tinyproject", "project_url": "#", "show_commit_url": "#", "hash_length": 8,
        "revision_to_hash": {"0": "a" * 40}, "revision_to_date": {"0": 1700000000000},
        "params": {"cpu": ["AMD EPYC"], "branch": ["main"]},
        "graph_param_list": [{"cpu": "AMD EPYC", "branch": "main"}],
        "benchmarks": {BENCH: {"name": BENCH, "code": "", "params": [], "param_names": [],
                               "type": "time", "unit": "seconds", "version": "1"}},
        "machines": {}, "tags": {},
        "pages": [["", "Grid view", "Display as a grid"]]},
    "regressions.json": {"regressions": []},
    f"graphs/summary/{BENCH}.json": [[0, 1.5]],
    f"graphs/branch-main/cpu-AMD EPYC/{BENCH}.json": [[0, 1.5]],
}


def _write_site(html_dir: Path) -> None:
    for name, data in SITE.items():
        (html_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (html_dir / name).write_text(json.dumps(data), encoding="utf-8")


def _asv_template() -> Path:
    asv = pytest.importorskip("asv", reason="asv comes with the bench extra")
    return Path(asv.__file__).parent / "www"


def test_every_json_file_gets_a_script_with_the_same_data(tmp_path):
    _write_site(tmp_path)
    assert asv_offline.embed_data(tmp_path) == len(SITE)
    for name, data in SITE.items():
        script = (tmp_path / (name + ".js")).read_text(encoding="utf-8")
        first, second = script.splitlines()
        assert first == "window.asvOfflineData = window.asvOfflineData || {};"
        prefix = f"window.asvOfflineData[{json.dumps(name)}] = "
        assert second.startswith(prefix) and second.endswith(";")
        assert json.loads(second[len(prefix):-1]) == data


def test_the_loader_goes_after_jquery_and_before_asv_js_once():
    page = (_asv_template() / "index.html").read_text(encoding="utf-8")
    text = asv_offline.add_loader(page)
    tag = f'<script src="{asv_offline.LOADER_NAME}"></script>'
    assert text.count(tag) == 1
    assert text.index("jquery-3.3.1.min.js") < text.index(tag) < text.index('src="asv.js"')
    assert asv_offline.add_loader(text) == text
    assert asv_offline.add_loader("<html><body>no scripts</body></html>") is None


def test_main_without_vendoring_needs_no_npm(tmp_path, capsys):
    shutil.copytree(_asv_template(), tmp_path, dirs_exist_ok=True)
    _write_site(tmp_path)
    assert asv_offline.main(["--no-vendor", str(tmp_path)]) == 0
    assert (tmp_path / asv_offline.LOADER_NAME).is_file() and (tmp_path / "index.json.js").is_file()
    assert "https://code.jquery.com" in (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "readable from file:// pages (index.html)" in capsys.readouterr().out


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: jQuery from Debian's libjs-jquery: asv's pages need it and npm is not reachable here.
JQUERY = Path("/usr/share/javascript/jquery/jquery.min.js")
#: Stand-ins for the other libraries: flot's $.plot marks its div with the number of
#: points it was given, so the page shows which graphs loaded.
STUBS = {
    "jquery.flot.js": "$.plot = function (div, series) {"
                      " $(div).attr('data-points', series[0].data.length); };",
    "js/bootstrap.min.js": "$.fn.modal = $.fn.tooltip = $.fn.popover = function () { return this; };",
    "stupidtable.min.js": "$.fn.stupidtable = function () { return this; };",
}
#: Once the page has loaded, request a graph by its percent-encoded address, as asv's
#: graph page does, and write what came back into the page.
PROBE = """<script>
window.addEventListener("load", function () {
  $.ajax({url: "graphs/branch-main/cpu-AMD%20EPYC/""" + BENCH + """.json?timestamp=1", dataType: "json"})
    .done(function (data) { $("body").append($("<pre/>", {id: "probe"}).text(JSON.stringify(data))); })
    .fail(function () { $("body").append($("<pre/>", {id: "probe"}).text("failed")); });
});
</script></body>"""


def _published_site(html_dir: Path) -> Path:
    """asv's template with the tiny site's JSON and stand-in libraries under vendor/."""
    shutil.copytree(_asv_template(), html_dir)
    _write_site(html_dir)
    local = {}
    for url, (_, _, name) in asv_offline.VENDORED.items():
        target = html_dir / "vendor" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(STUBS.get(name, "/* stand-in */"), encoding="utf-8")
        local[url] = f"vendor/{name}"
    shutil.copy(JQUERY, html_dir / "vendor" / "jquery.min.js")
    index = html_dir / "index.html"
    text, _ = asv_offline.rewrite(index.read_text(encoding="utf-8"), local)
    index.write_text(text.replace("</body>", PROBE, 1), encoding="utf-8")
    return index


def _dom(page: Path, profile: Path) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--virtual-time-budget=5000"]
    return subprocess.run([CHROMIUM, *flags, f"--user-data-dir={profile}", "--dump-dom",
                           page.as_uri()], capture_output=True, text=True, timeout=120).stdout


@pytest.mark.skipif(CHROMIUM is None or not JQUERY.is_file(),
                    reason="needs headless Chromium and Debian's libjs-jquery")
def test_published_pages_load_their_data_from_disk(tmp_path):
    before = _dom(_published_site(tmp_path / "before"), tmp_path / "profile")
    assert "Error fetching content" in before  # what file:// pages say without the step
    page = _published_site(tmp_path / "after")
    assert asv_offline.main(["--no-vendor", str(page.parent)]) == 0
    after = _dom(page, tmp_path / "profile")
    assert "Error fetching content" not in after
    assert '<pre id="probe">[[0,1.5]]</pre>' in after  # a graph, by its encoded address
    assert 'data-points="1"' in after  # the grid drew the summary graph
    assert ">tinyproject<" in after  # index.json read
