"""What MLflow itself shows about a run besides harness names: where it came from (``mlflow.source.*``),
the dataset it trained on (an MLflow dataset input), MLflow's own system metrics, and the files the
run record keeps (the resolved config, the metrics' provenance, the final checkpoint).
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

from harness.config import ExperimentConfig
from harness.runs.schema import MAX_TAG_CHARS, MlflowTags, TrialTags
from harness.runs.store import git_commit

DATASET_CONTEXT = "train"  # what the run used the dataset for (the UI shows it beside the dataset)


def source_tags(command: str | None = None) -> dict[str, str]:
    """MLflow's Source and Version columns: the command that wrote the run ("harness sweep smoke.yaml": the
    UI shows a source name's last path part, so the experiment file goes by its name) and the commit."""
    args = sys.argv[1:3] if len(sys.argv) > 2 and not sys.argv[2].startswith("-") else sys.argv[1:2]
    name = command or " ".join(["harness", *args[:1], *(Path(a).name for a in args[1:])])
    return {MlflowTags.SOURCE_NAME: name[:MAX_TAG_CHARS], MlflowTags.SOURCE_TYPE: "LOCAL",
            MlflowTags.GIT_COMMIT: git_commit()}


def dataset_input(cfg: ExperimentConfig, digest: str | None = None) -> Any:
    """The trial's dataset as an MLflow DatasetInput: its clip list (index.json) as a pandas dataset whose
    digest is the harness's dataset hash (given, else computed) and whose source is the data folder."""
    import pandas as pd
    from mlflow.data import from_pandas
    from mlflow.entities import DatasetInput, InputTag

    from harness.data.synth import dataset_root
    from harness.runtime.run_folder import dataset_hash

    root = dataset_root(cfg).resolve()
    try:
        clips = json.loads((root / "index.json").read_text()).get("clips", [])
    except (OSError, ValueError):
        clips = []
    frame = pd.DataFrame(clips, columns=["id", "kind", "n_frames", "split"]) if not clips else pd.DataFrame(clips)
    logging.getLogger("mlflow.data").setLevel(logging.ERROR)  # no schema-inference chatter on the console
    with warnings.catch_warnings():  # "source can be interpreted in multiple ways": both are the local folder
        warnings.simplefilter("ignore", UserWarning)
        dataset = from_pandas(frame, source=str(root), name=f"{cfg.data.source}-{cfg.data.size}px",
                              digest=digest or dataset_hash(root))
        entity = dataset._to_mlflow_entity()  # infers the schema: "integer column(s)" hint, irrelevant here
    return DatasetInput(entity, tags=[InputTag(MlflowTags.DATASET_CONTEXT, DATASET_CONTEXT)])


def checkpoint_record(trial_json: Path, mode: str) -> tuple[dict[str, Any], Path | None]:
    """The trial.json record with its checkpoint as a URI ("uri") or an artifact path ("artifact"), and the
    checkpoint file to log (None in "uri" mode or when the file is gone)."""
    record = json.loads(trial_json.read_text())
    raw = record.get("checkpoint")
    path = Path(raw) if raw and raw != "none" else None
    if path is None or not path.is_absolute():
        return record, None
    if mode == "artifact" and path.is_file():
        from harness.runs.schema import Artifacts

        record[TrialTags.CHECKPOINT] = f"{Artifacts.CHECKPOINT}/{path.name}"
        return record, path
    record[TrialTags.CHECKPOINT] = path.as_uri()
    return record, None


class SystemMetrics:
    """MLflow's own system metrics (``system/cpu_utilization_percentage``...) for one run, sampled every
    `interval` seconds on this node. A run shorter than one interval still gets one sample: MLflow 3.17's
    monitor publishes only after a full interval, so finish() publishes what it collected (issue 16)."""

    def __init__(self, run_id: str, uri: str, interval: float) -> None:
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)  # no start/stop lines per trial
        self.monitor = SystemMetricsMonitor(run_id, sampling_interval=interval, resume_logging=True,
                                            tracking_uri=uri)
        self.monitor.start()

    def finish(self) -> None:
        """Stop sampling; publish the collected samples when no interval completed."""
        monitor = self.monitor
        published = monitor._logging_step
        monitor.finish()
        if monitor._logging_step == published and any(m._metrics for m in monitor.monitors):
            try:
                monitor.publish_metrics(monitor.aggregate_metrics())
                monitor.mlflow_logger.flush()
            except Exception:  # noqa: BLE001  system metrics are best effort: never fail a trial for them
                logging.getLogger(__name__).warning("system metrics of run %s not logged", monitor._run_id)
