"""Exceptions of the DLMS protocol package.

Every problem the decoder finds in meter data is one of these types. The
``kind`` of each class is a stable, machine-readable name (used by the
command-line tool's JSON output and by the integration's counters).
Messages never contain key material.
"""

from __future__ import annotations

from typing import ClassVar


class DlmsError(Exception):
    """Base class of every error raised or reported by this package."""

    kind: ClassVar[str] = "malformed"


class FramingError(DlmsError):
    """Bytes that do not form a complete link-layer frame (garbage, truncation)."""

    kind = "framing"


class ChecksumError(FramingError):
    """A frame whose HDLC HCS/FCS or M-Bus checksum does not match."""

    kind = "checksum"


class DecryptionError(DlmsError):
    """Ciphertext that does not decrypt to a valid notification: likely a wrong key."""

    kind = "decryption"


class AuthenticationError(DlmsError):
    """An authenticated frame whose GCM tag does not verify (wrong key)."""

    kind = "authentication"


class UnsupportedError(DlmsError):
    """Valid data this package cannot handle (security option, APDU type, layout)."""

    kind = "unsupported"


class UnsupportedPayloadError(UnsupportedError):
    """A decrypted notification whose layout is unknown.

    Carries the plaintext so that a user can report it; the plaintext holds
    meter values only, never key material.
    """

    def __init__(self, message: str, plaintext: bytes) -> None:
        """Store the plaintext next to the message."""
        super().__init__(f"{message} (plaintext: {plaintext.hex()})")
        self.plaintext = plaintext


class IncompleteError(DlmsError):
    """A General-Block-Transfer sequence that was cut off (blocks missing).

    Its ``kind`` is ``"framing"``: to a user it is the same problem as a
    truncated frame (bytes lost on the line), although the decoder counts it
    separately because the link frames themselves were intact.
    """

    kind = "framing"


class MalformedPayloadError(DlmsError):
    """Structurally broken data inside a frame that passed its checksum."""

    kind = "malformed"


class TruncatedPayloadError(MalformedPayloadError):
    """The data ends before a value is complete (more bytes may complete it)."""
