"""The report's figures are files beside the page: a PNG shown at the figure's natural
size and opened full size by a click, an SVG linked under the caption; the page stays
small, stale figures go, a full disk is not a broken figure."""

from __future__ import annotations

import errno
import os
import re
import struct
import urllib.parse
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

import reports
from optbench import store
from reports import figure_files
from reports.figure_files import CSS_PX_PER_INCH, PNG_DPI, FigureFolder, file_stem
from tests.test_reports_data import copy_runs, report_results  # noqa: F401  (the fixture)


class Figures(HTMLParser):
    """Each <figure>: its <a href>, <img> attributes and the links of its caption."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: list[dict] = []
        self._in = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure":
            self._in = True
            self.figures.append({"links": []})
        elif self._in and tag == "img":
            self.figures[-1]["img"] = attrs
        elif self._in and tag == "a":
            self.figures[-1]["links"].append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "figure":
            self._in = False


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def saddle(report_results, tmp_path_factory):  # noqa: F811
    """The saddle runs of the shared study, and their report."""
    where = copy_runs(report_results, tmp_path_factory.mktemp("saddle"),
                      lambda m: m["spec"]["problem"] == "saddle")
    page = reports.build_report(where)
    return where, page, page.read_text(encoding="utf-8")


def test_each_figure_is_a_png_and_an_svg_beside_the_page(saddle):
    where, page, raw = saddle
    figures = Figures(raw).figures
    assert len(figures) >= 2  # convergence, trajectories (and profiles)
    folder = where / "report_figures"
    written = sorted(p.name for p in folder.iterdir())
    assert len(written) == 2 * len(figures)
    for figure in figures:
        img = figure["img"]
        png_link = img["src"]
        assert re.fullmatch(r"report_figures/\d\d-[a-z0-9-]+\.png", png_link), png_link
        svg_link = png_link[:-4] + ".svg"
        # a click opens the PNG full size; the caption links both files
        assert figure["links"] == [png_link, png_link, svg_link]
        png = (where / urllib.parse.unquote(png_link)).read_bytes()
        width, height = png_size(png)
        # shown at the figure's natural size: inches * 96 CSS px, drawn at PNG_DPI
        assert int(img["width"]) == pytest.approx(width * CSS_PX_PER_INCH / PNG_DPI, abs=1)
        assert int(img["height"]) == pytest.approx(height * CSS_PX_PER_INCH / PNG_DPI, abs=1)
        root = ET.fromstring((where / svg_link).read_bytes())
        assert root.tag.endswith("svg")
    assert "data:image" not in raw


def test_svg_keeps_text_as_text_and_is_the_same_each_build(saddle, tmp_path):
    where, _, raw = saddle
    svg = sorted((where / "report_figures").glob("*trajectories*.svg"))[0]
    assert "<text" in svg.read_text() and "saddle" in svg.read_text()
    again = reports.build_report(where, tmp_path / "again.html")
    assert (tmp_path / "again_figures" / svg.name).read_bytes() == svg.read_bytes()
    assert again.name == "again.html"


def test_page_is_small_and_the_one_file_page_still_embeds(saddle):
    where, page, raw = saddle
    data = store.load(where)
    one_file = reports.render_report(data, title="t")
    assert "data:image/png;base64," in one_file and "_figures/" not in one_file
    assert len(raw) * 5 < len(one_file)  # the figures' bytes left the page


def test_a_rebuild_removes_only_its_own_stale_figures(saddle, tmp_path):
    where, _, _ = saddle
    target = copy_runs(where, tmp_path / "r", lambda m: True)
    folder = target / "report_figures"
    folder.mkdir()
    (folder / "99-old-figure.png").write_bytes(b"old")
    (folder / "notes.txt").write_text("mine")
    reports.build_report(target)
    names = {p.name for p in folder.iterdir()}
    assert "99-old-figure.png" not in names and "notes.txt" in names


def test_figure_files_get_the_permissions_of_any_new_file(saddle):
    where, _, _ = saddle
    reference = where / "plain.txt"
    reference.write_text("x")
    try:
        for path in (where / "report_figures").iterdir():
            assert path.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777, path
    finally:
        reference.unlink()


def test_a_full_disk_stops_the_report_instead_of_dropping_a_figure(saddle, tmp_path, monkeypatch):
    where, _, _ = saddle

    def full(path, write):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(figure_files.store, "replace_atomically", full)
    with pytest.raises(OSError) as caught:
        reports.build_report(where, tmp_path / "r.html")
    assert caught.value.errno == errno.ENOSPC
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(("index", "alt", "stem"), [
    (1, "convergence on quadratic", "01-convergence-on-quadratic"),
    (12, "trajectories on quadratic[dim=2,condition_number=1800]",
     "12-trajectories-on-quadratic-dim-2-condition-number-1800"),
    (3, "<script>../../x", "03-script-x"),
    (4, "\N{GREEK SMALL LETTER TAU}", "04-figure"),
    (5, "a" * 100, "05-" + "a" * figure_files.MAX_NAME),
])
def test_file_stem(index, alt, stem):
    assert file_stem(index, alt) == stem


def test_figure_folder_is_named_after_the_page(tmp_path):
    folder = FigureFolder(tmp_path / "my page.html")
    assert folder.folder == tmp_path / "my page_figures"
    assert folder.remove_stale() == []  # no folder yet: nothing to do
