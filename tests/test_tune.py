"""`harness tune` on a real local Ray with a real Optuna RDB (sqlite) storage and MLflow:
a tiny study (4 trials, 2 at a time, ASHA on intermediate evaluations), a SIGKILLed driver
resumed without duplicate trials, the exported YAML validated and trained, one-line errors,
and the searcher's bookkeeping (pruned / failed / orphaned trials) on its own."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EXPERIMENTS, REPO
from tests.driver_process import crashing_driver, wait_for
from tests.test_sweep import TINY, split_runs

STUDY = "tune_schedule"
SINGLE = ["tune.eval_every=2", "tune.objectives=[{metric: ssim, direction: maximize}]"]
PARETO = ["tune.objectives=[{metric: ssim, direction: maximize}, {metric: psnr, direction: maximize}]"]


def tune_args(runs: Path, *extra: str) -> list[str]:
    return ["tune", str(EXPERIMENTS / "tune_schedule.yaml"), f"paths.runs={runs}", *TINY, *extra]


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 400) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=REPO, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def optuna_trials(runs: Path) -> list:
    import optuna

    (db,) = (runs / "tune").glob("*/optuna.db")
    return optuna.load_study(study_name=STUDY, storage=f"sqlite:///{db}").get_trials()


def study_runs(runs: Path) -> tuple[list, dict[str, list]]:
    """(parent runs of role study, {trial_key: [child runs]}) in the experiment's MLflow store."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{runs}/mlflow.db")
    exp = client.get_experiment_by_name(STUDY)
    return split_runs(client.search_runs([exp.experiment_id], max_results=1000), parent_role="study")


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One tiny single-objective study with early stopping, run once for the tests below."""
    runs = tmp_path_factory.mktemp("tune_runs")
    proc = cli(*tune_args(runs, "tune.trials=4", "tune.max_concurrent=2", *SINGLE), "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return runs, json.loads(proc.stdout)


@pytest.mark.slow
def test_tiny_study_fills_optuna_and_mlflow(tiny_study: tuple[Path, dict]) -> None:
    runs, summary = tiny_study
    trials = optuna_trials(runs)
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"} and any(t.state.name == "COMPLETE" for t in trials)
    for t in trials:
        assert 2 in t.intermediate_values  # the evaluation at step 2 (ASHA's first rung)
        assert set(t.params) >= {"apdh.gap.initial_pose", "phd.u.pose", "loss.phd.pose.weight"}
        if t.state.name == "PRUNED":  # stopped by ASHA: its value is the last intermediate one
            assert t.user_attrs["stopped_at_step"] == 2 and t.value == t.intermediate_values[2]
    parents, children = study_runs(runs)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].data.tags["objectives"] == "ssim:maximize"
    assert sorted(children) == ["trial-0000", "trial-0001", "trial-0002", "trial-0003"]
    by_number = {t.number: t for t in trials}
    for key, (run,) in children.items():
        tags, params = run.data.tags, run.data.params
        trial = by_number[int(tags["trial_number"])]
        assert run.info.status == "FINISHED" and run.info.run_name == key
        assert tags["mlflow.parentRunId"] == parents[0].info.run_id and tags["optuna_state"] == trial.state.name
        assert "eval/ssim" in run.data.metrics and "train/loss" in run.data.metrics
        end = float(params["model.apdh.phases.audio_lips.end"])
        assert 0 < end < 1 and params["model.apdh.phases.audio_lips.end_step"].isdigit()
        assert float(params["loss.phd.pose.weight"]) == pytest.approx(trial.params["loss.phd.pose.weight"])
        if trial.state.name == "COMPLETE":
            assert tags["outcome"] == "complete" and run.data.metrics["ssim"] == pytest.approx(trial.value)
        else:
            assert tags["outcome"] == "stopped_early" and "ssim" not in run.data.metrics
    best = max((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert [e["trial"] for e in summary["exported"]] == [best.number]
    assert [k for k, (r,) in children.items() if r.data.tags["best"] == "true"] == [f"trial-{best.number:04d}"]


@pytest.mark.slow
def test_exported_config_validates_and_trains_as_it_is(tiny_study: tuple[Path, dict], tmp_path: Path) -> None:
    runs, summary = tiny_study
    (exported,) = summary["exported"]
    moved = tmp_path / "elsewhere" / Path(exported["path"]).name  # standalone: no relative extends
    moved.parent.mkdir()
    shutil.copy(exported["path"], moved)
    proc = cli("config", "validate", str(moved))
    assert proc.returncode == 0 and proc.stdout.startswith("ok"), proc.stderr
    from harness.config_load import load

    cfg = load(moved)
    assert cfg.name == moved.stem and cfg.model.apdh.phases[1].end == exported["tuned"]["model.apdh.phases.audio_lips.end"]
    proc = cli("train", str(moved), "train.steps=2", f"paths.runs={runs}", "--json", "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["steps"] == 2 and (tmp_path / "run" / "checkpoints" / "step_0000002.pt").is_file()


@pytest.mark.slow
def test_sigkilled_study_resumes_without_duplicate_trials(tmp_path: Path) -> None:
    args = tune_args(tmp_path, "tune.trials=3", "tune.max_concurrent=1", *PARETO)

    def second_trial_training() -> bool:
        done = list((tmp_path / "tune").glob("*/trials/*/metrics.json"))
        started = list((tmp_path / "tune").glob("*/trials/*/checkpoints/step_0000002.pt"))
        return len(done) == 1 and len(started) == 2

    with crashing_driver(args, tmp_path / "driver.log") as driver:
        wait_for(second_trial_training, 300, driver, "the second trial")
        time.sleep(2)  # Tune and Optuna have recorded the first trial as finished
    console = (tmp_path / "driver.log").read_text()  # Tune's status table: trials named as their MLflow runs
    assert re.search(r"^[|│]\s*trial-0000\s+[|│]", console, re.MULTILINE), console[-2000:]
    assert not {"trial_done", "results_json", "start_step"} & set(console.split())
    before = optuna_trials(tmp_path)
    assert [t.state.name for t in before][:1] == ["COMPLETE"] and "RUNNING" in {t.state.name for t in before}
    trials_dir = next((tmp_path / "tune").glob("*/trials"))
    ckpts = {p.name: p.stat().st_mtime_ns for p in (trials_dir / "trial-0000" / "checkpoints").iterdir()}

    # the resumed run also has one trial fail after step 3: Tune retries it from its step-2 checkpoint
    proc = cli(*args, "--resume", "--json", env={"TUNE_GLOBAL_CHECKPOINT_S": "1", "HARNESS_SWEEP_FAIL_ONCE": "trial-0002:3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = optuna_trials(tmp_path)
    assert [(t.number, t.state.name) for t in after] == [(0, "COMPLETE"), (1, "COMPLETE"), (2, "COMPLETE")]
    assert after[1].params == before[1].params  # trial 1 was continued, not sampled again
    parents, children = study_runs(tmp_path)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert {k: len(v) for k, v in children.items()} == {"trial-0000": 1, "trial-0001": 1, "trial-0002": 1}
    assert all(v[0].info.status == "FINISHED" and "ssim" in v[0].data.metrics for v in children.values())
    assert int(children["trial-0001"][0].data.tags["resumed_from_step"]) >= 2
    retried = children["trial-0002"][0].data.tags
    assert retried["attempts"] == "2" and retried["resumed_from_step"] == "2" and "injected" in retried["last_error"]
    assert {p.name: p.stat().st_mtime_ns for p in (trials_dir / "trial-0000" / "checkpoints").iterdir()} == ckpts
    summary = json.loads(proc.stdout)
    assert summary["exported"] and all(Path(e["path"]).is_file() for e in summary["exported"])
    pareto = {e["trial"] for e in summary["exported"]}
    assert {k for k, (r,) in children.items() if r.data.tags["best"] == "true"} == {f"trial-{n:04d}" for n in pareto}


@pytest.mark.parametrize("extra, message", [
    (["tune.objectives=[{metric: sync_c, direction: maximize}]"], r"tune\.objectives\[0\]\.metric: 'sync_c' is not computed"),
    (["tune.space={loss.phd.low.wieght: {low: 0.1, high: 1.0}}"], r"tune\.space\.loss\.phd\.low\.wieght: unknown config key"),
    (["tune.storage=sqlite:////nonexistent-dir/sub/optuna.db"], r"tune\.storage: cannot open Optuna storage"),
    (["tune.storage=postgresql://me:secret@127.0.0.1:9/optuna"], r"tune\.storage: cannot open Optuna storage postgresql://me:\*\*\*@"),
])
def test_user_mistakes_are_one_line_with_exit_2(tmp_path: Path, extra: list[str], message: str) -> None:
    import re

    proc = cli(*tune_args(tmp_path, *SINGLE, *extra))
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), proc.stderr
    assert "Traceback" not in proc.stderr and "secret" not in proc.stderr


def test_existing_study_needs_resume(tmp_path: Path) -> None:
    import optuna

    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    optuna.create_study(study_name=STUDY, storage=storage)
    proc = cli(*tune_args(tmp_path, *SINGLE, f"tune.storage={storage}"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip() == (f"error: tune.study_name: study '{STUDY}' already exists in {storage}; add --resume "
                                   "to continue it or set another tune.study_name")


@pytest.mark.slow
def test_training_with_intermediate_stops_reproduces_the_uninterrupted_losses(tiny_study: tuple[Path, dict],
                                                                             tmp_path: Path) -> None:
    """train(until=) as the trial uses it for evaluations: stopping at step 2 changes nothing after it."""
    from harness.config_load import load
    from harness.train.trainer import train

    runs, _ = tiny_study  # its dataset and cached audio features (the first mel features take ~15 s)
    cfg = load(EXPERIMENTS / "base.yaml", [f"paths.runs={runs}", *TINY, "train.checkpoint_every=4"])
    full = train(cfg, tmp_path / "full", progress=False)
    part = train(cfg, tmp_path / "stops", progress=False, until=2)
    assert part.steps == 2 and part.checkpoint.name == "step_0000002.pt"  # a checkpoint at the stop
    rest = train(cfg, tmp_path / "stops", progress=False)
    assert [h["step"] for h in rest.history] == [3, 4] and rest.steps == 4
    assert [h["loss"] for h in part.history + rest.history] == [h["loss"] for h in full.history]


# --------------------------------------------------------------------------- the searcher alone


def _searcher(tmp_path: Path, metric: str | list[str], mode: str | list[str]):
    import optuna

    from harness.config_load import load
    from harness.tune.search import StudySearch
    from harness.tune.space import SearchSpace

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = load(EXPERIMENTS / "tune_schedule.yaml", [f"paths.runs={tmp_path}"])
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")
    return StudySearch(SearchSpace.from_config(cfg), metric=metric, mode=mode, storage=storage, study_name="s",
                       sampler=optuna.samplers.TPESampler(seed=0))


def test_searcher_prunes_stopped_trials_fails_unmeasured_ones_and_adopts_orphans(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    search = _searcher(tmp_path, "eval/ssim", "max")
    first = search.suggest("a")
    search.on_trial_result("a", {"step": 1, "train/loss": 1.0})  # training-only report: ignored
    search.on_trial_result("a", {"step": 2, "eval/ssim": 0.1})
    search.on_trial_complete("a", {"step": 4, "eval/ssim": 0.2})  # no trial_done: a scheduler stopped it
    search.suggest("b")
    search.on_trial_complete("b", {"step": 8, "trial_done": 1})  # the objective was not measured
    search.suggest("c")
    search.on_trial_complete("c", {"step": 8, "trial_done": 1, "eval/ssim": 0.3})
    orphan = search.suggest("d")  # ... and then the driver dies before Tune saved trial "d"
    study = search._ot_study
    a, b, c, d = study.get_trials()
    assert first["optuna_trial"] == 0 and orphan["optuna_trial"] == 3
    assert a.state == TrialState.PRUNED and a.intermediate_values == {2: 0.1, 4: 0.2} and a.value == 0.2
    assert a.user_attrs["stopped_at_step"] == 4 and b.state == TrialState.FAIL and "ssim" in b.user_attrs["outcome"]
    assert c.state == TrialState.COMPLETE and study.best_trial.number == 2 and d.state == TrialState.RUNNING

    restarted = _searcher(tmp_path, "eval/ssim", "max")  # a new driver on the same storage
    adopted = restarted.suggest("e")
    assert adopted == orphan and len(study.get_trials()) == 4  # same trial, same params: no duplicate
    restarted.on_trial_complete("e", {"step": 8, "trial_done": 1, "eval/ssim": 0.4})
    assert study.get_trials()[3].state == TrialState.COMPLETE and study.best_trial.number == 3
    assert restarted.suggest("f")["optuna_trial"] == 4  # nothing left to adopt: a new trial


def test_searcher_with_two_objectives_records_values_without_intermediate_reports(tmp_path: Path) -> None:
    search = _searcher(tmp_path, ["eval/ssim", "eval/psnr"], ["max", "max"])
    search.suggest("a")
    search.on_trial_result("a", {"step": 2, "eval/ssim": 0.1, "eval/psnr": 9.0})
    search.on_trial_complete("a", {"step": 4, "trial_done": 1, "eval/ssim": 0.2, "eval/psnr": 10.0})
    (trial,) = search._ot_study.get_trials()
    assert trial.values == [0.2, 10.0] and trial.intermediate_values == {}
