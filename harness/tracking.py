"""MLflow tracking for sweeps: an experiment per experiment file, a parent run per sweep, a
child run per trial. Resume-safe: a sweep maps to one parent run (tag ``harness.sweep_id``)
and a trial to one child run (tag ``trial_key`` = ``<variant>-s<seed>`` under that parent),
so a resumed or retried trial writes into its existing run.

Default store: ``sqlite:///<paths.runs>/mlflow.db`` with artifacts under
``<paths.runs>/mlartifacts`` (an explicit artifact location: MLflow would otherwise write
``./mlruns``). A sqlite file takes one writer: only the sweep driver logs (stack.md).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.config import ExperimentConfig
from harness.errors import HarnessError

PARENT_TAG = "mlflow.parentRunId"
SWEEP_TAG = "harness.sweep_id"
TRIAL_TAG = "trial_key"
KIND_TAG = "mlflow.experimentKind"  # the MLflow UI's experiment type: runs page, not GenAI traces
MAX_PARAM_CHARS = 6000  # MLflow's limit on a param value
SKIPPED_PARAM_PREFIXES = ("sweep.variants", "tune.space")  # logged on the parent (they are the sweep, not the trial)


def tracking_uri(cfg: ExperimentConfig) -> str:
    """cfg.tracking.uri, or the default sqlite store inside paths.runs (absolute)."""
    if cfg.tracking.uri:
        return cfg.tracking.uri
    return f"sqlite:///{(Path(cfg.paths.runs).resolve() / 'mlflow.db')}"


def artifact_location(cfg: ExperimentConfig, experiment: str) -> str | None:
    """Explicit artifact folder for local stores; a server decides its own (None)."""
    uri = tracking_uri(cfg)
    if uri.startswith(("http://", "https://", "databricks")):
        return None
    return (Path(cfg.paths.runs).resolve() / "mlartifacts" / experiment).as_uri()


def experiment_name(cfg: ExperimentConfig) -> str:
    return cfg.tracking.experiment or cfg.name


def trial_key(variant: str, seed: int) -> str:
    """The run name and resume key of one trial."""
    return f"{variant}-s{seed}"


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested dict -> {"a.b.c": "value"}; lists and None become JSON text."""
    out: dict[str, str] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, dotted + "."))
        elif isinstance(value, str):
            out[dotted] = value
        else:
            out[dotted] = json.dumps(value, sort_keys=True)
    return out


def trial_params(cfg: ExperimentConfig) -> dict[str, str]:
    """The trial's resolved config as MLflow params (sweep-level keys left out, values capped)."""
    flat = flatten(cfg.to_dict())
    return {k: v[:MAX_PARAM_CHARS] for k, v in flat.items() if not k.startswith(SKIPPED_PARAM_PREFIXES)}


def switch_tags(cfg: ExperimentConfig) -> dict[str, str]:
    """One tag per ablation switch, so the compare view shows the ablation at a glance."""
    phd = cfg.loss.phd
    return {
        "apdh": str(cfg.model.apdh.enabled).lower(),
        "apdh_drop_phases": ",".join(cfg.model.apdh.drop_phases) or "none",
        "hpa": str(cfg.data.hpa.enabled).lower(),
        "phd_pose": str(phd.pose.enabled).lower(),
        "phd_detail": str(phd.detail.enabled).lower(),
        "phd_low": str(phd.low.enabled).lower(),
    }


def init_tags(cfg: ExperimentConfig) -> dict[str, str]:
    """A run that starts from model.init: the checkpoint's path and the sha256 of every file it was
    imported from (``init_sha256.<file>``, recorded by `harness weights import-release`)."""
    if cfg.model.init is None:
        return {}
    from harness.model.release.init import init_tags as read_init_tags  # torch: only for such runs

    return read_init_tags(cfg.model.init)


def git_commit(repo: Path | None = None) -> str:
    """HEAD of the repository holding this package ('unknown' outside git)."""
    where = repo or Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def check_server(uri: str, timeout: float = 10.0) -> None:
    """Fail in one line, at once, when an MLflow server does not answer (the client would retry for minutes)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as resp:
            if resp.status == 200:
                return
            reason = f"HTTP {resp.status}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = str(getattr(exc, "reason", exc))
    raise HarnessError(f"tracking.uri {uri}: no MLflow server answers ({reason}); start one with "
                       "`mlflow server --host 127.0.0.1 --port PORT` or leave tracking.uri unset for the sqlite store")


class Tracker:
    """Thin layer over MlflowClient (explicit run ids, no global active run)."""

    def __init__(self, cfg: ExperimentConfig) -> None:
        from mlflow.tracking import MlflowClient

        self.uri = tracking_uri(cfg)
        if self.uri.startswith(("http://", "https://")):
            check_server(self.uri)
        if self.uri.startswith("sqlite:///"):
            Path(self.uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(tracking_uri=self.uri)
        self.experiment_id = self._experiment(experiment_name(cfg), artifact_location(cfg, experiment_name(cfg)))

    def _experiment(self, name: str, location: str | None) -> str:
        try:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                experiment_id = self.client.create_experiment(name, artifact_location=location)
            else:
                experiment_id = found.experiment_id
            if found is None or KIND_TAG not in found.tags:
                # MLflow 3 opens an untagged experiment on its GenAI (traces) page; runs are what we have
                self.client.set_experiment_tag(experiment_id, KIND_TAG, "custom_model_development")
            return experiment_id
        except Exception as exc:  # noqa: BLE001  unreachable server, bad URI: one clear line
            raise HarnessError(f"MLflow at {self.uri}: cannot open experiment {name!r} ({exc.__class__.__name__}: {exc})") from None

    def _find(self, filter_string: str) -> str | None:
        runs = self.client.search_runs([self.experiment_id], filter_string=filter_string, max_results=1,
                                       order_by=["attributes.start_time DESC"])
        return runs[0].info.run_id if runs else None

    def parent_run(self, sweep_id: str, name: str, tags: Mapping[str, str] | None = None,
                   params: Mapping[str, str] | None = None, role: str = "sweep") -> str:
        """The sweep's (or tuning study's, role="study") parent run: reused when it exists (resume), else created."""
        run_id = self._find(f"tags.`{SWEEP_TAG}` = '{sweep_id}' and tags.`harness.role` = '{role}'")
        if run_id is not None:
            self.client.update_run(run_id, status="RUNNING")
            return run_id
        run = self.client.create_run(self.experiment_id, run_name=name,
                                     tags={SWEEP_TAG: sweep_id, "harness.role": role, **(tags or {})})
        self.log_params(run.info.run_id, params or {})
        return run.info.run_id

    def trial_run(self, parent_id: str, key: str, cfg: ExperimentConfig, tags: Mapping[str, str] | None = None,
                  params: Mapping[str, str] | None = None) -> str:
        """The trial's child run under parent_id: reused when one with this trial_key exists.

        params: logged besides the resolved config when the run is created (e.g. tuning's
        stage boundaries in steps).
        """
        run_id = self._find(f"tags.`{PARENT_TAG}` = '{parent_id}' and tags.`{TRIAL_TAG}` = '{key}'")
        if run_id is not None:
            self.client.update_run(run_id, status="RUNNING")
            return run_id
        all_tags = {PARENT_TAG: parent_id, TRIAL_TAG: key, "harness.role": "trial", "seed": str(cfg.train.seed),
                    "config_hash": cfg.config_hash(), **switch_tags(cfg), **init_tags(cfg), **(tags or {})}
        run = self.client.create_run(self.experiment_id, run_name=key, tags=all_tags)
        self.log_params(run.info.run_id, {**trial_params(cfg), **(params or {})})
        return run.info.run_id

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow's batch limit on params
            self.client.log_batch(run_id, params=items[i : i + 100])

    def log_metrics(self, run_id: str, values: Mapping[str, float], step: int) -> None:
        """Numeric values at one step (None/NaN-free; non-numbers are skipped)."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step) for k, v in values.items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v]
        if items:
            self.client.log_batch(run_id, metrics=items)

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])

    def log_results(self, run_id: str, results: Iterable[Mapping[str, Any]], step: int) -> None:
        """Final metrics (MetricResult dicts): value as a metric, backend/exactness as tags."""
        results = list(results)
        self.log_metrics(run_id, {r["key"]: r["value"] for r in results if r.get("value") is not None}, step)
        tags: dict[str, Any] = {}
        for r in results:
            tags[f"{r['key']}_backend"] = r["backend"]
            tags[f"{r['key']}_exact"] = str(bool(r["exact"])).lower()
            if r.get("value") is None:
                tags[f"{r['key']}_missing"] = r.get("note") or "missing"
        tags["metric_backends"] = ",".join(sorted({r["backend"] for r in results}))
        self.set_tags(run_id, tags)

    def log_artifacts(self, run_id: str, folder: Path, path: str | None = None) -> None:
        self.client.log_artifacts(run_id, str(folder), artifact_path=path)

    def finish(self, run_id: str, error: str | None = None) -> None:
        """FINISHED, or FAILED with the error as a tag."""
        if error is not None:
            self.set_tags(run_id, {"error": error})
        self.client.set_terminated(run_id, status="FAILED" if error is not None else "FINISHED")

    def child_runs(self, parent_id: str) -> list:
        """Every child run of a parent (for tests, reports and resume checks)."""
        return self.client.search_runs([self.experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{parent_id}'",
                                       max_results=1000)
