"""The run record (harness/runs/schema.py): a sweep and a study written through the real writers
(the sweep and tune callbacks on stand-in Tune trials, the tune driver's verdicts; tests/report_store.py)
into a real sqlite store, read back through the report reader (reports/query.py), name by name.

* every name of the schema is found in the written record (a name nothing writes fails);
* the reader gives back what the writers were given;
* renaming names in the schema changes writer and reader together (the same report data);
* no module of harness/ or reports/ outside harness/runs/ spells a schema name as a literal where an
  MLflow name goes, and reports import neither harness.train nor harness.tune.
"""

from __future__ import annotations

import ast
import inspect
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.runs import schema
from harness.runs.schema import (EXPERIMENT_KIND, FINAL_STEP, NOTE, PARENT, ROLE, RUN_NAME_ORDER, SHARED_VIEW_PREFIX,
                                 SYSTEM_METRICS_PREFIX, Artifacts, Curves, InitTags, MetricTags, MlflowTags, Outcome,
                                 Role, StudyParams, StudyTags, SweepParams, SweepTags, TrialParams, TrialTags)
from harness.config_load import load
from tests.conftest import EXPERIMENTS, REPO
from tests.mlflow_server import migrated_store
from tests.report_store import (ERROR, NO_HAND, OVERRIDES, VALUES, golden_config, study_config, write_study,
                                write_sweep)

SWEEP_TRIALS = [("full", 0), ("wo_apdh", 1), ("wo_l_pose", 1)]  # finished; HKC missing; failed after a retry
STUDY = "tune_single"  # COMPLETE, PRUNED (stopped at step 50) and FAIL trials
NOT_WRITTEN = {  # schema names these stores cannot hold, and where they are tested instead
    **{v: "model.init runs only (tests/test_release_import.py)" for k, v in vars(InitTags).items() if k.isupper()},
    Outcome.RUNNING: "a study trial's outcome until it ends (every trial here has ended)",
    **{v: "stores written before provenance.json: read only (test_a_store_with_per_metric_tags_is_still_read)"
       for k, v in vars(MetricTags).items() if k.isupper()},
    SHARED_VIEW_PREFIX: "`harness ui` writes it (tests/test_sweep_ui.py)",
    RUN_NAME_ORDER: "inside the view `harness ui` writes (tests/test_sweep_ui.py)",
}


def schema_names() -> dict[str, str]:
    """{name: where in the schema} for every string constant of harness.runs.schema."""
    names: dict[str, str] = {}
    for const, value in vars(schema).items():
        if const.isupper() and isinstance(value, str):
            names.setdefault(value, const)
        if inspect.isclass(value) and value.__module__ == schema.__name__:
            for klass in value.__mro__:
                for key, item in vars(klass).items():
                    if key.isupper() and isinstance(item, str):
                        names.setdefault(item, f"{value.__name__}.{key}")
    return names


def write_store(folder: Path, template: Path) -> tuple[Path, Any, Any]:
    """A sweep and a study written by the real writers into folder/mlflow.db: (runs, sweep cfg, study cfg)."""
    runs = folder / "runs"
    runs.mkdir(parents=True)
    shutil.copy(template, runs / "mlflow.db")
    cfg = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={runs}", *OVERRIDES])
    write_sweep(cfg, "record0000000001", "smoke-record", SWEEP_TRIALS, folder / "errors", artifacts=True)
    write_study(runs, STUDY)
    from reports.query import find_sweep, log_report, open_store

    store = open_store(golden_config(runs))  # `harness report` attaches its output to the parent run
    (folder / "report").mkdir()
    (folder / "report" / "index.html").write_text("<html></html>\n")
    log_report(store, find_sweep(store).info.run_id, folder / "report")
    return runs, golden_config(runs), study_config(runs, STUDY)


def read_back(runs: Path, sweep_cfg: Any, study_cfg: Any) -> dict[str, Any]:
    """The sweep and the study through the report reader, as plain data (run ids left out)."""
    from reports.query import load_sweep, metric_history, open_store, read_study
    from reports.schedule import schedules

    store = open_store(sweep_cfg)
    sweep = load_sweep(store)
    frame = sweep.trials.drop(columns=["run_id", "start_time", "config_hash"])  # the hash has paths.runs in it
    params = {r.variant: sweep.params[r.run_id] for r in sweep.trials.itertuples() if r.run_id}
    study = read_study(open_store(study_cfg), [])
    trials = study.trials.drop(columns=["run_id"])
    tuned = [json.loads(study.params[r][TrialParams.TUNED_VALUES]) for r in study.trials["run_id"]]
    return _no_nan({"sweep": (sweep.name, sweep.status, sweep.variants, frame.to_dict("records")),
            "curves": metric_history(store, sweep.trials).to_dict("records"),
            "schedules": schedules(sweep.variants, params),
            "diffs": {v: json.loads(p[TrialParams.CONFIG_DIFF]) for v, p in params.items()},
            "study": (study.name, study.objectives, study.tuned_keys, trials.to_dict("records"), tuned)})


def _no_nan(value: Any) -> Any:
    """NaN as None, so two readings compare equal (NaN != NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_no_nan(v) for v in value)
    return value


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_store(tmp_path_factory.mktemp("record_template"))


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, template: Path) -> tuple[Path, Any, Any]:
    return write_store(tmp_path_factory.mktemp("record"), template)


def raw_record(runs: Path, cfg: Any) -> dict[str, Any]:
    """Everything the store holds, by run kind: tag names and values, params, metric names, artifact paths."""
    from mlflow.tracking import MlflowClient

    from harness.runs.store import experiment_name, tracking_uri

    client = MlflowClient(tracking_uri(cfg))
    exp = client.get_experiment_by_name(experiment_name(cfg))
    out: dict[str, Any] = {"experiment_tags": dict(exp.tags), "runs": []}
    for run in client.search_runs([exp.experiment_id], max_results=1000):
        paths = [a.path for a in client.list_artifacts(run.info.run_id)]
        for folder in [a.path for a in client.list_artifacts(run.info.run_id) if a.is_dir]:
            paths += [a.path for a in client.list_artifacts(run.info.run_id, folder)]
        inputs = [{"name": i.dataset.name, "digest": i.dataset.digest, "source": i.dataset.source,
                   "tags": {t.key: t.value for t in i.tags}} for i in run.inputs.dataset_inputs]
        out["runs"].append({"id": run.info.run_id, "tags": dict(run.data.tags), "params": dict(run.data.params),
                            "metrics": set(run.data.metrics), "artifacts": paths, "inputs": inputs})
    return out


def test_every_schema_name_is_written(written) -> None:
    runs, sweep_cfg, study_cfg = written
    records = [raw_record(runs, sweep_cfg), raw_record(runs, study_cfg)]
    kinds: dict[str, list[dict]] = {}
    for record in records:
        for run in record["runs"]:
            kinds.setdefault(run["tags"][ROLE], []).append(run)
    assert set(kinds) == {Role.SWEEP, Role.STUDY, Role.TRIAL}
    keys = {k for r in records for run in r["runs"] for k in (*run["tags"], *run["params"], *run["metrics"])}
    keys |= {k for r in records for k in r["experiment_tags"]}
    keys |= {k for r in records for run in r["runs"] for i in run["inputs"] for k in i["tags"]}
    values = {v for r in records for run in r["runs"] for v in run["tags"].values()}
    paths = {p for r in records for run in r["runs"] for p in run["artifacts"]}
    missing = []
    for name, where in schema_names().items():
        if name in NOT_WRITTEN or where in ("EXPERIMENT_KIND_RUNS",):
            continue
        found = (name in keys or name in values or name in paths
                 or any(k.startswith(name) or k.endswith(name) for k in keys)  # prefixes and suffixes
                 or (where.startswith("TrialParams.APDH_END") and any(name in k for k in keys)))
        if not found:
            missing.append(f"{where} = {name!r}")
    assert not missing, f"schema names no writer wrote: {missing}"
    # the roles' names on the right runs
    sweep_parent = next(r for r in kinds[Role.SWEEP])
    for name in (SweepTags.SWEEP_ID, SweepTags.VARIANTS, SweepTags.SEEDS, SweepTags.TRIALS, SweepTags.FAILED_TRIALS,
                 SweepTags.GIT_COMMIT, SweepTags.DATASET_HASH, SweepTags.CONFIG_HASH, SweepTags.SWEEP_NAME, NOTE):
        assert name in sweep_parent["tags"], name
    assert {SweepParams.VARIANTS, SweepParams.SEEDS} <= set(sweep_parent["params"])
    study_parent = next(r for r in kinds[Role.STUDY])
    assert {StudyTags.STUDY, StudyTags.OBJECTIVES, StudyTags.TUNED_KEYS, StudyTags.BEST_TRIALS, StudyTags.STATES,
            StudyTags.OPTUNA_STORAGE} <= set(study_parent["tags"])
    assert {v for k, v in vars(StudyParams).items() if k.isupper()} <= set(study_parent["params"])
    assert any(p.startswith(Artifacts.BEST) for p in study_parent["artifacts"])
    for trial in kinds[Role.TRIAL]:
        assert {PARENT, TrialTags.TRIAL_KEY, TrialTags.SEED, TrialTags.CONFIG_HASH} <= set(trial["tags"])
        assert TrialParams.APDH_SCHEDULE in trial["params"] and TrialParams.CONFIG_DIFF in trial["params"]
        assert Curves.LOSS in trial["metrics"]
    finished = [t for t in kinds[Role.TRIAL] if t["tags"].get(TrialTags.VARIANT) == "full"]
    assert {Artifacts.CONFIG, Artifacts.METRICS, Artifacts.TRIAL, Artifacts.SAMPLES, Artifacts.FRAMES} <= \
        set(finished[0]["artifacts"])
    outcomes = {t["tags"].get(TrialTags.OUTCOME) for t in kinds[Role.TRIAL]} - {None}
    assert outcomes == {Outcome.COMPLETE, Outcome.STOPPED_EARLY, Outcome.FAILED}
    assert records[0]["experiment_tags"][EXPERIMENT_KIND] == schema.EXPERIMENT_KIND_RUNS


def test_trial_runs_answer_at_a_glance(written) -> None:
    """Issue 16's layout on each finished trial run: variant and switches as params, each final metric one point
    at FINAL_STEP, the provenance JSON equal to the results, one compact provenance tag, system metrics,
    mlflow.source.* tags, the dataset as an input, the checkpoint as a URI, and few params and tags."""
    from mlflow.tracking import MlflowClient

    from harness.config_load import sweep_trial_config
    from harness.runs.store import tracking_uri
    from tests.report_store import DATASET_HASH, FID, HKC, SSIM

    runs, sweep_cfg, _ = written
    client = MlflowClient(tracking_uri(sweep_cfg))
    record = raw_record(runs, sweep_cfg)
    parent = next(r for r in record["runs"] if r["tags"][ROLE] == Role.SWEEP)
    trials = {r["tags"][TrialTags.TRIAL_KEY]: r for r in record["runs"] if r["tags"][ROLE] == Role.TRIAL}
    assert set(trials) == {f"{v}-s{s}" for v, s in SWEEP_TRIALS}
    assert {MlflowTags.SOURCE_NAME, MlflowTags.SOURCE_TYPE, MlflowTags.GIT_COMMIT} <= set(parent["tags"])
    assert f"{Artifacts.REPORT}/index.html" in parent["artifacts"]
    base = {**sweep_cfg.to_dict(), "sweep": load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={runs}", *OVERRIDES]
                                                 ).to_dict()["sweep"]}
    for (variant, seed) in SWEEP_TRIALS:
        run = trials[f"{variant}-s{seed}"]
        cfg = sweep_trial_config(base, variant, seed)  # reference: the variant's resolved config
        params, tags = run["params"], run["tags"]
        assert (params[TrialParams.VARIANT], params[TrialParams.SEED]) == (variant, str(seed))
        assert params[TrialParams.APDH] == str(cfg.model.apdh.enabled).lower()
        assert params[TrialParams.HPA] == str(cfg.data.hpa.enabled).lower()
        assert [params[p] for p in (TrialParams.PHD_POSE, TrialParams.PHD_DETAIL, TrialParams.PHD_LOW)] == \
            [str(b.enabled).lower() for b in (cfg.loss.phd.pose, cfg.loss.phd.detail, cfg.loss.phd.low)]
        assert params["loss.phd.pose.enabled"] == params[TrialParams.PHD_POSE]  # a key a variant changes
        assert len(params) <= 25 and len(tags) <= 25, (len(params), len(tags))
        assert not any(k.endswith((MetricTags.BACKEND, MetricTags.EXACT, MetricTags.MISSING)) for k in tags)
        assert {MlflowTags.SOURCE_NAME, MlflowTags.SOURCE_TYPE, MlflowTags.GIT_COMMIT} <= set(tags)
        assert Artifacts.CONFIG in run["artifacts"]
        assert [(i["name"], i["digest"], i["tags"]) for i in run["inputs"]] == \
            [(f"synthetic-{cfg.data.size}px", DATASET_HASH, {MlflowTags.DATASET_CONTEXT: "train"})]
        assert any(m.startswith(SYSTEM_METRICS_PREFIX) for m in run["metrics"]), sorted(run["metrics"])
        if (variant, seed) not in VALUES:
            assert TrialTags.PROVENANCE not in tags and Artifacts.PROVENANCE not in run["artifacts"]
            continue
        values = VALUES[(variant, seed)]
        for metric, value in values.items():
            history = [(m.step, m.value) for m in client.get_metric_history(run["id"], metric)]
            assert history == ([] if value is None else [(FINAL_STEP, value)]), (variant, metric, history)
        prov = json.loads(Path(client.download_artifacts(run["id"], Artifacts.PROVENANCE, str(runs.parent))).read_text())
        backends = {"fid": FID, "ssim": SSIM, "hkc": HKC}
        assert {k: (v["value"], v["backend"], v["exact"]) for k, v in prov.items()} == \
            {k: (values[k], backends[k][0], backends[k][1]) for k in values}
        assert tags[TrialTags.PROVENANCE] == " ".join(
            f"{k}:{'missing' if values[k] is None else 'reference' if backends[k][1] else backends[k][0].rsplit('/')[-1]}"
            for k in values)
        trial = json.loads(Path(client.download_artifacts(run["id"], Artifacts.TRIAL, str(runs.parent))).read_text())
        assert trial[TrialTags.CHECKPOINT].startswith("file:///") and trial[TrialTags.CHECKPOINT].endswith(".pt")
        assert tags[TrialTags.CHECKPOINT] == trial[TrialTags.CHECKPOINT]
        assert not any(p.startswith(Artifacts.CHECKPOINT + "/") for p in run["artifacts"])  # the default: URI only


def test_a_store_with_per_metric_tags_is_still_read(written, tmp_path: Path) -> None:
    """A store written before provenance.json (per-metric tags, no provenance tag) reads the same frame."""
    from mlflow.tracking import MlflowClient

    from harness.runs.store import tracking_uri
    from reports.query import load_sweep, open_store

    runs, sweep_cfg, _ = written
    before = load_sweep(open_store(sweep_cfg)).trials
    old_runs = tmp_path / "runs"
    shutil.copytree(runs, old_runs)
    old_cfg = golden_config(old_runs)
    client = MlflowClient(tracking_uri(old_cfg))
    sweep = load_sweep(open_store(old_cfg))
    for row in sweep.trials[sweep.trials["run_id"] != ""].itertuples():
        tags = client.get_run(row.run_id).data.tags
        if TrialTags.PROVENANCE not in tags:
            continue
        client.delete_tag(row.run_id, TrialTags.PROVENANCE)  # the old layout: a tag per metric instead
        for metric in ("fid", "ssim", "hkc"):
            client.set_tag(row.run_id, MetricTags.backend(metric), getattr(row, f"{metric}_backend"))
            client.set_tag(row.run_id, MetricTags.exact(metric), str(getattr(row, f"{metric}_exact")).lower())
            if getattr(row, f"{metric}_missing"):
                client.set_tag(row.run_id, MetricTags.missing(metric), getattr(row, f"{metric}_missing"))
    after = load_sweep(open_store(old_cfg)).trials
    columns = [c for c in before.columns if c not in ("run_id", "start_time", "config_hash")]
    assert _no_nan(after[columns].to_dict("records")) == _no_nan(before[columns].to_dict("records"))


def test_the_reader_gives_back_what_the_writers_were_given(written) -> None:
    runs, sweep_cfg, study_cfg = written
    data = read_back(runs, sweep_cfg, study_cfg)
    name, status, variants, rows = data["sweep"]
    assert (name, status) == ("smoke-record", "FAILED")  # one trial failed
    assert variants == ["full", "wo_apdh", "wo_l_pose", "wo_hpa"]  # the grid, also what never ran
    by_key = {r["trial_key"]: r for r in rows}
    for variant, seed in SWEEP_TRIALS:
        row = by_key[f"{variant}-s{seed}"]
        assert (row["variant"], row["seed"], row["baseline"]) == (variant, seed, variant == "full")
        if (variant, seed) not in VALUES:
            assert row["status"] == "FAILED" and row["error"] == ERROR
            continue
        assert row["status"] == "FINISHED"
        for metric, value in VALUES[(variant, seed)].items():
            assert row[metric] == value, (variant, metric)  # None: NaN in the frame (no value)
        assert row["hkc_missing"] == ("" if VALUES[(variant, seed)]["hkc"] is not None else NO_HAND)
        assert row["ssim_exact"] and not row["fid_exact"]
    assert by_key["wo_hpa-s0"]["status"] == "NOT RUN"
    variants_cfg = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={runs}", *OVERRIDES]).sweep.variants
    assert data["diffs"] == {v: variants_cfg[v] for v, _ in SWEEP_TRIALS}
    assert [s.variants for s in data["schedules"]] == [("full", "wo_l_pose"), ("wo_apdh",)]
    study_name, objectives, tuned_keys, trials, tuned = data["study"]
    assert study_name == f"{STUDY}-0a1b2c3d4e5f" and objectives == [("ssim", "higher")]
    assert [t["number"] for t in trials] == [0, 1, 2, 3]
    assert [t["state"] for t in trials] == [Outcome.COMPLETE, Outcome.STOPPED_EARLY, Outcome.COMPLETE, Outcome.FAILED]
    assert [t[TrialTags.OPTUNA_STATE] for t in trials] == ["COMPLETE", "PRUNED", "COMPLETE", "FAIL"]
    assert [t[TrialTags.BEST] for t in trials] == ["false", "false", "true", "false"]
    assert trials[1][TrialTags.STOPPED_AT_STEP] == "50"
    from harness.tune.space import SearchSpace

    space = SearchSpace.from_config(study_cfg)  # reference: the tuned keys the space samples
    assert tuned_keys == space.tuned_keys() and all(list(t) == tuned_keys for t in tuned)
    assert all(0 < t[TrialParams.apdh_end(study_cfg.model.apdh.phases[0].name)] < 1 for t in tuned)


def test_renaming_a_schema_name_changes_writer_and_reader(written, template: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The same report data with renamed tag, param and metric-tag names; the old names are gone from the store."""
    before = read_back(*written)
    renamed = {(TrialTags, "VARIANT"): "renamed.variant", (TrialTags, "TRIAL_KEY"): "renamed.trial_key",
               (SweepTags, "SEEDS"): "renamed.seeds", (TrialTags, "PROVENANCE"): "renamed.provenance",
               (TrialParams, "HPA"): "renamed.hpa",
               (TrialParams, "APDH_SCHEDULE"): "renamed.apdh_schedule", (TrialTags, "OUTCOME"): "renamed.outcome",
               (StudyTags, "TUNED_KEYS"): "renamed.tuned_keys", (TrialParams, "TUNED_VALUES"): "renamed.tuned_values"}
    old = {klass.__name__ + "." + attr: getattr(klass, attr) for klass, attr in renamed}
    for (klass, attr), name in renamed.items():
        monkeypatch.setattr(klass, attr, name)
    runs, sweep_cfg, study_cfg = write_store(tmp_path, template)
    after = read_back(runs, sweep_cfg, study_cfg)
    assert after == before
    record = [raw_record(runs, sweep_cfg), raw_record(runs, study_cfg)]
    names = {k for r in record for run in r["runs"] for k in (*run["tags"], *run["params"])}
    for name in renamed.values():
        assert any(k == name or k.endswith(name) for k in names), name
    for where, name in old.items():  # gone from the kind of record it named (TrialParams.VARIANT is another name)
        kind = "params" if where.startswith("TrialParams") else "tags"
        assert not any(name in run[kind] for r in record for run in r["runs"]), where


# --------------------------------------------------------------------------- no literal left on either side

MLFLOW_CALLS = {"set_tags", "log_params", "log_metrics", "log_batch", "parent_run", "trial_run", "create_run",
                "set_tag", "log_param", "log_metric", "set_experiment_tag", "get_metric_history", "log_artifacts",
                "search_runs", "search_all"}
RECORD_WORDS = ("tags", "params", "metrics")


def _callee(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def _names_a_record(node: ast.AST) -> bool:
    """tags / run.data.params / self.metrics...: an expression whose last name says it holds run data."""
    return any(word in ast.unparse(node).rsplit(".", 1)[-1].lower() for word in RECORD_WORDS)


def mlflow_position(node: ast.Constant, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether a string constant sits where an MLflow name goes: tags["x"], params.get("x"), an MLflow
    call's argument, or a dict key of tags/params (an MLflow call's dict, tags=/params=, a tags/params
    variable, or what a *_tags function returns)."""
    parent = parents.get(node)
    if isinstance(parent, ast.Subscript) and parent.slice is node:
        return _names_a_record(parent.value)
    if isinstance(parent, ast.Call) and node in parent.args:
        if isinstance(parent.func, ast.Attribute) and parent.func.attr == "get":
            return _names_a_record(parent.func.value)
        return _callee(parent) in MLFLOW_CALLS
    if not (isinstance(parent, ast.Dict) and node in parent.keys):
        return False
    holder = parents.get(parent)
    while isinstance(holder, (ast.Dict, ast.keyword)):
        if isinstance(holder, ast.keyword) and holder.arg in ("tags", "params"):
            return True
        holder = parents.get(holder)
    if isinstance(holder, ast.Call):
        return _callee(holder) in MLFLOW_CALLS
    if isinstance(holder, (ast.Assign, ast.AnnAssign)):
        targets = holder.targets if isinstance(holder, ast.Assign) else [holder.target]
        return any(_names_a_record(t) for t in targets)
    while holder is not None and not isinstance(holder, (ast.FunctionDef, ast.AsyncFunctionDef)):
        holder = parents.get(holder)
    return holder is not None and holder.name.endswith("_tags")  # ("*_params" would take in synth_params)


def leftover_literals(files: list[Path]) -> list[str]:
    """Schema names spelled as literals in files ("path:line: name (why)"): dotted or slashed names
    anywhere (they are MLflow's only), other names where an MLflow name goes, hand-written run
    filters. Artifact names are also the trial folder's file names (harness/runtime/trial_io.py
    copies them under the schema's names), so they are not strict."""
    names = schema_names()
    strict = {v for v, where in names.items()
              if ("." in v.strip(".") or "/" in v) and not where.startswith("Artifacts.")}
    found = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            where = f"{path}:{node.lineno}: {node.value!r}"
            if node.value in strict:
                found.append((node.lineno, f"{where} ({names[node.value]})"))
            elif node.value in names and mlflow_position(node, parents):
                found.append((node.lineno, f"{where} ({names[node.value]}, where an MLflow name goes)"))
            elif "tags.`" in node.value:
                found.append((node.lineno, f"{where} (a hand-written run filter: harness.runs.schema has them)"))
    return [text for _, text in sorted(found)]


def test_no_schema_name_is_spelled_outside_the_schema() -> None:
    files = [p for root in ("harness", "reports") for p in sorted((REPO / root).rglob("*.py"))
             if not p.is_relative_to(REPO / "harness" / "runs")]
    assert len(files) > 50 and leftover_literals(files) == []


def test_the_literal_check_finds_a_spelled_name(tmp_path: Path) -> None:
    """The check can fail: a module that writes and reads run data by hand is caught on each such line."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f(tracker, run, run_id):\n"
                   "    tracker.set_tags(run_id, {'trial_key': 'x-s0'})\n"
                   "    tags = {'variant': 'x'}\n"
                   "    return run.data.tags.get('baseline'), run.data.params['harness.apdh_schedule']\n"
                   "Q = \"tags.`mlflow.parentRunId` = 'abc'\"\n"
                   "COLUMNS = ['variant', 'seed']  # report columns, not MLflow names\n")
    assert [f.split(":")[1] for f in leftover_literals([bad])] == ["2", "3", "4", "4", "5"]


def test_reports_import_no_training_or_tuning_code() -> None:
    """reports/ reads MLflow only: no import of harness.train or harness.tune (statically, every module)."""
    offenders = []
    for path in sorted((REPO / "reports").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {m}" for m in modules if m.startswith(("harness.train", "harness.tune"))]
    assert offenders == []


def test_reports_load_no_training_or_tuning_code_at_all() -> None:
    """Not even through another module: importing every reports module loads no harness.train/harness.tune."""
    import subprocess
    import sys

    code = ("import importlib, pkgutil, sys, reports\n"
            "for m in pkgutil.iter_modules(reports.__path__): importlib.import_module('reports.' + m.name)\n"
            "print(sorted(m for m in sys.modules if m.startswith(('harness.train', 'harness.tune'))))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
