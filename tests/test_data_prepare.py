"""Real-video preparation: rejects with reasons, the crop rule, and `harness data prepare` on real media."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from harness.data import layout
from harness.data.clip_format import clip_dir, load_clip, read_index
from harness.data.crop import apply_crop, crop_box, crop_keypoints
from harness.data.dataset import ClipDataset
from harness.data.prepare import list_videos, prepare_video, resample_indices
from harness.errors import HarnessError
from harness.media import read_audio, read_video, write_video

SR = 16000


def _bad_videos(folder: Path) -> dict[str, Path]:
    """A corrupt file, a video without audio, one with a silent track, one without a person."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (12, 48, 64, 3), dtype=np.uint8)
    tone = (0.3 * np.sin(np.arange(SR // 2) * 0.1)).astype(np.float32)
    files = {k: folder / f"{k}.mp4" for k in ("corrupt", "no_audio", "silent", "no_person")}
    files["corrupt"].write_bytes(b"\x00\x00\x00\x18ftypmp42" + rng.bytes(4000))
    write_video(files["no_audio"], noise, 24)
    write_video(files["silent"], noise, 24, audio=np.zeros(SR // 2, np.float32))
    write_video(files["no_person"], noise, 24, audio=tone)
    return files


def test_bad_videos_are_rejected_with_reasons(tmp_path: Path) -> None:
    files = _bad_videos(tmp_path / "src")
    expected = {"corrupt": "unreadable", "no_audio": "no audio stream", "silent": "silent", "no_person": "no person"}
    for name, path in files.items():
        result = prepare_video(path, tmp_path / "src", tmp_path / "out", size=32, fps=24, sample_rate=SR)
        assert result["status"] == "rejected", name
        assert expected[name] in result["reason"] and str(path) in result["reason"]
    assert not (tmp_path / "out" / "clips").exists() or not any((tmp_path / "out" / "clips").iterdir())


def test_list_videos_and_resampling(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no such folder"):
        list_videos(tmp_path / "absent")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(HarnessError, match="no video files"):
        list_videos(tmp_path)
    idx = resample_indices(n_src=50, src_fps=25, fps=24)  # 2 s
    assert len(idx) == 48 and idx[0] == 0 and idx[24] == 25 and idx[-1] == 48
    assert list(resample_indices(10, 10, 20)[:4]) == [0, 0, 1, 1]


def test_semibody_crop_rule() -> None:
    kp = np.zeros((2, 133, 3), np.float32)
    kp[:, layout.FACE] = (0.5, 0.2, 1.0)
    kp[:, layout.FACE[0], 1] = 0.1  # top face landmark at y = 0.1 (40 px of a 400 px frame)
    kp[:, [layout.L_SHOULDER, layout.R_SHOULDER]] = [(0.6, 0.4, 1.0), (0.4, 0.4, 1.0)]
    kp[:, layout.L_WRIST] = (0.7, 0.7, 1.0)  # lowest upper-body point: y = 280 px
    x0, y0, side = crop_box(kp, width=400, height=400, kind="semibody")
    assert side == 360  # span 240 px + 0.25 * 240 above and below
    assert (x0 + side / 2, y0 + side / 2) == (200.0, 160.0)  # mean neck x, middle of the span
    frames = np.full((2, 400, 400, 3), 200, np.uint8)
    out, valid = apply_crop(frames, (x0, y0, side), 64)
    assert out.shape == (2, 64, 64, 3) and valid == pytest.approx([0.0, 20 / 360, 1.0, 1.0])  # 20 px padded on top
    assert out[0, 0].max() == 0 and out[0, -1].min() == 200
    cropped = crop_keypoints(kp, 400, 400, (x0, y0, side))
    assert cropped[0, layout.FACE[0], 1] == pytest.approx(60 / 360)
    _, valid = apply_crop(frames, (-100, 0, 400), 32)
    assert valid == [0.25, 0.0, 1.0, 1.0]


@pytest.mark.slow
def test_cli_prepare_real_video_with_rejects_and_rerun(run_cli, real_data: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _bad_videos(src)
    for name in ("corrupt", "no_person", "no_audio"):  # keep one corrupt and one silent file
        if name != "corrupt":
            (src / f"{name}.mp4").unlink()
    real = real_data / "talking_head" / "video.avi"
    os.symlink(real, src / "talking.avi")  # a link, never a copy of the shared media
    frames, fps = read_video(real)
    short = frames[: int(2 * fps)]
    write_video(src / "talking_short.mp4", short[:, ::2, ::2], fps, audio=read_audio(real)[: 2 * SR])
    out = tmp_path / "out"
    res = run_cli("data", "prepare", src, "--out", out, "--size", "64", "--workers", "2", "--json", timeout=300)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["done"] == 2 and summary["clips"] == 2
    reasons = {Path(r["source"]).name: r["reason"] for r in summary["rejected"]}
    assert set(reasons) == {"corrupt.mp4", "silent.mp4"}
    assert "unreadable" in reasons["corrupt.mp4"] and "silent" in reasons["silent.mp4"]
    assert json.loads((out / "rejects.json").read_text())[0]["reason"] == reasons["corrupt.mp4"]
    entries = {Path(load_clip(clip_dir(out, e["id"]))["meta"]["source"]).name: e for e in read_index(out)["clips"]}
    clip = load_clip(clip_dir(out, entries["talking.avi"]["id"]))
    assert clip["meta"]["face_ratio"] >= 0.9 and clip["meta"]["fps"] == 24
    assert clip["frames"].shape[1:] == (64, 64, 3) and abs(len(clip["frames"]) - 24 * len(frames) / fps) <= 1
    assert len(clip["audio"]) == round(len(clip["frames"]) / 24 * SR)
    face_seen = (clip["keypoints"][:, layout.FACE, 2] > 0.3).any(1).mean()
    assert face_seen >= 0.9
    split = entries["talking.avi"]["split"]
    item = ClipDataset(out, split, frames=8)[0]
    assert item["frames"].shape == (8, 3, 64, 64) and item["keypoints"].shape == (8, 133, 3)
    again = run_cli("data", "prepare", src, "--out", out, "--size", "64", "--workers", "2", "--json", timeout=300)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["skipped"] == 2 and json.loads(again.stdout)["done"] == 0


@pytest.mark.slow
def test_cli_prepare_user_mistakes_and_only_rejects(run_cli, tmp_path: Path) -> None:
    missing = run_cli("data", "prepare", tmp_path / "absent", "--out", tmp_path / "out")
    assert missing.returncode == 2 and missing.stderr.strip() == f"error: {tmp_path / 'absent'}: no such folder"
    bad_split = run_cli("data", "prepare", tmp_path, "--out", tmp_path / "out", "--split", "val")
    assert bad_split.returncode == 2 and "--split" in bad_split.stderr
    src = tmp_path / "src"
    _bad_videos(src)
    res = run_cli("data", "prepare", src, "--out", tmp_path / "out", "--workers", "-1", "--size", "32")
    assert res.returncode == 0, res.stderr
    assert "0 clip(s) written" in res.stdout and "4 rejected" in res.stdout
    assert len(json.loads((tmp_path / "out" / "rejects.json").read_text())) == 4
    assert read_index(tmp_path / "out")["clips"] == []


def test_a_failed_clip_write_leaves_no_partial_folder(tmp_path: Path) -> None:
    from harness.data.clip_format import write_clip

    frames = np.zeros((2, 8, 8, 3), np.uint8)
    meta = {"fps": 24, "kind": "semibody", "source": "x", "split": "train", "sample_rate": 0}  # no wav at 0 Hz
    with pytest.raises(Exception):
        write_clip(tmp_path, "c0", frames, np.zeros(100, np.float32), np.zeros((2, 133, 3)), np.zeros((2, 4, 4)), meta)
    leftovers = [p.name for p in tmp_path.rglob("*")]
    assert not any("partial" in name or name == "c0" for name in leftovers), leftovers


@pytest.mark.slow
def test_cli_prepare_refuses_impossible_rates_before_any_work(run_cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    _bad_videos(src)
    for args, expected in ((["--fps", "0"], "--fps must be between 1 and 240, got 0"),
                           (["--sample-rate", "0"], "--sample-rate must be between 8000 and 192000 Hz, got 0"),
                           (["--test-fraction", "2"], "--test-fraction must be in [0, 1), got 2")):
        res = run_cli("data", "prepare", src, "--out", tmp_path / "out", "--workers", "-1", *args)
        assert res.returncode == 2 and res.stderr.strip() == f"error: {expected}", res.stderr
    assert not (tmp_path / "out").exists()  # nothing written
