"""The link's health over a sliding window, and the frame history (pure logic)."""

from __future__ import annotations

from custom_components.dlms_smartmeter.health import (
    DAMAGED_MIN_FRAMES,
    HEALTH_MAX_EVENTS,
    FrameHistory,
    LinkHealth,
)


# Read through functions: the values change between the assertions.
def _share(health: LinkHealth) -> int | None:
    return health.valid_share


def _bad(health: LinkHealth) -> bool:
    return health.bad


def _good(health: LinkHealth) -> bool:
    return health.good


def test_share_of_valid_frames_over_the_window() -> None:
    health = LinkHealth(window=60.0)
    assert _share(health) is None
    assert not _bad(health)
    assert not _good(health)
    for second in range(3):
        health.record(valid=True, now=float(second))
    health.record(valid=False, now=3.0)
    assert (health.valid_frames, health.damaged_frames) == (3, 1)
    assert _share(health) == 75
    # A minute later the old outcomes are gone.
    health.expire(62.5)
    assert (health.valid_frames, health.damaged_frames) == (0, 1)
    health.expire(64.0)
    assert _share(health) is None


def test_bad_needs_enough_damaged_frames_and_a_low_share() -> None:
    health = LinkHealth()
    for _ in range(DAMAGED_MIN_FRAMES - 1):
        health.record(valid=False, now=0.0)
    assert not _bad(health)
    health.record(valid=False, now=0.0)
    assert _bad(health)
    for _ in range(10 * DAMAGED_MIN_FRAMES):
        health.record(valid=True, now=1.0)
    assert not _bad(health)
    assert _good(health)


def test_outcomes_beyond_the_limit_push_out_the_oldest() -> None:
    """A flood of garbage cannot grow the memory: the counts stay consistent."""
    health = LinkHealth()
    health.record(valid=False, now=0.0)
    for _ in range(HEALTH_MAX_EVENTS):
        health.record(valid=True, now=1.0)
    assert (health.valid_frames, health.damaged_frames) == (HEALTH_MAX_EVENTS, 0)
    health.record(valid=False, now=2.0)
    assert (health.valid_frames, health.damaged_frames) == (HEALTH_MAX_EVENTS - 1, 1)


def test_frame_history_keeps_the_last_frames() -> None:
    history = FrameHistory(size=2)
    history.add(b"", 0.0)
    for index in range(3):
        history.add(bytes([index]), 1_780_000_000.0 + index)
    assert [frame["hex"] for frame in history.as_list()] == ["01", "02"]
    assert history.as_list()[0]["received"] == "2026-05-28T20:26:41+00:00"
