"""Listening to the meter with one line setting after another.

The config flow's automatic interface choice does not know baud rate and
parity: it listens with the settings of :data:`~.const.AUTO_CANDIDATES` in
turn and stops at the first one that yields valid frames. Wrong settings
turn a push into bytes without a valid frame, which shows after one push
heard from its start; only a silent line is worth the whole wait. An
explicit choice is a search with one setting and the usual wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .connection import (
    BURST_GAP,
    InvalidAuthenticationKeyError,
    InvalidKeyError,
    NoDataError,
    NoValidFramesError,
    ProbeError,
    async_probe,
)
from .link import LineSettings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from .const import LineCandidate
    from .dlms import Reading

TRIED_SEPARATOR: Final = ", "


class LineSearch:
    """Finds the line setting of ``candidates`` at which the meter decodes."""

    def __init__(
        self,
        port: str,
        candidates: Sequence[LineCandidate],
        keys: tuple[bytes | None, bytes | None],
        listen_time: float,
    ) -> None:
        """Prepare a search; ``listen_time`` is the wait of candidates without one."""
        self.port = port
        self.candidates = tuple(candidates)
        self._encryption_key, self._authentication_key = keys
        self._listen_time = listen_time
        self.current = self.candidates[0]
        """The setting listened with now (or last)."""
        self.tried: list[LineCandidate] = []
        self.on_next: Callable[[], Awaitable[None]] | None = None
        """Called when the search moves on to the next setting."""

    @property
    def automatic(self) -> bool:
        """More than one setting to try: wrong ones are left early."""
        return len(self.candidates) > 1

    @property
    def number(self) -> int:
        """Position of the current setting, counting from 1."""
        return self.candidates.index(self.current) + 1

    def wait(self, candidate: LineCandidate) -> float:
        """Seconds to listen with ``candidate`` on a silent line."""
        if candidate.listen_time is None:
            return self._listen_time
        return candidate.listen_time

    def tried_text(self) -> str:
        """The settings listened with, for the form's error message."""
        return TRIED_SEPARATOR.join(str(candidate) for candidate in self.tried)

    async def async_run(self) -> tuple[LineSettings, Reading]:
        """Listen until a setting decodes; raise a ``ProbeError`` otherwise.

        Bytes without a valid frame move on to the next setting. A silent
        line is silent at every setting, so after a silent wait only the
        settings with a longer wait are tried. Any other failure (the port,
        a key, an unknown layout) ends the search: frames arrived, so the
        setting is right and the error says what else to fix.
        """
        silent_for = 0.0
        heard_bytes = False
        for candidate in self.candidates:
            wait = self.wait(candidate)
            if wait <= silent_for:
                continue
            self.current = candidate
            self.tried.append(candidate)
            if len(self.tried) > 1 and self.on_next is not None:
                await self.on_next()
            settings = LineSettings(self.port, candidate.baudrate, candidate.parity)
            try:
                reading = await self._async_probe(settings, wait)
            except NoDataError:
                silent_for = wait
            except NoValidFramesError:
                heard_bytes = True
            else:
                return settings, reading
        if heard_bytes:
            raise NoValidFramesError
        raise NoDataError

    async def _async_probe(self, settings: LineSettings, wait: float) -> Reading:
        try:
            return await async_probe(
                settings,
                self._encryption_key,
                self._authentication_key,
                wait,
                burst_gap=BURST_GAP if self.automatic else None,
            )
        except InvalidAuthenticationKeyError:
            # The tag covers both keys, so a wrong encryption key fails it
            # too (and people swap the two keys): tell which one is wrong.
            if await self._async_encryption_key_rejected(settings, wait):
                raise InvalidKeyError from None
            raise

    async def _async_encryption_key_rejected(
        self, settings: LineSettings, wait: float
    ) -> bool:
        """Whether the frames fail to decrypt with the encryption key alone.

        Without an authentication key the tag is not checked, so the frames
        decrypt exactly when the encryption key is right.
        """
        try:
            await async_probe(settings, self._encryption_key, None, wait)
        except InvalidKeyError:
            return True
        except ProbeError:
            # No verdict (the meter went quiet, say): keep the first finding.
            return False
        return False
