"""`harness config ...` through a subprocess: output, exit codes, one-line errors."""

from __future__ import annotations

import json

import yaml


def test_show_applies_override(run_cli):
    res = run_cli("config", "show", "experiments/base.yaml", "train.lr=0.5")
    assert res.returncode == 0, res.stderr
    assert "lr: 0.5" in res.stdout and "# config hash: " in res.stdout
    assert yaml.safe_load(res.stdout)["train"]["lr"] == 0.5


def test_show_json(run_cli):
    res = run_cli("config", "show", "experiments/smoke.yaml", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["config"]["name"] == "smoke" and len(out["hash"]) == 12


def _assert_one_line_error(res, *needles):
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    for needle in needles:
        assert needle in res.stderr


def test_misspelled_key_in_file_exits_2(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lrr: 0.1\n")
    _assert_one_line_error(run_cli("config", "show", bad), f"{bad}: train.lrr: unknown key", "did you mean train.lr?")


def test_misspelled_key_in_override_exits_2(run_cli):
    res = run_cli("config", "show", "experiments/base.yaml", "modle.apdh.enabled=false")
    _assert_one_line_error(res, "override 'modle.apdh.enabled=false': modle: unknown key", "did you mean model?")


def test_wrong_type_exits_2(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lr: fast\n")
    _assert_one_line_error(run_cli("config", "show", bad), f"{bad}: train.lr: Input should be a valid number")


def test_validate_reports_each_file(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {size: 4}\n")
    res = run_cli("config", "validate", "experiments/smoke.yaml", bad)
    _assert_one_line_error(res, f"{bad}: data.size: Input should be greater than or equal to 16")
    assert "ok  experiments/smoke.yaml" in res.stdout


def test_help_explains_every_command(run_cli):
    for args in ([], ["config"], ["config", "show"], ["config", "validate"]):
        res = run_cli(*args, "--help")
        assert res.returncode == 0 and "Usage" in res.stdout, (args, res.stderr)
    assert "Example: harness config show" in run_cli("config", "show", "--help").stdout


def test_json_is_a_plain_flag_in_every_commands_help(run_cli):
    """`--json` reads as a flag (no `<bool>` value, no `--no-json`) wherever a command has one."""
    with_json = [("sweep",), ("tune",), ("report",), ("config", "show"), ("data", "synth"), ("data", "prepare"),
                 ("weights", "list"), ("eval",), ("train",)]
    for command in with_json:
        res = run_cli(*command, "--help", env={"COLUMNS": "120", "NO_COLOR": "1"})
        assert res.returncode == 0, res.stderr
        lines = [ln for ln in res.stdout.splitlines() if "--json" in ln]
        assert len(lines) == 1 and "<bool>" not in lines[0] and "--no-json" not in res.stdout, (command, lines)
