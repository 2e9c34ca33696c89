"""`harness sweep EXP` (variants x seeds on Ray Tune, tracked in MLflow) and `harness ui`."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import typer

from harness.commands.config import OVERRIDES_HELP
from harness.config_load import load
from harness.errors import HarnessError
from harness.writable import require_writable


def sweep_command(
    experiment: Path = typer.Argument(..., help="Experiment YAML with sweep.variants and sweep.seeds."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP, show_default=False),
    address: str = typer.Option(None, "--address", help="Ray cluster address (default: a local Ray)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted sweep; finished trials are kept."),
    as_json: bool = typer.Option(False, "--json", metavar="", help="Print the summary as JSON."),
) -> None:
    """Run every variant x seed as a Ray Tune trial: train -> sample -> evaluate, tracked in MLflow.

    Example: harness sweep experiments/smoke.yaml train.steps=20
    """
    from harness.sweep.driver import run_sweep

    cfg = load(experiment, overrides or [])
    require_writable(Path(cfg.paths.runs), "paths.runs")  # runs, checkpoints and the sqlite MLflow store
    with contextlib.redirect_stdout(sys.stderr if as_json else sys.stdout):  # Tune's tables stay off the JSON
        summary = run_sweep(cfg, address=address, resume=resume, verbose=0 if as_json else 1)
    if as_json:
        rows = [vars(t) for t in summary.trials]
        typer.echo(json.dumps({"sweep": summary.name, "folder": str(summary.folder), "tracking_uri": summary.tracking_uri,
                               "wall_s": round(summary.wall_s, 1), "trials": rows}, indent=2))
    else:
        _print(summary)
    if summary.failed:
        again = shlex.join(["harness", "sweep", str(experiment), *(overrides or []), "--resume"])
        typer.echo(f"{len(summary.failed)} trial(s) did not finish; continue with: {again}", err=True)
        raise typer.Exit(1)


def _print(summary) -> None:
    from rich.console import Console
    from rich.table import Table

    keys = sorted({k for t in summary.trials for k in t.metrics})
    table = Table(title=f"sweep {summary.name} ({summary.wall_s:.0f} s)")
    for col in ("trial", "status", *keys, "error"):
        table.add_column(col, overflow="fold")
    for t in summary.trials:
        values = [f"{t.metrics[k]:.4f}" if k in t.metrics else "-" for k in keys]
        table.add_row(t.key, t.status, *values, t.error)
    console = Console(width=160)
    console.print(table)
    console.print(f"MLflow: {summary.tracking_uri}  (harness ui to browse)")


def ui_command(
    experiment: Path = typer.Argument(None, help="Experiment YAML (for paths.runs / tracking.uri); default runs/."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP, show_default=False),
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address (default: this machine only)."),
    port: int = typer.Option(5000, "--port", help="Port of the MLflow UI."),
) -> None:
    """Start the MLflow UI for the default sqlite store (runs/mlflow.db) on 127.0.0.1.

    Example: harness ui experiments/smoke.yaml --port 5001
    """
    from harness.runs.store import SQLITE_PREFIX, tracking_uri

    cfg = load(experiment, overrides or [])
    uri = tracking_uri(cfg)
    if not uri.startswith(SQLITE_PREFIX):
        raise HarnessError(f"tracking.uri is {uri}: open that server in a browser instead of `harness ui`")
    db = Path(uri.removeprefix(SQLITE_PREFIX))
    if not db.is_file():
        raise HarnessError(f"{db}: no MLflow store yet; run `harness sweep` first")
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    cmd = [str(mlflow_bin), "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    typer.echo(f"MLflow UI on {_runs_page(cfg, f'http://{host}:{port}')} (Ctrl-C stops it)", err=True)
    sys.exit(subprocess.call(cmd, env=dict(os.environ)))


def _runs_page(cfg, base: str) -> str:
    """The experiment's runs table in MLflow 3's "Model training" view (its default is GenAI traces)."""
    from mlflow.tracking import MlflowClient

    from harness.runs.store import experiment_name, tracking_uri

    found = MlflowClient(tracking_uri(cfg)).get_experiment_by_name(experiment_name(cfg))
    return f"{base}/#/experiments/{found.experiment_id}/runs?workflowType=machine_learning" if found else base
