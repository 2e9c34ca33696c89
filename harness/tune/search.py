"""OptunaSearch with the study's bookkeeping made right for early stopping and resumes.

Ray's stock ``OptunaSearch`` (Ray 2.60, measured; docs/design.md, "Tuning"):

* tells a trial that ASHA stopped as COMPLETE with its partial-budget score, which then
  competes with full-budget scores for "best trial";
* reads the metric from every result (a KeyError on training-only reports) and reports
  intermediate values at Tune's ``training_iteration``, not at the training step;
* after a driver crash, leaves any Optuna trial asked for after the last Tune experiment
  checkpoint RUNNING forever, while the restored run asks for a new one in its place.

``StudySearch`` changes exactly that: intermediate values go in at their training step, a
stopped trial is told PRUNED (Optuna then takes its last intermediate value as its value,
and best-trial queries ignore it), a trial whose objective could not be measured is FAIL
(with the reason as a user attribute), and a new Tune trial adopts such an orphaned RUNNING
Optuna trial instead of asking a new one, so a resumed study has no duplicate trials. One
driver per study: a RUNNING trial that this searcher does not know is taken as orphaned.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from ray.tune.search.optuna import OptunaSearch

from harness.runs.schema import Curves
from harness.runtime.trial_io import DONE_KEY, STEP_KEY

logger = logging.getLogger(__name__)


def outcome(result: dict | None, error: bool, metrics: list[str]) -> tuple[str, list[float] | None, str]:
    """(Optuna state name, objective values or None, note) of a trial Tune has finished with."""
    if error:
        return "FAIL", None, "the trial raised an error (see its MLflow run's error tag)"
    if not result or not result.get(DONE_KEY):
        step = (result or {}).get(STEP_KEY)
        return "PRUNED", None, f"stopped early at step {step}" if step is not None else "stopped before any result"
    values = [result.get(m) for m in metrics]
    missing = [m for m, v in zip(metrics, values) if v is None or not math.isfinite(float(v))]
    if missing:
        names = ", ".join(m.removeprefix(Curves.EVAL_PREFIX) for m in missing)
        return "FAIL", None, f"objective(s) not measured: {names}"
    return "COMPLETE", [float(v) for v in values], "complete"


class StudySearch(OptunaSearch):
    """OptunaSearch (define-by-run space, RDB storage) with PRUNED/FAIL states and orphan adoption."""

    def _metrics(self) -> list[str]:
        return list(self.metric) if isinstance(self.metric, list) else [self.metric]

    def suggest(self, trial_id: str) -> dict | None:
        if callable(self._space) and trial_id not in self._ot_trials:
            orphan = self._orphan()
            if orphan is not None:  # its params are kept: suggest_* returns already sampled values
                logger.info("trial %s continues orphaned Optuna trial %d", trial_id, orphan.number)
                self._ot_trials[trial_id] = orphan
        return super().suggest(trial_id)

    def _orphan(self) -> Any:
        """A RUNNING Optuna trial of the study that no Tune trial owns (a killed driver's), or None."""
        from optuna.trial import Trial, TrialState

        owned = {t._trial_id for t in self._ot_trials.values()}  # noqa: SLF001  Optuna's storage id
        for frozen in self._ot_study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if frozen._trial_id not in owned:  # noqa: SLF001
                return Trial(self._ot_study, frozen._trial_id)  # noqa: SLF001
        return None

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if isinstance(self.metric, list) or self.metric not in result:
            return  # Optuna keeps no intermediate values for several objectives; training-only report
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        self._ot_trials[trial_id].report(float(result[self.metric]), step=int(result.get(STEP_KEY, 0)))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        from optuna.trial import TrialState

        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        ot_trial = self._ot_trials[trial_id]
        state, values, note = outcome(result, error, self._metrics())
        if state == "PRUNED" and result and not isinstance(self.metric, list) and self.metric in result:
            # Tune skips on_trial_result for the result that stopped the trial: record it here
            ot_trial.report(float(result[self.metric]), step=int(result.get(STEP_KEY, 0)))
        try:
            ot_trial.set_user_attr("outcome", note)
            if state == "PRUNED" and result and STEP_KEY in result:
                ot_trial.set_user_attr("stopped_at_step", int(result[STEP_KEY]))
            self._ot_study.tell(ot_trial, values, state=TrialState[state])
        except Exception as exc:  # noqa: BLE001  e.g. told already by a driver that was then killed
            logger.warning("Optuna trial %d: %s", ot_trial.number, exc)
        self._completed_trials.add(trial_id)
