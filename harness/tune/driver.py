"""`run_tune(cfg)`: an Optuna study on Ray Tune, tracked in MLflow, answered with experiment YAMLs.

Folders (under paths.runs, shared storage on a cluster):

    tune/<study>-<config hash>/study.json          the study id (keys its MLflow parent run)
    tune/<study>-<config hash>/optuna.db           the Optuna storage (default; tune.storage replaces it)
    tune/<study>-<config hash>/tune/               Tune's experiment state and trial checkpoints
    tune/<study>-<config hash>/trials/trial-<n>/   each trial's trainer run folder and outputs
    tune/<study>-<config hash>/best/               the best config (one objective) or the Pareto set
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import ExperimentConfig
from harness.runs.schema import Artifacts, StudyTags, TrialTags
from harness.runtime.resources import check_local_resources, tune_resources
from harness.runtime.run_folder import absolute_base, dataset_hash, existing_id, new_id
from harness.runtime.session import marks_interrupted, ray_session
from harness.runtime.tuner import restored_tuner, run_config
from harness.tune.export import Exported, export_best
from harness.tune.space import TRIAL_NUMBER, SearchSpace, check_space
from harness.tune.study import (create_study, finished_count, load_study, open_storage,
                                redact, storage_url, study_name, tune_metrics)
from harness.tune.trial import eval_points, trial_dirname, trial_name, tune_trial_name


@dataclass
class TrialRow:
    """One Optuna trial as the summary shows it."""

    number: int
    key: str
    state: str  # COMPLETE | PRUNED | FAIL | RUNNING
    values: dict[str, float] = field(default_factory=dict)
    note: str = ""
    best: bool = False


@dataclass
class TuneSummary:
    study: str
    folder: Path
    storage: str  # password redacted
    tracking_uri: str
    wall_s: float
    trials: list[TrialRow]
    exported: list[Exported]
    interrupted: bool


def study_folder(cfg: ExperimentConfig) -> Path:
    """<paths.runs>/tune/<study>-<config hash>: a changed config (or override) is a different study."""
    return (Path(cfg.paths.runs) / "tune" / f"{study_name(cfg)}-{cfg.config_hash()}").resolve()


def check_tune(cfg: ExperimentConfig, address: str | None) -> None:
    """User mistakes a study finds before starting anything (one line each, naming the key)."""
    check_space(cfg)  # the name, objectives, ranges and one worker per trial: the schema's (config_checks.py)
    if not address:
        check_local_resources(cfg)


def _searcher(cfg: ExperimentConfig, space: SearchSpace, storage: Any) -> Any:
    import optuna

    from harness.tune.search import StudySearch

    keys, modes = tune_metrics(cfg)
    single = len(keys) == 1
    return StudySearch(space, metric=keys[0] if single else keys, mode=modes[0] if single else modes,
                       sampler=optuna.samplers.TPESampler(seed=cfg.tune.seed), study_name=study_name(cfg),
                       storage=storage)


def _scheduler(cfg: ExperimentConfig) -> Any:
    """ASHA on the intermediate evaluations (one objective, eval_every > 0), else None (run all)."""
    if len(cfg.tune.objectives) != 1 or not cfg.tune.early_stopping or not eval_points(cfg):
        return None
    from ray.tune.schedulers import ASHAScheduler

    keys, modes = tune_metrics(cfg)
    return ASHAScheduler(time_attr="step", metric=keys[0], mode=modes[0], max_t=cfg.train.steps,
                         grace_period=cfg.tune.eval_every, reduction_factor=cfg.tune.reduction_factor)


def _tuner(cfg: ExperimentConfig, base: dict[str, Any], folder: Path, space: SearchSpace, storage: Any,
           callback: Any, remaining: int, resume: bool, verbose: int) -> Any:
    """A new Tuner, or the restored one (searcher and scheduler state included) with --resume."""
    from ray import tune

    from harness.runtime.reporters import progress_table
    from harness.tune.trial import tune_trainable

    fn = tune.with_parameters(tune_trainable, base=base, study_dir=str(folder), space=space)
    trainable = tune.with_resources(fn, tune_resources(cfg))  # one worker: the schema refuses more
    progress = progress_table([TRIAL_NUMBER])  # before a restore too (harness/runtime/reporters.py)
    # failed trials stay failed on resume: Optuna has told them FAIL already
    restored = restored_tuner(folder, trainable, resume_errored=False) if resume else None
    if restored is not None:
        return restored
    tune_cfg = tune.TuneConfig(search_alg=_searcher(cfg, space, storage), scheduler=_scheduler(cfg),
                               num_samples=remaining, max_concurrent_trials=cfg.tune.max_concurrent,
                               trial_dirname_creator=trial_dirname, trial_name_creator=tune_trial_name)
    return tune.Tuner(trainable, tune_config=tune_cfg,
                      run_config=run_config(folder, callback, verbose, cfg.sweep.max_failures, progress))


def run_tune(cfg: ExperimentConfig, address: str | None = None, resume: bool = False, verbose: int = 1) -> TuneSummary:
    """Run (or with resume=True continue) the study of cfg; export the best config(s) at the end."""
    import optuna

    from harness.data.synth import ensure_dataset
    from harness.runs.store import tracking_uri
    from harness.runs.tracker import Tracker
    from harness.tune.callback import MlflowTuneCallback

    # training-only reports carry no objective; only evaluations do (ASHA and the searcher skip the rest)
    os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    check_tune(cfg, address)
    folder = study_folder(cfg)
    existing = existing_id(folder, resume, kind="study")
    url = storage_url(cfg, folder)
    if not cfg.tune.storage:
        folder.mkdir(parents=True, exist_ok=True)
    storage = open_storage(url)  # the Optuna storage, then the MLflow store: one line on a bad URL
    study = load_study(storage, cfg, resume)
    Tracker(cfg)
    start = time.perf_counter()
    data_hash = dataset_hash(ensure_dataset(cfg))  # generate once here, not in every trial
    study = study or create_study(storage, cfg)
    study_id = existing or new_id(folder, "study", {"study": study_name(cfg), "storage": redact(url)})
    space, base = SearchSpace.from_config(cfg), absolute_base(cfg)
    callback = MlflowTuneCallback(base, study_id, f"{study_name(cfg)}-{cfg.config_hash()}",
                                  data_hash, space, study_name(cfg), redact(url))
    callback.parent()  # the parent run exists before Ray starts
    with marks_interrupted(callback):
        remaining = cfg.tune.trials - finished_count(study)
        if remaining > 0:
            with ray_session(address):
                _tuner(cfg, base, folder, space, storage, callback, remaining, resume, verbose).fit()
        interrupted = finished_count(study) < cfg.tune.trials  # Tune stopped early (Ctrl-C): state is saved
        if interrupted:
            callback.mark_interrupted()
    exported = export_best(study, cfg, space, folder, redact(url))
    rows = _rows(study, cfg, {e.number for e in exported})
    if not interrupted:
        _close_runs(callback, rows, exported)
    return TuneSummary(study_name(cfg), folder, redact(url), tracking_uri(cfg), time.perf_counter() - start, rows,
                       exported, interrupted)


def _rows(study: Any, cfg: ExperimentConfig, best: set[int]) -> list[TrialRow]:
    metrics = [o.metric for o in cfg.tune.objectives]
    rows = []
    for t in study.get_trials(deepcopy=False):
        values = dict(zip(metrics, t.values)) if t.values else {}
        rows.append(TrialRow(t.number, trial_name(t.number), t.state.name, values,
                             str(t.user_attrs.get("outcome", "")), t.number in best))
    return rows


def _close_runs(callback: Any, rows: list[TrialRow], exported: list[Exported]) -> None:
    """Optuna's verdict on every child run (state, best/Pareto), none left RUNNING; the parent gets the YAMLs."""
    tracker, parent = callback.tracker, callback.parent()
    by_key = {r.key: r for r in rows}
    for run in tracker.child_runs(parent):
        row = by_key.get(run.data.tags.get(TrialTags.TRIAL_KEY, ""))
        if row is None:
            continue
        tracker.set_tags(run.info.run_id, {TrialTags.OPTUNA_STATE: row.state, TrialTags.BEST: str(row.best).lower()})
        if run.info.status == "RUNNING":  # e.g. a trial whose driver was killed after Optuna was told
            tracker.client.set_terminated(run.info.run_id, status="FAILED" if row.state == "FAIL" else "FINISHED")
    if exported:
        tracker.log_artifacts(parent, exported[0].path.parent, Artifacts.BEST)
    tracker.set_tags(parent, {StudyTags.BEST_TRIALS: ",".join(trial_name(e.number) for e in exported) or "none",
                              StudyTags.STATES: json.dumps({s: sum(r.state == s for r in rows) for s in sorted({r.state for r in rows})})})
    tracker.finish(parent)
