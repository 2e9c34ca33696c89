"""`harness report EXP`: the ablation tables, plots and HTML page of a sweep (or of a tuning study alone),
read from MLflow only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from harness.commands.config import OVERRIDES_HELP
from harness.config_load import load
from harness.writable import require_writable

if TYPE_CHECKING:
    from reports.build import StudyReportFiles

# The paper's reported numbers shipped with the project (docs/paper_numbers.md): the default reference rows of
# a sweep report. `--paper-csv none` leaves them out; an install without docs/ simply has no default rows.
DEFAULT_PAPER_CSV = Path(__file__).resolve().parents[2] / "docs" / "paper_numbers.csv"
NO_PAPER_CSV = "none"


def report_command(
    experiment: Path = typer.Argument(..., help="Experiment YAML (its tracking.uri / paths.runs and experiment name)."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP, show_default=False),
    out: Path = typer.Option(None, "--out", help="Output folder (default: reports/<experiment name>/)."),
    formats: str = typer.Option("md,tex,html,csv", "--format", help="Comma-separated: md,tex,html,csv."),
    baseline: str = typer.Option(None, "--baseline", help="Variant to compare against (default: the sweep's baseline)."),
    sweep: str = typer.Option(None, "--sweep", help="Sweep name, sweep id or parent run id (default: the newest)."),
    study: str = typer.Option(None, "--study", help="Report this tuning study (study name, id or run id) instead "
                              "of a sweep (default: the newest study when the experiment has no sweep)."),
    paper_csv: str = typer.Option(None, "--paper-csv", help="The paper's numbers as reference rows (default: "
                                  "docs/paper_numbers.csv of this project; 'none' for no paper rows)."),
    as_json: bool = typer.Option(False, "--json", metavar="", help="Print the written files as JSON."),
) -> None:
    """Write a sweep's ablation report from MLflow: tables (md, tex, csv), PNG plots, one HTML page.

    Table: a row per variant, a column per metric (mean ± std over seeds, change vs the baseline, best bold).

    Failed trials and non-exact backends are flagged; each ablation gets a paired t-test over seeds + 95% CI.

    Plots: bars per metric, loss curves, the APDH schedule. The page carries a provenance stamp.

    An experiment with a tuning study but no sweep (or --study) gets a study report: a row per Optuna trial
    (state, tuned values, objectives; best trial or Pareto set in bold), the study plots, the page.

    Example: harness report experiments/smoke.yaml --paper-csv none
    """
    from harness.errors import HarnessError
    from harness.runs.store import experiment_name
    from reports.build import build_report, build_study_report, parse_formats, report_kind
    from reports.query import open_store

    wanted = parse_formats(formats)
    cfg = load(experiment, overrides or [])
    store = open_store(cfg)  # first: a missing store leaves no empty --out folder behind
    folder = require_writable(out if out is not None else Path("reports") / experiment_name(cfg), "--out")
    if report_kind(store, sweep, study) == "study":
        explicit_paper = paper_csv is not None and paper_csv != NO_PAPER_CSV
        misplaced = [name for name, value in (("--baseline", baseline), ("--paper-csv", paper_csv if explicit_paper else None))
                     if value is not None]
        if misplaced:
            raise HarnessError(f"{', '.join(misplaced)}: only for sweep reports; this is a report of a tuning study "
                               f"(experiment {store.experiment!r} has no sweep, or --study was given)")
        _study_summary(build_study_report(cfg, folder, wanted, study_selector=study, store=store), as_json)
        return
    result = build_report(cfg, folder, wanted, baseline=baseline, sweep_selector=sweep,
                          paper_csv=_paper_csv_path(paper_csv), store=store)
    if as_json:
        typer.echo(json.dumps({"sweep": result.sweep, "out": str(result.out.resolve()), "variants": result.variants,
                               "trials_without_results": result.failed_trials,
                               "index": str(result.index.resolve()) if result.index else None,
                               "files": [str(p.resolve()) for p in result.files]}, indent=2))
        return
    names = ", ".join(p.name for p in result.files if p.suffix != ".png")
    pngs = sum(p.suffix == ".png" for p in result.files)
    typer.echo(f"sweep {result.sweep}: {len(result.variants)} variants, "
               f"{result.failed_trials} trial(s) without results")
    typer.echo(f"wrote {result.out}/: {names} and {pngs} PNG plot(s)")
    for note in result.notes:  # what the report could not show (e.g. runs older than the schedule record)
        typer.echo(note, err=True)
    if result.index is not None:
        typer.echo(f"report: {result.index}")


def _paper_csv_path(option: str | None) -> Path | None:
    """--paper-csv as a path: the shipped CSV when not given (if present), none for 'none', else the given file."""
    if option is None:
        return DEFAULT_PAPER_CSV if DEFAULT_PAPER_CSV.is_file() else None
    return None if option == NO_PAPER_CSV else Path(option)


def _study_summary(result: StudyReportFiles, as_json: bool) -> None:
    """Print what build_study_report wrote (as JSON with --json)."""
    trials = sum(result.states.values())
    if as_json:
        typer.echo(json.dumps({"study": result.study, "study_run_id": result.run_id, "out": str(result.out.resolve()),
                               "trials": trials, "states": result.states,
                               "index": str(result.index.resolve()) if result.index else None,
                               "files": [str(p.resolve()) for p in result.files]}, indent=2))
        return
    names = ", ".join(p.name for p in result.files if p.suffix != ".png")
    pngs = sum(p.suffix == ".png" for p in result.files)
    states = ", ".join(f"{n} {s}" for s, n in result.states.items())
    typer.echo(f"study {result.study}: {trials} trial(s) ({states})")
    typer.echo(f"wrote {result.out}/: {names} and {pngs} PNG plot(s)")
    if result.index is not None:
        typer.echo(f"report: {result.index}")
