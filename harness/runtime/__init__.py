"""The Ray runtime shared by `harness sweep` and `harness tune` (docs/design.md, "Sweeps and tracking", "Tuning").

Driver side:
    session.py    start a local Ray (token auth, own temp dir) or join a cluster; stop it and remove the temp dir
    resources.py  what a trial reserves (one worker, or Ray Train workers); local-machine checks
    run_folder.py the run's id file, the dataset hash, the config with absolute paths
    tuner.py      Tune's RunConfig and Tuner.restore, as both drivers use them

Trial side (inside Ray workers):
    trial_io.py   attempts log, pointer and final Tune checkpoints, the final report's metrics
    reporters.py  the trainer's step hooks: tune.report (one worker), ray.train.report (data-parallel)
    faults.py     the HARNESS_SWEEP_FAIL_ONCE fault-injection hook
"""
