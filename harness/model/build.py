"""Build the network and codec for a config: `tiny` from scratch, `sd15` from local weights,
or either from a checkpoint (``model.init``: an imported release, docs/release.md).

sd15 expects, under ``model.pretrained_dir`` (nothing is ever downloaded):
    sd-image-variations-diffusers/unet/   both UNets start from it (lambdalabs/sd-image-variations-diffusers)
    sd-vae-ft-mse/                        the VAE (stabilityai/sd-vae-ft-mse)
The audio cross-attention projections (to_k/to_v, audio width) start fresh in both cases.
The motion modules start with zero output projections, or from ``model.motion_adapter``
(harness/model/motion_init.py). With ``model.init`` the network is built on the meta device
and takes every tensor from the checkpoint; the sd15 VAE then comes from the checkpoint's
folder (an import folder has sd-vae-ft-mse/), else from ``model.pretrained_dir``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel, UNetMotionModel
from torch import nn

from harness.config import ExperimentConfig
from harness.errors import HarnessError
from harness.model.codec import SpaceToDepthCodec, VaeCodec
from harness.model.echomimic import EchoMimicV2
from harness.model.motion_init import prepare_motion_modules
from harness.model.pose_encoder import PoseEncoder
from harness.model.presets import PRESETS, ModelPreset
from harness.model.release.init import load_init
from harness.model.speed import apply_speed_options

SD15_UNET_DIR = "sd-image-variations-diffusers/unet"
SD15_VAE_DIR = "sd-vae-ft-mse"


def build_model(cfg: ExperimentConfig, audio_dim: int) -> tuple[EchoMimicV2, nn.Module]:
    """(network, codec) for cfg.model.preset; audio_dim is the audio feature width D."""
    preset = PRESETS[cfg.model.preset]  # data.size fits its downsampling: the schema checks it (config_checks.py)
    if cfg.model.init is not None:
        model, codec = _from_init(cfg, preset, audio_dim)
    elif preset.codec == "space_to_depth":
        codec: nn.Module = SpaceToDepthCodec(preset.latent_factor)
        reference, denoiser = fresh_unets(preset, codec.latent_channels, audio_dim, cfg.data.size // preset.latent_factor)
        prepare_motion_modules(denoiser, cfg.model.motion_adapter)
        model = assemble(preset, reference, denoiser, cfg.model.motion_norm)
    else:
        reference, denoiser, codec = _sd15(cfg, preset, audio_dim)
        model = assemble(preset, reference, denoiser, cfg.model.motion_norm)
    apply_speed_options(model, codec, cfg.train, cfg.loss.phd.decode_block_checkpointing)  # attention, checkpointing, ...
    return model, codec


def assemble(preset: ModelPreset, reference: UNet2DConditionModel, denoiser: UNetMotionModel, motion_norm: str) -> EchoMimicV2:
    """The network around two UNets: a fresh zero-output pose encoder of the preset's widths."""
    pose = PoseEncoder(out_channels=preset.block_out_channels[0], widths=preset.pose_widths)
    return EchoMimicV2(reference, denoiser, pose, motion_norm=motion_norm)


def network_on_meta(preset: ModelPreset, channels: int, audio_dim: int, sample_size: int, motion_norm: str) -> EchoMimicV2:
    """The preset's network with no storage (meta device): its state-dict names and shapes, or a
    shell that model.init's tensors are assigned to."""
    with torch.device("meta"):
        reference, denoiser = fresh_unets(preset, channels, audio_dim, sample_size)
        return assemble(preset, reference, denoiser, motion_norm)


def _from_init(cfg: ExperimentConfig, preset: ModelPreset, audio_dim: int) -> tuple[EchoMimicV2, nn.Module]:
    init = Path(cfg.model.init)
    if preset.codec == "space_to_depth":
        codec: nn.Module = SpaceToDepthCodec(preset.latent_factor)
    else:
        codec = VaeCodec(_init_vae(cfg, init))
    model = network_on_meta(preset, codec.latent_channels, audio_dim, cfg.data.size // preset.latent_factor, cfg.model.motion_norm)
    load_init(model, init)
    return model, codec


def _init_vae(cfg: ExperimentConfig, init: Path) -> AutoencoderKL:
    """sd-vae-ft-mse beside the init checkpoint (an import folder), else under model.pretrained_dir."""
    places = [init.parent / SD15_VAE_DIR]
    if cfg.model.pretrained_dir is not None:
        places.append(Path(cfg.model.pretrained_dir) / SD15_VAE_DIR)
    for place in places:
        if (place / "config.json").is_file():
            return AutoencoderKL.from_pretrained(place, local_files_only=True)
    raise HarnessError(f"model.init: no {SD15_VAE_DIR}/ beside {init} or under model.pretrained_dir "
                       "(an import folder from `harness weights import-release` has one)")


def _unet_kwargs(preset: ModelPreset, channels: int, audio_dim: int, sample_size: int) -> dict:
    return dict(
        sample_size=sample_size,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=preset.block_out_channels,
        layers_per_block=preset.layers_per_block,
        norm_num_groups=preset.norm_num_groups,
        cross_attention_dim=audio_dim,
    )


def fresh_unets(preset: ModelPreset, channels: int, audio_dim: int, sample_size: int
                ) -> tuple[UNet2DConditionModel, UNetMotionModel]:
    """(reference 2D UNet, motion denoiser) of the preset's shape, randomly initialised (motion
    modules as diffusers makes them: callers decide their start, see prepare_motion_modules)."""
    kwargs = _unet_kwargs(preset, channels, audio_dim, sample_size)
    reference = UNet2DConditionModel(
        **kwargs,
        down_block_types=preset.down_block_types(motion=False),
        up_block_types=preset.up_block_types(motion=False),
        attention_head_dim=preset.attention_heads,  # diffusers' legacy name: the number of heads
    )
    denoiser = UNetMotionModel(
        **kwargs,
        down_block_types=preset.down_block_types(motion=True),
        up_block_types=preset.up_block_types(motion=True),
        num_attention_heads=preset.attention_heads,
        motion_num_attention_heads=preset.motion_heads,
        motion_max_seq_length=preset.motion_max_seq_length,
    )
    return reference, denoiser


def _sd15(cfg: ExperimentConfig, preset: ModelPreset, audio_dim: int):
    root = cfg.model.pretrained_dir
    if root is None or not Path(root).is_dir():
        if not cfg.model.allow_random_init:
            raise HarnessError(
                f"model.pretrained_dir: sd15 needs a local weights folder (got {root}); put "
                f"lambdalabs/sd-image-variations-diffusers at <dir>/{SD15_UNET_DIR} and stabilityai/sd-vae-ft-mse "
                f"at <dir>/{SD15_VAE_DIR}, or set model.allow_random_init=true (benchmarks only)"
            )
        reference, denoiser = fresh_unets(preset, 4, audio_dim, cfg.data.size // preset.latent_factor)
        prepare_motion_modules(denoiser, cfg.model.motion_adapter)
        return reference, denoiser, VaeCodec(AutoencoderKL(block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2, latent_channels=4, sample_size=cfg.data.size))
    root = Path(root)
    for sub in (SD15_UNET_DIR, SD15_VAE_DIR):
        if not (root / sub).is_dir():
            raise HarnessError(f"model.pretrained_dir: missing {root / sub} (see harness/model/build.py for the layout)")
    unet2d = UNet2DConditionModel.from_pretrained(
        root / SD15_UNET_DIR, cross_attention_dim=audio_dim, ignore_mismatched_sizes=True, low_cpu_mem_usage=False, local_files_only=True
    )
    denoiser = motion_denoiser(unet2d, cfg.model.motion_adapter)
    vae = AutoencoderKL.from_pretrained(root / SD15_VAE_DIR, local_files_only=True)
    return unet2d, denoiser, VaeCodec(vae)


def motion_denoiser(unet2d: UNet2DConditionModel, motion_adapter: Path | None) -> UNetMotionModel:
    """The 2D UNet inflated with motion modules (its spatial weights copied); the motion modules
    start from the adapter, else with zero output projections (then it equals unet2d per frame)."""
    denoiser = UNetMotionModel.from_unet2d(unet2d)
    prepare_motion_modules(denoiser, motion_adapter)
    return denoiser


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@torch.no_grad()
def describe(model: EchoMimicV2) -> dict[str, int]:
    """Trainable parameter counts per part (logged with every run)."""
    return {
        "params_reference_unet": count_parameters(model.reference_unet),
        "params_denoising_unet": count_parameters(model.denoising_unet),
        "params_pose_encoder": count_parameters(model.pose_encoder),
    }
