"""Training steps per second of the tiny preset at the smoke settings (experiments/smoke.yaml),
against the previous smoke settings (64 px, 8 frames, batch 2, HPA portraits), in one process.

    python bench/tiny_steps.py                 # 30 steps each on this machine
    python bench/tiny_steps.py --steps 60 --threads 1

Each configuration trains through the real trainer (batches, conditions, loss, backward, AdamW)
on its own synthetic set (generated first, not timed); the figure is the median step time of the
steps after the first (warm-up). Prints steps/s of each and the ratio smoke/previous. Quote the
load average (printed) with the figures: the machine may be shared.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from harness.config_load import load
from harness.data.synth import ensure_dataset
from harness.train.trainer import train

SMOKE = Path(__file__).resolve().parents[1] / "experiments" / "smoke.yaml"
# The smoke settings before issue 13 (what `make demo` trained until then), for the ratio.
PREVIOUS = ["data.size=64", "data.frames=8", "train.batch_size=2", "data.synthetic.clips=8",
            "data.synthetic.portrait_clips=4", "data.synthetic.seconds=2.0", "data.hpa.enabled=true",
            "train.lr=1e-4", "train.min_timestep=0"]


def steps_per_second(overrides: list[str], steps: int, work: Path) -> tuple[float, str]:
    """(steps/s from the median step time after warm-up, a one-line description of the shape)."""
    cfg = load(SMOKE, [f"paths.runs={work}", f"train.steps={steps}", f"train.checkpoint_every={steps}", *overrides])
    ensure_dataset(cfg)
    result = train(cfg, work / "run", progress=False)
    times = [h["step_time_s"] for h in result.history[1:]]
    shape = (f"{cfg.data.size}px x {cfg.data.frames} frames x batch {cfg.train.batch_size}, "
             f"HPA {'on' if cfg.data.hpa.enabled else 'off'}")
    return 1.0 / statistics.median(times), shape


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"threads={torch.get_num_threads()} loadavg={Path('/proc/loadavg').read_text().split()[:3]}")
    rates = {}
    for name, overrides in (("smoke", []), ("previous", PREVIOUS)):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            rates[name], shape = steps_per_second(overrides, args.steps, Path(tmp))
            print(f"{name:9s} {shape:48s} {rates[name]:6.2f} steps/s  ({1000 / rates[name]:6.1f} ms/step; "
                  f"{time.perf_counter() - t0:5.1f} s with data and start-up)")
    print(f"ratio smoke/previous steps/s: {rates['smoke'] / rates['previous']:.2f}")
    print(f"loadavg after={Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
