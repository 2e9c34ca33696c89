"""Reference ONNX backends (DWPose, ArcFace): decoders on synthetic outputs; missing files -> WeightError.

The official ONNX files are not available offline, so these check the decoding math and the
error path; with the files placed in $HARNESS_WEIGHTS the backends load them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metrics.arcface import ARCFACE_DST, norm_crop, scrfd_decode
from metrics.dwpose import DET_SIZE, affine_for_box, simcc_decode, yolox_decode
from metrics.weights import WeightError


def test_simcc_decode_argmax_and_min_score() -> None:
    sx, sy = np.zeros((1, 2, 576)), np.zeros((1, 2, 768))
    sx[0, 0, 100], sy[0, 0, 300] = 0.9, 0.6
    locs, scores = simcc_decode(sx, sy)
    assert locs[0, 0].tolist() == [50.0, 150.0] and scores[0, 0] == pytest.approx(0.6)
    assert locs[0, 1].tolist() == [-1.0, -1.0]  # no positive response


def test_yolox_decode_one_person() -> None:
    n = sum((DET_SIZE // s) ** 2 for s in (8, 16, 32))
    out = np.zeros((n, 85))
    out[:, 4] = 0.0
    idx = 10 * 80 + 20  # stride-8 grid cell x=20, y=10
    out[idx, :4] = [0.5, 0.5, np.log(8.0), np.log(16.0)]  # centre (164, 84), size (64, 128) in 640 space
    out[idx, 4], out[idx, 5] = 0.9, 0.9
    boxes, scores = yolox_decode(out, ratio=0.5)
    np.testing.assert_allclose(boxes, [[(164 - 32) / 0.5, (84 - 64) / 0.5, (164 + 32) / 0.5, (84 + 64) / 0.5]])
    assert scores[0] == pytest.approx(0.81)


def test_pose_affine_maps_box_centre_to_crop_centre() -> None:
    warp, center, scale = affine_for_box(np.array([100.0, 50.0, 200.0, 350.0]))
    assert np.allclose(warp @ [*center, 1.0], [144.0, 192.0])
    assert scale[0] / scale[1] == pytest.approx(288 / 384)


def test_scrfd_decode_and_alignment() -> None:
    outs = [np.zeros(((DET_SIZE // s) ** 2 * 2, k)) for k in (1, 4, 10) for s in (8, 16, 32)]
    outs[0][2 * (5 * 80 + 7)] = 0.95  # stride 8, cell x=7, y=5, first anchor; centre (56, 40)
    outs[3][2 * (5 * 80 + 7)] = [1, 1, 1, 1]  # 8 px each side
    boxes, scores, kps = scrfd_decode(outs, scale=1.0)
    np.testing.assert_allclose(boxes, [[48, 32, 64, 48]])
    assert kps.shape == (1, 5, 2) and np.allclose(kps[0], [56, 40])
    image = np.random.default_rng(0).integers(0, 255, (112, 112, 3), dtype=np.uint8)
    assert np.array_equal(norm_crop(image, ARCFACE_DST), image)  # template onto itself: identity


def test_reference_backends_need_their_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from metrics.dwpose import DwposeHands
    from metrics.faces import make_embedder

    monkeypatch.setenv("HARNESS_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightError, match="w600k_r50.onnx.*put it in"):
        make_embedder("reference")
    with pytest.raises(WeightError, match="dw-ll_ucoco_384.onnx"):
        DwposeHands()
