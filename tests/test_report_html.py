"""The HTML report page: self-contained, provenance stamped, rendered by headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.chromium import chromium, dump_dom, screenshot  # noqa: F401  (chromium is a fixture)
from tests.report_store import golden_config, golden_runs


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    from reports.build import build_report

    runs = golden_runs(tmp_path_factory)
    return build_report(golden_config(runs), tmp_path_factory.mktemp("html_report"), ["html"],
                        paper_csv=runs.parent / "paper_numbers.csv")


def test_page_is_self_contained_with_provenance(report) -> None:
    page = report.index.read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|iframe)\b", page, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", page, re.I)
    pngs = sorted(p for p in report.files if p.suffix == ".png")
    assert page.count('src="data:image/png;base64,') == len(pngs) == 5
    prov = json.loads((report.out / "provenance.json").read_text())
    for value in (prov["parent_run_id"], prov["tracking_uri"], prov["query"].replace("'", "&#x27;"), "data0golden",
                  "0123abc", prov["generated_utc"], prov["report_git_commit"], *prov["child_run_ids"]):
        assert value in page, value
    assert len(prov["child_run_ids"]) == 6 and prov["sweep_name"] == "smoke-golden"
    assert not (report.out / "ablation.md").exists()  # --format html only: no other tables


def test_each_change_sits_on_its_own_line_under_its_value(report) -> None:
    """Half-width metric columns, so a table of nine metrics is in view without scrolling; the verdict
    colours the change (the demo's table had HKC, HKV and CSIM past the right edge)."""
    page = report.index.read_text(encoding="utf-8")
    assert re.search(r'<br><span class="delta (worse|better)">\(\+2\.00\*\)</span>', page)
    assert page.count('<span class="delta') >= 6 and not re.search(r'(?<!<br>)<span class="delta', page)


def test_page_renders_in_headless_chromium(report, chromium: str, tmp_path: Path) -> None:  # noqa: F811
    from PIL import Image

    png = tmp_path / "page.png"
    done = screenshot(chromium, report.index, png, size=(1300, 2400))
    assert done.returncode == 0 and png.is_file(), done.stderr[-2000:]
    with Image.open(png) as img:
        assert img.size == (1300, 2400)
        pixels = np.asarray(img.convert("L"), dtype=float)
    assert pixels.std() > 20  # text, tables and plots, not a blank page
    assert (pixels[:, :650] < 128).mean() > 0.01  # dark ink (text, bars) in the left half
    dom = dump_dom(chromium, report.index)
    for text in ("Ablation report: smoke", "Full model (baseline)", "w/o APDH", "w/o L_pose",
                 "1/2 ok; failed (1/2 seeds)", "0/2 ok; not run (2/2 seeds)", "<strong>12.20 ± 0.14</strong>",
                 "(+2.00*)", "Not tested (one seed on a side)", "0.032", "fid-helper-mapped-inception/offline",
                 "EchoMimicV2 (paper)", "Provenance", "data0golden"):
        assert text in dom, text
    assert dom.count("<img") == 5
