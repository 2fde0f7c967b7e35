"""The report in a real browser: headless Chromium opens it from a file URL.

Every image must have loaded (naturalWidth > 0) and the console must stay silent (the
page has no script of its own).  A screenshot is kept as a test artifact in the
test's temporary folder, and copied to $OPTBENCH_ARTIFACTS when that is set.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from optbench.claims.execute import run_claims
from optbench.spec import RunSpec
from optbench.study import run_study
from reports import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian: apt-get install chromium; .ci/run does)",
)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=10000"]

PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  document.title = "IMAGES " + images.length + " BROKEN " + broken.length;
});
</script></body>"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser")
    specs = [RunSpec(problem="quadratic", problem_params={"dim": 2, "condition_number": 50.0},
                     optimizer=name, optimizer_params=params, seed=seed, steps=60)
             for name, params in (("sgd", {"lr": 0.02}), ("momentum", {"lr": 0.005}))
             for seed in (0, 1)]
    run_study(specs, out / "results")
    # a built-in claim (its cheapest), so the page has the Claims section and its figure
    run_claims(["adam-bias-correction"], out / "results", quick=True, seeds=(0, 1))
    return build_report(out / "results", out / "report.html")


def test_the_page_has_the_claims_section(report):
    html = report.read_text(encoding="utf-8")
    assert "adam-bias-correction" in html and 'id="claims"' in html.replace("'", '"')
    assert "Statistic: " in html and ".." not in html  # a statistic's own full stop is not doubled


def _chromium(tmp_path, *args):
    profile = tmp_path / "profile"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


def test_every_image_loads(report, tmp_path):
    probe = report.with_name("probe.html")  # beside the page: its figures' links resolve
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE, 1),
                     encoding="utf-8")
    proc = _chromium(tmp_path, "--dump-dom", probe.as_uri())
    match = re.search(r"<title>IMAGES (\d+) BROKEN (\d+)</title>", proc.stdout)
    assert match, f"the probe did not run: {proc.stderr[-2000:]}"
    images, broken = int(match.group(1)), int(match.group(2))
    assert images >= 3 and broken == 0


def test_console_is_silent_and_a_screenshot_is_kept(report, tmp_path):
    shot = tmp_path / "report.png"
    proc = _chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--window-size=1280,4000",
                     f"--screenshot={shot}", report.as_uri())
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    assert shot.is_file() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    artifacts = os.environ.get("OPTBENCH_ARTIFACTS")
    if artifacts:
        os.makedirs(artifacts, exist_ok=True)
        shutil.copy(shot, os.path.join(artifacts, "report.png"))
