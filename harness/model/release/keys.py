"""Release state-dict names -> the harness network's names (docs/release.md, "Key mapping").

- reference_unet.pth: diffusers UNet2DConditionModel names, one to one under ``reference_unet.``.
  The release's reference net has no cross-attention (``attn2``, ``norm2``) and no output
  convolution (``conv_norm_out``, ``conv_out``); the harness's has them but never uses them
  (harness/model/attention.py NoAudioProcessor; the reference pass's output is discarded), so
  they are filled with zeros.
- denoising_unet.pth + motion_module.pth: one 3D UNet. Spatial layers have diffusers' 2D names,
  one to one under ``denoising_unet.``, except ``conv_in`` -> ``conv_in.conv`` (the harness wraps
  conv_in to add the pose features, harness/model/pose_encoder.py). Motion modules have the
  original AnimateDiff names and go through diffusers' own converter; their sinusoidal position
  tables (``pos_encoder.pe``, dropped by that converter) are checked against the table the
  harness's motion modules compute, then dropped. A key in both files is taken from
  denoising_unet.pth, which the release loads last (release: infer.py).
- pose_encoder.pth: by position: conv_in, blocks.0..5, conv_out -> the harness PoseEncoder's
  convolutions in module order (body.0, body.2, ..., body.12, out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch
from diffusers.loaders.single_file_utils import convert_animatediff_checkpoint_to_diffusers
from diffusers.models.embeddings import SinusoidalPositionalEmbedding

from harness.errors import HarnessError

REFERENCE, DENOISER, MOTION, POSE = "reference_unet.pth", "denoising_unet.pth", "motion_module.pth", "pose_encoder.pth"
# Harness reference-net keys the release does not have: never read by the harness (see above).
REFERENCE_UNUSED = re.compile(r"\.attn2\.|\.norm2\.|^conv_norm_out\.|^conv_out\.")
REFERENCE_UNUSED_WHY = ("zero: the reference net's cross-attention and output convolution are never used "
                        "(release: src/models/mutual_self_attention.py write mode; harness: NoAudioProcessor)")
POSITION_WHY = "the motion module's fixed sinusoidal position table, computed by the module (diffusers SinusoidalPositionalEmbedding)"
POSITION_DROP_WHY = "fixed sinusoidal position table, equal to the one the harness motion module computes (checked)"
POSITION_TOLERANCE = 1e-2  # a foreign table differs by O(1); a half-precision copy of the true one by < 1e-3


@dataclass
class Mapped:
    """The harness state dict made from the release, and the account of every key."""

    state: dict[str, torch.Tensor] = field(default_factory=dict)  # harness key -> tensor
    origin: dict[str, tuple[str, str]] = field(default_factory=dict)  # harness key -> (release file, release key)
    filled: dict[str, str] = field(default_factory=dict)  # harness key filled without a release tensor -> why
    dropped: dict[str, str] = field(default_factory=dict)  # "file:key" of the release -> why it is not used

    def put(self, key: str, value: torch.Tensor, file: str, release_key: str) -> None:
        self.state[key] = value
        self.origin[key] = (file, release_key)


def map_release(files: dict[str, dict[str, torch.Tensor]], expected: dict[str, torch.Size]) -> Mapped:
    """Map the four release state dicts onto the harness keys in `expected` (key -> shape), strictly.

    Every expected key is filled (from the release, or zero / computed where listed above),
    every release key is used or dropped with a reason, and shapes must match; otherwise
    HarnessError naming the file and the key.
    """
    out = Mapped()
    _reference(files[REFERENCE], expected, out)
    _denoiser(files[DENOISER], files[MOTION], expected, out)
    _pose(files[POSE], expected, out)
    _check_complete(expected, out)
    return out


def _reference(state: dict[str, torch.Tensor], expected: dict[str, torch.Size], out: Mapped) -> None:
    for key, value in state.items():
        target = f"reference_unet.{key}"
        if target not in expected:
            raise HarnessError(f"{REFERENCE}: unexpected key {key!r} (not a layer of the reference UNet)")
        if REFERENCE_UNUSED.search(key) and value.shape != expected[target]:
            out.dropped[f"{REFERENCE}:{key}"] = "cross-attention / output layer the reference pass never uses, other width"
            continue
        out.put(target, value, REFERENCE, key)
    for target, shape in expected.items():
        key = target.removeprefix("reference_unet.")
        if target.startswith("reference_unet.") and target not in out.state and REFERENCE_UNUSED.search(key):
            out.state[target] = torch.zeros(shape)
            out.filled[target] = REFERENCE_UNUSED_WHY


def _denoiser(spatial: dict[str, torch.Tensor], motion: dict[str, torch.Tensor], expected: dict[str, torch.Size],
              out: Mapped) -> None:
    for key in motion:
        if ".motion_modules." not in key:
            raise HarnessError(f"{MOTION}: unexpected key {key!r} (not a motion-module key)")
    merged = {key: (MOTION, v) for key, v in motion.items()}
    for key in set(motion) & set(spatial):
        out.dropped[f"{MOTION}:{key}"] = f"also in {DENOISER}, which the release loads last (infer.py)"
    merged.update({key: (DENOISER, v) for key, v in spatial.items()})
    for key, (file, value) in merged.items():
        if ".motion_modules." in key:
            _motion_key(key, value, file, expected, out)
            continue
        target = "denoising_unet." + (key.replace("conv_in.", "conv_in.conv.", 1) if key.startswith("conv_in.") else key)
        if target not in expected:
            raise HarnessError(f"{file}: unexpected key {key!r} (not a layer of the denoising UNet)")
        out.put(target, value, file, key)
    for target, shape in expected.items():
        if target.startswith("denoising_unet.") and target.endswith(".pos_embed.pe"):
            out.state[target] = _position_table(shape)
            out.filled[target] = POSITION_WHY


def _motion_key(key: str, value: torch.Tensor, file: str, expected: dict[str, torch.Size], out: Mapped) -> None:
    """One AnimateDiff motion-module key through diffusers' converter (which drops position tables)."""
    converted = convert_animatediff_checkpoint_to_diffusers({key: value})
    if not converted:  # a position table: dropped by the converter; it must be the standard one
        if value.dim() != 3 or not torch.allclose(value.float(), _position_table(value.shape), atol=POSITION_TOLERANCE):
            raise HarnessError(f"{file}: key {key!r} is not the sinusoidal position table the motion modules use "
                               f"(shape {list(value.shape)})")
        out.dropped[f"{file}:{key}"] = POSITION_DROP_WHY
        return
    (new_key, new_value), = converted.items()
    target = f"denoising_unet.{new_key}"
    if target not in expected:
        raise HarnessError(f"{file}: unexpected key {key!r} (diffusers name {new_key!r} is not a motion-module layer)")
    out.put(target, new_value, file, key)


def _position_table(shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """(1, max_len, dim) sinusoidal table exactly as the harness's motion modules compute it."""
    _, length, dim = shape
    return SinusoidalPositionalEmbedding(dim, max_seq_length=length).pe


def _pose(state: dict[str, torch.Tensor], expected: dict[str, torch.Size], out: Mapped) -> None:
    """By position: the release's convs (conv_in, blocks.i, conv_out) onto the harness's in module order."""
    ours = [k.removesuffix(".weight") for k in expected if k.startswith("pose_encoder.") and k.endswith(".weight")]
    theirs = _release_pose_order(state)
    if len(theirs) != len(ours):
        raise HarnessError(f"{POSE}: {len(theirs)} convolutions, the harness pose encoder has {len(ours)} "
                           f"(release: conv_in, blocks.0-{len(ours) - 3}, conv_out)")
    for src, dst in zip(theirs, ours):
        for kind in ("weight", "bias"):
            if f"{src}.{kind}" not in state:
                raise HarnessError(f"{POSE}: missing key {src}.{kind}")
            out.put(f"{dst}.{kind}", state[f"{src}.{kind}"], POSE, f"{src}.{kind}")


def _release_pose_order(state: dict[str, torch.Tensor]) -> list[str]:
    """Module names of the release pose encoder's convs in forward order; foreign keys are errors."""
    names: set[str] = set()
    for key in state:
        match = re.fullmatch(r"(conv_in|conv_out|blocks\.\d+)\.(weight|bias)", key)
        if match is None:
            raise HarnessError(f"{POSE}: unexpected key {key!r} (the release pose encoder has conv_in, blocks.N, conv_out)")
        names.add(match.group(1))
    for end in ("conv_in", "conv_out"):
        if end not in names:
            raise HarnessError(f"{POSE}: missing key {end}.weight")
    blocks = sorted((n for n in names if n.startswith("blocks.")), key=lambda n: int(n.split(".")[1]))
    return ["conv_in", *blocks, "conv_out"]


def _check_complete(expected: dict[str, torch.Size], out: Mapped) -> None:
    """Every harness key filled, with its shape; float tensors as float32 (the harness trains in fp32)."""
    missing = [k for k in expected if k not in out.state]
    if missing:
        file = MOTION if ".motion_modules." in missing[0] else (
            POSE if missing[0].startswith("pose_encoder.") else (REFERENCE if missing[0].startswith("reference_unet.") else DENOISER))
        name = missing[0].split(".", 1)[1].replace("conv_in.conv.", "conv_in.")
        kind = " (diffusers name)" if file == MOTION else ""
        raise HarnessError(f"{file}: missing key {name!r}{kind} ({len(missing)} harness keys have no release tensor)")
    for key, shape in expected.items():
        value = out.state[key]
        if value.shape != shape:
            file, release_key = out.origin.get(key, ("import", key))
            raise HarnessError(f"{file}: key {release_key!r} has shape {list(value.shape)}, the harness network needs {list(shape)}")
        if value.is_floating_point() and value.dtype != torch.float32:
            out.state[key] = value.float()
