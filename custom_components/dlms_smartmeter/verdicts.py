"""What the guards decided, as counters for diagnostics and lines for the log.

Problems that could repeat with every frame are logged once per entry; what
happens rarely and matters (a restarted counter, confirmed register resets)
is logged each time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final

from .const import LOGGER
from .dlms import UnsupportedPayloadError
from .dlms.guards import Verdict

if TYPE_CHECKING:
    from .dlms import DlmsError, Reading


@dataclass(slots=True)
class MeterCounters:
    """What happened to the readings the decoder produced."""

    frames_ok: int = 0
    replayed_frames: int = 0
    counter_restarts: int = 0
    register_resets: int = 0
    dropped_decreasing_registers: int = 0
    dropped_implausible_registers: int = 0
    foreign_meter_frames: int = 0
    reconnects: int = 0


_COUNTERS: Final = {
    Verdict.ACCEPTED: "frames_ok",
    Verdict.COUNTER_RESTARTED: "counter_restarts",
    Verdict.REGISTERS_RESET: "register_resets",
    Verdict.FOREIGN_METER: "foreign_meter_frames",
    Verdict.REPLAYED: "replayed_frames",
    Verdict.REGISTER_DECREASED: "dropped_decreasing_registers",
    Verdict.REGISTER_IMPLAUSIBLE: "dropped_implausible_registers",
}
"""The counter each verdict adds to (published readings also count as ok)."""

_LOGGED_ONCE: Final = {
    Verdict.FOREIGN_METER: "%s: ignoring frames of a different meter on the port",
    Verdict.REGISTER_DECREASED: (
        "%s: dropped a frame whose energy register went down; a lower value is "
        "taken only when the following frames confirm it"
    ),
    Verdict.REGISTER_IMPLAUSIBLE: (
        "%s: dropped a frame whose energy register jumped implausibly"
    ),
}
_LOGGED_EACH_TIME: Final = {
    Verdict.COUNTER_RESTARTED: (
        "%s: the invocation counter restarted; accepting the new sequence"
    ),
    Verdict.REGISTERS_RESET: (
        "%s: the energy registers restarted lower and the following frames "
        "confirm it; accepting the new values"
    ),
}


class VerdictLog:
    """Counts verdicts and logs them without flooding the log."""

    def __init__(self, name: str) -> None:
        """Start counting for the meter called ``name`` in the log."""
        self.name = name
        self.counters = MeterCounters()
        self._logged: set[str] = set()

    def record(self, verdict: Verdict, reading: Reading) -> None:
        """Count one verdict and log it if it is worth a line."""
        counter = _COUNTERS[verdict]
        setattr(self.counters, counter, getattr(self.counters, counter) + 1)
        if verdict.accepted and verdict is not Verdict.ACCEPTED:
            self.counters.frames_ok += 1
        if verdict in _LOGGED_ONCE:
            self.log_once(verdict, _LOGGED_ONCE[verdict])
        elif verdict in _LOGGED_EACH_TIME:
            LOGGER.warning(_LOGGED_EACH_TIME[verdict], self.name)
        elif verdict is Verdict.REPLAYED:
            LOGGER.debug(
                "%s: dropped frame with invocation counter %s (not increasing)",
                self.name,
                reading.invocation_counter,
            )

    def problem(self, problem: DlmsError) -> None:
        """Log a frame that did not become a reading (key failures aside)."""
        if isinstance(problem, UnsupportedPayloadError):
            # The first one goes to the log at the default level with its
            # decrypted payload (meter values only), so that a user can
            # report it without turning on debug logging.
            self.log_once(
                "unsupported",
                "%s: received a payload layout that is not supported; please "
                "report this decrypted payload: %s",
                problem.plaintext.hex(),
            )
            LOGGER.debug("Unsupported plaintext: %s", problem.plaintext.hex())
        else:
            LOGGER.debug("%s: %s", self.name, problem)

    def log_once(self, problem: str, message: str, *args: object) -> None:
        """A warning the first time ``problem`` occurs, nothing after that."""
        if problem in self._logged:
            return
        self._logged.add(problem)
        LOGGER.warning(message, self.name, *args)

    def as_dict(self) -> dict[str, Any]:
        """The counters as a plain dict."""
        return asdict(self.counters)
