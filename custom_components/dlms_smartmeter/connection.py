"""Opening the meter's port and listening to it for a short while.

Used by the config flow (test before configure, reauth, reconfigure) and by
the coordinator. Everything here is asynchronous; ``serialx`` resolves URLs
and opens device files without blocking the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, cast, override

import serialx

from .const import LOGGER
from .dlms import (
    AuthenticationError,
    DecryptionError,
    DlmsError,
    MalformedPayloadError,
    MeterDecoder,
    Reading,
    UnsupportedError,
    UnsupportedPayloadError,
)

if TYPE_CHECKING:
    from collections.abc import Callable

SERIAL_ERRORS: Final = (OSError, serialx.SerialException, TimeoutError)
"""What opening or reading a port raises (serialx's own error is no OSError)."""

OPEN_TIMEOUT: Final = 10.0
"""Seconds to wait for a port or network connection to open."""

PROBE_FAILED_FRAMES: Final = 3
"""Valid frames without a reading after which a probe gives up early."""

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


class ProbeError(Exception):
    """Listening to the meter did not produce a reading.

    ``reason`` is the config flow's error key that tells the user what to check.
    """

    reason = "unknown"


class CannotConnectError(ProbeError):
    """The port cannot be opened (missing, busy, refused)."""

    reason = "cannot_connect"


class NoDataError(ProbeError):
    """The port opened but not a single byte arrived."""

    reason = "no_data"


class NoValidFramesError(ProbeError):
    """Bytes arrived but none formed a valid frame."""

    reason = "no_valid_frames"


class InvalidKeyError(ProbeError):
    """Frames arrived but do not decrypt with the encryption key."""

    reason = "invalid_key"


class InvalidAuthenticationKeyError(ProbeError):
    """Frames arrived but their authentication tag does not verify."""

    reason = "invalid_authentication_key"


class UnsupportedMeterError(ProbeError):
    """Frames decrypt, but the payload layout is unknown."""

    reason = "unsupported_meter"


class _Probe:
    """Feeds bytes into a decoder until the first reading or a clear failure."""

    def __init__(self, encryption_key: bytes, authentication_key: bytes | None) -> None:
        self.decoder = MeterDecoder(encryption_key, authentication_key)
        self.transport: serialx.BaseSerialTransport | None = None
        """Where protocol-required answers go, once the port is open."""
        self.bytes_received = 0
        self.failed_frames = 0
        self.authentication_failures = 0
        self.decryption_failures = 0
        self.unsupported = 0
        self.first_unsupported: DlmsError | None = None
        """The first frame that decrypted but is not supported, for the log."""
        self.done: asyncio.Future[Reading] = asyncio.get_running_loop().create_future()

    def feed(self, data: bytes) -> None:
        if self.done.done():
            return
        self.bytes_received += len(data)
        items = self.decoder.feed(data)
        self.send_replies()
        for item in items:
            if isinstance(item, Reading):
                self.done.set_result(item)
                return
            if isinstance(item, AuthenticationError):
                self.authentication_failures += 1
            elif isinstance(item, DecryptionError):
                self.decryption_failures += 1
            elif isinstance(item, (UnsupportedError, MalformedPayloadError)):
                self.unsupported += 1
                if self.first_unsupported is None:
                    self.first_unsupported = item
                if isinstance(item, UnsupportedPayloadError):
                    LOGGER.debug(
                        "Decrypted payload with an unknown layout: %s",
                        item.plaintext.hex(),
                    )
                else:
                    LOGGER.debug("Frame not supported: %s", item)
            else:
                continue
            self.failed_frames += 1
            if self.failed_frames >= PROBE_FAILED_FRAMES:
                self.done.set_exception(self.failure())
                return

    def send_replies(self) -> None:
        """Send what the protocol requires (AMIS: E5), directly on the transport."""
        if self.transport is not None:
            replies = self.decoder.pop_replies()
            if replies:
                self.transport.write(replies)

    def failure(self) -> ProbeError:
        """The most specific explanation of why no reading arrived."""
        if self.authentication_failures:
            return InvalidAuthenticationKeyError()
        if self.decryption_failures:
            return InvalidKeyError()
        if self.unsupported:
            return UnsupportedMeterError()
        if self.bytes_received:
            return NoValidFramesError()
        return NoDataError()


async def async_probe(
    settings: LineSettings,
    encryption_key: bytes,
    authentication_key: bytes | None,
    listen_time: float,
) -> Reading:
    """Open the port, listen up to ``listen_time`` seconds, return the first reading.

    Raises a ``ProbeError`` subclass that says what went wrong.
    """
    probe = _Probe(encryption_key, authentication_key)
    try:
        transport, protocol = await async_open(settings, probe.feed)
    except SERIAL_ERRORS as err:
        LOGGER.debug("Cannot open %s: %s", redact_port(settings.port), err)
        raise CannotConnectError from err
    probe.transport = transport
    probe.send_replies()  # for bytes that arrived while the port was opening
    try:
        await asyncio.wait(
            (probe.done, protocol.closed),
            timeout=listen_time,
            return_when=asyncio.FIRST_COMPLETED,
        )
        lost = protocol.closed.done()
    finally:
        await async_close(transport)
    error: BaseException | None
    if probe.done.done():
        error = probe.done.exception()
        if error is None:
            return probe.done.result()
    elif lost and not probe.bytes_received:
        error = CannotConnectError()
    else:
        error = probe.failure()
    if isinstance(error, UnsupportedMeterError) and probe.first_unsupported is not None:
        # At the default log level: the form's error asks the user to report
        # what the meter sends. Error messages carry no key material; the
        # payload holds meter values only.
        LOGGER.warning(
            "The frames on %s decrypt, but they are not supported: %s",
            redact_port(settings.port),
            probe.first_unsupported,
        )
    raise error
