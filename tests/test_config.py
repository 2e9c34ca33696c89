"""Typed config: defaults, extends chains, overrides, hashing and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.config import ExperimentConfig
from harness.config_load import apply_diff, load, parse_override
from harness.errors import ConfigError


def write(path: Path, data: dict | str) -> Path:
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_schema_defaults_are_the_full_method():
    cfg = ExperimentConfig()
    assert cfg.model.apdh.enabled and cfg.data.hpa.enabled
    assert all(t.enabled for t in (cfg.loss.phd.pose, cfg.loss.phd.detail, cfg.loss.phd.low))
    assert [p.name for p in cfg.model.apdh.phases] == ["initial_pose", "audio_lips", "audio_face", "audio_body"]
    bands = cfg.loss.phd.bands
    assert (bands.pose, bands.detail, bands.low) == (0.1, 0.6, 0.3)


def test_extends_chain_and_name_from_leaf(tmp_path):
    write(tmp_path / "a.yaml", {"train": {"lr": 0.3, "steps": 7}, "data": {"size": 32}})
    write(tmp_path / "b.yaml", {"extends": "a.yaml", "train": {"lr": 0.2}})
    cfg = load(tmp_path / "b.yaml")
    assert cfg.name == "b"
    assert (cfg.train.lr, cfg.train.steps, cfg.data.size) == (0.2, 7, 32)


def test_override_parsed_as_yaml(tmp_path):
    path = write(tmp_path / "x.yaml", {})
    cfg = load(path, ["train.lr=0.5", "eval.metrics=[fid, ssim]", "model.apdh.enabled=false"])
    assert cfg.train.lr == 0.5 and cfg.eval.metrics == ["fid", "ssim"] and not cfg.model.apdh.enabled


def test_hash_independent_of_key_order(tmp_path):
    a = write(tmp_path / "a.yaml", "train: {lr: 0.5, steps: 3}\ndata: {size: 32}\n")
    b = write(tmp_path / "b.yaml", "data: {size: 32}\ntrain: {steps: 3, lr: 0.5}\n")
    ha = load(a, ["name=same"]).config_hash()
    assert ha == load(b, ["name=same"]).config_hash()
    assert ha != load(b, ["name=same", "train.lr=0.4"]).config_hash()


def test_resolved_yaml_round_trips(tmp_path):
    cfg = load(write(tmp_path / "x.yaml", {"train": {"lr": 0.25}}))
    again = load(write(tmp_path / "x.yaml", cfg.to_yaml()))
    assert again == cfg and again.config_hash() == cfg.config_hash()


@pytest.mark.parametrize(
    ("data", "overrides", "expected"),
    [
        ({"train": {"lrr": 0.1}}, [], "x.yaml: train.lrr: unknown key (did you mean train.lr?)"),
        ({}, ["train.lrr=0.1"], "override 'train.lrr=0.1': train.lrr: unknown key (did you mean train.lr?)"),
        ({"train": {"lr": "fast"}}, [], "x.yaml: train.lr: Input should be a valid number"),
        ({"loss": {"phd": {"bands": {"pose": 0.5}}}}, [], "x.yaml: loss.phd.bands: band fractions must sum to 1"),
        ({"model": {"apdh": {"phases": [{"nme": "x"}]}}}, [], "model.apdh.phases.0.nme: unknown key (did you mean model.apdh.phases.0.name?)"),
        ({"sweep": {"baseline": "bad", "variants": {"bad": {"train": {"stepz": 3}}}}}, [], "sweep.variants.bad.train.stepz: unknown key"),
    ],
)
def test_errors_name_source_and_key_path(tmp_path, data, overrides, expected):
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path / "x.yaml", data), overrides)
    assert expected in str(info.value)


def test_apdh_phase_checks(tmp_path):
    with pytest.raises(ConfigError, match="strictly increasing"):
        load(write(tmp_path / "x.yaml", {}), ["model.apdh.phases=[{name: audio_lips, end: 0.5, pose_parts: [hands], audio_mask: lips}, {name: audio_body, end: 0.4, pose_parts: [hands], audio_mask: full}]"])
    with pytest.raises(ConfigError, match="not in phases"):
        load(write(tmp_path / "x.yaml", {}), ["model.apdh.phases=[{name: audio_body, end: 1.0, pose_parts: [hands], audio_mask: full}]", "model.apdh.drop_phases=[audio_lips]"])


def test_tune_space_keys_must_be_numeric_config_keys(tmp_path):
    path = write(tmp_path / "x.yaml", {})
    with pytest.raises(ConfigError, match=r"tune\.space\.train\.lrr: unknown config key"):
        load(path, ["tune.space={train.lrr: {low: 0.1, high: 1}}"])
    with pytest.raises(ConfigError, match="not a number"):
        load(path, ["tune.space={model.preset: {low: 0.1, high: 1}}"])
    assert load(path, ["tune.space={train.lr: {low: 0.001, high: 0.1, log: true}}"]).tune.space


def test_bad_override_syntax_and_yaml(tmp_path):
    with pytest.raises(ConfigError, match="expected KEY.PATH=VALUE"):
        parse_override("train.lr")
    with pytest.raises(ConfigError, match="no such config file"):
        load(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(write(tmp_path / "x.yaml", "train: [unclosed\n"))
    with pytest.raises(ConfigError, match="cycle"):
        write(tmp_path / "c1.yaml", {"extends": "c2.yaml"})
        write(tmp_path / "c2.yaml", {"extends": "c1.yaml"})
        load(tmp_path / "c1.yaml")


def test_apply_diff_is_deep_and_pure():
    base = {"a": {"b": 1, "c": 2}, "d": [1]}
    out = apply_diff(base, {"a": {"b": 5}, "d": [2]})
    assert out == {"a": {"b": 5, "c": 2}, "d": [2]} and base == {"a": {"b": 1, "c": 2}, "d": [1]}


def _leaf_keys(tree: dict, prefix: tuple = ()) -> list[tuple]:
    """Dotted key paths of the values a YAML mapping sets (a sweep variant map counts as one value)."""
    keys = []
    for key, value in tree.items():
        here = prefix + (key,)
        keys += _leaf_keys(value, here) if isinstance(value, dict) and here != ("sweep", "variants") else [here]
    return keys


def test_paper_ablation_stands_on_base_not_on_the_cpu_smoke_settings():
    experiments = Path(__file__).resolve().parents[1] / "experiments"
    paper_raw = yaml.safe_load((experiments / "paper_ablation.yaml").read_text())
    smoke_raw = yaml.safe_load((experiments / "smoke.yaml").read_text())
    assert paper_raw["extends"] == "base.yaml"
    paper, base = load(experiments / "paper_ablation.yaml").to_dict(), load(experiments / "base.yaml").to_dict()
    own = set(_leaf_keys(paper_raw))
    inherited = [k for k in _leaf_keys(smoke_raw) if k[0] not in ("extends", "name", "description") and k not in own]
    assert inherited, "smoke.yaml sets nothing paper_ablation.yaml leaves alone: the test would check nothing"
    for key in inherited:  # every smoke setting paper_ablation does not set itself has base's value there
        value_paper, value_base = paper, base
        for part in key:
            value_paper, value_base = value_paper[part], value_base[part]
        assert value_paper == value_base, ".".join(key)
