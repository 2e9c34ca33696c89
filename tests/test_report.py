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


def significant_cells() -> set[tuple[str, str]]:
    """(variant, metric) whose paired t-test over the golden VALUES against full has p < 0.05, computed here."""
    from scipy import stats as st

    from tests.report_store import VALUES

    found = set()
    for variant in ("wo_apdh", "wo_l_pose"):
        for metric in ("fid", "ssim", "hkc"):
            pairs = [(VALUES[(variant, s)][metric], VALUES[("full", s)][metric]) for s in (0, 1)
                     if (variant, s) in VALUES and VALUES[(variant, s)][metric] is not None]
            if len(pairs) >= 2 and st.ttest_rel(*zip(*pairs)).pvalue < 0.05:
                found.add((variant, metric))
    return found


def test_bold_marks_only_significant_changes(report) -> None:
    """Bold = the change against the baseline has p < 0.05 (not the best value, not a tie, not one seed)."""
    expected = significant_cells()
    assert expected == {("wo_apdh", "fid")}  # the golden store's one significant change
    labels = {"wo_apdh": "w/o APDH", "wo_l_pose": "w/o L_pose"}
    columns = {"fid": "FID ↓ †", "ssim": "SSIM ↑", "hkc": "HKC ↑ †"}
    md = (report.out / "ablation.md").read_text()
    assert bold_cells(md.split("### Each ablation")[0]) == {(labels[v], columns[m]) for v, m in expected}
    tex = (report.out / "ablation.tex").read_text().split(r"\end{table}")[0]  # the ablation table only
    rows = {ln.split(" & ")[0]: ln.split(" & ") for ln in tex.splitlines() if " & " in ln}
    assert rows["w/o APDH"][2].startswith(r"\textbf{12.20") and tex.count(r"\textbf{") == 1
    comparison = markdown_cells(md.split("### Each ablation")[1])
    assert {(r["Ablation"], r["Metric"]) for r in comparison if "**" in r["Verdict"]} == {("w/o APDH", "FID ↓")}


def test_direction_sets_the_verdict_not_the_bold(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flip FID to higher-is-better: the same cell stays bold (p does not change), its verdict turns to better."""
    from reports import labels
    from reports.build import ablation_data
    from reports.formats import markdown
    from reports.query import load_sweep, open_store
    from reports.tables import ablation_table, comparison_table

    sweep = load_sweep(open_store(golden_config(runs)))
    monkeypatch.setitem(labels.METRICS, "fid", labels.MetricInfo("fid", "FID", "higher", 2))
    data = ablation_data(sweep, "smoke", "full", None)
    assert bold_cells(markdown([ablation_table(data)])) == {("w/o APDH", "FID ↑ †")}
    verdicts = {(r[0].text, r[1].text): r[-1] for r in comparison_table(data).rows}
    assert verdicts[("w/o APDH", "FID ↑")].text == "better" and verdicts[("w/o APDH", "FID ↑")].bold


def test_comparison_rows_only_where_there_is_a_test(report) -> None:
    """Pairs with one seed on a side are named in a note, not rows of "n=1, no test"."""
    md = (report.out / "ablation.md").read_text()
    comparison = md.split("### Each ablation")[1]
    assert "n=1, no test" not in md and "| none " not in comparison
    rows = markdown_cells(comparison)
    assert [(r["Ablation"], r["Metric"], r["n"]) for r in rows] == [("w/o APDH", "FID ↓", "2"), ("w/o APDH", "SSIM ↑", "2")]
    assert "Not tested (one seed on a side): w/o APDH: HKC; w/o L_pose: FID, SSIM, HKC." in comparison


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


FIGURES = {"dots_fid", "dots_ssim", "dots_hkc", "loss_curves", "apdh_schedule"}


def test_report_writes_every_figure_as_png_pdf_and_svg(report) -> None:
    from PIL import Image

    names = {p.name for p in report.files if p.suffix in (".png", ".pdf", ".svg")}
    assert names == {f"{stem}.{kind}" for stem in FIGURES for kind in ("png", "pdf", "svg")}
    for stem in FIGURES:
        assert (report.out / f"{stem}.png").read_bytes().startswith(PNG_MAGIC)
        assert (report.out / f"{stem}.pdf").read_bytes().startswith(b"%PDF-")
        assert b"<svg" in (report.out / f"{stem}.svg").read_bytes()[:1000]
        with Image.open(report.out / f"{stem}.png") as img:
            assert img.width >= 400 and img.height >= 200
            assert np.asarray(img.convert("L")).std() > 5  # not blank


class Drawn:
    """The matplotlib figures reports.plots saves (plots._save patched to keep them)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from reports import plots

        self.figures: list = []
        real = plots._save

        def keep(fig, path):
            self.figures.append(fig)
            return real(fig, path)

        monkeypatch.setattr(plots, "_save", keep)


def legend_outside(fig) -> bool:
    """The figure's legend box lies right of every axes box (nothing drawn over the lines)."""
    renderer = fig.canvas.get_renderer()
    legend = fig.legends[0].get_window_extent(renderer)
    return all(legend.x0 >= ax.get_window_extent(renderer).x1 for ax in fig.axes)


def test_dot_plot_spans_the_data_with_intervals_over_seeds(report, runs: Path, monkeypatch, tmp_path: Path) -> None:
    """FID: the axis spans the values (not 0), the mean of each variant with its 95% t-interval, seeds as dots."""
    from scipy import stats as st

    from reports import plots
    from reports.labels import variant_colours
    from reports.query import load_sweep, open_store
    from tests.report_store import VALUES

    drawn = Drawn(monkeypatch)
    sweep = load_sweep(open_store(golden_config(runs)))
    colours = variant_colours(sweep.variants)
    plots.metric_dots(sweep.trials, "fid", "full", sweep.variants, colours, tmp_path / "fid.png")
    fig = drawn.figures[0]
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    values = [v["fid"] for v in VALUES.values()]
    assert low > 0.5 * min(values) and low <= min(values) and high >= max(values)  # not from zero
    full = [VALUES[("full", s)]["fid"] for s in (0, 1)]
    half = st.t.ppf(0.975, 1) * np.std(full, ddof=1) / np.sqrt(2)
    bars = [c for c in ax.collections if c.__class__.__name__ == "LineCollection"]
    segments = [seg for c in bars for seg in c.get_segments()]
    spans = {(round(s[0][0], 6), round(s[1][0], 6)) for s in segments}
    assert (round(np.mean(full) - half, 6), round(np.mean(full) + half, 6)) in spans
    assert legend_outside(fig)
    for suffix in (".pdf", ".svg"):
        assert (tmp_path / "fid.png").with_suffix(suffix).is_file()


def test_loss_curves_smoothed_raw_faint_and_legend_outside(monkeypatch, tmp_path: Path) -> None:
    """Each variant: a faint raw mean and a bold centred rolling mean (window in plots), in its own colour."""
    from reports import plots
    from reports.labels import variant_colours

    drawn = Drawn(monkeypatch)
    rng = np.random.default_rng(0)
    steps = np.arange(10, 410, 10)
    history = pd.DataFrame([{"variant": v, "seed": s, "trial_key": f"{v}-s{s}", "step": int(t),
                             "value": 1 / np.sqrt(t) + 0.05 * rng.standard_normal()}
                            for v in ("full", "wo_apdh") for s in (0, 1) for t in steps])
    colours = variant_colours(["full", "wo_apdh"])
    plots.loss_curves(history, "full", ["full", "wo_apdh"], colours, tmp_path / "loss.png")
    fig = drawn.figures[0]
    lines = fig.axes[0].get_lines()
    window = plots.smoothing_window(len(steps))
    assert window == max(plots.SMOOTHING_MIN_POINTS, round(plots.SMOOTHING_SHARE * len(steps)))
    mean = history[history["variant"] == "wo_apdh"].groupby("step")["value"].mean()
    raw, smooth = [ln for ln in lines if ln.get_color() == colours["wo_apdh"]]
    assert np.allclose(raw.get_ydata(), mean) and raw.get_alpha() == plots.RAW_ALPHA
    expected = [mean.iloc[max(0, i - window // 2): i + (window - window // 2)].mean() for i in range(len(mean))]
    assert np.allclose(smooth.get_ydata(), expected) and smooth.get_alpha() is None
    assert np.std(np.diff(smooth.get_ydata())) < np.std(np.diff(raw.get_ydata()))
    assert legend_outside(fig)


def test_an_off_grid_point_after_a_checkpoint_is_dropped() -> None:
    """A trial reports one step after each checkpoint (the report carrying it): not on the log grid, not drawn."""
    from reports.plots import on_log_grid

    steps = [2, 4, 6, 8, 10, 11, 12, 13]  # log_every 2, checkpoint at 10 reported at 11; 13 = the last step
    history = pd.DataFrame({"trial_key": "a-s0", "step": steps, "value": np.arange(len(steps), dtype=float)})
    assert list(on_log_grid(history)["step"]) == [2, 4, 6, 8, 10, 12, 13]
    every = pd.DataFrame({"trial_key": "b-s0", "step": [1, 2, 3], "value": [1.0, 2.0, 3.0]})
    assert list(on_log_grid(every)["step"]) == [1, 2, 3]


def test_phd_terms_drawn_at_the_steps_they_exist(monkeypatch, tmp_path: Path) -> None:
    """A term logged at some steps only: markers at exactly those steps, one panel per term with values."""
    from reports import plots
    from reports.labels import variant_colours

    drawn = Drawn(monkeypatch)
    pose = pd.DataFrame({"variant": "full", "seed": 0, "trial_key": "full-s0", "step": [10, 40, 90],
                         "value": [0.5, 0.4, 0.3]})
    low = pd.DataFrame({"variant": ["full", "wo_apdh"], "seed": 0, "trial_key": ["full-s0", "wo_apdh-s0"],
                        "step": [20, 30], "value": [0.2, 0.1]})
    empty = pose.iloc[:0]
    colours = variant_colours(["full", "wo_apdh"])
    plots.phd_terms({"pose": pose, "detail": empty, "low": low}, "full", ["full", "wo_apdh"], colours,
                    tmp_path / "phd.png")
    fig = drawn.figures[0]
    axes = [ax for ax in fig.axes if ax.get_lines()]
    assert len(axes) == 2 and "train/pose" in axes[0].get_title() and "train/low" in axes[1].get_title()
    (line,) = axes[0].get_lines()
    assert list(line.get_xdata()) == [10, 40, 90] and line.get_marker() == "o"
    assert line.get_color() == colours["full"] and legend_outside(fig)


def test_each_variant_keeps_its_colour() -> None:
    """Known variants have fixed colours whatever the sweep; others take distinct free ones."""
    from reports.labels import variant_colours

    a = variant_colours(["full", "wo_apdh", "wo_l_pose", "my_variant"])
    b = variant_colours(["wo_l_pose", "other", "full"])
    assert a["full"] == b["full"] and a["wo_l_pose"] == b["wo_l_pose"]
    assert len(set(a.values())) == 4 and a["my_variant"] not in {a["full"], a["wo_apdh"], a["wo_l_pose"]}
    smoke = variant_colours(["full", "wo_apdh", "wo_hpa", "wo_l_pose", "wo_l_detail", "wo_l_low", "wo_initial_pose",
                             "wo_audio_lips", "wo_audio_face", "wo_audio_body", "ctrl_no_audio", "ctrl_no_hand_pose",
                             "ctrl_no_reference"])
    assert len(set(smoke.values())) == 13


def test_pareto_front_of_a_trials_frame() -> None:
    from reports.stats import pareto_front

    frame = pd.DataFrame({"number": [0, 1, 2, 3, 4, 5], "fid": [5.0, 4.0, 6.0, 3.0, np.nan, 4.5],
                          "sync_c": [1.0, 2.0, 3.0, 1.5, 9.0, 1.0]})
    front = pareto_front(frame, [("fid", "lower"), ("sync_c", "higher")])
    assert list(frame.loc[front, "number"]) == [1, 2, 3]  # 0 and 5 dominated by 1; 4 has no FID


def test_study_plots_are_skipped_without_a_study(report) -> None:
    assert not list(report.out.glob("study_*"))


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


@pytest.mark.parametrize("value, text", [(2.0, "+2.00"), (-0.04, "-0.0400"), (0.256, "+0.256"), (12.34, "+12.3"),
                                         (-491.2, "-491"), (1234.5, "+1234"), (-8e-5, "-8.00e-05"),
                                         (0.123456789, "+0.123"), (0.0, "+0.00")])
def test_deltas_print_three_significant_figures(value: float, text: str) -> None:
    from reports.tables import fmt_delta

    assert fmt_delta(value) == text


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
    for name in ("study_history_fid.png", "study_history_ssim.png", "study_pareto.png"):  # Optuna's plots
        assert (report.out / name).read_bytes().startswith(PNG_MAGIC)
    assert report.index.read_text().count("data:image/png;base64,") == len(FIGURES) + 3
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

    assert latex_escape("a_b 50% #1 & {x} ± 2 − 1, p < 0.05 – ↓ † Δ é ≥ 中") == \
        r"a\_b 50\% \#1 \& \{x\} $\pm$ 2 $-$ 1, p $<$ 0.05 -- $\downarrow$ $^{\dagger}$ $\Delta$ e $\geq$ "


@pytest.fixture(scope="module")
def one_seed_report(tmp_path_factory: pytest.TempPathFactory):
    from reports.build import build_report
    from tests.report_one_seed import one_seed_config, one_seed_runs

    runs = one_seed_runs(tmp_path_factory)
    return build_report(one_seed_config(runs), tmp_path_factory.mktemp("one_seed"), ["md", "tex", "html", "csv"],
                        paper_csv=REPO / "docs" / "paper_numbers.csv")


def test_one_seed_gives_no_comparison_rows_and_no_bold(one_seed_report) -> None:
    """One seed per variant: the comparison table is one line saying why; nothing is bold, in any format."""
    md = (one_seed_report.out / "ablation.md").read_text()
    ablation, comparison = md.split("### Each ablation against Full model")
    assert comparison.strip().splitlines() == [
        "One seed per variant: no significance test, so nothing is bold and there is no comparison table; run with "
        "sweep.seeds=[0, 1, 2] (or more seeds) to test each ablation against the baseline."]
    assert "**" not in md and "n=1, no test" not in md and "paired t" not in md
    assert [r["Method"] for r in markdown_cells(ablation)][:3] == ["Full model (baseline)", "w/o APDH", "w/o L_pose"]
    assert markdown_cells(ablation)[1]["FID ↓ †"] == "12.10 (+2.10)"  # the change is shown, not tested
    tex = (one_seed_report.out / "ablation.tex").read_text()
    assert tex.count(r"\begin{table}") == 1 and r"\textbf" not in tex
    assert "% Each ablation against Full model: One seed per variant: no significance test" in tex
    page = one_seed_report.index.read_text(encoding="utf-8")
    assert '<p class="empty" id="comparison">' in page and "<strong>" not in page.split('id="comparison"')[0]
    frame = pd.read_csv(one_seed_report.out / "ablation.csv")
    assert not frame["significant"].any() and set(frame["test"].dropna()) == {"none"}


def test_a_metric_without_any_value_is_not_a_column(one_seed_report) -> None:
    """HKC has no value anywhere: no column, no plot; a note names it and why (the CSV keeps its rows)."""
    from tests.report_one_seed import NO_HKC

    md = (one_seed_report.out / "ablation.md").read_text()
    header = markdown_cells(md)[0].keys()
    assert list(header) == ["Method", "Seeds", "FID ↓ †", "SSIM ↑"]
    assert f"- Not shown (no variant has a value): HKC (mediapipe-hands/offline-stand-in: {NO_HKC})." in md
    assert not (one_seed_report.out / "dots_hkc.png").exists() and (one_seed_report.out / "dots_fid.png").exists()
    assert "HKC" not in (one_seed_report.out / "ablation.tex").read_text().split(r"\midrule")[0]  # header
    frame = pd.read_csv(one_seed_report.out / "ablation.csv")
    assert (frame["metric"] == "hkc").sum() == 4 and frame.loc[frame["metric"] == "hkc", "n"].eq(0).all()
    assert "\nHKC" not in md.split("- Not shown")[0]  # not listed again as a missing value per variant


def test_latex_notes_carry_no_paths_urls_or_backticks(one_seed_report) -> None:
    """The missing reason and the error name a cache path, a URL and a command in backticks: Markdown keeps
    them, the LaTeX keeps the sentence before them (what failed, in short)."""
    from tests.report_one_seed import CACHE_PATH, URL

    md = (one_seed_report.out / "ablation.md").read_text()
    assert CACHE_PATH in md and URL in md
    tex = (one_seed_report.out / "ablation.tex").read_text()
    notes = tex.split(r"{\footnotesize")[1]
    for text in ("/root/", "/tmp/", "://", "`", "cache", "example.org", "HARNESS_WEIGHTS"):
        assert text not in tex, text
    assert r"HKC (mediapipe-hands/offline-stand-in: missing weight file hand\_landmarker.task (hands, sha256 0a1b))" \
        in notes
    assert r"w/o L\_pose seed 0 (failed: OSError: cannot open clip0.mp4)" in notes


def test_plain_for_paper_cuts_the_clause_with_a_path_or_url() -> None:
    from reports.labels import plain_for_paper

    assert plain_for_paper("EMTD (via a summary; see docs/paper_numbers.md)") == "EMTD (via a summary; see paper_numbers.md)"
    assert plain_for_paper("no weights: put it in $HARNESS_WEIGHTS or /a/b; get it from https://x.org/w") == \
        "no weights"
    assert plain_for_paper("weight file /root/.cache/x.pt does not exist") == "weight file x.pt does not exist"
    assert plain_for_paper("run `harness weights list` first") == "run harness weights list first"
    assert plain_for_paper("fid-helper-mapped-inception/offline; w/o APDH") == "fid-helper-mapped-inception/offline; w/o APDH"
