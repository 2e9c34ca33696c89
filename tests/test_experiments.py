"""Every experiment file validates, with every sweep variant (lightning-hydra-template style)."""

from __future__ import annotations

import pytest

from harness.config_load import load
from tests.conftest import EXPERIMENTS

FILES = sorted(EXPERIMENTS.glob("*.yaml"))


def test_there_are_experiment_files():
    assert {"base.yaml", "smoke.yaml", "paper_ablation.yaml"} <= {p.name for p in FILES}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_experiment_validates(path):
    cfg = load(path)
    assert cfg.name == path.stem
    assert cfg.sweep.baseline in cfg.sweep.variants


def test_smoke_covers_every_paper_ablation():
    variants = load(EXPERIMENTS / "smoke.yaml").sweep.variants
    assert {"full", "wo_apdh", "wo_hpa", "wo_l_pose", "wo_l_detail", "wo_l_low"} <= set(variants)
    assert {f"wo_{p}" for p in ("initial_pose", "audio_lips", "audio_face", "audio_body")} <= set(variants)
