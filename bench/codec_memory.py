"""The frozen VAE's memory at 768 px, counted on fake tensors and, on a GPU, measured.

Built to test whether the VAE held the 33-39 GiB of the trainer's step that the count missed; those turned
out to be the benchmark's FLOP counter (docs/benchmarks.md, "Memory, counted"). It stays as the check of the
count on the one network whose GPU kernels (cuDNN convolutions at 768 px) differ most from the CPU's.

    .venv/bin/python bench/codec_memory.py                          # counted only (a CPU)
    python bench/codec_memory.py --device cuda --json F             # counted and measured (bench/gpu.sh)

Each case runs under bf16 autocast as in the trainer's step, on the sd15 codec with random weights:
  encode 12 frames      no grad, one call: a 12-frame clip (train.encode_frames_per_call=0; the reference is another)
  encode 4 frames       no grad: one call of the sd15 default (train.encode_frames_per_call=4)
  decode 1 frame        forward and backward to the latents: the PhD decode's per-frame checkpoint recompute
Counted: bench/memory_plan.py's StorageCounter (CUDA's fp32 norms). Measured: the peak of
torch.cuda.max_memory_allocated over the case's second run (the first picks the kernels) minus what was
allocated before it; workspaces of cuDNN and of the attention kernels are in it, in the count they are not.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch._subclasses.fake_tensor import FakeTensorMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_output import print_figures  # noqa: E402
from memory_plan import GIB, StorageCounter, cuda_float32_norms, modules_stay_put  # noqa: E402

from harness.config_load import load  # noqa: E402
from harness.model.build import build_model  # noqa: E402


def codec_cases(codec: torch.nn.Module, device: torch.device, size: int) -> dict[str, Callable[[], Callable[[], None]]]:
    """name -> a maker that creates the case's inputs and returns the run to measure."""
    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16)

    def encode(frames: int) -> Callable[[], None]:
        pixels = torch.rand(frames, 3, size, size, device=device) * 2 - 1  # (N, 3, H, W)

        def run() -> None:
            with torch.no_grad(), autocast():
                codec.encode(pixels)
        return run

    def decode_backward() -> Callable[[], None]:
        latents = torch.randn(1, 4, size // 8, size // 8, device=device, requires_grad=True)  # (1, 4, h, w)

        def run() -> None:
            with autocast():
                pixels = codec.decode(latents)
            pixels.float().square().mean().backward()
        return run

    return {"encode 12 frames": lambda: encode(12), "encode 4 frames": lambda: encode(4),
            "decode 1 frame, forward and backward": decode_backward}


def sd15_codec(size: int) -> torch.nn.Module:
    """The sd15 codec as the trainer builds it (random weights), on the current default device."""
    cfg = load(None, ["model.preset=sd15", f"data.size={size}", "model.allow_random_init=true", "model.audio_encoder=whisper"])
    return build_model(cfg, audio_dim=384)[1]


def counted(size: int) -> dict[str, float]:
    """GiB each case adds at its peak, counted on fake CPU tensors."""
    counter, out = StorageCounter(), {}
    with FakeTensorMode(allow_non_fake_inputs=True), counter, modules_stay_put(), cuda_float32_norms():
        codec = sd15_codec(size)
        for name, make in codec_cases(codec, torch.device("cpu"), size).items():
            run = make()
            counter.restart_peak()
            before = counter.now
            run()
            out[name] = round((counter.peak - before) / GIB, 2)
            del run
    return out


def measured(size: int) -> dict[str, float | str]:
    """GiB each case adds at its peak on the GPU (the second of two runs); 'out of memory' where it does not fit."""
    device = torch.device("cuda")
    with device:
        codec = sd15_codec(size)
    out: dict[str, float | str] = {}
    for name, make in codec_cases(codec, device, size).items():
        try:
            run = make()
            run()
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            run()
            torch.cuda.synchronize()
            out[name] = round((torch.cuda.max_memory_allocated() - before) / GIB, 2)
        except torch.OutOfMemoryError:
            out[name] = "out of memory"
        run = None
        torch.cuda.empty_cache()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=768, help="frame side in pixels")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="cuda: measure as well as count")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args()
    out: dict = {"size": args.size, "counted_gib": counted(args.size)}
    if args.device == "cuda":
        out["device"] = torch.cuda.get_device_name(0)
        out["measured_gib"] = measured(args.size)
        out["measured_over_counted"] = {name: round(value / out["counted_gib"][name], 2)
                                        for name, value in out["measured_gib"].items() if isinstance(value, float)}
    print_figures(out, args.json)


if __name__ == "__main__":
    main()
