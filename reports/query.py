"""MLflow -> pandas: a sweep's trials (variant, seed, status, metrics, backends, error) and curves.

Reads only; never creates an experiment or a run. The layout it reads is the run record
harness/runs/schema.py names (written by harness/runs/tracker.py and the sweep and tune
callbacks): a parent run per sweep (``Role.SWEEP``: ``SweepTags``), a child run per trial
(``Role.TRIAL``: ``TrialTags``), final metrics with their provenance (backend, exact, missing: the
``Artifacts.PROVENANCE`` JSON; a store written before it: ``MetricTags``), curves (``Curves``), an
error tag on FAILED runs, and the trial's records (``TrialParams``).
Trials of the sweep's grid that have no run are rows with status ``NOT RUN``, so a report
shows them instead of dropping them. A tuning study (``Role.STUDY``, a child run per Optuna
trial with its number, outcome and Optuna's verdict) is read by ``read_study``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness.config import ExperimentConfig
from harness.errors import HarnessError
from harness.runs.schema import (ROLE, Artifacts, Curves, MetricTags, Role, StudyTags, SweepTags, TrialParams,
                                 TrialTags, parent_filter, role_filter, split_trial_key, trial_key)
from harness.runs.store import REMOTE_SCHEMES, SQLITE_PREFIX, check_server, experiment_name, tracking_uri

SWEEP_FILTER = role_filter(Role.SWEEP)
STUDY_FILTER = role_filter(Role.STUDY)
NOT_RUN = "NOT RUN"
BASE_COLUMNS = ["run_id", "trial_key", "variant", "seed", "status", "error", "baseline", "start_time",
                "git_commit", "config_hash", "dataset_hash"]


@dataclass
class Store:
    """An opened MLflow store and the experiment a report reads."""

    client: Any  # mlflow.tracking.MlflowClient
    uri: str
    experiment: str
    experiment_id: str


@dataclass
class Sweep:
    """One sweep's parent run and its trials."""

    run_id: str
    name: str
    sweep_id: str
    status: str
    start_time: int
    tags: dict[str, str]
    filter_string: str  # the query that found the trials
    trials: pd.DataFrame  # one row per grid cell (variant x seed): BASE_COLUMNS + metric columns
    params: dict[str, dict[str, str]] = field(default_factory=dict)  # run_id -> the trial's resolved config

    @property
    def metric_keys(self) -> list[str]:
        return metric_keys(self.trials)

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(self.trials["variant"]))


def open_store(cfg: ExperimentConfig) -> Store:
    """The configured store and experiment, or one line saying why there is nothing to read."""
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(cfg)
    name = experiment_name(cfg)
    if uri.startswith(SQLITE_PREFIX):
        db = Path(uri.removeprefix(SQLITE_PREFIX))
        if not db.is_file():
            raise HarnessError(f"{db}: no MLflow store yet; run `harness sweep` on this experiment first")
    elif uri.startswith(REMOTE_SCHEMES):
        check_server(uri)
    client = MlflowClient(tracking_uri=uri)
    try:
        exp = client.get_experiment_by_name(name)
    except Exception as exc:  # noqa: BLE001  unreadable store or bad URI: one clear line
        raise HarnessError(f"MLflow at {uri}: cannot read experiment {name!r} ({exc.__class__.__name__}: {exc})") from None
    if exp is None:
        raise HarnessError(f"MLflow at {uri}: no experiment {name!r}; run `harness sweep` on it first")
    return Store(client, uri, name, exp.experiment_id)


def search_all(store: Store, filter_string: str, order_by: list[str] | None = None) -> list:
    """Every run matching filter_string in the store's experiment (all pages)."""
    runs: list = []
    token = None
    while True:
        page = store.client.search_runs([store.experiment_id], filter_string=filter_string, max_results=1000,
                                        order_by=order_by, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def find_sweep(store: Store, selector: str | None = None) -> Any:
    """The newest sweep parent run, or the one whose run id, sweep id, sweep name or run name is selector."""
    parents = search_all(store, SWEEP_FILTER, order_by=["attributes.start_time DESC"])
    if not parents:
        study = " (it has a tuning study: report it without --sweep, or with --study)" \
            if search_all(store, STUDY_FILTER) else ""
        raise HarnessError(f"experiment {store.experiment!r} at {store.uri} has no sweep runs{study}; "
                           "run `harness sweep` first")
    if selector is None:
        return parents[0]
    for run in parents:
        tags = run.data.tags
        names = {run.info.run_id, run.info.run_name, tags.get(SweepTags.SWEEP_ID), tags.get(SweepTags.SWEEP_NAME)}
        if selector in names:
            return run
    known = ", ".join(dict.fromkeys(r.data.tags.get(SweepTags.SWEEP_NAME) or r.info.run_name for r in parents[:10]))
    raise HarnessError(f"--sweep {selector}: no such sweep in experiment {store.experiment!r} (newest: {known})")


def load_sweep(store: Store, selector: str | None = None) -> Sweep:
    """The sweep's parent run and a DataFrame of its trials (one row per variant x seed)."""
    parent = find_sweep(store, selector)
    pid = parent.info.run_id
    query = parent_filter(pid)
    children = [r for r in search_all(store, query, order_by=["attributes.start_time ASC"])
                if r.data.tags.get(ROLE, Role.TRIAL) == Role.TRIAL and TrialTags.TRIAL_KEY in r.data.tags]
    rows: dict[str, dict[str, Any]] = {}
    params: dict[str, dict[str, str]] = {}
    for run in children:  # ascending start time: a duplicate trial_key keeps the newest run
        row = trial_row(run, metric_provenance(store, run))
        rows[row["trial_key"]] = row
        params[run.info.run_id] = dict(run.data.params)
    tags = dict(parent.data.tags)
    seeds = [int(s) for s in _split(tags.get(SweepTags.SEEDS))]
    frame = _with_grid(list(rows.values()), _split(tags.get(SweepTags.VARIANTS)), seeds)
    name = tags.get(SweepTags.SWEEP_NAME) or parent.info.run_name or pid
    return Sweep(pid, name, tags.get(SweepTags.SWEEP_ID, ""), parent.info.status, int(parent.info.start_time or 0),
                 tags, query, frame, params)


def metric_provenance(store: Store, run: Any) -> dict[str, dict[str, Any]]:
    """{metric: {"backend", "exact", "missing"}} of a run's final metrics: its provenance artifact, or (a
    store written before it) its per-metric tags; {} when it has neither (failed before evaluating)."""
    tags = run.data.tags
    if TrialTags.PROVENANCE in tags:
        try:
            return json.loads(read_artifact(store, run, Artifacts.PROVENANCE))
        except Exception as exc:  # noqa: BLE001  a missing or unreadable artifact: one line naming the run
            raise HarnessError(f"run {run.info.run_id}: cannot read its {Artifacts.PROVENANCE} "
                               f"({exc.__class__.__name__}: {exc})") from None
    found = {}
    for metric in (t.removesuffix(MetricTags.BACKEND) for t in tags if t.endswith(MetricTags.BACKEND)):
        found[metric] = {"backend": tags[MetricTags.backend(metric)], "exact": tags.get(MetricTags.exact(metric)) == "true",
                         "missing": tags.get(MetricTags.missing(metric), "")}
    return found


def read_artifact(store: Store, run: Any, path: str) -> str:
    """One small text artifact of a run: read in place from a local artifact store, else downloaded."""
    import os
    import tempfile
    from urllib.parse import unquote, urlparse

    uri = run.info.artifact_uri or ""
    if uri.startswith("file://"):
        return (Path(unquote(urlparse(uri).path)) / path).read_text(encoding="utf-8")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no progress bar per run on stderr
    with tempfile.TemporaryDirectory(prefix="harness-art-") as tmp:
        return Path(store.client.download_artifacts(run.info.run_id, path, tmp)).read_text(encoding="utf-8")


def trial_row(run: Any, provenance: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One child run as a flat dict: identity, status, error, and per metric value/backend/exact/missing
    (provenance: metric_provenance's record of the run)."""
    tags, values = run.data.tags, run.data.metrics
    key = tags[TrialTags.TRIAL_KEY]
    variant, seed_text = split_trial_key(key)
    row: dict[str, Any] = {
        "run_id": run.info.run_id, "trial_key": key, "variant": tags.get(TrialTags.VARIANT, variant),
        "seed": int(tags.get(TrialTags.SEED, seed_text)), "status": run.info.status,
        "error": tags.get(TrialTags.ERROR, ""), "baseline": tags.get(TrialTags.BASELINE) == "true",
        "start_time": int(run.info.start_time or 0), "git_commit": tags.get(TrialTags.GIT_COMMIT, ""),
        "config_hash": tags.get(TrialTags.CONFIG_HASH, ""), "dataset_hash": tags.get(TrialTags.DATASET_HASH, ""),
    }
    # frame columns <metric>_backend/_exact/_missing (the report's own names)
    for metric in sorted(provenance):
        value, item = values.get(metric), provenance[metric]
        row[metric] = float(value) if value is not None and math.isfinite(value) else math.nan
        row[f"{metric}_backend"] = item["backend"]
        row[f"{metric}_exact"] = bool(item["exact"])
        row[f"{metric}_missing"] = item.get("missing") or ""
    return row


def metric_keys(trials: pd.DataFrame) -> list[str]:
    """The final-metric keys present in a trials frame (those with a backend column), in table order."""
    from reports.labels import metric_order

    return metric_order({c.removesuffix("_backend") for c in trials.columns if c.endswith("_backend")})


def _split(text: str | None) -> list[str]:
    return [t for t in (text or "").split(",") if t]


def _with_grid(rows: list[dict[str, Any]], variants: list[str], seeds: list[int]) -> pd.DataFrame:
    """Rows for every variant x seed of the grid (NOT RUN where no run exists), grid order first."""
    have = {r["trial_key"] for r in rows}
    for variant in variants:
        for seed in seeds:
            if trial_key(variant, seed) not in have:
                rows.append({"run_id": "", "trial_key": trial_key(variant, seed), "variant": variant, "seed": seed,
                             "status": NOT_RUN, "error": "", "baseline": False, "start_time": 0})
    order = {v: i for i, v in enumerate(variants)}
    rows.sort(key=lambda r: (order.get(r["variant"], len(order)), r["variant"], r["seed"]))  # grid order, then others
    frame = pd.DataFrame(rows)
    for col in BASE_COLUMNS:
        if col not in frame.columns:
            frame[col] = ""
    for metric in metric_keys(frame):
        frame[metric] = frame[metric].astype(float)
        for suffix, empty in (("_backend", ""), ("_missing", "")):
            frame[f"{metric}{suffix}"] = frame[f"{metric}{suffix}"].fillna(empty)
        frame[f"{metric}_exact"] = frame[f"{metric}_exact"].astype("boolean")
    for col in ("error", "git_commit", "config_hash", "dataset_hash"):
        frame[col] = frame[col].fillna("")
    frame["baseline"] = frame["baseline"].fillna(False).astype(bool)
    return frame.reset_index(drop=True)


def metric_history(store: Store, trials: pd.DataFrame, key: str = Curves.LOSS) -> pd.DataFrame:
    """A curve of every run: columns variant, seed, trial_key, step, value (a re-logged step keeps its last value)."""
    parts = []
    for row in trials[trials["run_id"] != ""].itertuples():
        history = store.client.get_metric_history(row.run_id, key)
        if not history:
            continue
        points = pd.DataFrame([(m.step, m.timestamp, m.value) for m in history], columns=["step", "timestamp", "value"])
        points = points.sort_values(["timestamp"], kind="stable").drop_duplicates("step", keep="last")
        parts.append(points.assign(variant=row.variant, seed=row.seed, trial_key=row.trial_key))
    if not parts:
        return pd.DataFrame(columns=["variant", "seed", "trial_key", "step", "value"])
    out = pd.concat(parts, ignore_index=True).sort_values(["trial_key", "step"], kind="stable")
    return out[["variant", "seed", "trial_key", "step", "value"]].reset_index(drop=True)


def study_objectives(study: Any, fallback: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """[(metric, "lower"|"higher")] from the study run's objectives tag ("fid:minimize,ssim:maximize"), else fallback."""
    found = []
    for item in _split(study.data.tags.get(StudyTags.OBJECTIVES)):
        metric, _, direction = item.partition(":")
        if direction in ("minimize", "maximize"):
            found.append((metric, "lower" if direction == "minimize" else "higher"))
    return found or fallback


@dataclass
class Study:
    """One tuning study's parent run (harness.role=study) and its trials (one row per child run)."""

    run: Any  # the parent run (mlflow.entities.Run)
    objectives: list[tuple[str, str]]  # [(metric, "lower"|"higher")], the study's order
    filter_string: str  # the query that found the trials
    trials: pd.DataFrame  # STUDY_COLUMNS + per objective: value, <metric>_missing; sorted by trial number
    params: dict[str, dict[str, str]] = field(default_factory=dict)  # run_id -> the trial's params

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.run.data.tags)

    @property
    def name(self) -> str:
        return self.run.info.run_name or self.run.data.tags.get(StudyTags.STUDY) or self.run_id

    @property
    def tuned_keys(self) -> list[str]:
        """The config keys the study samples, in the space's order: the parent's tuned-keys tag, else the
        keys of the first trial's tuned-values record, else none (a store older than either)."""
        keys = _split(self.run.data.tags.get(StudyTags.TUNED_KEYS))
        if keys:
            return keys
        for params in self.params.values():
            if TrialParams.TUNED_VALUES in params:
                return list(json.loads(params[TrialParams.TUNED_VALUES]))
        return []


# Optuna's verdict and why a trial ended: "" where a run lacks them (frame columns named as the tags)
VERDICT_TAGS = [TrialTags.OPTUNA_STATE, TrialTags.BEST, TrialTags.STOPPED_AT_STEP, TrialTags.ERROR]
STUDY_COLUMNS = ["number", "state", "run_id", "trial_key", "status", *VERDICT_TAGS]


def find_study(store: Store, selector: str | None = None) -> Any | None:
    """The newest study parent run (None when there is none), or the one whose run id, study id, study name
    or run name is selector (a one-line error when there is no such study)."""
    studies = search_all(store, STUDY_FILTER, order_by=["attributes.start_time DESC"])
    if selector is None:
        return studies[0] if studies else None
    if not studies:
        raise HarnessError(f"--study {selector}: experiment {store.experiment!r} at {store.uri} has no tuning "
                           "study; run `harness tune` first")
    for run in studies:
        tags = run.data.tags
        if selector in {run.info.run_id, run.info.run_name, tags.get(StudyTags.SWEEP_ID), tags.get(StudyTags.STUDY)}:
            return run  # newest first: a study name run with several configs picks the newest
    known = ", ".join(dict.fromkeys(r.info.run_name or r.info.run_id for r in studies[:10]))
    raise HarnessError(f"--study {selector}: no such study in experiment {store.experiment!r} (newest: {known})")


def read_study(store: Store, fallback: list[tuple[str, str]], selector: str | None = None) -> Study | None:
    """The study find_study picks with its child runs as a frame, or None when the experiment has none.

    Columns: ``number`` (the trial-number tag, else start order), ``state`` (the outcome tag,
    else the run status), the run's id, trial key and status, the VERDICT_TAGS (Optuna's state
    and best flag, written when ``harness tune`` ends; the step it was stopped at; the error),
    and per objective its final value (NaN when there is none, e.g. stopped early) and
    ``<metric>_missing`` (why it could not be measured).
    """
    study = find_study(store, selector)
    if study is None:
        return None
    objectives = study_objectives(study, fallback)
    query = parent_filter(study.info.run_id)
    rows, params = [], {}
    for index, run in enumerate(search_all(store, query, order_by=["attributes.start_time ASC"])):
        tags, prov = run.data.tags, metric_provenance(store, run)
        row = {"number": int(tags.get(TrialTags.TRIAL_NUMBER, index)),
               "state": tags.get(TrialTags.OUTCOME, run.info.status),
               "run_id": run.info.run_id, "trial_key": tags.get(TrialTags.TRIAL_KEY, run.info.run_name or ""),
               "status": run.info.status, **{k: tags.get(k, "") for k in VERDICT_TAGS}}
        for metric, _ in objectives:
            row[metric] = float(run.data.metrics.get(metric, math.nan))
            row[f"{metric}_missing"] = prov.get(metric, {}).get("missing") or ""
        rows.append(row)
        params[run.info.run_id] = dict(run.data.params)
    columns = STUDY_COLUMNS + [c for m, _ in objectives for c in (m, f"{m}_missing")]
    frame = pd.DataFrame(rows, columns=columns).sort_values("number", kind="stable").reset_index(drop=True)
    return Study(study, objectives, query, frame, params)


def load_study(store: Store, fallback: list[tuple[str, str]],
               selector: str | None = None) -> tuple[Any, pd.DataFrame, list[tuple[str, str]]] | None:
    """(parent run, trials frame, objectives) of read_study, or None: what the study plots need."""
    study = read_study(store, fallback, selector)
    return None if study is None else (study.run, study.trials, study.objectives)


def log_report(store: Store, run_id: str, folder: Path) -> bool:
    """Attach a written report (HTML, tables, figures) to its sweep's or study's parent run, under
    ``Artifacts.REPORT``/ (the parent run's artifacts then hold what `harness report` wrote). Best effort:
    the report folder is the result, so a store that refuses the write (read-only, offline) is a warning line."""
    import sys

    try:
        store.client.log_artifacts(run_id, str(folder), artifact_path=Artifacts.REPORT)
    except Exception as exc:  # noqa: BLE001  never fail a written report for its copy in MLflow
        print(f"warning: report not attached to MLflow run {run_id} ({exc.__class__.__name__}: {exc})",
              file=sys.stderr)
        return False
    return True
