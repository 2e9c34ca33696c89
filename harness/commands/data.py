"""`harness data synth|prepare`: build clip datasets (format: docs/design.md "Data", harness/data/clip_format.py)."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

import typer

from harness.config_model import DataConfig, SynthConfig
from harness.errors import HarnessError
from harness.writable import require_writable
from harness.vocabulary import PREPARE_TEST_FRACTION, SYNTH_TEST_FRACTION

app = typer.Typer(help="Build clip datasets: the synthetic semi-body set, or clips from real videos.", no_args_is_help=True)

_DATA, _SYNTH = DataConfig.model_fields, SynthConfig.model_fields  # the schema holds the defaults


def check_media_ranges(fps: int, sample_rate: int, test_fraction: float) -> None:
    """One line, exit 2, for a frame rate, sample rate or test share no clip can be made with."""
    if not 1 <= fps <= 240:
        raise HarnessError(f"--fps must be between 1 and 240, got {fps}")
    if not 8000 <= sample_rate <= 192000:
        raise HarnessError(f"--sample-rate must be between 8000 and 192000 Hz, got {sample_rate}")
    if not 0.0 <= test_fraction < 1.0:
        raise HarnessError(f"--test-fraction must be in [0, 1), got {test_fraction:g}")


@app.command("synth")
def synth(
    out: Path = typer.Option(..., "--out", help="Dataset folder to write (clips/ + index.json)."),
    clips: int = typer.Option(_SYNTH["clips"].default, "--clips", help="Semi-body clips."),
    portrait_clips: int = typer.Option(_SYNTH["portrait_clips"].default, "--portrait-clips", help="Headshot clips (HPA)."),
    seed: int = typer.Option(_SYNTH["seed"].default, "--seed", help="Same seed and parameters -> same bytes."),
    size: int = typer.Option(_DATA["size"].default, "--size", help="Square frame size in pixels."),
    seconds: float = typer.Option(_SYNTH["seconds"].default, "--seconds", help="Length of each clip."),
    fps: int = typer.Option(_DATA["fps"].default, "--fps"),
    sample_rate: int = typer.Option(_DATA["sample_rate"].default, "--sample-rate"),
    test_fraction: float = typer.Option(SYNTH_TEST_FRACTION, "--test-fraction", help="Share of semi-body clips in the test split."),
    as_json: bool = typer.Option(False, "--json", metavar="", help="Print a JSON summary."),
) -> None:
    """Generate the synthetic semi-body dataset (procedural figures, speech-like audio, exact keypoints).

    Example: harness data synth --out runs/data/synthetic --clips 12 --seed 0 --size 64
    """
    from harness.data.synth import generate_dataset

    check_media_ranges(fps, sample_rate, test_fraction)
    if clips < 1 or portrait_clips < 0 or seconds <= 0:
        raise HarnessError(f"--clips must be at least 1, --portrait-clips at least 0 and --seconds positive, "
                           f"got {clips}, {portrait_clips}, {seconds:g}")
    require_writable(out, "--out")
    start = time.perf_counter()
    generate_dataset(out, clips, portrait_clips, size, seconds, fps, sample_rate, seed, test_fraction,
                     progress=not as_json)
    summary = {"out": str(out), "clips": clips, "portrait_clips": portrait_clips, "seconds": round(time.perf_counter() - start, 2)}
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(f"wrote {clips} semi-body + {portrait_clips} portrait clips to {out} in {summary['seconds']} s")


@app.command("prepare")
def prepare(
    src: Path = typer.Argument(..., help="Folder of videos (searched recursively; any ffmpeg-readable file)."),
    out: Path = typer.Option(..., "--out", help="Dataset folder to write (clips/, index.json, rejects.json)."),
    size: int = typer.Option(_DATA["size"].default, "--size", help="Square output size (the paper uses 768)."),
    fps: int = typer.Option(_DATA["fps"].default, "--fps"),
    sample_rate: int = typer.Option(_DATA["sample_rate"].default, "--sample-rate"),
    split: str = typer.Option("auto", "--split", help="train, test, or auto (by a hash of the clip id)."),
    test_fraction: float = typer.Option(PREPARE_TEST_FRACTION, "--test-fraction", help="Share of clips in test for --split auto."),
    address: str = typer.Option(None, "--address", help="Ray cluster address to join (default: a local Ray)."),
    workers: int = typer.Option(0, "--workers", help="Local Ray CPUs (0 = all cores; -1 = no Ray, this process)."),
    as_json: bool = typer.Option(False, "--json", metavar="", help="Print a JSON summary."),
) -> None:
    """Turn real videos into clips: 24 fps / 16 kHz, mediapipe keypoints, the paper's crop, in parallel on Ray.

    Unreadable videos, videos without (or with silent) audio and videos without a person are
    listed with their reason in OUT/rejects.json; re-running skips finished clips.

    Example: harness data prepare ~/videos --out runs/data/prepared --size 512
    """
    from harness.data.prepare_run import prepare_dir

    if split not in ("auto", "train", "test"):
        raise HarnessError(f"--split must be auto, train or test, got {split!r}")
    if size < 16:
        raise HarnessError(f"--size must be at least 16, got {size}")
    check_media_ranges(fps, sample_rate, test_fraction)
    if workers < -1:
        raise HarnessError(f"--workers must be -1 (no Ray), 0 (all cores) or a CPU count, got {workers}")
    # Ray prints its own notes (e.g. a task retried after its node was lost) on stdout: keep them off the JSON
    with contextlib.redirect_stdout(sys.stderr if as_json else sys.stdout):
        report = prepare_dir(src, out, size, fps, sample_rate, split, test_fraction, address, workers,
                             progress=not as_json)
    summary = {"out": str(out), "done": len(report["done"]), "skipped": len(report["skipped"]),
               "rejected": [{"source": r["source"], "reason": r["reason"]} for r in report["rejected"]],
               "clips": report["clips"]}
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(f"{summary['done']} clip(s) written, {summary['skipped']} already done, "
               f"{len(summary['rejected'])} rejected; {summary['clips']} clip(s) in {out / 'index.json'}")
    for r in summary["rejected"]:
        typer.echo(f"rejected: {r['reason']}", err=True)
