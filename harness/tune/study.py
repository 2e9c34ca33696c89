"""The Optuna side of a tuning study: storage, the study itself, its objectives as Tune metrics.

The study's name, objectives and search space are checked by the schema (harness/config_checks.py).
The study lives in a real Optuna RDB storage: by default ``sqlite:///<study folder>/optuna.db``
(only the driver writes to it: the searcher runs in the driver), on clusters any SQLAlchemy URL
in ``tune.storage`` (e.g. PostgreSQL). The study records the config hash that made it, so a
resumed study is always continued with the config it was started with.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from harness.config import ExperimentConfig
from harness.errors import HarnessError
from harness.runs.schema import Curves

CONNECT_TIMEOUT_S = 10  # an unreachable database server fails in seconds, not minutes


def study_name(cfg: ExperimentConfig) -> str:
    """tune.study_name, or the experiment name."""
    return cfg.tune.study_name or cfg.name


def metric_key(metric: str) -> str:
    """The Tune result key an objective is read from (every evaluation reports it)."""
    return f"{Curves.EVAL_PREFIX}{metric}"  # also the MLflow curve the tune callback logs


def tune_metrics(cfg: ExperimentConfig) -> tuple[list[str], list[str]]:
    """(Tune metric keys, Tune modes "min"/"max") of the objectives, in order."""
    keys = [metric_key(o.metric) for o in cfg.tune.objectives]
    modes = ["min" if o.direction == "minimize" else "max" for o in cfg.tune.objectives]
    return keys, modes


def storage_url(cfg: ExperimentConfig, folder: Path) -> str:
    """tune.storage, or the sqlite file inside the study folder."""
    return cfg.tune.storage or f"sqlite:///{Path(folder).resolve() / 'optuna.db'}"


def redact(url: str) -> str:
    """The URL without its password (for messages and MLflow tags)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001  not even a URL: show the scheme only
        return url.split("://", 1)[0] + "://..."


def open_storage(url: str) -> Any:
    """An optuna RDBStorage for url; one line naming tune.storage when it cannot be opened."""
    import optuna

    kwargs: dict[str, Any] = {}
    if url.startswith(("postgresql", "mysql")):
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs or None)
    except Exception as exc:  # noqa: BLE001  bad URL, missing driver, no server, no permission
        reason = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:300]
        raise HarnessError(f"tune.storage: cannot open Optuna storage {redact(url)} ({reason})") from None


def load_study(storage: Any, cfg: ExperimentConfig, resume: bool) -> Any:
    """The existing study (with --resume) or None for a new one; refuses to restart or mix configs.

    Read-only: the study is created by create_study once everything else has been checked.
    """
    import optuna

    name = study_name(cfg)
    where = redact(storage.url)
    if name not in optuna.study.get_all_study_names(storage):
        return None
    if not resume:
        raise HarnessError(f"tune.study_name: study {name!r} already exists in {where}; add --resume to continue "
                           "it or set another tune.study_name")
    study = optuna.load_study(study_name=name, storage=storage)
    made_by = study.user_attrs.get("config_hash")
    if made_by != cfg.config_hash():
        raise HarnessError(f"tune.study_name: study {name!r} in {where} was made by config {made_by}, this config "
                           f"is {cfg.config_hash()}; set another tune.study_name for a new study")
    directions = [d.name.lower() for d in study.directions]
    if directions != [o.direction for o in cfg.tune.objectives]:
        raise HarnessError(f"tune.objectives: study {name!r} in {where} has directions {directions}")
    return study


def create_study(storage: Any, cfg: ExperimentConfig) -> Any:
    """A new study with the objectives' directions; it records the config hash that made it."""
    import optuna

    study = optuna.create_study(storage=storage, study_name=study_name(cfg),
                                directions=[o.direction for o in cfg.tune.objectives])
    with warnings.catch_warnings():  # Optuna marks set_metric_names experimental (a warning per call)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([o.metric for o in cfg.tune.objectives])  # named objectives in optuna-dashboard
    study.set_user_attr("config_hash", cfg.config_hash())
    study.set_user_attr("objectives", [o.model_dump() for o in cfg.tune.objectives])
    return study


def finished_count(study: Any) -> int:
    """Trials that ended (complete, pruned or failed): they count against tune.trials."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)))
