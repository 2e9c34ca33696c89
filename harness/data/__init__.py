"""Data: clip format, synthetic semi-body dataset, real-video preparation, pose maps, audio features.

Modules: layout (keypoint layout), clip_format (on-disk clips + index), dataset (ClipDataset),
audio_features, pose_maps, regions (boxes), synth* (synthetic generator), prepare* (real videos).
"""
