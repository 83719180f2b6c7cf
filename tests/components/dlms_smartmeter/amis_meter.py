"""A simulated AMIS meter behind a real pseudo-terminal, on an explicit clock.

The meter's clock only moves when the meter has something to do: it jumps to
the next search request or data telegram at once, so a one-minute search
interval costs no real time. After each transmission the driver waits for
the reader's answer (a search request only briefly: the reader may not have
opened the port yet) and hands it to the meter unless the answers are cut
off (``acks_reach_meter``: the head's transmitter blocked or removed).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
import os
from typing import TYPE_CHECKING, Final

from custom_components.dlms_smartmeter.dlms.amis_simulator import (
    AmisMeterEmulator,
    AmisState,
)

from .meter import PtyMeter, make_simulator

if TYPE_CHECKING:
    from pathlib import Path

AMIS_KEY: Final = bytes.fromhex("4F2A8C17D3E05B6920A1C4F7E8D39B52")
AMIS_START: Final = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
_SEARCH_ANSWER_WAIT: Final = 0.1
_DATA_ANSWER_WAIT: Final = 2.0


class PtyAmisMeter(PtyMeter):
    """The meter side of an AMIS session on a pseudo-terminal.

    The pty handling is the push meter's; its frame simulator stays unused.
    """

    def __init__(self, link: Path) -> None:
        super().__init__(link, make_simulator())
        self.emulator = AmisMeterEmulator(AMIS_KEY, start=AMIS_START)
        self.acks_reach_meter = True
        self.reader_bytes = bytearray()
        """Everything the reader wrote, whether or not it reached the meter."""
        self._task: asyncio.Task[None] | None = None

    @property
    def state(self) -> AmisState:
        """What the meter is doing."""
        return self.emulator.state

    def start(self) -> None:
        """Let the meter run."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        emulator = self.emulator
        while True:
            now = emulator.next_event
            sent = emulator.tick(now)
            if sent and self.master_fd is not None:
                with contextlib.suppress(BlockingIOError):
                    os.write(self.master_fd, sent)
            searching = emulator.state is AmisState.SEARCHING
            answer = await self._answer(
                _SEARCH_ANSWER_WAIT if searching else _DATA_ANSWER_WAIT
            )
            if answer and self.acks_reach_meter:
                emulator.receive(answer, now)

    async def _answer(self, wait: float) -> bytes:
        """The reader's bytes after a transmission (empty after ``wait`` seconds)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while loop.time() < deadline:
            with contextlib.suppress(BlockingIOError, OSError):
                if self.master_fd is not None and (
                    data := os.read(self.master_fd, 256)
                ):
                    self.reader_bytes += data
                    return data
            await asyncio.sleep(0.005)
        return b""

    def close(self) -> None:
        """Stop the meter and release the pseudo-terminal."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        super().close()
