"""The report's qualitative panel (reports/samples.py): each variant's scored frames fetched from MLflow,
under the reference and the ground truth from the dataset, drawn into the HTML page; Chromium renders it."""

from __future__ import annotations

import base64
import shutil
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from harness.config_load import load
from harness.runs.schema import Artifacts, SweepTags
from tests.chromium import chromium, dump_dom, screenshot  # noqa: F401  (chromium is a fixture)
from tests.conftest import EXPERIMENTS
from tests.mlflow_server import migrated_store
from tests.report_store import OVERRIDES, RAN, VALUES, write_sweep

FRAMES = 24  # the synthetic_clips fixture: 1 s at 24 fps, 32 px


def predicted(variant: str, seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """A trial's stand-in prediction: noise of its own (any mix-up of rows, seeds or frames shows)."""
    return np.random.default_rng(zlib.crc32(f"{variant}-{seed}".encode())).integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory, synthetic_clips: Path):
    """A sweep (tests/report_store.py) whose finished trials logged scored frames with the trial's writer."""
    from mlflow.tracking import MlflowClient

    from harness.runs.store import tracking_uri
    from harness.runtime.run_folder import dataset_hash
    from harness.trial_pipeline import test_clip_ids, write_scored

    base = tmp_path_factory.mktemp("samples_report")
    runs = base / "runs"
    runs.mkdir()
    shutil.copy(migrated_store(base), runs / "mlflow.db")
    cfg = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={runs}", *OVERRIDES, f"data.root={synthetic_clips}"])
    write_sweep(cfg, "samples000000001", "smoke-samples", RAN, base / "errors")
    client = MlflowClient(tracking_uri(cfg))
    clip = test_clip_ids(synthetic_clips, 1)[0]
    runs_by_key = {}
    for run in client.search_runs([client.get_experiment_by_name(cfg.name).experiment_id]):
        tags = run.data.tags
        if "trial_key" not in tags:
            client.set_tag(run.info.run_id, SweepTags.DATASET_HASH, dataset_hash(synthetic_clips))  # the parent
        elif run.info.status == "FINISHED":
            variant, seed = tags["variant"], int(tags["seed"])
            frames = predicted(variant, seed, (FRAMES, 32, 32, 3))
            folder = base / "outputs" / tags["trial_key"]
            write_scored(folder / Artifacts.SCORED, {clip: SimpleNamespace(frames=frames, fps=24.0)})
            client.log_artifacts(run.info.run_id, str(folder))
            runs_by_key[(variant, seed)] = run.info.run_id
    assert set(runs_by_key) == set(VALUES)
    return cfg, clip, synthetic_clips


@pytest.fixture(scope="module")
def report(sweep, tmp_path_factory: pytest.TempPathFactory):
    from reports.build import build_report

    cfg, _, _ = sweep
    return build_report(cfg, tmp_path_factory.mktemp("samples_out"), ["html"])


def tiles(panel: np.ndarray, rows: int, cols: int, size: int, gap: int, left: int, top: int) -> list[list[np.ndarray]]:
    return [[panel[top + r * (size + gap): top + r * (size + gap) + size, left + c * (size + gap):
                   left + c * (size + gap) + size] for c in range(cols)] for r in range(rows)]


def test_panel_shows_reference_truth_and_each_variants_first_seed(sweep, report) -> None:
    from PIL import Image

    from harness.data.clip_format import read_frames
    from reports.samples import GAP, HEADER, LABEL_WIDTH, PANEL_PNG

    _, clip, dataset = sweep
    png = report.out / PANEL_PNG
    assert png in report.files
    picks = [0, 8, 15, 23]  # four frames evenly over 24
    shown = ["full", "wo_apdh", "wo_l_pose"]  # wo_hpa never ran
    size = 32 * 4  # 32 px frames enlarged 4x to 128
    with Image.open(png) as img:
        assert img.size == (LABEL_WIDTH + 4 * size + 3 * GAP, HEADER + (2 + len(shown)) * size + (1 + len(shown)) * GAP)
        panel = np.asarray(img.convert("RGB"))
    grid = tiles(panel, 2 + len(shown), 4, size, GAP, LABEL_WIDTH, HEADER)

    def big(frame: np.ndarray) -> np.ndarray:
        return frame.repeat(4, axis=0).repeat(4, axis=1)

    truth = read_frames(dataset / "clips" / clip)
    np.testing.assert_array_equal(grid[0][0], big(truth[0]))  # the reference
    assert (grid[0][1] == 255).all()  # ... shown once
    for c, i in enumerate(picks):
        np.testing.assert_array_equal(grid[1][c], big(truth[i]))
        for r, variant in enumerate(shown):
            np.testing.assert_array_equal(grid[2 + r][c], big(predicted(variant, 0, (FRAMES, 32, 32, 3))[i]))
    assert (panel[:HEADER, LABEL_WIDTH:] < 128).any() and (panel[HEADER:, : LABEL_WIDTH - 8] < 128).any()  # labels


def test_page_carries_the_panel_and_chromium_draws_it(report, chromium: str, tmp_path: Path) -> None:  # noqa: F811
    import cv2
    from PIL import Image

    from reports.samples import PANEL_PNG

    page = report.index.read_text(encoding="utf-8")
    data = base64.b64encode((report.out / PANEL_PNG).read_bytes()).decode("ascii")
    assert "<h2>Qualitative samples</h2>" in page and f'src="data:image/png;base64,{data}"' in page
    dom = dump_dom(chromium, report.index)
    assert '<figure class="panel">' in dom and "seed 0" in dom
    shot = tmp_path / "page.png"
    done = screenshot(chromium, report.index, shot, size=(1300, 6000))
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    with Image.open(shot) as img:
        page_pixels = np.asarray(img.convert("L"))
    with Image.open(report.out / PANEL_PNG) as img:
        panel = np.asarray(img.convert("L"))
    match = cv2.matchTemplate(page_pixels, panel, cv2.TM_CCOEFF_NORMED).max()
    assert match > 0.95, match  # the panel is on the rendered page, at its own size


def test_dataset_of_another_sweep_leaves_truth_out(sweep, tmp_path: Path) -> None:
    """A dataset whose hash is not the sweep's: no reference or ground-truth rows, and a note says why."""
    from reports.query import load_sweep, open_store
    from reports.samples import qualitative_panel

    cfg, _, dataset = sweep
    other = tmp_path / "other"
    shutil.copytree(dataset, other)
    (other / "index.json").write_text((other / "index.json").read_text() + " ")
    moved = load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={cfg.paths.runs}", *OVERRIDES, f"data.root={other}"])
    store = open_store(moved)
    panel = qualitative_panel(store, load_sweep(store), moved, tmp_path / "out")
    assert panel is not None and panel.rows == ["Full model", "w/o APDH", "w/o L_pose"]
    assert "is not the one the sweep ran on" in panel.caption()


def test_unreadable_frames_cost_their_row_not_the_report(sweep, tmp_path: Path, monkeypatch) -> None:
    import reports.samples as samples
    from harness.errors import HarnessError
    from reports.query import load_sweep, open_store

    cfg, _, _ = sweep
    store = open_store(cfg)
    data = load_sweep(store)
    damaged = samples.first_seed_runs(data)["wo_apdh"][0]
    fetch = samples.fetch_scored

    def fetch_or_fail(store, run_id, clip, dst):
        if run_id == damaged:
            raise HarnessError(f"{dst}: unreadable PNG frame")
        return fetch(store, run_id, clip, dst)

    monkeypatch.setattr(samples, "fetch_scored", fetch_or_fail)
    panel = samples.qualitative_panel(store, data, cfg, tmp_path)
    assert panel is not None and panel.rows == ["reference", "ground truth", "Full model", "w/o L_pose"]
    assert "w/o APDH left out:" in panel.caption() and "unreadable PNG frame" in panel.caption()


def test_harness_report_writes_the_panel(sweep, run_cli, tmp_path: Path) -> None:
    from reports.samples import PANEL_PNG

    cfg, _, dataset = sweep
    out = tmp_path / "report"
    proc = run_cli("report", EXPERIMENTS / "smoke.yaml", f"paths.runs={cfg.paths.runs}", *OVERRIDES,
                   f"data.root={dataset}", "--format", "html", "--out", out, "--paper-csv", "none")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / PANEL_PNG).is_file() and "Qualitative samples" in (out / "index.html").read_text(encoding="utf-8")
