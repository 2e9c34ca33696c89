"""Where the run record goes: the tracking URI, the experiment, its artifact location, the server check.

Default store: ``sqlite:///<paths.runs>/mlflow.db`` with artifacts under
``<paths.runs>/mlartifacts`` (an explicit artifact location: MLflow would otherwise write
``./mlruns``). A sqlite file takes one writer: only the sweep driver logs.
Light on purpose (no MLflow import): reports and `harness ui` use it too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness.config import ExperimentConfig
from harness.errors import HarnessError

REMOTE_SCHEMES = ("http://", "https://")
SQLITE_PREFIX = "sqlite:///"


def tracking_uri(cfg: ExperimentConfig) -> str:
    """cfg.tracking.uri, or the default sqlite store inside paths.runs (absolute)."""
    if cfg.tracking.uri:
        return cfg.tracking.uri
    return f"{SQLITE_PREFIX}{(Path(cfg.paths.runs).resolve() / 'mlflow.db')}"


def artifact_location(cfg: ExperimentConfig, experiment: str) -> str | None:
    """Explicit artifact folder for local stores; a server decides its own (None)."""
    uri = tracking_uri(cfg)
    if uri.startswith((*REMOTE_SCHEMES, "databricks")):
        return None
    return (Path(cfg.paths.runs).resolve() / "mlartifacts" / experiment).as_uri()


def experiment_name(cfg: ExperimentConfig) -> str:
    """The MLflow experiment of a config: tracking.experiment, else the experiment's name."""
    return cfg.tracking.experiment or cfg.name


def git_commit(repo: Path | None = None) -> str:
    """HEAD of the repository holding this package ('unknown' outside git)."""
    where = repo or Path(__file__).resolve().parents[2]
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
