"""The trainer's own training step against a plain diffusers step of the same shape, in one process.

    python bench/train_step.py                                          # tiny, 64 px, 8 frames, this machine
    python bench/train_step.py --preset sd15 --size 768 --frames 12 24 --json out.json  # a GPU
    python bench/train_step.py --preset sd15 --size 768 --frames 12 --skip-plain train.channels_last=true

ours: harness.train.step.training_step, what the trainer runs: a batch -> frozen VAE encode ->
reference and denoiser forward/backward -> PhD terms on decoded frames -> AdamW, with the config's
speed options (the preset's defaults; `a.b=c` overrides as for `harness train`). With
train.latent_cache (sd15's default) the batch arrives with its latents, as every window after a clip's
first does in training, so the timed step has no VAE encode (train.latent_cache=false puts it back).
plain: fresh diffusers UNets of the same shape with their default processors: reference UNet
forward (no grad) + UNetMotionModel forward/backward on per-frame audio tokens, under the same
autocast and diffusers' own gradient checkpointing (no VAE, no PhD, no optimiser step).

Prints (and with --json writes) step time, FLOPs executed per step (torch FlopCounterMode, checkpoint
recomputation included), TFLOP/s, MFU against a peak measured in this run (a large bf16 matmul on a
GPU, fp32 on a CPU), peak memory, and whether the step fits (out of memory = fits false).
--memory-limit-gib caps what PyTorch may allocate on the GPU (torch.cuda.set_per_process_memory_fraction), so a
larger card answers "does it fit on an 80 GB one" (bench/gpu.sh passes 79, an H100 80GB's usable memory).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from harness.config_load import load  # noqa: E402
from harness.data.audio_features import audio_feature_shape  # noqa: E402
from harness.model.build import build_model, fresh_unets  # noqa: E402
from harness.model.presets import PRESETS  # noqa: E402
from harness.train.conditions import Conditions  # noqa: E402
from harness.train.objective import make_scheduler  # noqa: E402
from harness.train.stages import apply_stage  # noqa: E402
from harness.train.step import encode_clip, make_optimizer, training_step  # noqa: E402

from bench_output import print_figures, user_errors_as_one_line  # noqa: E402  (bench/: the script's folder)
from flops import flop_counter  # noqa: E402


def measured_peak_tflops(device: torch.device) -> tuple[float, str]:
    """(TFLOP/s, dtype) of a large matmul: bf16 8192^3 on a GPU, fp32 1024^3 on a CPU."""
    n, dtype = (8192, torch.bfloat16) if device.type == "cuda" else (1024, torch.float32)
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    for _ in range(3):
        a @ b  # warm-up
    iters = 50 if device.type == "cuda" else 5
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        a @ b
    _sync(device)
    return 2 * n**3 * iters / (time.perf_counter() - t0) / 1e12, str(dtype).removeprefix("torch.")


def random_conditions(batch: int, frames: int, size: int, audio_shape: tuple[int, int], device: torch.device) -> Conditions:
    """A batch shaped like the trainer's (harness/train/conditions.py): APDH lips-box audio mask, keypoints."""
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(batch, frames, 1, size, size)
    mask[..., size // 4: size // 2, size // 3: 2 * size // 3] = 1.0
    cond = Conditions(
        frames=torch.rand(batch, frames, 3, size, size, generator=g) * 2 - 1,
        reference=torch.rand(batch, 3, size, size, generator=g) * 2 - 1,
        audio=torch.randn(batch, frames, *audio_shape, generator=g),
        pose=torch.rand(batch, frames, 3, size, size, generator=g),
        audio_mask=mask, loss_mask=None, keypoints=torch.rand(batch, frames, 133, 3, generator=g),
        lips_boxes=torch.tensor([0.4, 0.3, 0.6, 0.4]).expand(batch, frames, 4).clone())
    return Conditions(**{k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in vars(cond).items()})


def cap_gpu_memory(limit_gib: float | None) -> dict:
    """Cap PyTorch's allocations on GPU 0 at limit_gib (None: the whole card); the figures for the JSON."""
    total_gib = torch.cuda.get_device_properties(0).total_memory / 2**30
    if limit_gib is not None and limit_gib < total_gib:
        torch.cuda.set_per_process_memory_fraction(limit_gib / total_gib)
    return {"gpu_memory_gib": round(total_gib, 2), "memory_limit_gib": limit_gib if limit_gib and limit_gib < total_gib else None}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _peak_memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # process peak RSS (KiB on Linux)


def time_step(step: Callable[[], None], device: torch.device, steps: int, count_flops: bool) -> dict:
    """Warm-up and `steps` timed steps (their peak memory is the step's), then one FLOP-counted step.

    The FLOP count comes last and its memory is kept apart ("flop_count_peak_gib"): FlopCounterMode's module
    hooks keep tensors alive that a checkpointed step would have freed (bench/memory_plan.py: the sd15 motion
    step at 12 frames counts 28.1 GiB as trained, 67.3 under the counter), so a peak that spanned it would not
    be the training step's.
    Out of memory in the timed steps -> fits false; in the counted step -> tflop_per_step None.
    """
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    events = getattr(step, "memory_events", None)  # ours: memory at each network's entry and exit (GPU)
    try:
        step()  # warm-up (allocator, kernels, compile)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        seconds = (time.perf_counter() - t0) / steps
    except torch.OutOfMemoryError:
        return {"fits": False, "error": "out of memory", "peak_memory_gib": round(_peak_memory_gib(device), 2),
                **({"memory_events": list(events)} if events else {})}  # the failing step's, up to where it failed
    result = {"fits": True, "step_s": seconds, "peak_memory_gib": round(_peak_memory_gib(device), 2),
              **({"memory_events": list(events)} if events else {})}  # the last timed step's
    result.update(count_step_flops(step, device, seconds) if count_flops else {"tflop_per_step": None, "tflops": None})
    return result


def count_step_flops(step: Callable[[], None], device: torch.device, seconds: float) -> dict:
    """One more step under FlopCounterMode: FLOPs executed (checkpoint recomputation included) and TFLOP/s."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    try:
        with flop_counter() as counter:
            step()
    except torch.OutOfMemoryError:
        return {"tflop_per_step": None, "tflops": None, "flop_count": "out of memory under FlopCounterMode"}
    flops = counter.get_total_flops()
    return {"tflop_per_step": flops / 1e12, "tflops": flops / seconds / 1e12,
            "flop_count_peak_gib": round(_peak_memory_gib(device), 2)}


def plain_runner(cfg, device: torch.device, cond: Conditions) -> Callable[[], None]:
    """The plain diffusers step (module docstring) on fresh UNets of cfg's preset shape."""
    preset = PRESETS[cfg.model.preset]
    channels = 48 if preset.codec == "space_to_depth" else 4
    h = cfg.data.size // preset.latent_factor
    with torch.device(device):  # initialise on the device: minutes less for sd15
        reference, denoiser = fresh_unets(preset, channels, cond.audio.shape[-1], h)
    if cfg.train.gradient_checkpointing:
        reference.enable_gradient_checkpointing()
        denoiser.enable_gradient_checkpointing()
    b, f = cond.frames.shape[:2]
    g = torch.Generator().manual_seed(0)
    noisy = torch.randn(b, channels, f, h, h, generator=g).to(device)
    ref_latents = torch.randn(b, channels, h, h, generator=g).to(device)
    tokens = cond.audio.flatten(0, 1)  # (B*F, L, D)
    bf16 = cfg.train.mixed_precision == "bf16"

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            with torch.no_grad():
                reference(ref_latents, torch.zeros(b, dtype=torch.long, device=device), encoder_hidden_states=cond.audio[:, 0])
            v = denoiser(noisy, torch.randint(0, 1000, (b,), device=device), encoder_hidden_states=tokens).sample
        F.mse_loss(v.float(), torch.zeros_like(v, dtype=torch.float32)).backward()
        denoiser.zero_grad(set_to_none=True)

    step.networks = {"reference unet": reference, "denoising unet": denoiser}  # type: ignore[attr-defined]
    return step


def ours_runner(cfg, device: torch.device, cond: Conditions) -> Callable[[], None]:
    """harness.train.step.training_step on the network, codec and optimiser the trainer builds."""
    with torch.device(device):
        model, codec = build_model(cfg, audio_dim=cond.audio.shape[-1])
    model.to(device).train()
    codec.to(device)
    apply_stage(model, cfg.train.stage)
    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler()
    if cfg.train.latent_cache:  # a cache hit: the latents come with the batch (harness/train/latent_cache.py)
        cond = with_cached_latents(codec, cond, cfg)
    counter = iter(range(10**9))
    networks = {"vae encoder": getattr(codec, "vae", None) and codec.vae.encoder,
                "vae decoder": getattr(codec, "vae", None) and codec.vae.decoder,
                "reference unet": model.reference_unet, "denoising unet": model.denoising_unet}
    events: list[dict] = []  # the last step's GPU memory at each network's entry and exit
    if device.type == "cuda" and not cfg.train.compile:  # hooks would break the compiled graphs
        at_network_boundaries(networks, lambda where: events.append(memory_event(where)))

    def step() -> None:
        if device.type == "cuda":
            events.clear()
        training_step(model, codec, scheduler, optimizer, cond, cfg, torch.Generator().manual_seed(next(counter)))
        if device.type == "cuda":
            events.append(memory_event("after the optimizer step"))

    step.memory_events = events  # type: ignore[attr-defined]
    step.networks = networks  # type: ignore[attr-defined]  # what bench/memory_plan.py labels its events by
    return step


@torch.no_grad()
def with_cached_latents(codec: torch.nn.Module, cond: Conditions, cfg) -> Conditions:
    """cond with the latents the cache would hold: each frame and the reference encoded under the step's precision."""
    with torch.autocast(cond.frames.device.type, dtype=torch.bfloat16, enabled=cfg.train.mixed_precision == "bf16"):
        latents = encode_clip(codec, cond.frames, cfg.train.encode_frames_per_call).permute(0, 2, 1, 3, 4)  # (B, F, C, h, w)
        reference = codec.encode(cond.reference)  # (B, C, h, w)
    return dataclasses.replace(cond, latents=latents.contiguous(), reference_latents=reference)


def memory_event(where: str) -> dict:
    """GPU memory now (allocated, reserved) and the peak since time_step began measuring, GiB."""
    return {"where": where, "allocated_gib": round(torch.cuda.memory_allocated() / 2**30, 2),
            "reserved_gib": round(torch.cuda.memory_reserved() / 2**30, 2),
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}


def at_network_boundaries(modules: dict[str, torch.nn.Module | None], call: Callable[[str], None]) -> None:
    """call("<name> starts") and call("<name> ends") as each module's forward starts and ends (checkpoint
    recomputation in backward included: that is where a step's peak often is); None modules are skipped."""
    for name, module in modules.items():
        if module is None:
            continue
        module.register_forward_pre_hook(lambda *_, n=name: call(f"{n} starts"))
        module.register_forward_hook(lambda *_, n=name: call(f"{n} ends"))


def options_of(cfg) -> dict:
    """The speed and memory options a step ran with (the JSON's "options")."""
    t = cfg.train
    return {"stage": t.stage, "mixed_precision": t.mixed_precision, "gradient_checkpointing": t.gradient_checkpointing,
            "attention": t.attention, "optimizer": t.optimizer, "channels_last": t.channels_last, "compile": t.compile,
            "encode_frames_per_call": t.encode_frames_per_call, "latent_cache": t.latent_cache, "phd_decode_frames": cfg.loss.phd.decode_frames,
            "phd_decode_checkpointing": cfg.loss.phd.decode_checkpointing,
            "phd_decode_block_checkpointing": cfg.loss.phd.decode_block_checkpointing}


def run(args: argparse.Namespace) -> dict:
    """Every figure for each of args.frames: {"device", ..., "by_frames": {"12": {"plain", "ours", ...}}}."""
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    memory = cap_gpu_memory(args.memory_limit_gib) if device.type == "cuda" else {}
    peak, peak_dtype = measured_peak_tflops(device)
    out = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else f"cpu ({os.cpu_count()} cores)",
           "torch": torch.__version__, "threads": torch.get_num_threads(), "loadavg_start": os.getloadavg(),
           "peak_tflops": round(peak, 3), "peak_dtype": peak_dtype, "overrides": args.overrides, **memory, "by_frames": {}}
    for frames in args.frames:
        out["by_frames"][str(frames)] = run_shape(args, frames, device, peak)
    out["loadavg_end"] = os.getloadavg()
    return out


def model_overrides(preset: str, size: int) -> list[str]:
    """The config overrides of a benchmarked network: random weights, the preset's audio encoder."""
    return [f"model.preset={preset}", f"data.size={size}", "model.allow_random_init=true",
            f"model.audio_encoder={'whisper' if preset == 'sd15' else 'mel'}"]


def shape_overrides(args: argparse.Namespace, frames: int) -> list[str]:
    """The config overrides of one benchmarked shape, then the user's."""
    return [*model_overrides(args.preset, args.size), f"data.frames={frames}", f"train.batch_size={args.batch}",
            *args.overrides]


def run_shape(args: argparse.Namespace, frames: int, device: torch.device, peak: float) -> dict:
    cfg = load(None, shape_overrides(args, frames))
    audio_shape = audio_feature_shape(cfg.model.audio_encoder)
    cond = random_conditions(args.batch, frames, args.size, audio_shape, device)
    out = {"shape": {"preset": args.preset, "size": args.size, "frames": frames, "batch": args.batch,
                     "audio_tokens_per_frame": list(audio_shape)}, "options": options_of(cfg)}
    runners = ([] if args.skip_plain else [("plain", plain_runner)]) + [("ours", ours_runner)]
    for name, make in runners:
        try:
            runner = make(cfg, device, cond)
            result = time_step(runner, device, args.steps, count_flops=not cfg.train.compile)
            del runner
        except torch.OutOfMemoryError:  # while building
            result = {"fits": False, "error": "out of memory while building"}
        if result.get("tflops") is not None:
            result["mfu"] = round(result["tflops"] / peak, 4)
        out[name] = result
        gc.collect()  # the step closure (and its model) is gone: free its memory before the next runner
        if device.type == "cuda":
            torch.cuda.empty_cache()
        print(f"{frames} frames {name:6s} {json.dumps(result)}", file=sys.stderr)
    if out.get("plain", {}).get("fits") and out["ours"].get("fits"):
        out["ours_throughput_over_plain"] = round(out["plain"]["step_s"] / out["ours"]["step_s"], 3)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--frames", type=int, nargs="+", default=[8], help="one or more clip lengths, e.g. 12 24")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--steps", type=int, default=3, help="timed steps after a warm-up; one more step then counts the FLOPs")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when present")
    p.add_argument("--skip-plain", action="store_true")
    p.add_argument("--memory-limit-gib", type=float, default=None,
                   help="cap GPU allocations (e.g. 79: would it fit an 80 GB card?); default: the whole card")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("overrides", nargs="*", help="config overrides a.b.c=value (e.g. train.channels_last=true)")
    args = p.parse_args()
    with user_errors_as_one_line():  # a bad override
        out = run(args)
    print_figures(out, args.json)


if __name__ == "__main__":
    main()
