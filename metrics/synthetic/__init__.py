"""Synthetic-domain metric backends: Sync-C/D, HKC/HKV and CSIM measured on the synthetic figures.

The embedded synthetic set (harness/data/synth*.py) knows its own ground truth: where the mouth,
hands and head are in every frame, and what drives them. These backends read the generated
frames at those known places instead of running SyncNet, DWPose or ArcFace, which find nothing
in the synthetic figures (or have no offline weights). Every result is labelled backend
``synthetic`` and exact=False (a stand-in, not comparable with the paper's numbers); clips
that are not from the synthetic generator are refused (docs/metrics_synthetic.md).
"""

BACKEND = "synthetic"
