"""What the frozen VAE costs the training step, counted on the meta device (no memory, no compute): the
FLOPs of an encode and of a decode per frame, and what the PhD term's decode keeps for backward.

    .venv/bin/python bench/codec_cost.py [--size 768] [--frames 2] [--json F]

FLOPs: torch's FlopCounterMode (matmuls and convolutions). Per step the trainer encodes F clip frames and the
reference, and decodes loss.phd.decode_frames frames forward, again in backward when checkpointed, and
backward to the latents (docs/benchmarks.md, "On a GPU").

The sd15 codec is built as the trainer builds it (model.allow_random_init) on torch's meta device; every
tensor autograd saves during one decode is counted by a saved-tensors hook (fp32: bf16 autocast keeps its
convolution outputs in half the bytes but group norms in fp32, so the real figure lies below). With
loss.phd.decode_checkpointing, backward recomputes the decoder of each checkpointed call and holds all of
that at once, on top of the UNets' saved tensors: harness/train/step.py (decode_frames) checkpoints one
frame per call, so the peak holds one frame's decoder instead of all of them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from harness.config_load import load  # noqa: E402
from harness.model.build import build_model  # noqa: E402

from bench_output import print_figures  # noqa: E402  (bench/ is the script's own folder on sys.path)
from flops import flop_counter  # noqa: E402


def saved_gib(fn, x: torch.Tensor) -> float:
    """GiB of the tensors autograd saves for backward while fn(x) runs."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return total / 2**30


def tflop(fn) -> float:
    """TFLOP that fn() executes."""
    counter = flop_counter()
    with counter:
        fn()
    return round(counter.get_total_flops() / 1e12, 2)


def decoder_breakdown(vae: torch.nn.Module, latents: torch.Tensor) -> dict[str, float]:
    """Saved GiB of each part of the VAE decoder for one latent frame (1, 4, h, w)."""
    dec = vae.decoder
    x = dec.conv_in(latents)
    parts = {"mid block": dec.mid_block}
    parts |= {f"up block {i}": block for i, block in enumerate(dec.up_blocks)}
    out = {}
    for name, module in parts.items():
        out[name] = round(saved_gib(module, x.detach().requires_grad_()), 2)
        x = module(x)
    tail = lambda t: dec.conv_out(dec.conv_act(dec.conv_norm_out(t)))  # noqa: E731
    out["norm, act, conv out"] = round(saved_gib(tail, x.detach().requires_grad_()), 2)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=768, help="frame side in pixels")
    p.add_argument("--frames", type=int, default=2, help="decoded frames per step (loss.phd.decode_frames)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    cfg = load(None, ["model.preset=sd15", f"data.size={args.size}", "model.allow_random_init=true",
                      "model.audio_encoder=whisper"])
    with torch.device("meta"):
        _, codec = build_model(cfg, audio_dim=384)
        latents = torch.randn(1, 4, args.size // 8, args.size // 8, requires_grad=True)
        pixels = torch.randn(1, 3, args.size, args.size)
    per_frame = round(saved_gib(codec.decode, latents), 2)
    flops = {"encode": tflop(lambda: codec.encode(pixels)), "decode": tflop(lambda: codec.decode(latents)),
             "decode forward and backward": tflop(lambda: codec.decode(latents).sum().backward())}
    out = {"size": args.size, "frames": args.frames, "dtype": "float32", "tflop_per_frame": flops,
           "decoder_saved_gib_per_frame": per_frame,
           "by_part": decoder_breakdown(codec.vae, latents),
           "recompute_held_gib": {"all frames in one checkpoint": round(per_frame * args.frames, 2),
                                  "one frame per checkpoint": per_frame}}
    print_figures(out, args.json)


if __name__ == "__main__":
    main()
