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
from harness.sweep.callback import MlflowSweepCallback
from harness.tracking import git_commit
from harness.tune.search import DONE_KEY
from harness.tune.space import TRIAL_NUMBER, SearchSpace, boundary_params, params_of
from harness.tune.trial import trial_name


class MlflowTuneCallback(MlflowSweepCallback):
    """MLflow parent/child runs of a study (see module doc); plain data only, pickled by Tune."""

    role = "study"

    def __init__(self, base: dict[str, Any], study_id: str, run_name: str, dataset_hash: str, space: SearchSpace,
                 study: str, storage: str) -> None:
        super().__init__(base, study_id, run_name, dataset_hash)
        self.space, self.study, self.storage = space, study, storage

    def parent_info(self, cfg: ExperimentConfig) -> tuple[dict[str, str], dict[str, str]]:
        objectives = [f"{o.metric}:{o.direction}" for o in cfg.tune.objectives]
        tags = {"git_commit": git_commit(), "config_hash": self.base_hash(), "dataset_hash": self.dataset_hash,
                "study": self.study, "optuna_storage": self.storage, "objectives": ",".join(objectives),
                "tuned_keys": ",".join(self.space.tuned_keys())}
        t = cfg.tune
        params = {"tune.space": json.dumps({k: v.model_dump() for k, v in t.space.items()}, sort_keys=True)[:6000],
                  "tune.objectives": json.dumps(objectives), "tune.trials": str(t.trials), "tune.seed": str(t.seed),
                  "tune.max_concurrent": str(t.max_concurrent), "tune.eval_every": str(t.eval_every),
                  "tune.tune_apdh_boundaries": str(t.tune_apdh_boundaries).lower(),
                  "tune.tune_phd_bands": str(t.tune_phd_bands).lower()}
        return tags, params

    def trial_key_of(self, trial: Any) -> str:
        return trial_name(trial.config[TRIAL_NUMBER])

    def trial_config_of(self, trial: Any) -> ExperimentConfig:
        return self.space.trial_config(self.base, params_of(trial.config))

    def trial_tags(self, trial: Any, cfg: ExperimentConfig) -> dict[str, str]:
        return {"study": self.study, "trial_number": str(int(trial.config[TRIAL_NUMBER])), "git_commit": git_commit(),
                "dataset_hash": self.dataset_hash, "sweep_name": self.sweep_name, "outcome": "running"}

    def trial_params(self, trial: Any, cfg: ExperimentConfig) -> dict[str, str]:
        return boundary_params(cfg) if self.space.phases else {}

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        super().on_trial_result(iteration, trials, trial, result, **info)
        curves = {k: v for k, v in result.items() if k.startswith("eval/")}
        if curves:
            self.tracker.log_metrics(self.run_for(trial), curves, int(result.get("step", 0)))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        last = trial.last_result or {}
        if last.get(DONE_KEY):
            self.tracker.set_tags(self.run_for(trial), {"outcome": "complete"})
            super().on_trial_complete(iteration, trials, trial, **info)
            return
        # stopped by the scheduler: no final outputs; its eval/* curves show where and why
        run_id = self.run_for(trial)
        self.tracker.set_tags(run_id, {"outcome": "stopped_early", "stopped_at_step": last.get("step", 0)})
        self.tracker.finish(run_id)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.tracker.set_tags(self.run_for(trial), {"outcome": "failed"})
        super().on_trial_error(iteration, trials, trial, **info)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        # the driver finishes the parent after exporting the best configs (harness.tune.driver)
        failed = [t for t in trials if t.status == "ERROR"]
        self.tracker.set_tags(self.parent(), {"trials": len(trials), "failed_trials": len(failed)})
