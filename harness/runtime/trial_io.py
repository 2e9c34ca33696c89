"""A trial's own files and its Tune checkpoints (runs inside a Ray worker).

The trainer's run folder is stable per trial (retries and resumes continue from its newest
checkpoint). Tune checkpoints stay small: a pointer (``trial.json``) to the trainer's
checkpoint while training, then the trial's outputs (config, metrics, samples, stills) with
the final report, which the driver's MLflow callback logs as artifacts.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from harness.runs.schema import Artifacts

DONE_KEY = "trial_done"  # set (to 1) only in a trial's final report
STEP_KEY = "step"  # the training step every report carries
FINAL_PREFIX = "final/"  # final/<metric key>: the final report's measured values


def next_attempt(folder: Path) -> int:
    """Count this start of the trial in <folder>/attempts.log (one line per start: the worker's pid and its
    parent's, which in a Ray worker is the node's raylet: where each attempt ran)."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "attempts.log"
    with open(log, "a") as f:
        f.write(f"pid {os.getpid()} parent {os.getppid()}\n")
    return len(log.read_text().splitlines())


def pointer_checkpoint(folder: Path, ckpt: Path) -> Any:
    """A Tune checkpoint naming the trainer's checkpoint (the weights stay in the trial folder)."""
    from ray.tune import Checkpoint

    from harness.train.checkpoint import CKPT_RE

    pointer = folder / "tune_pointer"
    pointer.mkdir(parents=True, exist_ok=True)
    step = int(CKPT_RE.search(ckpt.name).group(1))
    (pointer / "trial.json").write_text(json.dumps({"step": step, "checkpoint": str(ckpt)}) + "\n")
    return Checkpoint.from_directory(str(pointer))


def final_checkpoint(folder: Path, outcome: Any) -> Any:
    """The final Tune checkpoint: config, metrics, samples and stills (the MLflow artifacts).

    outcome: the trial's TrialOutcome (harness/trial_pipeline.py)."""
    from ray.tune import Checkpoint

    report = folder / "report"
    shutil.rmtree(report, ignore_errors=True)
    (report / Artifacts.SAMPLES).mkdir(parents=True)
    (report / Artifacts.FRAMES).mkdir()
    shutil.copy(folder / "config.yaml", report / Artifacts.CONFIG)
    shutil.copy(folder / "metrics.json", report / Artifacts.METRICS)
    for path in outcome.samples:
        shutil.copy(path, report / Artifacts.SAMPLES / path.name)
    for path in outcome.frames:
        shutil.copy(path, report / Artifacts.FRAMES / path.name)
    for path in outcome.scored:  # scored/<clip>/: the lossless frames the metrics scored
        shutil.copytree(path, report / Artifacts.SCORED / path.name)
    for path in outcome.side_by_side:  # side_by_side/<clip>.mp4 (viewing copy)
        (report / Artifacts.SIDE_BY_SIDE).mkdir(exist_ok=True)
        shutil.copy(path, report / Artifacts.SIDE_BY_SIDE / path.name)
    trial = {"step": outcome.steps, "checkpoint": str(outcome.checkpoint)}
    (report / Artifacts.TRIAL).write_text(json.dumps(trial) + "\n")
    return Checkpoint.from_directory(str(report))


def final_metrics(outcome: Any, attempt: int, start_step: int, extra: dict[str, float] | None = None) -> dict[str, Any]:
    """The final report's metrics: step, attempt, DONE_KEY, where the attempt resumed, every
    result (JSON) and the measured values as FINAL_PREFIX + key; `extra` goes before the final values."""
    return {STEP_KEY: outcome.steps, "attempt": attempt, DONE_KEY: 1, "start_step": start_step,
            "results_json": json.dumps(outcome.results), **(extra or {}),
            **{f"{FINAL_PREFIX}{k}": v for k, v in outcome.metrics().items()}}
