"""The report's LaTeX compiles: every .tex table `harness report` writes, inside a minimal article with the
packages it names (reports/formats.py, LATEX_PACKAGES), through pdflatex -halt-on-error (tests/tex.py
installs Debian's texlive-latex-recommended when missing, like tests/chromium.py installs Chromium)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.report_one_seed import one_seed_config, one_seed_runs
from tests.report_store import golden_config, golden_runs, study_config, study_runs
from tests.tex import compile_tex, pdflatex  # noqa: F401  (pdflatex is a fixture)


@pytest.fixture(scope="module")
def tex_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every LaTeX file of the test stores' reports: the golden sweep, the one-seed sweep, both studies."""
    from reports.build import build_report, build_study_report

    out = tmp_path_factory.mktemp("latex")
    runs = golden_runs(tmp_path_factory)
    files = {"golden": build_report(golden_config(runs), out / "golden", ["tex"],
                                    paper_csv=runs.parent / "paper_numbers.csv").out / "ablation.tex"}
    one = one_seed_runs(tmp_path_factory)
    files["one_seed"] = build_report(one_seed_config(one), out / "one", ["tex"]).out / "ablation.tex"
    studies = study_runs(tmp_path_factory)
    for experiment in ("tune_schedule", "tune_single"):
        report = build_study_report(study_config(studies, experiment), out / experiment, ["tex"])
        files[experiment] = report.out / "study.tex"
    return files


@pytest.mark.parametrize("name", ["golden", "one_seed", "tune_schedule", "tune_single"])
def test_report_tables_compile_with_pdflatex(tex_files: dict[str, Path], name: str, pdflatex: str,  # noqa: F811
                                             tmp_path: Path) -> None:
    from reports.formats import LATEX_PACKAGES

    text = tex_files[name].read_text(encoding="utf-8")
    assert f"\\usepackage{{{','.join(LATEX_PACKAGES)}}}" in text.splitlines()[0]  # the file names what it needs
    done = compile_tex(pdflatex, f"\\input{{{tex_files[name]}}}", tmp_path, LATEX_PACKAGES)
    log = (tmp_path / "doc.log").read_text(encoding="latin-1") if (tmp_path / "doc.log").exists() else ""
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull \\hbox.*", log)  # wide tables shrink to the line
    assert not re.search(r"Missing character|Unicode character .* not set up", log)


def test_a_wide_table_with_unicode_notes_compiles(pdflatex: str, tmp_path: Path) -> None:  # noqa: F811
    """Nine metric columns (wider than the page: shrunk to the line) and notes with characters pdflatex lacks."""
    from reports.formats import LATEX_PACKAGES, latex
    from reports.tables import Cell, Table, note

    metrics = ["FID", "FVD", "SSIM", "PSNR", "Sync-C", "Sync-D", "HKC", "HKV", "CSIM"]
    header = [Cell("Method"), Cell("Seeds")] + [Cell(f"{m} ↓") for m in metrics]
    row = [Cell("w/o $\\mathcal{L}_{pose}$ (a long label)", "w/o $\\mathcal{L}_{pose}$ (a long label)"),
           Cell("3/3")] + [Cell("123.45 ± 6.78", bold=True, suffix=" (+1.23*)") for _ in metrics]
    notes = [note("résumé ≥ 0.5 × 2 → 中文 “quoted” … `cmd` ~/x/y.pt https://x.org/a")]
    table = Table("wide", "Wide table", header, [row, row], "ll" + "r" * len(metrics), {0: "Section_1 & 50%"}, notes)
    done = compile_tex(pdflatex, latex([table], "exp_1"), tmp_path, LATEX_PACKAGES)
    assert done.returncode == 0, done.stdout[-3000:]
    log = (tmp_path / "doc.log").read_text(encoding="latin-1")
    assert "Overfull \\hbox" not in log and "Unicode character" not in log
