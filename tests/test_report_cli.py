"""`harness report` as a subprocess: the report, one-line mistakes, --help, `make demo`, and the demo
path end to end at reduced size (a real tiny sweep on local Ray, then its report)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import EXPERIMENTS, REPO
from tests.report_store import golden_runs
from tests.test_sweep import TINY

SMOKE = str(EXPERIMENTS / "smoke.yaml")
THREE_VARIANTS = ("sweep.variants={full: {}, wo_apdh: {model: {apdh: {enabled: false}}}, "
                  "wo_l_pose: {loss: {phd: {pose: {enabled: false}}}}}")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return golden_runs(tmp_path_factory)


def test_report_command_writes_every_format(runs: Path, run_cli, tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = run_cli("report", SMOKE, f"paths.runs={runs}", "--out", out, "--paper-csv", runs.parent / "paper_numbers.csv")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == f"report: {out / 'index.html'}"
    assert "sweep smoke-golden: 4 variants, 3 trial(s) without results" in proc.stdout
    names = {p.name for p in out.iterdir()}
    assert {"ablation.md", "ablation.tex", "ablation.csv", "trials.csv", "index.html", "provenance.json",
            "loss_curves.png", "loss_curves.pdf", "loss_curves.svg", "apdh_schedule.png", "dots_fid.png"} <= names
    assert (out / "ablation.md").read_text() == (Path(__file__).parent / "golden" / "ablation.md").read_text()


def test_report_json_selected_sweep_baseline_and_format(runs: Path, run_cli, tmp_path: Path) -> None:
    out = tmp_path / "r"
    proc = run_cli("report", SMOKE, f"paths.runs={runs}", "--out", out, "--format", "md", "--baseline", "wo_apdh",
                   "--sweep", "smoke-golden", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["sweep"] == "smoke-golden" and summary["index"] is None
    assert summary["variants"] == ["full", "wo_apdh", "wo_l_pose", "wo_hpa"]
    assert not (out / "ablation.tex").exists() and not (out / "index.html").exists()
    md = (out / "ablation.md").read_text()
    assert "| w/o APDH (baseline)" in md and "### Each ablation against w/o APDH" in md
    assert "| Full model " in md and "(-2.00*)" in md  # FID of the full model against the new baseline
    old = run_cli("report", SMOKE, f"paths.runs={runs}", "--out", tmp_path / "old", "--sweep", "smoke-old", "--json")
    assert old.returncode == 0 and json.loads(old.stdout)["variants"] == ["full"], old.stderr[-2000:]


@pytest.mark.parametrize("args, message", [
    (["--format", "md,pdf"], "--format: unknown format(s) ['pdf']; choose from md,tex,html,csv"),
    (["--baseline", "wo_nothing"], "--baseline wo_nothing: not a variant of sweep smoke-golden"),
    (["--sweep", "nope"], "--sweep nope: no such sweep in experiment 'smoke'"),
    (["--paper-csv", "missing.csv"], "--paper-csv missing.csv: no such file"),
    (["tracking.experiment=other"], "no experiment 'other'; run `harness sweep` on it first"),
])
def test_report_mistakes_are_one_line(runs: Path, run_cli, tmp_path: Path, args: list[str], message: str) -> None:
    proc = run_cli("report", SMOKE, f"paths.runs={runs}", "--out", tmp_path / "r", *args)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert message in proc.stderr


def test_report_without_a_store_says_so(run_cli, tmp_path: Path) -> None:
    proc = run_cli("report", SMOKE, f"paths.runs={tmp_path}", "--out", tmp_path / "report")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: {tmp_path / 'mlflow.db'}: no MLflow store yet; run `harness sweep` on " \
                                  "this experiment first"
    assert not (tmp_path / "report").exists()  # nothing written when there is nothing to report


def test_report_help_has_an_example(run_cli) -> None:
    proc = run_cli("report", "--help")
    assert proc.returncode == 0
    for text in ("Example: harness report experiments/smoke.yaml", "--paper-csv", "--baseline", "--sweep", "--format"):
        assert text in proc.stdout


def test_make_demo_runs_the_sweep_then_the_report_with_demo_args(tmp_path: Path) -> None:
    """`make -n` (setup assumed done) shows the demo's commands with DEMO_ARGS passed to both."""
    args = "train.steps=4 'sweep.seeds=[0, 1]'"
    proc = subprocess.run(["make", "-n", "-o", "setup", "demo", f"DEMO_ARGS={args}", f"DEMO={tmp_path}/runs",
                           f"DEMO_REPORT={tmp_path}/rep"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    sweep = f"harness sweep experiments/smoke.yaml paths.runs={tmp_path}/runs {args} --resume"
    report = f"harness report experiments/smoke.yaml paths.runs={tmp_path}/runs {args} --out {tmp_path}/rep"
    assert sweep in text and report in text and text.index(sweep) < text.index(report)
    assert f"{tmp_path}/rep/index.html" in text


@pytest.mark.slow
def test_demo_path_end_to_end_at_reduced_size(run_cli, tmp_path: Path) -> None:
    """The README's main job, small: `harness sweep` (3 variants, tiny) then `harness report` on it."""
    runs, out = tmp_path / "runs", tmp_path / "report"
    overrides = [f"paths.runs={runs}", *TINY, THREE_VARIANTS]
    sweep = run_cli("sweep", SMOKE, *overrides, "--resume", "--json", timeout=300)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    assert [t["status"] for t in json.loads(sweep.stdout)["trials"]] == ["TERMINATED"] * 3
    report = run_cli("report", SMOKE, *overrides, "--out", out, timeout=120)
    assert report.returncode == 0, report.stderr[-3000:]
    assert report.stdout.strip().endswith(f"report: {out / 'index.html'}")
    for name in ("index.html", "ablation.md", "ablation.tex", "ablation.csv", "dots_ssim.png", "dots_psnr.svg",
                 "loss_curves.pdf", "apdh_schedule.png"):
        assert (out / name).stat().st_size > 0, name
    md = (out / "ablation.md").read_text()
    for label in ("Full model (baseline)", "w/o APDH", "w/o L_pose"):
        assert f"| {label} " in md, label
    assert md.count("| 1/1 ") == 3 and "n=1, no test" not in md and "**" not in md  # one seed each: no test
    assert "One seed per variant: no significance test" in md and "| paired t " not in md
    assert "SSIM ↑" in md and "PSNR ↑" in md and "Exact backends (reference protocol and weights): SSIM" in md
    page = (out / "index.html").read_text()
    pngs = {p.name for p in out.glob("*.png")}  # dots x2, loss curves, schedule (+ PhD terms, samples when logged)
    assert {"dots_ssim.png", "dots_psnr.png", "loss_curves.png", "apdh_schedule.png"} <= pngs
    assert page.count("data:image/png;base64,") == len(pngs)


@pytest.mark.slow
def test_report_from_a_real_mlflow_server(runs: Path, run_cli, tmp_path: Path) -> None:
    """tracking.uri=http://... reads the same sweep over MLflow's REST API: the same table."""
    from tests.mlflow_server import mlflow_server

    with mlflow_server(tmp_path, runs / "mlflow.db") as uri:
        proc = run_cli("report", SMOKE, f"tracking.uri={uri}", "--out", tmp_path / "r", "--format", "md,html",
                       "--paper-csv", runs.parent / "paper_numbers.csv")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "r" / "ablation.md").read_text() == (Path(__file__).parent / "golden" / "ablation.md").read_text()
    assert f"MLflow tracking URI</td><td>{uri}" in (tmp_path / "r" / "index.html").read_text()


def test_trials_csv_times_are_iso_utc(runs: Path, run_cli, tmp_path: Path) -> None:
    import csv
    import datetime as dt

    from mlflow.tracking import MlflowClient

    out = tmp_path / "r"
    proc = run_cli("report", SMOKE, f"paths.runs={runs}", "--out", out, "--format", "csv")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = list(csv.DictReader((out / "trials.csv").open()))
    client = MlflowClient(f"sqlite:///{runs}/mlflow.db")
    for row in rows:
        if not row["run_id"]:
            assert row["start_time"] == ""
            continue
        expected = dt.datetime.fromtimestamp(client.get_run(row["run_id"]).info.start_time / 1000, dt.timezone.utc)
        assert row["start_time"] == expected.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert any(row["start_time"] for row in rows)
