"""AMIS meters (Netz Oberösterreich): link layer, mode-5 decryption, records, time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from custom_components.dlms_smartmeter.dlms import (
    ChecksumError,
    DecryptionError,
    DlmsError,
    FramingError,
    LinkLayer,
    MalformedPayloadError,
    MeterDecoder,
    Reading,
    StreamFramer,
    UnsupportedError,
    UnsupportedPayloadError,
    amis,
)
from custom_components.dlms_smartmeter.dlms.amis import (
    RECORDS,
    decode_data_frame,
    encode_telegram,
)
from custom_components.dlms_smartmeter.dlms.framing.amis import (
    ACK,
    SND_NKE,
    DataHeader,
    encode_data_frame,
    parse_data_frame,
)
from custom_components.dlms_smartmeter.dlms.mbus_records import walk_records
from custom_components.dlms_smartmeter.dlms.mbus_time import (
    encode_type_i,
    parse_type_i,
)
from custom_components.dlms_smartmeter.dlms.oms import (
    decrypt_mode5,
    encrypt_mode5,
    mode5_iv,
)
from tests.data import AMIS, VECTORS

VECTORS_BY_ID = {vector["id"]: vector for vector in AMIS["vectors"]}
GOOD = [vector for vector in AMIS["vectors"] if "expect_error" not in vector]
BAD = [vector for vector in AMIS["vectors"] if "expect_error" in vector]
ERRORS: dict[str, type[DlmsError]] = {
    "wrong_key": DecryptionError,
    "checksum": ChecksumError,
    "record_layout": MalformedPayloadError,
    "config_word": MalformedPayloadError,
    "truncated": FramingError,
}
SPEC = VECTORS_BY_ID["AMIS-SPEC-2021"]
SPEC_KEY = bytes.fromhex(SPEC["key"])
SPEC_FRAME = bytes.fromhex(SPEC["frame_hex"])
CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))
VALUES = {spec.obis: 1000 + number for number, spec in enumerate(RECORDS.values())}


def decode_all(key: str | bytes | None, data: bytes) -> tuple[list[Any], bytes]:
    """Outcomes of a capture fed byte by byte, and what the reader must send."""
    if isinstance(key, str):
        key = bytes.fromhex(key)
    decoder = MeterDecoder(key)
    outcomes: list[Reading | DlmsError] = []
    for byte in data:
        outcomes += decoder.feed(bytes([byte]))
    outcomes += decoder.flush()
    return outcomes, decoder.pop_replies()


def expected_time(expected: dict[str, Any]) -> datetime | None:
    value = expected["value"]
    if value is None:
        return None
    zone = CEST if expected["summer_time"] else CET
    return datetime.fromisoformat(value).replace(tzinfo=zone)


def values_of(reading: Reading) -> dict[str, tuple[int | float, str]]:
    return {
        code: (value.value, str(value.unit)) for code, value in reading.values.items()
    }


@pytest.mark.parametrize("vector", GOOD, ids=lambda vector: vector["id"])
def test_vector_decodes_to_its_expected_values(vector: dict[str, Any]) -> None:
    (reading,), replies = decode_all(vector["key"], bytes.fromhex(vector["frame_hex"]))
    assert isinstance(reading, Reading)
    expected = dict(vector["expected"])
    assert reading.meter_time == expected_time(expected.pop("datetime"))
    assert values_of(reading) == {
        code: (value["value"], value["unit"]) for code, value in expected.items()
    }
    assert reading.layout == "amis"
    assert reading.manufacturer_name == "Siemens"
    assert not reading.identifies_meter
    assert reading.invocation_counter is None
    assert replies == ACK


@pytest.mark.parametrize("vector", BAD, ids=lambda vector: vector["id"])
def test_vector_is_rejected_with_its_error(vector: dict[str, Any]) -> None:
    outcomes, replies = decode_all(vector["key"], bytes.fromhex(vector["frame_hex"]))
    assert len(outcomes) == 1
    assert type(outcomes[0]) is ERRORS[vector["expect_error"]]
    # Only frames that arrived whole with a good checksum are acknowledged.
    complete = vector["expect_error"] not in {"checksum", "truncated"}
    assert replies == (ACK if complete else b"")


def test_wrong_key_message_names_the_cause_without_the_key() -> None:
    vector = VECTORS_BY_ID["NEG-WRONG-KEY"]
    (error,), _replies = decode_all(vector["key"], bytes.fromhex(vector["frame_hex"]))
    assert "key" in str(error)
    assert vector["key"].lower() not in str(error).lower()


@pytest.mark.parametrize("stream", AMIS["streams"], ids=lambda stream: stream["id"])
def test_stream_yields_readings_and_exactly_its_acknowledgements(
    stream: dict[str, Any],
) -> None:
    outcomes, replies = decode_all(stream["key"], bytes.fromhex(stream["stream_hex"]))
    assert all(isinstance(outcome, Reading) for outcome in outcomes)
    assert len(outcomes) == stream["parts"].count("long")
    assert replies == ACK * stream["expected_acks"]
    times = [outcome.meter_time for outcome in outcomes]
    assert times[1] == datetime(2015, 6, 20, 23, 36, 3, tzinfo=CEST)


def test_acknowledgement_echoed_by_the_head_is_ignored() -> None:
    stream = AMIS["streams"][0]
    data = bytes.fromhex(stream["stream_hex"])
    echoed = SND_NKE + ACK + data[len(SND_NKE) :] + ACK
    outcomes, replies = decode_all(stream["key"], echoed)
    assert [type(outcome) for outcome in outcomes] == [Reading, Reading]
    assert replies == ACK * 3


def test_replies_are_popped_once() -> None:
    decoder = MeterDecoder(SPEC_KEY)
    decoder.feed(SND_NKE + SPEC_FRAME)
    assert decoder.pop_replies() == ACK * 2
    assert decoder.pop_replies() == b""


def test_other_links_never_get_replies() -> None:
    for vector in VECTORS.values():
        if "input_hex" not in vector or not vector.get("key"):
            continue
        decoder = MeterDecoder(bytes.fromhex(vector["key"]))
        decoder.feed(bytes.fromhex(vector["input_hex"]))
        assert decoder.pop_replies() == b"", vector["id"]


def test_search_request_to_another_address_is_not_acknowledged() -> None:
    other = bytes([0x10, 0x40, 0xFE, 0x3E, 0x16])
    outcomes, replies = decode_all(
        SPEC_KEY, other + bytes([0x10, 0x40, 0xF0, 0x31, 0x16])
    )
    assert replies == b""
    assert [type(outcome) for outcome in outcomes] == [ChecksumError]


def test_auto_detection_keeps_finding_every_link() -> None:
    am550 = VECTORS["WN-AM550-1"]
    hdlc = bytes.fromhex(am550["input_hex"])
    decoder = MeterDecoder(bytes.fromhex(am550["key"]))
    assert [type(item) for item in decoder.feed(hdlc)] == [Reading]
    # An AMIS frame that does not decrypt with this key is still acknowledged.
    assert [type(item) for item in decoder.feed(SND_NKE + SPEC_FRAME)] == [
        DecryptionError
    ]
    assert decoder.pop_replies() == ACK * 2
    assert [type(item) for item in decoder.feed(hdlc)] == [Reading]
    assert decoder.pop_replies() == b""


def test_framer_delivers_amis_frames_in_amis_mode() -> None:
    framer = StreamFramer(LinkLayer.AMIS)
    frames = framer.feed(b"\x00" + SND_NKE + SPEC_FRAME)
    assert [frame.link for frame in frames] == [LinkLayer.AMIS, LinkLayer.AMIS]  # type: ignore[union-attr]
    assert framer.detected_link is LinkLayer.AMIS
    assert framer.max_buffered >= len(SPEC_FRAME)


@pytest.mark.parametrize("check", AMIS["public_checks"], ids=lambda check: check["id"])
def test_real_telegrams_from_public_sources(check: dict[str, Any]) -> None:
    (reading,), replies = decode_all(check["key"], bytes.fromhex(check["frame_hex"]))
    assert isinstance(reading, Reading)
    assert reading.meter_time == datetime.fromisoformat(check["meter_time"])
    assert {code: value.value for code, value in reading.values.items()} == check[
        "values"
    ]
    assert replies == ACK


def test_encoded_telegram_decodes_back() -> None:
    moment = datetime(2026, 1, 31, 23, 59, 58, tzinfo=CET)
    values = {**VALUES, "1-0:1.8.0": 2**32 - 1, "1-0:1.128.0": -5}
    frame = encode_telegram(SPEC_KEY, access_number=7, meter_time=moment, values=values)
    reading = decode_data_frame(frame, SPEC_KEY)
    assert reading.meter_time == moment
    assert {code: value.value for code, value in reading.values.items()} == values
    assert frame[4] == 0x53  # odd access number: FCB clear
    assert parse_data_frame(frame).header.access_number == 7


def test_time_invalid_keeps_values() -> None:
    moment = datetime(2025, 7, 14, 6, 0, 1, tzinfo=CEST)
    frame = encode_telegram(
        SPEC_KEY, access_number=0, meter_time=moment, values=VALUES, time_invalid=True
    )
    reading = decode_data_frame(frame, SPEC_KEY)
    assert reading.meter_time is None
    assert reading.values["1-0:1.7.0"].value == VALUES["1-0:1.7.0"]


def _frame_with_plaintext(plaintext: bytes, *, mode: int = 5) -> bytes:
    blocks = -(-len(plaintext) // 16)
    header = DataHeader(bytes(4), b"\x2d\x4c", 1, 0x0E, 3, 0, mode << 8 | blocks << 4)
    iv = mode5_iv(header.manufacturer, header.identification, 1, 0x0E, 3)
    return encode_data_frame(header, encrypt_mode5(SPEC_KEY, iv, plaintext))


SPEC_PLAINTEXT = bytes.fromhex(
    "2F2F066D5F0C48C1171B040300720A0004833C84F901008410FB82731E7605008410FB82F33C"
    "263E0100042B0000000004AB3C7500000004FB140000000004FB943C000000000483FF0414000000"
    "2F2F"
)


def test_unknown_record_is_unsupported_with_its_bytes() -> None:
    extra = bytes.fromhex("04130A000000")  # volume, never sent by AMIS meters
    frame = _frame_with_plaintext(SPEC_PLAINTEXT[:-2] + extra + b"\x2f\x2f")
    with pytest.raises(UnsupportedPayloadError) as caught:
        decode_data_frame(frame, SPEC_KEY)
    assert "04130A000000" in str(caught.value)
    assert caught.value.plaintext.startswith(b"\x2f\x2f")


def test_missing_end_fillers_is_malformed() -> None:
    frame = _frame_with_plaintext(SPEC_PLAINTEXT[:-2] + b"\x00\x00")
    with pytest.raises(MalformedPayloadError, match="fillers"):
        decode_data_frame(frame, SPEC_KEY)


def test_other_security_mode_and_missing_key_are_unsupported() -> None:
    with pytest.raises(UnsupportedError, match="security mode 7"):
        decode_data_frame(_frame_with_plaintext(SPEC_PLAINTEXT, mode=7), SPEC_KEY)
    with pytest.raises(UnsupportedError, match="key"):
        decode_data_frame(SPEC_FRAME, None)


def test_frame_too_short_for_its_header_is_malformed() -> None:
    body = bytes([0x53, 0xF0, 0x5B, 0, 0])
    frame = bytes([0x68, 5, 5, 0x68]) + body + bytes([sum(body) & 0xFF, 0x16])
    with pytest.raises(MalformedPayloadError, match="too short"):
        parse_data_frame(frame)


@pytest.mark.parametrize(
    ("plaintext", "match"),
    [
        ("0403AABB", "needs 6 bytes"),
        ("84" + "80" * 11 + "00", "more than 10"),
        ("84", "ends inside the DIFE"),
        ("0D", "ends inside the VIF"),
        ("0D13", "length of a variable"),
        ("0D13F5", "unsupported length byte F5"),
        ("047C", "plain-text VIF"),
    ],
)
def test_walker_rejects_broken_records(plaintext: str, match: str) -> None:
    with pytest.raises(MalformedPayloadError, match=match):
        walk_records(bytes.fromhex(plaintext))


def test_walker_splits_special_records() -> None:
    records = walk_records(bytes.fromhex("2F0D13024142047C03616263010000000F0102"))
    assert [record.raw.hex() for record in records] == [
        "0d13024142",
        "047c0361626301000000",
        "0f0102",
    ]
    assert records[1].header == bytes.fromhex("047c03616263")
    assert walk_records(bytes.fromhex("0D13C21234"))[0].data == b"\x12\x34"


def test_type_i_fields_of_the_specification_example() -> None:
    fields = parse_type_i(bytes.fromhex("5F0C48C1171B"))
    assert (fields.year, fields.month, fields.day) == (2014, 7, 1)
    assert (fields.hour, fields.minute, fields.second) == (8, 12, 31)
    assert (fields.day_of_week, fields.week) == (2, 27)
    assert fields.summer_time
    assert not fields.leap_year
    assert fields.meter_time == datetime(2014, 7, 1, 8, 12, 31, tzinfo=CEST)


def test_type_i_out_of_range_has_no_meter_time() -> None:
    assert parse_type_i(bytes.fromhex("00000000000000")[:6]).meter_time is None
    with pytest.raises(MalformedPayloadError):
        parse_type_i(b"\x00" * 5)


def test_type_i_round_trip_in_winter_and_summer() -> None:
    for moment in (
        datetime(2024, 2, 29, 23, 59, 59, tzinfo=CET),
        datetime(2025, 7, 14, 4, 0, 0, tzinfo=UTC),
    ):
        fields = parse_type_i(encode_type_i(moment))
        assert fields.meter_time == moment


def test_mode5_helpers_check_their_arguments() -> None:
    with pytest.raises(ValueError, match="address"):
        mode5_iv(b"\x2d", bytes(4), 1, 0x0E, 0)
    iv = mode5_iv(b"\x2d\x4c", bytes(4), 1, 0x0E, 0)
    with pytest.raises(ValueError, match="16 bytes"):
        encrypt_mode5(b"short", iv, b"\x2f\x2f")
    with pytest.raises(MalformedPayloadError, match="blocks"):
        decrypt_mode5(SPEC_KEY, iv, bytes(15))


def test_short_frame_without_stop_byte_is_skipped() -> None:
    outcomes, replies = decode_all(SPEC_KEY, SND_NKE[:4] + b"\x00" + SPEC_FRAME)
    assert [type(outcome) for outcome in outcomes] == [Reading]
    assert replies == ACK


def test_long_frame_encoder_refuses_oversized_payloads() -> None:
    header = parse_data_frame(SPEC_FRAME).header
    with pytest.raises(ValueError, match="255"):
        encode_data_frame(header, bytes(256))


def test_decoder_failure_on_an_amis_frame_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(raw: bytes, key: bytes | None) -> Reading:
        raise RuntimeError(f"decoder bug on {len(raw)} bytes, key set: {bool(key)}")

    monkeypatch.setattr(amis, "decode_data_frame", broken)
    decoder = MeterDecoder(SPEC_KEY)
    (error,) = decoder.feed(SPEC_FRAME)
    assert isinstance(error, MalformedPayloadError)
    assert decoder.pop_replies() == ACK
