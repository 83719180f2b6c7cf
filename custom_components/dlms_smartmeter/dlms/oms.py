"""OMS security mode 5: AES-128-CBC with an IV from the M-Bus address fields.

The IV is the manufacturer code (2 bytes), identification number (4), version
and medium, as sent, followed by the access number repeated eight times. The
ciphertext is a whole number of 16-byte blocks without padding; a correct
key gives a plaintext that starts with the ``2F 2F`` idle fillers.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import DecryptionError, MalformedPayloadError
from .keys import KEY_LENGTH

SECURITY_MODE: Final = 5
BLOCK_SIZE: Final = 16
FILLER: Final = b"\x2f\x2f"
"""Idle fillers that open (and in AMIS telegrams close) every plaintext."""

WRONG_KEY_MESSAGE: Final = (
    "the telegram does not decrypt with the configured key (no 2F 2F fillers): "
    "check the key from the grid operator's eService portal"
)


def mode5_iv(
    manufacturer: bytes,
    identification: bytes,
    version: int,
    medium: int,
    access_number: int,
) -> bytes:
    """The 16-byte initialisation vector of one telegram."""
    address = manufacturer + identification + bytes([version, medium])
    if len(address) != BLOCK_SIZE // 2:
        msg = "manufacturer (2 bytes) and identification (4 bytes) make the address"
        raise ValueError(msg)
    return address + bytes([access_number]) * (BLOCK_SIZE // 2)


def _cipher(key: bytes, iv: bytes) -> Cipher[modes.CBC]:
    if len(key) != KEY_LENGTH:
        msg = f"the key must be {KEY_LENGTH} bytes, got {len(key)}"
        raise ValueError(msg)
    return Cipher(algorithms.AES(key), modes.CBC(iv))


def decrypt_mode5(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Decrypt and check the leading fillers.

    Raises ``DecryptionError`` when the plaintext does not start with ``2F 2F``
    (a wrong key: a right one never fails this) and ``MalformedPayloadError``
    when the ciphertext is not a whole number of blocks.
    """
    if not ciphertext or len(ciphertext) % BLOCK_SIZE:
        msg = f"{len(ciphertext)} bytes of ciphertext are not whole 16-byte blocks"
        raise MalformedPayloadError(msg)
    decryptor = _cipher(key, iv).decryptor()
    plaintext = decryptor.update(ciphertext) + decryptor.finalize()
    if not plaintext.startswith(FILLER):
        raise DecryptionError(WRONG_KEY_MESSAGE)
    return plaintext


def encrypt_mode5(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """Encrypt a plaintext, padded with ``2F`` fillers to whole blocks."""
    padding = -len(plaintext) % BLOCK_SIZE
    encryptor = _cipher(key, iv).encryptor()
    return encryptor.update(plaintext + FILLER[:1] * padding) + encryptor.finalize()
