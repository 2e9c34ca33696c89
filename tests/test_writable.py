"""Output folders that cannot be written are one line naming the folder, exit 2, before any work
(train, sweep, tune, data synth, data prepare, report). The check is a probe file, so it also
holds for root, to whom `os.access` always says yes."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.writable import require_writable


def test_creates_the_folder_and_leaves_no_probe(tmp_path: Path) -> None:
    folder = require_writable(tmp_path / "a" / "b", "--out")
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_a_folder_under_a_regular_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(HarnessError, match=r"^--out .*/file/out: cannot write there \(Not a directory\)$"):
        require_writable(tmp_path / "file" / "out", "--out")


@pytest.mark.slow
def test_every_command_refuses_an_unwritable_output_folder(run_cli, tmp_path: Path,
                                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    from mlflow import MlflowClient

    store = tmp_path_factory.mktemp("store")  # report reads its store before it checks --out
    MlflowClient(f"sqlite:///{store / 'mlflow.db'}").create_experiment("smoke", artifact_location=str(store / "art"))
    (tmp_path / "file").write_text("x")
    bad = tmp_path / "file" / "out"
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(b"not read: the output check comes first")
    commands = {
        "train": (["train", "experiments/smoke.yaml", f"paths.runs={bad}"], f"paths.runs {bad}/train/"),
        "sweep": (["sweep", "experiments/smoke.yaml", f"paths.runs={bad}"], f"paths.runs {bad}: "),
        "tune": (["tune", "experiments/tune_schedule.yaml", f"paths.runs={bad}"], f"paths.runs {bad}: "),
        "synth": (["data", "synth", "--out", bad], f"--out {bad}: "),
        "prepare": (["data", "prepare", tmp_path / "videos", "--out", bad, "--workers", "-1"], f"--out {bad}: "),
        "report": (["report", "experiments/smoke.yaml", f"paths.runs={store}", "--out", bad], f"--out {bad}: "),
    }
    for name, (args, start) in commands.items():
        res = run_cli(*args)
        line = res.stderr.strip()
        assert res.returncode == 2 and "\n" not in line and "Traceback" not in line, (name, res.stderr)
        assert line.startswith(f"error: {start}") and line.endswith("cannot write there (Not a directory)"), (name, line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "videos"]  # nothing written anywhere else
