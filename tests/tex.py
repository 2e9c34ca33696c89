"""Test helper: pdflatex for compiling the report's LaTeX tables (Debian packages below).

The tables need the LaTeX packages in reports/formats.py, LATEX_PACKAGES: booktabs (rules) and
graphicx (shrinking a wide table to the line). Debian's texlive-latex-base has pdflatex and
graphicx but not booktabs, which is in texlive-latex-recommended (it depends on latex-base), so
that one package is installed.

``pdflatex`` (session fixture): the engine's path. When it (or booktabs) is missing and the
process is root with apt-get available, texlive-latex-recommended is installed once per session
(``apt-get install -y --no-install-recommends``, with an ``apt-get update`` retry); otherwise the
test skips and says why.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.debian import apt_install

PACKAGES = ("texlive-latex-recommended",)  # pulls texlive-latex-base (pdflatex, graphicx); has booktabs
STYLES = ("booktabs.sty", "graphicx.sty")


def missing_styles() -> list[str]:
    """The STYLES kpsewhich cannot find (all of them without a TeX installation)."""
    if not shutil.which("kpsewhich"):
        return list(STYLES)
    return [s for s in STYLES if subprocess.run(["kpsewhich", s], capture_output=True, text=True).returncode != 0]


def install_tex() -> str:
    """Install PACKAGES (root + apt-get only); '' on success, else the reason it was not installed."""
    return apt_install(PACKAGES, f"pdflatex or {', '.join(STYLES)} missing")


@pytest.fixture(scope="session")
def pdflatex() -> str:
    """Path of pdflatex with the tables' LaTeX packages, installed once per session when missing (root), else skip."""
    path = shutil.which("pdflatex")
    if path is None or missing_styles():
        reason = install_tex()
        path = shutil.which("pdflatex")
        if path is None or missing_styles():
            pytest.skip(reason or f"pdflatex installed but {', '.join(missing_styles())} not found")
    return path


def compile_tex(engine: str, body: str, folder: Path, packages: tuple[str, ...]) -> subprocess.CompletedProcess:
    """Compile body inside a minimal article with packages; -halt-on-error: the first error fails the run."""
    folder.mkdir(parents=True, exist_ok=True)
    uses = "".join(f"\\usepackage{{{p}}}\n" for p in packages)
    (folder / "doc.tex").write_text(f"\\documentclass{{article}}\n{uses}\\begin{{document}}\n{body}\n"
                                    "\\end{document}\n", encoding="utf-8")
    return subprocess.run([engine, "-halt-on-error", "-interaction=nonstopmode", "-no-shell-escape", "doc.tex"],
                          cwd=folder, capture_output=True, text=True, timeout=120)
