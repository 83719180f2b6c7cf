"""The meter's port, kept open: reading, writing and reconnecting.

:class:`MeterLink` owns one port (a device path or a ``socket://``,
``rfc2217://`` or ``esphome://`` URL, opened through ``serialx``). It hands
every received chunk to one callback, writes what the meter's protocol
requires, reopens the port with exponential backoff whenever it goes away or
whenever its owner finds the meter silent, and lends the port out for a
while (the config flow probes on it). Nothing here imports Home Assistant.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast, override

import serialx

from .const import (
    CONF_BAUDRATE,
    CONF_PARITY,
    CONF_PORT,
    DEFAULT_BAUDRATE,
    DEFAULT_PARITY,
    LOGGER,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Mapping

SERIAL_ERRORS: Final = (OSError, serialx.SerialException, TimeoutError)
"""What opening or reading a port raises (serialx's own error is no OSError)."""

OPEN_TIMEOUT: Final = 10.0
"""Seconds to wait for a port or network connection to open."""

RECONNECT_MIN_DELAY = 1.0
"""Seconds before the first reconnect attempt; doubles after each failure."""
RECONNECT_MAX_DELAY = 60.0
"""Longest wait between reconnect attempts."""

# serialx knows which URL parameters are secret (an ESPHome proxy's key);
# releases before 1.8 have no such helper.
_REDACT_URI: Callable[[str], str] | None = getattr(serialx, "redact_uri", None)


def redact_port(port: str) -> str:
    """The port or URL for logs and diagnostics, without secret parameters."""
    if _REDACT_URI is not None:
        return _REDACT_URI(port)
    return port.partition("?")[0]


@dataclass(frozen=True, slots=True)
class LineSettings:
    """Where and how to read the meter."""

    port: str
    baudrate: int
    parity: str

    @property
    def redacted_port(self) -> str:
        """The port as it may be logged (secret URL parameters removed)."""
        return redact_port(self.port)

    @classmethod
    def from_entry_data(cls, data: Mapping[str, Any]) -> LineSettings:
        """The line settings stored in a config entry (defaults for old entries)."""
        return cls(
            port=data[CONF_PORT],
            baudrate=int(data.get(CONF_BAUDRATE, DEFAULT_BAUDRATE)),
            parity=data.get(CONF_PARITY, DEFAULT_PARITY),
        )


class MeterProtocol(asyncio.Protocol):
    """Hands received bytes to a callback and reports when the link closes."""

    def __init__(self, on_data: Callable[[bytes], None]) -> None:
        """Create the protocol; ``closed`` resolves when the link goes away."""
        self._on_data = on_data
        self.closed: asyncio.Future[Exception | None] = (
            asyncio.get_running_loop().create_future()
        )

    @override
    def data_received(self, data: bytes) -> None:
        self._on_data(data)

    @override
    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)


async def async_open(
    settings: LineSettings, on_data: Callable[[bytes], None]
) -> tuple[serialx.BaseSerialTransport, MeterProtocol]:
    """Open the port (or URL) and start delivering bytes to ``on_data``.

    Raises one of ``SERIAL_ERRORS`` when the port cannot be opened.
    """
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(OPEN_TIMEOUT):
        transport, protocol = await serialx.create_serial_connection(
            loop,
            lambda: MeterProtocol(on_data),
            settings.port,
            baudrate=settings.baudrate,
            parity=serialx.Parity(settings.parity),
        )
    return transport, cast("MeterProtocol", protocol)


async def async_close(transport: serialx.BaseSerialTransport) -> None:
    """Close a transport and wait until the port is released."""
    transport.close()
    await transport.wait_closed()


def _ignore(_reason: str) -> None:
    """Default for ``on_down``."""


class MeterLink:
    """One port, kept open for as long as its owner runs it.

    ``on_open`` is called after every successful (re)open, ``on_down`` with a
    reason whenever the port is lost or cannot be opened (not when the owner
    closes or lends it on purpose).
    """

    def __init__(
        self,
        settings: LineSettings,
        on_data: Callable[[bytes], None],
        *,
        on_open: Callable[[], None] | None = None,
        on_down: Callable[[str], None] = _ignore,
    ) -> None:
        """Prepare the link; nothing is opened before ``async_open``."""
        self.settings = settings
        self._on_data = on_data
        self._on_open = on_open
        self._on_down = on_down
        self._transport: serialx.BaseSerialTransport | None = None
        self._protocol: MeterProtocol | None = None
        self._task: asyncio.Task[None] | None = None
        self._resume = asyncio.Event()
        self._resume.set()
        self._lock = asyncio.Lock()
        self._restarting = False
        self.backoff = RECONNECT_MIN_DELAY
        """Seconds before the next reopen; back to the minimum on good data."""
        self.bytes_written = 0
        """Bytes written to the meter since the link was created."""

    @property
    def port_name(self) -> str:
        """The port as it may be logged (secret URL parameters removed)."""
        return self.settings.redacted_port

    @property
    def connected(self) -> bool:
        """Whether the port is open."""
        return self._protocol is not None

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The task that keeps the port open, once started."""
        return self._task

    async def async_open(self) -> None:
        """Open the port once; raises one of ``SERIAL_ERRORS``."""
        async with self._lock:
            await self._async_connect()

    def start(
        self,
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]] | None = None,
    ) -> None:
        """Keep the port open from now on; ``spawn`` creates the task."""
        coroutine = self._async_run()
        self._task = (
            spawn(coroutine) if spawn is not None else asyncio.ensure_future(coroutine)
        )

    def write(self, data: bytes) -> None:
        """Send bytes to the meter without waiting (dropped while closed)."""
        if not data:
            return
        transport = self._transport
        if transport is None or transport.is_closing():
            LOGGER.debug("Not connected: %d bytes for the meter dropped", len(data))
            return
        transport.write(data)
        self.bytes_written += len(data)

    def reset_backoff(self) -> None:
        """Data flows: the next reconnect comes quickly again."""
        self.backoff = RECONNECT_MIN_DELAY

    def restart(self) -> None:
        """Close the port; the link opens it again after the backoff."""
        transport = self._transport
        if transport is None:
            return
        self._restarting = True
        transport.close()

    @asynccontextmanager
    async def async_release(self) -> AsyncIterator[None]:
        """Close the port for a while; it is opened again afterwards."""
        self._resume.clear()
        try:
            # Waits for a reconnect in progress, so the port is really free.
            async with self._lock:
                await self._async_disconnect()
            yield
        finally:
            self._resume.set()

    async def async_close(self) -> None:
        """Stop keeping the port open and release it."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._async_disconnect()

    async def _async_connect(self) -> None:
        self._transport, self._protocol = await async_open(self.settings, self._on_data)
        LOGGER.debug("Opened %s", self.port_name)
        if self._on_open is not None:
            self._on_open()

    async def _async_disconnect(self) -> None:
        transport = self._transport
        self._transport = None
        self._protocol = None
        if transport is not None:
            await async_close(transport)

    async def _async_run(self) -> None:
        try:
            while True:
                protocol = self._protocol
                if protocol is None:
                    await self._async_reopen()
                    continue
                error = await protocol.closed
                if self._protocol is protocol:
                    self._transport = None
                    self._protocol = None
                if not self._resume.is_set():
                    # Lent out on purpose.
                    continue
                if self._restarting:
                    LOGGER.debug("Closed %s to open it again", self.port_name)
                else:
                    LOGGER.debug("Connection to %s closed: %s", self.port_name, error)
                    self._on_down(f"connection to {self.port_name} lost")
                self._restarting = False
                await self._async_wait_backoff()
        finally:
            await self._async_disconnect()

    async def _async_reopen(self) -> None:
        await self._resume.wait()
        try:
            async with self._lock:
                if self._resume.is_set() and self._protocol is None:
                    await self._async_connect()
        except SERIAL_ERRORS as err:
            LOGGER.debug("Cannot open %s: %s", self.port_name, err)
            self._on_down(f"cannot open {self.port_name}")
            await self._async_wait_backoff()

    async def _async_wait_backoff(self) -> None:
        await asyncio.sleep(self.backoff)
        self.backoff = min(self.backoff * 2, RECONNECT_MAX_DELAY)
