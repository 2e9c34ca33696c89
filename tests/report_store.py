"""Test helper: an MLflow sqlite store with a known sweep, written through the real writers (the sweep
and tune callbacks on stand-in Tune trials, the tune driver's closing verdicts), for the report tests.

The sweep ``smoke-golden`` (variants full, wo_apdh, wo_l_pose, wo_hpa; seeds 0, 1):

* full        both seeds finished                       (baseline)
* wo_apdh     both seeds finished; HKC missing on seed 1 (no hand found)
* wo_l_pose   seed 0 finished, seed 1 FAILED with an error tag
* wo_hpa      in the sweep's grid but never ran (no runs): NOT RUN

Backends: FID offline (not exact), SSIM scikit-image/reference (exact), HKC mediapipe stand-in.
Best per column: FID -> full, SSIM -> wo_l_pose, HKC -> wo_apdh (three different rows).
An older sweep ``smoke-old`` (one trial) exists too, so "newest" and ``--sweep`` can be told apart.

``study_runs``: another store holding only tuning studies, written with the calls and tags of
harness/tune/callback.py and driver.py (tuned values through the real search space):
``tune_schedule`` (FID ↓ + SSIM ↑: 3 COMPLETE, a FAIL with an error, a FAIL whose FID was not
measured; Pareto set trials 1 and 3) and ``tune_single`` (SSIM ↑: 2 COMPLETE, one PRUNED at step
50, one FAIL; best trial 2).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from harness.config_load import load
from tests.conftest import EXPERIMENTS

VARIANTS = "sweep.variants={full: {}, wo_apdh: {model: {apdh: {enabled: false}}}, " \
           "wo_l_pose: {loss: {phd: {pose: {enabled: false}}}}, wo_hpa: {data: {hpa: {enabled: false}}}}"
OVERRIDES = [VARIANTS, "sweep.seeds=[0, 1]", "train.steps=4"]
FID = ("fid-helper-mapped-inception/offline", False)
SSIM = ("scikit-image/reference", True)
HKC = ("mediapipe-hands/offline-stand-in", False)
NO_HAND = "no hand present in two frames of any clip"
SWEEP_COMMIT = "0123abc"  # the commit the runs name (not this checkout's: the page shows both)
DATASET_HASH = "data0golden"
ERROR = "RuntimeError: injected failure after step 3"

# (variant, seed) -> {metric: value or None}; absent key = the trial failed
VALUES: dict[tuple[str, int], dict[str, float | None]] = {
    ("full", 0): {"fid": 10.0, "ssim": 0.700, "hkc": 0.80},
    ("full", 1): {"fid": 10.4, "ssim": 0.720, "hkc": 0.82},
    ("wo_apdh", 0): {"fid": 12.1, "ssim": 0.690, "hkc": 0.90},
    ("wo_apdh", 1): {"fid": 12.3, "ssim": 0.650, "hkc": None},
    ("wo_l_pose", 0): {"fid": 11.0, "ssim": 0.730, "hkc": 0.85},
}
RAN = [("full", 0), ("full", 1), ("wo_apdh", 0), ("wo_apdh", 1), ("wo_l_pose", 0), ("wo_l_pose", 1)]


def result(key: str, value: float | None, backend: tuple[str, bool], note: str = "") -> dict:
    return {"key": key, "value": value, "n": 1, "unit": "clips", "backend": backend[0], "weights_sha256": None,
            "exact": backend[1], "parameters": {}, "note": note}


def loss(variant: str, seed: int, step: int) -> float:
    offset = {"full": 0.0, "wo_apdh": 0.2, "wo_l_pose": 0.1}[variant]
    return round(1.0 / step + offset + 0.01 * seed, 6)


@dataclass
class StandInTrial:
    """What the MLflow callbacks read of a Ray Tune trial (config, status, results, checkpoint, error file)."""

    config: dict[str, Any]
    status: str = "RUNNING"
    last_result: dict[str, Any] = field(default_factory=dict)
    checkpoint: Any = None
    error_file: str | None = None


@dataclass
class StandInCheckpoint:
    """A final Tune checkpoint: to_directory copies the trial's report folder (the run's artifacts)."""

    folder: Path

    def to_directory(self, path: str) -> str:
        shutil.copytree(self.folder, path, dirs_exist_ok=True)
        return path


def final_result(results: list[dict], step: int) -> dict[str, Any]:
    """The trial's last report as the trainables send it (harness.sweep.trial / harness.tune.trial)."""
    return {"step": step, "trial_done": True, "results_json": json.dumps(results), "start_step": 0}


def raised(trial: StandInTrial, folder: Path, error: str) -> None:
    """A trial that raised: Tune writes its error.txt."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "error.txt").write_text(f"Traceback (most recent call last):\n  ...\n{error}\n")
    trial.error_file = str(folder / "error.txt")


def fail(callback: Any, trial: StandInTrial, folder: Path, error: str) -> None:
    """A trial that raised with no retries left: its error.txt, then on_trial_error."""
    raised(trial, folder, error)
    trial.status = "ERROR"
    callback.on_trial_error(0, [], trial)


def complete(callback: Any, trial: StandInTrial, results: list[dict], step: int) -> None:
    """A trial whose last report is final: its results, then on_trial_complete."""
    trial.last_result = final_result(results, step)
    callback.on_trial_result(0, [], trial, trial.last_result)
    trial.status = "TERMINATED"
    callback.on_trial_complete(0, [], trial)


def trial_outputs(folder: Path) -> StandInCheckpoint:
    """A trial's final report folder (config, metrics, a sample, a still, trial.json) as its final checkpoint."""
    from harness.runs.schema import Artifacts

    (folder / Artifacts.SAMPLES).mkdir(parents=True, exist_ok=True)
    (folder / Artifacts.FRAMES).mkdir(exist_ok=True)
    (folder / Artifacts.CONFIG).write_text("name: stand-in\n")
    (folder / Artifacts.METRICS).write_text("[]\n")
    (folder / Artifacts.SAMPLES / "clip0.mp4").write_bytes(b"not a video")
    (folder / Artifacts.FRAMES / "clip0_0000.png").write_bytes(b"not a png")
    (folder / Artifacts.SCORED / "clip0" / "frames").mkdir(parents=True, exist_ok=True)
    (folder / Artifacts.SCORED / "clip0" / "frames" / "000000.png").write_bytes(b"not a png")
    (folder / Artifacts.SIDE_BY_SIDE).mkdir(exist_ok=True)
    (folder / Artifacts.SIDE_BY_SIDE / "clip0.mp4").write_bytes(b"not a video")
    ckpt = folder.parent / f"{folder.name}-trainer" / "step_000004.pt"  # the trainer's checkpoint (outside the report)
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    ckpt.write_bytes(b"not a checkpoint")
    (folder / Artifacts.TRIAL).write_text(json.dumps({"step": 4, "checkpoint": str(ckpt.resolve())}) + "\n")
    return StandInCheckpoint(folder)


def write_sweep(cfg, sweep_id: str, name: str, trials: list[tuple[str, int]], folder: Path,
                artifacts: bool = False) -> None:
    """A sweep through the real sweep callback (harness/runtime/mlflow_callback.py), as `harness sweep` drives it:
    trials of VALUES finish with their results, the others fail after one retry; artifacts: the finished
    trials' final checkpoints carry a report folder (the run's artifacts)."""
    from harness.runtime.mlflow_callback import MlflowSweepCallback

    callback = MlflowSweepCallback(cfg.to_dict(), sweep_id, name, DATASET_HASH)
    done = []
    with mock.patch("harness.runtime.mlflow_callback.git_commit", return_value=SWEEP_COMMIT):
        callback.parent()
        for variant, seed in trials:
            trial = StandInTrial({"variant": variant, "seed": seed})
            callback.on_trial_start(0, [], trial)
            for step in range(1, 5):
                callback.on_trial_result(0, [], trial, {"step": step, "attempt": 1,
                                                         "train/loss": loss(variant, seed, step)})
            done.append(trial)
            if (variant, seed) not in VALUES:
                raised(trial, folder / f"{variant}-s{seed}", f"RuntimeError: attempt 1 of {variant}-s{seed}")
                callback.on_trial_recover(0, [], trial)  # Tune retries it (sweep.max_failures) ...
                fail(callback, trial, folder / f"{variant}-s{seed}", ERROR)  # ... and it fails again
                continue
            if (variant, seed) == ("full", 1):  # a retried step: the report keeps the last value logged
                callback.on_trial_result(0, [], trial, {"step": 3, "train/loss": loss(variant, seed, 3)})
            values = VALUES.get((variant, seed), {})
            results = [result("fid", values["fid"], FID), result("ssim", values["ssim"], SSIM),
                       result("hkc", values["hkc"], HKC, "" if values["hkc"] is not None else NO_HAND)]
            if artifacts:
                trial.checkpoint = trial_outputs(folder / f"{variant}-s{seed}-outputs")
            complete(callback, trial, results, 4)
        callback.on_experiment_end(done)


def build_store(runs: Path, template: Path) -> Path:
    """Write the golden sweep into runs/mlflow.db (a copy of the migrated template); returns runs."""
    runs.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, runs / "mlflow.db")
    old = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={runs}", "sweep.variants={full: {}}", "sweep.seeds=[0]",
                                            "train.steps=4"])
    write_sweep(old, "old0000000000000", "smoke-old", [("full", 0)], runs / "tune_errors")
    time.sleep(0.05)  # the golden sweep starts strictly later
    cfg = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={runs}", *OVERRIDES])
    write_sweep(cfg, "golden0000000001", "smoke-golden", RAN, runs / "tune_errors")
    return runs


def paper_csv(folder: Path) -> Path:
    """A small paper-numbers CSV in the shared file's format (main row + two ablation rows)."""
    path = folder / "paper_numbers.csv"
    path.write_text(
        "table,method,FID,FVD,SSIM,E-FID,Sync-C,Sync-D,HKC,HKV,CSIM,source_note\n"
        "main,AnimateAnyone,58.98,1016,0.729,,0.987,,0.809,,0.387,secondary summary of the paper's main table\n"
        "main,EchoMimicV2,49.33,598,0.738,2.218,7.219,7.021,0.923,25.28,0.558,secondary summary of the paper's main table\n"
        "ablation,w/o APDH,51.53,,,,,,,,0.508,secondary summary; pose conditions removed directly\n"
        "ablation,w/o L_pose,,,,,,,0.874,,,secondary summary\n"
        "ablation,w/o L_low,,,0.675,,,,,,,secondary summary\n")
    return path


def golden_runs(tmp_path_factory) -> Path:
    """The golden store, built once per test session (report tests only read it)."""
    from tests.mlflow_server import migrated_store

    base = tmp_path_factory.getbasetemp() / "report_golden"
    runs = base / "runs"
    if not (runs / "done").is_file():
        (base / "template").mkdir(parents=True, exist_ok=True)
        build_store(runs, migrated_store(base / "template"))
        paper_csv(base)
        (runs / "done").write_text("ok\n")
    return runs


def golden_config(runs: Path):
    """The experiment config a report of the golden store loads (smoke.yaml, paths.runs=runs)."""
    return load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={runs}"])


# --------------------------------------------------------------------------- a tuning study alone

STUDY_COMMIT = "4567def"
OOM = ("RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total capacity; "
       "71.02 GiB already allocated)")
FID_TOO_FEW = "needs at least 2 predicted and 2 ground-truth frames"
# experiment -> (overrides, [(trial number, how it ends, objective values)]); "unmeasured": the trial finished
# but an objective has no value, so Optuna has it FAIL. Stopped (PRUNED) trials only exist with one objective:
# ASHA ranks one metric (harness.tune.driver).
STUDIES: dict[str, tuple[list[str], list[tuple[int, str, dict[str, float | None]]]]] = {
    "tune_schedule": ([], [
        (0, "complete", {"fid": 12.0, "ssim": 0.600}),  # dominated by trial 1
        (1, "complete", {"fid": 11.0, "ssim": 0.700}),  # Pareto
        (2, "failed", {}),
        (3, "complete", {"fid": 13.0, "ssim": 0.750}),  # Pareto
        (4, "unmeasured", {"fid": None, "ssim": 0.800}),  # best SSIM, but FAIL: never on the front
    ]),
    "tune_single": (["tune.objectives=[{metric: ssim, direction: maximize}]", "tune.eval_every=50"], [
        (0, "complete", {"ssim": 0.700}),
        (1, "stopped_early", {}),  # ASHA at step 50
        (2, "complete", {"ssim": 0.740}),  # best
        (3, "failed", {}),
    ]),
}
STUDY_BEST = {"tune_schedule": {1, 3}, "tune_single": {2}}
STOPPED_AT = 50


def sampled(space, number: int) -> dict[str, float]:
    """Optuna's raw draws for trial `number` (gaps, band draws, weights): mapped by the real search space."""
    from harness.tune.space import band_param, gap_param
    from harness.vocabulary import PHD_BANDS

    values = {gap_param(p): g for p, g in zip(space.phases, (0.2 + 0.1 * number, 0.5, 0.3 + 0.05 * number, 0.6))}
    values.update({band_param(b): u for b, u in zip(PHD_BANDS, (0.2 + 0.1 * number, 0.5, 0.7))})
    values.update({"loss.phd.pose.weight": 0.05 * (number + 1), "loss.phd.detail.weight": 0.1,
                   "loss.phd.low.weight": 0.5 / (number + 1)})
    return values


def write_study(runs: Path, experiment: str) -> None:
    """One study of STUDIES into runs/mlflow.db through the real tune callback (harness/tune/callback.py) on
    stand-in Tune trials, closed by the tune driver's verdicts (Optuna state, best flags, best/ artifact)."""
    from harness.runs.schema import study_trial_key
    from harness.tune.callback import MlflowTuneCallback
    from harness.tune.driver import TrialRow, _close_runs
    from harness.tune.export import Exported
    from harness.tune.space import TRIAL_NUMBER, SearchSpace

    extra, trials = STUDIES[experiment]
    cfg = load(EXPERIMENTS / "tune_schedule.yaml", [f"paths.runs={runs}", "train.steps=100",
                                                    f"tracking.experiment={experiment}", *extra])
    space = SearchSpace.from_config(cfg)
    name = f"{experiment}-0a1b2c3d4e5f"
    callback = MlflowTuneCallback(cfg.to_dict(), f"study-{experiment}", name, "data0study", space, experiment,
                                  f"sqlite:///{runs}/tune/{name}/optuna.db")
    states = {"complete": "COMPLETE", "stopped_early": "PRUNED", "failed": "FAIL", "unmeasured": "FAIL"}
    done, rows = [], []
    with mock.patch("harness.tune.callback.git_commit", return_value=STUDY_COMMIT):
        callback.parent()
        for number, how, values in trials:
            trial = StandInTrial({TRIAL_NUMBER: number, **sampled(space, number)})
            done.append(trial)
            rows.append(TrialRow(number, study_trial_key(number), states[how],
                                 best=number in STUDY_BEST[experiment]))
            callback.on_trial_start(0, [], trial)
            callback.on_trial_result(0, [], trial, {"step": 1, "train/loss": 1.0 / (number + 1)})
            if how == "failed":
                fail(callback, trial, runs / "tune_errors" / experiment / str(number), OOM)
            elif how == "stopped_early":  # ASHA stops it after an intermediate evaluation
                trial.last_result = {"step": STOPPED_AT, "eval/ssim": 0.5}
                callback.on_trial_result(0, [], trial, trial.last_result)
                trial.status = "TERMINATED"
                callback.on_trial_complete(0, [], trial)
            else:
                complete(callback, trial, [result(m, v, FID if m == "fid" else SSIM, FID_TOO_FEW if v is None else "")
                                           for m, v in values.items()], 100)
        callback.on_experiment_end(done)
        best = runs / "tune_best" / experiment
        best.mkdir(parents=True, exist_ok=True)
        exported = []
        for number in sorted(STUDY_BEST[experiment]):
            path = best / f"{experiment}-{study_trial_key(number)}.yaml"
            path.write_text(f"name: {experiment}-{study_trial_key(number)}\n")
            exported.append(Exported(number, path, {}, {}))
        _close_runs(callback, rows, exported)


def study_runs(tmp_path_factory) -> Path:
    """A store holding only tuning studies (experiments tune_schedule and tune_single), built once per session."""
    from tests.mlflow_server import migrated_store

    base = tmp_path_factory.getbasetemp() / "report_study"
    runs = base / "runs"
    if not (runs / "done").is_file():
        (base / "template").mkdir(parents=True, exist_ok=True)
        runs.mkdir(parents=True, exist_ok=True)
        shutil.copy(migrated_store(base / "template"), runs / "mlflow.db")
        for experiment in STUDIES:
            write_study(runs, experiment)
        (runs / "done").write_text("ok\n")
    return runs


def study_config(runs: Path, experiment: str = "tune_schedule"):
    """The config a report of one study of the store loads (tune_schedule.yaml, paths.runs=runs)."""
    return load(EXPERIMENTS / "tune_schedule.yaml", [f"paths.runs={runs}", f"tracking.experiment={experiment}",
                                                     *STUDIES[experiment][0]])
