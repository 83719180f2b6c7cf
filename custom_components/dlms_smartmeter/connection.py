"""Listening to the meter's port for a short while (the config flow's check).

Used by the config flow (test before configure, reauth, reconfigure); the
running entry keeps its port open through :mod:`.link`. Everything here is
asynchronous; ``serialx`` resolves URLs and opens device files without
blocking the event loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from .const import LOGGER
from .dlms import (
    AuthenticationError,
    DecryptionError,
    DlmsError,
    MalformedPayloadError,
    MeterDecoder,
    Reading,
    SecurityLevel,
    UnsupportedError,
    UnsupportedPayloadError,
)
from .link import SERIAL_ERRORS, LineSettings, async_close, async_open, redact_port

if TYPE_CHECKING:
    import serialx

PROBE_FAILED_FRAMES: Final = 3
"""Valid frames without a reading after which a probe gives up early."""

BURST_GAP: Final = 0.5
"""Seconds without a byte that end a burst: a meter sends each push at once."""

IDENTIFICATION_WAIT: Final = 12.0
"""Seconds to wait for a push that names the meter after one without
encryption that names none: Norwegian meters send their short list every
2-2.5 s and the list with the meter number every 10 s."""

__all__ = [
    "BURST_GAP",
    "SERIAL_ERRORS",
    "LineSettings",
    "ProbeError",
    "async_close",
    "async_open",
    "async_probe",
    "redact_port",
]


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


class KeyRequiredError(ProbeError):
    """Frames arrived encrypted, and no key was entered."""

    reason = "key_required"


class InvalidAuthenticationKeyError(ProbeError):
    """Frames arrived but their authentication tag does not verify."""

    reason = "invalid_authentication_key"


class UnsupportedMeterError(ProbeError):
    """Frames decrypt, but the payload layout is unknown."""

    reason = "unsupported_meter"


class _Probe:
    """Feeds bytes into a decoder until the first reading or a clear failure."""

    def __init__(
        self,
        encryption_key: bytes | None,
        authentication_key: bytes | None,
        burst_gap: float | None = None,
    ) -> None:
        self.decoder = MeterDecoder(encryption_key, authentication_key)
        self._without_key = encryption_key is None
        self._burst_gap = burst_gap
        self._quiet_timer: asyncio.TimerHandle | None = None
        self._heard_quiet = False
        self._in_burst = False
        self._whole_burst = False
        self._heard_before_burst = 0
        self.bytes_received = 0
        self.replies_sent = 0
        """Writes the meter's protocol asked for (AMIS acknowledgements)."""
        self.failed_frames = 0
        self.authentication_failures = 0
        self.decryption_failures = 0
        self.unsupported = 0
        self.first_unsupported: DlmsError | None = None
        """The first frame that decrypted but is not supported, for the log."""
        self.unnamed: Reading | None = None
        """A push without encryption that names no meter: taken only when no
        push that names the meter follows."""
        self.unnamed_at: float | None = None
        self.done: asyncio.Future[Reading] = asyncio.get_running_loop().create_future()
        self.transport: serialx.BaseSerialTransport | None = None
        """Where the protocol's replies to the meter go, once open."""

    def listening(self) -> None:
        """The port is open: from now on a quiet line is really quiet."""
        self._wait_for_quiet()

    def stop(self) -> None:
        if self._quiet_timer is not None:
            self._quiet_timer.cancel()

    def _wait_for_quiet(self) -> None:
        if self._burst_gap is None:
            return
        self.stop()
        self._quiet_timer = asyncio.get_running_loop().call_later(
            self._burst_gap, self._quiet
        )

    def _quiet(self) -> None:
        """No byte for a burst gap: a burst heard from its start is over."""
        if (
            self._in_burst
            and self._whole_burst
            and self._understood() == self._heard_before_burst
            and not self.done.done()
        ):
            # Wrong line settings: a whole push arrived as bytes that hold
            # no valid frame. Waiting for more pushes would not change that.
            # A burst that had to be answered (a meter that asks before it
            # pushes) was understood, even without a frame that decodes.
            self.done.set_exception(NoValidFramesError())
        self._in_burst = False
        self._heard_quiet = True

    def feed(self, data: bytes) -> None:
        if self.done.done():
            return
        if not self._in_burst:
            self._in_burst = True
            # Bytes right after opening may be the tail of a push.
            self._whole_burst = self._heard_quiet
            self._heard_before_burst = self._understood()
        self._wait_for_quiet()
        self.bytes_received += len(data)
        outcomes = self.decoder.feed(data)
        self.send_replies()
        for item in outcomes:
            if isinstance(item, Reading):
                if (
                    item.security is SecurityLevel.NONE
                    and not item.identity.identifies_meter
                ):
                    if self.unnamed is None:
                        self.unnamed = item
                        self.unnamed_at = asyncio.get_running_loop().time()
                    continue
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

    def _understood(self) -> int:
        """Frames checked and requests answered so far."""
        return self.decoder.stats.frames + self.replies_sent

    def send_replies(self) -> None:
        """Write what the meter's protocol asks for (kept until the port is open)."""
        if self.transport is not None:
            replies = self.decoder.pop_replies()
            if replies:
                self.replies_sent += 1
                self.transport.write(replies)

    def failure(self) -> ProbeError:
        """The most specific explanation of why no reading arrived."""
        if self.authentication_failures:
            return InvalidAuthenticationKeyError()
        if self.decryption_failures:
            return KeyRequiredError() if self._without_key else InvalidKeyError()
        if self.unsupported:
            return UnsupportedMeterError()
        if self.bytes_received:
            return NoValidFramesError()
        return NoDataError()


async def async_probe(
    settings: LineSettings,
    encryption_key: bytes | None,
    authentication_key: bytes | None,
    listen_time: float,
    *,
    burst_gap: float | None = None,
) -> Reading:
    """Open the port, listen up to ``listen_time`` seconds, return the first reading.

    A push without encryption that names no meter is returned only when no
    push that names it follows within :data:`IDENTIFICATION_WAIT`. With
    ``burst_gap``, a burst of bytes heard from its start (after that
    many quiet seconds) that holds no valid frame ends the wait early with
    ``NoValidFramesError``: the line settings are wrong.

    Raises a ``ProbeError`` subclass that says what went wrong.
    """
    probe = _Probe(encryption_key, authentication_key, burst_gap)
    try:
        transport, protocol = await async_open(settings, probe.feed)
    except SERIAL_ERRORS as err:
        LOGGER.debug("Cannot open %s: %s", redact_port(settings.port), err)
        raise CannotConnectError from err
    probe.transport = transport
    probe.send_replies()
    probe.listening()
    waiting = (probe.done, protocol.closed)
    try:
        await asyncio.wait(
            waiting, timeout=listen_time, return_when=asyncio.FIRST_COMPLETED
        )
        if probe.unnamed_at is not None and not any(
            future.done() for future in waiting
        ):
            loop = asyncio.get_running_loop()
            remaining = probe.unnamed_at + IDENTIFICATION_WAIT - loop.time()
            if remaining > 0:
                await asyncio.wait(
                    waiting, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
        lost = protocol.closed.done()
    finally:
        probe.stop()
        await async_close(transport)
    error: BaseException | None
    if probe.done.done():
        error = probe.done.exception()
        if error is None:
            return probe.done.result()
    elif probe.unnamed is not None:
        return probe.unnamed
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
