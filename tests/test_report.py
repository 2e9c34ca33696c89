"""Reports from MLflow: golden tables, bold placement, the statistics, the query, schedule and plots.

The store is written through the sweep callback and harness.runs.tracker.Tracker (tests/report_store.py): 4 variants x 2
seeds with known values, one FAILED trial, one variant that never ran, stand-in backends.
Regenerate the golden files after an intended change with UPDATE_GOLDEN=1 (and read the diff).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.errors import HarnessError
from tests.conftest import REPO
from tests.report_store import golden_config, golden_runs

GOLDEN = Path(__file__).parent / "golden"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return golden_runs(tmp_path_factory)


@pytest.fixture(scope="module")
def report(runs: Path, tmp_path_factory: pytest.TempPathFactory):
    from reports.build import build_report

    out = tmp_path_factory.mktemp("report")
    return build_report(golden_config(runs), out, ["md", "tex", "html", "csv"], paper_csv=runs.parent / "paper_numbers.csv")


@pytest.mark.parametrize("name", ["ablation.md", "ablation.tex", "ablation.csv"])
def test_tables_match_golden_files(report, name: str) -> None:
    got = (report.out / name).read_text(encoding="utf-8")
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(got, encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8"), f"{name} differs from {golden} (UPDATE_GOLDEN=1 rewrites it)"


def markdown_cells(text: str) -> list[dict[str, str]]:
    """The first Markdown table of text as a list of {header: cell}."""
    lines = [ln for ln in text.split("\n\n")[1].splitlines() if ln.startswith("|")]
    split = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    return [dict(zip(split[0], row)) for row in split[2:]]


def bold_cells(text: str) -> set[tuple[str, str]]:
    return {(row["Method"], col) for row in markdown_cells(text) for col, cell in row.items() if "**" in cell}


def test_bold_marks_the_best_value_of_each_column(report) -> None:
    md = (report.out / "ablation.md").read_text()
    assert bold_cells(md) == {("Full model (baseline)", "FID ↓ †"), ("w/o L_pose", "SSIM ↑"), ("w/o APDH", "HKC ↑ †")}
    tex = (report.out / "ablation.tex").read_text().split(r"\end{table}")[0]  # the ablation table only
    rows = {ln.split(" & ")[0]: ln.split(" & ") for ln in tex.splitlines() if " & " in ln}
    assert rows["Full model (baseline)"][2].startswith(r"\textbf{10.20")  # FID is the 3rd column
    assert rows[r"w/o $\mathcal{L}_{pose}$"][3].startswith(r"\textbf{0.730}")
    assert rows["w/o APDH"][4].startswith(r"\textbf{0.900")
    assert tex.count(r"\textbf{") == 3
    cells = markdown_cells(md)
    assert all("(paper)" not in r["Method"] for r in cells if any("**" in c for c in r.values()))


def test_bold_follows_the_metric_direction(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flip FID to higher-is-better: its bold moves from the lowest mean (full) to the highest (w/o APDH)."""
    from reports import labels
    from reports.build import ablation_data
    from reports.formats import markdown
    from reports.query import load_sweep, open_store
    from reports.tables import ablation_table

    sweep = load_sweep(open_store(golden_config(runs)))
    monkeypatch.setitem(labels.METRICS, "fid", labels.MetricInfo("fid", "FID", "higher", 2))
    md = markdown([ablation_table(ablation_data(sweep, "smoke", "full", None))])
    assert ("w/o APDH", "FID ↑ †") in bold_cells(md) and ("Full model (baseline)", "FID ↑ †") not in bold_cells(md)


def test_sweep_query_keeps_failed_and_missing_trials(runs: Path) -> None:
    from reports.query import load_sweep, open_store

    store = open_store(golden_config(runs))
    sweep = load_sweep(store)
    assert sweep.name == "smoke-golden" and sweep.status == "FAILED"
    t = sweep.trials.set_index("trial_key")
    assert list(t.index) == ["full-s0", "full-s1", "wo_apdh-s0", "wo_apdh-s1", "wo_l_pose-s0", "wo_l_pose-s1",
                             "wo_hpa-s0", "wo_hpa-s1"]
    assert t.loc["wo_l_pose-s1", "status"] == "FAILED" and "injected failure" in t.loc["wo_l_pose-s1", "error"]
    assert t.loc["wo_hpa-s0", "status"] == "NOT RUN" and t.loc["wo_hpa-s0", "run_id"] == ""
    assert math.isnan(t.loc["wo_apdh-s1", "hkc"]) and "no hand" in t.loc["wo_apdh-s1", "hkc_missing"]
    assert t.loc["full-s0", "fid_backend"] == "fid-helper-mapped-inception/offline"
    assert not t.loc["full-s0", "fid_exact"] and t.loc["full-s0", "ssim_exact"]
    assert sweep.metric_keys == ["fid", "ssim", "hkc"] and bool(t.loc["full-s1", "baseline"])
    assert load_sweep(store, "smoke-old").name == "smoke-old"
    with pytest.raises(HarnessError, match="no such sweep"):
        load_sweep(store, "nope")


def test_loss_history_keeps_the_last_value_of_a_relogged_step(runs: Path) -> None:
    from reports.query import load_sweep, metric_history, open_store
    from tests.report_store import loss

    store = open_store(golden_config(runs))
    history = metric_history(store, load_sweep(store).trials)
    one = history[history["trial_key"] == "full-s1"]
    assert list(one["step"]) == [1, 2, 3, 4]
    assert np.allclose(one["value"], [loss("full", 1, s) for s in (1, 2, 3, 4)])
    assert set(history["trial_key"]) == {"full-s0", "full-s1", "wo_apdh-s0", "wo_apdh-s1", "wo_l_pose-s0",
                                         "wo_l_pose-s1"}


def test_paired_test_and_interval_match_the_textbook_formulas() -> None:
    from scipy import stats as st

    from reports.stats import compare_values

    base, other = {0: 10.0, 1: 10.4, 2: 10.1}, {0: 12.1, 1: 12.3, 2: 11.0}
    c = compare_values(base, other, "lower")
    d = np.array([other[s] - base[s] for s in (0, 1, 2)])
    se = d.std(ddof=1) / math.sqrt(3)
    t = d.mean() / se
    assert c.test == "paired t" and c.n == 3
    assert c.p_value == pytest.approx(2 * st.t.sf(abs(t), 2), rel=1e-12)
    half = st.t.ppf(0.975, 2) * se
    assert (c.ci_low, c.ci_high) == pytest.approx((d.mean() - half, d.mean() + half), rel=1e-12)
    assert c.delta == pytest.approx(d.mean()) and c.verdict == "worse"  # FID went up, p < 0.05
    assert compare_values(base, other, "higher").verdict == "better"


def test_comparison_without_pairs_or_with_one_seed() -> None:
    from reports.stats import compare_values

    welch = compare_values({0: 1.0, 1: 1.2}, {2: 2.0, 3: 2.3}, "lower")
    assert welch.test == "Welch t" and 0 < welch.p_value < 1 and welch.ci_low < welch.delta < welch.ci_high
    one = compare_values({0: 1.0, 1: 1.2}, {0: 2.0}, "lower")
    assert (one.test, one.note, one.verdict) == ("none", "n=1, no test", "no test") and math.isnan(one.p_value)
    same = compare_values({0: 1.0, 1: 2.0}, {0: 1.5, 1: 2.5}, "lower")
    assert same.note == "n=2, identical differences, no test" and same.ci_low == same.ci_high == 0.5
    assert compare_values({}, {0: 1.0}, "lower") is None


def test_apdh_schedule_from_the_trials_record(runs: Path) -> None:
    """Each trial records the trainer's phases in steps; the report draws them (reports import no training code)."""
    from harness.config_load import load
    from harness.runs.schema import TrialParams
    from harness.train.apdh import apdh_phase_at
    from tests.conftest import EXPERIMENTS
    from reports.query import load_sweep, open_store
    from reports.schedule import from_params, schedules

    cfg = golden_config(runs)
    sweep = load_sweep(open_store(cfg))
    params = {row.variant: sweep.params[row.run_id] for row in sweep.trials.itertuples() if row.run_id}
    found = schedules(sweep.variants, params)
    assert [s.variants for s in found] == [("full", "wo_l_pose"), ("wo_apdh",)]  # wo_hpa never ran: unknown
    # reference: the phase the trainer uses at every step of the 4-step golden trials
    apdh = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={runs}", "train.steps=4"]).model.apdh  # the trials' config
    by_step = [apdh_phase_at(apdh, step, 4).name for step in range(4)]
    drawn = [next(s.name for s in found[0].spans if s.start <= step < s.end) for step in range(4)]
    assert drawn == by_step and found[0].total_steps == 4
    assert found[0].spans[0].pose == "+".join(apdh.phases[0].pose_parts)
    assert found[1].spans == () and found[1].total_steps == 4
    assert from_params({}) is None and from_params({TrialParams.APDH_SCHEDULE: "not json"}) is None


def test_runs_without_the_schedule_record_say_so(runs: Path, tmp_path: Path) -> None:
    """A store older than the schedule record: no diagram, one line saying so, no crash."""
    import shutil
    import sqlite3

    from harness.runs.schema import TrialParams
    from reports.build import build_report
    from reports.schedule import NOT_RECORDED

    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    with sqlite3.connect(copy / "mlflow.db") as db:  # what an older writer left: no schedule param
        db.execute("DELETE FROM params WHERE key = ?", (TrialParams.APDH_SCHEDULE,))
    report = build_report(golden_config(copy), tmp_path / "out", ["html"])
    assert not (report.out / "apdh_schedule.png").exists() and report.notes == [NOT_RECORDED]
    assert NOT_RECORDED in report.index.read_text(encoding="utf-8")


def test_report_writes_every_plot_as_png(report) -> None:
    from PIL import Image

    names = {p.name for p in report.files if p.suffix == ".png"}
    assert names == {"bars_fid.png", "bars_ssim.png", "bars_hkc.png", "loss_curves.png", "apdh_schedule.png"}
    for name in names:
        data = (report.out / name).read_bytes()
        assert data.startswith(PNG_MAGIC)
        with Image.open(report.out / name) as img:
            assert img.width >= 400 and img.height >= 200
            assert np.asarray(img.convert("L")).std() > 5  # not blank


def test_study_plots_and_pareto_front_from_a_trials_frame(tmp_path: Path) -> None:
    from reports.plots import pareto_plot, study_history
    from reports.stats import pareto_front

    frame = pd.DataFrame({"number": [0, 1, 2, 3, 4, 5], "fid": [5.0, 4.0, 6.0, 3.0, np.nan, 4.5],
                          "sync_c": [1.0, 2.0, 3.0, 1.5, 9.0, 1.0]})
    front = pareto_front(frame, [("fid", "lower"), ("sync_c", "higher")])
    assert list(frame.loc[front, "number"]) == [1, 2, 3]  # 0 and 5 dominated by 1; 4 has no FID
    for path in (study_history(frame, "fid", "lower", tmp_path / "h.png"),
                 pareto_plot(frame, [("fid", "lower"), ("sync_c", "higher")], tmp_path / "p.png")):
        assert path.read_bytes().startswith(PNG_MAGIC)


def test_study_plots_are_skipped_without_a_study(report) -> None:
    assert not (report.out / "study_history.png").exists() and not (report.out / "study_pareto.png").exists()


def test_shipped_paper_numbers_become_reference_rows() -> None:
    from reports.labels import variant_label
    from reports.paper import paper_rows

    path = REPO / "docs" / "paper_numbers.csv"  # the project's copy (docs/paper_numbers.md)
    smoke = ["full", "wo_apdh", "wo_hpa", "wo_l_pose", "wo_l_detail", "wo_l_low", "wo_initial_pose", "wo_audio_lips",
             "wo_audio_face", "wo_audio_body"]
    rows = paper_rows(path, [variant_label(v) for v in smoke])
    assert [r.label for r in rows] == ["EchoMimicV2 (paper)", "w/o APDH (paper)", "w/o L_pose (paper)",
                                       "w/o L_detail (paper)", "w/o L_low (paper)", "w/o Initial Pose (paper)",
                                       "w/o Audio-Lips Sync (paper)", "w/o Audio-Face Sync (paper)",
                                       "w/o Audio-Body Corr (paper)"]
    assert rows[0].values["fid"] == "49.33" and rows[0].values["sync_c"] == "7.219" and "psnr" not in rows[0].values


def test_small_values_keep_two_significant_digits() -> None:
    from reports.stats import significant_decimals

    assert significant_decimals(-0.00012, 3) == 5  # "-0.00012", not "-0.000"
    assert significant_decimals(2.0, 2) == 2 and significant_decimals(0.09, 2) == 3
    assert significant_decimals(0.0, 3) == 3 and significant_decimals(1e-12, 3) == 8 and significant_decimals(math.nan, 2) == 2


def test_a_tuning_study_in_the_experiment_adds_its_plots(runs: Path, tmp_path: Path) -> None:
    """A parent run tagged harness.role=study (as harness tune logs it) gives the history and Pareto plots."""
    import shutil

    from harness.config_load import load
    from harness.runs.tracker import Tracker
    from reports.build import build_report
    from tests.conftest import EXPERIMENTS

    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    cfg = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={copy}"])
    tracker = Tracker(cfg)
    study = tracker.parent_run("study000000000001", "smoke-study", role="study",
                               tags={"objectives": "fid:minimize,ssim:maximize"})
    for number, (fid, ssim) in enumerate([(12.0, 0.60), (11.0, 0.70), (13.0, 0.75), (11.5, 0.65)]):
        run = tracker.trial_run(study, f"trial-{number}", cfg, tags={"trial_number": str(number), "outcome": "complete"})
        tracker.log_metrics(run, {"fid": fid, "ssim": ssim}, 4)
        tracker.finish(run)
    tracker.finish(study)
    report = build_report(cfg, tmp_path / "out", ["html"])
    for name in ("study_history.png", "study_pareto.png"):
        assert (report.out / name).read_bytes().startswith(PNG_MAGIC)
    assert report.index.read_text().count("data:image/png;base64,") == 7
    from reports.query import load_study, open_store

    _, frame, objectives = load_study(open_store(cfg), [])
    assert objectives == [("fid", "lower"), ("ssim", "higher")] and list(frame["number"]) == [0, 1, 2, 3]


def test_an_experiment_without_sweeps_is_one_line(runs: Path, tmp_path: Path) -> None:
    import shutil

    from harness.config_load import load
    from harness.runs.tracker import Tracker
    from reports.query import load_sweep, open_store
    from tests.conftest import EXPERIMENTS

    shutil.copytree(runs, tmp_path / "runs")
    cfg = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={tmp_path / 'runs'}", "tracking.experiment=empty"])
    Tracker(cfg)  # creates the experiment, no runs
    with pytest.raises(HarnessError, match="experiment 'empty' at sqlite:.* has no sweep runs; run `harness sweep`"):
        load_sweep(open_store(cfg))


def test_latex_escape_keeps_free_text_compilable() -> None:
    from reports.labels import latex_escape

    assert latex_escape("a_b 50% #1 & {x} ± 2 − 1, p < 0.05 – ↓ † Δ") == \
        r"a\_b 50\% \#1 \& \{x\} $\pm$ 2 $-$ 1, p $<$ 0.05 -- $\downarrow$ \dag{} $\Delta$"
