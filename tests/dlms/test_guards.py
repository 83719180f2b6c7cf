"""The replay guard and the register guard (pure logic)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypothesis import given, strategies as st
import pytest

from custom_components.dlms_smartmeter.dlms.guards import (
    MAX_REGISTER_RATE_PER_HOUR,
    MIN_PLAUSIBILITY_WINDOW,
    RESTART_CONFIRMATION_FRAMES,
    CounterVerdict,
    InvocationCounterGuard,
    RegisterCheck,
    RegisterGuard,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

ACCEPTED = CounterVerdict.ACCEPTED
REPLAYED = CounterVerdict.REPLAYED
RESTARTED = CounterVerdict.RESTARTED


def _verdicts(
    guard: InvocationCounterGuard, counters: Sequence[int | None]
) -> list[str]:
    return [guard.check(counter) for counter in counters]


def test_increasing_counters_are_accepted() -> None:
    guard = InvocationCounterGuard()
    assert _verdicts(guard, [5, 6, 8, 100]) == [ACCEPTED] * 4
    assert guard.last_counter == 100


def test_duplicates_and_old_frames_are_replays() -> None:
    guard = InvocationCounterGuard()
    assert _verdicts(guard, [10, 10, 9, 11, 3]) == [
        ACCEPTED,
        REPLAYED,
        REPLAYED,
        ACCEPTED,
        REPLAYED,
    ]
    assert guard.last_counter == 11


def test_frames_without_counter_are_not_checked() -> None:
    guard = InvocationCounterGuard()
    assert _verdicts(guard, [None, 7, None, 7]) == [
        ACCEPTED,
        ACCEPTED,
        ACCEPTED,
        REPLAYED,
    ]


def test_restart_needs_consecutive_increasing_frames() -> None:
    guard = InvocationCounterGuard()
    guard.check(1000)
    low = list(range(1, RESTART_CONFIRMATION_FRAMES + 1))
    verdicts = _verdicts(guard, low)
    assert verdicts == [REPLAYED] * (RESTART_CONFIRMATION_FRAMES - 1) + [RESTARTED]
    assert guard.last_counter == RESTART_CONFIRMATION_FRAMES
    assert guard.pending_restart_frames == 0
    assert guard.check(RESTART_CONFIRMATION_FRAMES + 1) is ACCEPTED


def test_restart_candidate_starts_over_when_it_does_not_increase() -> None:
    guard = InvocationCounterGuard(confirmation_frames=3)
    guard.check(1000)
    assert _verdicts(guard, [1, 2, 2, 3]) == [REPLAYED] * 4
    assert guard.pending_restart_frames == 2
    # A real frame in between ends the candidate sequence.
    assert guard.check(1001) is ACCEPTED
    assert guard.pending_restart_frames == 0
    assert _verdicts(guard, [4, 5, 6]) == [REPLAYED, REPLAYED, RESTARTED]


def test_reset_forgets_the_counter() -> None:
    guard = InvocationCounterGuard()
    guard.check(50)
    guard.check(3)
    guard.reset()
    assert guard.last_counter is None
    assert guard.pending_restart_frames == 0
    assert guard.check(3) is ACCEPTED


def test_confirmation_needs_at_least_one_frame() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        InvocationCounterGuard(confirmation_frames=0)


@given(st.lists(st.integers(min_value=0, max_value=2**32 - 1), max_size=60))
def test_accepted_counters_increase_except_after_a_confirmed_restart(
    counters: list[int],
) -> None:
    """Whatever arrives, accepted counters only go down at a confirmed restart."""
    guard = InvocationCounterGuard()
    last: int | None = None
    for counter in counters:
        verdict = guard.check(counter)
        if verdict is ACCEPTED:
            assert last is None or counter > last
        if verdict is not REPLAYED:
            last = counter
        assert guard.last_counter == last


@given(
    st.integers(min_value=0, max_value=2**31),
    st.integers(1, 200),
    st.data(),
)
def test_replaying_old_frames_is_refused(
    start: int, length: int, data: st.DataObject
) -> None:
    """Old frames between live ones, or fewer than a restart needs, are refused."""
    guard = InvocationCounterGuard()
    sequence = list(range(start, start + length))
    assert set(_verdicts(guard, sequence)) == {ACCEPTED}
    live = start + length
    for old in data.draw(st.lists(st.sampled_from(sequence), max_size=20)):
        assert guard.check(old) is REPLAYED
        assert guard.check(live) is ACCEPTED
        live += 1
    run = data.draw(
        st.lists(
            st.sampled_from(sequence),
            max_size=RESTART_CONFIRMATION_FRAMES - 1,
            unique=True,
        )
    )
    assert _verdicts(guard, sorted(run)) == [REPLAYED] * len(run)


def test_first_registers_set_the_baseline() -> None:
    guard = RegisterGuard()
    registers = {"1-0:1.8.0": 1000.0, "1-0:2.8.0": 5.0}
    assert guard.check(registers, 0.0).ok
    guard.accept(registers, 0.0)
    assert guard.baseline == registers


def test_decreasing_register_is_refused() -> None:
    guard = RegisterGuard()
    guard.accept({"1-0:1.8.0": 1000.0, "1-0:2.8.0": 5.0}, 0.0)
    check = guard.check({"1-0:1.8.0": 999.0, "1-0:2.8.0": 6.0}, 1.0)
    assert check == RegisterCheck(decreased=("1-0:1.8.0",))
    assert not check.ok
    # Equal values are fine (no consumption in that second).
    assert guard.check({"1-0:1.8.0": 1000.0, "1-0:2.8.0": 5.0}, 2.0).ok


def test_growth_is_limited_by_elapsed_time() -> None:
    guard = RegisterGuard()
    guard.accept({"1-0:1.8.0": 0.0}, 0.0)
    per_second = MAX_REGISTER_RATE_PER_HOUR / 3600
    limit = per_second * MIN_PLAUSIBILITY_WINDOW
    assert guard.check({"1-0:1.8.0": limit}, 1.0).ok
    assert guard.check({"1-0:1.8.0": limit + 1}, 1.0) == RegisterCheck(
        implausible=("1-0:1.8.0",)
    )
    # After an hour without frames, a large step is plausible.
    assert guard.check({"1-0:1.8.0": MAX_REGISTER_RATE_PER_HOUR * 0.9}, 3600.0).ok


def test_unknown_registers_and_reset() -> None:
    guard = RegisterGuard(max_rate_per_hour=3600.0, min_window=1.0)
    guard.accept({"1-0:1.8.0": 10.0}, 0.0)
    # A register seen for the first time has nothing to compare with.
    assert guard.check({"1-0:3.8.0": 1e9}, 1.0).ok
    assert guard.check({"1-0:1.8.0": 12.0}, 1.0) == RegisterCheck(
        implausible=("1-0:1.8.0",)
    )
    guard.reset()
    assert guard.baseline == {}
    assert guard.check({"1-0:1.8.0": 0.0}, 2.0).ok


@given(
    st.lists(
        st.tuples(st.floats(0, 1e7, allow_nan=False), st.floats(0.0, 100.0)),
        max_size=40,
    )
)
def test_accepted_registers_never_decrease(samples: list[tuple[float, float]]) -> None:
    """Whatever arrives, the published register sequence is monotonic."""
    guard = RegisterGuard()
    now = 0.0
    published: list[float] = []
    for value, step in samples:
        now += step
        registers = {"1-0:1.8.0": value}
        if guard.check(registers, now).ok:
            guard.accept(registers, now)
            published.append(value)
    assert published == sorted(published)
