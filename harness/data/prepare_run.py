"""Run prepare_video over a folder of videos on Ray (local by default, or a cluster address).

Writes <out>/rejects.json (this run's rejected files with reasons) and rebuilds
<out>/index.json from every finished clip in <out>/clips. Re-running skips finished clips.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from harness.data.clip_format import index_entry, read_meta, write_index
from harness.data.prepare import list_videos, prepare_video
from harness.data.progress import make_progress
from harness.runtime.session import ray_session
from harness.writable import require_writable
from harness.vocabulary import PREPARE_TEST_FRACTION


def _safe_prepare(**job: Any) -> dict[str, Any]:
    """prepare_video, with an unexpected failure on one video turned into a reject (the job goes on)."""
    try:
        return prepare_video(**job)
    except Exception as exc:  # noqa: BLE001  a batch job must survive one bad file
        return {"source": job["video"], "clip_id": "", "status": "rejected",
                "reason": f"{job['video']}: failed ({exc.__class__.__name__}: {exc})"}


def _run_on_ray(jobs: list[dict[str, Any]], address: str | None, workers: int, progress: bool) -> list[dict]:
    import ray

    with ray_session(address, num_cpus=workers):  # the sweep's Ray runtime: local token auth, own temp dir
        task = ray.remote(num_cpus=1, max_retries=1)(_safe_prepare)
        pending = {task.remote(**job): job for job in jobs}
        results = []
        with make_progress() as bar:
            bar_task = bar.add_task("preparing videos", total=len(pending), visible=progress)
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(done[0])
                try:
                    results.append(ray.get(done[0]))
                except ray.exceptions.RayError as exc:  # the worker died (e.g. out of memory)
                    results.append({"source": job["video"], "clip_id": "", "status": "rejected",
                                    "reason": f"{job['video']}: worker failed ({exc.__class__.__name__})"})
                bar.advance(bar_task)
        return results


def _run_in_process(jobs: list[dict[str, Any]], progress: bool) -> list[dict]:
    results = []
    with make_progress() as bar:
        bar_task = bar.add_task("preparing videos", total=len(jobs), visible=progress)
        for job in jobs:
            results.append(_safe_prepare(**job))
            bar.advance(bar_task)
    return results


def rebuild_index(out: Path) -> list[dict[str, Any]]:
    """index.json from every finished clip folder under out/clips; returns the entries."""
    entries = []
    for meta_path in sorted((out / "clips").glob("*/meta.json")):
        entries.append(index_entry(meta_path.parent.name, read_meta(meta_path.parent)))
    write_index(out, entries, {"generator": "prepare"})
    return entries


def prepare_dir(src: Path, out: Path, size: int, fps: int, sample_rate: int, split: str = "auto",
                test_fraction: float = PREPARE_TEST_FRACTION, address: str | None = None, workers: int = 0,
                progress: bool = True) -> dict[str, Any]:
    """Prepare every video under src into out. workers: local Ray CPUs (0 = all cores);
    address: a Ray cluster to join instead. Returns {done, skipped, rejected, clips}."""
    src, out = Path(src), Path(out)
    videos = list_videos(src)
    require_writable(out, "--out")  # before any worker starts
    jobs = [{"video": str(v), "src": str(src), "out": str(out), "size": size, "fps": fps,
             "sample_rate": sample_rate, "split": split, "test_fraction": test_fraction} for v in videos]
    n_cpus = workers or os.cpu_count() or 1
    if workers < 0:
        results = _run_in_process(jobs, progress)
    else:
        results = _run_on_ray(jobs, address, min(n_cpus, max(len(jobs), 1)), progress)
    rejects = sorted(({"source": r["source"], "reason": r["reason"]} for r in results if r["status"] == "rejected"),
                     key=lambda r: r["source"])
    (out / "rejects.json").write_text(json.dumps(rejects, indent=1) + "\n")
    entries = rebuild_index(out)
    by_status = {s: [r for r in results if r["status"] == s] for s in ("done", "skipped", "rejected")}
    return {**by_status, "clips": len(entries), "results": results}
