"""A tuning study's figures, drawn by Optuna's own matplotlib visualisations (optuna.visualization.matplotlib).

The report reads MLflow only, so the study is rebuilt in memory from the MLflow trials (reports/study.py,
trial_views): each trial with its Optuna state, tuned values (float distributions spanning the values
seen) and objective values, the objectives named by ``set_metric_names``. Then:

* ``study_history_<metric>.png``: ``plot_optimization_history`` of each objective (the best so far);
* ``study_pareto.png``: ``plot_pareto_front`` of the first two (or three) objectives, with two or more;
* ``study_importance.png``: ``plot_param_importances`` (fANOVA, fixed seed) with two or more tuned keys
  and at least MIN_IMPORTANCE_TRIALS complete trials (fewer: the importances are noise, so not drawn).

Every figure is saved as PNG, PDF and SVG (reports/plots.py, save_pyplot), its legend moved outside the axes.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

from matplotlib.ticker import MaxNLocator

from reports.labels import metric_info
from reports.plots import save_pyplot
from reports.query import Study
from reports.study import key_label, trial_views

MIN_IMPORTANCE_TRIALS = 8
OPTUNA_STATES = ("COMPLETE", "PRUNED", "FAIL")  # any other run state (RUNNING, KILLED) is added as FAIL
FIGURE_SIZE = (7.0, 4.0)


def optuna_study(study: Study) -> Any:
    """The study as an in-memory optuna.Study (see the module docstring)."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState

    keys = study.tuned_keys
    views, _ = trial_views(study, keys)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not "A new study created in memory" in the report's output
    try:
        rebuilt = optuna.create_study(directions=["minimize" if d == "lower" else "maximize"
                                                  for _, d in study.objectives], study_name=study.name)
    finally:
        optuna.logging.set_verbosity(verbosity)
    with warnings.catch_warnings():  # Optuna marks set_metric_names experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        rebuilt.set_metric_names([_name(m) for m, _ in study.objectives])
    seen = {k: [v.values[k] for v in views if math.isfinite(v.values[k])] for k in keys}
    distributions = {key_label(k): FloatDistribution(min(x), max(x)) for k, x in seen.items() if x}
    for view in sorted(views, key=lambda v: v.number):
        params = {key_label(k): view.values[k] for k in keys if math.isfinite(view.values[k])}
        values = [view.objectives[m] for m, _ in study.objectives]
        state = view.state if view.state in OPTUNA_STATES else "FAIL"
        if state == "COMPLETE" and not all(math.isfinite(x) for x in values):
            state = "FAIL"
        rebuilt.add_trial(optuna.trial.create_trial(
            state=TrialState[state], params=params, distributions={k: distributions[k] for k in params},
            values=values if state == "COMPLETE" else None, user_attrs={"mlflow_run_id": view.run_id}))
    return rebuilt


def study_plots(study: Study, out: Path) -> list[tuple[str, Path]]:
    """The study's Optuna figures as (caption, PNG path); none without trials or objectives."""
    if study.trials.empty or not study.objectives:
        return []
    import matplotlib

    matplotlib.use("Agg")  # Optuna draws on pyplot: never a window
    import optuna
    from optuna.visualization import matplotlib as optuna_plots

    rebuilt = optuna_study(study)
    complete = len(rebuilt.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    names = [_name(m) for m, _ in study.objectives]
    figures = []
    # rc_context: Optuna's plots switch pyplot to the ggplot style globally; the report's other figures keep theirs
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if complete == 0:
            return []
        for index, (metric, direction) in enumerate(study.objectives):
            ax = optuna_plots.plot_optimization_history(rebuilt, target=lambda t, i=index: t.values[i],
                                                        target_name=names[index])
            ax.set_title(f"Optimisation history: {names[index]} ({direction} is better)")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trial numbers
            figures.append((f"Tuning study: optimisation history of {names[index]} (Optuna)",
                            _save(ax, out / f"study_history_{metric}.png")))
        if len(names) >= 2:
            shown = min(3, len(names))
            ax = optuna_plots.plot_pareto_front(rebuilt, target_names=names[:shown],
                                                targets=lambda t: tuple(t.values[:shown]))
            figures.append(("Tuning study: Pareto front (Optuna)", _save(ax, out / "study_pareto.png")))
        if len(study.tuned_keys) >= 2 and complete >= MIN_IMPORTANCE_TRIALS:
            evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
            ax = optuna_plots.plot_param_importances(rebuilt, evaluator=evaluator, target=lambda t: t.values[0],
                                                     target_name=names[0])
            figures.append((f"Tuning study: hyperparameter importance for {names[0]} (Optuna, fANOVA)",
                            _save(ax, out / "study_importance.png")))
    return figures


def _name(metric: str) -> str:
    info = metric_info(metric)
    return f"{info.name} {info.arrow}".strip()


def _save(ax: Any, path: Path) -> Path:
    fig = ax.figure
    fig.set_size_inches(*FIGURE_SIZE)
    if ax.get_legend() is not None:  # outside the axes, like every figure of the report
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return save_pyplot(fig, path)
