"""The synthetic semi-body generator: determinism, exact keypoints, audio-driven mouth, free hands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from harness.config import ExperimentConfig
from harness.data import layout
from harness.data.clip_format import clip_dir, load_clip, read_index
from harness.data.synth import _clip_rngs, ensure_dataset, generate_dataset, render_clip
from harness.data.synth_figure import sample_identity
from harness.data.synth_render import MOUTH_INSIDE, PUPIL
from harness.errors import HarnessError

F = layout.FACE[0]  # whole-body index of face point 0


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    kwargs = dict(clips=2, portrait_clips=1, size=32, seconds=0.5, fps=24, sample_rate=16000, progress=False)
    a = _files(generate_dataset(tmp_path / "a", seed=7, **kwargs))
    b = _files(generate_dataset(tmp_path / "b", seed=7, **kwargs))
    c = _files(generate_dataset(tmp_path / "c", seed=8, **kwargs))
    assert len(a) == 3 * (4 + 12) + 1  # 3 clips x (12 PNG frames + 4 files) + index.json
    assert a == b
    assert a.keys() == c.keys() and a != c
    assert a["clips/synth-0000/audio.wav"] != c["clips/synth-0000/audio.wav"]


def _near(pixel: np.ndarray, color: tuple, tol: float = 40.0) -> bool:
    return float(np.linalg.norm(pixel.astype(float) - np.array(color, float))) <= tol


def test_rendered_keypoints_match_geometry() -> None:
    size = 256
    data = render_clip(seed=3, kind="semibody", k=0, size=size, n_frames=24, fps=24, sample_rate=16000)
    skin = sample_identity(_clip_rngs(3, "semibody", 0)[0]).skin
    frames, kps = data["frames"], data["keypoints"]
    px = lambda xy: (int(xy[1] * size), int(xy[0] * size))  # noqa: E731  normalised (x, y) -> (row, col)
    checked_mouths = 0
    for frame, kp in zip(frames, kps):
        for eye in (slice(F + 36, F + 42), slice(F + 42, F + 48)):
            assert _near(frame[px(kp[eye, :2].mean(0))], PUPIL), "pupil not at the eye keypoints"
        for hand in (layout.LEFT_HAND, layout.RIGHT_HAND):
            palm = kp[hand][[0, 5, 9, 13, 17], :2].mean(0)
            assert _near(frame[px(palm)], skin), "palm not at the hand keypoints"
        top, bottom = kp[F + 62, 1] * size, kp[F + 66, 1] * size  # inner upper / lower lip centres
        if bottom - top >= 4:  # mouth open: the dark inside spans exactly the inner-lip gap
            col = int(kp[F + 62, 0] * size)
            inside = [r for r in range(size) if _near(frame[r, col], MOUTH_INSIDE, 45)]
            assert abs(len(inside) - (bottom - top)) <= 2.0
            assert abs(min(inside) - top) <= 1.5 and abs(max(inside) + 1 - bottom) <= 1.5
            checked_mouths += 1
    assert checked_mouths >= 3


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def _rms_per_frame(audio: np.ndarray, sr: int, fps: float, n: int) -> np.ndarray:
    """An independent envelope: RMS over +-half a frame around each frame time."""
    half = int(sr / fps / 2)
    centres = (np.arange(n) * sr / fps).astype(int)
    return np.array([np.sqrt(np.mean(audio[max(0, c - half) : c + half] ** 2)) for c in centres])


def test_mouth_follows_audio_and_hands_do_not(tmp_path: Path) -> None:
    root = generate_dataset(tmp_path, clips=4, portrait_clips=0, size=32, seconds=3.0, fps=24, sample_rate=16000,
                            seed=1, progress=False)
    env_all, hand_all = [], []
    for entry in read_index(root)["clips"]:
        clip = load_clip(clip_dir(root, entry["id"]))
        kp, n = clip["keypoints"], clip["meta"]["n_frames"]
        env = _rms_per_frame(clip["audio"], 16000, 24, n)
        face_h = np.linalg.norm(kp[:, F + 8, :2] - kp[:, F + 27, :2], axis=1)
        mouth = np.linalg.norm(kp[:, F + 66, :2] - kp[:, F + 62, :2], axis=1) / face_h
        assert _pearson(mouth, env) > 0.9
        wrists = kp[:, [layout.L_WRIST, layout.R_WRIST], :2]
        speed = np.linalg.norm(np.diff(wrists, axis=0), axis=2).sum(1)
        env_all.append(env[1:])
        hand_all.append(speed)
        assert abs(_pearson(wrists[:, 0, 1], env)) < 0.5
    assert abs(_pearson(np.concatenate(hand_all), np.concatenate(env_all))) < 0.3


def test_portrait_subset_is_a_headshot(synthetic_clips: Path) -> None:
    index = read_index(synthetic_clips)
    kinds = {c["id"]: c["kind"] for c in index["clips"]}
    assert sorted(kinds.values()) == ["portrait", "semibody", "semibody", "semibody"]
    assert {c["split"] for c in index["clips"] if c["kind"] == "semibody"} == {"train", "test"}
    boxes = {cid: np.load(clip_dir(synthetic_clips, cid) / "boxes.npy") for cid in kinds}
    area = {cid: float(np.mean((b[:, 1, 2] - b[:, 1, 0]) * (b[:, 1, 3] - b[:, 1, 1]))) for cid, b in boxes.items()}
    portrait = next(c for c, k in kinds.items() if k == "portrait")
    kp = np.load(clip_dir(synthetic_clips, portrait) / "keypoints.npy")
    assert kp[:, layout.HANDS, 2].max() == 0  # no hands in a headshot
    assert all(area[portrait] > 4 * area[c] for c, k in kinds.items() if k == "semibody")


def _cfg(tmp_path: Path, **synthetic) -> ExperimentConfig:
    return ExperimentConfig.model_validate({"paths": {"runs": str(tmp_path)}, "data": {
        "size": 32, "synthetic": {"clips": 2, "portrait_clips": 1, "seconds": 0.5, **synthetic}}})


def test_ensure_dataset_is_idempotent_and_follows_params(tmp_path: Path) -> None:
    root = ensure_dataset(_cfg(tmp_path))
    assert root == tmp_path / "data" / "synthetic"
    stamp = (root / "index.json").stat().st_mtime_ns
    assert ensure_dataset(_cfg(tmp_path)) == root and (root / "index.json").stat().st_mtime_ns == stamp
    ensure_dataset(_cfg(tmp_path, seed=5, clips=3))
    params = json.loads((root / "index.json").read_text())["params"]
    assert params["seed"] == 5 and len(read_index(root)["clips"]) == 4


def test_ensure_dataset_protects_other_folders(tmp_path: Path) -> None:
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    cfg = _cfg(tmp_path).model_copy(update={"data": _cfg(tmp_path).data.model_copy(update={"root": other})})
    with pytest.raises(HarnessError, match="not a synthetic dataset"):
        ensure_dataset(cfg)
    assert (other / "notes.txt").read_text() == "keep me"
    prepared = ExperimentConfig.model_validate({"data": {"source": "prepared", "root": str(tmp_path / "none")}})
    with pytest.raises(HarnessError, match="harness data prepare"):
        ensure_dataset(prepared)


def test_cli_synth(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    res = run_cli("data", "synth", "--out", out, "--clips", "2", "--portrait-clips", "1", "--seed", "3",
                  "--size", "32", "--seconds", "0.5", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["clips"] == 2
    assert len(read_index(out)["clips"]) == 3
    wav, sr = soundfile.read(str(clip_dir(out, "synth-0000") / "audio.wav"))
    assert sr == 16000 and len(wav) == 8000
    bad = run_cli("data", "synth", "--out", tmp_path / "bad", "--clips", "0")
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and len(bad.stderr.strip().splitlines()) == 1


def test_regenerating_smaller_removes_stale_clips_and_guards_other_folders(tmp_path: Path) -> None:
    kwargs = dict(portrait_clips=0, size=32, seconds=0.25, fps=24, sample_rate=16000, seed=0, progress=False)
    generate_dataset(tmp_path / "ds", clips=3, **kwargs)
    generate_dataset(tmp_path / "ds", clips=2, **kwargs)
    assert sorted(p.name for p in (tmp_path / "ds" / "clips").iterdir()) == ["synth-0000", "synth-0001"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "video.mp4").write_bytes(b"x")
    with pytest.raises(HarnessError, match="not a synthetic dataset"):
        generate_dataset(tmp_path / "other", clips=1, **kwargs)
