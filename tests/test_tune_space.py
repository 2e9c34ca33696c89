"""The tuning search space: properties of the reparametrisations over many random draws, the
mapping to a config (deterministic, always valid), Optuna's define-by-run sampling, and the
one-line errors of a bad space or objective."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from harness.config_checks import check_objectives, check_ranges
from harness.config_load import load
from harness.errors import ConfigError, HarnessError
from harness.tune.space import (GAP_LOW, TRIAL_NUMBER, U_HIGH, U_LOW, SearchSpace, apdh_boundaries,
                                band_fractions, band_param, boundary_params, check_space, gap_param)
from harness.vocabulary import PHD_BANDS
from tests.conftest import EXPERIMENTS

DRAWS = 1000


def _cfg(tmp_path: Path, *overrides: str):
    return load(EXPERIMENTS / "tune_schedule.yaml", [f"paths.runs={tmp_path}", *overrides])


def _random_params(space: SearchSpace, rng: random.Random) -> dict[str, float]:
    """Values from the ranges Optuna samples, with the extremes drawn now and then."""
    def pick(low: float, high: float, log: bool = False) -> float:
        r = rng.random()
        if r < 0.05:
            return low
        if r < 0.1:
            return high
        return math.exp(rng.uniform(math.log(low), math.log(high))) if log else rng.uniform(low, high)

    params = {gap_param(p): pick(GAP_LOW, 1.0) for p in space.phases}
    params.update({band_param(b): pick(U_LOW, U_HIGH) for b in PHD_BANDS} if space.bands else {})
    params.update({r.key: pick(r.low, r.high, r.log) for r in space.ranges})
    return params


def test_boundaries_are_ordered_inside_0_1_and_end_at_1() -> None:
    rng = random.Random(0)
    for n in range(DRAWS):
        k = 2 + n % 4
        gaps = [rng.choice([GAP_LOW, 1.0, rng.uniform(GAP_LOW, 1.0)]) for _ in range(k)]
        ends = apdh_boundaries(gaps)
        assert len(ends) == k and ends[-1] == 1.0
        assert all(0.0 < e < 1.0 for e in ends[:-1]), (gaps, ends)
        assert all(a < b for a, b in zip(ends, ends[1:])), (gaps, ends)


def test_band_fractions_are_positive_and_sum_to_1() -> None:
    rng = random.Random(1)
    for _ in range(DRAWS):
        draws = [rng.choice([U_LOW, U_HIGH, rng.uniform(U_LOW, U_HIGH)]) for _ in PHD_BANDS]
        bands = band_fractions(draws)
        assert abs(math.fsum(bands.values()) - 1.0) <= 1e-9 and abs(sum(bands.values()) - 1.0) <= 1e-9
        assert all(0.0 < v < 1.0 for v in bands.values()), (draws, bands)


def test_reparametrisations_refuse_values_outside_their_domain() -> None:
    with pytest.raises(ValueError):
        apdh_boundaries([0.5, 0.0])
    with pytest.raises(ValueError):
        band_fractions([0.5, 1.0, 0.2])


def test_sampled_values_give_a_valid_config_deterministically(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    space = SearchSpace.from_config(cfg)
    assert space.phases == ("initial_pose", "audio_lips", "audio_face", "audio_body") and space.bands
    base = cfg.to_dict()
    rng = random.Random(2)
    hashes = set()
    for _ in range(DRAWS // 4):  # each draw validates a whole config (~1 ms)
        params = _random_params(space, rng)
        first = space.trial_config(base, params)
        again = space.trial_config(base, dict(reversed(list(params.items()))))
        assert first.to_dict() == again.to_dict() and first.config_hash() == again.config_hash()
        ends = [p.end for p in first.model.apdh.phases]
        assert ends[-1] == 1.0 and all(0 < a < b for a, b in zip(ends, ends[1:]))
        assert abs(sum(first.loss.phd.bands.model_dump().values()) - 1.0) <= 1e-9
        assert first.loss.phd.pose.weight == pytest.approx(params["loss.phd.pose.weight"])
        assert first.model.apdh.phases[0].pose_parts == cfg.model.apdh.phases[0].pose_parts  # only ends change
        hashes.add(first.config_hash())
    assert len(hashes) == DRAWS // 4  # different samples, different configs


def test_optuna_define_by_run_samples_valid_configs_and_passes_the_trial_number(tmp_path: Path) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = _cfg(tmp_path, "tune.space={train.lr: {low: 1e-5, high: 1e-3, log: true}, "
                         "train.batch_size: {low: 1, high: 4, kind: int}}")
    space = SearchSpace.from_config(cfg)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for i in range(50):
        trial = study.ask()
        extra = space(trial)
        assert extra == {TRIAL_NUMBER: i}
        trial_cfg = space.trial_config(cfg.to_dict(), trial.params)
        assert isinstance(trial_cfg.train.batch_size, int) and 1 <= trial_cfg.train.batch_size <= 4
        assert 1e-5 <= trial_cfg.train.lr <= 1e-3
        # an already sampled trial keeps its values (what a resumed, adopted trial relies on)
        assert space.suggest(optuna.trial.Trial(study, trial._trial_id)) == space.suggest(trial)
        study.tell(trial, 0.0)


def test_boundary_params_give_fractions_and_steps(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "train.steps=40")
    params = boundary_params(cfg)
    assert params["model.apdh.phases.initial_pose.end"] == "0.2"
    assert params["model.apdh.phases.initial_pose.end_step"] == "8"
    assert params["model.apdh.phases.audio_face.end_step"] == "24"
    assert params["model.apdh.phases.audio_body.end_step"] == "40"


def test_misspelled_space_key_names_the_key_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tune\.space\.loss\.phd\.pose\.wieght: unknown config key "
                                          r"\(did you mean loss\.phd\.pose\.weight\?\)"):
        _cfg(tmp_path, "tune.space={loss.phd.pose.wieght: {low: 0.01, high: 1.0}}")


def test_an_empty_space_is_refused_by_harness_tune(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "tune.tune_apdh_boundaries=false", "tune.tune_phd_bands=false", "tune.space={}")
    with pytest.raises(HarnessError, match="^tune: the search space is empty") as info:
        check_space(cfg)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("overrides, message", [
    (["tune.space={loss.phd.bands.pose: {low: 0.1, high: 0.3}}"], "tune.space.loss.phd.bands.pose: conflicts"),
    (["tune.space={train.steps: {low: 10, high: 20}}"], "tune.space.train.steps: .* integer; add kind: int"),
    (["tune.space={train.lr: {low: 0.0, high: 0.1}}"], r"tune.space.train.lr: low=0 gives an invalid config"),
    (["tune.space={sweep.max_failures: {low: 1, high: 3, kind: int}}"], "tune.space.sweep.max_failures: not a"),
    (["model.apdh.enabled=false"], "tune.tune_apdh_boundaries: model.apdh.enabled is false"),
])
def test_bad_space_is_one_line_naming_the_key(tmp_path: Path, overrides: list[str], message: str) -> None:
    # the schema's study checks (harness/config_checks.py) refuse it while loading
    with pytest.raises(ConfigError, match=message) as info:
        _cfg(tmp_path, *overrides)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("override, message", [
    ("tune.objectives=[{metric: sync_c, direction: maximize}]", r"tune.objectives\[0\].metric: 'sync_c' is not computed"),
    ("tune.objectives=[{metric: fidd, direction: minimize}]", r"tune.objectives\[0\].metric: 'fidd' is not computed"),
    ("tune.objectives=[{metric: ssim, direction: maximize}, {metric: ssim, direction: minimize}]",
     r"tune.objectives\[1\].metric: 'ssim' is already an objective"),
])
def test_bad_objective_is_one_line_naming_the_key(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _cfg(tmp_path, "eval.metrics=[ssim,psnr]", override)


def test_objectives_of_the_shipped_study_are_computed(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    check_objectives(cfg)
    check_ranges(cfg)
    check_space(cfg)


def test_a_sweep_variant_is_not_a_study(tmp_path: Path) -> None:
    """tune_schedule extends smoke, whose wo_apdh variant switches APDH off: only the experiment is a study."""
    cfg = _cfg(tmp_path)
    assert cfg.sweep.variants["wo_apdh"] == {"model": {"apdh": {"enabled": False}}}
