"""Encoding of readings into push frames: the decoder's pipeline run backwards.

A :class:`Reading` becomes the notification body of its layout (or a DSMR
telegram), then a data-notification, then optionally a general-glo-ciphering
APDU, optionally split into general-block-transfer blocks, and finally
link-layer frames. The meter simulator, the tests and the command-line tool
build their frames here.

Values are encoded the way the meters send them: positional layouts carry
whole numbers in Wh, varh, W and var; OBIS-tagged layouts choose the scaler
per quantity as the meters do (voltage -1, current -2, power factor -3,
frequency -2, everything else 0) and fall back to another scaler, or to a
float, only when a value is not representable with that scaler. A reading
that a layout cannot carry raises ``ValueError`` naming the problem.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import TYPE_CHECKING, Final

from .apdu import (
    ApduTag,
    encode_data_notification,
    encode_general_block_transfer,
    encode_general_glo_ciphering,
)
from .body import ClockStyle
from .cosem_time import writing_zone
from .framing import LinkLayer, encode_link
from .layouts import Layout, layout_of, spec_of
from .layouts.values import clock_bytes
from .reading import SecurityLevel
from .security import SC_AUTHENTICATED, SC_ENCRYPTED

if TYPE_CHECKING:
    from datetime import datetime

    from .reading import Reading

METER_ZONE: Final = writing_zone()
"""Time zone of the clocks of Austrian meters (Europe/Vienna)."""

_SECURITY_CONTROLS: Final = {
    SecurityLevel.NONE: None,
    SecurityLevel.ENCRYPTED: SC_ENCRYPTED,
    SecurityLevel.AUTHENTICATED: SC_AUTHENTICATED,
}


def usual_link(layout: Layout) -> LinkLayer:
    """The link layer the meters of ``layout`` use (M-Bus, raw APDU or HDLC)."""
    return spec_of(layout).link


def hdlc_addresses(layout: Layout) -> tuple[bytes, bytes]:
    """``(client, server)`` HDLC addresses the meters of ``layout`` push with."""
    return spec_of(layout).hdlc_addresses


def transmitted_time(moment: datetime, layout: Layout) -> datetime:
    """The meter time of a reading as a decoder reads it back from the wire.

    Cut to hundredths of a second (to seconds for the E450 layouts and DSMR),
    with the fixed UTC offset the wire carries; E450 layouts carry no offset,
    so their time is in the meter's zone. Equality of aware datetimes in the
    autumn hour that occurs twice depends on the time zones compared (PEP
    495), so comparisons of decoded readings want this form.
    """
    clock = spec_of(layout).clock
    local = moment.astimezone(METER_ZONE)
    local = local.replace(
        microsecond=0
        if clock is not ClockStyle.ZONED
        else local.microsecond // 10_000 * 10_000
    )
    if clock is ClockStyle.LOCAL:
        return local
    offset = local.utcoffset()
    return local.replace(tzinfo=timezone(offset or timedelta(0)))


def encode_notification_body(reading: Reading) -> bytes:
    """The A-XDR notification body of the reading's layout.

    Raises ``ValueError`` when the layout cannot carry the reading (missing or
    extra values, wrong units, values out of range), and for ``dsmr_text``,
    which is no A-XDR body (see :func:`~.dsmr.encode_dsmr_telegram`).
    """
    spec = spec_of(layout_of(reading.layout))
    if not spec.notification:
        raise ValueError(f"layout {spec.layout} has no A-XDR notification body")
    return spec.encode(reading, spec.clock)


def encode_plaintext(reading: Reading, *, invoke_id: int | None = None) -> bytes:
    """The unciphered APDU of a reading: a data-notification or a DSMR telegram.

    ``invoke_id`` defaults to the invocation counter (0 without one), as the
    L+G E450 does; the AM550 sends the counter plus one.
    """
    spec = spec_of(layout_of(reading.layout))
    if not spec.notification:
        return spec.encode(reading, spec.clock)
    if invoke_id is None:
        invoke_id = reading.invocation_counter or 0
    date_time = (
        None
        if reading.meter_time is None
        else clock_bytes(reading.meter_time, spec.clock)
    )
    return encode_data_notification(
        spec.encode(reading, spec.clock), invoke_id=invoke_id, date_time=date_time
    )


def encode_apdu(
    reading: Reading,
    *,
    encryption_key: bytes | None,
    authentication_key: bytes | None = None,
    security_control: int | None = None,
    invoke_id: int | None = None,
) -> bytes:
    """The APDU of a reading: plain ``0F`` or a general-glo-ciphering ``DB``.

    ``security_control`` defaults to what ``reading.security`` says: none
    (a plain data-notification), 0x20 (encrypted) or 0x30 (authenticated).
    """
    if security_control is None:
        security_control = _SECURITY_CONTROLS[reading.security]
    plaintext = encode_plaintext(reading, invoke_id=invoke_id)
    if security_control is None:
        if not spec_of(layout_of(reading.layout)).notification:
            raise ValueError("DSMR telegrams are only sent inside a ciphered APDU")
        return plaintext
    if encryption_key is None:
        raise ValueError("an encrypted reading needs an encryption key")
    if reading.invocation_counter is None:
        raise ValueError("an encrypted reading needs an invocation counter")
    return encode_general_glo_ciphering(
        plaintext,
        system_title=reading.system_title,
        invocation_counter=reading.invocation_counter,
        encryption_key=encryption_key,
        authentication_key=authentication_key,
        security_control=security_control,
    )


def encode_reading(  # noqa: PLR0913 - every option of a push is a keyword
    reading: Reading,
    *,
    encryption_key: bytes | None,
    authentication_key: bytes | None = None,
    security_control: int | None = None,
    link: LinkLayer = LinkLayer.HDLC,
    block_size: int | None = None,
    max_information: int | None = None,
    invoke_id: int | None = None,
    addresses: tuple[bytes, bytes] | None = None,
) -> bytes:
    """Wire bytes of a reading, ready for :meth:`MeterDecoder.feed`.

    Args:
        reading: What to send. ``reading.layout`` picks the notification
            body, ``reading.security`` the default security, and
            ``system_title``/``invocation_counter`` go into the ciphering
            header (a plain reading has neither).
        encryption_key: The 16-byte key; ``None`` only for plain readings.
        authentication_key: The 16-byte key, needed with security control
            0x3n.
        security_control: Overrides the security control byte that
            ``reading.security`` implies (0x20 encrypted, 0x30
            authenticated, none for plain); e.g. 0x21 as KSM West sends it.
        link: HDLC (default), M-Bus, raw APDU, or AUTO for the link the
            layout's meters use.
        block_size: Split the APDU into general-block-transfer blocks of this
            many bytes, each in its own link frame (the E450 style).
        max_information: HDLC: segment information fields longer than this.
            M-Bus: user-data bytes per segment (default 245).
        invoke_id: The data-notification's long-invoke-id (default: the
            invocation counter).
        addresses: ``(client, server)`` HDLC addresses; default: those of
            the layout's meters.

    Raises:
        ValueError: The reading cannot be sent in its layout, or a key or
            option is missing or invalid (messages never contain keys).

    """
    layout = layout_of(reading.layout)
    if link is LinkLayer.AUTO:
        link = usual_link(layout)
    apdu = encode_apdu(
        reading,
        encryption_key=encryption_key,
        authentication_key=authentication_key,
        security_control=security_control,
        invoke_id=invoke_id,
    )
    if link is LinkLayer.APDU and (
        block_size is not None or apdu[0] != ApduTag.GENERAL_GLO_CIPHERING
    ):
        # A reader finds a raw APDU by its ciphering header only.
        raise ValueError(
            "without a link layer only a ciphered APDU can be sent, and not in "
            "general-block-transfer blocks"
        )
    payloads = (
        [apdu]
        if block_size is None
        else encode_general_block_transfer(apdu, block_size)
    )
    return encode_link(
        payloads,
        link=link,
        max_information=max_information,
        addresses=addresses or hdlc_addresses(layout),
    )
