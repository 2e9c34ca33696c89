"""`harness weights list|verify`: the metric weights manifest and the files on this machine."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from harness.errors import HarnessError

app = typer.Typer(help="Metric weight files: where they are looked for, and whether they match.", no_args_is_help=True)

WEIGHTS_DIR_HELP = "Weights folder (default: $HARNESS_WEIGHTS)."


def _status(name: str, weights_dir: Path | None) -> dict:
    """One manifest entry with where its file is and whether it verifies."""
    from metrics import weights as W
    from metrics.manifest import spec

    s = spec(name)
    row = {"name": s.name, "file": s.file, "used_by": s.used_by, "expected": W.expected_hash(s),
           "official_source": s.official_source, "offline_source": s.offline_source, "licence": s.licence,
           "path": None, "sha256": None, "status": "missing"}
    path = W.find(name, weights_dir)
    if path is None:
        return row
    row["path"] = str(path)
    try:
        res = W.check(s, path)
    except W.WeightError:
        row["sha256"], row["status"] = W.file_hashes(path)[0], "MISMATCH"
        return row
    row["sha256"], row["status"] = res.sha256, "verified" if res.verified else "present (no published hash)"
    return row


@app.command("list")
def list_command(
    weights_dir: Path = typer.Option(None, "--weights", help=WEIGHTS_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Every manifest entry: file, status (verified / missing / MISMATCH), location, sources.

    Example: harness weights list
    """
    from metrics.weights import all_names, cache_dir

    rows = [_status(n, weights_dir) for n in all_names()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"metric weights (looked up in $HARNESS_WEIGHTS, {cache_dir()}, torch hub, offline packages)")
    for col in ("name", "file", "status", "used by", "location / source"):
        table.add_column(col, overflow="fold")
    for r in rows:
        where = r["path"] or (r["offline_source"] if r["offline_source"] != "-" else r["official_source"])
        table.add_row(r["name"], r["file"], r["status"], r["used_by"], where)
    Console(width=160).print(table)


@app.command("verify")
def verify_command(
    names: list[str] = typer.Argument(None, help="Manifest names to check (default: every file present)."),
    weights_dir: Path = typer.Option(None, "--weights", help=WEIGHTS_DIR_HELP),
) -> None:
    """Hash the weight files and compare with the manifest; exit 2 on a mismatch, or when a
    named file is missing.

    Example: harness weights verify fid_inception syncnet
    """
    from metrics import weights as W
    from metrics.manifest import MANIFEST

    unknown = [n for n in names or [] if n not in MANIFEST]
    if unknown:
        raise HarnessError(f"unknown weight name(s) {unknown}; known: {', '.join(MANIFEST)}")
    bad = 0
    for name in names or W.all_names():
        row = _status(name, weights_dir)
        if row["status"] == "missing":
            if names:
                raise HarnessError(W.missing_message(MANIFEST[name], weights_dir))
            typer.echo(f"missing   {name}: {row['file']}")
            continue
        bad += row["status"] == "MISMATCH"
        typer.echo(f"{row['status']:<9} {name}: {row['path']} (sha256 {row['sha256']})")
    if bad:
        typer.echo(f"{bad} weight file(s) do not match the manifest", err=True)
        raise typer.Exit(code=2)
