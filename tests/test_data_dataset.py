"""ClipDataset: item contract, collate, windows, reference frame, splits and kinds, clip format readers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from harness.data.clip_format import clip_dir, read_frames, read_index, write_clip
from harness.data.dataset import ClipDataset
from harness.errors import HarnessError


def test_item_contract(synthetic_clips: Path) -> None:
    ds = ClipDataset(synthetic_clips, "train", frames=8)
    item = ds[0]
    assert item["frames"].shape == (8, 3, 32, 32) and item["frames"].dtype == torch.float32
    assert item["reference"].shape == (3, 32, 32)
    assert item["audio"].shape == (8, 10, 80)
    assert item["keypoints"].shape == (8, 133, 3) and item["boxes"].shape == (8, 4, 4)
    assert -1.0 <= float(item["frames"].min()) and float(item["frames"].max()) <= 1.0
    assert item["kind"] in ("semibody", "portrait") and isinstance(item["clip_id"], str)
    assert isinstance(item["start"], int)


def test_collate_and_values_match_disk(synthetic_clips: Path) -> None:
    ds = ClipDataset(synthetic_clips, "train", frames=6, seed=3)
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=False)))
    assert batch["frames"].shape == (4, 6, 3, 32, 32) and isinstance(batch["clip_id"], list)
    for b in range(4):
        path = clip_dir(synthetic_clips, batch["clip_id"][b])
        start = int(batch["start"][b])
        disk = read_frames(path, list(range(start, start + 6))).transpose(0, 3, 1, 2) / 127.5 - 1.0
        np.testing.assert_allclose(batch["frames"][b].numpy(), disk, atol=1e-6)
        kp = np.load(path / "keypoints.npy")[start : start + 6]
        np.testing.assert_array_equal(batch["keypoints"][b].numpy(), kp)
        audio = np.load(path / "audio_mel.npy")[start : start + 6]
        np.testing.assert_array_equal(batch["audio"][b].numpy(), audio)
        all_frames = read_frames(path).transpose(0, 3, 1, 2) / 127.5 - 1.0
        ref = batch["reference"][b].numpy()
        assert any(np.allclose(ref, f, atol=1e-6) for f in all_frames), "reference must be a frame of the clip"


def test_windows_are_seeded_and_test_split_is_fixed(synthetic_clips: Path) -> None:
    a = ClipDataset(synthetic_clips, "train", frames=8, seed=1)
    b = ClipDataset(synthetic_clips, "train", frames=8, seed=1)
    assert [a[i]["start"] for i in range(len(a))] == [b[i]["start"] for i in range(len(b))]
    a.set_epoch(1)
    assert [a[i]["start"] for i in range(len(a))] != [b[i]["start"] for i in range(len(b))]
    test = ClipDataset(synthetic_clips, "test", frames=8)
    assert [test[i]["start"] for i in range(len(test))] == [0, 8, 16]
    assert torch.equal(test[1]["reference"], test[0]["frames"][0])  # test reference = frame 0


def test_kinds_filter_size_and_errors(synthetic_clips: Path, tmp_path: Path) -> None:
    semi = ClipDataset(synthetic_clips, "train", frames=8, kinds=("semibody",))
    assert {semi[i]["kind"] for i in range(len(semi))} == {"semibody"}
    assert ClipDataset(synthetic_clips, "train", frames=4, size=16)[0]["frames"].shape == (4, 3, 16, 16)
    with pytest.raises(HarnessError, match=">= 100 frames"):
        ClipDataset(synthetic_clips, "train", frames=100)
    with pytest.raises(HarnessError, match="index.json"):
        ClipDataset(tmp_path / "missing", "train", frames=4)
    with pytest.raises(HarnessError):
        ClipDataset(synthetic_clips, "val", frames=4)


def test_mp4_clips_load_like_png_clips(synthetic_clips: Path, tmp_path: Path) -> None:
    entry = read_index(synthetic_clips)["clips"][0]
    src = clip_dir(synthetic_clips, entry["id"])
    meta = json.loads((src / "meta.json").read_text())
    frames = read_frames(src)
    import soundfile

    audio, _ = soundfile.read(str(src / "audio.wav"), dtype="float32")
    out = tmp_path / "mp4set"
    write_clip(out, "c0", frames, audio, np.load(src / "keypoints.npy"), np.load(src / "boxes.npy"),
               {**meta, "split": "train"}, frames_format="mp4")
    (out / "index.json").write_text(json.dumps({"clips": [{"id": "c0", "split": "train", "kind": meta["kind"],
                                                           "n_frames": meta["n_frames"]}]}))
    assert (clip_dir(out, "c0") / "video.mp4").is_file() and not (clip_dir(out, "c0") / "frames").exists()
    decoded = read_frames(clip_dir(out, "c0"))
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 12  # lossy H.264 at 32 px
    item = ClipDataset(out, "train", frames=8)[0]
    assert item["frames"].shape == (8, 3, 32, 32)
    shutil.rmtree(out)
