"""Shared parts of the benchmarks that run the integration in Home Assistant.

The soak and recorder benchmarks are pytest modules: the Home Assistant test
harness (pytest-homeassistant-custom-component) gives them a real ``hass``
with the integration loaded from ``custom_components/``. :func:`run` starts
pytest on such a module from its ``main()``, so each benchmark is one
command. Frames travel through a real pseudo-terminal, as in the tests.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from pathlib import Path
import resource
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Final

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    sys.path.insert(0, str(REPOSITORY))

from tests.components.dlms_smartmeter.meter import PtyMeter, make_simulator  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from freezegun.api import FrozenDateTimeFactory

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )


def run(module: str, settings: Mapping[str, str]) -> int:
    """Run the benchmark module under pytest; ``settings`` go in as variables.

    pytest runs in a child process: the harness must be loaded before any
    Home Assistant module, and this process has imported some already.
    """
    command = [
        sys.executable,
        "-m",
        "pytest",
        module,
        "-q",
        "-s",
        "--no-header",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(REPOSITORY),
        "-c",
        str(REPOSITORY / "pyproject.toml"),
        "-W",
        "ignore::DeprecationWarning",
    ]
    environment = {**os.environ, **settings}
    return subprocess.run(command, env=environment, check=False).returncode  # noqa: S603 - our own interpreter and arguments


class FrameLine:
    """A pty the integration reads, fed frame by frame as fast as it takes them."""

    def __init__(self, link: Path) -> None:
        """Create the pty behind ``link`` (a meter that sends nothing itself)."""
        self._meter = PtyMeter(link, make_simulator())
        self.sent = 0

    @property
    def port(self) -> str:
        """What the integration opens."""
        return self._meter.port

    @property
    def slave_fd(self) -> int:
        """The pty's reading end (for a reader that is not the integration)."""
        fd = self._meter.slave_fd
        if fd is None:
            raise RuntimeError("the line is closed")
        return fd

    async def send(self, frame: bytes) -> None:
        """Write the whole frame; wait while the pty is full."""
        fd = self._meter.master_fd
        if fd is None:
            raise RuntimeError("the line is closed")
        view = memoryview(frame)
        while view:
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                await asyncio.sleep(0)
        self.sent += len(frame)

    def close(self) -> None:
        """Release the pty."""
        self._meter.close()


SECOND: Final = 1.000001
"""How far Home Assistant's frozen clock moves per frame.

A microsecond more than a second: the frozen monotonic clock counts from the
epoch, where a float cannot resolve the nanosecond asyncio adds to decide
that a timer is due, so a timer due exactly on a tick would wait for the
next one.
"""


def wall_clock() -> float:
    """Seconds of real time (Home Assistant's clock is frozen in the benchmarks)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def cpu_clock() -> float:
    """Seconds of CPU time of the whole process (all threads)."""
    return time.clock_gettime(time.CLOCK_PROCESS_CPUTIME_ID)


STALL_SECONDS = 30.0
"""Seconds without progress after which a benchmark gives up."""


async def until(count: Callable[[], int], total: int) -> None:
    """Let the loop run until ``count()`` reaches ``total``.

    Raises ``TimeoutError`` when the count stops growing for ``STALL_SECONDS``.
    """
    last, since = count(), wall_clock()
    while (current := count()) < total:
        if current != last:
            last, since = current, wall_clock()
        elif wall_clock() - since > STALL_SECONDS:
            raise TimeoutError(f"stuck at {current} of {total}")
        await asyncio.sleep(0)


async def while_ticking[T](
    freezer: FrozenDateTimeFactory,
    awaitable: Awaitable[T],
    limit: float = STALL_SECONDS,
) -> T:
    """Await something that waits in real time, the frozen clock running meanwhile.

    The benchmarks freeze Home Assistant's clock and move it one second per
    frame; setting up and closing a port sleeps for a moment, which a clock
    that stands still would never end. Here the clock moves at real speed.
    """
    task = asyncio.ensure_future(awaitable)
    started = last = wall_clock()
    while not task.done():
        now = wall_clock()
        if now - started > limit:
            task.cancel()
            raise TimeoutError(f"still waiting after {limit} s")
        freezer.tick(now - last)
        last = now
        await asyncio.sleep(0)
    return task.result()


async def until_received(coordinator: DlmsSmartMeterCoordinator, total: int) -> None:
    """Let the loop run until the coordinator's decoder has ``total`` bytes."""
    stats = coordinator._decoder.stats  # noqa: SLF001 - read without copying
    await until(lambda: stats.bytes_received, total)


def run_like_home_assistant() -> None:
    """Undo what the test harness does for debugging, inside a running loop.

    The harness runs the event loop in asyncio's debug mode (a traceback for
    every callback, which would dominate the figures) and lets the database
    engine log every statement.
    """
    asyncio.get_running_loop().set_debug(False)
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def collected() -> None:
    """A full garbage collection, so that only live memory is measured."""
    gc.collect()


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(x, y)`` points (0 with fewer than two)."""
    if len(points) < 2:
        return 0.0
    count = len(points)
    mean_x = sum(x for x, _ in points) / count
    mean_y = sum(y for _, y in points) / count
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if not spread:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
