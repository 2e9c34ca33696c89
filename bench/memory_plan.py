"""Peak memory of a training step, counted on a CPU with fake tensors.

The step runs on fake tensors (shapes and dtypes, no memory, no compute) while every storage it creates is
counted until it is freed; its FLOPs are counted as bench/train_step.py counts them on a real step
(FlopCounterMode, checkpoint recomputation included), so a step's work is known without a GPU.

    .venv/bin/python bench/memory_plan.py                                   # sd15 768 px, 12 and 24 frames
    .venv/bin/python bench/memory_plan.py train.stage=motion --frames 24 --skip-plain     # overrides before --frames

The two steps are bench/train_step.py's (plain diffusers UNets; ours = harness.train.step.training_step
with its VAE, PhD terms and AdamW), built and run twice under torch's FakeTensorMode: the second step's
peak is the steady one (AdamW's state and last step's gradients exist by then). Each storage an operator
returns is added to a running total and taken off when Python frees it; the peak is labelled with the
network whose forward last started or ended ("in backward" for checkpoint recomputation).

CUDA's autocast runs group_norm and layer_norm in fp32 where CPU's keeps bf16; the plan does as CUDA does
(cuda_float32_norms). What it cannot see: CUDA's workspaces (cuBLAS, cuDNN, attention kernels), the kernel a
GPU picks, the caching allocator's rounding. Against one H200 (docs/gpu/2026-11-28-h200.json, the code of
that run): the plain step measured 41.9 GiB at 12 frames (predicted 41.7) and 71.5-75.3 at 24 (predicted
71.3); ours measured 72.1 (stage motion) and 93.2 (joint) at 12 frames, which that run's bench took over a
step counted under FlopCounterMode, and counted so they are 72.4 and 91.6 (as trained: 39.1 and 54.2;
docs/benchmarks.md, "Memory, counted"). "counted_fits": what is counted, x MEASURED_OVER_PREDICTED, stays
under --card-gib. Data-dependent operators have
no fake answer: `.item()` reads 0 and `nonzero` answers "every element" (so each PhD band's term is computed
on every decoded frame: an upper bound of a few hundred MiB at 768 px).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/train_step.py's runners
import train_step  # noqa: E402
from bench_output import print_figures, user_errors_as_one_line  # noqa: E402
from flops import flop_counter  # noqa: E402

GIB = 2**30
# Measured peak / this prediction of the plain step, sd15 768 px on one H200 (12 frames 41.9 / 41.7 GiB,
# 24 frames 71.5 and 75.3 / 71.3): the largest ratio seen, the margin of "counted_fits".
MEASURED_OVER_PREDICTED = 1.06


class StorageCounter(TorchDispatchMode):
    """Counts the bytes of live storages created by operators; remembers the peak and where it happened."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, weakref.ref] = {}
        self.now = self.peak = 0
        self.where = self.peak_where = "before the step"
        self.events: list[dict] = []

    def mark(self, where: str) -> None:
        """Label what runs next (a network's forward starting or ending) and log the running total."""
        in_backward = torch._C._current_autograd_node() is not None
        self.where = f"{where} (in backward)" if in_backward else where
        self.events.append({"where": self.where, "live_gib": round(self.now / GIB, 2)})

    def restart_peak(self) -> None:
        """Forget the peak so far (keep the live storages): the next step's peak is measured alone."""
        self.peak, self.peak_where, self.events = self.now, "before the step", []

    def _count(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key = id(storage)
        if key in self.live:
            return
        size = storage.nbytes()
        self.live[key] = weakref.ref(storage, functools.partial(self._freed, key, size))
        self.now += size
        if self.now > self.peak:
            self.peak, self.peak_where = self.now, self.where

    def _freed(self, key: int, size: int, _ref: weakref.ref) -> None:
        if self.live.pop(key, None) is not None:
            self.now -= size

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.ops.aten._local_scalar_dense.default:  # .item(), float(t): a fake tensor has no value
            return False if args[0].dtype == torch.bool else 0
        if func is torch.ops.aten.nonzero.default:  # data-dependent shape: answer "every element"
            shape = args[0].shape
            out = torch.stack(torch.unravel_index(torch.arange(args[0].numel()), shape), dim=1)
        else:
            out = func(*args, **kwargs)
        for value in tree_flatten(out)[0]:
            if isinstance(value, torch.Tensor):
                self._count(value)
        return out


@contextlib.contextmanager
def modules_stay_put() -> Iterator[None]:
    """Module.to is a no-op while faking: everything is built on the one fake device already, and torch
    refuses to swap a fake parameter for its (identical) moved copy."""
    original = torch.nn.Module.to
    torch.nn.Module.to = lambda self, *args, **kwargs: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.nn.Module.to = original  # type: ignore[method-assign]


@contextlib.contextmanager
def cuda_float32_norms() -> Iterator[None]:
    """CUDA's autocast runs group_norm and layer_norm in fp32 (CPU's keeps bf16 in, bf16 out): do the same here,
    so the fp32 normalised activations a GPU saves for backward are counted at their size."""
    originals = {name: getattr(F, name) for name in ("group_norm", "layer_norm")}

    def in_float32(original: Callable) -> Callable:
        def norm(x: torch.Tensor, *args, **kwargs):
            if torch.is_autocast_enabled("cpu") and x.dtype == torch.bfloat16:
                with torch.autocast("cpu", enabled=False):
                    args = [a.float() if isinstance(a, torch.Tensor) else a for a in args]
                    kwargs = {k: v.float() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
                    return original(x.float(), *args, **kwargs)
            return original(x, *args, **kwargs)
        return norm

    for name, original in originals.items():
        setattr(F, name, in_float32(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(F, name, original)


def plan(make: Callable, cfg, frames: int, size: int, batch: int, card_gib: float) -> dict:
    """Build one runner on fake tensors, run two steps, and return the second step's predicted peak; a third
    step counts the FLOPs."""
    counter = StorageCounter()
    t0 = time.perf_counter()
    with FakeTensorMode(allow_non_fake_inputs=True), counter, modules_stay_put(), cuda_float32_norms():
        audio_shape = train_step.audio_feature_shape(cfg.model.audio_encoder)
        cond = train_step.random_conditions(batch, frames, size, audio_shape, torch.device("cpu"))
        step = make(cfg, torch.device("cpu"), cond)
        built = counter.now
        train_step.at_network_boundaries(step.networks, counter.mark)
        step()  # AdamW's state and the gradients appear here
        steady = counter.now
        counter.restart_peak()
        step()
        peak, where, events = counter.peak / GIB, counter.peak_where, counter.events
        counter.restart_peak()
        with flop_counter() as flops:  # a third step: FlopCounterMode's module hooks hold tensors and move the peak
            step()
    return {"predicted_peak_gib": round(peak, 2), "peak_where": where,
            "tflop_per_step": round(flops.get_total_flops() / 1e12, 6),
            "built_gib": round(built / GIB, 2), "between_steps_gib": round(steady / GIB, 2),
            "counted_fits": peak * MEASURED_OVER_PREDICTED <= card_gib, "events": events,
            "seconds": round(time.perf_counter() - t0, 1)}


def run(args: argparse.Namespace) -> dict:
    """Predicted peaks for each of args.frames: {"card_gib", ..., "by_frames": {"12": {"plain", "ours"}}}."""
    out = {"card_gib": args.card_gib, "measured_over_predicted": MEASURED_OVER_PREDICTED,
           "overrides": args.overrides, "by_frames": {}}
    for frames in args.frames:
        cfg = train_step.load(None, train_step.shape_overrides(args, frames))
        shape = {"frames": frames, "options": train_step.options_of(cfg)}
        runners = ([] if args.skip_plain else [("plain", train_step.plain_runner)]) + [("ours", train_step.ours_runner)]
        for name, make in runners:
            shape[name] = plan(make, cfg, frames, args.size, args.batch, args.card_gib)
            brief = {k: v for k, v in shape[name].items() if k != "events"}
            print(f"{frames} frames {name:6s} {json.dumps(brief)}", file=sys.stderr)
        out["by_frames"][str(frames)] = shape
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=sorted(train_step.PRESETS), default="sd15")
    p.add_argument("--size", type=int, default=768)
    p.add_argument("--frames", type=int, nargs="+", default=[12, 24], help="one or more clip lengths")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--card-gib", type=float, default=79.0,
                   help="memory PyTorch may allocate on the card (79: an H100 80GB)")
    p.add_argument("--skip-plain", action="store_true")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("overrides", nargs="*", help="config overrides a.b.c=value, before --frames (e.g. train.stage=motion)")
    args = p.parse_args()
    with user_errors_as_one_line():  # a bad override
        out = run(args)
    print_figures(out, args.json)


if __name__ == "__main__":
    main()
