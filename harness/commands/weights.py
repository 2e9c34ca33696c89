"""`harness weights list|verify|import-release`: the metric weights manifest and the files on this machine;
the released EchoMimicV2 weights imported into a harness checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from harness.errors import HarnessError

app = typer.Typer(help="Weight files: the metric manifest (list, verify) and the EchoMimicV2 release (import-release).",
                  no_args_is_help=True)

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
    as_json: bool = typer.Option(False, "--json", metavar="", help="Print JSON instead of a table."),
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


@app.command("import-release")
def import_release_command(
    release_dir: Path = typer.Argument(..., help="The release's pretrained_weights folder (git clone of BadToBest/EchoMimicV2)."),
    out: Path = typer.Option(Path("weights/echomimicv2"), "--out", help="Import folder to write."),
    as_json: bool = typer.Option(False, "--json", metavar="", help="Print the result as JSON."),
) -> None:
    """Import the released EchoMimicV2 weights into one harness checkpoint that model.init can
    start from and `harness sample` can use (docs/release.md). Strict: a missing file, a foreign
    key or a wrong shape ends as one line naming the file, exit 2.

    Example: harness weights import-release pretrained_weights --out weights/echomimicv2
    """
    from harness.model.release.importer import import_release

    result = import_release(release_dir, out, say=lambda line: typer.echo(line, err=True))
    for line in result.warnings:
        typer.echo(line, err=True)
    if as_json:
        typer.echo(json.dumps({"out": str(result.out), "checkpoint": str(result.checkpoint), "config": str(result.config),
                               "sha256": result.provenance["sha256"], "warnings": result.warnings}, indent=2))
        return
    typer.echo(f"imported {result.provenance['tensors_from_release']} release tensors into {result.checkpoint} "
               f"({len(result.provenance['dropped'])} release keys dropped, {len(result.provenance['filled'])} "
               f"harness keys filled without one: see {result.out / 'release.json'})")
    typer.echo(f"start from it with model.init={result.checkpoint}; sample with "
               f"`harness sample {result.checkpoint} CLIP --out out.mp4`")
