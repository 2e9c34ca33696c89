"""A trial on several workers (issue: "a trial that needs several GPUs runs data-parallel
through Ray Train inside the trial").

The Tune trial starts a Ray Train `TorchTrainer` with `cfg.sweep.trial_workers()` workers; each
runs the same `train()` (DDP, harness/train/distributed.py) on the trial's stable folder, so a
retried trial resumes from the trainer's newest checkpoint exactly as a one-worker trial does.
Rank 0 then samples and evaluates, and writes the outcome to the folder; the Tune trial reads
it back and reports it like any other trial. Every rank reports its step metrics to Ray Train
(a collective call, harness/runtime/reporters.py); `TuneReportCallback` forwards rank 0's to
Tune, hence to MLflow. What the trial and each worker reserve: harness/runtime/resources.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.config import ExperimentConfig
from harness.runtime.reporters import WorkerReporter
from harness.runtime.resources import worker_resources

OUTCOME_FILE = "outcome.json"


def _worker_loop(config: dict[str, Any]) -> None:
    """One Ray Train worker: DDP training; rank 0 then evaluates and writes the outcome."""
    import ray.train
    import torch

    from harness.config_load import load_dict
    from harness.trial_pipeline import checkpoint_step, finish_trial
    from harness.train.trainer import train

    cfg, folder = load_dict(config["cfg"]), Path(config["folder"])
    rank = ray.train.get_context().get_world_rank()
    torch.set_num_threads(max(1, int(config["threads"])))
    hook = WorkerReporter(cfg, folder, config["key"], config["attempt"], rank)
    start = checkpoint_step(folder)
    result = train(cfg, folder, on_step=hook, progress=False)  # returns once rank 0 has saved the last step
    if rank == 0:
        outcome = finish_trial(cfg, folder, result.checkpoint, start, result.steps)
        (folder / OUTCOME_FILE).write_text(json.dumps(asdict(outcome), default=str, indent=1) + "\n")


def run_trial_data_parallel(cfg: ExperimentConfig, folder: Path, key: str, attempt: int):
    """Train on cfg.sweep.trial_workers() Ray Train workers, then return rank 0's TrialOutcome."""
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    from harness.trial_pipeline import TrialOutcome

    workers, per_worker = cfg.sweep.trial_workers(), worker_resources(cfg)
    (folder / OUTCOME_FILE).unlink(missing_ok=True)
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={"cfg": cfg.to_dict(), "folder": str(folder), "key": key, "attempt": attempt,
                           "threads": round(per_worker["CPU"])},
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=per_worker["GPU"] > 0, resources_per_worker=per_worker),
        run_config=RunConfig(name=f"ray_train_attempt{attempt}", storage_path=str(folder / "ray_train"),
                             failure_config=FailureConfig(max_failures=0), callbacks=[TuneReportCallback()]),
    )
    trainer.fit()  # raises when a worker fails: Tune retries the trial, which resumes from the folder
    raw = json.loads((folder / OUTCOME_FILE).read_text())
    return TrialOutcome.from_dict(raw)
