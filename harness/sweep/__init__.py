"""Ray Tune sweeps over the ablation variants x seeds, tracked in MLflow (see docs/design.md, "Sweeps and tracking").

    trial.py     one trial's config (base + variant diff + seed) and the Tune trainable
    callback.py  driver-side MLflow logging (one writer), resume-safe run mapping
    driver.py    run_sweep(): local or cluster Ray, Tuner / Tuner.restore, summary
"""
