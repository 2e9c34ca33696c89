"""`harness config show|validate`: print the resolved config, check config files."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from harness.config_load import load
from harness.errors import ConfigError

app = typer.Typer(help="Inspect and check experiment configs.", no_args_is_help=True)

OVERRIDES_HELP = "Overrides KEY.PATH=VALUE (VALUE parsed as YAML), applied last, e.g. train.lr=0.5"


@app.command("show")
def show(
    experiment: Path = typer.Argument(..., help="Experiment YAML, e.g. experiments/smoke.yaml"),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP, show_default=False),
    as_json: bool = typer.Option(False, "--json", metavar="", help="Print JSON {config, hash} instead of YAML."),
) -> None:
    """Print the fully resolved config (defaults <- YAML chain <- overrides) and its hash.

    Example: harness config show experiments/base.yaml train.lr=0.5
    """
    cfg = load(experiment, overrides or [])
    if as_json:
        typer.echo(json.dumps({"config": cfg.to_dict(), "hash": cfg.config_hash()}, indent=2))
        return
    typer.echo(cfg.to_yaml(), nl=False)
    typer.echo(f"# config hash: {cfg.config_hash()}")


@app.command("validate")
def validate(
    files: list[Path] = typer.Argument(..., help="One or more experiment YAML files."),
) -> None:
    """Check config files (sweep variants included); exit 2 if any is invalid.

    A file passes only if `harness train`, `sweep` and `tune` would start on it (files on disk
    and machine resources aside): each refused file is one line naming the file and key path.

    Example: harness config validate experiments/*.yaml
    """
    failed = 0
    for path in files:
        try:
            cfg = load(path)
        except ConfigError as exc:
            failed += 1
            typer.echo(str(exc), err=True)
            continue
        typer.echo(f"ok  {path}  (hash {cfg.config_hash()}, {len(cfg.sweep.variants)} variant(s))")
    if failed:
        typer.echo(f"{failed} of {len(files)} file(s) invalid", err=True)
        raise typer.Exit(code=2)
