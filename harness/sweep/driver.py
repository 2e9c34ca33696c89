"""`run_sweep(cfg)`: every variant x seed as one Ray Tune trial, tracked in MLflow by the driver.

Folders (under paths.runs, shared storage on a cluster):

    sweeps/<name>-<config hash>/sweep.json        the sweep id (keys its MLflow parent run)
    sweeps/<name>-<config hash>/tune/             Tune's experiment state and trial checkpoints
    sweeps/<name>-<config hash>/trials/<v>-s<s>/  each trial's trainer run folder and outputs
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import ExperimentConfig
from harness.errors import HarnessError
from harness.sweep.data_parallel import tune_resources, workers_per_trial
from harness.tracking import trial_key

VARIANT_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # they become run names, folder names, filter values
WORKER_ENV = ("RAY_AUTH_MODE", "HARNESS_SWEEP_FAIL_ONCE", "HARNESS_WEIGHTS")


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


def absolute_base(cfg: ExperimentConfig) -> dict[str, Any]:
    """The config as a dict with every relative path made absolute (Tune trials run elsewhere)."""
    raw = cfg.to_dict()
    for section, key in (("paths", "runs"), ("paths", "weights"), ("data", "root"), ("model", "pretrained_dir"),
                         ("model", "init"), ("model", "motion_adapter"), ("model", "whisper_path")):
        value = raw[section].get(key)
        if value:
            raw[section][key] = str(Path(value).resolve())
    return raw


def check_sweep(cfg: ExperimentConfig) -> None:
    """User mistakes a sweep finds before starting anything (one line each)."""
    gpus, workers = cfg.sweep.gpus_per_trial, workers_per_trial(cfg)
    if gpus > 1 and (gpus != int(gpus) or gpus / workers > 1):
        raise HarnessError(f"sweep.gpus_per_trial={gpus:g} with sweep.workers_per_trial={workers}: a trial on several "
                           "GPUs takes a whole number of them, one per data-parallel worker")
    bad = [v for v in cfg.sweep.variants if not VARIANT_NAME.fullmatch(v)]
    if bad:
        raise HarnessError(f"sweep.variants: names may use letters, digits, '_', '.', '-' only; got {bad}")
    if len(set(cfg.sweep.seeds)) != len(cfg.sweep.seeds):
        raise HarnessError(f"sweep.seeds: repeated seeds {cfg.sweep.seeds}")
    for key, path in (("model.init", cfg.model.init), ("model.motion_adapter", cfg.model.motion_adapter)):
        if path is not None and not Path(path).is_file():  # every trial would fail on it
            raise HarnessError(f"{key}: {path}: no such file" + (" (import the release with `harness weights "
                               "import-release`, docs/release.md)" if key == "model.init" else ""))


def check_local_resources(cfg: ExperimentConfig) -> None:
    """A local Ray cannot grow: a trial asking for more than this machine has would wait forever."""
    cpus = os.cpu_count() or 1
    if cfg.sweep.cpus_per_trial > cpus:
        raise HarnessError(f"sweep.cpus_per_trial={cfg.sweep.cpus_per_trial:g} but this machine has {cpus} CPUs; "
                           "lower it or pass --address of a cluster")
    if cfg.sweep.gpus_per_trial > 0:
        import torch

        gpus = torch.cuda.device_count()
        if cfg.sweep.gpus_per_trial > gpus:
            raise HarnessError(f"sweep.gpus_per_trial={cfg.sweep.gpus_per_trial:g} but this machine has {gpus} GPU(s); "
                               "set sweep.gpus_per_trial=0 or pass --address of a GPU cluster")


def existing_id(folder: Path, resume: bool, kind: str = "sweep") -> str | None:
    """The id in folder/<kind>.json of a sweep or study (None if new); refuse to silently restart one."""
    state = folder / f"{kind}.json"
    if not state.is_file():
        return None
    if not resume:
        raise HarnessError(f"{folder}: this {kind} already exists; add --resume to continue it "
                           "(finished trials are kept) or delete the folder to start over")
    return json.loads(state.read_text())[f"{kind}_id"]


def _new_sweep_id(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    sweep_id = uuid.uuid4().hex[:16]
    (folder / "sweep.json").write_text(json.dumps({"sweep_id": sweep_id, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")
    return sweep_id


def dataset_hash(root: Path) -> str:
    """12-hex hash of the dataset's index.json (params + clip list)."""
    path = Path(root) / "index.json"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "unknown"


def init_ray(address: str | None, cfg: ExperimentConfig) -> str | None:
    """Join a cluster, or start a local Ray with its own short temp dir (returned for cleanup)."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_num_prestart_python_workers", "0")
    import ray

    env = {k: os.environ[k] for k in WORKER_ENV if k in os.environ}
    runtime_env = {"env_vars": env}
    if address:
        try:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise HarnessError(f"cannot connect to the Ray cluster at {address}: {exc}") from None
        return None
    parent = os.environ.get("RAY_TMPDIR", "/tmp")  # keep it short: Ray's socket paths live here
    Path(parent).mkdir(parents=True, exist_ok=True)
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir=parent)
    ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
             _temp_dir=temp_dir, runtime_env=runtime_env)
    return temp_dir


def _trainable(cfg: ExperimentConfig, base: dict[str, Any], folder: Path):
    from ray import tune

    from harness.sweep.trial import sweep_trainable

    fn = tune.with_parameters(sweep_trainable, base=base, sweep_dir=str(folder))
    return tune.with_resources(fn, tune_resources(cfg))


def _tuner(cfg: ExperimentConfig, base: dict[str, Any], folder: Path, callback: Any, resume: bool, verbose: int):
    """A new Tuner, or the restored one when --resume finds Tune state (errored trials rerun)."""
    from ray import tune

    from harness.sweep.trial import trial_dirname

    trainable = _trainable(cfg, base, folder)
    path = folder / "tune"
    if resume and tune.Tuner.can_restore(str(path)):
        try:
            return tune.Tuner.restore(str(path), trainable, resume_errored=True)
        except IndexError:  # interrupted before any trial started (stack.md): start over
            shutil.rmtree(path, ignore_errors=True)
    space = {"variant": tune.grid_search(list(cfg.sweep.variants)), "seed": tune.grid_search(list(cfg.sweep.seeds))}
    tune_cfg = tune.TuneConfig(max_concurrent_trials=cfg.sweep.max_concurrent or None,
                               trial_dirname_creator=trial_dirname)
    run_cfg = tune.RunConfig(name="tune", storage_path=str(folder), callbacks=[callback], verbose=verbose,
                             failure_config=tune.FailureConfig(max_failures=cfg.sweep.max_failures))
    return tune.Tuner(trainable, param_space=space, tune_config=tune_cfg, run_config=run_cfg)


def run_sweep(cfg: ExperimentConfig, address: str | None = None, resume: bool = False, verbose: int = 1) -> SweepSummary:
    """Run (or with resume=True continue) the sweep of cfg; returns one summary row per trial.

    verbose: Tune's status output on stdout (0 = none, 1 = status tables).
    """
    from harness.data.synth import ensure_dataset
    from harness.sweep.callback import MlflowSweepCallback
    from harness.tracking import Tracker, tracking_uri

    check_sweep(cfg)
    if not address:
        check_local_resources(cfg)
    folder = sweep_folder(cfg)
    existing = existing_id(folder, resume)
    Tracker(cfg)  # open the store (one line on a bad URI) before anything is written
    start = time.perf_counter()
    data_hash = dataset_hash(ensure_dataset(cfg))  # generate once here, not in every trial
    sweep_id = existing or _new_sweep_id(folder)
    base = absolute_base(cfg)
    callback = MlflowSweepCallback(base, sweep_id, sweep_name(cfg), data_hash)
    callback.parent()  # the parent run exists before Ray starts
    temp_dir: str | None = None
    try:
        temp_dir = init_ray(address, cfg)
        grid = _tuner(cfg, base, folder, callback, resume, verbose).fit()
        trials = [_summary(r) for r in grid]
        if any(t.status == "INCOMPLETE" for t in trials):  # Tune stopped early (Ctrl-C): state is saved
            callback.mark_interrupted()
    except BaseException:
        callback.mark_interrupted()
        raise
    finally:
        import ray

        ray.shutdown()
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)
    return SweepSummary(sweep_name(cfg), folder, tracking_uri(cfg), time.perf_counter() - start, trials)


def _summary(result: Any) -> TrialSummary:
    metrics = result.metrics or {}
    if not result.config:  # a trial Tune never started (e.g. the sweep was interrupted first)
        return TrialSummary("(not started)", "INCOMPLETE", {}, "", 0.0)
    key = trial_key(result.config["variant"], result.config["seed"])
    finals = {k.removeprefix("final/"): v for k, v in metrics.items() if k.startswith("final/")}
    own = float(metrics.get("time_total_s", 0.0))
    if result.error is not None:
        return TrialSummary(key, "ERROR", finals, str(result.error).strip().splitlines()[-1][:300], own)
    return TrialSummary(key, "TERMINATED" if metrics.get("trial_done") else "INCOMPLETE", finals, "", own)
