"""`harness sweep EXP` (variants x seeds on Ray Tune, tracked in MLflow) and `harness ui`."""

from __future__ import annotations

import contextlib
import json
import shlex
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
        _print(summary, cfg, [str(experiment), *(overrides or [])])
    if summary.failed:
        again = shlex.join(["harness", "sweep", str(experiment), *(overrides or []), "--resume"])
        typer.echo(f"{len(summary.failed)} trial(s) did not finish; continue with: {again}", err=True)
        raise typer.Exit(1)


def _print(summary, cfg, exp_args: list[str]) -> None:
    """The summary table, then where to look: the MLflow runs page and the report command (exp_args:
    the experiment file and overrides the sweep was started with)."""
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
    if summary.tracking_uri.startswith(("http://", "https://")):
        console.print(f"MLflow: {_server_page(cfg, summary.tracking_uri.rstrip('/'))}", soft_wrap=True)
    else:  # a local store has no server: harness ui serves it (default port)
        console.print(f"MLflow: {summary.tracking_uri}; browse it with: {shlex.join(['harness', 'ui', *exp_args])}",
                      soft_wrap=True)
    console.print(f"Report: {shlex.join(['harness', 'report', *exp_args])}", soft_wrap=True)


def _server_page(cfg, base: str) -> str:
    """The experiment's runs table on a tracking server (the server's address when it has no such experiment)."""
    from mlflow.tracking import MlflowClient

    from harness.commands.ui import find_experiment, runs_page
    from harness.runs.store import experiment_name

    found = find_experiment(MlflowClient(base), experiment_name(cfg))
    return runs_page(base, found.experiment_id, None) if found else base


def ui_command(
    experiment: Path = typer.Argument(None, help="Experiment YAML (for paths.runs / tracking.uri); default: "
                                      "runs/, else the demo's runs/demo/."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP, show_default=False),
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address (default: this machine only)."),
    port: int = typer.Option(5000, "--port", help="Port of the MLflow UI."),
) -> None:
    """Start the MLflow UI on the sqlite store on 127.0.0.1, opened on the runs table (metrics and switches
    as columns). Ctrl-C, SIGINT or SIGTERM stop it.

    Example: harness ui experiments/smoke.yaml paths.runs=runs/demo --port 5001
    """
    from mlflow.tracking import MlflowClient

    from harness.commands.ui import DEMO_RUNS, find_experiment, port_free, runs_page, serve, share_view, store_error
    from harness.runs.store import SQLITE_PREFIX, experiment_name, tracking_uri

    cfg = load(experiment, overrides or [])
    uri = tracking_uri(cfg)
    if not uri.startswith(SQLITE_PREFIX):
        raise HarnessError(f"tracking.uri is {uri}: open that server in a browser instead of `harness ui`")
    db = Path(uri.removeprefix(SQLITE_PREFIX))
    searched = [db]
    if experiment is None and not any(o.startswith("paths.runs=") for o in overrides or []) and not db.is_file():
        demo = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"runs": DEMO_RUNS})})
        uri = tracking_uri(demo)  # `make demo`'s store (its Makefile's DEMO folder)
        db = Path(uri.removeprefix(SQLITE_PREFIX))
        searched.append(db)
    if not db.is_file():
        raise store_error(db, searched)
    if not port_free(host, port):
        raise HarnessError(f"port {port} on {host} is in use; pick another with --port")
    client = MlflowClient(uri)
    found = find_experiment(client, experiment_name(cfg))
    base = f"http://{host}:{port}"
    link = runs_page(base, found.experiment_id, share_view(client, found.experiment_id)) if found else base
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    cmd = [str(mlflow_bin), "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    typer.echo(f"MLflow UI on {link} (Ctrl-C stops it)", err=True)
    sys.exit(serve(cmd))
