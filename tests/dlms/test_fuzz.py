"""Property-based tests: whatever the input, only package errors or sound readings.

The budget comes from the hypothesis profile in ``conftest.py``.
"""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import example, given, strategies as st

from custom_components.dlms_smartmeter.dlms import (
    DecoderStats,
    DecryptionError,
    DlmsError,
    LinkFrame,
    LinkLayer,
    MeterDecoder,
    Reading,
    StreamFramer,
    UnsupportedError,
)
from custom_components.dlms_smartmeter.dlms.apdu import parse_data_notification
from custom_components.dlms_smartmeter.dlms.axdr import (
    BitString,
    Data,
    DataType,
    decode_data,
)
from custom_components.dlms_smartmeter.dlms.cosem_time import (
    parse_date,
    parse_date_time,
    parse_time,
)
from custom_components.dlms_smartmeter.dlms.dsmr import parse_telegram
from custom_components.dlms_smartmeter.dlms.errors import (
    MalformedPayloadError,
)
from custom_components.dlms_smartmeter.dlms.framing import encode_hdlc, encode_mbus
from custom_components.dlms_smartmeter.dlms.layouts import map_body
from tests.data import VECTORS

KEY = bytes.fromhex(VECTORS["WN-AM550-1"]["key"])
SYSTEM_TITLE = bytes.fromhex("49534b69743c103f")


def check_outcomes(
    outcomes: list[Reading | DlmsError], stats: DecoderStats
) -> list[Reading]:
    """Only package errors and readings; no internal failure; stats add up."""
    for item in outcomes:
        assert isinstance(item, Reading | DlmsError), item
        if isinstance(item, DlmsError):
            assert "internal" not in str(item), item
    assert stats.frames == (
        stats.readings
        + stats.decryption_errors
        + stats.authentication_errors
        + stats.unsupported
        + stats.malformed
        + stats.incomplete
    )
    return [item for item in outcomes if isinstance(item, Reading)]


def payload_of(vector_id: str) -> bytes:
    framer = StreamFramer()
    payloads = [
        item.payload
        for item in framer.feed(bytes.fromhex(VECTORS[vector_id]["input_hex"]))
        if isinstance(item, LinkFrame)
    ]
    assert len(payloads) == 1
    return payloads[0]


# --- raw garbage ----------------------------------------------------------------


@given(
    chunks=st.lists(st.binary(max_size=300), max_size=8),
    link=st.sampled_from(list(LinkLayer)),
)
@example(chunks=[bytes.fromhex("7ea00acf02231370c3e6e700")], link=LinkLayer.AUTO)
@example(
    chunks=[bytes.fromhex("db08") + bytes(8) + b"\x05\x20\x00\x00\x00\x01"],
    link=LinkLayer.APDU,
)
def test_random_bytes_through_the_pipeline(
    chunks: list[bytes], link: LinkLayer
) -> None:
    decoder = MeterDecoder(KEY, KEY, link=link)
    outcomes: list[Reading | DlmsError] = []
    for chunk in chunks:
        outcomes += decoder.feed(chunk)
    outcomes += decoder.flush()
    check_outcomes(outcomes, decoder.stats)
    assert decoder.stats.bytes_received == sum(len(chunk) for chunk in chunks)


@given(
    prefix=st.sampled_from(
        [
            b"",
            b"\x0f",
            b"\x0f\x00\x00\x00\x01\x0c",
            b"\x0f\x00\x00\x00\x01\x00\x02",
            b"\xdb\x08" + SYSTEM_TITLE,
            b"\xdc\x08" + SYSTEM_TITLE,
            b"\xe0\xc0\x00\x01\x00\x00",
            b"\xe0\x40\x00\x01\x00\x00",
        ]
    ),
    rest=st.binary(max_size=200),
    authentication=st.booleans(),
)
def test_random_apdus_raise_only_package_errors(
    prefix: bytes, rest: bytes, authentication: bool
) -> None:
    decoder = MeterDecoder(KEY, KEY if authentication else None)
    try:
        reading = decoder.decode_apdu(prefix + rest)
    except DlmsError:
        return
    assert isinstance(reading, Reading)


@given(st.binary(max_size=300))
def test_random_bytes_as_axdr(data: bytes) -> None:
    try:
        decoded = decode_data(data)
    except (MalformedPayloadError, UnsupportedError):
        return
    assert isinstance(decoded, Data)


@given(st.binary(max_size=64).map(lambda tail: b"/" + tail))
def test_random_text_as_dsmr(data: bytes) -> None:
    try:
        parse_telegram(data)
    except MalformedPayloadError:
        return


@given(st.binary(min_size=12, max_size=12))
def test_any_date_time_bytes_are_safe(raw: bytes) -> None:
    moment = parse_date_time(raw)
    assert moment is None or moment.tzinfo is not None
    assert parse_date(raw[:5]) is None or raw[2] <= 12
    assert parse_time(raw[:4]) is None or raw[0] <= 23


# --- valid A-XDR round trip --------------------------------------------------------


def encode_length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    return b"\x82" + size.to_bytes(2, "big")


_SCALARS: list[tuple[DataType, str]] = [
    (DataType.DOUBLE_LONG, ">i"),
    (DataType.DOUBLE_LONG_UNSIGNED, ">I"),
    (DataType.INTEGER, ">b"),
    (DataType.LONG, ">h"),
    (DataType.UNSIGNED, ">B"),
    (DataType.LONG_UNSIGNED, ">H"),
    (DataType.LONG64, ">q"),
    (DataType.LONG64_UNSIGNED, ">Q"),
    (DataType.ENUM, ">B"),
]


@st.composite
def number(draw: st.DrawFn) -> tuple[bytes, Data]:
    data_type, fmt = draw(st.sampled_from(_SCALARS))
    bits = 8 * struct.calcsize(fmt)
    if fmt[1].islower():
        value = draw(st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
    else:
        value = draw(st.integers(0, 2**bits - 1))
    return bytes([data_type]) + struct.pack(fmt, value), Data(data_type, value)


def _octets(raw: bytes) -> tuple[bytes, Data]:
    return b"\x09" + encode_length(len(raw)) + raw, Data(DataType.OCTET_STRING, raw)


def _utf8(text: str) -> tuple[bytes, Data]:
    raw = text.encode()
    return b"\x0c" + encode_length(len(raw)) + raw, Data(DataType.UTF8_STRING, text)


def _boolean(flag: bool) -> tuple[bytes, Data]:
    return bytes([0x03, 0xFF if flag else 0]), Data(DataType.BOOLEAN, flag)


def _date_time(raw: bytes) -> tuple[bytes, Data]:
    return b"\x19" + raw, Data(DataType.DATE_TIME, raw)


@st.composite
def bit_string(draw: st.DrawFn) -> tuple[bytes, Data]:
    bits = draw(st.integers(0, 40))
    raw = draw(st.binary(min_size=(bits + 7) // 8, max_size=(bits + 7) // 8))
    return (
        b"\x04" + encode_length(bits) + raw,
        Data(DataType.BIT_STRING, BitString(bits, raw)),
    )


SCALAR = st.one_of(
    number(),
    st.binary(max_size=140).map(_octets),
    st.text(max_size=20).map(_utf8),
    st.booleans().map(_boolean),
    st.binary(min_size=12, max_size=12).map(_date_time),
    bit_string(),
    st.just((b"\x00", Data(DataType.NULL_DATA, None))),
)


def containers(
    children: st.SearchStrategy[tuple[bytes, Data]],
) -> st.SearchStrategy[tuple[bytes, Data]]:
    def build(
        data_type: DataType, items: list[tuple[bytes, Data]]
    ) -> tuple[bytes, Data]:
        encoded = bytes([data_type]) + encode_length(len(items))
        encoded += b"".join(item[0] for item in items)
        return encoded, Data(data_type, tuple(item[1] for item in items))

    return st.builds(
        build,
        st.sampled_from([DataType.ARRAY, DataType.STRUCTURE]),
        st.lists(children, max_size=6),
    )


AXDR = st.recursive(SCALAR, containers, max_leaves=30)


@given(AXDR)
def test_valid_axdr_decodes_exactly(encoded_and_data: tuple[bytes, Data]) -> None:
    encoded, expected = encoded_and_data
    assert decode_data(encoded) == expected


@given(AXDR, st.data())
def test_truncated_axdr_is_always_malformed(
    encoded_and_data: tuple[bytes, Data], data: st.DataObject
) -> None:
    encoded, _ = encoded_and_data
    cut = data.draw(st.integers(0, len(encoded) - 1))
    try:
        decode_data(encoded[:cut])
    except MalformedPayloadError:
        return
    raise AssertionError("a truncated value decoded")  # pragma: no cover


@given(AXDR)
def test_any_valid_body_maps_or_is_unsupported(
    encoded_and_data: tuple[bytes, Data],
) -> None:
    _, body = encoded_and_data
    try:
        result = map_body(body)
    except UnsupportedError:
        return
    for code, value in result.values.items():
        assert code.count(":") == 1
        assert isinstance(value.value, int | float)


# --- mutated valid frames (checksums recomputed) -------------------------------------

MUTATIONS = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 10_000), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10_000), st.just(0)),
)


def mutate(data: bytes, mutation: tuple[str, int, int], *, start: int = 0) -> bytes:
    kind, where, value = mutation
    span = len(data) - start
    if span <= 0:
        return data
    index = start + where % span
    if kind == "flip":
        changed = bytearray(data)
        changed[index] ^= 1 << value
        return bytes(changed)
    if kind == "truncate":
        return data[:index]
    if kind == "insert":
        return data[:index] + bytes([value]) + data[index:]
    return data[:index] + data[index + 1 :]


FRAME_VECTORS = [
    "WN-AM550-1",
    "WN-IM350-1",
    "KN-AM550-1",
    "BGLD-E450-1",
    "NOE-SAG-2",
    "TINETZ-KAIFA-DOC",
]
ADDRESSES = {
    "WN-AM550-1": (b"\xcf", b"\x02\x23"),
    "WN-IM350-1": (b"\xcf", b"\x00\x02\x00\x23"),
    "KN-AM550-1": (b"\xcf", b"\x02\x23"),
    "BGLD-E450-1": (b"\xce\xff", b"\x03"),
}


@given(
    vector_id=st.sampled_from(FRAME_VECTORS),
    mutations=st.lists(MUTATIONS, min_size=1, max_size=3),
)
def test_mutated_apdus_with_valid_checksums(
    vector_id: str, mutations: list[tuple[str, int, int]]
) -> None:
    vector = VECTORS[vector_id]
    apdu = payload_of(vector_id)
    for mutation in mutations:
        apdu = mutate(apdu, mutation)
    if vector_id in ADDRESSES:
        client, server = ADDRESSES[vector_id]
        frame = encode_hdlc(apdu, client_address=client, server_address=server)
    else:
        frame = encode_mbus(apdu)
    auth_key = bytes.fromhex(vector["auth_key"]) if vector["auth_key"] else None
    decoder = MeterDecoder(bytes.fromhex(vector["key"]), auth_key)
    outcomes = decoder.feed(frame) + decoder.flush()
    readings = check_outcomes(outcomes, decoder.stats)
    assert decoder.stats.checksum_errors == 0
    if auth_key is not None and apdu != payload_of(vector_id):
        # Authenticated frames: any change is caught (tag, length or header).
        assert not readings


def ctr(plaintext: bytes, counter: int) -> bytes:
    encryptor = Cipher(
        algorithms.AES(KEY),
        modes.CTR(SYSTEM_TITLE + counter.to_bytes(4, "big") + b"\x00\x00\x00\x02"),
    ).encryptor()
    return encryptor.update(plaintext) + encryptor.finalize()


def encrypted_frame(plaintext: bytes, counter: int) -> bytes:
    content = b"\x20" + counter.to_bytes(4, "big") + ctr(plaintext, counter)
    size = len(content)
    length = bytes([size]) if size < 0x80 else b"\x82" + size.to_bytes(2, "big")
    return encode_hdlc(b"\xdb\x08" + SYSTEM_TITLE + length + content)


PLAINTEXT_VECTORS = ["WN-AM550-1", "KN-AM550-1", "NOE-KAIFA-DOC", "TINETZ-KAIFA-DOC"]


@given(
    vector_id=st.sampled_from(PLAINTEXT_VECTORS),
    mutations=st.lists(MUTATIONS, min_size=1, max_size=3),
    counter=st.integers(0, 2**32 - 1),
)
@example(vector_id="WN-AM550-1", mutations=[("truncate", 60, 0)], counter=1)
@example(vector_id="WN-AM550-1", mutations=[("flip", 18, 1)], counter=1)  # 02 0B
def test_mutated_plaintext_never_yields_values_from_a_broken_structure(
    vector_id: str, mutations: list[tuple[str, int, int]], counter: int
) -> None:
    plaintext = bytes.fromhex(VECTORS[vector_id]["plaintext_hex"])
    for mutation in mutations:
        plaintext = mutate(plaintext, mutation, start=1)
    decoder = MeterDecoder(KEY)
    outcomes = decoder.feed(encrypted_frame(plaintext, counter)) + decoder.flush()
    readings = check_outcomes(outcomes, decoder.stats)
    try:
        notification = parse_data_notification(plaintext)
    except (MalformedPayloadError, UnsupportedError):
        # A structure that does not parse completely is a wrong key or a
        # corrupt frame, never a reading.
        assert not readings
        assert [type(item) for item in outcomes] == [DecryptionError]
        return
    if readings:
        (reading,) = readings
        assert dict(reading.values) == map_body(notification.body).values
        assert reading.invocation_counter == counter
    else:
        (only,) = outcomes
        assert isinstance(only, UnsupportedError)


@given(
    order=st.lists(st.integers(0, 2), min_size=1, max_size=6),
)
def test_block_transfer_frames_in_any_order(order: list[int]) -> None:
    raw = bytes.fromhex(VECTORS["E450-GBT-1"]["input_hex"])
    frames = []
    position = 0
    while position < len(raw):
        size = (int.from_bytes(raw[position + 1 : position + 3], "big") & 0x7FF) + 2
        frames.append(raw[position : position + size])
        position += size
    vector = VECTORS["E450-GBT-1"]
    decoder = MeterDecoder(
        bytes.fromhex(vector["key"]), bytes.fromhex(vector["auth_key"])
    )
    outcomes = (
        decoder.feed(b"".join(frames[index] for index in order)) + decoder.flush()
    )
    readings = check_outcomes(outcomes, decoder.stats)
    complete = sum(
        1 for index in range(len(order) - 2) if order[index : index + 3] == [0, 1, 2]
    )
    assert len(readings) == complete
    for reading in readings:
        assert reading.values["1-0:1.8.0"].value == 4408736
