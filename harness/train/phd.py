"""Phase-specific Denoising (PhD) loss: an extra pixel-space term chosen by the timestep band.

Paper: PhD loss (docs/method.md, "PhD loss"; paper Sec. 3.4; terms partly [inferred]).
``L = L_v + lambda_phase * L_phase(t)``. Bands are counted in denoising order, noisiest first:
S1 "pose" (t >= (1 - pose) T), S2 "detail" (low T <= t < (1 - pose) T), S3 "low" (t < low T).
The terms act on frames decoded from ``x0_hat`` (the lead decodes a subset of frames):

* L_pose: keypoint-heatmap weighted MSE (a differentiable stand-in for pose-map MSE).
* L_detail: MSE between Sobel edge-magnitude maps of the luminance, lips emphasised.
* L_low: 0.84 (1 - SSIM) + 0.16 L1 (the SSIM/L1 mix of Zhao et al., "Loss Functions for
  Image Restoration with Neural Networks", 2017, with single-scale SSIM). LPIPS is not
  supported (it needs weights on disk).

Every filter is written as weighted sums of shifted slices (no padding, no conv kernels), so
forward and backward are deterministic on CPU and GPU.
"""

from __future__ import annotations

import math

import torch

from harness.config_training import PhdBands, PhdConfig
from harness.errors import HarnessError
from harness.vocabulary import PHD_BANDS

BAND_POSE, BAND_DETAIL, BAND_LOW = 0, 1, 2  # indices into PHD_BANDS: S1 (noisiest), S2, S3

# Luminance of RGB (ITU-R BT.601 weights); the weights sum to 1 so [-1, 1] maps to [-1, 1].
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
# Added under the square root of the Sobel magnitude so its gradient stays finite at 0.
EDGE_EPS = 1e-6
# SSIM as in Wang et al. 2004 / skimage (gaussian_weights=True): 11x11 Gaussian, sigma 1.5.
SSIM_SIGMA = 1.5
SSIM_RADIUS = 5
SSIM_C1 = 0.01**2  # (K1 * data_range)^2 on [0, 1] data
SSIM_C2 = 0.03**2
# L_low mix: alpha (1 - SSIM) + (1 - alpha) L1 (Zhao et al. 2017).
SSIM_L1_ALPHA = 0.84
LPIPS_UNSUPPORTED = (
    "loss.phd.low.kind=lpips needs LPIPS weights on disk, which the harness does not support yet; use ssim_l1"
)


# --------------------------------------------------------------------------- bands


def phd_band_limits(bands: PhdBands, num_train_timesteps: int = 1000) -> tuple[int, int]:
    """Integer timestep limits ``(pose_start, low_end)``: S1 t >= pose_start, S3 t < low_end.

    ``pose_start = ceil((1 - pose) T)`` and ``low_end = ceil(low T)`` (for integer t,
    ``t >= x`` iff ``t >= ceil(x)``), with a 1e-6 tolerance so float noise in a fraction
    such as 0.7 * 1000 does not move a boundary by one step.
    """
    tolerance = 1e-6
    pose_start = math.ceil((1.0 - bands.pose) * num_train_timesteps - tolerance)
    low_end = math.ceil(bands.low * num_train_timesteps - tolerance)
    return pose_start, low_end


def phd_band_of(t: torch.Tensor, bands: PhdBands, num_train_timesteps: int = 1000) -> torch.Tensor:
    """Band index per timestep (PhD loss bands): LongTensor (B,) of 0 pose, 1 detail, 2 low.

    t: LongTensor (B,) of training timesteps in [0, T). ``PHD_BANDS[i]`` names index i.
    """
    pose_start, low_end = phd_band_limits(bands, num_train_timesteps)
    band = torch.full_like(t, BAND_DETAIL, dtype=torch.long)  # (B,)
    band = torch.where(t >= pose_start, torch.full_like(band, BAND_POSE), band)
    return torch.where(t < low_end, torch.full_like(band, BAND_LOW), band)


def phd_band_names(t: torch.Tensor, bands: PhdBands, num_train_timesteps: int = 1000) -> list[str]:
    """Band names per timestep (for logging): ``[PHD_BANDS[i] for i in phd_band_of(t)]``."""
    return [PHD_BANDS[i] for i in phd_band_of(t, bands, num_train_timesteps).tolist()]


# --------------------------------------------------------------------------- x0 from v


def x0_from_v(x_t: torch.Tensor, v: torch.Tensor, alphas_cumprod_t: torch.Tensor) -> torch.Tensor:
    """Clean sample predicted from a v-prediction: ``sqrt(a_t) x_t - sqrt(1 - a_t) v``.

    (docs/method.md, "Objective and sampling"). x_t, v: (B, ...) e.g. (B, C, F, H, W) or
    (B, F, C, H, W); alphas_cumprod_t: (B,) (one value per sample, broadcast over every other
    axis) or any shape that already broadcasts. With zero terminal SNR a_T = 0, so the result
    is exactly -v at t = T.
    """
    alpha = alphas_cumprod_t.to(device=x_t.device, dtype=x_t.dtype)
    if alpha.ndim == 1 and x_t.ndim > 1:
        alpha = alpha.reshape((-1,) + (1,) * (x_t.ndim - 1))  # (B, 1, ..., 1)
    return alpha.sqrt() * x_t - (1.0 - alpha).sqrt() * v


# --------------------------------------------------------------------------- L_pose


def keypoint_weight_map(keypoints: torch.Tensor, height: int, width: int, sigma_px: float) -> torch.Tensor:
    """(N, 133, 3) normalised [x, y, conf] -> (N, 1, H, W) weights with mean 1 per sample.

    ``1 + sum_k conf_k * exp(-d_k^2 / (2 sigma^2))`` (d_k: distance from a pixel centre to
    keypoint k, in pixels), divided by its spatial mean. Keypoints with conf <= 0 or a
    non-finite coordinate add nothing. Separable, so memory is O(N * 133 * (H + W)).
    """
    x = keypoints[..., 0] * width  # (N, K) in pixel units
    y = keypoints[..., 1] * height
    conf = keypoints[..., 2]
    usable = torch.isfinite(x) & torch.isfinite(y) & torch.isfinite(conf) & (conf > 0)
    conf = torch.where(usable, conf, torch.zeros_like(conf))  # (N, K)
    x, y = torch.nan_to_num(x), torch.nan_to_num(y)
    xs = torch.arange(width, device=keypoints.device, dtype=keypoints.dtype) + 0.5  # (W,) pixel centres
    ys = torch.arange(height, device=keypoints.device, dtype=keypoints.dtype) + 0.5  # (H,)
    gauss_x = torch.exp(-((xs - x[..., None]) ** 2) / (2 * sigma_px**2))  # (N, K, W)
    gauss_y = torch.exp(-((ys - y[..., None]) ** 2) / (2 * sigma_px**2)) * conf[..., None]  # (N, K, H)
    heat = torch.einsum("nkh,nkw->nhw", gauss_y, gauss_x)  # (N, H, W)
    weight = 1.0 + heat
    return (weight / weight.mean(dim=(-2, -1), keepdim=True))[:, None]  # (N, 1, H, W)


def pose_term(pred: torch.Tensor, target: torch.Tensor, keypoints: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """L_pose (PhD S1 [inferred]): keypoint-heatmap weighted MSE, a scalar.

    pred, target: (N, 3, H, W) in [-1, 1]; keypoints: (N, 133, 3) of the target frames,
    normalised. Errors near confident keypoints count more (see keypoint_weight_map).
    The weights carry no gradient; the term is differentiable w.r.t. pred.
    """
    weight = keypoint_weight_map(keypoints.to(pred.dtype), pred.shape[-2], pred.shape[-1], sigma_px)
    return (weight.detach() * (pred - target) ** 2).mean()


# --------------------------------------------------------------------------- L_detail


def luminance01(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [-1, 1] -> (N, H, W) luminance in [0, 1]."""
    red, green, blue = images[:, 0], images[:, 1], images[:, 2]
    luma = LUMA_WEIGHTS[0] * red + LUMA_WEIGHTS[1] * green + LUMA_WEIGHTS[2] * blue
    return (luma + 1.0) / 2.0


def sobel_magnitude(gray: torch.Tensor) -> torch.Tensor:
    """(N, H, W) -> (N, H-2, W-2) Sobel edge magnitude, valid region only (no padding)."""
    height, width = gray.shape[-2], gray.shape[-1]

    def at(dy: int, dx: int) -> torch.Tensor:  # (N, H-2, W-2) neighbour at offset (dy-1, dx-1)
        return gray[:, dy : dy + height - 2, dx : dx + width - 2]

    grad_x = (at(0, 2) - at(0, 0)) + 2.0 * (at(1, 2) - at(1, 0)) + (at(2, 2) - at(2, 0))
    grad_y = (at(2, 0) - at(0, 0)) + 2.0 * (at(2, 1) - at(0, 1)) + (at(2, 2) - at(0, 2))
    return torch.sqrt(grad_x**2 + grad_y**2 + EDGE_EPS)


def _box_weight(box: torch.Tensor | None, height: int, width: int, emphasis: float, like: torch.Tensor) -> torch.Tensor:
    """(N, H-2, W-2) weights of the Sobel valid region: ``emphasis`` inside the box, else 1."""
    if box is None or emphasis == 1.0:
        return torch.ones_like(like)
    box = box.to(like.dtype)
    xs = (torch.arange(1, width - 1, device=like.device, dtype=like.dtype) + 0.5) / width  # (W-2,) centres
    ys = (torch.arange(1, height - 1, device=like.device, dtype=like.dtype) + 0.5) / height  # (H-2,)
    in_x = (xs >= box[:, 0:1]) & (xs < box[:, 2:3])  # (N, W-2)
    in_y = (ys >= box[:, 1:2]) & (ys < box[:, 3:4])  # (N, H-2)
    inside = in_y[:, :, None] & in_x[:, None, :]  # (N, H-2, W-2)
    return 1.0 + (emphasis - 1.0) * inside.to(like.dtype)


def detail_term(
    pred: torch.Tensor, target: torch.Tensor, lips_box: torch.Tensor | None, lip_emphasis: float
) -> torch.Tensor:
    """L_detail (PhD S2 [inferred]): weighted MSE between Sobel edge maps of the luminance.

    pred, target: (N, 3, H, W) in [-1, 1]; lips_box: (N, 4) normalised xyxy or None. The squared
    edge difference is weighted ``lip_emphasis`` at pixels whose centre is inside the lip box
    and 1 elsewhere, then averaged (no renormalisation: emphasis 1 = plain edge MSE).
    A change that leaves every edge magnitude unchanged (e.g. a uniform shift) costs nothing.
    """
    height, width = pred.shape[-2], pred.shape[-1]
    edges_pred = sobel_magnitude(luminance01(pred))  # (N, H-2, W-2)
    edges_target = sobel_magnitude(luminance01(target))
    weight = _box_weight(lips_box, height, width, lip_emphasis, edges_pred.detach())
    return (weight * (edges_pred - edges_target) ** 2).mean()


# --------------------------------------------------------------------------- L_low


def _gaussian_taps(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(2 * SSIM_RADIUS + 1,) normalised Gaussian taps (scipy/skimage truncate 3.5 -> radius 5)."""
    offsets = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=torch.float64)
    taps = torch.exp(-0.5 * (offsets / SSIM_SIGMA) ** 2)
    return (taps / taps.sum()).to(dtype=dtype, device=device)


def _gaussian_valid(images: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H-10, W-10): separable Gaussian filter, valid region only."""
    size = taps.shape[0]
    rows = images.shape[-2] - size + 1
    cols = images.shape[-1] - size + 1
    vertical = taps[0] * images[..., 0:rows, :]  # (N, C, H-10, W)
    for k in range(1, size):
        vertical = vertical + taps[k] * images[..., k : k + rows, :]
    filtered = taps[0] * vertical[..., 0:cols]  # (N, C, H-10, W-10)
    for k in range(1, size):
        filtered = filtered + taps[k] * vertical[..., k : k + cols]
    return filtered


def ssim(pred01: torch.Tensor, target01: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of (N, C, H, W) images in [0, 1] (Wang et al. 2004; L_low).

    Matches ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1.0)``: 11x11 Gaussian window, C1 = 0.01^2,
    C2 = 0.03^2, averaged over the region the window fits in (skimage crops 5 px borders).
    """
    if min(pred01.shape[-2:]) < 2 * SSIM_RADIUS + 1:
        raise ValueError(f"SSIM needs frames of at least 11x11 pixels, got {tuple(pred01.shape[-2:])}")
    taps = _gaussian_taps(pred01.dtype, pred01.device)
    mean_p = _gaussian_valid(pred01, taps)  # (N, C, H-10, W-10)
    mean_t = _gaussian_valid(target01, taps)
    var_p = _gaussian_valid(pred01 * pred01, taps) - mean_p * mean_p
    var_t = _gaussian_valid(target01 * target01, taps) - mean_t * mean_t
    cov = _gaussian_valid(pred01 * target01, taps) - mean_p * mean_t
    numerator = (2.0 * mean_p * mean_t + SSIM_C1) * (2.0 * cov + SSIM_C2)
    denominator = (mean_p * mean_p + mean_t * mean_t + SSIM_C1) * (var_p + var_t + SSIM_C2)
    return (numerator / denominator).mean()


def low_term(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """L_low (PhD S3 [inferred]) on (N, 3, H, W) frames in [-1, 1], a scalar.

    ``ssim_l1``: ``0.84 * (1 - SSIM) + 0.16 * L1``, both on [0, 1] data (so the L1 part is
    half the L1 in [-1, 1] units). ``lpips`` raises HarnessError: not supported.
    """
    if kind == "lpips":
        raise HarnessError(LPIPS_UNSUPPORTED)
    if kind != "ssim_l1":
        raise ValueError(f"unknown L_low kind {kind!r}")
    pred01, target01 = (pred + 1.0) / 2.0, (target + 1.0) / 2.0
    l1 = (pred01 - target01).abs().mean()
    return SSIM_L1_ALPHA * (1.0 - ssim(pred01, target01)) + (1.0 - SSIM_L1_ALPHA) * l1


# --------------------------------------------------------------------------- the loss


def mask_padding(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """HPA loss mask in pixel space: ``(valid * pred + (1 - valid) * target, mean(valid))``.

    pred, target: (N, 3, H, W); valid: (N, 1, H, W) in [0, 1]. Where valid is 0 the prediction
    is replaced by the target, so every term (including the Sobel and SSIM windows that straddle
    the border) sees no error there and sends no gradient there; dividing a term by the valid
    share turns its mean over the frame into a mean over the unpadded area (the SSIM and Sobel
    windows at the border make this approximate). An all-ones mask returns pred unchanged.
    """
    valid = valid.to(pred.dtype)
    return valid * pred + (1.0 - valid) * target, valid.mean().clamp_min(torch.finfo(pred.dtype).tiny)


def _term_on(cfg: PhdConfig, band: int) -> bool:
    term = (cfg.pose, cfg.detail, cfg.low)[band]
    return term.enabled and term.weight > 0.0


def phd_active(bands_of_samples: torch.Tensor, cfg: PhdConfig) -> torch.Tensor:
    """BoolTensor like ``bands_of_samples``: True where the sample's band has a term that counts.

    Lets the trainer decode only the frames that need it (a weight of 0 counts as off).
    """
    on = torch.tensor([_term_on(cfg, band) for band in range(3)], device=bands_of_samples.device)
    return on[bands_of_samples]


def phd_loss(
    pred_frames: torch.Tensor,
    target_frames: torch.Tensor,
    bands_of_samples: torch.Tensor,
    keypoints: torch.Tensor,
    lips_boxes: torch.Tensor | None,
    cfg: PhdConfig,
    valid_masks: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PhD loss (docs/method.md, "PhD loss"): the band's term per row, weighted, averaged.

    pred_frames, target_frames: (N, 3, H, W) in [-1, 1], one row per decoded frame;
    bands_of_samples: LongTensor (N,) band index per row (``phd_band_of`` of its sample's t,
    repeated over that sample's decoded frames); keypoints: (N, 133, 3) of the target frames;
    lips_boxes: (N, 4) normalised xyxy or None; valid_masks: (N, 1, H, W) in [0, 1] or None,
    the HPA loss mask of each row (0 = portrait padding; see ``mask_padding``).

    ``total = sum_k weight_k * term_k(rows in band k) * rows_k / N`` over enabled terms with
    weight > 0, i.e. the batch mean of each row's own weighted term (0 for rows whose term is
    off). Returns ``(total, values)``, ``values`` holding each computed term's unweighted value
    under its name. With no term applying, ``total`` is a fresh 0.0 tensor with no graph.
    """
    if _term_on(cfg, BAND_LOW) and cfg.low.kind == "lpips":
        raise HarnessError(LPIPS_UNSUPPORTED)  # fail on the first step, whatever the bands
    rows = pred_frames.shape[0]
    width = pred_frames.shape[-1]
    total: torch.Tensor | None = None
    values: dict[str, float] = {}
    for band, name in enumerate(PHD_BANDS):
        if not _term_on(cfg, band):
            continue
        chosen = (bands_of_samples == band).nonzero(as_tuple=True)[0]  # (n_k,) row indices
        if chosen.numel() == 0:
            continue
        pred, target = pred_frames[chosen], target_frames[chosen]  # (n_k, 3, H, W)
        valid_share = 1.0
        if valid_masks is not None:  # HPA: the padding counts for nothing in pixel space either
            pred, valid_share = mask_padding(pred, target, valid_masks[chosen])
        if band == BAND_POSE:
            value = pose_term(pred, target, keypoints[chosen], cfg.pose.heatmap_sigma * width)
        elif band == BAND_DETAIL:
            boxes = None if lips_boxes is None else lips_boxes[chosen]
            value = detail_term(pred, target, boxes, cfg.detail.lip_emphasis)
        else:
            value = low_term(pred, target, cfg.low.kind)
        value = value / valid_share  # averaged over the unpadded area (1.0 without padding: unchanged)
        weight = (cfg.pose, cfg.detail, cfg.low)[band].weight
        contribution = value * (weight * chosen.numel() / rows)
        total = contribution if total is None else total + contribution
        values[name] = float(value.detach())
    if total is None:
        return torch.zeros((), dtype=pred_frames.dtype, device=pred_frames.device), values
    values["total"] = float(total.detach())
    return total, values
