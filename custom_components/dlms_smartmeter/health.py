"""How well the line to the meter works, and what it delivered lately.

:class:`LinkHealth` keeps the outcome of every link frame of the last minutes:
valid frames against frames damaged on the line (checksum or framing errors).
Its share of valid frames is what a user watches while turning an optical
head into place; many damaged frames point at the head or the line settings.
:class:`FrameHistory` keeps the last raw frames as received (still encrypted)
for diagnostics. Nothing here imports Home Assistant; time is passed in.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import Final

HEALTH_WINDOW: Final = 300.0
"""Seconds of frame outcomes the share of valid frames looks at."""
HEALTH_MAX_EVENTS: Final = 4096
"""Outcomes kept at most (a meter pushing every second fills 300)."""
DAMAGED_MIN_FRAMES: Final = 10
"""Damaged frames in the window before the line counts as bad."""
DAMAGED_MAX_SHARE: Final = 50
"""Share of valid frames (percent) below which the line counts as bad."""
RECOVERED_MIN_SHARE: Final = 90
"""Share of valid frames (percent) from which a bad line counts as fixed."""
FRAME_HISTORY: Final = 20
"""Raw frames kept for diagnostics."""


class LinkHealth:
    """Valid against damaged frames over a sliding window."""

    def __init__(self, window: float = HEALTH_WINDOW) -> None:
        """Start without any outcome."""
        self._window = window
        self._events: deque[tuple[float, bool]] = deque(maxlen=HEALTH_MAX_EVENTS)
        self._valid = 0
        self._damaged = 0

    def record(self, *, valid: bool, now: float) -> None:
        """Count one frame outcome at ``now`` (seconds)."""
        if len(self._events) == self._events.maxlen:
            self._forget(self._events[0][1])
        self._events.append((now, valid))
        if valid:
            self._valid += 1
        else:
            self._damaged += 1
        self.expire(now)

    def expire(self, now: float) -> None:
        """Drop outcomes older than the window."""
        while self._events and self._events[0][0] < now - self._window:
            self._forget(self._events.popleft()[1])

    @property
    def valid_frames(self) -> int:
        """Valid frames in the window."""
        return self._valid

    @property
    def damaged_frames(self) -> int:
        """Frames damaged on the line in the window."""
        return self._damaged

    @property
    def valid_share(self) -> int | None:
        """Percentage of valid frames in the window; ``None`` without frames."""
        total = self._valid + self._damaged
        if not total:
            return None
        return round(100 * self._valid / total)

    @property
    def bad(self) -> bool:
        """Many frames are damaged: the head or the line settings need a look."""
        share = self.valid_share
        return (
            self._damaged >= DAMAGED_MIN_FRAMES
            and share is not None
            and share < DAMAGED_MAX_SHARE
        )

    @property
    def good(self) -> bool:
        """Frames arrive and nearly all are valid."""
        share = self.valid_share
        return share is not None and share >= RECOVERED_MIN_SHARE

    def _forget(self, valid: bool) -> None:  # noqa: FBT001 - mirrors an event
        if valid:
            self._valid -= 1
        else:
            self._damaged -= 1


class FrameHistory:
    """The last raw frames as received, with the time they arrived."""

    def __init__(self, size: int = FRAME_HISTORY) -> None:
        """Keep up to ``size`` frames."""
        self._frames: deque[tuple[float, bytes]] = deque(maxlen=size)

    def add(self, raw: bytes, now: float) -> None:
        """Remember one frame received at ``now`` (seconds since the epoch)."""
        if raw:
            self._frames.append((now, raw))

    def as_list(self) -> list[dict[str, str]]:
        """Oldest first, as hex, for diagnostics."""
        return [
            {
                "received": datetime.fromtimestamp(now, UTC).isoformat(),
                "hex": raw.hex(),
            }
            for now, raw in self._frames
        ]
