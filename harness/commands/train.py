"""`harness train` and `harness sample`: train one config; generate a video from a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from harness.commands.config import OVERRIDES_HELP
from harness.config import ExperimentConfig
from harness.config_load import load
from harness.writable import require_writable


def run_dir_for(cfg: ExperimentConfig) -> Path:
    """runs/train/<name>-<config hash>: the same config resumes in the same folder."""
    return Path(cfg.paths.runs) / "train" / f"{cfg.name}-{cfg.config_hash()}"


def train_command(
    experiment: Path = typer.Argument(..., help="Experiment YAML, e.g. experiments/smoke.yaml"),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP, show_default=False),
    run_dir: Path = typer.Option(None, "--run-dir", help="Run folder (default runs/train/<name>-<hash>)."),
    as_json: bool = typer.Option(False, "--json", metavar="", help="Print the result as JSON."),
) -> None:
    """Train one configuration (the sweep's baseline variant settings as written in the file).

    Re-running the same command resumes from the run folder's newest checkpoint.

    Example: harness train experiments/smoke.yaml train.steps=20
    """
    from harness.train.trainer import train  # torch/diffusers import only when training

    cfg = load(experiment, overrides or [])
    run_dir = require_writable(run_dir or run_dir_for(cfg), "--run-dir" if run_dir else "paths.runs")
    result = train(cfg, run_dir)
    summary = {"run_dir": str(result.run_dir), "checkpoint": str(result.checkpoint), "steps": result.steps, "final": result.final}
    typer.echo(json.dumps(summary, indent=2) if as_json else f"trained {result.steps} steps; checkpoint {result.checkpoint}")


def sample_command(
    checkpoint: Path = typer.Argument(..., help="A checkpoint file: <run>/checkpoints/step_*.pt, or an import's echomimicv2.pt"),
    clip: Path = typer.Argument(..., help="A clip folder in the clip format (see docs/design.md, Data)."),
    overrides: list[str] = typer.Argument(None, help="Changes to the checkpoint's config, a.b.c=value (e.g. data.size=256).",
                                          show_default=False),
    out: Path = typer.Option(..., "--out", help="Output .mp4 (video with the clip's audio)."),
    seed: int = typer.Option(0, "--seed", help="Initial-noise seed."),
    steps: int = typer.Option(None, "--steps", help="DDIM steps (default: the run's eval.sampling_steps)."),
) -> None:
    """Generate a video for a clip: reference = its first frame, its audio, its hand poses.

    The checkpoint is a run's (its config.yaml two folders up) or an imported release's
    (`harness weights import-release`: the import folder's config.yaml).

    Example: harness sample runs/train/smoke-<hash>/checkpoints/step_0000060.pt runs/data/synthetic/clips/synth-0006 --out out.mp4
    Example: harness sample weights/echomimicv2/echomimicv2.pt data/emtd_prepared/clips/clip-0001 --out out.mp4
    """
    from harness.media import write_video
    from harness.train.generate import generate_for_clip, load_trained

    cfg, model, codec = load_trained(checkpoint, device=_device(), overrides=overrides or [])
    if steps is not None:
        cfg.eval.sampling_steps = steps
    result = generate_for_clip(cfg, model, codec, clip, seed=seed, progress=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_video(out, result.frames, result.fps, audio=result.audio, sample_rate=result.sample_rate)
    typer.echo(f"wrote {out} ({len(result.frames)} frames at {result.fps:g} fps, with audio)")


def _device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
