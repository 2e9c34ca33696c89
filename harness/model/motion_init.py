"""How the denoiser's motion modules start: zero output projections, or an AnimateDiff adapter.

Without an adapter every motion module's output projection (``proj_out``, weight and bias)
is zero, as AnimateDiff and the release initialise it (release: src/models/motion_module.py,
``zero_initialize=True``): a motion module then returns its input unchanged, so the untrained
denoiser equals its 2D UNet frame by frame and step 0 of training does not disturb the
pretrained image features.

With ``model.motion_adapter`` the motion modules start from an AnimateDiff motion-module file
in the original AnimateDiff layout (e.g. ``mm_sd_v15_v2.ckpt``, what the ancestor's stage 2
starts from: Moore-AnimateAnyone train_stage_2.py), renamed by diffusers' own converter.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers.loaders.single_file_utils import convert_animatediff_checkpoint_to_diffusers
from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D
from torch import nn

from harness.errors import HarnessError
from harness.model.weights_file import is_tensor_dict, read_weights_file

# Each motion module's sinusoidal position table: a fixed buffer that the module computes itself;
# diffusers' converter drops the file's copies (``pos_encoder.pe``), so it is never loaded.
POSITION_TABLE_SUFFIX = ".pos_embed.pe"


def motion_modules(denoiser: nn.Module) -> list[tuple[str, AnimateDiffTransformer3D]]:
    """(name, module) of every motion module's transformer, in state-dict order."""
    return [(name, m) for name, m in denoiser.named_modules() if isinstance(m, AnimateDiffTransformer3D)]


@torch.no_grad()
def zero_motion_outputs(denoiser: nn.Module) -> int:
    """Zero every motion module's proj_out (weight and bias); returns how many were zeroed."""
    found = motion_modules(denoiser)
    for _, module in found:
        nn.init.zeros_(module.proj_out.weight)
        nn.init.zeros_(module.proj_out.bias)
    return len(found)


def motion_state_keys(denoiser: nn.Module) -> dict[str, torch.Size]:
    """Every loadable motion-module key of the denoiser -> shape (position tables left out)."""
    return {k: v.shape for k, v in denoiser.state_dict().items()
            if ".motion_modules." in k and not k.endswith(POSITION_TABLE_SUFFIX)}


def read_adapter(path: Path) -> dict[str, torch.Tensor]:
    """An AnimateDiff motion-module file (original key names) -> diffusers names, via diffusers' converter."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"model.motion_adapter: {path}: no such file (an AnimateDiff motion-module file, e.g. mm_sd_v15_v2.ckpt)")
    raw = read_weights_file(path, f"model.motion_adapter: {path}")
    if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
        raw = raw["state_dict"]  # AnimateDiff training checkpoints wrap the weights
    if not is_tensor_dict(raw):
        raise HarnessError(f"model.motion_adapter: {path}: not a state dict of tensors")
    return convert_animatediff_checkpoint_to_diffusers(raw)


@torch.no_grad()
def load_motion_adapter(denoiser: nn.Module, path: Path) -> int:
    """Load an AnimateDiff motion-module file into the denoiser's motion modules, strictly.

    Every motion-module key must come from the file with its shape, and every key of the file
    must be a motion-module key; otherwise one line naming the file and the first bad key.
    Returns the number of tensors loaded.
    """
    state = read_adapter(path)
    expected = motion_state_keys(denoiser)
    foreign = sorted(set(state) - set(expected))
    if foreign:
        raise HarnessError(f"model.motion_adapter: {path}: unexpected key {foreign[0]!r} "
                           f"({len(foreign)} keys are not motion-module keys of the {len(expected)} this denoiser has)")
    missing = sorted(set(expected) - set(state))
    if missing:
        hint = " (an AnimateDiff v1 file has no mid-block module; use a v2 file such as mm_sd_v15_v2.ckpt)" \
            if all(k.startswith("mid_block.") for k in missing) else ""
        raise HarnessError(f"model.motion_adapter: {path}: missing key {missing[0]!r} ({len(missing)} missing){hint}")
    for key, shape in expected.items():
        if state[key].shape != shape:
            raise HarnessError(f"model.motion_adapter: {path}: key {key!r} has shape {list(state[key].shape)}, "
                               f"the denoiser needs {list(shape)}")
    denoiser.load_state_dict(state, strict=False)  # the rest of the denoiser is not the adapter's
    return len(state)


def prepare_motion_modules(denoiser: nn.Module, adapter: Path | None) -> None:
    """The start of the motion modules: the adapter when one is named, else zero output projections."""
    if adapter is None:
        zero_motion_outputs(denoiser)  # release: src/models/motion_module.py zero_initialize
    else:
        load_motion_adapter(denoiser, adapter)  # ancestor: train_stage_2.py starts from mm_sd_v15_v2.ckpt
