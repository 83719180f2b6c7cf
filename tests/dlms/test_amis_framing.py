"""The AMIS entry of the link registry: how the stream framer finds its frames."""

from __future__ import annotations

from custom_components.dlms_smartmeter.dlms import FramingError, LinkLayer
from custom_components.dlms_smartmeter.dlms.framing import (
    LINKS,
    LinkFrame,
    StreamFramer,
    encode_link,
    encode_mbus,
)
from custom_components.dlms_smartmeter.dlms.framing.amis import ACK, SND_NKE
from tests.data import AMIS

SPEC_FRAME = bytes.fromhex(
    next(v for v in AMIS["vectors"] if v["id"] == "AMIS-SPEC-2021")["frame_hex"]
)
DLMS_APDU = bytes.fromhex("0f0000000100") + bytes(20)


def _frames(outcomes: list[LinkFrame | FramingError]) -> list[LinkFrame]:
    return [outcome for outcome in outcomes if isinstance(outcome, LinkFrame)]


def test_amis_claims_its_long_frames_before_mbus() -> None:
    order = list(LINKS)
    assert order.index(LinkLayer.AMIS) < order.index(LinkLayer.MBUS)
    framer = StreamFramer()
    (frame,) = framer.feed(SPEC_FRAME)
    assert isinstance(frame, LinkFrame)
    assert frame.link is LinkLayer.AMIS
    assert frame.raw == SPEC_FRAME
    assert frame.payload == SPEC_FRAME[4:-2]


def test_byte_by_byte_gives_the_same_frames() -> None:
    stream = b"\x00" + SND_NKE + SPEC_FRAME + encode_mbus(DLMS_APDU) + SPEC_FRAME
    framer = StreamFramer()
    outcomes = [outcome for byte in stream for outcome in framer.feed(bytes([byte]))]
    frames = _frames(outcomes)
    assert len(frames) == len(outcomes)
    assert [frame.link for frame in frames] == [
        LinkLayer.AMIS,
        LinkLayer.AMIS,
        LinkLayer.MBUS,
        LinkLayer.AMIS,
    ]
    assert frames[0].payload == b""  # the search request carries no data
    assert frames[2].payload == DLMS_APDU


def test_an_echoed_acknowledgement_is_skipped_silently() -> None:
    framer = StreamFramer()
    outcomes = framer.feed(SND_NKE + ACK + SPEC_FRAME + ACK + SND_NKE)
    assert [type(outcome) for outcome in outcomes] == [LinkFrame] * 3
    assert framer.stats.bytes_skipped == 2
    assert framer.stats.framing_errors == framer.stats.checksum_errors == 0


def test_an_amis_frame_drops_a_half_built_message_of_another_link() -> None:
    segments = encode_mbus(DLMS_APDU, max_segment=10)
    first_segment = segments[: 4 + segments[1] + 2]
    framer = StreamFramer()
    outcomes = framer.feed(first_segment + SPEC_FRAME)
    error, frame = outcomes
    assert isinstance(error, FramingError)
    assert "a frame of type amis arrived" in str(error)
    assert isinstance(frame, LinkFrame)
    assert frame.link is LinkLayer.AMIS


def test_amis_mode_ignores_dlms_mbus_frames() -> None:
    framer = StreamFramer(LinkLayer.AMIS)
    outcomes = framer.feed(encode_mbus(DLMS_APDU) + SPEC_FRAME)
    assert [frame.link for frame in _frames(outcomes)] == [LinkLayer.AMIS]
    assert len(outcomes) == 1


def test_raw_apdus_are_ignored_once_amis_is_detected() -> None:
    framer = StreamFramer()
    framer.feed(SND_NKE)
    assert framer.detected_link is LinkLayer.AMIS
    raw_apdu = bytes.fromhex("db08") + bytes(8) + bytes([0x20]) + bytes(32)
    assert framer.feed(raw_apdu) == []


def test_a_corrupt_search_request_is_a_checksum_error() -> None:
    framer = StreamFramer()
    (error,) = framer.feed(SND_NKE[:3] + b"\x00\x16")
    assert isinstance(error, FramingError)
    assert framer.stats.checksum_errors == 1


def test_encode_link_writes_the_long_frame_of_a_payload() -> None:
    assert encode_link([SPEC_FRAME[4:-2]], link=LinkLayer.AMIS) == SPEC_FRAME
