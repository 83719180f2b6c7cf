"""Round trip of every layout: reading -> encoder -> frames -> decoder -> reading.

Covers every security level (plain, encrypted with SC 0x20/0x21, authenticated
with SC 0x30/0x31, and an authenticated frame read without the authentication
key), every link layer (HDLC with and without segmentation, M-Bus with short
and long segments, raw APDU) and general-block-transfer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
import string
from typing import Any

from hypothesis import given, strategies as st
import pytest

from custom_components.dlms_smartmeter.dlms import (
    DlmsError,
    LinkLayer,
    MeterDecoder,
    MeterValue,
    Reading,
    SecurityLevel,
    Unit,
)
from custom_components.dlms_smartmeter.dlms.encoder import (
    METER_ZONE,
    encode_apdu,
    encode_reading,
    usual_link,
)
from custom_components.dlms_smartmeter.dlms.layouts import (
    LAYOUTS,
    Layout,
    LayoutSpec,
    scale,
)
from custom_components.dlms_smartmeter.dlms.obis import default_unit, format_obis

U16 = st.integers(0, 2**16 - 1)
U32 = st.integers(0, 2**32 - 1)

WN_CODES = [
    ("1-0:1.8.0", Unit.WATT_HOUR),
    ("1-0:2.8.0", Unit.WATT_HOUR),
    ("1-0:3.8.0", Unit.VAR_HOUR),
    ("1-0:4.8.0", Unit.VAR_HOUR),
    ("1-0:1.7.0", Unit.WATT),
    ("1-0:2.7.0", Unit.WATT),
    ("1-0:3.7.0", Unit.VAR),
    ("1-0:4.7.0", Unit.VAR),
]
# Layouts whose meters send neither hundredths nor a deviation, or (DSMR) only
# whole seconds.
WHOLE_SECONDS = {
    Layout.OBIS_PAIRS,
    Layout.SELF_DESCRIBING,
    Layout.BURGENLAND,
    Layout.DSMR_TEXT,
}
# Codes that carry the clock, the meter's identity or the push setup itself.
RESERVED_CODES = {
    "0-0:1.0.0",
    "0-0:96.1.0",
    "0-0:96.1.1",
    "0-0:42.0.0",
    "0-8:25.9.0",
}

# Mostly a FLAG manufacturer id and five binary bytes, as the meters send it.
system_titles = st.one_of(
    st.builds(
        lambda flag, rest: flag.encode() + rest,
        st.text(alphabet=string.ascii_uppercase, min_size=3, max_size=3),
        st.binary(min_size=5, max_size=5),
    ),
    st.binary(min_size=8, max_size=8),
)
serial_numbers = st.text(
    alphabet=string.ascii_letters + string.digits + string.punctuation + " ",
    min_size=1,
    max_size=20,
).filter(lambda text: text == text.strip())


@st.composite
def meter_times(draw: st.DrawFn, layout: Layout) -> datetime | None:
    """Instants of this century, shown as Vienna local time.

    DSMR telegrams have two-digit years that readers take as 2000-2068.
    """
    if draw(st.integers(0, 15)) == 0:
        return None
    last_year = 2068 if layout is Layout.DSMR_TEXT else 2099
    moment = draw(
        st.datetimes(
            min_value=datetime(2000, 1, 2),  # noqa: DTZ001 - bounds of naive draws
            max_value=datetime(last_year, 12, 30),  # noqa: DTZ001
            timezones=st.just(UTC),
        )
    )
    if draw(st.booleans()):
        # The autumn hour that occurs twice, which only the DST bit tells apart.
        autumn = datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
        moment = autumn + timedelta(seconds=draw(st.integers(0, 7200)))
    hundredths = 0 if layout in WHOLE_SECONDS else draw(st.integers(0, 99))
    return moment.replace(microsecond=hundredths * 10_000).astimezone(METER_ZONE)


@st.composite
def obis_codes(draw: st.DrawFn) -> str:
    code = format_obis(
        bytes(draw(st.lists(st.integers(0, 255), min_size=6, max_size=6)))
    )
    if code in RESERVED_CODES:
        code = "1-0:1.8.0"
    return code


@st.composite
def any_value(draw: st.DrawFn) -> int | float:
    """Integers of any register width, decimals with a scaler, or floats."""
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.integers(-(2**63), 2**64 - 1))
    if kind == 1:
        return scale(draw(st.integers(-(2**31), 2**31 - 1)), draw(st.integers(-9, 0)))
    return draw(st.floats(allow_nan=False, allow_infinity=False))


@st.composite
def generic_values(draw: st.DrawFn) -> dict[str, MeterValue]:
    """OBIS-tagged values with scalers and units on the wire."""
    codes = draw(st.lists(obis_codes(), min_size=1, max_size=25, unique=True))
    units = st.sampled_from(list(Unit))
    return {code: MeterValue(draw(any_value()), draw(units)) for code in codes}


@st.composite
def implied_values(draw: st.DrawFn) -> dict[str, MeterValue]:
    """Values an E450 sends without scalers: the unit follows from the OBIS code."""
    codes = draw(st.lists(obis_codes(), min_size=1, max_size=25, unique=True))
    values: dict[str, MeterValue] = {}
    currents = {"1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0"}
    for code in codes:
        raw = draw(st.integers(-(2**31), 2**32 - 1))
        value = scale(raw, -2) if code in currents else raw
        values[code] = MeterValue(value, default_unit(code) or Unit.NONE)
    return values


@st.composite
def dsmr_values(draw: st.DrawFn) -> dict[str, MeterValue]:
    codes = draw(st.lists(obis_codes(), min_size=1, max_size=25, unique=True))
    units = st.sampled_from(
        [unit for unit in Unit if unit not in {Unit.NONE, Unit.DEGREE}]
    )
    numbers = st.one_of(
        st.integers(0, 10**12),
        st.floats(min_value=0, max_value=1e12, allow_nan=False),
    )
    plain_codes = {code.split("*")[0] for code in codes} - RESERVED_CODES
    return {
        code: MeterValue(draw(numbers), draw(units)) for code in sorted(plain_codes)
    } or {"1-0:1.8.0": MeterValue(draw(numbers), Unit.WATT_HOUR)}


@st.composite
def kaifa_values(draw: st.DrawFn) -> dict[str, MeterValue]:
    """A Norwegian Kaifa list: mA, dV, W, var, Wh and varh as whole numbers."""
    phases = draw(st.sampled_from([1, 3]))
    codes = ["1-0:1.7.0", "1-0:2.7.0", "1-0:3.7.0", "1-0:4.7.0"]
    codes += ["1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0"][:phases]
    codes += ["1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0"][:phases]
    if draw(st.booleans()):
        codes += ["1-0:1.8.0", "1-0:2.8.0", "1-0:3.8.0", "1-0:4.8.0"]
    scalers = {"A": -3, "V": -1}
    values = {}
    for code in codes:
        unit = default_unit(code) or Unit.NONE
        values[code] = MeterValue(scale(draw(U32), scalers.get(unit.value, 0)), unit)
    return values


@st.composite
def layout_values(  # noqa: PLR0911 - one return per layout
    draw: st.DrawFn, layout: Layout
) -> tuple[dict[str, MeterValue], str | None]:
    """Values and serial number a meter of ``layout`` sends."""
    serial = draw(st.none() | serial_numbers)
    match layout:
        case Layout.WIENER_NETZE:
            return {code: MeterValue(draw(U32), unit) for code, unit in WN_CODES}, None
        case Layout.WIENER_NETZE_IM350:
            values = {code: MeterValue(draw(U32), unit) for code, unit in WN_CODES}
            return values, draw(serial_numbers)
        case Layout.P1_POSITIONAL:
            return {
                code: MeterValue(draw(U32), unit) for code, unit in WN_CODES[:6]
            }, serial
        case Layout.BURGENLAND:
            volts = {
                code: MeterValue(draw(U16), Unit.VOLT)
                for code in ("1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0")
            }
            amps = {
                code: MeterValue(scale(draw(U16), -2), Unit.AMPERE)
                for code in ("1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0")
            }
            energy = {
                code: MeterValue(draw(U32), unit)
                for code, unit in WN_CODES
                if code in {"1-0:1.7.0", "1-0:2.7.0", "1-0:1.8.0", "1-0:2.8.0"}
            }
            angles = {
                code: MeterValue(draw(U16), Unit.DEGREE)
                for code in ("1-0:81.7.4", "1-0:81.7.15", "1-0:81.7.26")
            }
            return volts | amps | energy | angles, draw(serial_numbers)
        case Layout.OBIS_FLAT_TRIPLES | Layout.OBIS_TRIPLES | Layout.SELF_DESCRIBING:
            return draw(generic_values()), serial
        case Layout.OBIS_PAIRS:
            return draw(implied_values()), serial
        case Layout.KAIFA_NVE:
            return draw(kaifa_values()), serial
        case Layout.DSMR_TEXT:
            return draw(dsmr_values()), serial
    raise AssertionError(layout)


@dataclass(frozen=True, slots=True)
class Protection:
    """How a frame is protected, and what the decoder knows."""

    security: SecurityLevel
    security_control: int | None
    authentication_key: bytes | None
    decoder_has_authentication_key: bool = True


@st.composite
def protections(draw: st.DrawFn, layout: Layout) -> Protection:
    keys = st.binary(min_size=16, max_size=16)
    choices = ["encrypted", "authenticated", "unchecked"]
    if layout is not Layout.DSMR_TEXT:
        choices.append("plain")
    match draw(st.sampled_from(choices)):
        case "plain":
            return Protection(SecurityLevel.NONE, None, None)
        case "encrypted":
            control = draw(st.sampled_from([0x20, 0x21]))
            return Protection(SecurityLevel.ENCRYPTED, control, None)
        case "authenticated":
            control = draw(st.sampled_from([0x30, 0x31]))
            return Protection(SecurityLevel.AUTHENTICATED, control, draw(keys))
    # An authenticated frame read by a decoder that has no authentication key.
    return Protection(SecurityLevel.ENCRYPTED, 0x30, draw(keys), False)


@st.composite
def readings(draw: st.DrawFn, layout: Layout) -> tuple[Reading, Protection]:
    protection = draw(protections(layout))
    values, serial = draw(layout_values(layout))
    ciphered = protection.security_control is not None
    reading = Reading(
        system_title=draw(system_titles) if ciphered else b"",
        invocation_counter=draw(U32) if ciphered else None,
        security=protection.security,
        meter_time=draw(meter_times(layout)),
        values=values,
        layout=layout,
        serial_number=serial,
    )
    return reading, protection


def _transport(
    data: st.DataObject, apdu_size: int, layout: Layout, *, ciphered: bool
) -> dict[str, Any]:
    """Link layer, segmentation and block transfer options for one frame."""
    links = [LinkLayer.HDLC, LinkLayer.MBUS]
    if ciphered:
        # A reader finds a raw APDU by its ciphering header, which starts with
        # the system title's manufacturer id.
        links.append(LinkLayer.APDU)
    if ciphered or usual_link(layout) is not LinkLayer.APDU:
        links.append(LinkLayer.AUTO)
    link = data.draw(st.sampled_from(links))
    options: dict[str, Any] = {"link": link}
    if link is LinkLayer.AUTO:
        link = usual_link(layout)
    if link is not LinkLayer.APDU and data.draw(st.booleans()):
        options["block_size"] = data.draw(st.integers(max(1, apdu_size // 12), 300))
    message = options.get("block_size", apdu_size) + 8
    if link is LinkLayer.MBUS:
        # At most 16 M-Bus segments per message.
        options["max_information"] = data.draw(
            st.none() | st.integers(max(1, -(-message // 16)), 250)
        )
    elif link is LinkLayer.HDLC:
        options["max_information"] = data.draw(
            st.none() | st.integers(max(1, message // 40), 2000)
        )
    return options


def _round_trip(data: st.DataObject, layout: Layout) -> None:
    reading, protection = data.draw(readings(layout))
    encryption_key = data.draw(st.binary(min_size=16, max_size=16))
    keys: dict[str, Any] = {
        "encryption_key": encryption_key,
        "authentication_key": protection.authentication_key,
        "security_control": protection.security_control,
    }
    apdu = encode_apdu(reading, **keys)
    if protection.security_control is None:
        keys["encryption_key"] = None
    flagged = reading.system_title[:3].isalpha() and reading.system_title[:3].isupper()
    options = _transport(
        data,
        len(apdu),
        layout,
        ciphered=protection.security_control is not None and flagged,
    )
    frames = encode_reading(reading, **keys, **options)

    decoder = MeterDecoder(
        encryption_key,
        protection.authentication_key
        if protection.decoder_has_authentication_key
        else None,
    )
    split = data.draw(st.integers(0, len(frames)))
    outcomes = [*decoder.feed(frames[:split]), *decoder.feed(frames[split:])]
    outcomes += decoder.flush()
    assert [_in_utc(outcome) for outcome in outcomes] == [_in_utc(reading)]
    (decoded,) = outcomes
    assert isinstance(decoded, Reading)
    assert decoded.raw == frames
    assert _in_utc(decoder.decode_apdu(apdu)) == _in_utc(reading)


def _in_utc(outcome: Reading | DlmsError) -> Reading | DlmsError:
    """The reading with its meter time in UTC.

    Aware datetimes in the autumn hour that occurs twice never equal one in
    another time zone (PEP 495); in UTC they compare as instants.
    """
    if isinstance(outcome, Reading) and outcome.meter_time is not None:
        return replace(outcome, meter_time=outcome.meter_time.astimezone(UTC))
    return outcome


@pytest.mark.parametrize("spec", LAYOUTS, ids=lambda spec: spec.layout.value)
@given(data=st.data())
def test_every_layout_round_trips(spec: LayoutSpec, data: st.DataObject) -> None:
    _round_trip(data, spec.layout)


def test_the_registry_has_every_layout_once() -> None:
    assert sorted(spec.layout for spec in LAYOUTS) == sorted(Layout)
