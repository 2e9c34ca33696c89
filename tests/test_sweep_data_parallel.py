"""Data-parallel trials: Ray Train's TorchTrainer runs the trainer on several workers (gloo on
the CPU here, NCCL on GPUs), rank 0 checkpoints and evaluates, the trial lands in MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from harness.config_load import load
from harness.runtime.resources import tune_resources, worker_resources
from harness.train.batches import TrainingBatches
from harness.train.checkpoint import latest_checkpoint, load_checkpoint
from tests.conftest import EXPERIMENTS
from tests.test_sweep import loss_steps, mlflow_runs, split_runs, tiny_args


def test_rank_zero_draws_the_single_process_batch_and_other_ranks_their_own(tmp_path: Path) -> None:
    cfg = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={tmp_path}", "data.synthetic.clips=4", "data.frames=4"])
    batches = TrainingBatches(cfg)
    single, rank0, rank1 = batches.batch(5), batches.batch(5, rank=0), batches.batch(5, rank=1)
    assert torch.equal(single["frames"], rank0["frames"])
    assert not torch.equal(rank0["frames"], rank1["frames"])
    assert torch.equal(rank1["frames"], batches.batch(5, rank=1)["frames"])  # deterministic per (seed, step, rank)


@pytest.mark.parametrize("overrides, workers, resources", [
    ([], 1, {"cpu": 1.0, "gpu": 0.0}),
    (["sweep.gpus_per_trial=0.5"], 1, {"cpu": 1.0, "gpu": 0.5}),
    (["sweep.gpus_per_trial=4"], 4, {"cpu": 0.01, "gpu": 0.0}),
    (["sweep.workers_per_trial=2"], 2, {"cpu": 0.01, "gpu": 0.0}),
])
def test_workers_and_trial_resources(tmp_path: Path, overrides: list[str], workers: int, resources: dict) -> None:
    cfg = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={tmp_path}", *overrides])
    assert cfg.sweep.trial_workers() == workers
    assert tune_resources(cfg) == resources
    per_worker = worker_resources(cfg)  # the workers and the trial's driver share cpus_per_trial
    assert workers == 1 or per_worker["CPU"] * workers + resources["cpu"] == pytest.approx(cfg.sweep.cpus_per_trial)


@pytest.mark.slow
def test_sweep_trial_on_two_data_parallel_workers_retried_from_its_checkpoint(tmp_path: Path, run_cli) -> None:
    args = tiny_args(tmp_path, "sweep.variants={full: {}}", "sweep.workers_per_trial=2", "sweep.cpus_per_trial=2")
    env = {"HARNESS_SWEEP_FAIL_ONCE": "full-s0:3"}  # rank 0 raises once after step 3 (checkpoint at step 2)
    proc = run_cli("sweep", *args, "--json", env=env, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert [(t["key"], t["status"]) for t in summary["trials"]] == [("full-s0", "TERMINATED")]
    trial = Path(summary["folder"]) / "trials" / "full-s0"
    assert (trial / "ray_train").is_dir()  # the trial ran through Ray Train
    state = load_checkpoint(latest_checkpoint(trial / "checkpoints"))
    assert state["step"] == 4 and not any(k.startswith("module.") for k in state["model"])  # unwrapped weights
    parents, children = split_runs(mlflow_runs(tmp_path))
    (run,) = children["full-s0"]
    assert run.info.status == "FINISHED" and {"ssim", "psnr"} <= set(run.data.metrics)
    assert run.data.tags["attempts"] == "2" and run.data.tags["resumed_from_step"] == "2"  # retried from its checkpoint
    assert loss_steps(tmp_path, run.info.run_id) == [1, 2, 3, 3, 4]  # rank 0's curve, forwarded to Tune
    from mlflow.tracking import MlflowClient  # rank 0's outcome carries every output to the artifacts

    logged = {a.path for a in MlflowClient(f"sqlite:///{tmp_path}/mlflow.db").list_artifacts(run.info.run_id)}
    assert {"samples", "scored", "side_by_side", "metrics.json"} <= logged
