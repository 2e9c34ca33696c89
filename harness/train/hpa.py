"""Head Partial Attention: portrait (headshot) clips shrunk and padded into the semi-body canvas.

Paper: HPA (docs/method.md, "HPA"; paper Sec. 3.3; mechanics [inferred]). Each portrait frame,
its reference and its keypoints are shrunk by ``HpaConfig.head_scale`` and pasted into a canvas
of the same size with the head where a semi-body head would be; the audio attention mask of a
portrait sample is its (mapped) head box; the diffusion loss is masked to the pasted region so
the model never learns to paint the padding. No extra modules; nothing of this runs at inference.

Coordinates: keypoints and boxes are normalised to the frame, x in [0, 1] across the width and
y in [0, 1] down the height, with pixel ``i`` covering ``[i, i + 1)`` in pixel units (so its
centre is at ``(i + 0.5) / size``). This is the convention of ``F.interpolate(...,
align_corners=False)``, which makes the keypoint map below exact with respect to the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from harness.config_model import HpaConfig
from harness.vocabulary import REGIONS

# Placement [inferred]: the shrunk portrait is centred horizontally and its top edge sits at
# this fraction of the canvas height. In our semi-body crops (docs/method.md, "Data": span from
# the top face landmark to the lowest upper-body point plus 0.25 margins) the face top lies
# near 1/6 of the canvas; a headshot's face top is near 0.3 of its height, so with the default
# head_scale 0.45 a top at 0.04 lands the face at about 0.04 + 0.45 * 0.3 ~ 0.17.
# When the shrunk portrait would not fit below this line it is moved up to touch the bottom.
PORTRAIT_TOP_FRACTION = 0.04

# Padding value of the canvas outside the pasted portrait: -1 = black in [-1, 1] pixel space.
# It never reaches the loss (see masked_mse) and black matches the background of a pose map.
PAD_VALUE = -1.0

# Region order of the per-frame boxes (the data format's order): lips, face, head, body.
HEAD_BOX_INDEX = REGIONS.index("head")

# Batch item kind that marks a portrait (headshot) clip.
PORTRAIT_KIND = "portrait"


@dataclass(frozen=True)
class PortraitPlacement:
    """Where the shrunk portrait sits in a ``canvas_h x canvas_w`` canvas, in whole pixels."""

    top: int
    left: int
    height: int
    width: int
    canvas_h: int
    canvas_w: int

    def map_x(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised x in the portrait -> normalised x in the canvas (affine, no clamping)."""
        return self.left / self.canvas_w + x * (self.width / self.canvas_w)

    def map_y(self, y: torch.Tensor) -> torch.Tensor:
        """Normalised y in the portrait -> normalised y in the canvas (affine, no clamping)."""
        return self.top / self.canvas_h + y * (self.height / self.canvas_h)


@dataclass(frozen=True)
class PlacedPortrait:
    """A portrait batch in semi-body canvas coordinates (docs/method.md, "HPA").

    frames: (B, F, 3, H, W) in [-1, 1], padding = PAD_VALUE.
    reference: (B, 3, H, W), placed the same way.
    keypoints: (B, F, 133, 3) normalised x, y mapped into the canvas; confidences unchanged.
    boxes: (B, F, 4, 4) normalised xyxy per region (REGIONS), mapped into the canvas.
    valid_mask: (B, 1, H, W) float, 1 inside the pasted portrait, 0 in the padding.
    head_box: (B, F, 4) mapped "head" box = the audio-attention mask region of the sample.
    placement: the pixel geometry used.
    """

    frames: torch.Tensor
    reference: torch.Tensor
    keypoints: torch.Tensor
    boxes: torch.Tensor
    valid_mask: torch.Tensor
    head_box: torch.Tensor
    placement: PortraitPlacement


def _snap(value: float, align: int) -> int:
    return max(align, int(round(value / align)) * align)


def portrait_placement(height: int, width: int, scale: float, align: int = 1) -> PortraitPlacement:
    """Pixel geometry of a portrait shrunk by ``scale`` in a ``height x width`` canvas (HPA).

    Size ``round(scale * side)``; centred horizontally; top at ``PORTRAIT_TOP_FRACTION`` of the
    height (moved up if needed to fit). ``align`` > 1 snaps size and offsets to multiples of
    ``align`` (e.g. the latent downsampling factor) so the valid region is whole latent cells.
    """
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    if align < 1 or height % align or width % align:
        raise ValueError(f"align {align} must be >= 1 and divide the canvas {height}x{width}")
    new_h = min(height, _snap(scale * height, align))
    new_w = min(width, _snap(scale * width, align))
    top = min(int(round(PORTRAIT_TOP_FRACTION * height / align)) * align, height - new_h)
    left = ((width - new_w) // 2) // align * align
    return PortraitPlacement(top=top, left=left, height=new_h, width=new_w, canvas_h=height, canvas_w=width)


def _shrink_into_canvas(images: torch.Tensor, where: PortraitPlacement) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H, W): resize to the placement's size and pad with PAD_VALUE."""
    work = images if images.dtype in (torch.float32, torch.float64) else images.float()
    downscaling = where.height < where.canvas_h or where.width < where.canvas_w
    small = F.interpolate(  # (N, C, height, width)
        work, size=(where.height, where.width), mode="bilinear", align_corners=False, antialias=downscaling
    )
    pad = (
        where.left,
        where.canvas_w - where.left - where.width,
        where.top,
        where.canvas_h - where.top - where.height,
    )
    return F.pad(small, pad, mode="constant", value=PAD_VALUE).to(images.dtype)


def _map_points(points: torch.Tensor, where: PortraitPlacement) -> torch.Tensor:
    """(..., 3) keypoints [x, y, conf] -> same shape with x, y mapped; conf untouched."""
    mapped = points.clone()
    mapped[..., 0] = where.map_x(points[..., 0])
    mapped[..., 1] = where.map_y(points[..., 1])
    return mapped


def _map_boxes(boxes: torch.Tensor, where: PortraitPlacement) -> torch.Tensor:
    """(..., 4) normalised xyxy -> same shape, mapped into the canvas."""
    mapped = boxes.clone()
    mapped[..., 0::2] = where.map_x(boxes[..., 0::2])
    mapped[..., 1::2] = where.map_y(boxes[..., 1::2])
    return mapped


def place_portrait(
    frames: torch.Tensor,
    reference: torch.Tensor,
    keypoints: torch.Tensor,
    boxes: torch.Tensor,
    scale: float,
    align: int = 1,
) -> PlacedPortrait:
    """Shrink portrait clips by ``scale`` and paste them into the semi-body canvas (HPA).

    frames (B, F, 3, H, W) in [-1, 1]; reference (B, 3, H, W); keypoints (B, F, 133, 3)
    normalised [x, y, conf]; boxes (B, F, 4, 4) normalised xyxy in REGIONS order. Downscaling
    uses antialiased bilinear ``F.interpolate`` (CPU or GPU). Keypoints and boxes follow the
    same affine map as the pixels (points outside the frame are mapped, not clamped). See
    :func:`portrait_placement` for ``align``.
    """
    batch, num_frames, channels, height, width = frames.shape
    where = portrait_placement(height, width, scale, align)
    flat = frames.reshape(batch * num_frames, channels, height, width)  # (B*F, 3, H, W)
    placed_frames = _shrink_into_canvas(flat, where).reshape(frames.shape)  # (B, F, 3, H, W)
    placed_reference = _shrink_into_canvas(reference, where)  # (B, 3, H, W)
    valid = torch.zeros((batch, 1, height, width), dtype=placed_frames.dtype, device=frames.device)
    valid[:, :, where.top : where.top + where.height, where.left : where.left + where.width] = 1.0
    mapped_boxes = _map_boxes(boxes, where)  # (B, F, 4, 4)
    return PlacedPortrait(
        frames=placed_frames,
        reference=placed_reference,
        keypoints=_map_points(keypoints, where),
        boxes=mapped_boxes,
        valid_mask=valid,
        head_box=mapped_boxes[..., HEAD_BOX_INDEX, :],  # (B, F, 4)
        placement=where,
    )


def hpa_mix_mask(kinds: list[str], hpa: HpaConfig) -> torch.Tensor:
    """BoolTensor (B,): True for batch items of kind ``"portrait"`` (HPA mixing).

    Without HPA portrait clips are not used (docs/method.md, "HPA"), so meeting one while
    ``hpa.enabled`` is False is a data-sampling bug and raises ValueError.
    """
    mask = torch.tensor([kind == PORTRAIT_KIND for kind in kinds], dtype=torch.bool)
    if not hpa.enabled and bool(mask.any()):
        raise ValueError("a portrait clip reached a batch with data.hpa.enabled = false (HPA off: no portraits)")
    return mask


def portrait_slots(batch_size: int, hpa: HpaConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """BoolTensor (B,): which batch slots to fill with portrait clips (HPA mixing ratio).

    Each slot is a portrait with probability ``hpa.portrait_ratio`` (so the expected share per
    batch is the ratio even for small batches); all False when HPA is off.
    """
    if not hpa.enabled or hpa.portrait_ratio == 0.0:
        return torch.zeros(batch_size, dtype=torch.bool)
    draws = torch.rand(batch_size, generator=generator)  # (B,) uniform [0, 1)
    return draws < hpa.portrait_ratio


def valid_mask_at(valid_mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, 1, H, W) pixel mask -> (B, 1, h, w) latent-cell mask, conservative (HPA loss mask).

    A latent cell is valid only when every pixel it averages is valid, so a cell straddling
    the padding border is excluded. With ``place_portrait(..., align=H // h)`` nothing is lost.
    """
    coverage = F.adaptive_avg_pool2d(valid_mask.float(), size)  # (B, 1, h, w) share of valid pixels
    return (coverage >= 1.0).to(valid_mask.dtype)


def masked_mse(pred: torch.Tensor, target: torch.Tensor, valid_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over valid positions only (HPA: loss masked to the unpadded region).

    pred, target: (B, ..., H, W), e.g. (B, C, F, h, w), (B, F, C, h, w) or (B, C, h, w).
    valid_mask: (B, 1, H, W) or (B, H, W) at the same spatial size, broadcast over every middle
    axis (channels, frames). ``None`` returns ``F.mse_loss(pred, target)``; an all-ones mask
    gives the same value bit for bit (the masked error is reduced with the same ``mean`` and
    then multiplied by numel / valid count = exactly 1.0).
    """
    if valid_mask is None:
        return F.mse_loss(pred, target)
    batch, height, width = pred.shape[0], pred.shape[-2], pred.shape[-1]
    mask = valid_mask.reshape((batch,) + (1,) * (pred.ndim - 3) + (height, width))  # (B, 1.., H, W)
    squared = F.mse_loss(pred, target, reduction="none")  # (B, ..., H, W)
    broadcast_factor = pred.numel() // (batch * height * width)  # elements per mask position
    valid_count = mask.sum(dtype=torch.float64) * broadcast_factor  # number of valid elements
    rescale = (pred.numel() / valid_count.clamp_min(1.0)).to(squared.dtype)
    return (squared * mask.to(squared.dtype)).mean() * rescale
