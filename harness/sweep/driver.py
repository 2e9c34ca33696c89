"""`run_sweep(cfg)`: every variant x seed as one Ray Tune trial, tracked in MLflow by the driver.

Folders (under paths.runs, shared storage on a cluster):

    sweeps/<name>-<config hash>/sweep.json        the sweep id (keys its MLflow parent run)
    sweeps/<name>-<config hash>/tune/             Tune's experiment state and trial checkpoints
    sweeps/<name>-<config hash>/trials/<v>-s<s>/  each trial's trainer run folder and outputs
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import ExperimentConfig
from harness.errors import HarnessError
from harness.runtime.resources import check_local_resources, tune_resources
from harness.runtime.run_folder import absolute_base, dataset_hash, existing_id, new_id
from harness.runtime.session import marks_interrupted, ray_session
from harness.runtime.trial_io import DONE_KEY, FINAL_PREFIX
from harness.runtime.tuner import restored_tuner, run_config
from harness.runs.schema import trial_key


@dataclass
class TrialSummary:
    key: str
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""
    time_s: float = 0.0  # the trial's own time (inside its trainable, last attempt)


@dataclass
class SweepSummary:
    name: str
    folder: Path
    tracking_uri: str
    wall_s: float
    trials: list[TrialSummary]

    @property
    def failed(self) -> list[TrialSummary]:
        return [t for t in self.trials if t.status != "TERMINATED"]


def sweep_name(cfg: ExperimentConfig) -> str:
    """<name>-<config hash>: a changed config (or override) is a different sweep."""
    return f"{cfg.name}-{cfg.config_hash()}"


def sweep_folder(cfg: ExperimentConfig) -> Path:
    return (Path(cfg.paths.runs) / "sweeps" / sweep_name(cfg)).resolve()


def check_sweep(cfg: ExperimentConfig) -> None:
    """Files every trial would fail on (one line each); the config itself was checked by the schema
    (harness/config_checks.py: names, seeds, GPUs per trial)."""
    for key, path in (("model.init", cfg.model.init), ("model.motion_adapter", cfg.model.motion_adapter)):
        if path is not None and not Path(path).is_file():  # every trial would fail on it
            raise HarnessError(f"{key}: {path}: no such file" + (" (import the release with `harness weights "
                               "import-release`, docs/release.md)" if key == "model.init" else ""))


def _trainable(cfg: ExperimentConfig, base: dict[str, Any], folder: Path):
    from ray import tune

    from harness.sweep.trial import sweep_trainable

    fn = tune.with_parameters(sweep_trainable, base=base, sweep_dir=str(folder))
    return tune.with_resources(fn, tune_resources(cfg))


def _tuner(cfg: ExperimentConfig, base: dict[str, Any], folder: Path, callback: Any, resume: bool, verbose: int):
    """A new Tuner, or the restored one when --resume finds Tune state (errored trials rerun)."""
    from ray import tune

    from harness.runtime.reporters import progress_table
    from harness.sweep.trial import trial_dirname, trial_name

    trainable = _trainable(cfg, base, folder)
    progress = progress_table()  # before a restore too: it switches Tune's console to the reporter kept in its state
    restored = restored_tuner(folder, trainable, resume_errored=True) if resume else None
    if restored is not None:
        return restored
    space = {"variant": tune.grid_search(list(cfg.sweep.variants)), "seed": tune.grid_search(list(cfg.sweep.seeds))}
    tune_cfg = tune.TuneConfig(max_concurrent_trials=cfg.sweep.max_concurrent or None,
                               trial_dirname_creator=trial_dirname, trial_name_creator=trial_name)
    return tune.Tuner(trainable, param_space=space, tune_config=tune_cfg,
                      run_config=run_config(folder, callback, verbose, cfg.sweep.max_failures, progress))


def run_sweep(cfg: ExperimentConfig, address: str | None = None, resume: bool = False, verbose: int = 1) -> SweepSummary:
    """Run (or with resume=True continue) the sweep of cfg; returns one summary row per trial.

    verbose: Tune's status output on stdout (0 = none, 1 = status tables).
    """
    from harness.data.synth import ensure_dataset
    from harness.runtime.mlflow_callback import MlflowSweepCallback
    from harness.runs.store import tracking_uri
    from harness.runs.tracker import Tracker

    check_sweep(cfg)
    if not address:
        check_local_resources(cfg)
    folder = sweep_folder(cfg)
    existing = existing_id(folder, resume, kind="sweep")
    Tracker(cfg)  # open the store (one line on a bad URI) before anything is written
    start = time.perf_counter()
    data_hash = dataset_hash(ensure_dataset(cfg))  # generate once here, not in every trial
    sweep_id = existing or new_id(folder, "sweep")
    base = absolute_base(cfg)
    callback = MlflowSweepCallback(base, sweep_id, sweep_name(cfg), data_hash)
    callback.parent()  # the parent run exists before Ray starts
    with marks_interrupted(callback), ray_session(address):
        grid = _tuner(cfg, base, folder, callback, resume, verbose).fit()
        trials = [_summary(r) for r in grid]
        if any(t.status == "INCOMPLETE" for t in trials):  # Tune stopped early (Ctrl-C): state is saved
            callback.mark_interrupted()
    return SweepSummary(sweep_name(cfg), folder, tracking_uri(cfg), time.perf_counter() - start, trials)


def _summary(result: Any) -> TrialSummary:
    metrics = result.metrics or {}
    if not result.config:  # a trial Tune never started (e.g. the sweep was interrupted first)
        return TrialSummary("(not started)", "INCOMPLETE", {}, "", 0.0)
    key = trial_key(result.config["variant"], result.config["seed"])
    finals = {k.removeprefix(FINAL_PREFIX): v for k, v in metrics.items() if k.startswith(FINAL_PREFIX)}
    own = float(metrics.get("time_total_s", 0.0))
    if result.error is not None:
        return TrialSummary(key, "ERROR", finals, str(result.error).strip().splitlines()[-1][:300], own)
    return TrialSummary(key, "TERMINATED" if metrics.get(DONE_KEY) else "INCOMPLETE", finals, "", own)
