"""Training-step throughput of the EchoMimicV2 network against a plain diffusers step of the
same shape (reference UNet forward + UNetMotionModel forward/backward, default processors),
measured in the same process.

    python bench/train_step.py                           # tiny, 64x64, 8 frames, on this machine
    python bench/train_step.py --preset sd15 --size 768 --frames 12 --bf16 --checkpointing   # GPU

Prints step time, achieved TFLOP/s (FLOPs counted by torch's FlopCounterMode for one step),
peak memory, and our/plain step-time ratio.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from harness.config_load import load_dict
from harness.model.build import build_model
from harness.model.presets import PRESETS


def make_inputs(preset, size: int, frames: int, batch: int, audio_dim: int, device):
    h = size // preset.latent_factor
    channels = 48 if preset.codec == "space_to_depth" else 4
    return dict(
        noisy_latents=torch.randn(batch, channels, frames, h, h, device=device),
        timesteps=torch.randint(0, 1000, (batch,), device=device),
        ref_latents=torch.randn(batch, channels, h, h, device=device),
        audio=torch.randn(batch, frames, 50 if audio_dim == 384 else 10, audio_dim, device=device),
        pose=torch.rand(batch, frames, 3, size, size, device=device),
        audio_mask=(torch.rand(batch, frames, 1, size, size, device=device) > 0.5).float(),
    )


def ours_step(model, x):
    v = model(**x)
    F.mse_loss(v.float(), torch.zeros_like(v, dtype=torch.float32)).backward()


def plain_step(model, x):
    """The same UNets with diffusers' default attention: no bank, no mask, no pose."""
    b = x["ref_latents"].shape[0]
    with torch.no_grad():
        model.reference_unet(x["ref_latents"], torch.zeros(b, dtype=torch.long, device=x["audio"].device), encoder_hidden_states=x["audio"][:, 0])
    v = model.denoising_unet(x["noisy_latents"], x["timesteps"], encoder_hidden_states=x["audio"].flatten(0, 1)).sample
    F.mse_loss(v.float(), torch.zeros_like(v, dtype=torch.float32)).backward()


def timed(fn, model, x, steps: int, device, bf16: bool) -> tuple[float, float]:
    """(seconds per step, FLOPs of one step)."""
    ctx = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)  # noqa: E731
    with ctx():
        fn(model, x)  # warm-up
    flops = FlopCounterMode(display=False)
    with flops, ctx():
        fn(model, x)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        with ctx():
            fn(model, x)
        model.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps, flops.get_total_flops()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--checkpointing", action="store_true")
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    audio_dim = 384 if args.preset == "sd15" else 80
    cfg = load_dict({"model": {"preset": args.preset, "allow_random_init": True}, "data": {"size": args.size},
                     "train": {"gradient_checkpointing": args.checkpointing}})
    model, _ = build_model(cfg, audio_dim)
    model.to(device).train()
    x = make_inputs(PRESETS[args.preset], args.size, args.frames, args.batch, audio_dim, device)
    print(f"device={device} preset={args.preset} size={args.size} frames={args.frames} batch={args.batch} "
          f"bf16={args.bf16} checkpointing={args.checkpointing} threads={torch.get_num_threads()}")
    results = {}
    for name, fn in (("plain diffusers", plain_step), ("echomimicv2", ours_step)):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        sec, flops = timed(fn, model, x, args.steps, device, args.bf16)
        peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        results[name] = sec
        print(f"{name:16s} step {sec * 1000:9.1f} ms   {flops / sec / 1e12:7.3f} TFLOP/s   "
              f"{flops / 1e12:8.3f} TFLOP/step   peak {'GPU' if device.type == 'cuda' else 'RSS'} {peak:6.2f} GiB")
    print(f"ratio echomimicv2/plain step time: {results['echomimicv2'] / results['plain diffusers']:.2f}")


if __name__ == "__main__":
    main()
