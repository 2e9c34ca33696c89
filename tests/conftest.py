"""Shared fixtures: repo paths, the `harness` CLI as a subprocess, GPU/weights skipping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The one place the project reads outside itself: real test media, when present (docs/design.md, "Test media").
SHARED = REPO.parent / "shared"
REAL_DATA = SHARED / "data" / "real"
EXPERIMENTS = REPO / "experiments"


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # torch missing or broken: certainly no usable GPU
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _has_cuda():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def real_data() -> Path:
    """../shared/data/real, or skip the test when it is absent."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real media folder {REAL_DATA} is absent")
    return REAL_DATA


@pytest.fixture()
def run_cli(tmp_path: Path):
    """Run `harness ARGS...` in a subprocess (cwd = repo); returns CompletedProcess."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600):
        full_env = {**os.environ, **(env or {})}
        cmd = [sys.executable, "-m", "harness.cli", *map(str, args)]
        return subprocess.run(cmd, cwd=cwd or REPO, env=full_env, capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def synthetic_clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic clip dataset (3 semi-body incl. 1 test, 1 portrait; 32 px, 1 s at 24 fps)."""
    from harness.data.synth import generate_dataset

    root = tmp_path_factory.mktemp("synthetic_clips")
    return generate_dataset(root, clips=3, portrait_clips=1, size=32, seconds=1.0, fps=24, sample_rate=16000,
                            seed=0, test_fraction=0.34, progress=False)


# --------------------------------------------------------------------------- metrics fixtures


@pytest.fixture(scope="session")
def talking_head(real_data: Path) -> dict:
    """The real talking-head clip decoded once: frames uint8 (N, H, W, 3), fps, audio, paths."""
    from harness.media import read_audio, read_video

    folder = real_data / "talking_head"
    frames, fps = read_video(folder / "video.avi")
    audio = read_audio(folder / "speech.wav", 16000)
    return {"frames": frames, "fps": fps, "audio": audio, "video": folder / "video.avi", "wav": folder / "speech.wav"}
