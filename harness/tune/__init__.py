"""Optuna studies on Ray Tune over the curriculum, tracked in MLflow (see docs/design.md, "Tuning").

    space.py     the search space as data: sampled values -> config diff (pure, deterministic)
    study.py     Optuna storage and study, objectives and their checks
    search.py    OptunaSearch with PRUNED/FAIL states for stopped/unmeasured trials, orphan adoption
    trial.py     one trial's Tune trainable: train, evaluate every tune.eval_every steps, final report
    callback.py  driver-side MLflow logging (the sweep's callback, keyed by Optuna trial number)
    export.py    the best config or the Pareto set as standalone experiment YAML files
    driver.py    run_tune(): checks, storage, Tuner / Tuner.restore, export, summary
"""
