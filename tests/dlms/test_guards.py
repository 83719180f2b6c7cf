"""The replay guard and the register guard (pure logic)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from hypothesis import given, strategies as st
import pytest

from custom_components.dlms_smartmeter.dlms import MeterValue, Reading, SecurityLevel
from custom_components.dlms_smartmeter.dlms.guards import (
    MAX_REGISTER_RATE_PER_HOUR,
    MIN_PLAUSIBILITY_WINDOW,
    REGISTER_RESET_CONFIRMATION_FRAMES,
    RESTART_CONFIRMATION_FRAMES,
    CounterVerdict,
    InvocationCounterGuard,
    ReadingGuard,
    RegisterCheck,
    RegisterGuard,
    Verdict,
)
from custom_components.dlms_smartmeter.dlms.reading import Unit

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


@given(
    st.lists(
        st.tuples(st.floats(0, 1e7, allow_nan=False), st.floats(0.0, 100.0)),
        max_size=60,
    )
)
def test_judged_registers_go_down_only_at_a_confirmed_reset(
    samples: list[tuple[float, float]],
) -> None:
    """A published value below the one before is always a confirmed reset.

    And that reset is backed by ``REGISTER_RESET_CONFIRMATION_FRAMES`` frames
    in a row, none lower than the one before.
    """
    guard = RegisterGuard()
    now = 0.0
    last: float | None = None
    lower_run: list[float] = []
    for value, step in samples:
        now += step
        check = guard.judge({"1-0:1.8.0": value}, now)
        if last is not None and value < last:
            lower_run.append(value)
        else:
            lower_run.clear()
        if check.ok:
            if last is not None and value < last:
                assert check.reset
                confirming = lower_run[-REGISTER_RESET_CONFIRMATION_FRAMES:]
                assert len(confirming) == REGISTER_RESET_CONFIRMATION_FRAMES
                assert confirming == sorted(confirming)
            last = value
            lower_run.clear()
        assert guard.baseline == ({} if last is None else {"1-0:1.8.0": last})


REGISTER = "1-0:1.8.0"


def _judge_all(
    guard: RegisterGuard, values: Sequence[float], start: float = 0.0
) -> list[RegisterCheck]:
    return [
        guard.judge({REGISTER: value}, start + 10.0 * index)
        for index, value in enumerate(values)
    ]


def test_register_reset_is_accepted_after_consistent_frames() -> None:
    """A register that restarts near zero is taken after five agreeing frames."""
    guard = RegisterGuard()
    guard.judge({REGISTER: 5_000_000.0}, 0.0)
    checks = _judge_all(guard, [10.0, 12.0, 15.0, 15.0, 20.0], start=10.0)
    assert [check.ok for check in checks] == [False] * 4 + [True]
    assert checks[-1].reset
    assert guard.baseline == {REGISTER: 20.0}
    assert guard.pending_reset_frames == 0
    # From then on the new sequence is the normal one.
    assert guard.judge({REGISTER: 21.0}, 70.0) == RegisterCheck()


def test_reset_candidate_starts_over_when_frames_disagree() -> None:
    """Lower frames that disagree among themselves (noise) never become a reset."""
    # At most 1 Wh per second of growth.
    guard = RegisterGuard(
        max_rate_per_hour=3600.0, min_window=1.0, confirmation_frames=3
    )
    guard.judge({REGISTER: 1000.0}, 0.0)
    # Down among themselves: 60 then 40.
    checks = _judge_all(guard, [50.0, 60.0, 40.0, 45.0], start=10.0)
    assert not any(check.ok for check in checks)
    assert guard.pending_reset_frames == 2
    # A frame at the old level in between ends the candidate sequence.
    assert guard.judge({REGISTER: 1000.5}, 60.0).ok
    assert guard.pending_reset_frames == 0
    # Growing faster than plausible from the candidate: a new candidate.
    guard.judge({REGISTER: 10.0}, 70.0)
    guard.judge({REGISTER: 500.0}, 71.0)
    assert guard.pending_reset_frames == 1
    # Frames with other registers than the candidate are no continuation.
    guard.judge({REGISTER: 501.0, "1-0:2.8.0": 1.0}, 72.0)
    assert guard.pending_reset_frames == 1
    assert guard.baseline == {REGISTER: 1000.5}


def test_corrupt_but_plausible_high_value_does_not_block_for_long() -> None:
    """After one value too high (but plausible) the true values return soon."""
    guard = RegisterGuard()
    guard.judge({REGISTER: 1_000_000.0}, 0.0)
    assert guard.judge({REGISTER: 1_002_000.0}, 10.0).ok  # 2 kWh in 10 s
    truth = [1_000_001.0 + index for index in range(REGISTER_RESET_CONFIRMATION_FRAMES)]
    checks = _judge_all(guard, truth, start=20.0)
    assert [check.ok for check in checks][-1]
    assert sum(check.ok for check in checks) == 1
    assert guard.baseline == {REGISTER: truth[-1]}


def test_implausible_frame_ends_a_reset_candidate() -> None:
    guard = RegisterGuard(confirmation_frames=2)
    guard.judge({REGISTER: 100.0}, 0.0)
    guard.judge({REGISTER: 5.0}, 10.0)
    assert guard.judge({REGISTER: 100.0 + 1e9}, 11.0).implausible
    assert guard.pending_reset_frames == 0


def test_register_confirmation_needs_at_least_one_frame() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RegisterGuard(confirmation_frames=0)


def test_snapshot_and_restore_keep_the_baseline_and_its_age() -> None:
    guard = RegisterGuard()
    guard.judge({REGISTER: 500.0, "1-0:2.8.0": 7.0}, 1000.0)
    restored = RegisterGuard()
    restored.restore(guard.snapshot())
    assert restored.baseline == guard.baseline
    # The age counts: an hour later a large step is plausible, 10 s later not.
    assert restored.check({REGISTER: 500.0 + 900_000.0}, 1000.0 + 3600.0).ok
    assert restored.check({REGISTER: 500.0 + 900_000.0}, 1010.0).implausible


@pytest.mark.parametrize(
    "broken",
    [
        {REGISTER: "500"},
        {REGISTER: [500.0]},
        {REGISTER: [True, 1.0]},
        {REGISTER: [float("nan"), 1.0]},
        {REGISTER: None},
    ],
)
def test_restore_skips_malformed_entries(broken: dict[str, object]) -> None:
    guard = RegisterGuard()
    guard.restore({**broken, "1-0:2.8.0": [1.0, 2.0]})
    assert guard.baseline == {"1-0:2.8.0": 1.0}


def _reading(
    counter: int | None,
    registers: dict[str, float],
    system_title: bytes = b"ISKit\x01\x02\x03",
    power: float = 100.0,
) -> Reading:
    values = {
        obis: MeterValue(value, Unit.WATT_HOUR) for obis, value in registers.items()
    }
    values["1-0:1.7.0"] = MeterValue(power, Unit.WATT)
    return Reading(
        system_title=system_title,
        invocation_counter=counter,
        security=SecurityLevel.ENCRYPTED,
        meter_time=None,
        values=values,
        layout="test",
    )


def test_reading_guard_verdicts() -> None:
    guard = ReadingGuard(b"ISKit\x01\x02\x03".hex().upper())
    assert guard.check(_reading(10, {REGISTER: 100.0}), 0.0) is Verdict.ACCEPTED
    assert guard.check(_reading(10, {REGISTER: 101.0}), 1.0) is Verdict.REPLAYED
    assert (
        guard.check(_reading(11, {REGISTER: 101.0}, b"other123"), 1.0)
        is Verdict.FOREIGN_METER
    )
    assert (
        guard.check(_reading(12, {REGISTER: 99.0}), 2.0) is Verdict.REGISTER_DECREASED
    )
    assert (
        guard.check(_reading(13, {REGISTER: 1e12}), 3.0) is Verdict.REGISTER_IMPLAUSIBLE
    )
    assert guard.last_invocation_counter == 13
    assert all(
        not verdict.accepted
        for verdict in (
            Verdict.REPLAYED,
            Verdict.FOREIGN_METER,
            Verdict.REGISTER_DECREASED,
            Verdict.REGISTER_IMPLAUSIBLE,
        )
    )


def test_reading_guard_counter_restart_and_register_reset() -> None:
    guard = ReadingGuard()
    guard.check(_reading(1000, {REGISTER: 5_000_000.0}), 0.0)
    verdicts = [
        guard.check(_reading(counter, {REGISTER: 1000.0 + counter}), 10.0 * counter)
        for counter in range(1, RESTART_CONFIRMATION_FRAMES + 1)
    ]
    # The counter restart is confirmed with the register reset (both five frames).
    assert verdicts[:-1] == [Verdict.REPLAYED] * (RESTART_CONFIRMATION_FRAMES - 1)
    assert verdicts[-1] is Verdict.REGISTER_DECREASED
    more = [
        guard.check(_reading(counter, {REGISTER: 1000.0 + counter}), 10.0 * counter)
        for counter in range(6, 6 + REGISTER_RESET_CONFIRMATION_FRAMES)
    ]
    assert Verdict.REGISTERS_RESET in more
    assert more[-1] is Verdict.ACCEPTED
    assert all(
        verdict.accepted for verdict in more[more.index(Verdict.REGISTERS_RESET) :]
    )


def test_reading_guard_reports_a_bare_counter_restart() -> None:
    guard = ReadingGuard()
    guard.check(_reading(1000, {}), 0.0)
    verdicts = [
        guard.check(_reading(counter, {}), float(counter))
        for counter in range(1, RESTART_CONFIRMATION_FRAMES + 1)
    ]
    assert verdicts[-1] is Verdict.COUNTER_RESTARTED
    assert verdicts[-1].accepted


def test_reading_guard_snapshot_survives_a_restart() -> None:
    """A restored guard rejects what the old one would have rejected."""
    guard = ReadingGuard()
    guard.check(_reading(500, {REGISTER: 10_000.0}), 100.0)
    snapshot = guard.snapshot()
    assert snapshot == {
        "invocation_counter": 500,
        "registers": {REGISTER: [10_000.0, 100.0]},
    }
    restored = ReadingGuard()
    restored.restore(snapshot)
    assert restored.check(_reading(500, {REGISTER: 10_001.0}), 110.0) is (
        Verdict.REPLAYED
    )
    assert restored.check(_reading(501, {REGISTER: 9_000.0}), 120.0) is (
        Verdict.REGISTER_DECREASED
    )
    assert restored.check(_reading(502, {REGISTER: 10_002.0}), 130.0) is (
        Verdict.ACCEPTED
    )


@pytest.mark.parametrize(
    "snapshot",
    [{}, {"invocation_counter": "12", "registers": []}, {"invocation_counter": True}],
)
def test_reading_guard_ignores_a_malformed_snapshot(
    snapshot: dict[str, object],
) -> None:
    guard = ReadingGuard()
    guard.restore(snapshot)
    assert guard.last_invocation_counter is None
    assert guard.registers.baseline == {}


def test_the_amis_collection_register_may_go_down() -> None:
    """1.128.0 is signed: it goes down without a verdict; 1.8.0 still may not."""
    guard = ReadingGuard()
    first = {"1-0:1.8.0": 1000.0, "1-0:1.128.0": 50.0}
    assert guard.check(_reading(None, first), 0.0) is Verdict.ACCEPTED
    lower_collection = {"1-0:1.8.0": 1000.0, "1-0:1.128.0": -20.0}
    assert guard.check(_reading(None, lower_collection), 1.0) is Verdict.ACCEPTED
    lower_energy = {"1-0:1.8.0": 990.0, "1-0:1.128.0": -20.0}
    verdict = guard.check(_reading(None, lower_energy), 2.0)
    assert verdict is Verdict.REGISTER_DECREASED
    assert "1-0:1.128.0" not in guard.snapshot()["registers"]


def test_a_reading_that_names_no_meter_is_not_foreign() -> None:
    """AMIS telegrams carry the reader's address: no meter to compare with."""
    guard = ReadingGuard(b"SAM\x01\x02\x03\x04\x05".hex().upper())
    amis = replace(_reading(None, {"1-0:1.8.0": 1.0}), identifies_meter=False)
    assert guard.check(amis, 0.0) is Verdict.ACCEPTED
    other = _reading(None, {"1-0:1.8.0": 2.0})
    assert guard.check(other, 1.0) is Verdict.FOREIGN_METER


def test_a_plain_meter_is_known_by_the_identification_it_pushes() -> None:
    """No system title: the logical device name or serial number is the meter id."""
    guard = ReadingGuard("LGZ1030653520967")
    own = replace(
        _reading(None, {REGISTER: 1.0}, b""), logical_device_name="LGZ1030653520967"
    )
    assert guard.check(own, 0.0) is Verdict.ACCEPTED
    other = replace(
        _reading(None, {REGISTER: 2.0}, b""), logical_device_name="LGZ1030655933512"
    )
    assert guard.check(other, 1.0) is Verdict.FOREIGN_METER
    # A list that carries no identification (Norwegian list 1) is not foreign.
    anonymous = _reading(None, {REGISTER: 3.0}, b"")
    assert guard.check(anonymous, 2.0) is Verdict.ACCEPTED
