"""Sliding context windows for sampling clips longer than the motion modules' window.

Two schedules (config ``eval.context_windows``):
- "fixed": the same windows at every denoising step, covering 0..F-1 in order; consecutive
  windows share ``overlap`` frames and the last one is flush with the clip's end.
- "closed_loop_shifted": the release's schedule (release: src/pipelines/context.py, the
  "uniform" scheduler as src/pipelines/pipeline_echomimicv2.py calls it). Windows start at
  0, size - overlap, 2 (size - overlap), ... while the start is inside the clip; frame indices
  wrap modulo F (closed loop), so the last window continues at frame 0. The pipeline computes
  these once and, at denoising step i, adds 3 i to every index (mod F), so the seams move
  over the clip from step to step. A clip of at most ``size`` frames is one window, rotated
  the same way (the release's motion modules then see it starting at frame 3 i).

Overlapping predictions are averaged per frame by the caller.
"""

from __future__ import annotations

from typing import Literal

ContextSchedule = Literal["closed_loop_shifted", "fixed"]
SCHEDULES: tuple[str, ...] = ("closed_loop_shifted", "fixed")
RELEASE_SHIFT_PER_STEP = 3  # release: pipeline_echomimicv2.py shifts every index by 3 per denoising step


def fixed_windows(num_frames: int, size: int, overlap: int) -> list[list[int]]:
    """Frame index windows of `size` covering 0..num_frames-1, consecutive ones sharing `overlap`."""
    if num_frames <= size:
        return [list(range(num_frames))]
    stride = size - overlap
    starts = list(range(0, num_frames - size + 1, stride))
    if starts[-1] != num_frames - size:
        starts.append(num_frames - size)  # last window flush with the end
    return [list(range(s, s + size)) for s in starts]


def closed_loop_windows(num_frames: int, size: int, overlap: int) -> list[list[int]]:
    """The release's step-0 windows: starts 0, stride, ... < num_frames, indices modulo num_frames."""
    if num_frames <= size:
        return [list(range(num_frames))]
    stride = size - overlap
    return [[i % num_frames for i in range(start, start + size)] for start in range(0, num_frames, stride)]


def windows_at_step(schedule: str, step: int, num_frames: int, size: int, overlap: int) -> list[list[int]]:
    """Windows used at denoising step `step` (0 = the first, noisiest step)."""
    if schedule == "fixed":
        return fixed_windows(num_frames, size, overlap)
    if schedule == "closed_loop_shifted":
        shift = RELEASE_SHIFT_PER_STEP * step
        return [[(i + shift) % num_frames for i in w] for w in closed_loop_windows(num_frames, size, overlap)]
    raise ValueError(f"unknown context window schedule {schedule!r}; choose from {SCHEDULES}")
