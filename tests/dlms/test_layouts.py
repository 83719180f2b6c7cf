"""Payload layouts (detection by shape, scalers, units) and DSMR telegrams."""

from __future__ import annotations

from datetime import datetime
import math
import struct

import pytest

from custom_components.dlms_smartmeter.dlms.apdu import parse_data_notification
from custom_components.dlms_smartmeter.dlms.axdr import Data, decode_data
from custom_components.dlms_smartmeter.dlms.crc import crc16_arc
from custom_components.dlms_smartmeter.dlms.dsmr import (
    check_telegram,
    looks_like_telegram,
    parse_telegram,
)
from custom_components.dlms_smartmeter.dlms.errors import (
    MalformedPayloadError,
    UnsupportedPayloadError,
)
from custom_components.dlms_smartmeter.dlms.layouts import (
    Layout,
    detect_layout,
    map_body,
    scale,
)
from custom_components.dlms_smartmeter.dlms.obis import parse_obis
from custom_components.dlms_smartmeter.dlms.reading import MeterValue, Unit
from tests.data import VECTORS

CLOCK = bytes.fromhex("07e50a1504062c0200ff8880")


# Minimal A-XDR writers for hand-made bodies.
def length(size: int) -> bytes:
    return bytes([size]) if size < 0x80 else b"\x82" + size.to_bytes(2, "big")


def struct_(*items: bytes) -> bytes:
    return b"\x02" + length(len(items)) + b"".join(items)


def array(*items: bytes) -> bytes:
    return b"\x01" + length(len(items)) + b"".join(items)


def octets(value: bytes) -> bytes:
    return b"\x09" + length(len(value)) + value


def u32(value: int) -> bytes:
    return b"\x06" + value.to_bytes(4, "big")


def u16(value: int) -> bytes:
    return b"\x12" + value.to_bytes(2, "big")


def i16(value: int) -> bytes:
    return b"\x10" + value.to_bytes(2, "big", signed=True)


def i8(value: int) -> bytes:
    return b"\x0f" + value.to_bytes(1, "big", signed=True)


def enum(value: int) -> bytes:
    return b"\x16" + bytes([value])


def f32(value: float) -> bytes:
    return b"\x17" + struct.pack(">f", value)


def obis(code: str) -> bytes:
    return octets(parse_obis(code))


def body(encoded: bytes) -> Data:
    return decode_data(encoded)


def plaintext_body(vector_id: str) -> tuple[bytes, Data]:
    plaintext = bytes.fromhex(VECTORS[vector_id]["plaintext_hex"])
    return plaintext, parse_data_notification(plaintext).body


# --- scalers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "scaler", "expected"),
    [
        (2337, -1, 233.7),
        (991, -3, 0.991),
        (165, -2, 1.65),
        (12937, 0, 12937),
        (5, 3, 5000),
        (1.5, 1, 15.0),
        (1.5, -1, 0.15),
    ],
)
def test_scale(raw: float, scaler: int, expected: float) -> None:
    result = scale(raw, scaler)
    assert result == pytest.approx(expected, abs=1e-12)
    assert type(result) is type(expected)


def test_negative_scaler_rounds_to_its_decimals() -> None:
    assert scale(2337, -1) == 233.7  # not 233.70000000000002
    assert repr(scale(273, -2)) == "2.73"


# --- layouts from the verified plaintexts ----------------------------------------


@pytest.mark.parametrize(
    ("vector_id", "layout", "serial"),
    [
        ("WN-AM550-1", Layout.WIENER_NETZE, None),
        ("WN-AM550-4-pocki", Layout.WIENER_NETZE, None),
        ("WN-IM350-1", Layout.WIENER_NETZE_IM350, "SMS1030788000020"),
        ("WN-E450-1", Layout.WIENER_NETZE, None),
        ("KN-AM550-1", Layout.P1_POSITIONAL, "1121273201353"),
        ("SMS-IM350-1", Layout.P1_POSITIONAL, "2221202033801"),
        ("WELS-IM350-1", Layout.P1_POSITIONAL, "18037098"),
        ("E450-GBT-1", Layout.OBIS_PAIRS, None),
        ("E450-GBT-3-zero-key", Layout.SELF_DESCRIBING, "56815930"),
        ("BGLD-E450-1", Layout.BURGENLAND, "30137181"),
        ("NOE-KAIFA-DOC", Layout.OBIS_FLAT_TRIPLES, "181220000009"),
        ("TINETZ-KAIFA-DOC", Layout.OBIS_TRIPLES, "1KFM0100000035"),
        ("SBG-KAIFA-PLAIN", Layout.OBIS_TRIPLES, "1KFM0200234804"),
        ("ISKRA550-SEG-PLAIN", Layout.OBIS_TRIPLES, "84895126"),
    ],
)
def test_layout_detected_by_shape(
    vector_id: str, layout: Layout, serial: str | None
) -> None:
    plaintext, data = plaintext_body(vector_id)
    result = map_body(data, plaintext)
    assert result.layout is layout
    assert detect_layout(data) is layout
    assert result.serial_number == serial
    # Only the Burgenland and the Iskra push carry no clock in their body.
    assert (result.clock is None) == (
        vector_id in {"BGLD-E450-1", "ISKRA550-SEG-PLAIN"}
    )


def test_body_clocks() -> None:
    _, data = plaintext_body("KN-AM550-1")  # separate time and date elements
    clock = map_body(data).clock
    assert clock is not None
    assert clock.isoformat() == "2021-03-25T19:01:14+01:00"
    _, data = plaintext_body("WN-E450-1")  # body clock with status 0x01 (invalid)
    clock = map_body(data).clock
    assert clock is not None
    assert clock.isoformat() == "2021-11-03T04:56:57+01:00"
    _, data = plaintext_body("NOE-KAIFA-DOC")  # clock without OBIS code
    clock = map_body(data).clock
    assert clock is not None
    assert clock.isoformat() == "2021-09-27T09:47:15+02:00"


def test_self_describing_values_follow_the_descriptors() -> None:
    _, data = plaintext_body("E450-GBT-3-zero-key")
    result = map_body(data)
    assert result.values == {
        "1-0:1.7.0": MeterValue(0, Unit.WATT),
        "1-0:2.7.0": MeterValue(0, Unit.WATT),
        "1-0:1.8.0": MeterValue(49805, Unit.WATT_HOUR),
        "1-0:2.8.0": MeterValue(0, Unit.WATT_HOUR),
        "1-0:3.7.0": MeterValue(0, Unit.VAR),
        "1-0:4.7.0": MeterValue(0, Unit.VAR),
        "1-0:3.8.0": MeterValue(4697, Unit.VAR_HOUR),
        "1-0:4.8.0": MeterValue(58267, Unit.VAR_HOUR),
        "1-0:31.7.0": MeterValue(0.0, Unit.AMPERE),
        "1-0:51.7.0": MeterValue(0.0, Unit.AMPERE),
        "1-0:71.7.0": MeterValue(0.0, Unit.AMPERE),
        "1-0:32.7.0": MeterValue(234, Unit.VOLT),
        "1-0:52.7.0": MeterValue(0, Unit.VOLT),
        "1-0:72.7.0": MeterValue(0, Unit.VOLT),
    }
    clock = result.clock
    assert clock is not None
    assert clock.isoformat() == "2023-10-12T14:05:40+02:00"


def test_burgenland_values() -> None:
    _, data = plaintext_body("BGLD-E450-1")
    values = map_body(data).values
    assert values["1-0:32.7.0"] == MeterValue(236, Unit.VOLT)
    assert values["1-0:52.7.0"] == MeterValue(237, Unit.VOLT)
    assert values["1-0:31.7.0"] == MeterValue(0.0, Unit.AMPERE)
    assert values["1-0:51.7.0"] == MeterValue(0.04, Unit.AMPERE)
    assert values["1-0:71.7.0"] == MeterValue(0.26, Unit.AMPERE)
    assert values["1-0:1.7.0"] == MeterValue(29, Unit.WATT)
    assert values["1-0:1.8.0"] == MeterValue(31358606, Unit.WATT_HOUR)
    assert values["1-0:2.8.0"] == MeterValue(7619, Unit.WATT_HOUR)
    assert values["1-0:81.7.4"] == MeterValue(400, Unit.DEGREE)
    assert values["1-0:81.7.15"] == MeterValue(53, Unit.DEGREE)
    assert values["1-0:81.7.26"] == MeterValue(295, Unit.DEGREE)
    assert len(values) == 13


def test_power_factor_is_scaled_and_unitless() -> None:
    plaintext, data = plaintext_body("NOE-SAG-2")
    values = map_body(data, plaintext).values
    assert values["1-0:13.7.0"] == MeterValue(0.991, Unit.NONE)
    assert values["1-0:51.7.0"] == MeterValue(2.73, Unit.AMPERE)


# --- hand-made bodies: shapes, units, absent values -------------------------------


def wn_body(*, count: int = 8, first: bytes = octets(CLOCK)) -> bytes:
    return struct_(first, *(u32(index) for index in range(count)))


def test_wiener_netze_shape_is_exact() -> None:
    assert detect_layout(body(wn_body())) is Layout.WIENER_NETZE
    assert detect_layout(body(wn_body(count=7))) is None
    assert detect_layout(body(wn_body(first=octets(b"x" * 11)))) is None
    with_u16 = struct_(octets(CLOCK), *(u32(1) for _ in range(7)), u16(1))
    assert detect_layout(body(with_u16)) is None


def test_wiener_netze_unusable_clock_is_absent_not_fatal() -> None:
    result = map_body(body(wn_body(first=octets(b"\xff" * 12))))
    assert result.layout is Layout.WIENER_NETZE
    assert result.clock is None
    assert result.values["1-0:1.8.0"] == MeterValue(0, Unit.WATT_HOUR)
    assert result.values["1-0:4.7.0"] == MeterValue(7, Unit.VAR)


def test_im350_meter_id_must_be_text() -> None:
    good = struct_(octets(b"SMS1030788000020"), octets(CLOCK), *(u32(1),) * 8)
    assert detect_layout(body(good)) is Layout.WIENER_NETZE_IM350
    binary = struct_(octets(b"\x00\x01"), octets(CLOCK), *(u32(1),) * 8)
    assert detect_layout(body(binary)) is None
    not_octets = struct_(u32(1), octets(CLOCK), *(u32(1),) * 8)
    assert detect_layout(body(not_octets)) is None


def p1_body(*, push_list: bytes = obis("0-6:25.9.0"), trailer: int = 2) -> bytes:
    return struct_(
        push_list,
        octets(b"18037098"),
        octets(bytes.fromhex("0a081700")),
        octets(bytes.fromhex("07e5051303")),
        *(u32(value) for value in range(1, 7)),
        *(octets(b"") for _ in range(trailer)),
    )


def test_p1_positional_shapes() -> None:
    assert detect_layout(body(p1_body(trailer=0))) is Layout.P1_POSITIONAL
    result = map_body(body(p1_body()))
    assert result.layout is Layout.P1_POSITIONAL
    assert result.values == {
        "1-0:1.8.0": MeterValue(1, Unit.WATT_HOUR),
        "1-0:2.8.0": MeterValue(2, Unit.WATT_HOUR),
        "1-0:3.8.0": MeterValue(3, Unit.VAR_HOUR),
        "1-0:4.8.0": MeterValue(4, Unit.VAR_HOUR),
        "1-0:1.7.0": MeterValue(5, Unit.WATT),
        "1-0:2.7.0": MeterValue(6, Unit.WATT),
    }
    clock = result.clock
    assert clock is not None
    assert clock.isoformat() == "2021-05-19T10:08:23+02:00"
    # Another object than a push setup in front: not this layout.
    other = body(p1_body(push_list=obis("1-0:1.8.0")))
    assert detect_layout(other) is None
    assert detect_layout(body(p1_body(push_list=octets(b"\x00" * 5)))) is None


def test_obis_flat_triples_apply_scalers_and_units() -> None:
    data = body(
        struct_(
            octets(CLOCK),
            obis("1-0:32.7.0"),
            u16(2337),
            struct_(i8(-1), enum(35)),
            obis("1-0:13.7.0"),
            i16(-991),
            struct_(i8(-3), enum(255)),
            obis("1-0:1.8.0"),
            u32(12937),
            struct_(i8(0), enum(30)),
            obis("1-0:14.7.0"),
            u16(5001),
            struct_(i8(-2), enum(44)),
            obis("1-0:9.7.0"),
            u16(7),
            struct_(i8(0), enum(99)),
            octets(b"181220000009"),
        )
    )
    result = map_body(data)
    assert result.layout is Layout.OBIS_FLAT_TRIPLES
    assert result.values == {
        "1-0:32.7.0": MeterValue(233.7, Unit.VOLT),
        "1-0:13.7.0": MeterValue(-0.991, Unit.NONE),
        "1-0:1.8.0": MeterValue(12937, Unit.WATT_HOUR),
        "1-0:14.7.0": MeterValue(50.01, Unit.HERTZ),
        # An unknown unit code keeps the value, without a unit.
        "1-0:9.7.0": MeterValue(7, Unit.NONE),
    }
    assert result.serial_number == "181220000009"
    assert result.clock is not None


def test_obis_pairs_without_units_use_obis_units() -> None:
    data = body(
        struct_(
            octets(CLOCK),
            obis("1-0:1.8.1"),
            u32(3593919),
            obis("1-0:3.7.0"),
            u32(1735),
            obis("1-0:31.7.0"),
            u16(123),
            obis("0-0:96.99.9"),
            u32(5),
        )
    )
    result = map_body(data)
    assert result.layout is Layout.OBIS_PAIRS
    assert result.values == {
        "1-0:1.8.1": MeterValue(3593919, Unit.WATT_HOUR),
        "1-0:3.7.0": MeterValue(1735, Unit.VAR),
        # L+G E450 currents come in 0.01 A when no scaler is sent.
        "1-0:31.7.0": MeterValue(1.23, Unit.AMPERE),
        "0-0:96.99.9": MeterValue(5, Unit.NONE),
    }


def test_obis_triples_mixed_with_flat_clock() -> None:
    data = body(
        struct_(
            obis("0-0:1.0.0"),
            octets(CLOCK),
            struct_(obis("0-0:96.1.0"), octets(b"1KFM0100000035")),
            struct_(obis("0-0:42.0.0"), octets(b"KFM1100100000035")),
            struct_(obis("1-0:32.7.0"), u16(2308), struct_(i8(-1), enum(35))),
            struct_(obis("1-0:31.7.0"), u16(150)),
            struct_(obis("1-0:1.7.0"), f32(float("nan")), struct_(i8(0), enum(27))),
            struct_(obis("1-0:2.7.0"), f32(12.5), struct_(i8(1), enum(27))),
        )
    )
    result = map_body(data)
    assert result.layout is Layout.OBIS_TRIPLES
    assert result.serial_number == "1KFM0100000035"
    clock = result.clock
    assert clock is not None
    assert clock.isoformat() == "2021-10-21T06:44:02+02:00"
    assert result.values == {
        "1-0:32.7.0": MeterValue(230.8, Unit.VOLT),
        # Without a scaler structure (not an E450 layout): unscaled, OBIS unit.
        "1-0:31.7.0": MeterValue(150, Unit.AMPERE),
        # NaN is not a value: absent rather than published.
        "1-0:2.7.0": MeterValue(125.0, Unit.WATT),
    }


@pytest.mark.parametrize(
    "encoded",
    [
        # A third element that is not {scaler, unit}.
        struct_(struct_(obis("1-0:1.8.0"), u32(1), u32(2))),
        # A flat OBIS followed by a structure instead of a value.
        struct_(obis("1-0:1.8.0"), struct_(u32(1))),
        # No OBIS-tagged register at all.
        struct_(u32(1), u32(2)),
        # Not a container.
        u32(1),
        # An empty structure.
        struct_(),
    ],
)
def test_unknown_shapes_are_unsupported_with_plaintext(encoded: bytes) -> None:
    data = body(encoded)
    assert detect_layout(data) is None
    with pytest.raises(UnsupportedPayloadError, match="not known") as error:
        map_body(data, b"\x0f\x01\x02")
    assert error.value.plaintext == b"\x0f\x01\x02"
    assert "0f0102" in str(error.value)


def test_self_describing_with_captured_scaler_unit() -> None:
    def descriptor(class_id: int, code: bytes, attribute: int) -> bytes:
        return struct_(u16(class_id), code, i8(attribute), u16(0))

    data = body(
        struct_(
            array(
                descriptor(3, obis("1-0:32.7.0"), 2),
                descriptor(3, obis("1-0:32.7.0"), 3),
                descriptor(1, obis("0-0:96.1.0"), 2),
                descriptor(8, obis("0-0:1.0.0"), 2),
                descriptor(1, obis("0-0:96.1.1"), 2),
            ),
            u16(2345),
            struct_(i8(-1), enum(35)),
            octets(b"56815930"),
            octets(CLOCK),
            octets(b"not a number"),
        )
    )
    result = map_body(data)
    assert result.layout is Layout.SELF_DESCRIBING
    assert result.values == {"1-0:32.7.0": MeterValue(234.5, Unit.VOLT)}
    assert result.serial_number == "56815930"
    assert result.clock is not None


@pytest.mark.parametrize(
    "encoded",
    [
        # Descriptor count fits neither all elements nor all but the list.
        struct_(
            array(struct_(u16(3), obis("1-0:1.8.0"), i8(2), u16(0))), u32(1), u32(2)
        ),
        # A descriptor of the wrong shape.
        struct_(array(struct_(u16(3), obis("1-0:1.8.0"), i8(2))), u32(1)),
        struct_(array(struct_(u32(3), obis("1-0:1.8.0"), i8(2), u16(0))), u32(1)),
        # An empty descriptor list.
        struct_(array(), u32(1)),
    ],
)
def test_self_describing_rejects_inconsistent_descriptors(encoded: bytes) -> None:
    assert detect_layout(body(encoded)) is not Layout.SELF_DESCRIBING


# --- DSMR ----------------------------------------------------------------------


def telegram(
    lines: list[str], *, crc: str | None = None, trailer: str = "\r\n"
) -> bytes:
    text = "/EST5\\253717584_A\r\n\r\n" + "".join(f"{line}\r\n" for line in lines) + "!"
    checksum = crc if crc is not None else f"{crc16_arc(text.encode()):04X}"
    return (text + checksum + trailer).encode()


def test_dsmr_values_units_and_time() -> None:
    result = parse_telegram(
        telegram(
            [
                "1-3:0.2.8(50)",
                "0-0:1.0.0(210929114730S)",
                "0-0:96.1.0(3232323241424344)",
                "1-0:1.8.0(014159934*Wh)",
                "1-0:1.8.1(000012.345*kWh)",
                "1-0:1.7.0(01.193*kW)",
                "1-0:3.8.0(000003866*varh)",
                "1-0:3.7.0(00.5*kvar)",
                "1-0:32.7.0(230.1*V)",
                "1-0:31.7.0(001*A)",
                "1-0:99.7.0(5*m3)",
                "1-0:98.7.0(5*Ohm)",
                "0-1:24.2.1(210929114500S)(00012.345*m3)",
                "garbage line",
            ]
        )
    )
    assert result.layout is Layout.DSMR_TEXT
    assert result.values == {
        "1-0:1.8.0": MeterValue(14159934, Unit.WATT_HOUR),
        "1-0:1.8.1": MeterValue(12345, Unit.WATT_HOUR),
        "1-0:1.7.0": MeterValue(1193, Unit.WATT),
        "1-0:3.8.0": MeterValue(3866, Unit.VAR_HOUR),
        "1-0:3.7.0": MeterValue(500, Unit.VAR),
        "1-0:32.7.0": MeterValue(230.1, Unit.VOLT),
        "1-0:31.7.0": MeterValue(1, Unit.AMPERE),
    }
    assert result.serial_number == "2222ABCD"
    assert result.clock == datetime.fromisoformat("2021-09-29T11:47:30+02:00")


def test_dsmr_winter_time_and_plain_serial() -> None:
    result = parse_telegram(
        telegram(["0-0:1.0.0(211229114730W)", "0-0:96.1.0(SAG-123)", "0-0:96.1.1()"])
    )
    assert result.clock == datetime.fromisoformat("2021-12-29T11:47:30+01:00")
    assert result.serial_number == "SAG-123"
    assert result.values == {}


def test_dsmr_unusable_time_is_absent() -> None:
    assert parse_telegram(telegram(["0-0:1.0.0(211329114730W)"])).clock is None
    assert parse_telegram(telegram(["0-0:1.0.0(2113291147)"])).clock is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"EST5", "starts with '/'"),
        (b"/EST5\r\n1-0:1.8.0(1*Wh)\r\n", "no '!' end marker"),
        (telegram([], crc="12"), "does not end in '!' and a CRC"),
        (telegram([], trailer="\r\nextra"), "does not end in '!' and a CRC"),
        (telegram(["1-0:1.8.0(1*Wh)"], crc="0000"), "CRC mismatch"),
    ],
)
def test_dsmr_framing_errors(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedPayloadError, match=message):
        check_telegram(raw)


def test_dsmr_non_ascii_is_rejected() -> None:
    text = "/EST5\r\n1-0:1.8.0(1*Wh)\u00e4\r\n!".encode("latin-1")
    raw = text + f"{crc16_arc(text):04X}".encode()
    with pytest.raises(MalformedPayloadError, match="not ASCII"):
        check_telegram(raw)


def test_dsmr_detection() -> None:
    assert looks_like_telegram(b"/EST5")
    assert not looks_like_telegram(b"\x0f")
    assert not looks_like_telegram(b"")
    # Without a line break after the CRC is fine too.
    assert check_telegram(telegram([], trailer="")).endswith("!")


def test_values_are_never_zero_filled() -> None:
    result = map_body(body(struct_(obis("1-0:1.8.0"), u32(7))))
    assert result.values == {"1-0:1.8.0": MeterValue(7, Unit.WATT_HOUR)}
    assert "1-0:2.8.0" not in result.values
    assert not math.isnan(float(result.values["1-0:1.8.0"].value))


def visible(text: str) -> bytes:
    return b"\x0a" + length(len(text)) + text.encode()


def test_serial_and_clock_registers_of_unexpected_types() -> None:
    # A clock register that is not a date-time, and serial numbers that are a
    # visible-string (used) or a number (ignored).
    data = body(
        struct_(
            struct_(obis("0-0:1.0.0"), u32(5)),
            struct_(obis("0-0:1.0.0"), octets(CLOCK)),
            struct_(obis("0-0:96.1.0"), visible("ABC-1")),
            struct_(obis("0-0:96.1.0"), u32(77)),
            struct_(obis("1-0:1.8.0"), u32(1)),
        )
    )
    result = map_body(data)
    assert result.serial_number == "ABC-1"
    # The first clock register decides, even when unusable.
    assert result.clock is None
    assert result.values == {"1-0:1.8.0": MeterValue(1, Unit.WATT_HOUR)}


def test_first_of_two_clocks_wins() -> None:
    later = bytes.fromhex("07e70a1504062c0200ff8880")
    data = body(
        struct_(
            octets(CLOCK),
            obis("0-0:1.0.0"),
            octets(later),
            obis("1-0:1.8.0"),
            u32(1),
            struct_(i8(0), enum(30)),
        )
    )
    result = map_body(data)
    clock = result.clock
    assert clock is not None
    assert clock.year == 2023  # the tagged register is read before untagged items


@pytest.mark.parametrize(
    "encoded",
    [
        struct_(octets(b"SMS1030788000020"), octets(CLOCK), *(u32(1),) * 7, u16(1)),
        struct_(
            obis("0-6:25.9.0"),
            octets(b"18037098"),
            octets(bytes.fromhex("0a081700")),
            octets(bytes.fromhex("07e5051303")),
            *(u32(1),) * 5,
            u16(1),
        ),
        struct_(
            obis("0-6:25.9.0"),
            octets(b"18037098"),
            octets(bytes.fromhex("0a0817")),
            octets(bytes.fromhex("07e5051303")),
            *(u32(1),) * 6,
        ),
        struct_(*(u16(1),) * 6, *(u32(1),) * 4, *(u16(1),) * 3, u32(1)),
        struct_(*(u16(1),) * 5, u32(1), *(u32(1),) * 4, *(u16(1),) * 3, octets(b"1")),
        struct_(*(u16(1),) * 6, *(u32(1),) * 3, u16(1), *(u16(1),) * 3, octets(b"1")),
        struct_(*(u16(1),) * 6, *(u32(1),) * 4, *(u16(1),) * 2, u32(1), octets(b"1")),
    ],
)
def test_near_miss_positional_shapes_are_not_detected(encoded: bytes) -> None:
    assert detect_layout(body(encoded)) is None
