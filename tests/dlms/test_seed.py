"""Real AM550 frames from the Gurux forum thread (keys unknown)."""

from __future__ import annotations

import os

import pytest

from custom_components.dlms_smartmeter.dlms import (
    ChecksumError,
    DecryptionError,
    FramingError,
    LinkFrame,
    MeterDecoder,
    Reading,
    StreamFramer,
)
from custom_components.dlms_smartmeter.dlms.apdu import parse_ciphered_apdu
from tests.data.appendix_frames import (
    SEED_POCKI,
    SEED_POCKI_FIRST_COUNTER,
    SEED_STEVE_99_BYTES,
    SEED_STEVE_COUNTERS,
    SEED_STEVE_GOOD,
    SEED_STEVE_SHORT,
    SEED_TOFU,
    SEED_TOFU_COUNTER,
)

FULL_FRAMES = [SEED_TOFU, *SEED_POCKI, *SEED_STEVE_GOOD]


def frames_of(data: bytes) -> list[LinkFrame | FramingError]:
    framer = StreamFramer()
    return framer.feed(data) + framer.flush()


@pytest.mark.parametrize("raw", FULL_FRAMES)
def test_full_frames_parse_to_an_iskraemeco_ciphered_apdu(raw: bytes) -> None:
    assert len(raw) == 105
    (frame,) = frames_of(raw)
    assert isinstance(frame, LinkFrame)
    assert frame.raw == raw
    ciphered = parse_ciphered_apdu(frame.payload)
    assert ciphered.system_title.startswith(b"ISK")
    assert ciphered.system_title[:5] == b"ISKit"  # AM550-TD0
    assert ciphered.security_control == 0x20
    assert len(ciphered.content) == 74


def test_tofu_frame_counter() -> None:
    (frame,) = frames_of(SEED_TOFU)
    assert isinstance(frame, LinkFrame)
    assert parse_ciphered_apdu(frame.payload).invocation_counter == SEED_TOFU_COUNTER


def test_pocki_sequence_counts_up_by_one_per_frame() -> None:
    frames = frames_of(b"".join(SEED_POCKI))
    assert len(frames) == 9
    counters = []
    titles = set()
    for frame in frames:
        assert isinstance(frame, LinkFrame)
        ciphered = parse_ciphered_apdu(frame.payload)
        counters.append(ciphered.invocation_counter)
        titles.add(ciphered.system_title)
    assert counters == list(
        range(SEED_POCKI_FIRST_COUNTER, SEED_POCKI_FIRST_COUNTER + 9)
    )
    assert titles == {bytes.fromhex("49534b69746c83b4")}


def test_steve_short_frame_is_a_checksum_error() -> None:
    stream = SEED_STEVE_GOOD[0] + SEED_STEVE_SHORT + SEED_STEVE_GOOD[1]
    outcomes = frames_of(stream)
    assert len(outcomes) == 3
    first, short, third = outcomes
    assert isinstance(short, ChecksumError)
    assert short.kind == "checksum"
    counters = []
    for frame in (first, third):
        assert isinstance(frame, LinkFrame)
        counters.append(parse_ciphered_apdu(frame.payload).invocation_counter)
    assert counters == SEED_STEVE_COUNTERS


def test_steve_99_byte_read_is_rejected() -> None:
    outcomes = frames_of(SEED_STEVE_99_BYTES)
    assert outcomes
    assert all(isinstance(item, FramingError) for item in outcomes)
    # Followed by a good frame, the short read fails its check, the frame decodes.
    outcomes = frames_of(SEED_STEVE_99_BYTES + SEED_TOFU)
    assert isinstance(outcomes[-1], LinkFrame)
    assert any(isinstance(item, ChecksumError) for item in outcomes[:-1])


def test_random_key_reports_decryption_errors_only() -> None:
    decoder = MeterDecoder(os.urandom(16))
    stream = (
        SEED_TOFU
        + b"".join(SEED_POCKI)
        + SEED_STEVE_GOOD[0]
        + SEED_STEVE_SHORT
        + SEED_STEVE_GOOD[1]
    )
    outcomes = decoder.feed(stream) + decoder.flush()
    assert not any(isinstance(item, Reading) for item in outcomes)
    decryption = [item for item in outcomes if isinstance(item, DecryptionError)]
    checksum = [item for item in outcomes if isinstance(item, ChecksumError)]
    assert len(decryption) == len(FULL_FRAMES)
    assert len(checksum) == 1
    assert len(outcomes) == len(FULL_FRAMES) + 1
    stats = decoder.stats
    assert stats.decryption_errors == len(FULL_FRAMES)
    assert stats.frames == len(FULL_FRAMES)
    assert stats.checksum_errors == 1
    assert stats.readings == 0
    assert stats.bytes_received == len(stream)


def test_without_key_the_user_is_told_to_enter_one() -> None:
    decoder = MeterDecoder(None)
    (error,) = decoder.feed(SEED_TOFU)
    assert isinstance(error, DecryptionError)
    assert "no key is configured" in str(error)
