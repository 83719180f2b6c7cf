"""Checksums: CRC-16/X.25 (HDLC), CRC-16/ARC (DSMR) and the M-Bus sum."""

from __future__ import annotations

from hypothesis import given, strategies as st
import pytest

from custom_components.dlms_smartmeter.dlms.crc import (
    crc16_arc,
    crc16_x25,
    mbus_checksum,
)

CHECK_INPUT = b"123456789"

# Wiener Netze AM550 frame WN-AM550-1, flags included.
AM550_FRAME = bytes.fromhex(
    "7ea067cf022313fbf1e6e700db0849534b69743c103f4f200010d9e208f5c0c6"
    "1a10c2359a014dfa00024e52839d213a16b086e297ad13f7db4574d0d4d3aff9"
    "bada8f10f3bb33a39ac2fc5fb447342ff4d6a9e9361ecbd84c9b6f76f5ece944"
    "25b2917a660b0af27e"
)


def _bitwise_crc16(data: bytes, *, polynomial: int, init: int, xorout: int) -> int:
    """Reflected CRC-16 one bit at a time: an independent reference."""
    crc = init
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ polynomial if crc & 1 else crc >> 1
    return crc ^ xorout


def test_crc16_x25_check_value() -> None:
    assert crc16_x25(CHECK_INPUT) == 0x906E


def test_crc16_arc_check_value() -> None:
    assert crc16_arc(CHECK_INPUT) == 0xBB3D


def test_crc_of_nothing() -> None:
    assert crc16_x25(b"") == 0x0000
    assert crc16_arc(b"") == 0x0000


def test_crc16_x25_matches_am550_header_and_frame() -> None:
    # HCS over format, addresses and control; sent as FB F1.
    assert crc16_x25(AM550_FRAME[1:7]) == 0xF1FB
    assert AM550_FRAME[7:9] == bytes([0xFB, 0xF1])
    # FCS over the 101 bytes from the format field to the end of information.
    assert crc16_x25(AM550_FRAME[1:102]) == 0xF20A
    assert AM550_FRAME[102:104] == bytes([0x0A, 0xF2])


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_crcs_accept_any_buffer(kind: type) -> None:
    data = kind(CHECK_INPUT)
    assert crc16_x25(data) == 0x906E
    assert crc16_arc(data) == 0xBB3D
    assert mbus_checksum(data) == sum(CHECK_INPUT) % 256


@given(st.binary(max_size=300))
def test_crc16_x25_equals_bitwise_reference(data: bytes) -> None:
    expected = _bitwise_crc16(data, polynomial=0x8408, init=0xFFFF, xorout=0xFFFF)
    assert crc16_x25(data) == expected


@given(st.binary(max_size=300))
def test_crc16_arc_equals_bitwise_reference(data: bytes) -> None:
    expected = _bitwise_crc16(data, polynomial=0xA001, init=0, xorout=0)
    assert crc16_arc(data) == expected


@given(st.binary(max_size=300))
def test_crc16_x25_residue_over_data_and_fcs_is_constant(data: bytes) -> None:
    # Appending the FCS low byte first gives the same CRC for every input.
    framed = data + crc16_x25(data).to_bytes(2, "little")
    assert crc16_x25(framed) == 0x0F47


@given(st.binary(min_size=1, max_size=300))
def test_crc16_x25_detects_a_flipped_bit(data: bytes) -> None:
    flipped = bytes([data[0] ^ 0x01]) + data[1:]
    assert crc16_x25(flipped) != crc16_x25(data)


def test_mbus_checksum_of_a_real_segment() -> None:
    # Second segment of NOE-KAIFA-DOC: 68 14 14 68 | C .. data | CS 16.
    segment = bytes.fromhex("6814146853ff110167419a3cfda44be438c96f0e38bf83d98316")
    assert mbus_checksum(segment[4:-2]) == segment[-2] == 0x83


def test_mbus_checksum_wraps_at_256() -> None:
    assert mbus_checksum(b"\xff\x02") == 0x01
    assert mbus_checksum(b"") == 0
