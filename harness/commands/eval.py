"""`harness eval --pred DIR --gt DIR`: the paper's metrics on clips on disk (metrics.evaluate)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from harness.errors import HarnessError
from harness.vocabulary import METRIC_NAMES

ALL = ",".join(METRIC_NAMES)


def _parse_metrics(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METRIC_NAMES]
    if unknown or not names:
        raise HarnessError(f"--metrics: unknown metric(s) {unknown or text!r}; choose from {','.join(METRIC_NAMES)}")
    return names


def _print_table(results: list, pairs: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"metrics over {pairs} clip(s)")
    for col in ("metric", "value", "n", "backend", "exact", "note"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(r.key, r.display(), f"{r.n} {r.unit}", r.backend, "yes" if r.exact else "NO", r.note)
    console = Console(width=160)
    console.print(table)
    if any(not r.exact for r in results):
        console.print("exact=NO: offline stand-in or non-reference protocol; not comparable with paper numbers")


def eval_command(
    pred: Path = typer.Option(..., "--pred", help="Predicted clips: folder of *.mp4/*.avi, or of clip folders."),
    gt: Path = typer.Option(None, "--gt", help="Ground-truth clips (dataset root, clip folders or videos)."),
    metrics: str = typer.Option(ALL, "--metrics", help=f"Comma-separated: {ALL}."),
    backend: str = typer.Option("offline", "--backend",
                                help="'reference' (official weights), 'offline', or 'synthetic' (synthetic clips as --gt)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1 ..."),
    weights_dir: Path = typer.Option(None, "--weights", help="Weights folder (default: $HARNESS_WEIGHTS)."),
    batch_size: int = typer.Option(50, "--batch-size", min=1, help="FID/FVD network batch size."),
    sync_mode: str = typer.Option("pipeline", "--sync-mode", help="'pipeline' (S3FD + crops) or 'precropped'."),
    hkc_missing: str = typer.Option("skip", "--hkc-missing", help="Missing hands: 'skip' or 'zero'."),
    hkv_units: str = typer.Option("pixels", "--hkv-units", help="'pixels' or 'normalized'."),
    limit: int = typer.Option(0, "--limit", min=0, help="Evaluate only the first N clips (0 = all)."),
    as_json: bool = typer.Option(False, "--json", metavar="", help="Print JSON instead of a table."),
) -> None:
    """Evaluate generated clips against ground truth; one row per metric with its backend.

    Example: harness eval --pred runs/x/samples --gt runs/data/synthetic --metrics fid,ssim,psnr
    """
    from metrics.clips import load_samples, pair_clips
    from metrics.device import pick_device
    from metrics.evaluate import EvalSettings, evaluate_samples

    wanted = _parse_metrics(metrics)
    choices = {"--backend": (backend, ("offline", "reference", "synthetic")), "--sync-mode": (sync_mode, ("pipeline", "precropped")),
               "--hkc-missing": (hkc_missing, ("skip", "zero")), "--hkv-units": (hkv_units, ("pixels", "normalized"))}
    for flag, (value, allowed) in choices.items():
        if value not in allowed:
            raise HarnessError(f"{flag}: {value!r} is not one of {', '.join(allowed)}")
    pick_device(device)  # a missing GPU is one line now, not a CUDA traceback later
    pairs = pair_clips(pred, gt)[: limit or None]
    if gt is None and any(m in wanted for m in ("fid", "fvd", "ssim", "psnr")):
        raise HarnessError(f"--gt is needed for {', '.join(m for m in wanted if m in ('fid', 'fvd', 'ssim', 'psnr'))}")
    settings = EvalSettings(batch_size=batch_size, sync_mode=sync_mode, hkc_missing=hkc_missing,
                            hkv_units=hkv_units, weights_dir=weights_dir)
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True, disable=as_json) as progress:
        task = progress.add_task("evaluating clips", total=len(pairs))
        results = evaluate_samples(load_samples(pairs), wanted, backend, device, settings,
                                   on_sample=lambda s: progress.advance(task))
    if as_json:
        typer.echo(json.dumps({"pred": str(pred), "gt": str(gt) if gt else None, "clips": len(pairs),
                               "results": [r.to_dict() for r in results]}, indent=2))
        return
    _print_table(results, len(pairs))
