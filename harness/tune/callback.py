"""Driver-side MLflow logging for a tuning study: the sweep's callback with trial keys from Optuna.

Parent run per study (role ``study``), child run per Optuna trial named ``trial-<number>``
(found again by that key, so a retried, resumed or adopted trial writes into its run). On top
of the sweep's logging: the sampled keys as config params (APDH ends also in steps), ``eval/*``
curves from intermediate evaluations, and an early-stopped trial finishes with
``outcome=stopped_early`` instead of final metrics (its scores are partial-budget).
"""

from __future__ import annotations

import json
from typing import Any

from harness.config import ExperimentConfig
from harness.runs.context import source_tags
from harness.runs.record import config_values, diff_param, tuned_param
from harness.runs.schema import (MAX_PARAM_CHARS, Curves, Outcome, Role, StudyParams, StudyTags, TrialTags,
                                 study_trial_key)
from harness.runs.store import git_commit
from harness.runtime.trial_io import DONE_KEY, STEP_KEY
from harness.runtime.mlflow_callback import MlflowSweepCallback
from harness.tune.space import TRIAL_NUMBER, SearchSpace, boundary_params, params_of


class MlflowTuneCallback(MlflowSweepCallback):
    """MLflow parent/child runs of a study (see module doc); plain data only, pickled by Tune."""

    role = Role.STUDY

    def __init__(self, base: dict[str, Any], study_id: str, run_name: str, dataset_hash: str, space: SearchSpace,
                 study: str, storage: str) -> None:
        super().__init__(base, study_id, run_name, dataset_hash)
        self.space, self.study, self.storage = space, study, storage

    def parent_info(self, cfg: ExperimentConfig) -> tuple[dict[str, str], dict[str, str]]:
        objectives = [f"{o.metric}:{o.direction}" for o in cfg.tune.objectives]
        tags = {**source_tags(), StudyTags.GIT_COMMIT: git_commit(), StudyTags.CONFIG_HASH: self.base_hash(),
                StudyTags.DATASET_HASH: self.dataset_hash, StudyTags.STUDY: self.study,
                StudyTags.OPTUNA_STORAGE: self.storage, StudyTags.OBJECTIVES: ",".join(objectives),
                StudyTags.TUNED_KEYS: ",".join(self.space.tuned_keys())}
        t = cfg.tune
        space = json.dumps({k: v.model_dump() for k, v in t.space.items()}, sort_keys=True)[:MAX_PARAM_CHARS]
        params = {StudyParams.SPACE: space, StudyParams.OBJECTIVES: json.dumps(objectives),
                  StudyParams.TRIALS: str(t.trials), StudyParams.SEED: str(t.seed),
                  StudyParams.MAX_CONCURRENT: str(t.max_concurrent), StudyParams.EVAL_EVERY: str(t.eval_every),
                  StudyParams.TUNE_APDH_BOUNDARIES: str(t.tune_apdh_boundaries).lower(),
                  StudyParams.TUNE_PHD_BANDS: str(t.tune_phd_bands).lower()}
        return tags, params

    def trial_key_of(self, trial: Any) -> str:
        return study_trial_key(trial.config[TRIAL_NUMBER])

    def trial_config_of(self, trial: Any) -> ExperimentConfig:
        return self.space.trial_config(self.base, params_of(trial.config))

    def trial_tags(self, trial: Any, cfg: ExperimentConfig) -> dict[str, str]:
        return {TrialTags.STUDY: self.study, TrialTags.TRIAL_NUMBER: str(int(trial.config[TRIAL_NUMBER])),
                TrialTags.GIT_COMMIT: git_commit(), TrialTags.DATASET_HASH: self.dataset_hash,
                TrialTags.SWEEP_NAME: self.sweep_name, TrialTags.OUTCOME: Outcome.RUNNING, **source_tags()}

    def trial_params(self, trial: Any, cfg: ExperimentConfig) -> dict[str, str]:
        """The tuned keys' values (one param each: columns of the runs table), the APDH ends in steps (when
        tuned), the sampled config diff and the tuned values as one record."""
        diff = self.space.config_diff(self.base, params_of(trial.config))
        ends = boundary_params(cfg) if self.space.phases else {}
        tuned = {k: str(v)[:MAX_PARAM_CHARS] for k, v in config_values(cfg, self.space.tuned_keys()).items()}
        return {**tuned, **ends, **diff_param(diff), **tuned_param(cfg, self.space.tuned_keys())}

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        super().on_trial_result(iteration, trials, trial, result, **info)
        curves = {k: v for k, v in result.items() if k.startswith(Curves.EVAL_PREFIX)}
        if curves:
            self.tracker.log_metrics(self.run_for(trial), curves, int(result.get(STEP_KEY, 0)))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        last = trial.last_result or {}
        if last.get(DONE_KEY):
            self.tracker.set_tags(self.run_for(trial), {TrialTags.OUTCOME: Outcome.COMPLETE})
            super().on_trial_complete(iteration, trials, trial, **info)
            return
        # stopped by the scheduler: no final outputs; its eval/* curves show where and why
        run_id = self.run_for(trial)
        self.stop_system_metrics(run_id)
        self.tracker.set_tags(run_id, {TrialTags.OUTCOME: Outcome.STOPPED_EARLY,
                                       TrialTags.STOPPED_AT_STEP: last.get(STEP_KEY, 0)})
        self.tracker.finish(run_id)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.tracker.set_tags(self.run_for(trial), {TrialTags.OUTCOME: Outcome.FAILED})
        super().on_trial_error(iteration, trials, trial, **info)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        # the driver finishes the parent after exporting the best configs (harness.tune.driver)
        failed = [t for t in trials if t.status == "ERROR"]
        self.tracker.set_tags(self.parent(), {StudyTags.TRIALS: len(trials), StudyTags.FAILED_TRIALS: len(failed)})
