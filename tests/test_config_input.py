"""Config input a user can get wrong in the file itself: non-UTF-8 bytes (in a file or an override),
duplicate keys, non-finite numbers, booleans where numbers are meant, a folder as the config, a
missing `extends:` file. Each is one line naming the file or override (and the key path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.config_load import load
from harness.errors import ConfigError
from tests.conftest import EXPERIMENTS, REPO


def _write(tmp_path: Path, text: str | bytes, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("body, expected", [
    (b"extends: %s\ntrain:\n  lr: 0.1\xff\n", "not UTF-8 text (byte {bad})"),
    ("extends: %s\ntrain:\n  lr: 0.1\n  lr: 0.2\n", "not valid YAML: duplicate key 'lr' (line 4, column 3)"),
    ("extends: %s\ntrain:\n  lr: .inf\n", "train.lr: Input should be a finite number"),
    ("extends: %s\ntrain:\n  steps: true\n", "train.steps: expected a number, got a boolean"),
    ("extends: %s\nsweep:\n  seeds: [0, false]\n", "sweep.seeds: expected a number, got a boolean"),
])
def test_file_mistakes_are_one_line_naming_the_file(tmp_path, body, expected):
    smoke = str(EXPERIMENTS / "smoke.yaml").encode() if isinstance(body, bytes) else str(EXPERIMENTS / "smoke.yaml")
    path = _write(tmp_path, body % smoke)
    with pytest.raises(ConfigError) as err:
        load(path)
    bad_byte = path.read_bytes().find(bytes([0xFF]))
    assert str(err.value) == f"{path}: {expected.format(bad=bad_byte)}"


def test_a_folder_and_a_missing_extends_name_the_right_file(tmp_path):
    with pytest.raises(ConfigError, match=r": is a folder, not a config file"):
        load(tmp_path)
    child = _write(tmp_path, "extends: gone.yaml\n")
    with pytest.raises(ConfigError) as err:
        load(child)
    assert str(err.value) == f"{child}: extends: gone.yaml: no such config file ({tmp_path / 'gone.yaml'})"


def test_non_utf8_override_on_the_command_line_is_one_line():
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "train", "experiments/smoke.yaml",
                           b"train.lr=\xff"], cwd=REPO, env=env, capture_output=True)
    stderr = proc.stderr.decode("utf-8", "replace").strip()
    assert proc.returncode == 2 and "Traceback" not in stderr, stderr
    assert stderr == "error: override 'train.lr=\\udcff': not UTF-8 text"
