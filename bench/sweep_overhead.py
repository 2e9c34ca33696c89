"""Per-trial scheduling overhead of `harness sweep` on a real local Ray.

overhead per trial = (sweep wall time - ideal wall time) / trials, where the ideal wall time is
the trials' own time (inside their trainables, Tune's time_total_s) divided by the concurrency.
It covers Ray start/stop, worker start, Tune's bookkeeping, the driver's MLflow logging and
artifact upload. Trials are tiny (a few training steps) so that overhead is visible.

    .venv/bin/python bench/sweep_overhead.py --variants 3 --concurrency 1
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from harness.config_load import load

REPO = Path(__file__).resolve().parents[1]
TINY = ["train.steps=2", "train.checkpoint_every=2", "train.log_every=1", "data.frames=4", "data.synthetic.clips=3",
        "data.synthetic.portrait_clips=1", "data.synthetic.seconds=1.0", "eval.sampling_steps=2",
        "eval.metrics=[ssim,psnr]", "eval.test_clips=1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=3, help="first N variants of experiments/smoke.yaml")
    parser.add_argument("--concurrency", type=int, default=1, help="sweep.max_concurrent (1 = serial)")
    parser.add_argument("--runs", type=Path, default=None, help="paths.runs (default: a temp folder)")
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from harness.sweep.driver import run_sweep

    runs = args.runs or Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    names = list(load(REPO / "experiments" / "smoke.yaml").sweep.variants)[: args.variants]
    variants = "{" + ", ".join(f"{n}: {{}}" if n == "full" else n + ": " + _diff(n) for n in names) + "}"
    cfg = load(REPO / "experiments" / "smoke.yaml", [f"paths.runs={runs}", *TINY, f"sweep.variants={variants}",
                                                     f"sweep.max_concurrent={args.concurrency}"])
    from harness.data.synth import ensure_dataset

    ensure_dataset(cfg)  # the dataset is not scheduling overhead
    t0 = time.perf_counter()
    summary = run_sweep(cfg, verbose=0)
    wall = time.perf_counter() - t0
    own = [t.time_s for t in summary.trials]
    ideal = sum(own) / max(1, min(args.concurrency, len(own)))
    print(f"trials {len(own)} (concurrency {args.concurrency}), all finished: {not summary.failed}")
    print(f"sweep wall time      {wall:7.1f} s")
    print(f"trials' own time     {sum(own):7.1f} s  (per trial {sum(own) / len(own):.1f} s)")
    print(f"overhead per trial   {(wall - ideal) / len(own):7.1f} s")


def _diff(name: str) -> str:
    """The smoke variant's diff as flow-style YAML."""
    import yaml

    diff = load(REPO / "experiments" / "smoke.yaml").sweep.variants[name]
    return yaml.safe_dump(diff, default_flow_style=True).strip()


if __name__ == "__main__":
    main()
