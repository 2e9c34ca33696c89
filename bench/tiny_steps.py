"""Training steps per second of the tiny preset at the smoke settings (experiments/smoke.yaml),
against the previous smoke settings (64 px, 8 frames, batch 2, HPA portraits), in one process.

    python bench/tiny_steps.py                 # 30 steps each on this machine
    python bench/tiny_steps.py --steps 60 --threads 1

Each configuration trains through the real trainer (batches, conditions, loss, backward, AdamW)
on its own synthetic set (generated first, not timed); the figure is the median step time of the
steps after the first (warm-up), in wall time and in this process's CPU time (the CPU figure
hardly moves when other jobs share the cores; the wall figure does). Prints both per configuration
and the ratio smoke/previous. Quote the load average (printed) with the figures.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from harness.config_load import load
from harness.data.synth import ensure_dataset
from harness.train.trainer import train

SMOKE = Path(__file__).resolve().parents[1] / "experiments" / "smoke.yaml"
# The smoke settings before issue 13 (what `make demo` trained until then), for the ratio.
PREVIOUS = ["data.size=64", "data.frames=8", "train.batch_size=2", "data.synthetic.clips=8",
            "data.synthetic.portrait_clips=4", "data.synthetic.seconds=2.0", "data.hpa.enabled=true",
            "train.lr=1e-4", "train.min_timestep=0",
            "loss.phd.bands.pose=0.1", "loss.phd.bands.detail=0.6", "loss.phd.bands.low=0.3"]


@dataclass
class StepRate:
    """Median seconds per training step after warm-up: wall clock and this process's CPU time."""

    wall_s: float
    cpu_s: float


def step_rate(overrides: list[str], steps: int, work: Path) -> tuple[StepRate, str]:
    """(the median step times after warm-up, a one-line description of the shape)."""
    cfg = load(SMOKE, [f"paths.runs={work}", f"train.steps={steps}", f"train.checkpoint_every={steps}", *overrides])
    ensure_dataset(cfg)
    cpu_marks = [time.process_time()]  # CPU clock after each step (the step hook runs right after it)
    result = train(cfg, work / "run", on_step=lambda step, logs: cpu_marks.append(time.process_time()), progress=False)
    walls = [h["step_time_s"] for h in result.history[1:]]
    cpus = [b - a for a, b in zip(cpu_marks[1:-1], cpu_marks[2:])]  # steps 2..N (step 1 is warm-up)
    shape = (f"{cfg.data.size}px x {cfg.data.frames} frames x batch {cfg.train.batch_size}, "
             f"HPA {'on' if cfg.data.hpa.enabled else 'off'}")
    return StepRate(statistics.median(walls), statistics.median(cpus)), shape


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"threads={torch.get_num_threads()} loadavg={Path('/proc/loadavg').read_text().split()[:3]}")
    rates: dict[str, StepRate] = {}
    for name, overrides in (("smoke", []), ("previous", PREVIOUS)):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            rate, shape = step_rate(overrides, args.steps, Path(tmp))
            rates[name] = rate
            print(f"{name:9s} {shape:48s} {1 / rate.wall_s:6.2f} steps/s  ({1000 * rate.wall_s:6.1f} ms/step wall, "
                  f"{1000 * rate.cpu_s:6.1f} ms/step CPU; {time.perf_counter() - t0:5.1f} s with data and start-up)")
    print(f"ratio smoke/previous steps/s: {rates['previous'].wall_s / rates['smoke'].wall_s:.2f} wall, "
          f"{rates['previous'].cpu_s / rates['smoke'].cpu_s:.2f} CPU")
    print(f"loadavg after={Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
