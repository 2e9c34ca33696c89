"""Screenshots of MLflow's UI on a store, for docs/screenshots/ (refresh them with this script).

    python -m reports.screenshots --store runs/demo --report reports/smoke --out docs/screenshots

Starts `mlflow ui` on the store (a runs folder holding mlflow.db, or the .db file) on a free
127.0.0.1 port, writes `harness ui`'s runs-table view into the experiment (harness/commands/ui.py),
and takes headless Chromium screenshots (Debian package `chromium`) of:

* ``runs_table.png``   the runs table `harness ui` opens: trial runs, final metrics and switch params;
* ``chart_view.png``   the same view's charts: each final metric one bar per run;
* ``compare_runs.png`` MLflow's compare page of the trial runs (params and metrics side by side);
* ``run_page.png``     the baseline trial's run page (params, metrics, tags, description);
* ``report.png``       with ``--report DIR``: the top of the report page ``DIR/index.html``.

The PNGs are palette-quantised to stay small (< 300 KB each).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from harness.errors import HarnessError

FLAGS = ("--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--disable-dev-shm-usage",
         "--virtual-time-budget=20000", "--run-all-compositor-stages-before-draw")
SIZE = (1900, 1200)
REPORT_SIZE = (1400, 2400)  # the report is a long page: its table, notes and first figures
MAX_BYTES = 300_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="runs folder with mlflow.db, or the .db file")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--experiment", default=None, help="experiment name (default: the one with the newest run)")
    parser.add_argument("--browser", default=None, help="Chromium binary (default: chromium on PATH)")
    parser.add_argument("--report", type=Path, default=None, help="a `harness report` folder: also shoot its page")
    args = parser.parse_args(argv)
    try:
        shots = take(args.store, args.out, args.experiment, args.browser)
        if args.report is not None:
            shots.append(take_report(args.report, args.out, args.browser))
        for path in shots:
            print(f"{path} ({path.stat().st_size // 1000} KB)")
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def take(store: Path, out: Path, experiment: str | None = None, browser: str | None = None) -> list[Path]:
    """Start the UI on store, take the four screenshots into out; returns their paths."""
    from mlflow.tracking import MlflowClient

    from harness.commands.ui import find_experiment, runs_page, share_view
    from harness.runs.schema import Role, TrialTags, role_filter

    db = store if store.suffix == ".db" else store / "mlflow.db"
    if not db.is_file():
        raise HarnessError(f"{db}: no MLflow store")
    chromium = browser or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise HarnessError("no chromium on PATH (Debian: apt-get install chromium)")
    uri = f"sqlite:///{db.resolve()}"
    client = MlflowClient(uri)
    found = find_experiment(client, experiment or "")
    if found is None:
        raise HarnessError(f"{db}: no experiment with runs")
    exp_id = found.experiment_id
    key = share_view(client, exp_id)
    trials = client.search_runs([exp_id], filter_string=role_filter(Role.TRIAL), max_results=50,
                                order_by=["attributes.run_name ASC"])
    if not trials:
        raise HarnessError(f"experiment {found.name!r}: no trial runs to show")
    baseline = next((r for r in trials if r.data.tags.get(TrialTags.BASELINE) == "true"), trials[0])
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    out.mkdir(parents=True, exist_ok=True)
    ids = json.dumps([r.info.run_id for r in trials])
    pages = {
        "runs_table.png": runs_page(base, exp_id, key),
        "chart_view.png": runs_page(base, exp_id, key) + "&compareRunsMode=CHART",
        "compare_runs.png": f"{base}/#/compare-runs?runs={urllib.parse.quote(ids)}"
                            f"&experiments={urllib.parse.quote(json.dumps([exp_id]))}&workflowType=machine_learning",
        "run_page.png": f"{base}/#/experiments/{exp_id}/runs/{baseline.info.run_id}?workflowType=machine_learning",
    }
    with _ui_server(uri, port), tempfile.TemporaryDirectory(prefix="harness-shots-") as profile:
        return [_shot(chromium, url, out / name, profile) for name, url in pages.items()]


def take_report(report: Path, out: Path, browser: str | None = None) -> Path:
    """A screenshot of the report page report/index.html (the top: table, notes, first figures)."""
    page = report / "index.html"
    if not page.is_file():
        raise HarnessError(f"{page}: no report page (write one with `harness report`)")
    chromium = browser or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise HarnessError("no chromium on PATH (Debian: apt-get install chromium)")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="harness-shots-") as profile:
        return _shot(chromium, page.resolve().as_uri(), out / "report.png", profile, REPORT_SIZE)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _ui_server(uri: str, port: int, timeout: float = 180.0):
    """`mlflow ui` on 127.0.0.1:port in its own process group, stopped (the whole group) on exit."""
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen([str(mlflow_bin), "ui", "--backend-store-uri", uri, "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=dict(os.environ))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise HarnessError(f"mlflow ui exited with {proc.returncode}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            time.sleep(0.5)
        else:
            raise HarnessError(f"mlflow ui did not answer within {timeout:.0f} s")
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _shot(chromium: str, url: str, png: Path, profile: str, size: tuple[int, int] = SIZE) -> Path:
    """One headless screenshot of url into png, palette-quantised to stay under MAX_BYTES."""
    from PIL import Image

    raw = png.with_suffix(".raw.png")
    done = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                           f"--screenshot={raw}", url], capture_output=True, text=True, timeout=180)
    if done.returncode != 0 or not raw.is_file():
        raise HarnessError(f"chromium could not take {png.name}: {done.stderr.strip()[-300:]}")
    with Image.open(raw) as image:
        image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(png, optimize=True)
    raw.unlink()
    if png.stat().st_size > MAX_BYTES:
        raise HarnessError(f"{png}: {png.stat().st_size} bytes, more than {MAX_BYTES}")
    return png


if __name__ == "__main__":
    sys.exit(main())
