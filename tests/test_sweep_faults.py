"""Real-process faults: SIGKILL the sweep driver mid-run and resume; a sweep logged to a real
`mlflow server` on 127.0.0.1."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.driver_process import crashing_driver, wait_for
from tests.mlflow_server import migrated_store, mlflow_server
from tests.test_sweep import loss_steps, mlflow_runs, split_runs, tiny_args


@pytest.mark.slow
def test_sigkilled_sweep_resumes_with_one_run_per_trial(tmp_path: Path, run_cli) -> None:
    args = tiny_args(tmp_path, "sweep.max_concurrent=1")

    def second_trial_training() -> bool:
        found = list((tmp_path / "sweeps").glob("*/trials/*/checkpoints/step_0000002.pt"))
        done = list((tmp_path / "sweeps").glob("*/trials/*/metrics.json"))
        return len(done) == 1 and len(found) == 2

    with crashing_driver(["sweep", *args], tmp_path / "driver.log") as driver:
        wait_for(second_trial_training, 300, driver, "the second trial's first checkpoint")
        time.sleep(2)  # Tune has recorded the first trial as finished
    trials = next((tmp_path / "sweeps").glob("*/trials"))
    finished = next(p.parent.name for p in trials.glob("*/metrics.json"))
    ckpt_before = {p.name: p.stat().st_mtime_ns for p in (trials / finished / "checkpoints").iterdir()}
    before, _ = split_runs(mlflow_runs(tmp_path))
    assert len(before) == 1 and before[0].info.status == "RUNNING"  # killed: nothing could close it

    proc = run_cli("sweep", *args, "--resume", "--json", env={"TUNE_GLOBAL_CHECKPOINT_S": "1"}, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [t["status"] for t in json.loads(proc.stdout)["trials"]] == ["TERMINATED", "TERMINATED"]
    parents, children = split_runs(mlflow_runs(tmp_path))
    assert len(parents) == 1 and parents[0].info.run_id == before[0].info.run_id
    assert parents[0].info.status == "FINISHED"
    assert {k: len(v) for k, v in children.items()} == {"full-s0": 1, "wo_hpa-s0": 1}
    assert all(v[0].info.status == "FINISHED" and "ssim" in v[0].data.metrics for v in children.values())
    # the finished trial was not trained again: same checkpoint files, one logged value per step
    assert {p.name: p.stat().st_mtime_ns for p in (trials / finished / "checkpoints").iterdir()} == ckpt_before
    assert loss_steps(tmp_path, children[finished][0].info.run_id) == [1, 2, 3, 4]
    other = next(k for k in children if k != finished)
    assert set(loss_steps(tmp_path, children[other][0].info.run_id)) == {1, 2, 3, 4}
    assert int(children[other][0].data.tags["resumed_from_step"]) >= 2


@pytest.mark.slow
def test_sweep_logs_to_a_real_mlflow_server(tmp_path: Path, run_cli) -> None:
    template = migrated_store(tmp_path)
    with mlflow_server(tmp_path, template) as uri:
        proc = run_cli("sweep", *tiny_args(tmp_path / "runs", "train.steps=2", "sweep.variants={full: {}}",
                                           f"tracking.uri={uri}", "tracking.experiment=served"), "--json", timeout=400)
        assert proc.returncode == 0, proc.stderr[-3000:]
        from mlflow.tracking import MlflowClient

        client = MlflowClient(uri)
        exp = client.get_experiment_by_name("served")
        parents, children = split_runs(client.search_runs([exp.experiment_id]))
        assert len(parents) == 1 and list(children) == ["full-s0"]
        run = children["full-s0"][0]
        assert run.info.status == "FINISHED" and {"ssim", "psnr", "train/loss"} <= set(run.data.metrics)
        assert "samples" in {a.path for a in client.list_artifacts(run.info.run_id)}
    assert not (tmp_path / "runs" / "mlflow.db").exists()  # nothing went to the default store
    assert list((tmp_path / "server_artifacts").rglob("*.mp4"))
