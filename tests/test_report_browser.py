"""The HTML report in a real headless browser (Debian's `chromium`; CI installs it): it loads
from disk with no console errors and the screenshot shows the figures. Skips only when no
Chromium is installed here."""

import importlib.util
from pathlib import Path

import pytest

from iclft.report import write_report

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_report_html.py"
spec = importlib.util.spec_from_file_location("check_report_html", SCRIPT)
checker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(checker)

pytestmark = pytest.mark.skipif(
    checker.find_chromium() is None, reason="chromium not installed (apt-get install -y chromium)"
)


def test_report_page_loads_cleanly_and_shows_its_figures(tmp_path):
    from test_report import make_run, study

    runs = tmp_path / "runs"
    study(runs)
    (runs / ".reversal-icl-x-s9-0123456789.partial").mkdir()  # a run still going: the status box shows
    make_run(runs, "ft+icl")
    report = write_report(runs, tmp_path / "out")
    result = checker.check_page(report.html, tmp_path / "shot.png")
    assert result["problems"] == [], result["problems"]
    assert len(result["images"]) == 2 and all(img["width"] > 300 for img in result["images"])
    assert (tmp_path / "shot.png").read_bytes().startswith(b"\x89PNG")
    assert checker.main([str(report.html)]) == 0


def test_checker_catches_errors_broken_images_and_blank_figures(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><link rel='icon' href='data:,'></head><body>"
        "<img alt='missing' src='nowhere.png'>"
        "<img alt='white' width='200' height='100' src=\"data:image/svg+xml;utf8,"
        "<svg xmlns='http://www.w3.org/2000/svg' width='200' height='100'><rect width='200' height='100' fill='white'/></svg>\">"
        "<script>console.error('boom'); undefinedFunction();</script></body></html>"
    )
    problems = checker.check_page(bad)["problems"]
    assert any("boom" in p for p in problems)
    assert any("undefinedFunction" in p for p in problems)
    assert any("did not load: missing" in p for p in problems)
    assert any("blank in the screenshot: white" in p for p in problems)
    assert checker.main([str(bad)]) == 1
