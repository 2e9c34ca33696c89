"""Study reports (a tuning study and no sweep): golden table and CSV, bold rows, selection, the CLI.

The store holds two studies written with the tune callback's and driver's tags
(tests/report_store.py): ``tune_schedule`` (FID + SSIM, Pareto set 1 and 3; COMPLETE and FAIL
trials) and ``tune_single`` (SSIM, best trial 2; COMPLETE, PRUNED and FAIL trials).
Regenerate the golden files after an intended change with UPDATE_GOLDEN=1 (and read the diff).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from harness.errors import HarnessError
from tests.conftest import EXPERIMENTS
from tests.report_store import STUDIES, STUDY_BEST, STUDY_COMMIT, study_config, study_runs

GOLDEN = Path(__file__).parent / "golden"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return study_runs(tmp_path_factory)


@pytest.fixture(scope="module")
def reports(runs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from reports.build import build_study_report

    return {e: build_study_report(study_config(runs, e), tmp_path_factory.mktemp(e), ["md", "tex", "csv"])
            for e in STUDIES}


def table_rows(md: str) -> list[dict[str, str]]:
    """The Markdown table of a study.md as a list of {header: cell}."""
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    split = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    return [dict(zip(split[0], row)) for row in split[2:]]


@pytest.mark.parametrize("experiment", list(STUDIES))
@pytest.mark.parametrize("suffix", ["md", "csv"])
def test_study_table_matches_golden_files(reports, experiment: str, suffix: str) -> None:
    report = reports[experiment]
    got = (report.out / f"study.{suffix}").read_text(encoding="utf-8")
    if suffix == "csv":  # run ids are new in every store: name them by trial number
        got = re.sub(r"^(\d+),[0-9a-f]{32},", r"\1,<run \1>,", got, flags=re.M)
    golden = GOLDEN / f"study_{experiment}.{suffix}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(got, encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8"), f"{golden} differs (UPDATE_GOLDEN=1 rewrites it)"


def test_bold_marks_the_pareto_set_or_the_best_trial(reports) -> None:
    for experiment, trials, flag in (("tune_schedule", {"1", "3"}, "(Pareto)"), ("tune_single", {"2"}, "(best)")):
        rows = table_rows((reports[experiment].out / "study.md").read_text())
        bold = {(r["Trial"].split("**")[1], col) for r in rows for col, cell in r.items() if "**" in cell}
        objectives = [c for c in rows[0] if c.endswith(("↓", "↑"))]
        assert bold == {(t, col) for t in trials for col in ("Trial", *objectives)}, experiment
        assert {r["Trial"] for r in rows if flag in r["Trial"]} == {f"**{t}** {flag}" for t in trials}
        tex = (reports[experiment].out / "study.tex").read_text()
        assert {ln.split(" & ")[0] for ln in tex.splitlines() if r"\textbf" in ln} == \
            {rf"\textbf{{{t}}} {flag}" for t in trials}
    rows = table_rows((reports["tune_schedule"].out / "study.md").read_text())
    # the best SSIM (trial 4) is not bold: its FID was not measured, so Optuna has it FAIL
    assert rows[4]["SSIM ↑"] == "0.800" and rows[4]["State"].startswith("FAIL: not measured: FID (needs at")
    single = table_rows((reports["tune_single"].out / "study.md").read_text())
    assert [r["State"] for r in single][:2] == ["COMPLETE", "PRUNED at step 50"]
    assert single[3]["State"] == "FAIL: RuntimeError: CUDA out of memory. Tried to al..."


def test_without_optuna_verdict_tags_the_same_rows_are_derived(runs: Path) -> None:
    """An interrupted study has no optuna_state/best tags: states from outcome, best computed from the values."""
    from reports.formats import markdown
    from reports.query import open_store, read_study
    from reports.study import state_counts, study_table

    for experiment, trials in (("tune_schedule", {"1", "3"}), ("tune_single", {"2"})):
        study = read_study(open_store(study_config(runs, experiment)), [])
        keys = study.tuned_keys
        tagged = state_counts(study, keys)
        study.trials["optuna_state"] = ""
        study.trials["best"] = ""
        md = markdown([study_table(study, keys)])
        assert {r["Trial"].split("**")[1] for r in table_rows(md) if "**" in r["Trial"]} == trials
        assert "computed from the COMPLETE trials" in md and state_counts(study, keys) == tagged


def test_report_picks_the_study_and_selects_by_name_or_run_id(runs: Path, tmp_path: Path) -> None:
    from harness.config_load import load
    from harness.runs.tracker import Tracker
    from reports.build import build_study_report, report_kind
    from reports.query import load_sweep, open_store, read_study

    store = open_store(study_config(runs))
    assert report_kind(store) == "study" and report_kind(store, study_selector="x") == "study"
    assert report_kind(store, sweep_selector="some-sweep") == "sweep"
    study = read_study(store, [])
    assert study.name == "tune_schedule-0a1b2c3d4e5f" and study.objectives == [("fid", "lower"), ("ssim", "higher")]
    assert read_study(store, [], study.run_id).run_id == read_study(store, [], "tune_schedule").run_id == study.run_id
    with pytest.raises(HarnessError, match=r"--study nope: no such study in experiment 'tune_schedule' \(newest: "
                                           r"tune_schedule-0a1b2c3d4e5f\)"):
        build_study_report(study_config(runs), tmp_path / "r", ["md"], study_selector="nope")
    with pytest.raises(HarnessError, match="--sweep and --study: .* give only one"):
        report_kind(store, "a", "b")
    with pytest.raises(HarnessError, match=r"has no sweep runs \(it has a tuning study: report it without --sweep"):
        load_sweep(store, "some-sweep")
    shutil.copytree(runs, tmp_path / "runs")
    cfg = load(EXPERIMENTS / "tune_schedule.yaml", [f"paths.runs={tmp_path / 'runs'}", "tracking.experiment=empty"])
    Tracker(cfg)  # an experiment with neither a sweep nor a study: the sweep path's one line
    empty = open_store(cfg)
    assert report_kind(empty) == "sweep"
    with pytest.raises(HarnessError, match="experiment 'empty' at sqlite:.* has no sweep runs; run `harness sweep`"):
        load_sweep(empty)
    with pytest.raises(HarnessError, match="--study x: experiment 'empty' .* has no tuning study; run `harness tune`"):
        read_study(empty, [], "x")


def test_report_command_on_a_study_only_experiment(runs: Path, run_cli, tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = run_cli("report", EXPERIMENTS / "tune_schedule.yaml", f"paths.runs={runs}", "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["study"] == "tune_schedule-0a1b2c3d4e5f" and summary["states"] == {"COMPLETE": 3, "FAIL": 2}
    assert summary["index"] == str((out / "index.html").resolve())
    figures = {f"{stem}.{kind}" for stem in ("study_history_fid", "study_history_ssim", "study_pareto")
               for kind in ("png", "pdf", "svg")}
    assert {p.name for p in out.iterdir()} == {"study.md", "study.tex", "study.csv", "index.html",
                                               "provenance.json", *figures}
    for name in ("study_history_fid.png", "study_history_ssim.png", "study_pareto.png"):
        assert (out / name).read_bytes().startswith(PNG_MAGIC), name
    page = (out / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|iframe)\b", page, re.I) and page.count('src="data:image/png;base64,') == 3
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["kind"] == "study" and prov["parent_run_id"] == summary["study_run_id"]
    assert len(prov["child_run_ids"]) == 5 and prov["sweep_git_commit"] == STUDY_COMMIT
    for value in ("Tuning study report: tune_schedule", "study run id", prov["parent_run_id"], prov["tracking_uri"],
                  prov["query"].replace("'", "&#x27;"), prov["generated_utc"], prov["report_git_commit"], STUDY_COMMIT,
                  *prov["child_run_ids"], "<strong>11.00</strong>", "FAIL: RuntimeError: CUDA out of memory."):
        assert value in page, value


@pytest.mark.parametrize("args, message", [
    (["--baseline", "full"], "--baseline: only for sweep reports; this is a report of a tuning study"),
    (["--study", "nope"], "--study nope: no such study in experiment 'tune_schedule' (newest: tune_schedule-"),
])
def test_study_report_mistakes_are_one_line(runs: Path, run_cli, tmp_path: Path, args: list[str], message: str) -> None:
    proc = run_cli("report", EXPERIMENTS / "tune_schedule.yaml", f"paths.runs={runs}", "--out", tmp_path / "r", *args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr


def test_optuna_rebuilds_the_study_from_mlflow(runs: Path) -> None:
    """The in-memory Optuna study the plots draw: states, objective values, tuned values, named objectives."""
    from optuna.trial import TrialState

    from reports.query import open_store, read_study
    from reports.study_plots import optuna_study
    from tests.report_store import STUDIES

    for experiment, (_, trials) in STUDIES.items():
        study = read_study(open_store(study_config(runs, experiment)), [])
        rebuilt = optuna_study(study)
        states = {"complete": TrialState.COMPLETE, "stopped_early": TrialState.PRUNED, "failed": TrialState.FAIL,
                  "unmeasured": TrialState.FAIL}
        assert [t.state for t in rebuilt.trials] == [states[how] for _, how, _ in trials]
        metrics = [m for m, _ in study.objectives]
        for trial, (_, how, values) in zip(rebuilt.trials, trials):
            if how == "complete":
                assert trial.values == pytest.approx([values[m] for m in metrics])
            assert len(trial.params) == len(study.tuned_keys)
        assert rebuilt.metric_names == [{"fid": "FID ↓", "ssim": "SSIM ↑"}[m] for m in metrics]
        assert [d.name.lower() for d in rebuilt.directions] == \
            [{"lower": "minimize", "higher": "maximize"}[d] for _, d in study.objectives]
        best = {t.number for t in rebuilt.best_trials}
        assert best == set(STUDY_BEST[experiment])  # Optuna's own verdict on the rebuilt study: the logged one


def test_importance_plot_needs_enough_complete_trials(runs: Path, tmp_path: Path) -> None:
    """plot_param_importances: drawn with MIN_IMPORTANCE_TRIALS complete trials and 2+ tuned keys, not with fewer."""
    from unittest import mock

    from reports.query import open_store, read_study
    from reports.study_plots import MIN_IMPORTANCE_TRIALS, study_plots
    from tests import report_store

    assert not (tmp_path / "few").exists()
    few = study_plots(read_study(open_store(study_config(runs, "tune_single")), []), tmp_path / "few")
    assert [p.name for _, p in few] == ["study_history_ssim.png"]
    many = [(n, "complete", {"ssim": 0.5 + 0.01 * ((n * 7) % 11)}) for n in range(MIN_IMPORTANCE_TRIALS)]
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    extra = ["tune.objectives=[{metric: ssim, direction: maximize}]"]
    with mock.patch.dict(report_store.STUDIES, {"tune_many": (extra, many)}), \
            mock.patch.dict(report_store.STUDY_BEST, {"tune_many": {7}}):
        report_store.write_study(copy, "tune_many")
        study = read_study(open_store(study_config(copy, "tune_many")), [])
    figures = study_plots(study, tmp_path / "many")
    assert [p.name for _, p in figures] == ["study_history_ssim.png", "study_importance.png"]
    for suffix in (".png", ".pdf", ".svg"):
        assert (tmp_path / "many" / "study_importance").with_suffix(suffix).stat().st_size > 1000


def test_the_study_storage_names_its_objectives(tmp_path: Path) -> None:
    """harness tune creates the Optuna study with set_metric_names: optuna-dashboard shows the metric names."""
    import optuna

    from harness.config_load import load
    from harness.tune.study import create_study, open_storage, storage_url, study_name

    cfg = load(EXPERIMENTS / "tune_schedule.yaml", [f"paths.runs={tmp_path}"])
    url = storage_url(cfg, tmp_path)
    create_study(open_storage(url), cfg)
    reopened = optuna.load_study(study_name=study_name(cfg), storage=url)  # what optuna-dashboard opens
    assert reopened.metric_names == [o.metric for o in cfg.tune.objectives] == ["fid", "ssim"]


def test_optuna_plots_leave_the_report_style_alone(runs: Path, tmp_path: Path) -> None:
    """Optuna's plots set pyplot's ggplot style; the report's own figures drawn afterwards keep matplotlib's."""
    import matplotlib

    from reports.query import open_store, read_study
    from reports.study_plots import study_plots

    before = dict(matplotlib.rcParams)
    assert study_plots(read_study(open_store(study_config(runs)), []), tmp_path)
    after = dict(matplotlib.rcParams)
    assert {k for k in before if before[k] != after[k]} <= {"backend", "backend_fallback"}  # matplotlib.use("Agg")
