"""APDH phase schedule (docs/method.md, "APDH"): phases over training, drops, the off switch."""

from __future__ import annotations

import pytest

from harness.config_model import ApdhConfig, ApdhPhase
from harness.train.apdh import ActivePhase, apdh_phase_at, apdh_schedule_table, resolved_phases

ALL = frozenset({"body", "face", "lips", "hands"})


def _names_over(apdh: ApdhConfig, total: int) -> list[str]:
    return [apdh_phase_at(apdh, step, total).name for step in range(total + 1)]


def test_default_schedule_across_training() -> None:
    apdh = ApdhConfig()
    expected = {
        0: ("initial_pose", ALL, "lips", 0.0),
        19: ("initial_pose", ALL, "lips", 0.0),
        20: ("audio_lips", frozenset({"body", "face", "hands"}), "lips", 0.0),
        39: ("audio_lips", frozenset({"body", "face", "hands"}), "lips", 0.0),
        40: ("audio_face", frozenset({"body", "hands"}), "face", 0.0),
        59: ("audio_face", frozenset({"body", "hands"}), "face", 0.0),
        60: ("audio_body", frozenset({"hands"}), "full", 0.2),
        99: ("audio_body", frozenset({"hands"}), "full", 0.2),
        100: ("audio_body", frozenset({"hands"}), "full", 0.2),
    }
    for step, (name, parts, mask, drop) in expected.items():
        assert apdh_phase_at(apdh, step, 100) == ActivePhase(name, parts, mask, drop), step


@pytest.mark.parametrize(
    ("dropped", "spans"),
    [
        ([], [("initial_pose", 0.0, 0.2), ("audio_lips", 0.2, 0.4), ("audio_face", 0.4, 0.6), ("audio_body", 0.6, 1.0)]),
        (["initial_pose"], [("audio_lips", 0.0, 0.4), ("audio_face", 0.4, 0.6), ("audio_body", 0.6, 1.0)]),
        (["audio_lips"], [("initial_pose", 0.0, 0.2), ("audio_face", 0.2, 0.6), ("audio_body", 0.6, 1.0)]),
        (["audio_face"], [("initial_pose", 0.0, 0.2), ("audio_lips", 0.2, 0.4), ("audio_body", 0.4, 1.0)]),
        (["audio_body"], [("initial_pose", 0.0, 0.2), ("audio_lips", 0.2, 0.4), ("audio_face", 0.4, 1.0)]),
        (["initial_pose", "audio_lips"], [("audio_face", 0.0, 0.6), ("audio_body", 0.6, 1.0)]),
        (["audio_face", "audio_body"], [("initial_pose", 0.0, 0.2), ("audio_lips", 0.2, 1.0)]),
    ],
)
def test_drop_phases_absorb_spans(dropped: list[str], spans: list[tuple[str, float, float]]) -> None:
    apdh = ApdhConfig(drop_phases=dropped)
    got = [(phase.name, start, end) for start, end, phase in resolved_phases(apdh)]
    assert got == spans
    names = _names_over(apdh, 100)
    for name, start, end in spans:
        first, stop = round(start * 100), round(end * 100)
        assert names[first:stop] == [name] * (stop - first), name
    assert names[100] == spans[-1][0]
    assert not set(names) & set(dropped)


def test_dropped_phase_keeps_the_absorbers_own_settings() -> None:
    # "w/o Audio-Lips Sync": steps 20..59 run audio_face (body + hands, face mask), not a mix.
    apdh = ApdhConfig(drop_phases=["audio_lips"])
    phase = apdh_phase_at(apdh, 25, 100)
    assert phase == ActivePhase("audio_face", frozenset({"body", "hands"}), "face", 0.0)


@pytest.mark.parametrize("dropped", [[], ["audio_body"], ["initial_pose", "audio_face"]])
def test_disabled_is_hands_and_full_from_step_zero(dropped: list[str]) -> None:
    apdh = ApdhConfig(enabled=False, drop_phases=dropped)
    off = ActivePhase("no_apdh", frozenset({"hands"}), "full", 0.0)
    for step in (0, 1, 37, 50, 99, 100):
        assert apdh_phase_at(apdh, step, 100) == off
    assert apdh_schedule_table(apdh, 100) == [
        {"phase": "no_apdh", "start_step": 0, "end_step": 100, "pose_parts": ["hands"], "audio_mask": "full"}
    ]


def _custom(ends: tuple[float, float, float]) -> ApdhConfig:
    names = ["initial_pose", "audio_lips", "audio_face", "audio_body"]
    phases = [
        ApdhPhase(name=names[i], end=end, pose_parts=["hands"], audio_mask="full") for i, end in enumerate((*ends, 1.0))
    ]
    return ApdhConfig(phases=phases)


@pytest.mark.parametrize("total", [10, 100, 1000, 30000])
@pytest.mark.parametrize("ends", [(0.1, 0.3, 0.7), (0.2, 0.4, 0.6), (0.05, 0.55, 0.9)])
def test_boundaries_switch_at_exact_fractions(total: int, ends: tuple[float, float, float]) -> None:
    apdh = _custom(ends)
    names = ["initial_pose", "audio_lips", "audio_face", "audio_body"]
    for index, end in enumerate(ends):
        boundary = round(end * total)
        if abs(boundary - end * total) > 1e-9:
            continue  # the fraction falls between two steps for this total
        assert apdh_phase_at(apdh, boundary - 1, total).name == names[index]
        assert apdh_phase_at(apdh, boundary, total).name == names[index + 1]


@pytest.mark.parametrize("total", [1, 3, 7, 10, 97, 100, 1000])
@pytest.mark.parametrize("dropped", [[], ["audio_lips"], ["audio_body"], ["initial_pose", "audio_face"]])
def test_schedule_table_agrees_with_phase_at(total: int, dropped: list[str]) -> None:
    apdh = ApdhConfig(drop_phases=dropped)
    rows = apdh_schedule_table(apdh, total)
    assert rows[0]["start_step"] == 0 and rows[-1]["end_step"] == total
    from_table: list[str] = []
    for row, nxt in zip(rows, rows[1:]):
        assert row["end_step"] == nxt["start_step"]
    for row in rows:
        from_table += [str(row["phase"])] * (int(row["end_step"]) - int(row["start_step"]))  # type: ignore[call-overload]
    assert from_table == _names_over(apdh, total)[:total]


def test_schedule_table_default_rows() -> None:
    rows = apdh_schedule_table(ApdhConfig(), 1000)
    assert [(r["phase"], r["start_step"], r["end_step"], r["audio_mask"]) for r in rows] == [
        ("initial_pose", 0, 200, "lips"),
        ("audio_lips", 200, 400, "lips"),
        ("audio_face", 400, 600, "face"),
        ("audio_body", 600, 1000, "full"),
    ]
    assert rows[0]["pose_parts"] == ["body", "face", "hands", "lips"]


def test_bad_steps_are_rejected() -> None:
    with pytest.raises(ValueError):
        apdh_phase_at(ApdhConfig(), 0, 0)
    with pytest.raises(ValueError):
        apdh_phase_at(ApdhConfig(), -1, 10)
