"""The trainer's on_step hooks inside a trial: report training metrics to Ray, fire the fault hook;
and the driver's console table of those reports.

    StepReporter    one-worker trial: tune.report every train.log_every steps, with a pointer
                    checkpoint whenever the trainer has written a new checkpoint
    WorkerReporter  a Ray Train worker of a data-parallel trial: ray.train.report at the same
                    steps on every rank (a collective call); Ray Train forwards rank 0's to Tune
    progress_table  the sweep driver's Tune status table: variant, seed, step, loss, status
"""

from __future__ import annotations

import os
from pathlib import Path

from ray.tune import CLIReporter

from harness.config import ExperimentConfig
from harness.runtime.faults import FailOnce
from harness.runs.schema import Curves
from harness.runtime.trial_io import STEP_KEY, pointer_checkpoint


def _due(cfg: ExperimentConfig, step: int) -> bool:
    """Steps that report: every train.log_every-th and the last."""
    return step % cfg.train.log_every == 0 or step == cfg.train.steps


def _step_metrics(step: int, attempt: int, logs: dict[str, float]) -> dict[str, float]:
    return {STEP_KEY: step, "attempt": attempt, **{f"{Curves.TRAIN_PREFIX}{k}": float(v) for k, v in logs.items()}}


class StepReporter:
    """The trainer's on_step hook in a one-worker trial (tune.report, pointer checkpoints)."""

    def __init__(self, cfg: ExperimentConfig, folder: Path, key: str, attempt: int) -> None:
        self.cfg, self.folder, self.key, self.attempt = cfg, folder, key, attempt
        self.last_ckpt: Path | None = None  # the trainer checkpoint reported last (set by callers that report one)
        self.fail_once = FailOnce(key, folder)

    def __call__(self, step: int, logs: dict[str, float]) -> None:
        from ray import tune

        from harness.train.checkpoint import latest_checkpoint

        ckpt = latest_checkpoint(self.folder / "checkpoints")
        checkpoint = None
        if ckpt is not None and ckpt != self.last_ckpt:
            checkpoint, self.last_ckpt = pointer_checkpoint(self.folder, ckpt), ckpt
        if _due(self.cfg, step) or checkpoint is not None:
            tune.report(_step_metrics(step, self.attempt, logs), checkpoint=checkpoint)
        self.fail_once.check(step)


class WorkerReporter:
    """The trainer's step hook inside a Ray Train worker: every rank reports at the same steps
    (ray.train.report is collective); only rank 0 fires the failure-injection test hook."""

    def __init__(self, cfg: ExperimentConfig, folder: Path, key: str, attempt: int, rank: int) -> None:
        self.cfg, self.attempt = cfg, attempt
        self.fail_once = FailOnce(key, folder) if rank == 0 else None

    def __call__(self, step: int, logs: dict[str, float]) -> None:
        import ray.train

        if _due(self.cfg, step):
            ray.train.report(_step_metrics(step, self.attempt, logs))
        if self.fail_once is not None:
            self.fail_once.check(step)


# the console table's columns: the trial's config keys and its step reports (Curves.TRAIN_PREFIX + "loss")
PROGRESS_PARAMS = ["variant", "seed"]
PROGRESS_METRICS = {STEP_KEY: "step", f"{Curves.TRAIN_PREFIX}loss": "loss"}


class ProgressTable(CLIReporter):
    """Tune's legacy status table without its "Result logdir:" line (a folder in Ray's session
    directory, deleted when Ray stops; the sweep's Tune state is under <sweep folder>/tune)."""

    def report(self, trials: list, done: bool, *sys_info: str) -> None:
        text = self._progress_str(trials, done, *sys_info)
        print("\n".join(line for line in text.splitlines() if not line.startswith("Result logdir:")))


def progress_table(params: list[str] | None = None) -> ProgressTable:
    """Tune's status table with only the given config keys (default: a sweep's variant and seed),
    step and loss (and name, status, node).

    Ray 2.60's default console output infers its columns from the first report keys (so it showed
    trial_done, start_step, results_json) and takes no column list; its legacy CLIReporter does,
    so the sweep driver switches to it (RAY_AIR_NEW_OUTPUT=0, read by Tune when the run starts).
    """
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    return ProgressTable(parameter_columns=params or PROGRESS_PARAMS, metric_columns=PROGRESS_METRICS, max_report_frequency=30,
                         print_intermediate_tables=True)
