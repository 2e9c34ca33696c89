"""The project carries its own knowledge (issue 14): sources cite docs/, not notes outside the repository;
only the documented test-media path reaches outside; every cited docs/ file and section exists; the paper's
numbers ship as a CSV that reports read by default; the README names every command."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from tests.conftest import REAL_DATA, REPO

# Folders (and files) whose sources must not cite or read anything outside the repository.
PRODUCT = ("harness", "metrics", "reports", "bench", "experiments")
PRODUCT_FILES = ("Makefile", "requirements.in", "requirements-weights.txt", "pyproject.toml")
TEXT_SUFFIXES = {".py", ".yaml", ".yml", ".txt", ".toml", ".md", ".sh", ".cfg", ".json", ".csv"}
# Notes that live outside the repository: a bare name (not docs/<name>) or any path into ../shared.
OUTSIDE_CITATION = re.compile(
    r"(?<![\w/])(?:echomimicv2|stack|metrics)\.md\b"  # a note's name without docs/ in front
    r"|DESIGN\.md|(?<![\w/])reference/[\w.]+\.(?:md|csv|json)"  # the notes' own folder
    r"|\.\./shared|(?<!/mnt/)\bshared/|[\"']shared[\"']"  # the folder beside the checkout (not a cluster mount)
)
# In tests: the conftest constant, or a path built to the folder beside the checkout.
TEST_OUTSIDE = re.compile(r"\bSHARED\b|REPO\.parent|\.\./shared|(?<![\w/])reference/[\w.]+\.(?:md|csv|json)")
# `docs/<file>` and optionally `, "Section"` right after it.
DOC_CITATION = re.compile(r"docs/([\w.-]+\.(?:md|csv))(?:,\s*\"([^\"]+)\")?")
MD_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _files(roots: tuple[str, ...], names: tuple[str, ...] = ()) -> list[Path]:
    found = [REPO / n for n in names if (REPO / n).is_file()]
    for root in roots:
        found += [p for p in sorted((REPO / root).rglob("*"))
                  if p.is_file() and p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts]
    return found


def _headings(doc: Path) -> list[str]:
    return [line.lstrip("#").strip().lower() for line in doc.read_text().splitlines() if line.startswith("#")]


def test_the_outside_citation_pattern_can_fail() -> None:
    """The pattern catches each outside note and the ../shared path, and lets the docs/ forms pass."""
    for bad in ('(echomimicv2.md, "APDH")', "see stack.md", "metrics.md, \"FID\"", "DESIGN.md",
                "../shared/reference/paper_numbers.csv", 'REPO.parent / "shared" / "data"',
                "reference/paper_numbers.csv", "reference/echomimicv2_release_keys.json"):
        assert OUTSIDE_CITATION.search(bad), bad
    for good in ('docs/method.md, "APDH"', "docs/stack.md", "docs/metrics.md", "docs/metrics_synthetic.md",
                 "docs/paper_numbers.csv", "a cache shared by every processor", "/mnt/shared/runs",
                 "tests/data/echomimicv2_release_keys.json"):
        assert not OUTSIDE_CITATION.search(good), good


def test_no_product_file_cites_outside_notes_or_reads_shared() -> None:
    hits = []
    for path in _files(PRODUCT, PRODUCT_FILES):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE_CITATION.search(line):
                hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not hits, "\n".join(hits)


def test_tests_reach_outside_only_for_the_documented_media() -> None:
    """Only tests/conftest.py names ../shared, and only its real-media folder (REAL_DATA)."""
    assert REAL_DATA == REPO.parent / "shared" / "data" / "real"
    hits = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        if path.name in ("conftest.py", Path(__file__).name):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if TEST_OUTSIDE.search(line):
                hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    conftest = (REPO / "tests" / "conftest.py").read_text()
    uses = [m.group(0) for m in re.finditer(r"\bSHARED\b[^\n]*", conftest)]
    assert uses[0].startswith("SHARED = REPO.parent") and all(" / \"data\" / \"real\"" in u for u in uses[1:]), uses
    assert not hits, "\n".join(hits)
    design = (REPO / "docs" / "design.md").read_text()
    assert "## Test media" in design and "REAL_DATA" in design and "../shared/data/real/" in design


def test_every_cited_docs_file_and_section_exists() -> None:
    """docs/<file> (and `docs/<file>, "Section"`) anywhere in the project, and relative links in docs/ and the
    README, point at something that exists."""
    missing = []
    for path in _files(PRODUCT + ("tests", "docs"), PRODUCT_FILES + ("README.md",)):
        if path == Path(__file__).resolve():
            continue
        text = path.read_text(errors="replace")
        for match in DOC_CITATION.finditer(text):
            doc = REPO / "docs" / match.group(1)
            if not doc.is_file():
                missing.append(f"{path.relative_to(REPO)}: {match.group(0)}")
            elif match.group(2) and doc.suffix == ".md":
                section = match.group(2).lower()
                if not any(section in heading for heading in _headings(doc)):
                    missing.append(f"{path.relative_to(REPO)}: {match.group(0)} (no such section)")
        if path.suffix == ".md":
            for target in MD_LINK.findall(text):
                if "://" not in target and not (path.parent / target).exists():
                    missing.append(f"{path.relative_to(REPO)}: link {target}")
    assert not missing, "\n".join(missing)


def test_docs_carry_the_method_metrics_weights_and_paper_numbers() -> None:
    for name, sections in {
        "method.md": ("architecture", "audio", "pose encoder and pose maps", "data", "objective and sampling",
                      "apdh", "hpa", "phd loss", "presets: tiny and sd15"),
        "metrics.md": ("fid", "fvd", "ssim and psnr", "sync-c and sync-d", "hkc and hkv", "csim"),
        "weights.md": ("metric weights (`metrics/manifest.py`)", "using real weights", "model weights"),
        "paper_numbers.md": ("columns", "where the numbers come from"),
    }.items():
        headings = _headings(REPO / "docs" / name)
        assert all(s in headings for s in sections), (name, headings)
    method = (REPO / "docs" / "method.md").read_text()
    assert method.count("[inferred]") >= 5 and "[release:" in method and "[paper, Sec. 3.2" in method


def test_weights_doc_lists_every_manifest_file_with_its_hash() -> None:
    from metrics.manifest import MANIFEST

    text = (REPO / "docs" / "weights.md").read_text()
    for spec in MANIFEST.values():
        assert f"`{spec.name}`" in text and f"`{spec.file}`" in text, spec.name
        for digest in (spec.sha256, spec.git_blob):
            if digest:
                assert digest in text, (spec.name, digest)
    for line in (REPO / "requirements-weights.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            assert line.strip() in text, line


def test_paper_csv_has_the_columns_reports_read() -> None:
    from reports.labels import PAPER_COLUMNS, VARIANT_LABELS, variant_label
    from reports.paper import PAPER_METHOD, paper_rows

    path = REPO / "docs" / "paper_numbers.csv"
    with path.open(newline="") as handle:
        records = list(csv.DictReader(handle))
    assert {"table", "method", "source_note", *PAPER_COLUMNS} <= set(records[0])
    assert {r["table"] for r in records} == {"main", "ablation", "independent"}
    for record in records:
        for column in PAPER_COLUMNS:
            if record[column]:
                float(record[column])  # every filled cell is a number
        assert record["source_note"], record["method"]
    main = [r for r in records if r["table"] == "main" and r["method"] == PAPER_METHOD]
    assert len(main) == 1 and main[0]["FID"] == "49.33"
    # Every ablation row matches one of our variants by its label, so a full sweep shows them all.
    labels = [variant_label(v) for v in VARIANT_LABELS]
    ablations = [r["method"] for r in records if r["table"] == "ablation"]
    assert set(ablations) <= set(labels), set(ablations) - set(labels)
    rows = paper_rows(path, labels)
    assert [r.method for r in rows] == [PAPER_METHOD] + [label for label in labels if label in ablations]


def test_report_and_demo_default_to_the_shipped_paper_csv() -> None:
    from harness.commands.report import DEFAULT_PAPER_CSV

    assert DEFAULT_PAPER_CSV == REPO / "docs" / "paper_numbers.csv" and DEFAULT_PAPER_CSV.is_file()
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^PAPER_CSV \?= docs/paper_numbers\.csv$", makefile, re.M)
    assert "--paper-csv $(PAPER_CSV)" in makefile


@pytest.mark.slow
def test_report_cli_shows_the_paper_rows_by_default_and_none_turns_them_off(tmp_path_factory, run_cli,
                                                                              tmp_path: Path) -> None:
    from tests.report_store import golden_runs

    runs = golden_runs(tmp_path_factory)
    smoke = str(REPO / "experiments" / "smoke.yaml")
    shown = run_cli("report", smoke, f"paths.runs={runs}", "--out", tmp_path / "a", "--format", "md")
    assert shown.returncode == 0, shown.stderr[-2000:]
    table = (tmp_path / "a" / "ablation.md").read_text()
    assert "EchoMimicV2 (paper)" in table and "49.33" in table and "w/o APDH (paper)" in table
    off = run_cli("report", smoke, f"paths.runs={runs}", "--out", tmp_path / "b", "--format", "md",
                  "--paper-csv", "none")
    assert off.returncode == 0, off.stderr[-2000:]
    assert "(paper)" not in (tmp_path / "b" / "ablation.md").read_text()


def test_readme_is_the_map_with_every_command() -> None:
    """Every `harness` command and sub-command has an example line in the README; it stays a map."""
    import typer

    from harness.cli import app

    readme = (REPO / "README.md").read_text()
    group = typer.main.get_command(app)
    names = []
    for name, command in group.commands.items():
        subs = getattr(command, "commands", None)
        names += [f"{name} {sub}" for sub in subs] if subs else [name]
    missing = [n for n in names if not re.search(rf"^harness {re.escape(n)}\b", readme, re.M)]
    assert not missing, missing
    for section in ("## Quickstart", "## Layout", "## Commands", "## Real weights and data", "## On a Ray cluster"):
        assert section in readme, section
    assert "make demo" in readme and "make test" in readme
    assert len(readme.splitlines()) < 400


def test_repository_paths_named_in_docs_exist() -> None:
    """A file or folder of the repository named in docs/ or the README (in backticks) exists, so the docs follow
    moves and renames; generated report folders (reports/<experiment>/) are not in the repository."""
    named = re.compile(r"`((?:harness|metrics|reports|bench|tests|experiments|docs)/[\w./-]+)`")
    missing = []
    for doc in [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]:
        for match in named.finditer(doc.read_text()):
            path = match.group(1).rstrip("/")
            generated = path.startswith("reports/") and not path.endswith(".py") and path.count("/") == 1
            if not generated and not (REPO / path).exists():
                missing.append(f"{doc.name}: {path}")
    assert not missing, "\n".join(missing)
