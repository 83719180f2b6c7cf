"""Plausibility rules that protect published meter data.

:class:`ReadingGuard` is what a publisher asks about each reading; it returns
one :class:`Verdict` and combines three rules:

* The reading must come from the expected meter (its system title).
* :class:`InvocationCounterGuard` drops frames whose invocation counter does
  not increase (a replayed or duplicated frame). A counter that restarts lower
  and then keeps increasing for several frames is accepted as a genuine
  restart, because a meter that was reset or re-keyed starts counting again.
* :class:`RegisterGuard` checks cumulative registers (energy counters). A
  register that goes down is dropped, and so is a jump that no real
  installation could consume in the elapsed time: for an energy counter used
  as a ``TOTAL_INCREASING`` statistic either would show up as a spike in
  long-term statistics. Registers that went down are accepted only once
  several consecutive frames agree with each other (a register that really
  restarted lower, or correct frames after a corrupt value that was too high
  but still plausible), so the guard can never stay stuck.

The guard's state (last counter, register baseline) can be saved with
:meth:`ReadingGuard.snapshot` and restored with :meth:`ReadingGuard.restore`,
so that the first frame after a restart is checked too. Everything here is
pure logic without I/O or clocks; time is passed in (seconds since the epoch,
so that a restored baseline keeps its age).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import math
from typing import TYPE_CHECKING, Any

from .reading import Unit

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .reading import Reading

REGISTER_UNITS = frozenset({Unit.WATT_HOUR, Unit.VAR_HOUR, Unit.VOLT_AMPERE_HOUR})
"""Units of cumulative registers: kept monotonic, published as the latest value."""

SIGNED_REGISTERS = frozenset({"1-0:1.128.0"})
"""Registers in those units that may go down (the AMIS collection register,
"Inkassozählwerk"): published as the latest value, but not kept monotonic."""

RESTART_CONFIRMATION_FRAMES = 5
"""Consecutive increasing frames below the last counter that prove a restart."""

REGISTER_RESET_CONFIRMATION_FRAMES = 5
"""Consecutive, mutually consistent frames below the baseline that prove a reset."""

MAX_REGISTER_RATE_PER_HOUR = 1_000_000.0
"""Fastest plausible growth of a register per hour (1 MW for Wh registers).

A household connection delivers well under 100 kW; a register that grows
faster than this is a corrupted value that happened to pass the checksum.
"""

MIN_PLAUSIBILITY_WINDOW = 10.0
"""Seconds of growth always allowed, so frames that arrive in a burst pass."""


class CounterVerdict(StrEnum):
    """What the invocation-counter guard decided about one frame."""

    ACCEPTED = "accepted"
    """The counter increased (or the frame carries none): use the frame."""
    REPLAYED = "replayed"
    """The counter did not increase: drop the frame."""
    RESTARTED = "restarted"
    """The counter restarted lower and kept increasing: use the frame."""


class InvocationCounterGuard:
    """Accept frames only while their invocation counter increases."""

    def __init__(self, confirmation_frames: int = RESTART_CONFIRMATION_FRAMES) -> None:
        """Create a guard that has not seen any frame yet.

        Args:
            confirmation_frames: how many consecutive, increasing frames below
                the last accepted counter it takes to accept a restart.
        """
        if confirmation_frames < 1:
            raise ValueError("confirmation_frames must be at least 1")
        self._confirmation_frames = confirmation_frames
        self.last_counter: int | None = None
        """The highest accepted counter (after a restart: the new one)."""
        self._candidate_counter: int | None = None
        self._candidate_frames = 0

    @property
    def pending_restart_frames(self) -> int:
        """Frames seen so far of a sequence that may be a counter restart."""
        return self._candidate_frames

    def check(self, counter: int | None) -> CounterVerdict:
        """Decide about a frame with this counter and remember the decision."""
        if counter is None:
            return CounterVerdict.ACCEPTED
        if self.last_counter is None or counter > self.last_counter:
            self.last_counter = counter
            self._clear_candidate()
            return CounterVerdict.ACCEPTED
        if self._candidate_counter is not None and counter > self._candidate_counter:
            self._candidate_frames += 1
        else:
            self._candidate_frames = 1
        self._candidate_counter = counter
        if self._candidate_frames >= self._confirmation_frames:
            self.last_counter = counter
            self._clear_candidate()
            return CounterVerdict.RESTARTED
        return CounterVerdict.REPLAYED

    def reset(self) -> None:
        """Forget everything (a different meter or key)."""
        self.last_counter = None
        self._clear_candidate()

    def _clear_candidate(self) -> None:
        self._candidate_counter = None
        self._candidate_frames = 0


@dataclass(frozen=True, slots=True)
class RegisterCheck:
    """Result of checking the registers of one frame."""

    decreased: tuple[str, ...] = ()
    """Registers below their last accepted value."""
    implausible: tuple[str, ...] = ()
    """Registers that grew faster than any real installation can."""
    reset: bool = False
    """The frame confirmed registers that restarted lower: it is the new baseline."""

    @property
    def ok(self) -> bool:
        """Whether the frame may be published."""
        return self.reset or (not self.decreased and not self.implausible)


class RegisterGuard:
    """Keep cumulative registers monotonic and their growth plausible."""

    def __init__(
        self,
        max_rate_per_hour: float = MAX_REGISTER_RATE_PER_HOUR,
        min_window: float = MIN_PLAUSIBILITY_WINDOW,
        confirmation_frames: int = REGISTER_RESET_CONFIRMATION_FRAMES,
    ) -> None:
        """Create a guard without a baseline.

        Args:
            max_rate_per_hour: largest plausible growth of a register per hour
                of elapsed time, in the register's unit.
            min_window: seconds of growth that are always allowed.
            confirmation_frames: consecutive, mutually consistent frames below
                the baseline it takes to accept them as a register reset.
        """
        if confirmation_frames < 1:
            raise ValueError("confirmation_frames must be at least 1")
        self._max_rate_per_second = max_rate_per_hour / 3600.0
        self._min_window = min_window
        self._confirmation_frames = confirmation_frames
        self._last: dict[str, tuple[float, float]] = {}
        self._candidate: dict[str, tuple[float, float]] = {}
        self._candidate_frames = 0

    @property
    def baseline(self) -> dict[str, float]:
        """The last accepted value of each register."""
        return {key: value for key, (value, _) in self._last.items()}

    @property
    def pending_reset_frames(self) -> int:
        """Frames seen so far of a sequence that may be a register reset."""
        return self._candidate_frames

    def check(self, registers: Mapping[str, float], now: float) -> RegisterCheck:
        """Compare registers with the last accepted values; changes nothing.

        Args:
            registers: register values of one frame.
            now: a timestamp in seconds.
        """
        return self._compare(self._last, registers, now)

    def judge(self, registers: Mapping[str, float], now: float) -> RegisterCheck:
        """Check one frame and remember the outcome.

        An accepted frame becomes the baseline. Frames below the baseline are
        dropped until ``confirmation_frames`` of them in a row agree with each
        other (none lower than the one before, growth plausible); the last of
        them is then accepted with ``reset`` set.
        """
        check = self.check(registers, now)
        if check.ok:
            self._clear_candidate()
            self.accept(registers, now)
            return check
        if not check.decreased or self._implausible_after_candidate(registers, now):
            self._clear_candidate()
        if check.decreased:
            self._candidate_frames += 1
            self._candidate = {key: (value, now) for key, value in registers.items()}
            if self._candidate_frames >= self._confirmation_frames:
                self._clear_candidate()
                self._last.clear()
                self.accept(registers, now)
                return RegisterCheck(check.decreased, (), reset=True)
        return check

    def accept(self, registers: Mapping[str, float], now: float) -> None:
        """Make these values the new baseline."""
        for key, value in registers.items():
            self._last[key] = (value, now)

    def reset(self) -> None:
        """Forget the baseline."""
        self._last.clear()
        self._clear_candidate()

    def snapshot(self) -> dict[str, list[float]]:
        """The baseline as plain data: register -> [value, time]."""
        return {key: [value, time] for key, (value, time) in self._last.items()}

    def restore(self, baseline: Mapping[str, Any]) -> None:
        """Take a baseline from :meth:`snapshot`; malformed entries are skipped."""
        for key, item in baseline.items():
            if (
                isinstance(item, (list, tuple))
                and len(item) == 2
                and all(_is_number(part) for part in item)
            ):
                self._last[str(key)] = (float(item[0]), float(item[1]))

    def _implausible_after_candidate(
        self, registers: Mapping[str, float], now: float
    ) -> bool:
        """Whether the frame does not continue the candidate sequence."""
        if not self._candidate:
            return False
        if registers.keys() != self._candidate.keys():
            return True
        return not self._compare(self._candidate, registers, now).ok

    def _compare(
        self,
        baseline: Mapping[str, tuple[float, float]],
        registers: Mapping[str, float],
        now: float,
    ) -> RegisterCheck:
        decreased: list[str] = []
        implausible: list[str] = []
        for key, value in registers.items():
            previous = baseline.get(key)
            if previous is None:
                continue
            last_value, last_time = previous
            if value < last_value:
                decreased.append(key)
                continue
            window = max(now - last_time, self._min_window)
            if value - last_value > self._max_rate_per_second * window:
                implausible.append(key)
        return RegisterCheck(tuple(decreased), tuple(implausible))

    def _clear_candidate(self) -> None:
        self._candidate = {}
        self._candidate_frames = 0


def _is_number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


class Verdict(StrEnum):
    """What the guard decided about one reading."""

    ACCEPTED = "accepted"
    """Everything is plausible: publish the reading."""
    COUNTER_RESTARTED = "counter_restarted"
    """The invocation counter restarted lower and kept increasing: publish."""
    REGISTERS_RESET = "registers_reset"
    """Registers restarted lower and several frames agree: publish."""
    FOREIGN_METER = "foreign_meter"
    """The reading comes from another meter on the same port: drop."""
    REPLAYED = "replayed"
    """The invocation counter did not increase: drop."""
    REGISTER_DECREASED = "register_decreased"
    """An energy register went down (not yet confirmed as a reset): drop."""
    REGISTER_IMPLAUSIBLE = "register_implausible"
    """An energy register grew faster than any installation can: drop."""

    @property
    def accepted(self) -> bool:
        """Whether the reading may be published."""
        return self in _PUBLISHED


_PUBLISHED = frozenset(
    {Verdict.ACCEPTED, Verdict.COUNTER_RESTARTED, Verdict.REGISTERS_RESET}
)


def registers_of(reading: Reading) -> dict[str, float]:
    """The cumulative registers of a reading that never go down."""
    return {
        obis: meter_value.value
        for obis, meter_value in reading.values.items()
        if meter_value.unit in REGISTER_UNITS and obis not in SIGNED_REGISTERS
    }


class ReadingGuard:
    """All rules for the readings of one meter, one verdict per reading."""

    def __init__(self, meter_id: str | None = None) -> None:
        """Create a guard; ``meter_id`` set drops readings of other meters.

        ``meter_id`` is a :attr:`~.identity.MeterIdentity.meter_id`.
        """
        self._meter_id = meter_id or None
        self.counter = InvocationCounterGuard()
        self.registers = RegisterGuard()

    @property
    def last_invocation_counter(self) -> int | None:
        """The invocation counter of the last accepted reading."""
        return self.counter.last_counter

    def check(self, reading: Reading, now: float) -> Verdict:
        """Decide about one reading and remember the decision.

        Args:
            reading: a decoded reading.
            now: seconds since the epoch.
        """
        if self._meter_id is not None:
            identity = reading.identity
            if identity.identifies_meter and identity.meter_id != self._meter_id:
                return Verdict.FOREIGN_METER
        counter = self.counter.check(reading.invocation_counter)
        if counter is CounterVerdict.REPLAYED:
            return Verdict.REPLAYED
        check = self.registers.judge(registers_of(reading), now)
        if check.reset:
            return Verdict.REGISTERS_RESET
        if check.decreased:
            return Verdict.REGISTER_DECREASED
        if check.implausible:
            return Verdict.REGISTER_IMPLAUSIBLE
        return (
            Verdict.COUNTER_RESTARTED
            if counter is CounterVerdict.RESTARTED
            else Verdict.ACCEPTED
        )

    def snapshot(self) -> dict[str, Any]:
        """The state worth keeping across restarts, as JSON-compatible data."""
        return {
            "invocation_counter": self.counter.last_counter,
            "registers": self.registers.snapshot(),
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Continue from a :meth:`snapshot`; anything malformed is ignored."""
        counter = snapshot.get("invocation_counter")
        if isinstance(counter, int) and not isinstance(counter, bool):
            self.counter.last_counter = counter
        registers = snapshot.get("registers")
        if isinstance(registers, dict):
            self.registers.restore(registers)
