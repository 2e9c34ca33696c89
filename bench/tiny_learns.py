"""The tiny learning test (tests/test_train_learns.py: smoke.yaml's settings) on this machine's device, as figures.

    python bench/tiny_learns.py --json out.json            # smoke.yaml's steps, on cuda when present
    python bench/tiny_learns.py --steps 6 --device cpu     # a dry run

Trains smoke.yaml's full model through the real trainer on its synthetic set (generated first, not
timed) and reports steps/s, the mean loss_v of the first and last steps (the loss must fall) and,
unless --no-samples, the held-out metrics (SSIM, synthetic Sync-C, HKC, CSIM on the 12 test clips)
of the trained and the untrained model (the same config, as built).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from harness.config_load import load  # noqa: E402
from harness.data.synth import ensure_dataset  # noqa: E402
from harness.train.trainer import train  # noqa: E402
from harness.trial_pipeline import HELD_OUT_OVERRIDES, against_untrained  # noqa: E402

from bench_output import print_figures  # noqa: E402  (bench/ is the script's own folder on sys.path)

SMOKE = Path(__file__).resolve().parents[1] / "experiments" / "smoke.yaml"
DESIGNED = ("ssim", "sync_c", "hkc", "csim")


def _trained_only(cfg, work: Path) -> tuple[list[dict], float]:
    """(per-step logs, training seconds) without the held-out evaluation (--no-samples, the dry run)."""
    ensure_dataset(cfg)
    t0 = time.perf_counter()
    history = train(cfg, work / "trained", progress=False).history
    return history, time.perf_counter() - t0


def run(steps: int | None, device: str, samples: bool, work: Path) -> dict:
    overrides = [f"paths.runs={work}", f"train.device={device}", *HELD_OUT_OVERRIDES]
    steps = load(SMOKE, overrides).train.steps if steps is None else steps
    cfg = load(SMOKE, [*overrides, f"train.steps={steps}", f"train.checkpoint_every={steps}"])
    compared = against_untrained(cfg, work) if samples else None
    history, seconds = (compared.history, compared.train_s) if compared else _trained_only(cfg, work)
    losses = [h["loss_v"] for h in history]
    head, tail = max(1, min(20, steps // 4)), max(1, min(40, steps // 3))
    out = {"device": device, "steps": steps, "train_s": round(seconds, 2),
           "steps_per_s": round(steps / seconds, 2), "median_step_s": float(np.median([h["step_time_s"] for h in history[1:]] or [seconds])),
           "loss_v_first": float(np.mean(losses[:head])), "loss_v_last": float(np.mean(losses[-tail:]))}
    out["loss_falls"] = out["loss_v_last"] < out["loss_v_first"]
    if compared:
        out["held_out_untrained"] = {k: compared.untrained.get(k) for k in DESIGNED}
        out["held_out_trained"] = {k: compared.trained.get(k) for k in DESIGNED}
        # gains, not verdicts: what counts as "clearly beats" is tests/test_train_learns.py's MARGIN
        out["gain_over_untrained"] = {k: None if out["held_out_trained"][k] is None or out["held_out_untrained"][k] is None
                                      else out["held_out_trained"][k] - out["held_out_untrained"][k] for k in DESIGNED}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None, help="training steps (default: smoke.yaml's)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--no-samples", action="store_true", help="skip the held-out metrics of the trained and untrained model")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = run(args.steps, args.device, not args.no_samples, Path(tmp))
    out["loadavg"] = os.getloadavg()
    print_figures(out, args.json)


if __name__ == "__main__":
    main()
