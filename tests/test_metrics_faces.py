"""CSIM offline stand-in (dlib) on real frames of the talking-head clip."""

from __future__ import annotations

import numpy as np
import pytest

from metrics.csim import CsimMetric
from metrics.faces import DlibEmbedder
from metrics.sample import Sample


@pytest.mark.slow
def test_dlib_csim_same_speaker_exceeds_different_face(talking_head: dict) -> None:
    # The "different face" is a real, different person: scikit-image's bundled astronaut photo
    # (Eileen Collins, NASA, public domain). Synthetic or distorted faces are unreliable here:
    # the detector rejects them, and a cosine to "no face" would test nothing.
    from skimage.data import astronaut

    frames = talking_head["frames"]
    emb = DlibEmbedder()
    a, b, other = emb.embed(frames[0]), emb.embed(frames[80]), emb.embed(astronaut())
    assert a is not None and b is not None and other is not None
    same, different = float(a @ b), float(a @ other)
    assert same > different + 0.05, (same, different)

    metric = CsimMetric(embedder=emb)
    metric.update(Sample(pred=frames[[40, 80]], reference=frames[0]))
    metric.update(Sample(pred=astronaut()[None], reference=frames[0]))
    metric.update(Sample(pred=frames[[0]], reference=np.zeros((64, 64, 3), np.uint8)))  # faceless reference
    (res,) = metric.results()
    assert res.n == 3 and res.key == "csim"
    assert res.exact is False and "stand-in" in res.backend
    assert res.parameters["clips_without_reference_face"] == 1
    assert different < res.value < same + 0.05
