"""Parsing of AES keys as people type or paste them."""

from __future__ import annotations

import re

KEY_LENGTH = 16
_SEPARATORS = re.compile(r"[\s:\-_,]+")
_HEX = re.compile(r"[0-9a-fA-F]*")


def parse_key(text: str) -> bytes:
    """Return the 16 key bytes from 32 hex characters.

    Spaces, colons, dashes, ``0x`` prefixes and lower case are accepted.
    Raises ``ValueError`` with a message that never repeats the input, so a
    key cannot leak into logs through the error.
    """
    cleaned = _SEPARATORS.sub("", text.strip())
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    cleaned = cleaned.replace("0x", "").replace("0X", "")
    if not _HEX.fullmatch(cleaned):
        msg = "the key may only contain hexadecimal characters 0-9 and A-F"
        raise ValueError(msg)
    if len(cleaned) != 2 * KEY_LENGTH:
        msg = (
            f"the key must be {2 * KEY_LENGTH} hexadecimal characters, "
            f"got {len(cleaned)}"
        )
        raise ValueError(msg)
    return bytes.fromhex(cleaned)


def format_key(key: bytes) -> str:
    """Normalised text form of a key: 32 upper-case hex characters."""
    return key.hex().upper()
