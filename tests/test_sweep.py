"""`harness sweep` on a real local Ray: runs, retries from a checkpoint, MLflow parent/child runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config_load import load
from harness.sweep.driver import sweep_folder
from harness.config_load import sweep_trial_config
from tests.conftest import EXPERIMENTS

# 64 px, batch 2: the pre-#13 smoke sizes; at smoke.yaml's 32 px x batch 4 a trial can finish inside the
# SIGKILL test's 2-second window after its first checkpoint (seen once in a fresh-clone CI run).
TINY = ["data.size=64", "train.batch_size=2", "train.steps=4", "train.checkpoint_every=2", "train.log_every=1", "data.frames=4", "data.synthetic.clips=3",
        "data.synthetic.portrait_clips=1", "data.synthetic.seconds=1.0", "eval.sampling_steps=2",
        "eval.metrics=[ssim,psnr]", "eval.test_clips=1"]
TWO_VARIANTS = "sweep.variants={full: {}, wo_hpa: {data: {hpa: {enabled: false}}}}"


def tiny_args(runs: Path, *extra: str) -> list[str]:
    return [str(EXPERIMENTS / "smoke.yaml"), f"paths.runs={runs}", *TINY, TWO_VARIANTS, *extra]


def mlflow_runs(runs: Path, experiment: str = "smoke") -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{runs}/mlflow.db")
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], max_results=1000)


def split_runs(all_runs: list, parent_role: str = "sweep") -> tuple[list, dict[str, list]]:
    """(parent runs of that role, {trial_key: [child runs]})."""
    parents = [r for r in all_runs if r.data.tags.get("harness.role") == parent_role]
    children: dict[str, list] = {}
    for r in all_runs:
        if r.data.tags.get("harness.role") == "trial":
            children.setdefault(r.data.tags["trial_key"], []).append(r)
    return parents, children


def loss_steps(runs: Path, run_id: str) -> list[int]:
    from mlflow.tracking import MlflowClient

    history = MlflowClient(f"sqlite:///{runs}/mlflow.db").get_metric_history(run_id, "train/loss")
    return sorted(m.step for m in history)


def test_trial_config_applies_variant_and_seed(tmp_path: Path) -> None:
    cfg = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={tmp_path}"])
    trial = sweep_trial_config(cfg.to_dict(), "wo_audio_lips", 3)
    assert trial.train.seed == 3 and trial.model.apdh.drop_phases == ["audio_lips"]
    assert trial.data.hpa.enabled and trial.config_hash() != cfg.config_hash()


def test_config_hash_ignores_where_runs_are_kept_and_survives_absolute_trial_paths(tmp_path: Path) -> None:
    from harness.runtime.run_folder import absolute_base

    common = [*TINY, TWO_VARIANTS, "data.root=data/clips"]  # a relative input path, made absolute for trials
    here = load(EXPERIMENTS / "smoke.yaml", ["paths.runs=runs", *common])
    moved = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={tmp_path}/elsewhere", "tracking.uri=http://127.0.0.1:1",
                                              *common])
    assert here.config_hash() == moved.config_hash() and sweep_folder(here).name == sweep_folder(moved).name
    assert here.config_hash() != load(EXPERIMENTS / "smoke.yaml", [*common, "data.root=other/clips"]).config_hash()
    # a trial's config is built from the absolute base the driver ships to Ray: same hash as from the relative one
    for variant in here.sweep.variants:
        shipped = sweep_trial_config(absolute_base(here), variant, 0)
        assert str(shipped.data.root).startswith("/")
        assert shipped.config_hash() == sweep_trial_config(here.to_dict(), variant, 0).config_hash()
    assert load(EXPERIMENTS / "smoke.yaml", []).config_hash() == load(EXPERIMENTS / "smoke.yaml", []).config_hash()


def test_existing_sweep_needs_resume(tmp_path: Path, run_cli) -> None:
    cfg = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={tmp_path}", *TINY, TWO_VARIANTS])
    folder = sweep_folder(cfg)
    folder.mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps({"sweep_id": "x"}))
    proc = run_cli("sweep", *tiny_args(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].endswith("or delete the folder to start over")
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_sweep_runs_trials_and_retries_a_failed_one_from_its_checkpoint(tmp_path: Path, run_cli) -> None:
    env = {"HARNESS_SWEEP_FAIL_ONCE": "wo_hpa-s0:3"}  # raises once after step 3 (checkpoint at step 2)
    proc = run_cli("sweep", *tiny_args(tmp_path), "--json", env=env, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert [(t["key"], t["status"]) for t in summary["trials"]] == [("full-s0", "TERMINATED"), ("wo_hpa-s0", "TERMINATED")]
    parents, children = split_runs(mlflow_runs(tmp_path))
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert {k: len(v) for k, v in children.items()} == {"full-s0": 1, "wo_hpa-s0": 1}
    for key, (run,) in children.items():
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert {"ssim", "psnr"} <= set(run.data.metrics) and "ssim:" in run.data.tags["provenance"]
        assert run.data.tags["variant"] == key.split("-")[0] and run.data.params["train.steps"] == "4"
    retried, clean = children["wo_hpa-s0"][0], children["full-s0"][0]
    assert retried.data.tags["attempts"] == "2" and retried.data.tags["resumed_from_step"] == "2"
    assert "injected failure" in retried.data.tags["last_error"]
    assert clean.data.tags["attempts"] == "1" and clean.data.tags["resumed_from_step"] == "0"
    assert retried.data.params["hpa"] == "false" and clean.data.params["hpa"] == "true"
    assert retried.data.tags["mlflow.note.content"] == "`wo_hpa` (seed 0): `data.hpa.enabled=false`"  # UI Description
    assert "| wo_hpa | `data.hpa.enabled=false` |" in parents[0].data.tags["mlflow.note.content"]
    assert loss_steps(tmp_path, clean.info.run_id) == [1, 2, 3, 4]
    assert loss_steps(tmp_path, retried.info.run_id) == [1, 2, 3, 3, 4]  # step 3 again after the retry
    trial_dir = Path(summary["folder"]) / "trials" / "wo_hpa-s0"
    assert len((trial_dir / "attempts.log").read_text().splitlines()) == 2
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    names = {a.path for a in client.list_artifacts(clean.info.run_id)}
    assert {"config.yaml", "metrics.json", "samples", "frames"} <= names
    assert [a.path for a in client.list_artifacts(clean.info.run_id, "samples")] == ["samples/synth-0002.mp4"]
    assert len(client.list_artifacts(clean.info.run_id, "frames")) == 4


@pytest.mark.parametrize("overrides, message", [
    (["sweep.variants={\"full\": {}, \"a b\": {}}"], "names may use letters"),
    (["sweep.seeds=[1, 1]"], "repeated seeds"),
    (["sweep.gpus_per_trial=2.5"], "whole number"),
    (["sweep.gpus_per_trial=4", "sweep.workers_per_trial=2"], "one per data-parallel worker"),
])
def test_sweep_mistakes_are_one_line(tmp_path: Path, overrides: list[str], message: str) -> None:
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match=message):  # the schema refuses them (harness/config_checks.py)
        load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={tmp_path}", *overrides])


@pytest.mark.parametrize("override, message", [("sweep.cpus_per_trial=4096", "CPUs"), ("sweep.gpus_per_trial=1", "GPU")])
def test_local_sweep_refuses_trials_bigger_than_the_machine(tmp_path: Path, override: str, message: str) -> None:
    import torch

    from harness.errors import HarnessError
    from harness.runtime.resources import check_local_resources

    if message == "GPU" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    cfg = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={tmp_path}", override])
    with pytest.raises(HarnessError, match=f"this machine has .* {message}"):
        check_local_resources(cfg)


def test_trial_resources_are_custom_ray_resources_that_need_a_cluster(tmp_path: Path, run_cli) -> None:
    from harness.errors import HarnessError
    from harness.runtime.resources import tune_resources, worker_resources

    cfg = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={tmp_path}", "sweep.trial_resources={gpu_node: 0.5}"])
    assert tune_resources(cfg) == {"cpu": 1.0, "gpu": 0.0, "gpu_node": 0.5}
    assert worker_resources(cfg)["gpu_node"] == 0.5
    with pytest.raises(HarnessError, match="sweep.trial_resources"):
        load(EXPERIMENTS / "smoke.yaml", ["sweep.trial_resources={GPU: 1}"])
    with pytest.raises(HarnessError, match="sweep.trial_resources"):
        load(EXPERIMENTS / "smoke.yaml", ["sweep.trial_resources={gpu_node: 0}"])
    proc = run_cli("sweep", *tiny_args(tmp_path, "sweep.trial_resources={gpu_node: 1}"))  # a local Ray has none
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].endswith("needs --address of a cluster whose nodes declare them "
                                                         "(ray start --resources)"), proc.stderr


def test_summary_of_a_trial_tune_never_started():
    # Ctrl-C before a trial starts leaves Tune a result without a config: summarised, not a TypeError.
    from types import SimpleNamespace

    from harness.sweep.driver import _summary

    unstarted = _summary(SimpleNamespace(metrics=None, config=None, error=None))
    assert unstarted.status == "INCOMPLETE" and unstarted.metrics == {}


@pytest.mark.slow
def test_sweep_console_shows_the_chosen_columns_and_ends_with_mlflow_and_report(tmp_path: Path, run_cli) -> None:
    extra = ["train.steps=2", "sweep.variants={full: {}}"]
    proc = run_cli("sweep", *tiny_args(tmp_path, *extra), env={"COLUMNS": "200"}, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    headers = [ln for ln in out.splitlines() if "Trial name" in ln]
    # Tune adds a metric column once some trial has reported it: step and loss while training, step at the end
    assert headers and all({"status", "variant", "seed"} <= set(h.replace("|", " ").split()) for h in headers), out
    assert "step" in headers[-1].split(), out
    for internal in ("trial_done", "start_step", "results_json", "attempt", "time_total_s"):
        assert internal not in out, internal
    assert "tensorboard" not in (out + proc.stderr).lower()  # Tune's hint named a folder Ray deletes
    assert "Result logdir" not in out and "session_" not in out  # nor a folder in Ray's session directory
    # Tune's trial name is the MLflow run name
    (run,) = [r for r in mlflow_runs(tmp_path) if r.data.tags.get("harness.role") == "trial"]
    assert run.info.run_name == "full-s0" and any(ln.strip("|│ ").startswith("full-s0 ") for ln in out.splitlines())
    mlflow_line, report_line = out.strip().splitlines()[-2:]
    assert mlflow_line.startswith(f"MLflow: sqlite:///{tmp_path}/mlflow.db") and "harness ui " in mlflow_line
    assert report_line.startswith("Report: harness report ") and str(EXPERIMENTS / "smoke.yaml") in report_line
    assert "'sweep.variants={full: {}}'" in report_line and "--resume" not in report_line


def test_progress_table_columns() -> None:
    from harness.runtime.reporters import progress_table

    reporter = progress_table()
    assert reporter._parameter_columns == ["variant", "seed"]
    assert reporter._metric_columns == {"step": "step", "train/loss": "loss"}
