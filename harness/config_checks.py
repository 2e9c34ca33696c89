"""Checks across config sections: everything a command would refuse before starting, refused while validating.

``harness train``, ``sweep`` and ``tune`` load their config through the schema, so a config they
would refuse fails here, with one line naming the key path, and ``harness config validate`` refuses
the same configs with the same line (tests/test_config_validation.py). What needs the machine or
disk (Ray resources, checkpoint files, an existing study) stays with the commands.

``run_checks`` is part of every validation (the root model's validator). ``run_study_checks`` is
about the study an experiment defines: ``harness.config_load.load`` runs it on the experiment a user
loads, when it defines a search space (``tune.tune_apdh_boundaries``, ``tune.tune_phd_bands`` or
``tune.space``), not on the configs derived from it (a sweep variant, a trial), which a study never
runs as they are. That a search space exists at all is for ``harness tune`` to ask
(harness/tune/space.py, check_space).
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from harness.model.presets import PRESETS
from harness.vocabulary import RESULT_KEYS

SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # names that become folders, files, run names and filter values
NOT_TUNABLE = ("tune.", "sweep.", "tracking.", "paths.", "name", "description")

Loc = tuple[str | int, ...]
# Every check takes the ExperimentConfig as ``cfg: Any``: harness/config.py imports this module, so naming
# the class here (even for type checkers only) would be an import cycle.


class CheckFailed(Exception):
    """One refused config: the key path and the message (the line reads '<source>: <key path>: <message>')."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc, self.message = loc, message


def as_validation_error(title: str, failure: CheckFailed) -> ValidationError:
    """The failure as pydantic's error, so config_load formats it like every schema error."""
    error = PydanticCustomError("config_check", "{message}", {"message": failure.message})
    return ValidationError.from_exception_data(title, [InitErrorDetails(type=error, loc=failure.loc, input=None)])


def run_checks(cfg: Any) -> None:
    """Every cross-section check of an ExperimentConfig, in order; raises CheckFailed at the first."""
    check_names(cfg)
    check_seeds(cfg)
    check_trial_gpus(cfg)
    check_size_fits_preset(cfg)
    check_windows_fit_synthetic_clips(cfg)
    check_low_term_kind(cfg)
    check_space_keys(cfg)


def run_study_checks(cfg: Any) -> None:
    """The checks of the study the experiment defines (none without a search space); CheckFailed at the first."""
    if search_space_defined(cfg):
        check_objectives(cfg)
        check_one_worker(cfg)
        check_ranges(cfg)


# --------------------------------------------------------------------------- names and seeds


def unsafe_name(name: str) -> bool:
    """True unless name is one safe path component: letters, digits, '_', '.', '-', not only dots."""
    return not SAFE_NAME.fullmatch(name) or set(name) == {"."}


def check_names(cfg: Any) -> None:
    """The experiment, study, MLflow experiment and variant names become folder and run names."""
    rule = "use letters, digits, '_', '.', '-' only"
    if unsafe_name(cfg.name):
        raise CheckFailed(("name",), f"{cfg.name!r}: {rule} (the file name is the default)")
    for loc, value in ((("tune", "study_name"), cfg.tune.study_name), (("tracking", "experiment"), cfg.tracking.experiment)):
        if value is not None and unsafe_name(value):
            raise CheckFailed(loc, f"{value!r}: {rule}")
    bad = [v for v in cfg.sweep.variants if unsafe_name(v)]
    if bad:
        # the first bad name's own key path, so the line names the file that set it
        raise CheckFailed(("sweep", "variants", bad[0]), f"names may use letters, digits, '_', '.', '-' only; got {bad}")


def check_seeds(cfg: Any) -> None:
    """Each seed is one trial per variant: at least one, none twice (they would share a trial folder)."""
    seeds = cfg.sweep.seeds
    if not seeds:
        raise CheckFailed(("sweep", "seeds"), "at least one seed is needed (each seed is one trial per variant)")
    if len(set(seeds)) != len(seeds):
        raise CheckFailed(("sweep", "seeds"), f"repeated seeds {seeds}")


def check_trial_gpus(cfg: Any) -> None:
    """A trial on several GPUs takes a whole number of them, one per data-parallel worker."""
    gpus, workers = cfg.sweep.gpus_per_trial, cfg.sweep.trial_workers()
    if gpus > 1 and (gpus != int(gpus) or gpus / workers > 1):
        raise CheckFailed(("sweep", "gpus_per_trial"), f"{gpus:g} with sweep.workers_per_trial={workers}: a trial on "
                          "several GPUs takes a whole number of them, one per data-parallel worker")


# --------------------------------------------------------------------------- model and loss


def check_size_fits_preset(cfg: Any) -> None:
    """Frames pass the preset's codec and every UNet level: the size divides by their total downsampling."""
    preset = PRESETS[cfg.model.preset]
    factor = preset.latent_factor * 2 ** (len(preset.block_out_channels) - 1)
    if cfg.data.size % factor:
        raise CheckFailed(("data", "size"), f"{cfg.data.size} is not divisible by the {preset.name} preset's "
                          f"total downsampling ({factor})")


def check_windows_fit_synthetic_clips(cfg: Any) -> None:
    """A training window fits in a synthetic clip (harness/data/synth.py: round(seconds x fps) frames, at least 1)."""
    if cfg.data.source != "synthetic" or cfg.train.steps == 0:
        return  # prepared clips are on disk (the dataset reader says which are too short); no training, no windows
    synth = cfg.data.synthetic
    clip_frames = max(1, int(round(synth.seconds * cfg.data.fps)))
    if cfg.data.frames > clip_frames:
        raise CheckFailed(("data", "frames"), f"{cfg.data.frames} frames per window, but a synthetic clip has "
                          f"{clip_frames} (data.synthetic.seconds={synth.seconds:g} x data.fps={cfg.data.fps})")


def check_low_term_kind(cfg: Any) -> None:
    """L_low as LPIPS needs LPIPS weights, which the harness cannot load yet (harness/train/phd.py)."""
    low = cfg.loss.phd.low
    if cfg.train.steps > 0 and low.enabled and low.weight > 0.0 and low.kind == "lpips":
        raise CheckFailed(("loss", "phd", "low", "kind"), "lpips needs LPIPS weights on disk, which the harness "
                          "does not support yet; use ssim_l1")


# --------------------------------------------------------------------------- tuning


def search_space_defined(cfg: Any) -> bool:
    """True when the config asks for a study: tuned APDH boundaries, tuned PhD bands or tune.space ranges."""
    return bool(cfg.tune.tune_apdh_boundaries or cfg.tune.tune_phd_bands or cfg.tune.space)


def check_space_keys(cfg: Any) -> None:
    """Every tune.space key names a numeric field of the config (with the nearest key when misspelled)."""
    for key in cfg.tune.space:
        loc: Loc = ("tune", "space", key)
        node: Any = cfg
        for i, part in enumerate(key.split(".")):
            if not isinstance(node, BaseModel) or part not in type(node).model_fields:
                fields = list(type(node).model_fields) if isinstance(node, BaseModel) else []
                close = difflib.get_close_matches(part, fields, n=1, cutoff=0.5)
                hint = f" (did you mean {'.'.join(key.split('.')[:i] + close)}?)" if close else ""
                raise CheckFailed(loc, f"unknown config key{hint}")
            node = getattr(node, part)
        if isinstance(node, bool) or not isinstance(node, (int, float)):
            raise CheckFailed(loc, f"not a number ({type(node).__name__})")


def check_objectives(cfg: Any) -> None:
    """Each objective is a result key that eval.metrics computes, and none is listed twice."""
    computed = [key for name in cfg.eval.metrics for key in RESULT_KEYS[name]]
    seen: set[str] = set()
    for i, objective in enumerate(cfg.tune.objectives):
        loc: Loc = ("tune", "objectives", i, "metric")
        if objective.metric not in computed:
            raise CheckFailed(loc, f"{objective.metric!r} is not computed: eval.metrics "
                              f"[{', '.join(cfg.eval.metrics)}] gives [{', '.join(computed)}]")
        if objective.metric in seen:
            raise CheckFailed(loc, f"{objective.metric!r} is already an objective")
        seen.add(objective.metric)


def check_one_worker(cfg: Any) -> None:
    """A study trains each trial in one process; data-parallel trials are `harness sweep`'s."""
    workers = cfg.sweep.trial_workers()
    if workers > 1:
        raise CheckFailed(("sweep", "workers_per_trial"), f"{workers} data-parallel workers per trial "
                          f"(sweep.gpus_per_trial={cfg.sweep.gpus_per_trial:g}) run under `harness sweep`; "
                          "`harness tune` trains each trial in one process (not supported yet)")


def check_ranges(cfg: Any) -> None:
    """The tuned APDH boundaries and each tune.space range: tunable, not conflicting, ends giving valid configs."""
    t = cfg.tune
    if t.tune_apdh_boundaries and not cfg.model.apdh.enabled:
        raise CheckFailed(("tune", "tune_apdh_boundaries"), "model.apdh.enabled is false, so the boundaries change nothing")
    if t.tune_apdh_boundaries and len(cfg.model.apdh.phases) < 2:
        raise CheckFailed(("tune", "tune_apdh_boundaries"), "model.apdh.phases has one phase; there is no boundary to tune")
    base = cfg.to_dict()
    for key, param in sorted(t.space.items()):
        loc: Loc = ("tune", "space", key)
        if key.startswith(NOT_TUNABLE) or key in NOT_TUNABLE:
            raise CheckFailed(loc, "not a training setting (tune, sweep, tracking and paths keys cannot be tuned)")
        if t.tune_phd_bands and key.startswith("loss.phd.bands."):
            raise CheckFailed(loc, "conflicts with tune.tune_phd_bands (the bands are sampled together)")
        current = _get(base, key)
        if isinstance(current, int) and not isinstance(current, bool) and param.kind != "int":
            raise CheckFailed(loc, f"{key} is an integer; add kind: int")
        if param.kind == "int" and math.ceil(param.low) > math.floor(param.high):
            raise CheckFailed(loc, f"no integer in [{param.low:g}, {param.high:g}]")
        _probe_ends(cfg, base, key, param)


def _probe_ends(cfg: Any, base: dict[str, Any], key: str, param: Any) -> None:
    """Validate the config at each end of a range (the ends are sampled values too)."""
    for end, value in (("low", param.low), ("high", param.high)):
        value = int(value) if param.kind == "int" else value
        probe = copy.deepcopy(base)
        _set(probe, key, value)
        try:
            type(cfg).model_validate(probe)
        except ValidationError as exc:
            err = exc.errors()[0]
            reason = f"{'.'.join(str(p) for p in err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            raise CheckFailed(("tune", "space", key), f"{end}={value:g} gives an invalid config ({reason})") from None


def _get(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        node = node[part]
    return node


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
