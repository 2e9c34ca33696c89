"""One sweep trial: config = base <- variant diff <- seed; train -> sample -> evaluate on Tune.

The trainer's run folder is a stable per-trial folder, ``<sweep>/trials/<variant>-s<seed>``,
so a retried or resumed trial continues from its newest checkpoint. The Tune checkpoints are
small: a pointer (``trial.json``) while training, then the trial's outputs (config, metrics,
samples, stills) in the final report, which the driver logs to MLflow.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from harness.config import ExperimentConfig
from harness.config_load import apply_diff, load_dict
from harness.tracking import trial_key

FAIL_ONCE_ENV = "HARNESS_SWEEP_FAIL_ONCE"
"""Test hook: "<trial_key>:<step>" makes that trial raise once after reporting that step."""


class InjectedFailure(RuntimeError):
    """Raised by the FAIL_ONCE_ENV test hook."""


def trial_config(base: dict[str, Any], variant: str, seed: int) -> ExperimentConfig:
    """The resolved config of one trial: the variant's diff over the base, train.seed = seed."""
    raw = apply_diff(base, base["sweep"]["variants"][variant])
    raw.setdefault("train", {})["seed"] = int(seed)
    return load_dict(raw, source=f"sweep variant {variant!r}")


def trial_dir(sweep_dir: Path, variant: str, seed: int) -> Path:
    return Path(sweep_dir) / "trials" / trial_key(variant, seed)


def trial_dirname(trial: Any) -> str:
    """Tune's folder name for a trial: short (long names break paths)."""
    return f"{trial_key(trial.config['variant'], trial.config['seed'])}-{trial.trial_id}"


class StepReporter:
    """The trainer's on_step hook: tune.report every log_every steps, with a pointer checkpoint
    whenever the trainer has written a new one."""

    def __init__(self, cfg: ExperimentConfig, folder: Path, key: str, attempt: int) -> None:
        self.cfg, self.folder, self.key, self.attempt = cfg, folder, key, attempt
        self.last_ckpt: Path | None = None
        self.fail_once = FailOnce(key, folder)

    def __call__(self, step: int, logs: dict[str, float]) -> None:
        from ray import tune

        from harness.train.checkpoint import latest_checkpoint

        ckpt = latest_checkpoint(self.folder / "checkpoints")
        checkpoint = None
        if ckpt is not None and ckpt != self.last_ckpt:
            checkpoint, self.last_ckpt = pointer_checkpoint(self.folder, ckpt), ckpt
        due = step % self.cfg.train.log_every == 0 or step == self.cfg.train.steps
        if due or checkpoint is not None:
            metrics = {"step": step, "attempt": self.attempt, **{f"train/{k}": float(v) for k, v in logs.items()}}
            tune.report(metrics, checkpoint=checkpoint)
        self.fail_once.check(step)


class FailOnce:
    """The FAIL_ONCE_ENV test hook for one trial: raise once, after its step; a marker file in
    the trial folder keeps the retried attempt from raising again."""

    def __init__(self, key: str, folder: Path) -> None:
        self.key, self.marker = key, folder / "injected_failure"
        target, _, step = os.environ.get(FAIL_ONCE_ENV, "").rpartition(":")
        self.at = int(step) if target == key and not self.marker.exists() else None

    def check(self, step: int) -> None:
        if self.at is not None and step >= self.at:
            self.marker.write_text(str(step))
            raise InjectedFailure(f"{FAIL_ONCE_ENV}: injected failure of {self.key} after step {step}")


def pointer_checkpoint(folder: Path, ckpt: Path):
    """A Tune checkpoint naming the trainer's checkpoint (the weights stay in the trial folder)."""
    from ray.tune import Checkpoint

    from harness.train.checkpoint import CKPT_RE

    pointer = folder / "tune_pointer"
    pointer.mkdir(parents=True, exist_ok=True)
    step = int(CKPT_RE.search(ckpt.name).group(1))
    (pointer / "trial.json").write_text(json.dumps({"step": step, "checkpoint": str(ckpt)}) + "\n")
    return Checkpoint.from_directory(str(pointer))


def final_checkpoint(folder: Path, outcome: Any):
    """The final Tune checkpoint: config, metrics, samples and stills (the MLflow artifacts)."""
    from ray.tune import Checkpoint

    report = folder / "report"
    shutil.rmtree(report, ignore_errors=True)
    (report / "samples").mkdir(parents=True)
    (report / "frames").mkdir()
    shutil.copy(folder / "config.yaml", report / "config.yaml")
    shutil.copy(folder / "metrics.json", report / "metrics.json")
    for path in outcome.samples:
        shutil.copy(path, report / "samples" / path.name)
    for path in outcome.frames:
        shutil.copy(path, report / "frames" / path.name)
    (report / "trial.json").write_text(json.dumps({"step": outcome.steps, "checkpoint": str(outcome.checkpoint)}) + "\n")
    return Checkpoint.from_directory(str(report))


def next_attempt(folder: Path) -> int:
    """Count this start of the trial in <folder>/attempts.log (one line per start)."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "attempts.log"
    with open(log, "a") as f:
        f.write(f"pid {os.getpid()}\n")
    return len(log.read_text().splitlines())


def sweep_trainable(config: dict[str, Any], base: dict[str, Any], sweep_dir: str) -> None:
    """The Tune function trainable: one (variant, seed)."""
    import torch
    from ray import tune

    from harness.evaluation import run_trial
    from harness.sweep.data_parallel import run_trial_data_parallel, workers_per_trial

    variant, seed = config["variant"], int(config["seed"])
    cfg = trial_config(base, variant, seed)
    key, folder = trial_key(variant, seed), trial_dir(Path(sweep_dir), variant, seed)
    attempt = next_attempt(folder)
    if workers_per_trial(cfg) > 1:  # data-parallel on Ray Train workers (harness/sweep/data_parallel.py)
        outcome = run_trial_data_parallel(cfg, folder, key, attempt)
    else:
        torch.set_num_threads(max(1, int(cfg.sweep.cpus_per_trial)))
        outcome = run_trial(cfg, folder, on_step=StepReporter(cfg, folder, key, attempt))
    final = {"step": outcome.steps, "attempt": attempt, "trial_done": 1, "start_step": outcome.start_step,
             "results_json": json.dumps(outcome.results), **{f"final/{k}": v for k, v in outcome.metrics().items()}}
    tune.report(final, checkpoint=final_checkpoint(folder, outcome))
