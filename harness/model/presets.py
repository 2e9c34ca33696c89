"""Network shapes per preset. `tiny` trains on 2 CPU cores in minutes; `sd15` is the paper's shape."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelPreset:
    """UNet widths, heads and codec for one preset (both UNets share the spatial layout)."""

    name: str
    block_out_channels: tuple[int, ...]
    layers_per_block: int
    attention_heads: int
    motion_heads: int
    norm_num_groups: int
    pose_widths: tuple[int, ...]  # len-1 stride-2 stages: must equal the codec's downsampling
    codec: str  # "space_to_depth" (lossless, no weights) or "vae" (sd-vae-ft-mse)
    latent_factor: int
    motion_max_seq_length: int = 32

    def down_block_types(self, motion: bool) -> tuple[str, ...]:
        suffix = "Motion" if motion else "2D"
        n = len(self.block_out_channels)
        return tuple([f"CrossAttnDownBlock{suffix}"] * (n - 1) + [f"DownBlock{suffix}"])

    def up_block_types(self, motion: bool) -> tuple[str, ...]:
        suffix = "Motion" if motion else "2D"
        n = len(self.block_out_channels)
        return tuple([f"UpBlock{suffix}"] + [f"CrossAttnUpBlock{suffix}"] * (n - 1))


TINY = ModelPreset(
    name="tiny",
    block_out_channels=(32, 64),
    layers_per_block=1,
    attention_heads=4,
    motion_heads=4,
    norm_num_groups=8,
    pose_widths=(8, 16, 32),
    codec="space_to_depth",
    latent_factor=4,
)

# SD-1.5 image-variations UNet shape (docs/method.md, "Architecture").
SD15 = ModelPreset(
    name="sd15",
    block_out_channels=(320, 640, 1280, 1280),
    layers_per_block=2,
    attention_heads=8,
    motion_heads=8,
    norm_num_groups=32,
    pose_widths=(16, 32, 96, 256),
    codec="vae",
    latent_factor=8,
)

PRESETS = {p.name: p for p in (TINY, SD15)}
