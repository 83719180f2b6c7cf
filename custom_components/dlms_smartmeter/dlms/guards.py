"""Plausibility rules that protect published meter data.

Two guards sit between the decoder and whoever publishes readings:

* :class:`InvocationCounterGuard` drops frames whose invocation counter does
  not increase (a replayed or duplicated frame). A counter that restarts lower
  and then keeps increasing for several frames is accepted as a genuine
  restart, because a meter that was reset or re-keyed starts counting again.
* :class:`RegisterGuard` checks cumulative registers (energy counters). A
  register that goes down is never accepted, and neither is a jump that no
  real installation could consume in the elapsed time: for an energy counter
  used as a ``TOTAL_INCREASING`` statistic either would show up as a huge
  spike in long-term statistics.

Both classes are pure logic without I/O or clocks; time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

RESTART_CONFIRMATION_FRAMES = 5
"""Consecutive increasing frames below the last counter that prove a restart."""

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

    @property
    def ok(self) -> bool:
        """Whether the frame may be published."""
        return not self.decreased and not self.implausible


class RegisterGuard:
    """Keep cumulative registers monotonic and their growth plausible."""

    def __init__(
        self,
        max_rate_per_hour: float = MAX_REGISTER_RATE_PER_HOUR,
        min_window: float = MIN_PLAUSIBILITY_WINDOW,
    ) -> None:
        """Create a guard without a baseline.

        Args:
            max_rate_per_hour: largest plausible growth of a register per hour
                of elapsed time, in the register's unit.
            min_window: seconds of growth that are always allowed.
        """
        self._max_rate_per_second = max_rate_per_hour / 3600.0
        self._min_window = min_window
        self._last: dict[str, tuple[float, float]] = {}

    @property
    def baseline(self) -> dict[str, float]:
        """The last accepted value of each register."""
        return {key: value for key, (value, _) in self._last.items()}

    def check(self, registers: Mapping[str, float], now: float) -> RegisterCheck:
        """Compare registers with the last accepted values; changes nothing.

        Args:
            registers: register values of one frame.
            now: a monotonic timestamp in seconds.
        """
        decreased: list[str] = []
        implausible: list[str] = []
        for key, value in registers.items():
            previous = self._last.get(key)
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

    def accept(self, registers: Mapping[str, float], now: float) -> None:
        """Make these values the new baseline."""
        for key, value in registers.items():
            self._last[key] = (value, now)

    def reset(self) -> None:
        """Forget the baseline."""
        self._last.clear()
