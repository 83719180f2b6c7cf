"""Stream framing: HDLC, M-Bus and raw APDUs out of an arbitrary byte stream."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from hypothesis import assume, given, strategies as st
import pytest

from custom_components.dlms_smartmeter.dlms import (
    ChecksumError,
    FramingError,
    LinkFrame,
    LinkLayer,
    StreamFramer,
)
from custom_components.dlms_smartmeter.dlms.crc import crc16_x25, mbus_checksum
from custom_components.dlms_smartmeter.dlms.framing import (
    HDLC_MAX_FRAME,
    MAX_MESSAGE_SIZE,
    MBUS_MAX_FRAME,
    RAW_APDU_MAX_FRAME,
    FramerStats,
    encode_hdlc,
    encode_mbus,
)
from tests.data import VECTORS

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

FRAMED_VECTOR_IDS = [
    vector_id
    for vector_id, vector in VECTORS.items()
    if vector["input_kind"] in {"hdlc", "mbus", "apdu"}
]
# Link frames per vector where it is not one: General-Block-Transfer blocks
# are one HDLC frame each (reassembled at the APDU layer, not here).
FRAMES_PER_VECTOR = {"E450-GBT-1": 3, "E450-GBT-3-zero-key": 4}
APDU_TAGS = {0xDB, 0xE0, 0x0F}


def wire(vector_id: str) -> bytes:
    return bytes.fromhex(VECTORS[vector_id]["input_hex"])


AM550 = wire("WN-AM550-1")
IM350 = wire("WN-IM350-1")
ISKRA_SEGMENTED = wire("ISKRA550-SEG-PLAIN")
NOE = wire("NOE-KAIFA-DOC")
STMK_APDU = wire("STMK-SAG-DSMR-1")

# Gurux forum thread (Wiener Netze AM550): three consecutive pushes; the
# middle one lost 9 bytes of its header on the way (96 instead of 105 bytes).
SEED_FRAMES = [
    bytes.fromhex(
        "7E A0 67 CF 02 23 13 FB F1 E6 E7 00 DB 08 49 53 4B 69 74 92 ED 66 4F 20 "
        "00 1D 27 DC 8B 31 1E CA 46 0B B4 0F 27 DF 9A 0F F3 E7 36 75 4B 7C D8 F3 "
        "35 47 49 9F E0 93 79 B7 87 E1 E3 22 67 AD 3A F0 4D B3 0F 42 C9 DE 2F 7F "
        "10 FE 8A DF 86 BA 32 79 48 EC 5C FC 57 31 AF CA AF C2 AC 80 F9 E8 7F 62 "
        "1A 94 41 10 8E DE 09 F6 7E"
    ),
    bytes.fromhex(
        "7E A0 67 CF 02 23 13 FB 69 74 92 ED 66 4F 20 00 1D 27 DD BF 7C 47 94 EB "
        "2C BA DF F8 CF 92 4A 33 64 EA E6 63 B5 8D B7 8C 4D 0E 1B 92 CD DE C7 25 "
        "CB 9F 17 7B C2 56 AE 83 AA 41 94 D4 62 9E 6B 3E 4C 9B 33 EC 46 74 06 DE "
        "B5 C8 40 4C 54 98 53 A2 B2 51 49 5C 2B 19 D6 7F B2 7B 98 CD 5C 3D 13 7E"
    ),
    bytes.fromhex(
        "7E A0 67 CF 02 23 13 FB F1 E6 E7 00 DB 08 49 53 4B 69 74 92 ED 66 4F 20 "
        "00 1D 27 DE 2F C7 C7 26 6C 39 B7 14 0F 33 16 CB 37 7C 44 FD 54 78 04 B3 "
        "53 BE 2E 57 D2 BB C8 ED FB 47 C1 B1 04 EF 9F 72 7D 81 16 75 86 E8 52 93 "
        "67 78 FD 70 BA 28 E4 9B 7E 53 03 83 88 A4 AE 5A 84 C7 2D E9 11 AB 50 71 "
        "2A 79 8E FA 07 D3 C1 FA 7E"
    ),
]

# Appendix A1: first block of a General-Block-Transfer sequence (L+G E450);
# its system title contains 7E.
PARTIAL_GBT_FRAME = bytes.fromhex(
    "7ea08bceff0313eee1e6e700e0400001000077db084c475a67737c7ee0820103"
    "30000879a66ad533b89c24bfe1680b0745ab2138b4098c33c9ba956639d0cbfce9"
    "a657a4076ad04ae0b190441d489b62452aef0c240229e8c0ff3c03e18ddabdc6cd"
    "ffa94330ca9c16be8059aa17a9084b6bec007d2f675d720a65fd0a70f1eaf16122"
    "cddf80971057b4d8eb7e"
)

# Appendix A5: EVN Sagemcom T210-D pair whose first frame says L = 0x01 but
# carries 257 user-data bytes.
EVN_LENGTH_OVERFLOW = bytes.fromhex(
    "6801016853FF000167DB085341475905E6DBE281F820003986B8E7AC20CB8A3AD288"
    "6192BBEEFE4CE64B339F23497BE7EF7DC6748D8967C0569D2C1C5A0B4EF8274362F6"
    "07474A4966E0CE8784A4B9699C71396DFE7E0299FA5767DF99C8E0DC98A8227EB231"
    "D09BE6CD140C686E3DF8652D07EE8AAB0DE1A5ACA4656F5F1862C3F880F8F163EFB5"
    "6420AFAFB9C6A2422A8DDC2178719AE30419F91B6E40B84329CC48DADA48F9ECC461"
    "63D9B73EE57BE2110A410499A5B7643ACF067C21BB2DA39BFA78B6B4238FCDE67373"
    "2CDE16C743DC580E617F02F4019BAE06AC30EC5ABF1AABA75CBFC3EB780153B61082"
    "08E8BC7EF31CC01CF0844F661CCE243A642E9719D42953A316680D0D6853FF110167"
    "B2F678E644E82687AA16"
)


# --- helpers ------------------------------------------------------------------


def split_hdlc(data: bytes) -> list[bytes]:
    """Frames of a concatenation of HDLC frames, by their length fields."""
    frames, index = [], 0
    while index < len(data):
        size = ((data[index + 1] << 8 | data[index + 2]) & 0x7FF) + 2
        frames.append(data[index : index + size])
        index += size
    return frames


def split_mbus(data: bytes) -> list[bytes]:
    """Segments of a concatenation of M-Bus long frames (no length overflow)."""
    segments, index = [], 0
    while index < len(data):
        size = data[index + 1] + 6
        segments.append(data[index : index + size])
        index += size
    return segments


def with_mbus_field(segment: bytes, offset: int, value: bytes) -> bytes:
    """An M-Bus segment with bytes replaced and its checksum recomputed."""
    changed = bytearray(segment)
    changed[offset : offset + len(value)] = value
    changed[-2] = mbus_checksum(changed[4:-2])
    return bytes(changed)


def flip(data: bytes, index: int, mask: int = 0xFF) -> bytes:
    changed = bytearray(data)
    changed[index] ^= mask
    return bytes(changed)


def feed_chunks(
    framer: StreamFramer, data: bytes, sizes: Iterable[int]
) -> list[LinkFrame | FramingError]:
    results: list[LinkFrame | FramingError] = []
    index = 0
    for size in sizes:
        results += framer.feed(data[index : index + size])
        index += size
    results += framer.feed(data[index:])
    results += framer.flush()
    return results


def run(
    data: bytes, link: LinkLayer = LinkLayer.AUTO, chunk: int | None = None
) -> tuple[list[LinkFrame | FramingError], FramerStats]:
    framer = StreamFramer(link)
    size = chunk or max(len(data), 1)
    results = feed_chunks(framer, data, [size] * (len(data) // size))
    return results, framer.stats


def outline(results: Sequence[LinkFrame | FramingError]) -> list[tuple[Any, ...]]:
    """Results in a comparable form (exceptions do not compare by value)."""
    return [
        (item.link, item.payload, item.raw)
        if isinstance(item, LinkFrame)
        else (type(item).__name__, str(item))
        for item in results
    ]


def frames_of(results: Iterable[LinkFrame | FramingError]) -> list[LinkFrame]:
    return [item for item in results if isinstance(item, LinkFrame)]


def errors_of(results: Iterable[LinkFrame | FramingError]) -> list[FramingError]:
    return [item for item in results if isinstance(item, FramingError)]


def hdlc_header(length: int, *, segmented: bool = False) -> bytes:
    """Flag, format, addresses CF / 02 23, control 13 and a valid HCS."""
    header = bytes([0xA0 | (0x08 if segmented else 0) | length >> 8, length & 0xFF])
    header += b"\xcf\x02\x23\x13"
    return b"\x7e" + header + crc16_x25(header).to_bytes(2, "little")


# --- the vectors ---------------------------------------------------------------


@pytest.mark.parametrize("vector_id", FRAMED_VECTOR_IDS)
def test_every_vector_frames(vector_id: str) -> None:
    vector = VECTORS[vector_id]
    data = wire(vector_id)
    results, stats = run(data)
    frames = frames_of(results)
    assert errors_of(results) == []
    assert len(frames) == FRAMES_PER_VECTOR.get(vector_id, 1)
    assert all(frame.link == vector["input_kind"] for frame in frames)
    assert all(frame.payload[0] in APDU_TAGS for frame in frames)
    assert b"".join(frame.raw for frame in frames) == data
    assert stats == FramerStats(
        bytes_received=len(data), frames=len(frames), bytes_skipped=0
    )


@pytest.mark.parametrize("vector_id", FRAMED_VECTOR_IDS)
def test_every_vector_frames_with_its_explicit_link_layer(vector_id: str) -> None:
    link = LinkLayer(VECTORS[vector_id]["input_kind"])
    automatic, _ = run(wire(vector_id))
    explicit, _ = run(wire(vector_id), link)
    assert outline(explicit) == outline(automatic)


@pytest.mark.parametrize("vector_id", FRAMED_VECTOR_IDS)
def test_every_vector_frames_one_byte_at_a_time(vector_id: str) -> None:
    whole, whole_stats = run(wire(vector_id))
    bytewise, bytewise_stats = run(wire(vector_id), chunk=1)
    assert outline(bytewise) == outline(whole)
    assert bytewise_stats == whole_stats


@pytest.mark.parametrize("index", range(14))
@pytest.mark.parametrize("damage", ["flip", "drop"])
def test_damaged_header_frames_the_same_one_byte_at_a_time(
    index: int, damage: str
) -> None:
    # A damaged header announces a wrong length: the framer must decide on
    # the header as soon as it is complete, however the bytes arrive.
    if damage == "flip":
        damaged = flip(AM550, index, 0x04)
    else:
        damaged = AM550[:index] + AM550[index + 1 :]
    data = damaged + AM550
    whole, whole_stats = run(data)
    bytewise, bytewise_stats = run(data, chunk=1)
    assert outline(bytewise) == outline(whole)
    assert bytewise_stats == whole_stats
    assert frames_of(whole)[-1].raw == AM550


@pytest.mark.parametrize(
    ("vector_id", "wrong_link"),
    [
        ("WN-AM550-1", LinkLayer.MBUS),
        ("NOE-KAIFA-DOC", LinkLayer.HDLC),
        ("STMK-SAG-DSMR-1", LinkLayer.HDLC),
        ("STMK-SAG-DSMR-1", LinkLayer.MBUS),
    ],
)
def test_a_wrong_link_layer_finds_no_frame(
    vector_id: str, wrong_link: LinkLayer
) -> None:
    results, stats = run(wire(vector_id), wrong_link)
    assert frames_of(results) == []
    assert stats.frames == 0
    assert stats.bytes_received == len(wire(vector_id))


def test_wiener_netze_frame_payload_is_the_apdu_after_the_llc() -> None:
    (frame,) = frames_of(run(AM550)[0])
    assert frame.payload == AM550[12:-3]
    assert frame.payload.startswith(bytes.fromhex("db0849534b69743c103f4f20"))
    assert frame.raw == AM550


def test_hdlc_segments_are_reassembled_into_one_message() -> None:
    segments = split_hdlc(ISKRA_SEGMENTED)
    assert [segment[1] for segment in segments] == [0xA8, 0xA8, 0xA0]
    (frame,) = frames_of(run(ISKRA_SEGMENTED)[0])
    # Unencrypted: the reassembled payload is the data-notification itself.
    assert frame.payload == bytes.fromhex(
        VECTORS["ISKRA550-SEG-PLAIN"]["plaintext_hex"]
    )
    assert frame.raw == ISKRA_SEGMENTED


@pytest.mark.parametrize(
    "vector_id", ["NOE-KAIFA-DOC", "NOE-SAG-2", "TINETZ-KAIFA-DOC"]
)
def test_mbus_segments_are_reassembled_without_transport_addresses(
    vector_id: str,
) -> None:
    data = wire(vector_id)
    segments = split_mbus(data)
    assert [segment[6] for segment in segments] == [0x00, 0x11]
    (frame,) = frames_of(run(data)[0])
    assert frame.payload == b"".join(segment[9:-2] for segment in segments)
    assert frame.payload.startswith(b"\xdb\x08")
    assert frame.raw == data


def test_general_block_transfer_frames_are_separate_link_frames() -> None:
    frames = frames_of(run(wire("E450-GBT-1"))[0])
    # Only the first frame has the LLC header; each carries one E0 block.
    assert [frame.payload[:4].hex() for frame in frames] == [
        "e0400001",
        "e0400002",
        "e0c00003",
    ]


def test_raw_apdu_stream_frames_by_its_ber_length() -> None:
    results, stats = run(b"\x00garbage" + STMK_APDU + STMK_APDU)
    assert [frame.payload for frame in frames_of(results)] == [STMK_APDU] * 2
    assert all(frame.link is LinkLayer.APDU for frame in frames_of(results))
    assert stats.bytes_skipped == 8


# --- Appendix A and the forum thread -------------------------------------------


def test_partial_general_block_transfer_frame_frames_as_one_frame() -> None:
    assert b"\x7e" in PARTIAL_GBT_FRAME[1:-1]
    results, _ = run(PARTIAL_GBT_FRAME)
    (frame,) = frames_of(results)
    assert errors_of(results) == []
    assert frame.payload.startswith(bytes.fromhex("e0400001000077db084c475a67737c7ee0"))


def test_forum_frames_with_a_corrupted_header_lose_only_that_frame() -> None:
    assert [len(frame) for frame in SEED_FRAMES] == [105, 96, 105]
    framer = StreamFramer()
    results = framer.feed(b"".join(SEED_FRAMES))
    assert [type(item) for item in results] == [LinkFrame, ChecksumError, LinkFrame]
    assert [frame.raw for frame in frames_of(results)] == [
        SEED_FRAMES[0],
        SEED_FRAMES[2],
    ]
    assert "header check sequence" in str(results[1])
    assert framer.stats.checksum_errors == 1
    assert framer.stats.bytes_skipped == 96
    assert framer.flush() == []


def test_capture_without_closing_flag_followed_by_garbage_is_a_framing_error() -> None:
    garbage = bytes(range(1, 97))  # no 7E
    results, stats = run(AM550[:-1] + garbage + AM550)
    assert [type(item) for item in results] == [FramingError, LinkFrame]
    assert "closing flag" in str(results[0])
    assert stats.framing_errors == 1
    assert stats.bytes_skipped == len(AM550) - 1 + len(garbage)


def test_garbled_ir_frame_is_skipped_and_the_next_frame_survives() -> None:
    garbled = bytes.fromhex("7c00728e00000002") + IM350[8:]
    results, stats = run(garbled + IM350)
    assert [frame.raw for frame in frames_of(results)] == [IM350]
    assert stats.bytes_skipped == len(garbled)


def test_evn_length_overflow_pair_frames_with_l_plus_256() -> None:
    first_frame_size = 4 + 257 + 2
    assert EVN_LENGTH_OVERFLOW[1] == 0x01
    assert EVN_LENGTH_OVERFLOW[first_frame_size - 1] == 0x16
    results, stats = run(EVN_LENGTH_OVERFLOW)
    (frame,) = frames_of(results)
    assert errors_of(results) == []
    # 252 + 8 user-data bytes: DB 08 <title> 81 F8 <248 bytes>.
    assert len(frame.payload) == 260
    assert frame.payload[10:12] == b"\x81\xf8"
    assert frame.raw == EVN_LENGTH_OVERFLOW
    assert stats.bytes_skipped == 0


def test_mbus_segment_with_corrupt_transport_addresses_drops_the_message() -> None:
    first, second = split_mbus(NOE)
    corrupt = with_mbus_field(second, 7, b"\x47\x83")
    results, stats = run(first + corrupt + NOE)
    assert [type(item) for item in results] == [FramingError, LinkFrame]
    assert "47 83 instead of 01 67" in str(results[0])
    assert frames_of(results)[0].raw == NOE
    assert stats.framing_errors == 1


def test_mbus_first_segment_with_corrupt_transport_addresses_is_an_error() -> None:
    first, second = split_mbus(NOE)
    results, _ = run(with_mbus_field(first, 7, b"\x00\x00") + second)
    assert [str(error) for error in errors_of(results)] == [
        (
            "M-Bus segment 0 carries transport addresses 00 00 instead of 01 67: "
            "the segment is corrupt; its message is dropped"
        ),
        (
            "M-Bus segment 1 arrived where segment 0 was expected: a segment was "
            "lost; the message is dropped"
        ),
    ]
    assert frames_of(results) == []


def test_mbus_unexpected_control_information_is_one_whole_message() -> None:
    (single,) = split_mbus(encode_mbus(b"\xdb\x08" + bytes(60)))
    assert single[6] == 0x10
    results, _ = run(with_mbus_field(single, 6, b"\xff"))
    (frame,) = frames_of(results)
    assert frame.payload == b"\xdb\x08" + bytes(60)


def test_mbus_segment_out_of_order_drops_the_message() -> None:
    first, second = split_mbus(NOE)
    results, stats = run(second + first + second)
    assert [type(item) for item in results] == [FramingError, LinkFrame]
    assert "segment 1 arrived where segment 0 was expected" in str(results[0])
    assert stats.framing_errors == 1


def test_mbus_repeated_first_segment_reports_the_cut_message() -> None:
    first, second = split_mbus(NOE)
    results, _ = run(first + first + second)
    assert [type(item) for item in results] == [FramingError, LinkFrame]
    assert "incomplete segmented mbus message: a new message began" in str(results[0])


def test_mbus_skipped_segment_number_drops_the_message() -> None:
    segments = split_mbus(encode_mbus(bytes(range(90)), max_segment=30))
    assert [segment[6] for segment in segments] == [0x00, 0x01, 0x12]
    results, _ = run(segments[0] + segments[2])
    assert [str(error) for error in errors_of(results)] == [
        (
            "M-Bus segment 2 arrived where segment 1 was expected: a segment was "
            "lost; the message is dropped"
        )
    ]


# --- checksums -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (7, "HDLC header check sequence mismatch"),
        (8, "HDLC header check sequence mismatch"),
        (102, "HDLC frame check sequence mismatch (frame of 105 bytes)"),
        (103, "HDLC frame check sequence mismatch (frame of 105 bytes)"),
        (60, "HDLC frame check sequence mismatch (frame of 105 bytes)"),
    ],
)
def test_flipped_hcs_or_fcs_byte_is_a_checksum_error(index: int, message: str) -> None:
    results, stats = run(flip(AM550, index) + AM550)
    assert [type(item) for item in results] == [ChecksumError, LinkFrame]
    assert message in str(results[0])
    assert "check the reading head" in str(results[0])
    assert stats.checksum_errors == 1
    assert stats.framing_errors == 0


def test_flipped_mbus_checksum_is_a_checksum_error() -> None:
    first, second = split_mbus(NOE)
    broken = flip(first, len(first) - 2)
    # The framer also tries the frame as a length overflow (L + 256) before
    # giving up, so it needs the bytes that follow.
    results, stats = run(broken + second + NOE)
    assert [type(item) for item in results] == [ChecksumError, FramingError, LinkFrame]
    assert "M-Bus checksum mismatch (frame of 256 bytes)" in str(results[0])
    assert frames_of(results)[0].raw == NOE
    assert stats.checksum_errors == 1


def test_flipped_mbus_checksum_at_the_end_of_input_is_reported_by_flush() -> None:
    first, _ = split_mbus(NOE)
    framer = StreamFramer()
    assert framer.feed(flip(first, len(first) - 2)) == []
    (error,) = framer.flush()
    assert isinstance(error, ChecksumError)
    assert framer.buffered == 0


def test_truncated_frame_followed_by_a_good_one_loses_only_the_truncated_one() -> None:
    results, _ = run(AM550[:60] + AM550 + AM550)
    assert [type(item) for item in results] == [ChecksumError, LinkFrame, LinkFrame]
    assert [frame.raw for frame in frames_of(results)] == [AM550, AM550]


def test_truncated_mbus_segment_followed_by_good_messages() -> None:
    results, _ = run(NOE[:100] + NOE + NOE)
    assert [type(item) for item in results] == [FramingError, LinkFrame, LinkFrame]
    assert "does not end with a stop byte" in str(results[0])


# --- flags and inner 7E ----------------------------------------------------------


@pytest.mark.parametrize(
    "vector_id",
    [
        "WN-AM550-4-pocki",
        "WN-IM350-1",
        "SMS-IM350-1",
        "WELS-IM350-1",
        "E450-GBT-3-zero-key",
    ],
)
def test_frames_with_an_inner_flag_byte(vector_id: str) -> None:
    data = wire(vector_id)
    assert any(b"\x7e" in frame[1:-1] for frame in split_hdlc(data))
    results, _ = run(data)
    assert errors_of(results) == []
    assert b"".join(frame.raw for frame in frames_of(results)) == data


def test_inner_flag_followed_by_a_format_byte_is_not_a_frame_start() -> None:
    payload = b"\x0f" + b"\x7e\xa0\x67\xcf\x02\x23\x13" * 10
    data = encode_hdlc(payload)
    results, _ = run(data)
    assert outline(results) == [(LinkLayer.HDLC, payload, data)]


def test_double_flags_between_frames() -> None:
    data = AM550 + IM350 + AM550
    assert data[104:106] == b"\x7e\x7e"
    results, stats = run(data)
    assert [frame.raw for frame in frames_of(results)] == [AM550, IM350, AM550]
    assert stats.bytes_skipped == 0


def test_one_shared_flag_between_frames() -> None:
    data = AM550 + IM350[1:] + AM550[1:]
    results, stats = run(data)
    assert [frame.raw for frame in frames_of(results)] == [AM550, IM350, AM550]
    assert errors_of(results) == []
    assert stats.bytes_skipped == 0


def test_idle_flags_and_garbage_between_frames_are_skipped() -> None:
    results, stats = run(b"\x7e\x7e\x7e" + AM550 + b"\x00\x11\x7e" + AM550)
    assert len(frames_of(results)) == 2
    assert errors_of(results) == []
    assert stats.bytes_skipped == 6


def test_frame_without_information_field_is_consumed_silently() -> None:
    # A link-management frame (format, addresses, control, FCS; no HCS).
    body = b"\xa0\x08\xcf\x02\x23\x93"
    management = b"\x7e" + body + crc16_x25(body).to_bytes(2, "little") + b"\x7e"
    segments = split_hdlc(ISKRA_SEGMENTED)
    results, stats = run(management + segments[0] + management + b"".join(segments[1:]))
    assert outline(results) == outline(run(ISKRA_SEGMENTED)[0])
    assert stats.bytes_skipped == 0


# --- reconnects, end of input and interruptions ----------------------------------


def test_reset_mid_frame_then_a_full_frame_gives_exactly_the_full_frame() -> None:
    framer = StreamFramer()
    assert framer.feed(AM550[:50]) == []
    framer.reset()
    assert framer.buffered == 0
    results = framer.feed(IM350)
    assert outline(results) == outline(run(IM350)[0])
    assert framer.flush() == []
    assert framer.stats.bytes_skipped == 50
    assert framer.stats.framing_errors == 0


def test_reset_drops_a_pending_segmented_message_and_reports_it() -> None:
    first = split_hdlc(ISKRA_SEGMENTED)[0]
    framer = StreamFramer()
    assert framer.feed(first) == []
    framer.reset()
    results = framer.feed(AM550)
    assert [type(item) for item in results] == [FramingError, LinkFrame]
    assert str(results[0]) == (
        "incomplete segmented hdlc message: the connection was reset after "
        "1 segment (154 bytes), before the last segment; dropped"
    )
    assert framer.stats.framing_errors == 1


def test_segmented_message_interrupted_by_a_new_message() -> None:
    first, second, _ = split_hdlc(ISKRA_SEGMENTED)
    results, stats = run(first + second + AM550)
    assert [type(item) for item in results] == [FramingError, LinkFrame]
    assert "a new message began after 2 segments" in str(results[0])
    assert frames_of(results)[0].raw == AM550
    assert stats.framing_errors == 1


def test_segment_from_other_addresses_interrupts_a_message() -> None:
    first, *_ = split_hdlc(ISKRA_SEGMENTED)
    other = split_hdlc(
        encode_hdlc(bytes(40), server_address=b"\x03", max_information=20)
    )
    # The last segment of another sender's message: no LLC header, S = 0.
    assert other[2][1] == 0xA0
    assert other[2][8:11] == bytes(3)
    results, _ = run(first + other[2])
    assert [type(item) for item in results] == [FramingError, LinkFrame]
    assert "a new message began after 1 segment" in str(results[0])
    assert frames_of(results)[0].payload == bytes(3)


def test_segmented_message_interrupted_by_another_link_layer() -> None:
    first, *_ = split_hdlc(ISKRA_SEGMENTED)
    results, _ = run(first + NOE)
    assert [type(item) for item in results] == [FramingError, LinkFrame]
    assert "a frame of type mbus arrived" in str(results[0])


def test_mbus_message_interrupted_by_an_hdlc_frame() -> None:
    first, _ = split_mbus(NOE)
    results, _ = run(first + AM550)
    assert [type(item) for item in results] == [FramingError, LinkFrame]
    assert "incomplete segmented mbus message: a frame of type hdlc arrived" in str(
        results[0]
    )


def test_oversized_segmented_message_is_dropped_with_all_its_segments() -> None:
    oversized = encode_hdlc(bytes(MAX_MESSAGE_SIZE), max_information=2000)
    assert len(split_hdlc(oversized)) == 33
    results, stats = run(oversized + AM550)
    assert [str(error) for error in errors_of(results)] == [
        "segmented hdlc message longer than 65536 bytes; dropped"
    ]
    assert [frame.raw for frame in frames_of(results)] == [AM550]
    assert stats.framing_errors == 1


def test_oversized_message_cut_short_is_reported_once() -> None:
    payload = bytes(MAX_MESSAGE_SIZE + 4000)
    segments = split_hdlc(encode_hdlc(payload, max_information=2000))
    assert len(segments) == 35  # the cap is crossed by segment 33
    framer = StreamFramer()
    results = framer.feed(b"".join(segments[:-1]))
    assert outline(results) == [
        ("FramingError", "segmented hdlc message longer than 65536 bytes; dropped")
    ]
    assert framer.flush() == []
    assert outline(framer.feed(AM550)) == outline(run(AM550)[0])


def test_flush_reports_a_partial_frame() -> None:
    framer = StreamFramer()
    assert framer.feed(AM550[:50]) == []
    errors = framer.flush()
    assert [str(error) for error in errors] == ["incomplete frame: got 50 of 105 bytes"]
    assert framer.stats.framing_errors == 1
    assert framer.buffered == 0
    assert framer.flush() == []


def test_flush_reports_a_cut_header() -> None:
    framer = StreamFramer()
    framer.feed(b"\x7e\xa0")
    assert [str(error) for error in framer.flush()] == [
        "incomplete frame: got 2 bytes of its header"
    ]


def test_flush_reports_a_pending_segmented_message() -> None:
    framer = StreamFramer()
    framer.feed(b"".join(split_hdlc(ISKRA_SEGMENTED)[:2]))
    (error,) = framer.flush()
    assert "the input ended after 2 segments" in str(error)


def test_flush_of_nothing_reports_nothing() -> None:
    framer = StreamFramer()
    assert framer.feed(b"") == []
    assert framer.flush() == []
    assert framer.stats == FramerStats()


# --- raw APDUs --------------------------------------------------------------------


def test_raw_apdus_are_ignored_once_a_link_layer_has_proven_itself() -> None:
    results, _ = run(AM550 + STMK_APDU + AM550)
    assert [frame.link for frame in frames_of(results)] == [LinkLayer.HDLC] * 2
    framer = StreamFramer()
    detected = [framer.detected_link]
    for data in (STMK_APDU, NOE):
        framer.feed(data)
        detected.append(framer.detected_link)
    assert detected == [None, LinkLayer.APDU, LinkLayer.MBUS]
    assert framer.feed(STMK_APDU) == []


def test_dedicated_ciphering_apdu_only_with_the_explicit_link_layer() -> None:
    dedicated = b"\xdc" + STMK_APDU[1:]
    assert frames_of(run(dedicated)[0]) == []
    (frame,) = frames_of(run(dedicated, LinkLayer.APDU)[0])
    assert frame.payload == dedicated


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (2, ord("s")),  # the manufacturer id must be three upper-case letters
        (4, ord("7")),
        (10, 0x80),  # indefinite BER length
        (10, 0x84),  # BER length longer than two bytes
        (13, 0x10),  # security control byte: authentication only
    ],
)
def test_implausible_raw_apdu_header_is_not_a_frame(index: int, value: int) -> None:
    changed = bytearray(STMK_APDU)
    changed[index] = value
    for link in (LinkLayer.AUTO, LinkLayer.APDU):
        results, stats = run(bytes(changed), link)
        assert frames_of(results) == []
        assert stats.bytes_skipped == len(changed)


def test_raw_apdu_in_a_stream_joined_mid_frame_does_not_swallow_frames() -> None:
    # Joined right at the DB tag inside the first GBT frame: its BER length
    # (259) reaches into the next HDLC frame, which must win.
    data = wire("E450-GBT-1")
    tail = data[data.index(b"\xdb\x08") :]
    results, _ = run(tail)
    frames = frames_of(results)
    assert [frame.link for frame in frames] == [LinkLayer.HDLC] * 2
    assert [frame.payload[:4].hex() for frame in frames] == ["e0400002", "e0c00003"]


def test_raw_apdu_with_a_false_frame_start_inside_is_taken() -> None:
    apdu = bytearray(STMK_APDU)
    apdu[100:104] = b"\x7e\xa0\x30\x03"  # looks like a frame start; no valid HCS
    (frame,) = frames_of(run(bytes(apdu))[0])
    assert frame.payload == apdu


def test_raw_apdu_reaching_into_an_mbus_frame_is_not_taken() -> None:
    tail = NOE[NOE.index(b"\xdb\x08") :]
    results, _ = run(tail + NOE)
    assert [frame.link for frame in frames_of(results)] == [LinkLayer.MBUS]


# --- statistics ---------------------------------------------------------------------


def test_stats_tell_no_bytes_from_garbage_from_frames() -> None:
    silent = StreamFramer()
    assert silent.stats.as_dict() == {
        "bytes_received": 0,
        "bytes_skipped": 0,
        "frames": 0,
        "checksum_errors": 0,
        "framing_errors": 0,
    }
    noise = StreamFramer()
    noise.feed(bytes(range(1, 100)) * 3)
    noise.flush()
    assert noise.stats.bytes_received == noise.stats.bytes_skipped == 297
    assert noise.stats.frames == 0
    working = StreamFramer()
    working.feed(AM550 * 3)
    assert working.stats.frames == 3
    assert working.stats.bytes_skipped == 0
    assert working.detected_link is LinkLayer.HDLC


# --- encoders -----------------------------------------------------------------------


def test_encode_hdlc_reproduces_real_frames() -> None:
    assert encode_hdlc(AM550[12:-3]) == AM550
    e450 = wire("WN-E450-1")
    assert (
        encode_hdlc(e450[12:-3], client_address=b"\xce\xff", server_address=b"\x03")
        == e450
    )
    assert encode_hdlc(IM350[14:-3], server_address=b"\x00\x02\x00\x23") == IM350


def test_encode_hdlc_reproduces_real_segmentation() -> None:
    payload = bytes.fromhex(VECTORS["ISKRA550-SEG-PLAIN"]["plaintext_hex"])
    assert encode_hdlc(payload, max_information=154) == ISKRA_SEGMENTED


@pytest.mark.parametrize(
    "vector_id", ["NOE-KAIFA-DOC", "NOE-SAG-2", "TINETZ-KAIFA-DOC"]
)
def test_encode_mbus_reproduces_real_frames(vector_id: str) -> None:
    data = wire(vector_id)
    (frame,) = frames_of(run(data)[0])
    assert encode_mbus(frame.payload) == data


def test_encode_mbus_of_nothing_is_one_empty_segment() -> None:
    data = encode_mbus(b"")
    assert data == bytes.fromhex("68050568 53ff100167 ca16")
    assert outline(run(data)[0]) == [(LinkLayer.MBUS, b"", data)]


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"client_address": b"\xce"}, "client_address must be 1, 2 or 4 bytes"),
        ({"client_address": b""}, "client_address must be"),
        ({"server_address": b"\x02\x22\x23"}, "server_address must be"),
        ({"server_address": b"\x03\x23"}, "server_address must be"),
        ({"max_information": 0}, "max_information must be between 1 and 2037"),
        ({"max_information": 2038}, "max_information must be between 1 and 2037"),
    ],
)
def test_encode_hdlc_rejects_bad_arguments(
    keywords: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        encode_hdlc(b"\x0f", **keywords)


def test_encode_hdlc_needs_segmentation_for_a_long_payload() -> None:
    with pytest.raises(ValueError, match="pass max_information"):
        encode_hdlc(bytes(2035))
    assert len(split_hdlc(encode_hdlc(bytes(2034)))) == 1
    assert len(split_hdlc(encode_hdlc(bytes(2035), max_information=2037))) == 2


@pytest.mark.parametrize(
    ("payload", "max_segment", "message"),
    [
        (b"", 0, "max_segment must be between 1 and 250"),
        (b"", 251, "max_segment must be between 1 and 250"),
        (bytes(17), 1, "needs more than 16 M-Bus segments"),
    ],
)
def test_encode_mbus_rejects_bad_arguments(
    payload: bytes, max_segment: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        encode_mbus(payload, max_segment=max_segment)


# --- properties -----------------------------------------------------------------------

WHOLE_MESSAGES = [wire(vector_id) for vector_id in FRAMED_VECTOR_IDS] + SEED_FRAMES
LINK_MESSAGES = [
    wire(vector_id)
    for vector_id in FRAMED_VECTOR_IDS
    if VECTORS[vector_id]["input_kind"] != "apdu"
]
# Enough bytes without a frame start to settle every pending candidate.
SETTLING_PADDING = bytes(RAW_APDU_MAX_FRAME + 1)


@st.composite
def damaged_messages(draw: st.DrawFn) -> bytes:
    message = draw(st.sampled_from(WHOLE_MESSAGES))
    how = draw(st.sampled_from(["flip", "cut", "drop"]))
    index = draw(st.integers(0, len(message) - 1))
    if how == "flip":
        return flip(message, index, draw(st.integers(1, 255)))
    if how == "cut":
        return message[:index]
    return message[:index] + message[index + 1 :]


stream_pieces = st.one_of(
    st.sampled_from(WHOLE_MESSAGES),
    st.binary(max_size=40),
    damaged_messages(),
    st.sampled_from([b"\x7e", b"\x7e\xa0", b"\x68\x05\x05\x68", b"\xdb\x08SAG"]),
)


@given(
    st.lists(stream_pieces, max_size=8).map(b"".join),
    st.lists(st.one_of(st.integers(0, 8), st.integers(0, 600)), max_size=40),
    st.sampled_from(LinkLayer),
)
def test_any_chunking_gives_identical_results(
    data: bytes, chunk_sizes: list[int], link: LinkLayer
) -> None:
    whole, whole_stats = run(data, link)
    framer = StreamFramer(link)
    chunked = feed_chunks(framer, data, chunk_sizes)
    assert outline(chunked) == outline(whole)
    assert framer.stats == whole_stats


@given(
    st.lists(
        st.tuples(st.binary(max_size=60), st.sampled_from(LINK_MESSAGES)),
        min_size=1,
        max_size=6,
    )
)
def test_garbage_between_frames_never_loses_an_intact_frame(
    pieces: list[tuple[bytes, bytes]],
) -> None:
    expected = [
        (frame.link, frame.payload)
        for _, message in pieces
        for frame in frames_of(run(message)[0])
    ]
    data = b"".join(garbage + message for garbage, message in pieces)
    results, stats = run(data + SETTLING_PADDING)
    assert [(frame.link, frame.payload) for frame in frames_of(results)] == expected
    assert stats.frames == len(expected)


@given(st.binary(max_size=3000), st.sampled_from(LinkLayer))
def test_feed_never_raises_and_keeps_the_buffer_bounded(
    data: bytes, link: LinkLayer
) -> None:
    framer = StreamFramer(link)
    for index in range(0, len(data), 97):
        results = framer.feed(data[index : index + 97])
        assert all(isinstance(item, LinkFrame | FramingError) for item in results)
        assert framer.buffered <= framer.max_buffered
    assert all(isinstance(error, FramingError) for error in framer.flush())
    assert framer.buffered == 0


# Starts of frames whose header checks out but that claim the longest length,
# so that the framer has to wait for as many bytes as it ever does.
longest_frame_starts = st.sampled_from(
    [
        hdlc_header(0x7FF),
        hdlc_header(0x7FF, segmented=True),
        b"\x68\xff\xff\x68\x53\xff\x00\x01\x67",
        b"\x68\x01\x01\x68\x53\xff\x00\x01\x67",
        b"\xdb\x08SAG\x00\x00\x00\x00\x00\x82\x10\x00\x30",
    ]
)


@given(
    st.lists(st.one_of(longest_frame_starts, st.binary(max_size=300)), max_size=40),
    st.sampled_from(LinkLayer),
    st.integers(1, 5000),
)
def test_buffer_stays_bounded_when_frames_claim_the_longest_length(
    pieces: list[bytes], link: LinkLayer, chunk: int
) -> None:
    framer = StreamFramer(link)
    data = b"".join(pieces)
    for index in range(0, len(data), chunk):
        framer.feed(data[index : index + chunk])
        assert framer.buffered <= framer.max_buffered
    received = framer.stats.bytes_received
    assert framer.stats.bytes_skipped + framer.buffered <= received


def test_buffer_bounds_per_link_layer() -> None:
    assert StreamFramer(LinkLayer.HDLC).max_buffered == HDLC_MAX_FRAME == 2049
    assert StreamFramer(LinkLayer.MBUS).max_buffered == MBUS_MAX_FRAME == 517
    assert StreamFramer().max_buffered == RAW_APDU_MAX_FRAME


hdlc_addresses = st.sampled_from([b"\x03", b"\xcf", b"\xce\xff", b"\x00\x02\x00\x23"])


@given(
    st.binary(max_size=5000),
    st.integers(1, 2037),
    hdlc_addresses,
    hdlc_addresses,
    st.integers(1, 400),
)
def test_encode_hdlc_round_trip(
    payload: bytes,
    max_information: int,
    client_address: bytes,
    server_address: bytes,
    chunk: int,
) -> None:
    overhead = 2 + len(client_address) + len(server_address) + 1 + 2 + 2
    max_information = min(max_information, 2047 - overhead)
    information = b"\xe6\xe7\x00" + payload
    # A continuation segment that happens to start like an LLC header is
    # indistinguishable from the start of a new message.
    assume(
        all(
            information[index : index + 3] != b"\xe6\xe7\x00"
            for index in range(max_information, len(information), max_information)
        )
    )
    data = encode_hdlc(
        payload,
        client_address=client_address,
        server_address=server_address,
        max_information=max_information,
    )
    results, stats = run(data, chunk=chunk)
    assert outline(results) == [(LinkLayer.HDLC, payload, data)]
    assert stats.bytes_skipped == 0


@given(st.binary(max_size=4000), st.integers(1, 250), st.integers(1, 400))
def test_encode_mbus_round_trip(payload: bytes, max_segment: int, chunk: int) -> None:
    assume(len(payload) <= 16 * max_segment)
    data = encode_mbus(payload, max_segment=max_segment)
    results, stats = run(data, chunk=chunk)
    assert outline(results) == [(LinkLayer.MBUS, payload, data)]
    assert stats.bytes_skipped == 0


def test_one_megabyte_of_random_bytes() -> None:
    data = random.Random(20261125).randbytes(1 << 20)
    framer = StreamFramer()
    largest = 0
    for index in range(0, len(data), 4096):
        for item in framer.feed(data[index : index + 4096]):
            assert isinstance(item, FramingError)
        largest = max(largest, framer.buffered)
    assert largest <= framer.max_buffered
    stats = framer.stats
    assert stats.bytes_received == len(data)
    assert stats.frames == 0
    assert stats.bytes_skipped + framer.buffered == len(data)
    # Random bytes hold a few hundred HDLC frame starts; none checks out.
    assert stats.checksum_errors > 100
