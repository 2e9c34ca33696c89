"""Every name of the MLflow run record, in one place: tags, params, metrics and artifacts.

Writers (harness/runs/tracker.py, the sweep and tune callbacks, the tune driver) and readers
(reports/query.py, reports/study.py, reports/schedule.py, `harness ui`) use these constants and
never the literal strings, so renaming a name here changes both sides
(tests/test_run_record.py greps for leftover literals).

Three kinds of run (tag ``ROLE``):

* a sweep parent run (``Role.SWEEP``): ``SweepTags`` and ``SweepParams``;
* a study parent run (``Role.STUDY``): ``StudyTags``, ``StudyParams`` and the ``best/`` artifact;
* a trial child run (``Role.TRIAL``): ``TrialTags``; ``TrialParams`` (variant, seed, the ablation
  switches, the config keys that differ between trials, the settings a reader needs and the report
  records; the whole resolved config is the ``Artifacts.CONFIG`` artifact); final metrics named by
  their key, logged once at step 0 (one point: MLflow's chart view draws them as bars), their
  provenance as the ``Artifacts.PROVENANCE`` JSON plus one compact ``TrialTags.PROVENANCE`` tag;
  ``Curves`` (other names, many steps); MLflow's own ``system/`` metrics and ``MlflowTags``;
  the dataset as an MLflow input; the trial's artifacts.

Stores written before this layout (switches and per-metric provenance as tags, ``MetricTags``)
are still read by reports/query.py.
"""

from __future__ import annotations

from typing import Final

ROLE: Final = "harness.role"  # on every harness run: its Role
PARENT: Final = "mlflow.parentRunId"  # MLflow's own tag: the child -> parent link the UI nests by
NOTE: Final = "mlflow.note.content"  # MLflow's own tag: shown as the run's Description
EXPERIMENT_KIND: Final = "mlflow.experimentKind"  # experiment tag: MLflow 3 opens the runs page, not GenAI traces
EXPERIMENT_KIND_RUNS: Final = "custom_model_development"  # its value for a runs-first experiment
MAX_PARAM_CHARS: Final = 6000  # MLflow's limit on a param value
MAX_TAG_CHARS: Final = 5000  # tag values are cut here (MLflow allows more; the UI shows less)
SHARED_VIEW_PREFIX: Final = "mlflow.sharedViewState."  # experiment tag + key: a runs-page view MLflow's UI opens
RUN_NAME_ORDER: Final = "tags.`mlflow.runName`"  # MLflow UI's sort key "by run name" (the view `harness ui` writes)
SYSTEM_METRICS_PREFIX: Final = "system/"  # MLflow's own system metrics (mlflow.system_metrics)
FINAL_STEP: Final = 0  # the step of every final metric: one point per run (a bar, not a dot at step N)


class MlflowTags:
    """MLflow's own run tags the UI shows (Source, Version columns) and the dataset input's context."""

    SOURCE_NAME: Final = "mlflow.source.name"  # the command that wrote the run
    SOURCE_TYPE: Final = "mlflow.source.type"  # "LOCAL" or "JOB"
    GIT_COMMIT: Final = "mlflow.source.git.commit"
    DATASET_CONTEXT: Final = "mlflow.data.context"  # an input tag: what the dataset was used for


class Role:
    """Values of the ``ROLE`` tag."""

    SWEEP: Final = "sweep"
    STUDY: Final = "study"
    TRIAL: Final = "trial"


class RunTags:
    """Tags both parent kinds and the trials carry."""

    GIT_COMMIT: Final = "git_commit"  # HEAD of the repository that ran the sweep/study ('unknown' outside git)
    CONFIG_HASH: Final = "config_hash"  # parent: the experiment's hash; trial: its resolved config's
    DATASET_HASH: Final = "dataset_hash"
    SWEEP_NAME: Final = "sweep_name"  # "<name>-<config hash>": the parent run's name, also on its trials
    ERROR: Final = "error"  # a FAILED run's reason (one line)


class SweepTags(RunTags):
    """A sweep's parent run (a study's parent reuses ``SWEEP_ID`` for the study id and the counts)."""

    SWEEP_ID: Final = "harness.sweep_id"  # the resume key of the parent run (sweeps/<name>/sweep.json)
    VARIANTS: Final = "variants"  # comma-separated, sweep order
    SEEDS: Final = "seeds"  # comma-separated
    TRIALS: Final = "trials"  # set when the sweep ends: trials run
    FAILED_TRIALS: Final = "failed_trials"


class StudyTags(SweepTags):
    """A tuning study's parent run (role ``study``)."""

    STUDY: Final = "study"  # the Optuna study name (also on each trial)
    OPTUNA_STORAGE: Final = "optuna_storage"  # its storage URL, password redacted
    OBJECTIVES: Final = "objectives"  # "fid:minimize,ssim:maximize"
    TUNED_KEYS: Final = "tuned_keys"  # comma-separated config keys the study samples, in the space's order
    BEST_TRIALS: Final = "best_trials"  # set at the end: trial keys of the best trial / Pareto set, or "none"
    STATES: Final = "states"  # set at the end: JSON {Optuna state: trials}


class TrialTags(RunTags):
    """A trial's child run (role ``trial``) of a sweep or a study."""

    TRIAL_KEY: Final = "trial_key"  # resume key and run name: "<variant>-s<seed>" or "trial-<number>"
    VARIANT: Final = "variant"
    SEED: Final = "seed"
    BASELINE: Final = "baseline"  # "true" on the sweep's baseline variant
    ATTEMPTS: Final = "attempts"  # how many times the trainable started
    RESUMED_FROM_STEP: Final = "resumed_from_step"
    LAST_ERROR: Final = "last_error"  # the error of the last retried attempt
    METRIC_BACKENDS: Final = "metric_backends"  # comma-separated backends of the final metrics
    PROVENANCE: Final = "provenance"  # "fid:offline ssim:reference hkc:missing" (the JSON artifact has it all)
    CHECKPOINT: Final = "checkpoint"  # the final trainer checkpoint: its URI, or the artifact path it was logged at
    # a study's trials
    STUDY: Final = StudyTags.STUDY
    TRIAL_NUMBER: Final = "trial_number"
    OUTCOME: Final = "outcome"  # an Outcome
    STOPPED_AT_STEP: Final = "stopped_at_step"  # the step ASHA stopped it at
    OPTUNA_STATE: Final = "optuna_state"  # Optuna's verdict, written when `harness tune` ends
    BEST: Final = "best"  # "true" on the best trial / the Pareto set, written with OPTUNA_STATE


class InitTags:
    """A trial that starts from ``model.init`` (written by harness.model.release.init.init_tags)."""

    INIT: Final = "init"  # the checkpoint's path
    ERROR: Final = "init_error"
    SOURCE: Final = "init_source"
    SHA256_PREFIX: Final = "init_sha256."  # + file name: the sha256 of every file it was imported from


class Outcome:
    """Values of ``TrialTags.OUTCOME`` on a study's trials."""

    RUNNING: Final = "running"
    COMPLETE: Final = "complete"
    STOPPED_EARLY: Final = "stopped_early"
    FAILED: Final = "failed"


class MetricTags:
    """Stores written before the provenance artifact: per final metric ``<key>``, these tags went with it.

    Read only (reports/query.py falls back to them); nothing writes them any more."""

    BACKEND: Final = "_backend"  # which implementation measured it
    EXACT: Final = "_exact"  # "true" when it is the reference implementation
    MISSING: Final = "_missing"  # why there is no value

    @staticmethod
    def backend(metric: str) -> str:
        return f"{metric}{MetricTags.BACKEND}"

    @staticmethod
    def exact(metric: str) -> str:
        return f"{metric}{MetricTags.EXACT}"

    @staticmethod
    def missing(metric: str) -> str:
        return f"{metric}{MetricTags.MISSING}"


class SweepParams:
    """A sweep parent run's params (left out of its trials' params)."""

    VARIANTS: Final = "sweep.variants"  # JSON {variant: config diff}
    SEEDS: Final = "sweep.seeds"  # JSON list


class StudyParams:
    """A study parent run's params: its ``tune:`` settings (``SPACE`` left out of its trials' params)."""

    SPACE: Final = "tune.space"
    OBJECTIVES: Final = "tune.objectives"
    TRIALS: Final = "tune.trials"
    SEED: Final = "tune.seed"
    MAX_CONCURRENT: Final = "tune.max_concurrent"
    EVAL_EVERY: Final = "tune.eval_every"
    TUNE_APDH_BOUNDARIES: Final = "tune.tune_apdh_boundaries"
    TUNE_PHD_BANDS: Final = "tune.tune_phd_bands"


class TrialParams:
    """A trial's params: the ones below, then dotted config keys (those that differ between trials and the
    settings harness.runs.record.KEY_SETTINGS names).

    ``VARIANT``, ``SEED`` and the switches are params (also ``VARIANT`` and ``SEED`` tags, for filters), so
    the compare view can put them on an axis and the runs table show them as columns.

    ``APDH_SCHEDULE``: JSON ``{"total_steps": N, "phases": [{"phase", "start_step", "end_step",
    "pose_parts", "audio_mask"}]}``, the trainer's phases in steps (``phases`` empty: APDH off).
    ``CONFIG_DIFF``: JSON, the variant's diff against the experiment (a study trial: the sampled diff).
    ``TUNED_VALUES``: JSON ``{tuned config key: value}`` of a study trial.
    """

    VARIANT: Final = TrialTags.VARIANT
    SEED: Final = TrialTags.SEED
    # one param per ablation switch (columns of the runs table, axes of the compare view)
    APDH: Final = "apdh"
    APDH_DROP_PHASES: Final = "apdh_drop_phases"
    HPA: Final = "hpa"
    PHD_POSE: Final = "phd_pose"
    PHD_DETAIL: Final = "phd_detail"
    PHD_LOW: Final = "phd_low"
    APDH_SCHEDULE: Final = "harness.apdh_schedule"
    CONFIG_DIFF: Final = "harness.config_diff"
    TUNED_VALUES: Final = "harness.tuned_values"
    APDH_ENDS: Final = "model.apdh.phases."  # + "<phase>.end": a phase's end fraction (the config key)
    APDH_END: Final = ".end"
    STEP_SUFFIX: Final = "_step"  # + on an APDH end param: the same end in steps (first step of the next phase)

    @staticmethod
    def apdh_end(phase: str) -> str:
        """The param of one APDH phase's end fraction (also a tuned key of a study)."""
        return f"{TrialParams.APDH_ENDS}{phase}{TrialParams.APDH_END}"

    @staticmethod
    def apdh_end_step(phase: str) -> str:
        """The param of one APDH phase's end as the first step of the next phase."""
        return TrialParams.apdh_end(phase) + TrialParams.STEP_SUFFIX

    @staticmethod
    def apdh_end_phase(key: str) -> str | None:
        """The phase of an APDH end key ("model.apdh.phases.audio_lips.end" -> "audio_lips"), else None."""
        phase = key.removeprefix(TrialParams.APDH_ENDS).removesuffix(TrialParams.APDH_END)
        return phase if key == TrialParams.apdh_end(phase) and phase and "." not in phase else None




class Curves:
    """Metrics logged over steps, under prefixed names (final metrics are named by their bare key, at FINAL_STEP)."""

    TRAIN_PREFIX: Final = "train/"  # training curves, e.g. LOSS
    EVAL_PREFIX: Final = "eval/"  # a study trial's intermediate evaluations
    LOSS: Final = "train/loss"


class Artifacts:
    """Artifact paths. A trial's run holds its final report folder at the root (harness.sweep.trial)."""

    CONFIG: Final = "config.yaml"  # the trial's resolved config (logged when the run is created)
    PROVENANCE: Final = "provenance.json"  # {metric: {value, backend, exact, missing, ...}} of the final metrics
    CHECKPOINT: Final = "checkpoint"  # tracking.checkpoints=artifact: the final trainer checkpoint
    METRICS: Final = "metrics.json"  # the MetricResult records
    SAMPLES: Final = "samples"  # generated clips
    FRAMES: Final = "frames"  # stills
    TRIAL: Final = "trial.json"  # {"step", "checkpoint": its URI or artifact path}
    BEST: Final = "best"  # a study parent run: the exported best config(s)
    REPORT: Final = "report"  # a sweep parent run: `harness report`'s output (HTML, tables, figures)
    # what the metrics scored, lossless: scored/<clip>/frames/*.png + meta.json (a clip folder `harness eval` reads)
    SCORED: Final = "scored"
    SIDE_BY_SIDE: Final = "side_by_side"  # <clip>.mp4: reference | ground truth | prediction, with audio (viewing copy)


def trial_key(variant: str, seed: int) -> str:
    """The run name and resume key of one sweep trial."""
    return f"{variant}-s{seed}"


def study_trial_key(number: int) -> str:
    """The run name and resume key of Optuna trial `number` (also its folder name)."""
    return f"trial-{int(number):04d}"


def split_trial_key(key: str) -> tuple[str, str]:
    """(variant, seed text) of a sweep trial key (the inverse of trial_key)."""
    variant, _, seed = key.rpartition("-s")
    return variant, seed


def parent_filter(run_id: str) -> str:
    """The MLflow search filter of a parent run's children."""
    return f"tags.`{PARENT}` = '{run_id}'"


def role_filter(role: str) -> str:
    """The MLflow search filter of every run of one Role."""
    return f"tags.`{ROLE}` = '{role}'"
