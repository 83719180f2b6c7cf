"""A-XDR decoding, BER lengths, OBIS codes and the data-notification header."""

from __future__ import annotations

import math

import pytest

from custom_components.dlms_smartmeter.dlms.apdu import parse_data_notification
from custom_components.dlms_smartmeter.dlms.axdr import (
    MAX_DEPTH,
    BitString,
    Data,
    DataType,
    decode_data,
    read_data,
    read_length,
)
from custom_components.dlms_smartmeter.dlms.errors import (
    MalformedPayloadError,
    UnsupportedError,
)
from custom_components.dlms_smartmeter.dlms.obis import (
    default_unit,
    format_obis,
    parse_obis,
)
from custom_components.dlms_smartmeter.dlms.reading import Unit

DATE_TIME = bytes.fromhex("07e50a1504062c0200ff8880")


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        ("00", Data(DataType.NULL_DATA, None)),
        ("0300", Data(DataType.BOOLEAN, False)),
        ("03ff", Data(DataType.BOOLEAN, True)),
        ("05fffffffe", Data(DataType.DOUBLE_LONG, -2)),
        ("0600000357", Data(DataType.DOUBLE_LONG_UNSIGNED, 855)),
        ("06ffffffff", Data(DataType.DOUBLE_LONG_UNSIGNED, 0xFFFFFFFF)),
        ("0903414243", Data(DataType.OCTET_STRING, b"ABC")),
        ("0900", Data(DataType.OCTET_STRING, b"")),
        ("0a024869", Data(DataType.VISIBLE_STRING, "Hi")),
        ("0c03c3a46f", Data(DataType.UTF8_STRING, "\u00e4o")),
        ("0d42", Data(DataType.BCD, 0x42)),
        ("0ffd", Data(DataType.INTEGER, -3)),
        ("10fc18", Data(DataType.LONG, -1000)),
        ("11fe", Data(DataType.UNSIGNED, 254)),
        ("1203e8", Data(DataType.LONG_UNSIGNED, 1000)),
        ("14ffffffffffffffff", Data(DataType.LONG64, -1)),
        ("15ffffffffffffffff", Data(DataType.LONG64_UNSIGNED, 2**64 - 1)),
        ("161e", Data(DataType.ENUM, 30)),
        ("173fc00000", Data(DataType.FLOAT32, 1.5)),
        ("18400c000000000000", Data(DataType.FLOAT64, 3.5)),
        ("19" + DATE_TIME.hex(), Data(DataType.DATE_TIME, DATE_TIME)),
        ("1a07e50a1504", Data(DataType.DATE, bytes.fromhex("07e50a1504"))),
        ("1b13010e00", Data(DataType.TIME, bytes.fromhex("13010e00"))),
        ("040ba5e0", Data(DataType.BIT_STRING, BitString(11, b"\xa5\xe0"))),
        ("0400", Data(DataType.BIT_STRING, BitString(0, b""))),
    ],
)
def test_decode_each_type(encoded: str, expected: Data) -> None:
    assert decode_data(bytes.fromhex(encoded)) == expected


def test_visible_string_with_stray_byte_is_shown_not_fatal() -> None:
    data = decode_data(bytes.fromhex("0a0241ff"))
    assert data.value == "A\ufffd"


def test_invalid_utf8_is_malformed() -> None:
    with pytest.raises(MalformedPayloadError, match="not valid UTF-8"):
        decode_data(bytes.fromhex("0c01ff"))


def test_containers_nest_and_expose_items() -> None:
    data = decode_data(bytes.fromhex("0202" + "0102" + "1100" + "1101" + "0f00"))
    assert data.is_structure(2)
    assert not data.is_structure(3)
    assert data.is_container
    array, scaler = data.items
    assert array.type is DataType.ARRAY
    assert [item.value for item in array.items] == [0, 1]
    assert scaler.items == ()
    assert not scaler.is_container


def test_number_only_for_numeric_types() -> None:
    assert decode_data(bytes.fromhex("1203e8")).number == 1000
    assert decode_data(bytes.fromhex("173fc00000")).number == 1.5
    # An enum is a code, a boolean is a flag: neither is a measurement.
    assert decode_data(bytes.fromhex("161e")).number is None
    assert decode_data(bytes.fromhex("03ff")).number is None
    assert decode_data(bytes.fromhex("0900")).number is None


def test_is_octet_string_checks_length() -> None:
    data = decode_data(bytes.fromhex("0903414243"))
    assert data.is_octet_string()
    assert data.is_octet_string(3)
    assert not data.is_octet_string(6)
    assert not decode_data(bytes.fromhex("0a024869")).is_octet_string()


def test_float_nan_decodes() -> None:
    data = decode_data(bytes.fromhex("177fc00000"))
    assert isinstance(data.value, float)
    assert math.isnan(data.value)


@pytest.mark.parametrize(
    ("encoded", "message"),
    [
        ("", "type tag missing at offset 0"),
        ("06000003", "double_long_unsigned at offset 1 needs 4 bytes, only 3 left"),
        ("0905414243", "octet_string at offset 2 needs 5 bytes, only 3 left"),
        ("0a", "length byte missing at offset 1"),
        ("0203" + "1100" + "1101", "type tag missing at offset 6"),
        ("0110" + "00", "type tag missing at offset 3"),
        ("19" + "07e50a", "date_time at offset 1 needs 12 bytes"),
        ("1a07e5", "date at offset 1 needs 5 bytes"),
        ("1b1301", "time at offset 1 needs 4 bytes"),
        ("03", "boolean at offset 1 needs 1 bytes"),
        ("0410ff", "bit-string at offset 2 needs 2 bytes"),
        ("07", "unknown A-XDR type tag 0x07 at offset 0"),
        ("ff", "unknown A-XDR type tag 0xFF"),
        ("0600000357" + "00", "1 unexpected bytes after the data"),
        ("098201", "length at offset 1 is cut off"),
        ("0980", "unsupported length encoding 0x80"),
        ("0985000000000001", "unsupported length encoding 0x85"),
        ("0984ffffffff41", "needs 4294967295 bytes, only 1 left"),
    ],
)
def test_malformed_input_is_reported_with_position(encoded: str, message: str) -> None:
    with pytest.raises(MalformedPayloadError, match=message):
        decode_data(bytes.fromhex(encoded))


def test_compact_array_is_unsupported() -> None:
    with pytest.raises(UnsupportedError, match="compact-array"):
        decode_data(bytes.fromhex("130100"))


def test_nesting_depth_is_limited() -> None:
    allowed = "0101" * MAX_DEPTH + "00"
    assert decode_data(bytes.fromhex(allowed)).type is DataType.ARRAY
    too_deep = "0101" * (MAX_DEPTH + 1) + "00"
    with pytest.raises(MalformedPayloadError, match="nested deeper"):
        decode_data(bytes.fromhex(too_deep))


def test_huge_element_count_fails_fast_on_missing_bytes() -> None:
    # 2^32-1 announced elements, two present: bounded by the data, not the count.
    with pytest.raises(MalformedPayloadError, match="type tag missing"):
        decode_data(bytes.fromhex("0184ffffffff" + "0000"))


def test_read_data_leaves_trailing_bytes() -> None:
    data, end = read_data(bytes.fromhex("1100" + "1101"), 0)
    assert data == Data(DataType.UNSIGNED, 0)
    assert end == 2
    data, end = read_data(bytes.fromhex("1100" + "1101"), end)
    assert data.value == 1
    assert end == 4


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        ("4f", (0x4F, 1)),
        ("7f", (0x7F, 1)),
        ("81f8", (248, 2)),
        ("820103", (259, 3)),
        ("8201c5", (453, 3)),
        ("83010000", (0x10000, 4)),
        ("8400000001", (1, 5)),
    ],
)
def test_ber_lengths(encoded: str, expected: tuple[int, int]) -> None:
    assert read_length(bytes.fromhex(encoded), 0) == expected


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("0100010800ff", "1-0:1.8.0"),
        ("0100200700ff", "1-0:32.7.0"),
        ("0006190900ff", "0-6:25.9.0"),
        ("0000600100ff", "0-0:96.1.0"),
        ("0100010801ff", "1-0:1.8.1"),
        ("0100010800" + "65", "1-0:1.8.0*101"),
    ],
)
def test_obis_text_round_trip(code: str, text: str) -> None:
    assert format_obis(bytes.fromhex(code)) == text
    assert parse_obis(text) == bytes.fromhex(code)


def test_obis_parse_accepts_common_spellings() -> None:
    expected = bytes.fromhex("0100010800ff")
    assert parse_obis("1-0:1.8.0.255") == expected
    assert parse_obis(" 1-0:1.8.0*255 ") == expected


@pytest.mark.parametrize("text", ["1.8.0", "1-0:1.8", "1-0:1.8.0.256", "x-0:1.8.0"])
def test_obis_parse_rejects_other_text(text: str) -> None:
    with pytest.raises(ValueError, match="OBIS"):
        parse_obis(text)


def test_obis_format_rejects_wrong_length() -> None:
    with pytest.raises(MalformedPayloadError, match="6 bytes, got 5"):
        format_obis(b"\x01\x00\x01\x08\x00")


@pytest.mark.parametrize(
    ("code", "unit"),
    [
        ("1-0:1.8.0", Unit.WATT_HOUR),
        ("1-0:2.8.1", Unit.WATT_HOUR),
        ("1-0:3.8.0", Unit.VAR_HOUR),
        ("1-0:4.7.0", Unit.VAR),
        ("1-0:1.7.0", Unit.WATT),
        ("1-0:21.7.0", Unit.WATT),
        ("1-0:9.7.0", Unit.VOLT_AMPERE),
        ("1-0:9.8.0", Unit.VOLT_AMPERE_HOUR),
        ("1-0:32.7.0", Unit.VOLT),
        ("1-0:72.7.0", Unit.VOLT),
        ("1-0:31.7.0", Unit.AMPERE),
        ("1-0:91.7.0", Unit.AMPERE),
        ("1-0:13.7.0", Unit.NONE),
        ("1-0:14.7.0", Unit.HERTZ),
        ("1-0:81.7.4", Unit.DEGREE),
        ("1-0:81.8.4", None),
        ("1-0:91.8.0", None),
        ("1-0:32.8.0", None),
        ("1-0:0.2.8", None),
        ("1-0:99.7.0", None),
        ("0-0:96.1.0", None),
        ("not obis", None),
    ],
)
def test_default_unit_by_obis(code: str, unit: Unit | None) -> None:
    assert default_unit(code) == unit


# --- data-notification header ------------------------------------------------


def test_notification_with_date_time() -> None:
    plaintext = bytes.fromhex("0f0010d9e3" + "0c" + DATE_TIME.hex() + "1100")
    notification = parse_data_notification(plaintext)
    assert notification.long_invoke_id_and_priority == 0x0010D9E3
    assert notification.date_time == DATE_TIME
    assert notification.body == Data(DataType.UNSIGNED, 0)


def test_notification_without_date_time() -> None:
    notification = parse_data_notification(bytes.fromhex("0f40000000" + "00" + "1100"))
    assert notification.long_invoke_id_and_priority == 0x40000000
    assert notification.date_time is None


def test_notification_with_tagged_date_time() -> None:
    plaintext = bytes.fromhex("0f00000001" + "090c" + DATE_TIME.hex() + "1100")
    assert parse_data_notification(plaintext).date_time == DATE_TIME


@pytest.mark.parametrize(
    ("hex_plaintext", "error", "message"),
    [
        ("", MalformedPayloadError, "empty APDU"),
        ("0f000000", MalformedPayloadError, "header is cut off"),
        ("0f00000001" + "05" + "0102030405" + "00", MalformedPayloadError, "5 bytes"),
        ("0f00000001" + "0c" + "07e5", MalformedPayloadError, "date-time is cut off"),
        ("0f00000001" + "00", MalformedPayloadError, "type tag missing"),
        ("0f00000001" + "00" + "1100" + "00", MalformedPayloadError, "unexpected"),
        ("c001000008", UnsupportedError, r"0xC0 \(get-request\)"),
        ("ab", UnsupportedError, r"0xAB \(unknown\)"),
    ],
)
def test_notification_errors(
    hex_plaintext: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        parse_data_notification(bytes.fromhex(hex_plaintext))
