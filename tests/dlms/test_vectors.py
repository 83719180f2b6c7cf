"""Every verified vector through the pipeline, negative tests, and Appendix A.

Stream vectors (``hdlc``, ``mbus``, ``apdu``) go through ``MeterDecoder.feed``
exactly as read from a serial port; ``ct`` and ``plain`` vectors go through
the decryption and APDU functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import logging
import random
from typing import Any

import pytest

from custom_components.dlms_smartmeter.dlms import (
    AuthenticationError,
    DecoderStats,
    DecryptionError,
    DlmsError,
    FramingError,
    LinkFrame,
    LinkLayer,
    MalformedPayloadError,
    MeterDecoder,
    MeterValue,
    Reading,
    SecurityLevel,
    StreamFramer,
    Unit,
    UnsupportedError,
    decoder as decoder_module,
)
from custom_components.dlms_smartmeter.dlms.apdu import (
    Block,
    BlockAssembler,
    join_blocks,
    parse_block,
    parse_ciphered_apdu,
)
from custom_components.dlms_smartmeter.dlms.axdr import read_data
from custom_components.dlms_smartmeter.dlms.errors import IncompleteError
from custom_components.dlms_smartmeter.dlms.framing import encode_hdlc
from custom_components.dlms_smartmeter.dlms.security import decrypt
from tests.data import VECTORS
from tests.data.appendix_frames import (
    A1_AUTHENTICATION_KEY,
    A1_ENCRYPTION_KEY,
    A1_INVOCATION_COUNTER,
    A1_PARTIAL_BLOCK_FRAME,
    A3_GARBLED_START,
    A5_MBUS_L_OVERFLOW,
)

STREAM_KINDS = {"hdlc": LinkLayer.HDLC, "mbus": LinkLayer.MBUS, "apdu": LinkLayer.APDU}
STREAM_IDS = [
    key for key, value in VECTORS.items() if value["input_kind"] in STREAM_KINDS
]

# What vectors.md states where vectors.json has no (or no usable) "expected":
# * E450-GBT-3: the JSON lists the captured *attribute* numbers (2 = value);
#   the decode trace gives the values in descriptor order.
# * BGLD-E450-1: the interpretation (currents in 0.01 A, angles in degrees).
# * STMK-SAG-DSMR-1: the decrypted DSMR telegram.
STATED_VALUES: dict[str, dict[str, tuple[float, Unit]]] = {
    "E450-GBT-3-zero-key": {
        "1-0:1.7.0": (0, Unit.WATT),
        "1-0:2.7.0": (0, Unit.WATT),
        "1-0:1.8.0": (49805, Unit.WATT_HOUR),
        "1-0:2.8.0": (0, Unit.WATT_HOUR),
        "1-0:3.7.0": (0, Unit.VAR),
        "1-0:4.7.0": (0, Unit.VAR),
        "1-0:3.8.0": (4697, Unit.VAR_HOUR),
        "1-0:4.8.0": (58267, Unit.VAR_HOUR),
        "1-0:31.7.0": (0, Unit.AMPERE),
        "1-0:51.7.0": (0, Unit.AMPERE),
        "1-0:71.7.0": (0, Unit.AMPERE),
        "1-0:32.7.0": (234, Unit.VOLT),
        "1-0:52.7.0": (0, Unit.VOLT),
        "1-0:72.7.0": (0, Unit.VOLT),
    },
    "BGLD-E450-1": {
        "1-0:32.7.0": (236, Unit.VOLT),
        "1-0:52.7.0": (237, Unit.VOLT),
        "1-0:72.7.0": (236, Unit.VOLT),
        "1-0:31.7.0": (0.0, Unit.AMPERE),
        "1-0:51.7.0": (0.04, Unit.AMPERE),
        "1-0:71.7.0": (0.26, Unit.AMPERE),
        "1-0:1.7.0": (29, Unit.WATT),
        "1-0:2.7.0": (0, Unit.WATT),
        "1-0:1.8.0": (31358606, Unit.WATT_HOUR),
        "1-0:2.8.0": (7619, Unit.WATT_HOUR),
        "1-0:81.7.4": (400, Unit.DEGREE),
        "1-0:81.7.15": (53, Unit.DEGREE),
        "1-0:81.7.26": (295, Unit.DEGREE),
    },
    "STMK-SAG-DSMR-1": {
        "1-0:1.8.0": (14159934, Unit.WATT_HOUR),
        "1-0:1.8.1": (8520922, Unit.WATT_HOUR),
        "1-0:1.8.2": (5639012, Unit.WATT_HOUR),
        "1-0:1.7.0": (544, Unit.WATT),
        "1-0:2.8.0": (7086646, Unit.WATT_HOUR),
        "1-0:2.8.1": (7084926, Unit.WATT_HOUR),
        "1-0:2.8.2": (1720, Unit.WATT_HOUR),
        "1-0:2.7.0": (1803, Unit.WATT),
        "1-0:3.8.0": (3866, Unit.VAR_HOUR),
        "1-0:3.8.1": (241, Unit.VAR_HOUR),
        "1-0:3.8.2": (3625, Unit.VAR_HOUR),
        "1-0:3.7.0": (0, Unit.VAR),
        "1-0:4.8.0": (19308370, Unit.VAR_HOUR),
        "1-0:4.8.1": (12529385, Unit.VAR_HOUR),
        "1-0:4.8.2": (6778985, Unit.VAR_HOUR),
        "1-0:4.7.0": (1659, Unit.VAR),
    },
}


@dataclass(frozen=True)
class Meta:
    """Reading metadata per vector, from the decode traces in vectors.md."""

    system_title: str
    invocation_counter: int | None
    security: SecurityLevel
    meter_time: str
    layout: str
    serial_number: str | None = None


ENC = SecurityLevel.ENCRYPTED
AUTH = SecurityLevel.AUTHENTICATED
META = {
    "WN-AM550-1": Meta(
        "49534b69743c103f", 0x0010D9E2, ENC, "2021-10-21T06:44:02+02:00", "wiener_netze"
    ),
    "WN-AM550-3-tampered": Meta(
        "49534b6974a8d899", 0x00909DD7, ENC, "2021-10-13T07:30:57+02:00", "wiener_netze"
    ),
    "WN-AM550-4-pocki": Meta(
        "44556677889900aa", 0x88887777, ENC, "2021-01-27T16:11:45+01:00", "wiener_netze"
    ),
    "WN-IM350-1": Meta(
        "534d5367753ec614",
        0x00124EF6,
        ENC,
        "2021-10-21T05:40:34+02:00",
        "wiener_netze_im350",
        "SMS1030788000020",
    ),
    "WN-E450-1": Meta(
        "4c475a67726d311e", 0x0021ED98, ENC, "2021-11-03T04:56:57+01:00", "wiener_netze"
    ),
    "KN-AM550-1": Meta(
        "49534b69745cf6c9",
        0x0000046B,
        ENC,
        "2021-03-25T19:01:14+01:00",
        "p1_positional",
        "1121273201353",
    ),
    "SMS-IM350-1": Meta(
        "534d53677004c446",
        0x0001A929,
        ENC,
        "2021-03-07T14:55:33+01:00",
        "p1_positional",
        "2221202033801",
    ),
    "WELS-IM350-1": Meta(
        "534d53677002fd62",
        0x0000BE34,
        ENC,
        "2021-05-19T10:08:23+02:00",
        "p1_positional",
        "18037098",
    ),
    "E450-GBT-1": Meta(
        "4c475a677370b177", 0x00177BCA, AUTH, "2022-02-21T17:37:30+01:00", "obis_pairs"
    ),
    "E450-GBT-3-zero-key": Meta(
        "4c475a677362f13a",
        0x00B1CDB5,
        ENC,
        "2023-10-12T14:05:40+02:00",
        "self_describing",
        "56815930",
    ),
    "BGLD-E450-1": Meta(
        "4c475a6772a9a111",
        0x002180F6,
        AUTH,
        "2023-03-28T19:11:20+02:00",
        "burgenland",
        "30137181",
    ),
    "NOE-KAIFA-DOC": Meta(
        "4b464d6750000009",
        0x00000023,
        ENC,
        "2021-09-27T09:47:15+02:00",
        "obis_flat_triples",
        "181220000009",
    ),
    "NOE-SAG-2": Meta(
        "5341475905e990f3",
        0x0001CA1D,
        ENC,
        "2023-06-09T08:57:55+02:00",
        "obis_flat_triples",
        "178210193075",
    ),
    "TINETZ-KAIFA-DOC": Meta(
        "4b464d1010000023",
        0x00295B9A,
        ENC,
        "2021-07-19T15:46:35+02:00",
        "obis_triples",
        "1KFM0100000035",
    ),
    "STMK-SAG-DSMR-1": Meta(
        "534147350000d28f", 0x000050A5, ENC, "2021-09-29T11:47:30+02:00", "dsmr_text"
    ),
    "SBG-KAIFA-PLAIN": Meta(
        "",
        None,
        SecurityLevel.NONE,
        "2022-11-12T16:54:00+01:00",
        "obis_triples",
        "1KFM0200234804",
    ),
    "ISKRA550-SEG-PLAIN": Meta(
        "",
        None,
        SecurityLevel.NONE,
        "2023-04-01T21:32:35+02:00",
        "obis_triples",
        "84895126",
    ),
}


def key(vector: dict[str, Any], name: str = "key") -> bytes | None:
    text = vector[name]
    return bytes.fromhex(text) if text else None


def stream(vector_id: str) -> bytes:
    return bytes.fromhex(VECTORS[vector_id]["input_hex"])


def decoder_for(vector_id: str, link: LinkLayer = LinkLayer.AUTO) -> MeterDecoder:
    vector = VECTORS[vector_id]
    return MeterDecoder(key(vector), key(vector, "auth_key"), link=link)


def expected_values(vector_id: str) -> dict[str, tuple[float, Unit]]:
    if vector_id in STATED_VALUES:
        return STATED_VALUES[vector_id]
    return {
        code: (entry["value"], Unit(entry["unit"]))
        for code, entry in VECTORS[vector_id]["expected"].items()
    }


def assert_values(reading: Reading, vector_id: str) -> None:
    expected = expected_values(vector_id)
    assert expected
    assert set(reading.values) == set(expected)
    for code, (value, unit) in expected.items():
        actual = reading.values[code]
        assert actual.unit is unit, code
        assert actual.value == pytest.approx(value, abs=1e-9), code
        # Integral registers stay integers (no float rounding of energy).
        if isinstance(value, int) and unit in {Unit.WATT_HOUR, Unit.VAR_HOUR}:
            assert isinstance(actual.value, int), code


def assert_meta(reading: Reading, vector_id: str, raw: bytes | None = None) -> None:
    meta = META[vector_id]
    assert reading.system_title == bytes.fromhex(meta.system_title)
    assert reading.invocation_counter == meta.invocation_counter
    assert reading.security is meta.security
    assert reading.meter_time == datetime.fromisoformat(meta.meter_time)
    assert reading.meter_time is not None
    assert reading.meter_time.isoformat() == meta.meter_time
    assert reading.layout == meta.layout
    assert reading.serial_number == meta.serial_number
    if raw is not None:
        assert reading.raw == raw


def only_readings(outcomes: list[Reading | DlmsError]) -> list[Reading]:
    readings = [item for item in outcomes if isinstance(item, Reading)]
    assert len(readings) == len(outcomes), outcomes
    return readings


def assert_invariant(stats: DecoderStats) -> None:
    assert stats.frames == (
        stats.readings
        + stats.decryption_errors
        + stats.authentication_errors
        + stats.unsupported
        + stats.malformed
        + stats.incomplete
    )


def link_payloads(data: bytes) -> list[LinkFrame]:
    framer = StreamFramer()
    frames = [item for item in framer.feed(data) if isinstance(item, LinkFrame)]
    assert not framer.flush()
    return frames


# --- every stream vector through feed() -------------------------------------------


@pytest.mark.parametrize("vector_id", STREAM_IDS)
@pytest.mark.parametrize("explicit_link", [False, True])
def test_stream_vector_decodes(vector_id: str, explicit_link: bool) -> None:
    raw = stream(vector_id)
    link = (
        STREAM_KINDS[VECTORS[vector_id]["input_kind"]]
        if explicit_link
        else (LinkLayer.AUTO)
    )
    decoder = decoder_for(vector_id, link)
    (reading,) = only_readings(decoder.feed(raw))
    assert not decoder.flush()
    assert_values(reading, vector_id)
    assert_meta(reading, vector_id, raw)
    assert decoder.stats.readings == 1
    assert decoder.stats.frames == 1
    assert decoder.stats.bytes_received == len(raw)
    assert_invariant(decoder.stats)


@pytest.mark.parametrize("vector_id", STREAM_IDS)
def test_stream_vector_byte_by_byte(vector_id: str) -> None:
    raw = stream(vector_id)
    decoder = decoder_for(vector_id)
    outcomes: list[Reading | DlmsError] = []
    for index in range(len(raw)):
        outcomes += decoder.feed(raw[index : index + 1])
    (reading,) = only_readings(outcomes)
    assert_values(reading, vector_id)


def test_wiener_netze_reading_details() -> None:
    (reading,) = only_readings(decoder_for("WN-AM550-1").feed(stream("WN-AM550-1")))
    assert reading.values["1-0:1.8.0"] == MeterValue(855, Unit.WATT_HOUR)
    assert reading.manufacturer == "ISK"
    assert reading.manufacturer_name == "Iskraemeco"
    assert reading.model == "AM550-TD0"


def test_tampered_encryption_only_frame_still_decodes() -> None:
    # WN-AM550-3-tampered is WN-AM550-2 with ciphertext bits flipped and the FCS
    # recomputed. SC 0x20 frames carry no tag, so nothing can detect the edit:
    # the decoder delivers the altered (but structurally valid) values.
    (reading,) = only_readings(
        decoder_for("WN-AM550-3-tampered").feed(stream("WN-AM550-3-tampered"))
    )
    assert reading.security is SecurityLevel.ENCRYPTED
    assert reading.values["1-0:1.8.0"] == MeterValue(20870819, Unit.WATT_HOUR)
    # The body clock (2023) differs from the header clock (2021): the header wins.
    assert reading.meter_time == datetime.fromisoformat("2021-10-13T07:30:57+02:00")


def test_all_stream_vectors_in_one_stream_in_random_chunks() -> None:
    # One stream with the frames of many meters (HDLC and M-Bus; a raw APDU
    # stream has no checksum and is not mixed with link frames): each decoder
    # gets values from its own meter only, every other frame is an error.
    link_ids = [i for i in STREAM_IDS if VECTORS[i]["input_kind"] != "apdu"]
    whole = b"".join(stream(vector_id) for vector_id in link_ids)
    chooser = random.Random(2024)
    for vector_id in ("WN-AM550-1", "E450-GBT-1", "NOE-SAG-2"):
        decoder = decoder_for(vector_id)
        outcomes: list[Reading | DlmsError] = []
        position = 0
        while position < len(whole):
            size = chooser.randint(1, 64)
            outcomes += decoder.feed(whole[position : position + size])
            position += size
        outcomes += decoder.flush()
        readings = [item for item in outcomes if isinstance(item, Reading)]
        own = [reading for reading in readings if reading.raw == stream(vector_id)]
        assert len(own) == 1
        assert_values(own[0], vector_id)
        # Unencrypted pushes in the stream decode with any key.
        others = {reading.layout for reading in readings if reading is not own[0]}
        assert all(
            reading.security is SecurityLevel.NONE
            for reading in readings
            if reading is not own[0]
        ), others
        assert_invariant(decoder.stats)
        assert decoder.stats.checksum_errors == 0


# --- ct and plain vectors ---------------------------------------------------------


def test_greenbook_ct_vector() -> None:
    vector = VECTORS["GREENBOOK-GCM"]
    decrypted = decrypt(
        system_title=bytes.fromhex("4D4D4D0000BC614E"),
        security_control=0x30,
        invocation_counter=0x01234567,
        content=bytes.fromhex(vector["input_hex"]),
        encryption_key=key(vector),
        authentication_key=key(vector, "auth_key"),
    )
    assert decrypted.plaintext == bytes.fromhex("c0010000080000010000ff0200")
    assert decrypted.security is SecurityLevel.AUTHENTICATED


def test_greenbook_get_request_is_not_a_push() -> None:
    # Authenticated plaintext that is a get-request: unsupported, not a wrong key.
    vector = VECTORS["GREENBOOK-GCM"]
    content = bytes.fromhex(vector["input_hex"])
    apdu = (
        bytes.fromhex("db084d4d4d0000bc614e")
        + bytes([5 + len(content), 0x30])
        + bytes.fromhex("01234567")
        + content
    )
    decoder = MeterDecoder(key(vector), key(vector, "auth_key"))
    with pytest.raises(UnsupportedError, match=r"0xC0 \(get-request\)"):
        decoder.decode_apdu(apdu)
    # Without the authentication key the same plaintext cannot be trusted.
    with pytest.raises(DecryptionError):
        MeterDecoder(key(vector)).decode_apdu(apdu)


def test_plain_vector() -> None:
    raw = stream("SBG-KAIFA-PLAIN")
    reading = MeterDecoder(None).decode_apdu(raw)
    assert_values(reading, "SBG-KAIFA-PLAIN")
    assert_meta(reading, "SBG-KAIFA-PLAIN", raw)
    assert reading.manufacturer is None


def test_decode_apdu_on_joined_blocks() -> None:
    frames = link_payloads(stream("E450-GBT-1"))
    assert len(frames) == 3
    apdu = b"".join(frame.payload for frame in frames)
    reading = decoder_for("E450-GBT-1").decode_apdu(apdu)
    assert_values(reading, "E450-GBT-1")
    assert reading.raw == apdu


# --- negative tests from the vectors ----------------------------------------------

ENCRYPTED_IDS = [
    vector_id for vector_id in STREAM_IDS if VECTORS[vector_id]["key"] is not None
]


@pytest.mark.parametrize("vector_id", ENCRYPTED_IDS)
def test_wrong_key_never_gives_values(vector_id: str) -> None:
    wrong = bytes(byte ^ 0x5A for byte in key(VECTORS[vector_id]) or b"")
    decoder = MeterDecoder(wrong, key(VECTORS[vector_id], "auth_key"))
    outcomes = decoder.feed(stream(vector_id)) + decoder.flush()
    assert len(outcomes) == 1
    (error,) = outcomes
    if VECTORS[vector_id]["auth_key"]:
        assert isinstance(error, AuthenticationError)
        assert decoder.stats.authentication_errors == 1
    else:
        assert isinstance(error, DecryptionError)
        assert decoder.stats.decryption_errors == 1
        assert str(error) == (
            "the frame does not decrypt with the configured key: check the key "
            "from your grid operator's portal"
        )
    assert wrong.hex() not in str(error).lower()
    assert decoder.stats.readings == 0
    assert_invariant(decoder.stats)


def test_missing_key_is_reported() -> None:
    decoder = MeterDecoder(None)
    (error,) = decoder.feed(stream("WN-AM550-1"))
    assert isinstance(error, DecryptionError)
    assert "no key is configured" in str(error)


def test_flipped_ciphertext_bit_fails_authentication() -> None:
    (frame,) = link_payloads(stream("BGLD-E450-1"))
    tampered = bytearray(frame.payload)
    tampered[40] ^= 0x04  # inside the ciphertext
    raw = encode_hdlc(
        bytes(tampered), client_address=b"\xce\xff", server_address=b"\x03"
    )
    decoder = decoder_for("BGLD-E450-1")
    (error,) = decoder.feed(raw)
    assert isinstance(error, AuthenticationError)
    assert decoder.stats.authentication_errors == 1
    assert decoder.stats.checksum_errors == 0
    # Without the authentication key the same frame cannot be checked: the
    # flipped bit lands in the high byte of U L2 (0x00ED -> 0x04ED) unnoticed.
    unverified = MeterDecoder(key(VECTORS["BGLD-E450-1"]))
    (reading,) = only_readings(unverified.feed(raw))
    assert reading.security is SecurityLevel.ENCRYPTED
    assert reading.values["1-0:52.7.0"] == MeterValue(0x04ED, Unit.VOLT)


def test_flipped_bit_in_block_transfer_fails_authentication() -> None:
    apdu = join_blocks(
        b"".join(frame.payload for frame in link_payloads(stream("E450-GBT-1")))
    )
    tampered = bytearray(apdu)
    tampered[100] ^= 0x80
    with pytest.raises(AuthenticationError):
        decoder_for("E450-GBT-1").decode_apdu(bytes(tampered))


def test_wrong_authentication_key_with_right_encryption_key() -> None:
    vector = VECTORS["STMK-SAG-DSMR-1"]
    decoder = MeterDecoder(key(vector), bytes(16))
    (error,) = decoder.feed(stream("STMK-SAG-DSMR-1"))
    assert isinstance(error, AuthenticationError)
    # Appendix A7: no (working) AK -> decrypt without checking the tag.
    (reading,) = only_readings(
        decoder_for("STMK-SAG-DSMR-1").feed(stream("STMK-SAG-DSMR-1"))
    )
    assert reading.security is SecurityLevel.ENCRYPTED


def hdlc_frames(vector_id: str) -> list[bytes]:
    """The separate HDLC frames of a multi-frame vector."""
    raw = stream(vector_id)
    frames = []
    position = 0
    while position < len(raw):
        size = (int.from_bytes(raw[position + 1 : position + 3], "big") & 0x7FF) + 2
        frames.append(raw[position : position + size])
        position += size
    assert b"".join(frames) == raw
    return frames


def test_cut_block_transfer_is_incomplete() -> None:
    first, second, _third = hdlc_frames("E450-GBT-1")
    decoder = decoder_for("E450-GBT-1")
    assert decoder.feed(first + second) == []
    (error,) = decoder.flush()
    assert isinstance(error, IncompleteError)
    assert error.kind == "framing"
    assert "2 blocks received" in str(error)
    assert decoder.stats.incomplete == 1
    assert decoder.stats.frames == 1
    assert_invariant(decoder.stats)


def test_block_transfer_with_a_gap_is_reported_once() -> None:
    first, _second, third = hdlc_frames("E450-GBT-1")
    decoder = decoder_for("E450-GBT-1")
    (error,) = decoder.feed(first + third)
    assert isinstance(error, IncompleteError)
    assert "block 3 arrived where block 2 was due" in str(error)
    # The next complete sequence decodes normally.
    (reading,) = only_readings(decoder.feed(stream("E450-GBT-1")))
    assert_values(reading, "E450-GBT-1")
    assert reading.raw == stream("E450-GBT-1")
    assert decoder.stats.incomplete == 1
    assert decoder.stats.readings == 1
    assert_invariant(decoder.stats)


def test_new_sequence_cuts_the_pending_one() -> None:
    first, _second, _third = hdlc_frames("E450-GBT-1")
    decoder = decoder_for("E450-GBT-1")
    outcomes = decoder.feed(first + stream("E450-GBT-1"))
    assert isinstance(outcomes[0], IncompleteError)
    assert "a new sequence started" in str(outcomes[0])
    assert isinstance(outcomes[1], Reading)
    assert len(outcomes) == 2


def test_sequence_joined_mid_way_is_reported_when_it_ends() -> None:
    frames = hdlc_frames("E450-GBT-3-zero-key")
    decoder = decoder_for("E450-GBT-3-zero-key")
    assert decoder.feed(frames[1] + frames[2]) == []
    (error,) = decoder.feed(frames[3])
    assert isinstance(error, IncompleteError)
    assert "started with block 2" in str(error)
    assert "3 blocks received" in str(error)


def test_reset_drops_a_pending_sequence_silently() -> None:
    first, second, _third = hdlc_frames("E450-GBT-1")
    decoder = decoder_for("E450-GBT-1")
    decoder.feed(first + second)
    decoder.reset()
    assert decoder.flush() == []
    (reading,) = only_readings(decoder.feed(stream("E450-GBT-1")))
    assert reading.layout == "obis_pairs"


# --- block assembler ----------------------------------------------------------------


def block(number: int, data: bytes, *, last: bool = False) -> Block:
    return Block(
        last=last, streaming=True, window=0, number=number, acknowledged=0, data=data
    )


def test_assembler_joins_in_order() -> None:
    assembler = BlockAssembler()
    assert assembler.add(block(1, b"ab")).apdu is None
    assert assembler.pending
    result = assembler.add(block(2, b"cd", last=True))
    assert result.apdu == b"abcd"
    assert result.cut_off == ()
    assert not assembler.pending


def test_assembler_single_block_and_size_limit() -> None:
    assembler = BlockAssembler()
    assert assembler.add(block(1, b"x", last=True)).apdu == b"x"
    assembler.add(block(1, bytes(0x8000)))
    result = assembler.add(block(2, bytes(0x8001)))
    (error,) = result.cut_off
    assert "more than 65536 bytes" in str(error)
    assert not assembler.pending


def test_assembler_repeated_block_breaks_the_sequence() -> None:
    assembler = BlockAssembler()
    assembler.add(block(1, b"a"))
    assembler.add(block(2, b"b"))
    assert assembler.add(block(2, b"b")).cut_off == ()
    (error,) = assembler.add(block(3, b"c", last=True)).cut_off
    assert "block 2 arrived where block 3 was due" in str(error)
    assert "4 blocks received" in str(error)


def test_parse_block_fields_and_errors() -> None:
    parsed = parse_block(bytes.fromhex("e0c000030000021234"))
    assert parsed == Block(
        last=True, streaming=True, window=0, number=3, acknowledged=0, data=b"\x12\x34"
    )
    with pytest.raises(MalformedPayloadError, match="announces 3 bytes, 2 are present"):
        parse_block(bytes.fromhex("e0c000030000031234"))
    with pytest.raises(MalformedPayloadError, match="1 unexpected bytes"):
        parse_block(bytes.fromhex("e0c00003000002123400"))
    with pytest.raises(MalformedPayloadError, match="header is cut off"):
        parse_block(bytes.fromhex("e0c00003"))
    with pytest.raises(MalformedPayloadError, match="empty APDU"):
        parse_block(b"")


def test_join_blocks_errors() -> None:
    with pytest.raises(IncompleteError, match="the last block is missing"):
        join_blocks(bytes.fromhex("e040000100000112"))
    with pytest.raises(MalformedPayloadError, match="unexpected bytes after the last"):
        join_blocks(bytes.fromhex("e0c000010000011200"))
    with pytest.raises(IncompleteError, match="started with block 2"):
        join_blocks(bytes.fromhex("e0c00002000001ff"))
    with pytest.raises(
        MalformedPayloadError, match="expected a general-block-transfer"
    ):
        join_blocks(bytes.fromhex("e040000100000112" + "0f"))


# --- decoder API --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("apdu", "error", "message"),
    [
        (b"", MalformedPayloadError, "empty APDU"),
        (bytes.fromhex("dd0000"), UnsupportedError, "general-ciphering"),
        (bytes.fromhex("c2000000"), UnsupportedError, "event-notification-request"),
        (bytes.fromhex("ee"), UnsupportedError, r"0xEE \(unknown\)"),
        (
            bytes.fromhex("e0c0000100000ae0c00001000001000000"),
            MalformedPayloadError,
            "contains another one",
        ),
        (bytes.fromhex("0f00000001000000"), MalformedPayloadError, "unexpected bytes"),
    ],
)
def test_decode_apdu_errors(apdu: bytes, error: type[DlmsError], message: str) -> None:
    with pytest.raises(error, match=message):
        MeterDecoder(bytes(16)).decode_apdu(apdu)


def test_unknown_layout_of_a_plain_notification() -> None:
    plaintext = bytes.fromhex("0f00000001" + "00" + "020206000000010600000002")
    decoder = MeterDecoder(None, link=LinkLayer.HDLC)
    (error,) = decoder.feed(encode_hdlc(plaintext))
    assert isinstance(error, UnsupportedError)
    assert error.kind == "unsupported"
    assert plaintext.hex() in str(error)
    assert decoder.stats.unsupported == 1
    assert_invariant(decoder.stats)


def test_malformed_block_counts_as_malformed_frame() -> None:
    decoder = MeterDecoder(None, link=LinkLayer.HDLC)
    (error,) = decoder.feed(encode_hdlc(bytes.fromhex("e0c0000100000a12")))
    assert isinstance(error, MalformedPayloadError)
    assert decoder.stats.malformed == 1
    assert_invariant(decoder.stats)


def test_block_transfer_with_a_broken_apdu_inside() -> None:
    decoder = MeterDecoder(None, link=LinkLayer.HDLC)
    (error,) = decoder.feed(encode_hdlc(bytes.fromhex("e0c00001000002ab00")))
    assert isinstance(error, UnsupportedError)
    assert decoder.stats.unsupported == 1
    assert decoder.stats.frames == 1


def test_key_length_is_checked_without_echoing_the_key() -> None:
    with pytest.raises(ValueError, match="encryption key must be 16 bytes, got 15"):
        MeterDecoder(b"0123456789abcde")
    with pytest.raises(ValueError, match="authentication key must be 16 bytes, got 3"):
        MeterDecoder(bytes(16), b"key")


def test_repr_hides_keys() -> None:
    secret = bytes.fromhex("927CE4ECA62FE23E19406C5EE452285E")
    text = repr(MeterDecoder(secret, link=LinkLayer.HDLC))
    assert secret.hex() not in text.lower()
    assert "encryption_key=set" in text
    assert "authentication_key=none" in text
    assert "encryption_key=none" in repr(MeterDecoder(None))


def test_stats_as_dict() -> None:
    decoder = decoder_for("WN-AM550-1")
    decoder.feed(stream("WN-AM550-1") + b"\x7e\xa0\x07garbage")
    decoder.flush()
    counters = decoder.stats.as_dict()
    assert counters["readings"] == 1
    assert counters["frames"] == 1
    assert counters["incomplete"] == 0
    assert counters["framing_errors"] + counters["checksum_errors"] >= 1


def test_an_internal_bug_does_not_escape_feed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A decoder bug cannot be produced with real data (that is what the fuzz
    # tests check), so it is simulated here to test the last line of defence.
    def broken(*_args: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(decoder_module, "map_body", broken)
    monkeypatch.setattr(decoder_module, "read_body", broken)
    decoder = decoder_for("WN-AM550-1")
    with caplog.at_level(logging.ERROR):
        (error,) = decoder.feed(stream("WN-AM550-1"))
    assert isinstance(error, MalformedPayloadError)
    assert "internal decoder failure" in str(error)
    assert "unexpected failure while decoding" in caplog.text
    assert decoder.stats.malformed == 1


def test_a_framer_bug_does_not_escape_feed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    decoder = decoder_for("WN-AM550-1")

    def broken(_data: bytes) -> list[LinkFrame | FramingError]:
        raise RuntimeError("bug")

    monkeypatch.setattr(decoder._framer, "feed", broken)
    with caplog.at_level(logging.ERROR):
        (error,) = decoder.feed(stream("WN-AM550-1"))
    assert isinstance(error, FramingError)
    assert decoder.stats.framing_errors == 1


# --- Appendix A ---------------------------------------------------------------------


def test_a1_partial_block_transfer_is_incomplete() -> None:
    decoder = MeterDecoder(A1_ENCRYPTION_KEY, A1_AUTHENTICATION_KEY)
    assert decoder.feed(A1_PARTIAL_BLOCK_FRAME) == []
    (error,) = decoder.flush()
    assert isinstance(error, IncompleteError)
    assert decoder.stats.incomplete == 1
    assert decoder.stats.readings == 0


def test_a1_partial_block_decodes_as_far_as_the_data_goes() -> None:
    # For diagnostics only: CTR-decrypt the ciphertext that is present and
    # read the leading elements, as Appendix A1 describes.
    (frame,) = link_payloads(A1_PARTIAL_BLOCK_FRAME)
    first = parse_block(frame.payload)
    assert first.number == 1
    assert not first.last
    header = first.data[:14]
    assert header[:2] == bytes.fromhex("db08")
    assert header[2:10] == bytes.fromhex("4c475a67737c7ee0")
    assert header[10:13] == bytes.fromhex("820103")  # 259 bytes announced
    counter = int.from_bytes(first.data[14:18], "big")
    assert counter == A1_INVOCATION_COUNTER
    ciphertext = first.data[18:]
    assert len(ciphertext) == 119 - 18  # block data minus the security header
    plaintext = decrypt(
        system_title=header[2:10],
        security_control=0x20,  # the tag is in the missing block: CTR only
        invocation_counter=counter,
        content=ciphertext,
        encryption_key=A1_ENCRYPTION_KEY,
    ).plaintext
    assert plaintext[:5] == bytes.fromhex("0f000879a6")
    assert plaintext[5] == 0x0C
    assert plaintext[18:20] == bytes.fromhex("0221")  # structure(33)
    position = 20  # after 0F, invoke id, 0C + date-time, 02 21
    registers: dict[str, int] = {}
    elements = []
    while True:
        try:
            element, position = read_data(plaintext, position)
        except MalformedPayloadError:
            break
        elements.append(element)
    for code, value in zip(elements[1::2], elements[2::2], strict=False):
        if isinstance(code.value, bytes) and isinstance(value.number, int):
            registers[code.value.hex()] = value.number
    assert registers["0100010800ff"] == 8684853
    assert registers["0100010700ff"] == 1565


def test_a2_missing_closing_flag() -> None:
    frame = stream("WN-AM550-1")
    # As a stream parser: the cut frame is dropped, the next one decodes.
    decoder = decoder_for("WN-AM550-1")
    outcomes = decoder.feed(frame[:-1] + b"\x00" + frame)
    assert [type(item) for item in outcomes][-1] is Reading
    assert all(isinstance(item, FramingError) for item in outcomes[:-1])
    # At the end of the input the cut frame is reported, never decoded.
    decoder = decoder_for("WN-AM550-1")
    assert decoder.feed(frame[:-1]) == []
    (error,) = decoder.flush()
    assert isinstance(error, FramingError)
    # Re-appending the flag makes it a valid frame again.
    (reading,) = only_readings(decoder_for("WN-AM550-1").feed(frame[:-1] + b"\x7e"))
    assert_values(reading, "WN-AM550-1")


def test_a3_garbled_ir_read_then_resync() -> None:
    good = stream("WN-IM350-1")
    garbled = A3_GARBLED_START + good[len(A3_GARBLED_START) :]
    decoder = decoder_for("WN-IM350-1")
    outcomes = decoder.feed(garbled + good) + decoder.flush()
    readings = [item for item in outcomes if isinstance(item, Reading)]
    assert len(readings) == 1
    assert readings[0].raw == good
    assert all(isinstance(item, Reading | FramingError) for item in outcomes)


def test_a4_evn_frame_with_another_meters_key() -> None:
    decoder = MeterDecoder(key(VECTORS["NOE-KAIFA-DOC"]))
    (error,) = decoder.feed(stream("NOE-SAG-2"))
    assert isinstance(error, DecryptionError)
    assert decoder.stats.checksum_errors == 0


def test_a5_mbus_length_overflow_frame_is_framed() -> None:
    (frame,) = link_payloads(A5_MBUS_L_OVERFLOW)
    ciphered = parse_ciphered_apdu(frame.payload)
    assert ciphered.system_title == bytes.fromhex("5341475905E6DBE2")
    assert ciphered.security_control == 0x20
    assert len(ciphered.content) == 248 - 5
    decoder = MeterDecoder(bytes(range(16)))
    (error,) = decoder.feed(A5_MBUS_L_OVERFLOW)
    assert isinstance(error, DecryptionError)  # the key is not public
    assert decoder.stats.checksum_errors == 0
    assert decoder.stats.frames == 1


def test_a6_back_to_back_and_shared_flags() -> None:
    first, second = stream("WN-AM550-1"), stream("WN-AM550-1")
    for joined in (first + second, first[:-1] + second):
        decoder = decoder_for("WN-AM550-1")
        readings = only_readings(decoder.feed(joined))
        assert len(readings) == 2


def test_a6_long_frame_header_is_not_an_error_by_itself() -> None:
    # 7E A1 E9: an 11-bit length of 489; the frame is simply awaited.
    decoder = MeterDecoder(bytes(16))
    assert decoder.feed(bytes.fromhex("7ea1e9410313c637e6e700")) == []
