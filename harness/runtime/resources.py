"""What a trial reserves on Ray, and the checks a local Ray needs before it starts.

A trial is one worker (the Tune trial trains itself) or, with several GPUs, a Tune trial that
starts Ray Train workers (harness/sweep/data_parallel.py) and keeps only a small share of a CPU.
"""

from __future__ import annotations

import os

from harness.config import ExperimentConfig
from harness.errors import HarnessError

DRIVER_CPU = 0.01  # the Tune trial's own share of sweep.cpus_per_trial while Ray Train's workers run


def tune_resources(cfg: ExperimentConfig) -> dict[str, float]:
    """What the Tune trial itself reserves: everything for one worker; a small share of a CPU
    when Ray Train's workers reserve the trial's CPUs and GPUs themselves. sweep.trial_resources
    (custom resources) go to the trial and to each Ray Train worker: all of them land on such nodes."""
    if cfg.sweep.trial_workers() == 1:
        return {"cpu": cfg.sweep.cpus_per_trial, "gpu": cfg.sweep.gpus_per_trial, **cfg.sweep.trial_resources}
    return {"cpu": DRIVER_CPU, "gpu": 0.0, **cfg.sweep.trial_resources}


def worker_resources(cfg: ExperimentConfig) -> dict[str, float]:
    """Each Ray Train worker's share: the trial's GPUs and the rest of its CPUs, split evenly."""
    workers = cfg.sweep.trial_workers()
    cpus = max(cfg.sweep.cpus_per_trial - DRIVER_CPU, DRIVER_CPU)
    return {"CPU": cpus / workers, "GPU": cfg.sweep.gpus_per_trial / workers, **cfg.sweep.trial_resources}


def check_local_resources(cfg: ExperimentConfig) -> None:
    """A local Ray cannot grow: a trial asking for more than this machine has would wait forever."""
    cpus = os.cpu_count() or 1
    if cfg.sweep.trial_resources:  # a local Ray declares no custom resources: the trials would never start
        raise HarnessError(f"sweep.trial_resources={cfg.sweep.trial_resources} needs --address of a cluster whose "
                           "nodes declare them (ray start --resources)")
    if cfg.sweep.cpus_per_trial > cpus:
        raise HarnessError(f"sweep.cpus_per_trial={cfg.sweep.cpus_per_trial:g} but this machine has {cpus} CPUs; "
                           "lower it or pass --address of a cluster")
    if cfg.sweep.gpus_per_trial > 0:
        import torch

        gpus = torch.cuda.device_count()
        if cfg.sweep.gpus_per_trial > gpus:
            raise HarnessError(f"sweep.gpus_per_trial={cfg.sweep.gpus_per_trial:g} but this machine has {gpus} GPU(s); "
                               "set sweep.gpus_per_trial=0 or pass --address of a GPU cluster")
