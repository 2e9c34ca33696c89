"""harness.runs (store, record, tracker) on a real sqlite store and a real `mlflow server` on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.config_load import load_dict
from harness.runs.record import flatten, provenance, provenance_tag, trial_params, varying_keys
from harness.runs.schema import trial_key
from harness.runs.store import tracking_uri
from harness.runs.tracker import Tracker
from tests.mlflow_server import mlflow_server, migrated_store


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated MLflow sqlite file (migrating takes seconds: once per session)."""
    return migrated_store(tmp_path_factory.mktemp("mlflow_template"))


def _cfg(runs: Path, **extra):
    return load_dict({"name": "trk", "paths": {"runs": str(runs)}, **extra})


def test_flatten_dotted_keys_and_json_values() -> None:
    flat = flatten({"a": {"b": 1, "c": [1, 2], "d": "x", "e": None, "f": {}}})
    assert flat == {"a.b": "1", "a.c": "[1, 2]", "a.d": "x", "a.e": "null", "a.f": "{}"}


def test_trial_params_are_the_switches_settings_and_varying_keys(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, sweep={"variants": {"full": {}, "x": {"train": {"lr": 0.1}, "loss": {"phd": {"low": {
        "weight": 0.5}}}}}}, loss={"phd": {"pose": {"enabled": False}}})
    params = trial_params(cfg, varying_keys(cfg.sweep.variants.values()))
    assert params["train.lr"] == "0.0001" and params["loss.phd.low.weight"] == str(cfg.loss.phd.low.weight)
    assert (params["phd_pose"], params["phd_low"], params["apdh"], params["hpa"]) == ("false", "true", "true", "true")
    assert params["seed"] == "0" and params["train.steps"] == str(cfg.train.steps)
    assert not any(k.startswith(("sweep.", "tune.", "paths.", "tracking.")) for k in params)
    assert len(params) < 25  # the resolved config has ~100 keys; config.yaml holds them


def test_provenance_record_and_compact_tag() -> None:
    results = [{"key": "fid", "value": 4.0, "backend": "fid-helper/offline", "exact": False},
               {"key": "ssim", "value": 0.8, "backend": "scikit-image/reference", "exact": True},
               {"key": "sync_c", "value": None, "backend": "syncnet/synthetic", "exact": False, "note": "no weights"}]
    record = provenance(results)
    assert list(record) == ["fid", "ssim", "sync_c"] and record["sync_c"]["missing"] == "no weights"
    assert provenance_tag(record) == "fid:offline ssim:reference sync_c:missing"


def test_default_uri_is_sqlite_in_runs(tmp_path: Path) -> None:
    assert tracking_uri(_cfg(tmp_path)) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"


def test_parent_child_resume_and_failure_on_sqlite(tmp_path: Path, sqlite_template: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "mlflow.db")
    cfg = _cfg(tmp_path)
    tracker = Tracker(cfg)
    parent = tracker.parent_run("sweep-1", "trk-sweep")
    child = tracker.trial_run(parent, trial_key("full", 0), cfg, tags={"variant": "full"})
    tracker.log_metrics(child, {"loss": 0.5, "lr": 1e-4, "phase": "x"}, step=1)
    results = [{"key": "ssim", "value": 0.8, "backend": "scikit-image", "exact": True},
               {"key": "sync_c", "value": None, "backend": "unavailable", "exact": False, "note": "no weights"}]
    tracker.log_results(child, results)
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "metrics.json").write_text(json.dumps(results))
    tracker.log_artifacts(child, tmp_path / "art")
    # a second tracker (a resumed driver) finds the same parent and child
    again = Tracker(cfg)
    assert again.parent_run("sweep-1", "trk-sweep") == parent
    assert again.trial_run(parent, "full-s0", cfg) == child
    failed = again.trial_run(parent, "wo_hpa-s0", cfg)
    again.finish(failed, error="RuntimeError: boom")
    again.finish(child)
    again.finish(parent)
    runs = {r.info.run_name: r for r in again.child_runs(parent)}
    assert set(runs) == {"full-s0", "wo_hpa-s0"}
    done = runs["full-s0"]
    assert done.info.status == "FINISHED" and done.data.metrics == {"loss": 0.5, "lr": 1e-4, "ssim": 0.8}
    assert [(m.step, m.value) for m in again.client.get_metric_history(child, "ssim")] == [(0, 0.8)]  # one point
    assert done.data.tags["provenance"] == "ssim:reference sync_c:missing" and done.data.tags["variant"] == "full"
    assert not any(k.endswith(("_backend", "_exact", "_missing")) for k in done.data.tags)
    assert done.data.params["seed"] == "0" and done.data.params["hpa"] == "true"
    assert runs["wo_hpa-s0"].info.status == "FAILED" and runs["wo_hpa-s0"].data.tags["error"] == "RuntimeError: boom"
    artifacts = [a.path for a in again.client.list_artifacts(child)]
    assert artifacts == ["config.yaml", "metrics.json", "provenance.json"]
    record = json.loads((tmp_path / "mlartifacts" / "trk" / child / "artifacts" / "provenance.json").read_text())
    assert record == json.loads(json.dumps(provenance(results)))
    assert load_dict(__import__("yaml").safe_load(
        (tmp_path / "mlartifacts" / "trk" / child / "artifacts" / "config.yaml").read_text())) == cfg
    inputs = again.client.get_run(child).inputs.dataset_inputs
    assert len(inputs) == 1 and inputs[0].dataset.source_type == "local"
    assert (tmp_path / "mlartifacts" / "trk").is_dir() and not (Path.cwd() / "mlruns").exists()


@pytest.mark.slow
def test_tracker_on_a_real_mlflow_server(tmp_path: Path, sqlite_template: Path) -> None:
    with mlflow_server(tmp_path, sqlite_template) as uri:
        cfg = _cfg(tmp_path / "runs", tracking={"uri": uri})
        tracker = Tracker(cfg)
        parent = tracker.parent_run("s", "p")
        child = tracker.trial_run(parent, "full-s0", cfg)
        tracker.log_metrics(child, {"loss": 1.0}, step=1)
        (tmp_path / "a").mkdir()
        (tmp_path / "a" / "x.txt").write_text("hi")
        tracker.log_artifacts(child, tmp_path / "a")
        tracker.finish(child)
        run = tracker.client.get_run(child)
        assert run.info.status == "FINISHED" and run.data.metrics["loss"] == 1.0
        assert [a.path for a in tracker.client.list_artifacts(child)] == ["config.yaml", "x.txt"]
        assert len(run.inputs.dataset_inputs) == 1  # the dataset input through the server too
        assert (tmp_path / "server_artifacts").is_dir()


def test_unreachable_server_is_one_line(tmp_path: Path, run_cli) -> None:
    from tests.conftest import EXPERIMENTS
    from tests.mlflow_server import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    proc = run_cli("sweep", EXPERIMENTS / "smoke.yaml", f"paths.runs={tmp_path}", f"tracking.uri={uri}", timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: tracking.uri {uri}: no MLflow server answers") and "Traceback" not in proc.stderr
    assert not (tmp_path / "sweeps").exists()  # nothing written: the same command works once a server runs


def test_checkpoint_record_is_a_uri_or_an_artifact_path(tmp_path: Path) -> None:
    """tracking.checkpoints: "uri" names the trainer's checkpoint by its file URI, "artifact" by the path it is
    logged at (checkpoint/<name>) and hands the file over; a missing file stays a URI."""
    from harness.runs.context import checkpoint_record

    ckpt = tmp_path / "ckpt" / "step_0000004.pt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"weights")
    trial = tmp_path / "trial.json"
    trial.write_text(json.dumps({"step": 4, "checkpoint": str(ckpt)}))
    assert checkpoint_record(trial, "uri") == ({"step": 4, "checkpoint": ckpt.as_uri()}, None)
    assert checkpoint_record(trial, "artifact") == ({"step": 4, "checkpoint": "checkpoint/step_0000004.pt"}, ckpt)
    ckpt.unlink()
    assert checkpoint_record(trial, "artifact") == ({"step": 4, "checkpoint": ckpt.as_uri()}, None)
    with pytest.raises(Exception, match="checkpoints"):
        _cfg(tmp_path, tracking={"checkpoints": "s3"})


def test_sweep_logs_the_checkpoint_file_when_asked(tmp_path: Path, sqlite_template: Path) -> None:
    """tracking.checkpoints=artifact: the sweep callback logs the final trainer checkpoint under checkpoint/."""
    from harness.config_load import load
    from harness.runs.schema import Artifacts, TrialTags
    from tests.conftest import EXPERIMENTS
    from tests.report_store import write_sweep

    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copy(sqlite_template, runs / "mlflow.db")
    cfg = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={runs}", "sweep.variants={full: {}}", "sweep.seeds=[0]",
                                            "tracking.checkpoints=artifact", "tracking.system_metrics_s=0"])
    write_sweep(cfg, "ckpt000000000001", "smoke-ckpt", [("full", 0)], tmp_path / "errors", artifacts=True)
    tracker = Tracker(cfg)
    (run,) = tracker.client.search_runs([tracker.experiment_id], filter_string="attributes.run_name = 'full-s0'")
    assert run.data.tags[TrialTags.CHECKPOINT] == f"{Artifacts.CHECKPOINT}/step_000004.pt"
    assert [a.path for a in tracker.client.list_artifacts(run.info.run_id, Artifacts.CHECKPOINT)] == \
        [f"{Artifacts.CHECKPOINT}/step_000004.pt"]
    assert not any(k.startswith("system/") for k in run.data.metrics)  # system_metrics_s=0: off
