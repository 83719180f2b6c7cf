"""Security control byte, decryption and encryption (security suites 0/1).

* Encryption only (SC bit E, 0x20/0x21): the content is AES-GCM ciphertext
  without a tag. GCM encrypts with AES-CTR starting at ``inc32(J0)``, so it
  decrypts as AES-128-CTR from the counter block
  ``system title || IC || 00 00 00 02``. Nothing protects its integrity.
* Authentication and encryption (A + E, 0x30/0x31): the last 12 bytes are the
  truncated GCM tag, the additional authenticated data is ``SC || AK``.
  Without an authentication key the ciphertext is decrypted the same way as
  above and the tag is left unchecked.

Keys never appear in messages raised from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import (
    AuthenticationError,
    DecryptionError,
    MalformedPayloadError,
    UnsupportedError,
)
from .identity import SYSTEM_TITLE_LENGTH
from .keys import KEY_LENGTH
from .reading import SecurityLevel

TAG_LENGTH = 12
SC_ENCRYPTED = 0x20
"""Security control of encryption only, suite 0 (Wiener Netze, Netz NÖ, P1)."""
SC_AUTHENTICATED = 0x30
"""Security control of authenticated encryption, suite 0 (L+G E450)."""

_SUITE_MASK = 0x0F
_AUTHENTICATION = 0x10
_ENCRYPTION = 0x20
_BROADCAST_KEY = 0x40
_COMPRESSION = 0x80
_SUPPORTED_SUITES = frozenset({0, 1})
_FIRST_COUNTER = 2  # GCM encrypts from inc32(J0): counter 2
# The counters of the blocks of a telegram up to 4 KiB, ready to join.
_COUNTERS = tuple(
    counter.to_bytes(4, "big")
    for counter in range(_FIRST_COUNTER, _FIRST_COUNTER + 256)
)


@dataclass(frozen=True, slots=True)
class SecurityControl:
    """The security control byte (Green Book, security header)."""

    suite: int
    """Security suite id: 0 AES-GCM-128; 1 and 2 add ECDH/ECDSA (2: AES-256)."""
    authenticated: bool
    encrypted: bool
    broadcast_key: bool
    compressed: bool

    @classmethod
    def from_byte(cls, value: int) -> SecurityControl:
        """Split an SC byte into its fields."""
        return cls(
            suite=value & _SUITE_MASK,
            authenticated=bool(value & _AUTHENTICATION),
            encrypted=bool(value & _ENCRYPTION),
            broadcast_key=bool(value & _BROADCAST_KEY),
            compressed=bool(value & _COMPRESSION),
        )

    def check_supported(self) -> None:
        """Raise :class:`UnsupportedError` for options this package cannot decode."""
        if self.compressed:
            raise UnsupportedError(
                "the meter compresses its telegrams (security control bit 7); "
                "compression is not supported"
            )
        if self.broadcast_key:
            raise UnsupportedError(
                "the meter encrypts with the broadcast key (security control "
                "bit 6), which is not supported"
            )
        if self.suite not in _SUPPORTED_SUITES:
            raise UnsupportedError(
                f"security suite {self.suite} is not supported (only suites 0 "
                "and 1, AES-GCM-128)"
            )
        if not self.encrypted:
            what = (
                "authenticated but not encrypted"
                if self.authenticated
                else ("neither encrypted nor authenticated")
            )
            raise UnsupportedError(
                f"the ciphered telegram is {what}; only encrypted telegrams are "
                "supported"
            )


# Every SC byte, split once: each telegram of a stream repeats one.
_CONTROLS = tuple(SecurityControl.from_byte(value) for value in range(256))


# Not frozen: made for every telegram, and freezing slows that down.
@dataclass(slots=True)
class Decrypted:
    """A decrypted APDU and how it was protected."""

    plaintext: bytes
    security: SecurityLevel


def _check_key(key: bytes, name: str) -> None:
    if len(key) != KEY_LENGTH:
        msg = f"the {name} must be {KEY_LENGTH} bytes, got {len(key)}"
        raise ValueError(msg)


def decrypt(  # noqa: PLR0913 - the fields of the security header and both keys
    *,
    system_title: bytes,
    security_control: int,
    invocation_counter: int,
    content: bytes,
    encryption_key: bytes | None,
    authentication_key: bytes | None = None,
) -> Decrypted:
    """Decrypt the content of a ciphered APDU (ciphertext plus optional tag).

    Raises :class:`UnsupportedError` for security options this package does
    not implement, :class:`DecryptionError` when no encryption key is
    configured, :class:`AuthenticationError` when a tag does not verify and
    ``ValueError`` for a key of the wrong length (a configuration error).
    """
    return Decryptor(encryption_key, authentication_key).decrypt(
        system_title=system_title,
        security_control=security_control,
        invocation_counter=invocation_counter,
        content=content,
    )


class Decryptor:
    """:func:`decrypt` for the telegrams of one stream: AES is set up once."""

    __slots__ = ("_authentication_key", "_counter_mode", "_encryption_key")

    def __init__(
        self, encryption_key: bytes | None, authentication_key: bytes | None = None
    ) -> None:
        """Keep the keys; they are checked with the first telegram."""
        self._encryption_key = encryption_key
        self._authentication_key = authentication_key
        self._counter_mode: CounterMode | None = None

    def decrypt(
        self,
        *,
        system_title: bytes,
        security_control: int,
        invocation_counter: int,
        content: bytes,
    ) -> Decrypted:
        """Decrypt one telegram's content; raises as :func:`decrypt` does."""
        control = (
            _CONTROLS[security_control]
            if 0 <= security_control < len(_CONTROLS)
            else SecurityControl.from_byte(security_control)
        )
        control.check_supported()
        encryption_key = self._encryption_key
        if encryption_key is None:
            raise DecryptionError(
                "the meter sends encrypted telegrams but no key is configured: "
                "enter the key from your grid operator's portal"
            )
        ctr = self._counter_mode
        if ctr is None:
            _check_key(encryption_key, "encryption key")
            ctr = self._counter_mode = CounterMode(encryption_key)
        if len(system_title) != SYSTEM_TITLE_LENGTH:
            msg = f"the system title must be {SYSTEM_TITLE_LENGTH} bytes"
            raise ValueError(msg)
        iv = system_title + invocation_counter.to_bytes(4, "big")
        if not control.authenticated:
            return Decrypted(ctr.apply(iv, content), SecurityLevel.ENCRYPTED)

        if len(content) < TAG_LENGTH:
            raise MalformedPayloadError(
                f"the authenticated telegram is too short for its {TAG_LENGTH}-byte tag"
            )
        ciphertext, tag = content[:-TAG_LENGTH], content[-TAG_LENGTH:]
        authentication_key = self._authentication_key
        if authentication_key is None:
            return Decrypted(ctr.apply(iv, ciphertext), SecurityLevel.ENCRYPTED)
        _check_key(authentication_key, "authentication key")
        decryptor = Cipher(
            algorithms.AES(encryption_key),
            modes.GCM(iv, tag, min_tag_length=TAG_LENGTH),
        ).decryptor()
        decryptor.authenticate_additional_data(
            bytes([security_control]) + authentication_key
        )
        plaintext = decryptor.update(ciphertext)
        try:
            plaintext += decryptor.finalize()
        except InvalidTag:
            raise AuthenticationError(
                "the telegram's authentication tag does not verify: check the "
                "authentication key and the encryption key from your grid "
                "operator's portal"
            ) from None
        return Decrypted(plaintext, SecurityLevel.AUTHENTICATED)


class CounterMode:
    """GCM's keystream under one key: AES-CTR from ``iv || 00000002``, both ways.

    The counter blocks are encrypted block by block with one AES context for
    every telegram: setting up a cipher per telegram costs more than the
    decryption itself.
    """

    __slots__ = ("_aes",)

    def __init__(self, key: bytes) -> None:
        """Set up AES with ``key`` (16 bytes)."""
        # ECB over the counter blocks is exactly CTR's keystream.
        self._aes = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305

    def apply(self, iv: bytes, data: bytes) -> bytes:
        """``data`` XOR the keystream of the 12-byte ``iv``."""
        size = len(data)
        blocks = (size + 15) // 16
        if blocks <= len(_COUNTERS):
            # iv c2 iv c3 ...: the counter blocks, joined in one call.
            counters = iv + iv.join(_COUNTERS[:blocks]) if blocks else b""
        else:
            counters = b"".join(
                iv + counter.to_bytes(4, "big")
                for counter in range(_FIRST_COUNTER, _FIRST_COUNTER + blocks)
            )
        stream = self._aes.update(counters)[:size]
        return (int.from_bytes(data) ^ int.from_bytes(stream)).to_bytes(size)


# --- writing ------------------------------------------------------------------


def _check_encryption(
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes | None,
    security_control: int,
) -> None:
    if len(system_title) != SYSTEM_TITLE_LENGTH:
        raise ValueError(
            f"the system title must be {SYSTEM_TITLE_LENGTH} bytes, "
            f"got {len(system_title)}"
        )
    if not 0 <= invocation_counter < 2**32:
        raise ValueError(
            f"the invocation counter must fit 32 bits, got {invocation_counter}"
        )
    if len(encryption_key) != KEY_LENGTH:
        raise ValueError(f"the encryption key must be {KEY_LENGTH} bytes")
    if not 0 <= security_control <= 0xFF:
        raise ValueError("the security control byte must fit 8 bits")
    control = SecurityControl.from_byte(security_control)
    if not control.encrypted:
        raise ValueError(
            f"security control 0x{security_control:02X} does not encrypt; only "
            "0x2n (encryption) and 0x3n (authenticated encryption) are supported"
        )
    if control.compressed:
        raise ValueError("compression (security control bit 7) is not supported")
    if control.suite not in _SUPPORTED_SUITES:
        raise ValueError(
            f"security suite {control.suite} is not supported "
            "(suites 0 and 1 use AES-GCM-128)"
        )
    if control.authenticated and (
        authentication_key is None or len(authentication_key) != KEY_LENGTH
    ):
        raise ValueError(
            f"security control 0x{security_control:02X} authenticates: an "
            f"authentication key of {KEY_LENGTH} bytes is needed"
        )


def encrypt_payload(  # noqa: PLR0913 - the fields of the security header and both keys
    plaintext: bytes,
    *,
    system_title: bytes,
    invocation_counter: int,
    encryption_key: bytes,
    authentication_key: bytes | None = None,
    security_control: int = SC_ENCRYPTED,
) -> bytes:
    """``ciphertext [|| tag]`` of ``plaintext`` under DLMS security suite 0/1.

    Encryption only (SC 0x2n) is AES-GCM without the tag, i.e. AES-CTR from
    the counter block ``system title || IC || 00000002``. Authenticated
    encryption (SC 0x3n) is AES-GCM with ``SC || AK`` as additional data and
    the tag cut to 12 bytes.
    """
    _check_encryption(
        system_title,
        invocation_counter,
        encryption_key,
        authentication_key,
        security_control,
    )
    iv = system_title + invocation_counter.to_bytes(4, "big")
    if security_control & _AUTHENTICATION and authentication_key is not None:
        gcm = Cipher(algorithms.AES(encryption_key), modes.GCM(iv)).encryptor()
        gcm.authenticate_additional_data(
            bytes((security_control,)) + authentication_key
        )
        ciphertext = gcm.update(plaintext) + gcm.finalize()
        return ciphertext + gcm.tag[:TAG_LENGTH]
    return CounterMode(encryption_key).apply(iv, plaintext)
