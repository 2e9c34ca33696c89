"""The run-record writer: an experiment per experiment file, a parent run per sweep or study, a
child run per trial (names: harness/runs/schema.py). Resume-safe: a sweep maps to one parent run
(tag ``SweepTags.SWEEP_ID``) and a trial to one child run (tag ``TrialTags.TRIAL_KEY`` under that
parent), so a resumed or retried trial writes into its existing run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.config import ExperimentConfig
from harness.errors import HarnessError
from harness.runs.retry import RetryingClient, StoreLost, close_recorded_runs, record_open_runs
from harness.runs.record import init_tags, provenance, provenance_tag, record_params, trial_params
from harness.runs.schema import (EXPERIMENT_KIND, EXPERIMENT_KIND_RUNS, FINAL_STEP, MAX_TAG_CHARS, PARENT, ROLE,
                                 Artifacts, Role, RunTags, SweepTags, TrialTags, parent_filter)
from harness.runs.store import REMOTE_SCHEMES, SQLITE_PREFIX, artifact_location, check_server, experiment_name, \
    tracking_uri

PARAM_BATCH = 100  # MLflow's batch limit on params


class Tracker:
    """Thin layer over MlflowClient (explicit run ids, no global active run).

    A server (http/https URI) is reached through harness.runs.retry.RetryingClient: outages up
    to tracking.outage_limit_s are waited out; a longer one raises StoreLost and records the
    runs this tracker left open, which the next Tracker on that store closes as KILLED.
    """

    def __init__(self, cfg: ExperimentConfig) -> None:
        from mlflow.tracking import MlflowClient

        self.uri = tracking_uri(cfg)
        self.runs_dir = Path(cfg.paths.runs)
        self.open_runs: set[str] = set()  # runs this tracker set RUNNING and has not finished
        client = MlflowClient(tracking_uri=self.uri)
        if self.uri.startswith(REMOTE_SCHEMES):
            check_server(self.uri)
            client = RetryingClient(client, self.uri, cfg.tracking.outage_limit_s, self._record_open_runs)
        if self.uri.startswith(SQLITE_PREFIX):
            Path(self.uri.removeprefix(SQLITE_PREFIX)).parent.mkdir(parents=True, exist_ok=True)
        self.client = client
        self.experiment_id = self._experiment(experiment_name(cfg), artifact_location(cfg, experiment_name(cfg)))
        close_recorded_runs(self.runs_dir, self.uri, self.client)

    def _record_open_runs(self, lost: StoreLost) -> None:
        record_open_runs(self.runs_dir, self.uri, self.open_runs)

    def _experiment(self, name: str, location: str | None) -> str:
        try:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                experiment_id = self.client.create_experiment(name, artifact_location=location)
            else:
                experiment_id = found.experiment_id
            if found is None or EXPERIMENT_KIND not in found.tags:
                # MLflow 3 opens an untagged experiment on its GenAI (traces) page; runs are what we have
                self.client.set_experiment_tag(experiment_id, EXPERIMENT_KIND, EXPERIMENT_KIND_RUNS)
            return experiment_id
        except StoreLost:
            raise
        except Exception as exc:  # noqa: BLE001  unreachable server, bad URI: one clear line
            raise HarnessError(f"MLflow at {self.uri}: cannot open experiment {name!r} "
                               f"({exc.__class__.__name__}: {exc})") from None

    def _find(self, filter_string: str, client: Any = None) -> str | None:
        runs = (client or self.client).search_runs([self.experiment_id], filter_string=filter_string, max_results=1,
                                                   order_by=["attributes.start_time DESC"])
        return runs[0].info.run_id if runs else None

    def _create_run(self, filter_string: str, name: str, tags: Mapping[str, str]) -> str:
        """A new run, created once: over a server, a retried create first looks for the run (by
        filter_string, which the tags satisfy) that a timed-out attempt may have created."""
        if not isinstance(self.client, RetryingClient):
            return self.client.create_run(self.experiment_id, run_name=name, tags=dict(tags)).info.run_id
        raw = self.client.raw
        return self.client.create_once(
            lambda: raw.create_run(self.experiment_id, run_name=name, tags=dict(tags)).info.run_id,
            lambda: self._find(filter_string, raw))

    def parent_run(self, sweep_id: str, name: str, tags: Mapping[str, str] | None = None,
                   params: Mapping[str, str] | None = None, role: str = Role.SWEEP) -> str:
        """The sweep's (or tuning study's, role=Role.STUDY) parent run: reused when it exists (resume), else created."""
        wanted = f"tags.`{SweepTags.SWEEP_ID}` = '{sweep_id}' and tags.`{ROLE}` = '{role}'"
        run_id = self._find(wanted)
        if run_id is None:
            run_id = self._create_run(wanted, name, {SweepTags.SWEEP_ID: sweep_id, ROLE: role, **(tags or {})})
            self.log_params(run_id, params or {})
        else:
            self.client.update_run(run_id, status="RUNNING")
        self.open_runs.add(run_id)
        return run_id

    def trial_run(self, parent_id: str, key: str, cfg: ExperimentConfig, tags: Mapping[str, str] | None = None,
                  params: Mapping[str, str] | None = None) -> str:
        """The trial's child run under parent_id: reused when one with this trial key exists.

        Created with the resolved config and the report records (harness.runs.record) as params;
        params: logged besides them (e.g. the variant's diff, tuning's stage boundaries in steps).
        """
        wanted = f"{parent_filter(parent_id)} and tags.`{TrialTags.TRIAL_KEY}` = '{key}'"
        run_id = self._find(wanted)
        if run_id is not None:
            self.client.update_run(run_id, status="RUNNING")
            self.open_runs.add(run_id)
            return run_id
        all_tags = {PARENT: parent_id, TrialTags.TRIAL_KEY: key, ROLE: Role.TRIAL, TrialTags.SEED: str(cfg.train.seed),
                    TrialTags.CONFIG_HASH: cfg.config_hash(), **init_tags(cfg), **(tags or {})}
        run_id = self._create_run(wanted, key, all_tags)
        self.log_params(run_id, {**trial_params(cfg), **record_params(cfg), **(params or {})})
        self.log_run_files(run_id, cfg, all_tags.get(TrialTags.DATASET_HASH))
        self.open_runs.add(run_id)
        return run_id

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)) for k, v in params.items()]
        for i in range(0, len(items), PARAM_BATCH):
            self.client.log_batch(run_id, params=items[i : i + PARAM_BATCH])

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

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)[:MAX_TAG_CHARS]) for k, v in tags.items()])

    def log_results(self, run_id: str, results: Iterable[Mapping[str, Any]]) -> None:
        """Final metrics (MetricResult dicts): each value once at FINAL_STEP (a bar in MLflow's charts), their
        provenance as the Artifacts.PROVENANCE JSON and one compact tag (harness.runs.record.provenance)."""
        results = list(results)
        self.log_metrics(run_id, {r["key"]: r["value"] for r in results if r.get("value") is not None}, FINAL_STEP)
        record = provenance(results)
        self.client.log_text(run_id, json.dumps(record, indent=1) + "\n", Artifacts.PROVENANCE)
        self.set_tags(run_id, {TrialTags.PROVENANCE: provenance_tag(record),
                               TrialTags.METRIC_BACKENDS: ",".join(sorted({r["backend"] for r in results}))})

    def log_run_files(self, run_id: str, cfg: ExperimentConfig, digest: str | None = None) -> None:
        """A new trial run's resolved config (Artifacts.CONFIG) and its dataset as an MLflow input (digest: the
        sweep's dataset hash; default: hashed here)."""
        from harness.runs.context import dataset_input

        self.client.log_text(run_id, cfg.to_yaml(), Artifacts.CONFIG)
        self.client.log_inputs(run_id, datasets=[dataset_input(cfg, digest)])

    def log_artifacts(self, run_id: str, folder: Path, path: str | None = None) -> None:
        self.client.log_artifacts(run_id, str(folder), artifact_path=path)

    def finish(self, run_id: str, error: str | None = None) -> None:
        """FINISHED, or FAILED with the error as a tag."""
        if error is not None:
            self.set_tags(run_id, {RunTags.ERROR: error})
        self.client.set_terminated(run_id, status="FAILED" if error is not None else "FINISHED")
        self.open_runs.discard(run_id)

    def kill(self, run_id: str) -> None:
        """KILLED: stopped before its end (--resume reopens it)."""
        self.client.set_terminated(run_id, status="KILLED")
        self.open_runs.discard(run_id)

    def child_runs(self, parent_id: str) -> list:
        """Every child run of a parent (for tests, reports and resume checks)."""
        return self.client.search_runs([self.experiment_id], filter_string=parent_filter(parent_id), max_results=1000)
