"""Typed experiment configuration: the root of the schema, the ONLY home of defaults.

Resolution order (later wins):
    schema defaults -> ``extends:`` chain of YAML files -> experiment YAML
    -> command-line overrides ``a.b.c=value`` (value parsed as YAML).

The schema is split by responsibility: the sections (config_model.py: model, data;
config_training.py: train, loss, eval; config_runs.py: sweep, tune, tracking, paths), the sd15
release choices (config_presets.py) and the checks across sections (config_checks.py), which
refuse here every config a command would refuse before starting. Every section forbids unknown
keys. Loading and error reporting live in ``harness.config_load``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, model_validator

from harness.config_checks import CheckFailed, as_validation_error, run_checks
from harness.config_model import DataConfig, ModelConfig
from harness.config_presets import apply_preset_behaviour
from harness.config_runs import PathsConfig, SweepConfig, TrackingConfig, TuneConfig
from harness.config_section import Section
from harness.config_training import EvalConfig, LossConfig, TrainConfig

# (section, key) of pure locations: where runs, the MLflow record and the hashed weights are kept
LOCATION_KEYS = (("paths", "runs"), ("paths", "weights"), ("tracking", "uri"))
# (section, key) naming input files or folders: what they name is content, however the path is spelt
FILE_KEYS = (("data", "root"), ("model", "pretrained_dir"), ("model", "init"), ("model", "motion_adapter"),
             ("model", "whisper_path"))


class ExperimentConfig(Section):
    """A whole experiment. ``name`` defaults to the YAML file's stem."""

    name: str = "default"
    description: str = ""
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    tune: TuneConfig = Field(default_factory=TuneConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    paths: PathsConfig = Field(default_factory=PathsConfig)

    @model_validator(mode="after")
    def _preset_behaviour(self) -> ExperimentConfig:
        # The one place a preset picks a default: a behaviour key the config did not set gets PRESET_BEHAVIOUR's choice.
        apply_preset_behaviour(self, self.model.preset)
        return self

    @model_validator(mode="after")
    def _synthetic_backend_needs_synthetic_data(self) -> ExperimentConfig:
        # The synthetic metric backends read the generator's ground truth (metrics/synthetic/).
        if self.eval.backend == "synthetic" and self.data.source != "synthetic":
            raise ValueError("eval.backend 'synthetic' measures only data.source 'synthetic' clips; "
                             "use eval.backend offline or reference")
        return self

    @model_validator(mode="after")
    def _commands_would_start(self) -> ExperimentConfig:
        # What train/sweep/tune refused at start is refused here, with the key path (config_checks.py).
        try:
            run_checks(self)
        except CheckFailed as failure:
            raise as_validation_error(type(self).__name__, failure) from None
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (paths as strings)."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def config_hash(self) -> str:
        """Stable 12-hex hash of the content: independent of key order and formatting.

        Where things are kept is not content (issue 16 item 6): LOCATION_KEYS are left out, so moving
        the run store keeps a sweep's name; FILE_KEYS count as absolute paths, so a trial's config
        (its paths made absolute for Ray workers) hashes as the driver's does.
        """
        raw = self.to_dict()
        for section, key in LOCATION_KEYS:
            raw[section].pop(key, None)
        for section, key in FILE_KEYS:
            if raw[section].get(key):
                raw[section][key] = str(Path(raw[section][key]).resolve())
        canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]
