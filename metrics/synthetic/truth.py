"""Ground truth of a synthetic clip: loading it from a clip folder, refusing anything else.

The synthetic backends measure the generated frames at places only the synthetic generator
knows exactly (its keypoints are the ones it drew through), so a clip whose meta.json source
is not that generator's is refused with one line rather than measured at wrong places.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from metrics.sample import ClipTruth, Sample

# harness/data/synth.py GENERATOR; the backends assume this generator's drawing (mouth inside
# darker than lips and skin, hands in skin colour, the face template of synth_figure.py).
GENERATOR_PREFIX = "synthetic-v1:"


def is_synthetic_source(source: str) -> bool:
    """True for a meta.json source written by the synthetic generator this backend knows."""
    return source.startswith(GENERATOR_PREFIX)


def load_truth(folder: Path) -> ClipTruth | None:
    """keypoints.npy, boxes.npy and the meta.json source of a clip folder; None when absent."""
    folder = Path(folder)
    paths = [folder / n for n in ("keypoints.npy", "boxes.npy", "meta.json")]
    if not all(p.is_file() for p in paths):
        return None
    try:
        source = str(json.loads(paths[2].read_text()).get("source", ""))
    except (json.JSONDecodeError, AttributeError) as exc:
        raise HarnessError(f"{paths[2]}: unreadable ({exc})") from None
    return ClipTruth(keypoints=np.load(paths[0]), boxes=np.load(paths[1]), source=source)


def require_truth(sample: Sample, metric: str) -> ClipTruth:
    """The sample's ground truth when it is a synthetic clip; HarnessError (one line) otherwise."""
    t = sample.truth
    name = sample.clip_id or "?"
    if t is None:
        raise HarnessError(f"clip {name}: the synthetic {metric} backend needs the clip's ground truth (a synthetic "
                           "clip folder with keypoints.npy and meta.json as --gt); use --backend offline for other data")
    if not is_synthetic_source(t.source):
        raise HarnessError(f"clip {name}: the synthetic {metric} backend measures only synthetic clips "
                           f"(meta.json source {GENERATOR_PREFIX}...), not source {t.source!r}; "
                           "use eval.backend offline or reference")
    if len(t.keypoints) < len(sample.pred):
        raise HarnessError(f"clip {name}: {len(sample.pred)} generated frames but ground truth for only "
                           f"{len(t.keypoints)}")
    return t


def reference_of(sample: Sample, truth: ClipTruth, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The reference image (H, W, 3) and its keypoints (133, 3): the identity the clip should show."""
    image = sample.reference_image()
    if image is None:
        raise HarnessError(f"clip {sample.clip_id or '?'}: the synthetic {metric} backend needs the reference "
                           "image or the ground-truth frames (--gt)")
    kp = truth.reference_keypoints if truth.reference_keypoints is not None else truth.keypoints[0]
    return image, kp
