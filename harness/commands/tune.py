"""`harness tune EXP`: an Optuna study over the experiment's `tune:` search space on Ray Tune."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from harness.commands.config import OVERRIDES_HELP
from harness.config_load import load
from harness.writable import require_writable

if TYPE_CHECKING:
    from harness.tune.driver import TuneSummary


def tune_command(
    experiment: Path = typer.Argument(..., help="Experiment YAML with a `tune:` section (search space, objectives)."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP, show_default=False),
    address: str = typer.Option(None, "--address", help="Ray cluster address (default: a local Ray)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted study; finished trials are kept."),
    as_json: bool = typer.Option(False, "--json", metavar="", help="Print the summary as JSON."),
) -> None:
    """Tune the curriculum with Optuna on Ray Tune, tracked in MLflow.

    Each trial trains, samples the test clips and evaluates them. The search
    space is data in the experiment's `tune:` section: APDH stage boundaries
    (tune_apdh_boundaries), PhD band fractions (tune_phd_bands) and any
    numeric config key with a range, e.g.
    space: {loss.phd.pose.weight: {low: 0.01, high: 1, log: true}}.

    Objectives are result keys of eval.metrics (fid, ssim, sync_c, ...) with a
    direction. With one objective and tune.eval_every > 0, ASHA stops poor
    trials early. The best config (one objective) or the Pareto set is
    written as standalone experiment YAML under
    <paths.runs>/tune/<study>-<hash>/best/ and printed at the end.

    Example: harness tune experiments/tune_schedule.yaml tune.trials=4
    """
    from harness.tune.driver import run_tune

    cfg = load(experiment, overrides or [])
    require_writable(Path(cfg.paths.runs), "paths.runs")  # trials, the Optuna storage and the MLflow store
    with contextlib.redirect_stdout(sys.stderr if as_json else sys.stdout):  # Tune's tables stay off the JSON
        summary = run_tune(cfg, address=address, resume=resume, verbose=0 if as_json else 1)
    if as_json:
        typer.echo(json.dumps(_as_dict(summary), indent=2))
    else:
        _print(summary, [o.metric for o in cfg.tune.objectives])
    again = shlex.join(["harness", "tune", str(experiment), *(overrides or []), "--resume"])
    if summary.interrupted:
        typer.echo(f"the study stopped before tune.trials={cfg.tune.trials} trials ended; continue with: {again}", err=True)
        raise typer.Exit(1)
    if not summary.exported:
        typer.echo("no trial completed with every objective measured: nothing exported", err=True)
        raise typer.Exit(1)


def _as_dict(summary: TuneSummary) -> dict:
    return {"study": summary.study, "folder": str(summary.folder), "storage": summary.storage,
            "tracking_uri": summary.tracking_uri, "wall_s": round(summary.wall_s, 1), "interrupted": summary.interrupted,
            "trials": [vars(t) for t in summary.trials],
            "exported": [{"trial": e.number, "path": str(e.path), "values": e.values, "tuned": e.tuned}
                         for e in summary.exported]}


def _print(summary: TuneSummary, metrics: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"study {summary.study} ({summary.wall_s:.0f} s)")
    for col in ("trial", "state", *metrics, "best", "note"):
        table.add_column(col, overflow="fold")
    for t in summary.trials:
        values = [f"{t.values[k]:.4f}" if k in t.values else "-" for k in metrics]
        table.add_row(t.key, t.state, *values, "*" if t.best else "", t.note)
    console = Console(width=160)
    console.print(table)
    console.print(f"Optuna: {summary.storage}   MLflow: {summary.tracking_uri}  (harness ui to browse)")
    n = len(summary.exported)
    label = f"Pareto set ({n} config{'s' if n != 1 else ''})" if len(metrics) > 1 else "best config"
    if summary.exported:
        console.print(f"{label}:", soft_wrap=True)
        for e in summary.exported:
            console.print(f"  {e.path}", soft_wrap=True, highlight=False)
