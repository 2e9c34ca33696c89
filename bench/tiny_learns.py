"""The tiny learning test (tests/test_train_learns.py's settings) on this machine's device, as figures.

    python bench/tiny_learns.py --json out.json            # 400 steps on cuda when present
    python bench/tiny_learns.py --steps 6 --device cpu     # a dry run

Trains the tiny preset through the real trainer on a synthetic set (generated first, not timed) and
reports steps/s, the mean loss_v of the first and last steps (the loss must fall) and, unless
--no-samples, the per-clip SSIM of 10-step samples on the training clips before and after training.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from harness.config_load import load  # noqa: E402
from harness.data.clip_format import load_clip, read_index  # noqa: E402
from harness.data.synth import ensure_dataset  # noqa: E402
from harness.train.generate import generate_for_clip, load_trained  # noqa: E402
from harness.train.trainer import train  # noqa: E402

BASE = Path(__file__).resolve().parents[1] / "experiments" / "base.yaml"
# tests/test_train_learns.py's settings (what a few CPU minutes buy); --steps replaces its 400.
SETTINGS = ["train.lr=2e-3", "train.batch_size=4", "data.size=32", "data.frames=4", "data.synthetic.clips=4",
            "data.synthetic.portrait_clips=0", "eval.sampling_steps=10", "eval.guidance_scale=1.0", "eval.audio_attn_scale=1.0"]


def _ssim(frames: np.ndarray, target: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(np.mean([structural_similarity(a, b, channel_axis=2, data_range=255, gaussian_weights=True,
                                                sigma=1.5, use_sample_covariance=False) for a, b in zip(frames, target)]))


def _scores(checkpoint: Path, root: Path, clip_ids: list[str], device: torch.device) -> list[float]:
    cfg, model, codec = load_trained(checkpoint, device)
    return [_ssim(generate_for_clip(cfg, model, codec, root / "clips" / c, seed=0).frames,
                  load_clip(root / "clips" / c)["frames"]) for c in clip_ids]


def run(steps: int, device: str, samples: bool, work: Path) -> dict:
    cfg = load(BASE, [f"paths.runs={work}", f"train.steps={steps}", f"train.checkpoint_every={steps}",
                      f"train.device={device}", *SETTINGS])
    root = ensure_dataset(cfg)
    train_ids = sorted(c["id"] for c in read_index(root)["clips"] if c["split"] == "train")
    t0 = time.perf_counter()
    trained = train(cfg, work / "trained", progress=False)
    seconds = time.perf_counter() - t0
    losses = [h["loss_v"] for h in trained.history]
    head, tail = max(1, min(20, steps // 4)), max(1, min(40, steps // 3))
    out = {"device": device, "steps": steps, "train_s": round(seconds, 2),
           "steps_per_s": round(steps / seconds, 2), "median_step_s": float(np.median([h["step_time_s"] for h in trained.history[1:]] or [seconds])),
           "loss_v_first": float(np.mean(losses[:head])), "loss_v_last": float(np.mean(losses[-tail:]))}
    out["loss_falls"] = out["loss_v_last"] < out["loss_v_first"]
    if samples:
        untrained = train(cfg.model_copy(update={"train": cfg.train.model_copy(update={"steps": 1, "lr": 1e-12})}),
                          work / "untrained", progress=False)
        dev = torch.device(device)
        out["ssim_train_clips_untrained"] = _scores(untrained.checkpoint, root, train_ids, dev)
        out["ssim_train_clips_trained"] = _scores(trained.checkpoint, root, train_ids, dev)
        out["ssim_improves"] = float(np.mean(out["ssim_train_clips_trained"])) > float(np.mean(out["ssim_train_clips_untrained"]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--no-samples", action="store_true", help="skip the before/after SSIM of samples")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = run(args.steps, args.device, not args.no_samples, Path(tmp))
    out["loadavg"] = os.getloadavg()
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
