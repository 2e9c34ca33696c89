"""HPA portrait placement and the masked loss (docs/method.md, "HPA")."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from harness.config_model import HpaConfig
from harness.train.hpa import (
    PAD_VALUE,
    PORTRAIT_TOP_FRACTION,
    hpa_mix_mask,
    masked_mse,
    place_portrait,
    portrait_slots,
    valid_mask_at,
)


def _empty_annotations(batch: int, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    keypoints = torch.rand(batch, frames, 133, 3)  # (B, F, 133, 3)
    boxes = torch.rand(batch, frames, 4, 4).sort(dim=-1).values  # (B, F, 4, 4) any xyxy
    return keypoints, boxes


def _expected_rect(height: int, width: int, scale: float) -> tuple[int, int, int, int]:
    """(top, left, h, w) from the documented rule: centred, top at PORTRAIT_TOP_FRACTION."""
    new_h, new_w = round(scale * height), round(scale * width)
    top = min(round(PORTRAIT_TOP_FRACTION * height), height - new_h)
    return top, (width - new_w) // 2, new_h, new_w


def test_quadrant_portrait_lands_where_expected() -> None:
    height = width = 64
    image = torch.empty(3, height, width)  # four constant quadrants, distinct per channel
    colours = {(0, 0): 0.9, (0, 1): 0.3, (1, 0): -0.2, (1, 1): -0.7}
    for (row, col), value in colours.items():
        image[:, row * 32 : (row + 1) * 32, col * 32 : (col + 1) * 32] = value
    frames = image.expand(1, 2, 3, height, width).clone()  # (1, 2, 3, 64, 64)
    keypoints, boxes = _empty_annotations(1, 2)
    placed = place_portrait(frames, image[None], keypoints, boxes, scale=0.5)
    top, left, new_h, new_w = _expected_rect(height, width, 0.5)
    assert (top, left, new_h, new_w) == (3, 16, 32, 32)
    for out in (placed.frames[0, 1], placed.reference[0]):
        inside = torch.zeros(height, width, dtype=torch.bool)
        inside[top : top + new_h, left : left + new_w] = True
        assert torch.all(out[:, ~inside] == PAD_VALUE)
        for (row, col), value in colours.items():  # quadrant interiors (1 px away from seams)
            r0, c0 = top + row * 16, left + col * 16
            patch = out[:, r0 + 1 : r0 + 15, c0 + 1 : c0 + 15]
            assert torch.allclose(patch, torch.full_like(patch, value), atol=1e-6), (row, col)


def test_scale_one_is_identity() -> None:
    frames = torch.rand(2, 3, 3, 32, 40) * 2 - 1
    keypoints, boxes = _empty_annotations(2, 3)
    placed = place_portrait(frames, frames[:, 0], keypoints, boxes, scale=1.0)
    assert torch.equal(placed.frames, frames)
    assert torch.equal(placed.keypoints, keypoints)
    assert torch.equal(placed.valid_mask, torch.ones(2, 1, 32, 40))


def _blob_centroid(image: torch.Tensor) -> tuple[float, float]:
    """Brightness-weighted centre (x, y) in pixel units of an image on a -1 background."""
    weight = (image.mean(dim=0) - PAD_VALUE).clamp_min(0)  # (H, W)
    ys = torch.arange(image.shape[1], dtype=torch.float64) + 0.5
    xs = torch.arange(image.shape[2], dtype=torch.float64) + 0.5
    total = weight.sum().double()
    return float((weight.double().sum(0) * xs).sum() / total), float((weight.double().sum(1) * ys).sum() / total)


@pytest.mark.parametrize(("scale", "size"), [(0.5, (96, 96)), (0.45, (64, 80)), (0.7, (80, 64))])
def test_keypoints_follow_the_pixels(scale: float, size: tuple[int, int]) -> None:
    height, width = size
    spots = [(10, 20), (40, 50), (70, 33)]  # (row, col) of a 4x4 dot's top-left pixel, per frame
    frames = torch.full((1, len(spots), 3, height, width), PAD_VALUE)
    keypoints = torch.zeros(1, len(spots), 133, 3)
    for f, (row, col) in enumerate(spots):
        row, col = min(row, height - 8), min(col, width - 8)
        frames[0, f, :, row : row + 4, col : col + 4] = 1.0
        keypoints[0, f, 100] = torch.tensor([(col + 2) / width, (row + 2) / height, 0.8])  # dot centre
    keypoints[0, :, 5] = torch.tensor([-0.25, 1.5, 0.1])  # a point outside the frame
    _, boxes = _empty_annotations(1, len(spots))
    placed = place_portrait(frames, frames[:, 0], keypoints, boxes, scale=scale)
    for f in range(len(spots)):
        cx, cy = _blob_centroid(placed.frames[0, f])
        kx, ky, conf = placed.keypoints[0, f, 100].tolist()
        assert abs(cx - kx * width) < 0.05 and abs(cy - ky * height) < 0.05, (f, cx, cy, kx * width, ky * height)
        assert conf == pytest.approx(0.8)
    # the same affine map for a point outside the frame: x' = a x + b with a, b from two inside points
    where = placed.placement
    out_x, out_y, out_conf = placed.keypoints[0, 0, 5].tolist()
    assert out_x == pytest.approx((where.left - 0.25 * where.width) / width)
    assert out_y == pytest.approx((where.top + 1.5 * where.height) / height)
    assert out_conf == pytest.approx(0.1)
    assert torch.equal(placed.keypoints[..., 2], keypoints[..., 2])


def test_boxes_and_head_box_are_mapped_like_pixels() -> None:
    height = width = 64
    frames = torch.full((1, 1, 3, height, width), PAD_VALUE)
    frames[0, 0, :, 8:24, 20:44] = 1.0  # a filled rectangle = the "head"
    boxes = torch.zeros(1, 1, 4, 4)
    boxes[0, 0, 2] = torch.tensor([20 / width, 8 / height, 44 / width, 24 / height])
    boxes[0, 0, 0] = torch.tensor([0.4, 0.5, 0.6, 0.55])
    placed = place_portrait(frames, frames[:, 0], torch.zeros(1, 1, 133, 3), boxes, scale=0.5)
    x1, y1, x2, y2 = (placed.head_box[0, 0] * torch.tensor([width, height, width, height])).tolist()
    lit = placed.frames[0, 0].mean(0) > 0  # pixels mostly covered by the rectangle
    rows, cols = lit.nonzero(as_tuple=True)
    assert (rows.min().item(), rows.max().item() + 1) == (round(y1), round(y2))
    assert (cols.min().item(), cols.max().item() + 1) == (round(x1), round(x2))
    assert torch.equal(placed.head_box, placed.boxes[..., 2, :])
    where = placed.placement
    assert placed.boxes[0, 0, 0, 0].item() == pytest.approx((where.left + 0.4 * where.width) / width)


@pytest.mark.parametrize("scale", [0.3, 0.45, 0.5, 0.77, 0.93])
@pytest.mark.parametrize("size", [(64, 64), (48, 80), (96, 72)])
def test_valid_mask_area_and_extent(scale: float, size: tuple[int, int]) -> None:
    height, width = size
    frames = torch.ones(2, 1, 3, height, width)  # white portrait
    keypoints, boxes = _empty_annotations(2, 1)
    placed = place_portrait(frames, frames[:, 0], keypoints, boxes, scale=scale)
    area = placed.valid_mask[0].sum().item()
    assert abs(area - scale**2 * height * width) <= scale * (height + width) / 2 + 1
    assert placed.valid_mask.shape == (2, 1, height, width)
    painted = (placed.frames[:, 0].mean(1, keepdim=True) > PAD_VALUE).float()  # (2, 1, H, W)
    assert torch.equal(painted, placed.valid_mask)
    assert placed.frames.shape == frames.shape and placed.reference.shape == (2, 3, height, width)


def test_align_snaps_the_valid_region_to_latent_cells() -> None:
    frames = torch.ones(1, 1, 3, 64, 64)
    keypoints, boxes = _empty_annotations(1, 1)
    placed = place_portrait(frames, frames[:, 0], keypoints, boxes, scale=0.45, align=8)
    where = placed.placement
    assert all(v % 8 == 0 for v in (where.top, where.left, where.height, where.width))
    latent = valid_mask_at(placed.valid_mask, (8, 8))  # (1, 1, 8, 8)
    assert latent.sum().item() * 64 == placed.valid_mask.sum().item()
    unaligned = place_portrait(frames, frames[:, 0], keypoints, boxes, scale=0.45)
    coarse = valid_mask_at(unaligned.valid_mask, (8, 8))
    assert coarse.sum().item() * 64 < unaligned.valid_mask.sum().item()  # straddling cells dropped


@pytest.mark.parametrize("shape", [(2, 4, 3, 8, 8), (2, 3, 4, 8, 8), (2, 3, 8, 8)])
def test_masked_mse_with_all_ones_equals_mse_bit_for_bit(shape: tuple[int, ...]) -> None:
    generator = torch.Generator().manual_seed(0)
    pred, target = torch.randn(shape, generator=generator), torch.randn(shape, generator=generator)
    ones = torch.ones(shape[0], 1, 8, 8)
    assert torch.equal(masked_mse(pred, target, ones), F.mse_loss(pred, target))
    assert torch.equal(masked_mse(pred, target, None), F.mse_loss(pred, target))


def test_masked_mse_ignores_padding_errors() -> None:
    generator = torch.Generator().manual_seed(1)
    target = torch.randn(2, 4, 3, 16, 16, generator=generator)  # (B, F, C, H, W)
    mask = torch.zeros(2, 1, 16, 16)
    mask[0, :, 2:10, 4:12] = 1.0
    mask[1] = 1.0
    pred = target + 5.0 * (1 - mask[:, None])  # errors only in the padding
    assert masked_mse(pred, target, mask).item() == 0.0
    pred = (pred + 0.1 * torch.randn(pred.shape, generator=generator)).requires_grad_(True)
    loss = masked_mse(pred, target, mask)
    keep = mask[:, None].expand_as(pred).bool()
    assert loss.item() == pytest.approx(((pred - target)[keep] ** 2).mean().item(), rel=1e-5)
    loss.backward()
    assert torch.all(pred.grad[~keep] == 0) and torch.any(pred.grad[keep] != 0)


def test_mix_mask_and_slots() -> None:
    assert hpa_mix_mask(["semi_body", "portrait", "semi_body"], HpaConfig()).tolist() == [False, True, False]
    assert hpa_mix_mask(["semi_body"], HpaConfig(enabled=False)).tolist() == [False]
    with pytest.raises(ValueError, match="HPA"):
        hpa_mix_mask(["portrait"], HpaConfig(enabled=False))
    assert not portrait_slots(64, HpaConfig(enabled=False)).any()
    slots = portrait_slots(4000, HpaConfig(portrait_ratio=0.25), torch.Generator().manual_seed(0))
    assert 0.22 < slots.float().mean().item() < 0.28
