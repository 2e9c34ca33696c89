"""The optimiser step alone, per train.optimizer (adamw, adamw_fused, adamw_8bit), on one config's parameters.

adamw is the plain path and the ratios' baseline, adamw_fused the presets' default, adamw_8bit
harness/train/adamw8bit.py; all on the trainable parameters a config builds, in one process.

    python bench/optimizer_step.py                                     # tiny, this machine
    python bench/optimizer_step.py --preset sd15 train.stage=motion    # the motion modules (on a CPU: minutes)
    python bench/optimizer_step.py --preset sd15 --json out.json       # joint: 2.15 B parameters, a GPU

Each optimiser steps the same parameters on the same fixed gradients: one warm-up step (it allocates the
state), then --steps timed ones. Prints seconds a step, the bytes its state holds (per parameter too) and
the ratios against adamw measured here. The training step around it is bench/train_step.py's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from harness.config_load import load  # noqa: E402
from harness.data.audio_features import audio_feature_shape  # noqa: E402
from harness.model.build import build_model  # noqa: E402
from harness.model.presets import PRESETS  # noqa: E402
from harness.train.adamw8bit import state_bytes  # noqa: E402
from harness.train.stages import apply_stage  # noqa: E402
from harness.train.step import make_optimizer  # noqa: E402

from bench_output import print_figures, user_errors_as_one_line  # noqa: E402  (bench/: the script's folder)
from train_step import model_overrides  # noqa: E402  (the benchmarked network, as train_step.py builds it)

CHOICES = ("adamw", "adamw_fused", "adamw_8bit")  # the first is the baseline of the ratios


def trainable_model(args: argparse.Namespace, device: torch.device) -> tuple[torch.nn.Module, object]:
    """(model with the config's stage applied and fixed gradients on its trainable parameters, config)."""
    cfg = load(None, [*model_overrides(args.preset, args.size), *args.overrides])
    with torch.device(device):
        model, _ = build_model(cfg, audio_dim=audio_feature_shape(cfg.model.audio_encoder)[-1])
    model.to(device)
    apply_stage(model, cfg.train.stage)
    generator = torch.Generator(device).manual_seed(0)
    for p in model.parameters():
        if p.requires_grad:  # gradients of a trained network's order of magnitude; fixed across optimisers
            p.grad = torch.randn(p.shape, generator=generator, device=device) * 1e-3
    return model, cfg


def time_optimizer(model: torch.nn.Module, cfg, choice: str, steps: int, device: torch.device) -> dict:
    """Seconds a step (median of `steps` after one warm-up) and the state's bytes for train.optimizer=choice."""
    optimizer = make_optimizer(model, cfg.model_copy(update={"train": cfg.train.model_copy(update={"optimizer": choice})}))
    optimizer.step()  # allocates the state
    times = []
    for _ in range(steps):
        _sync(device)
        start = time.perf_counter()
        optimizer.step()
        _sync(device)
        times.append(time.perf_counter() - start)
    n_params = sum(p.numel() for group in optimizer.param_groups for p in group["params"])
    held = state_bytes(optimizer)
    del optimizer
    return {"step_s": round(statistics.median(times), 4), "state_bytes": held, "state_gib": round(held / 2**30, 3),
            "state_bytes_per_param": round(held / n_params, 3)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, cfg = trainable_model(args, device)
    out = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else f"cpu ({os.cpu_count()} cores)",
           "torch": torch.__version__, "threads": torch.get_num_threads(), "loadavg_start": os.getloadavg(),
           "preset": args.preset, "stage": cfg.train.stage, "overrides": args.overrides,
           "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad), "by_optimizer": {}}
    for choice in CHOICES:
        out["by_optimizer"][choice] = time_optimizer(model, cfg, choice, args.steps, device)
        print(f"{choice:12s} {out['by_optimizer'][choice]}", file=sys.stderr)
    base = out["by_optimizer"][CHOICES[0]]
    for choice in CHOICES[1:]:
        figures = out["by_optimizer"][choice]
        figures["time_over_adamw"] = round(figures["step_s"] / base["step_s"], 3)
        figures["state_over_adamw"] = round(figures["state_bytes"] / base["state_bytes"], 3)
    out["loadavg_end"] = os.getloadavg()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument("--size", type=int, default=64, help="frame size the model is built for (sd15: 768)")
    p.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when present")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("overrides", nargs="*", help="config overrides a.b.c=value (e.g. train.stage=motion)")
    args = p.parse_args()
    with user_errors_as_one_line():  # a bad override
        out = run(args)
    print_figures(out, args.json)


if __name__ == "__main__":
    main()
