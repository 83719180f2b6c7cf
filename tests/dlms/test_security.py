"""Security control byte, decryption, and the ciphered APDU header."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
import pytest

from custom_components.dlms_smartmeter.dlms.apdu import parse_ciphered_apdu
from custom_components.dlms_smartmeter.dlms.errors import (
    AuthenticationError,
    DecryptionError,
    MalformedPayloadError,
    UnsupportedError,
)
from custom_components.dlms_smartmeter.dlms.reading import SecurityLevel
from custom_components.dlms_smartmeter.dlms.security import (
    SecurityControl,
    decrypt,
)

# Green Book example (via u9n/dlms-cosem tests): glo-get-request, SC 0x30.
GB_KEY = bytes(range(16))
GB_AUTH_KEY = bytes(range(0xD0, 0xE0))
GB_SYSTEM_TITLE = bytes.fromhex("4D4D4D0000BC614E")
GB_COUNTER = 0x01234567
GB_CONTENT = bytes.fromhex("411312ff935a47566827c467bc7d825c3be4a77c3fcc056b6b")
GB_PLAINTEXT = bytes.fromhex("c0010000080000010000ff0200")

# WN-AM550-1: SC 0x20, no tag.
WN_KEY = bytes.fromhex("927CE4ECA62FE23E19406C5EE452285E")
WN_APDU = bytes.fromhex(
    "db0849534b69743c103f4f200010d9e208f5c0c61a10c2359a014dfa00024e52839d213a16b0"
    "86e297ad13f7db4574d0d4d3aff9bada8f10f3bb33a39ac2fc5fb447342ff4d6a9e9361ecbd8"
    "4c9b6f76f5ece94425b2917a660b"
)
WN_PLAINTEXT = bytes.fromhex(
    "0f0010d9e30c07e50a1504062c0200ff88800209090c07e50a1504062c0200ff888006000003"
    "5706000000f6060000006706000000a90600000000060000000006000000000600000000"
)


def gcm_encrypt(
    plaintext: bytes,
    *,
    security_control: int,
    key: bytes = GB_KEY,
    auth_key: bytes = GB_AUTH_KEY,
    system_title: bytes = GB_SYSTEM_TITLE,
    counter: int = GB_COUNTER,
) -> bytes:
    """Ciphertext and 12-byte tag as a meter with an A+E security control sends."""
    encryptor = Cipher(
        algorithms.AES(key), modes.GCM(system_title + counter.to_bytes(4, "big"))
    ).encryptor()
    encryptor.authenticate_additional_data(bytes([security_control]) + auth_key)
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return ciphertext + encryptor.tag[:12]


@pytest.mark.parametrize(
    ("value", "fields"),
    [
        (0x20, (0, False, True, False, False)),
        (0x21, (1, False, True, False, False)),
        (0x30, (0, True, True, False, False)),
        (0x31, (1, True, True, False, False)),
        (0x10, (0, True, False, False, False)),
        (0x60, (0, False, True, True, False)),
        (0xA0, (0, False, True, False, True)),
        (0x02, (2, False, False, False, False)),
    ],
)
def test_security_control_fields(
    value: int, fields: tuple[int, bool, bool, bool, bool]
) -> None:
    control = SecurityControl.from_byte(value)
    assert (
        control.suite,
        control.authenticated,
        control.encrypted,
        control.broadcast_key,
        control.compressed,
    ) == fields


def test_greenbook_authenticated_decryption() -> None:
    decrypted = decrypt(
        system_title=GB_SYSTEM_TITLE,
        security_control=0x30,
        invocation_counter=GB_COUNTER,
        content=GB_CONTENT,
        encryption_key=GB_KEY,
        authentication_key=GB_AUTH_KEY,
    )
    assert decrypted.plaintext == GB_PLAINTEXT
    assert decrypted.security is SecurityLevel.AUTHENTICATED


def test_greenbook_without_authentication_key_decrypts_unverified() -> None:
    decrypted = decrypt(
        system_title=GB_SYSTEM_TITLE,
        security_control=0x30,
        invocation_counter=GB_COUNTER,
        content=GB_CONTENT,
        encryption_key=GB_KEY,
    )
    assert decrypted.plaintext == GB_PLAINTEXT
    assert decrypted.security is SecurityLevel.ENCRYPTED


@pytest.mark.parametrize("flip", [0, 5, len(GB_CONTENT) - 13, len(GB_CONTENT) - 1])
def test_flipped_bit_fails_authentication(flip: int) -> None:
    tampered = bytearray(GB_CONTENT)
    tampered[flip] ^= 0x01
    with pytest.raises(AuthenticationError, match="does not verify") as error:
        decrypt(
            system_title=GB_SYSTEM_TITLE,
            security_control=0x30,
            invocation_counter=GB_COUNTER,
            content=bytes(tampered),
            encryption_key=GB_KEY,
            authentication_key=GB_AUTH_KEY,
        )
    message = str(error.value).lower()
    assert GB_KEY.hex() not in message
    assert GB_AUTH_KEY.hex() not in message


def test_suite_one_authenticated_round_trip() -> None:
    content = gcm_encrypt(b"\x0f payload", security_control=0x31)
    decrypted = decrypt(
        system_title=GB_SYSTEM_TITLE,
        security_control=0x31,
        invocation_counter=GB_COUNTER,
        content=content,
        encryption_key=GB_KEY,
        authentication_key=GB_AUTH_KEY,
    )
    assert decrypted.plaintext == b"\x0f payload"


def test_encryption_only_is_ctr_from_counter_two() -> None:
    ciphered = parse_ciphered_apdu(WN_APDU)
    decrypted = decrypt(
        system_title=ciphered.system_title,
        security_control=ciphered.security_control,
        invocation_counter=ciphered.invocation_counter,
        content=ciphered.content,
        encryption_key=WN_KEY,
        authentication_key=GB_AUTH_KEY,  # ignored: SC 0x20 has no tag
    )
    assert decrypted.plaintext == WN_PLAINTEXT
    assert decrypted.security is SecurityLevel.ENCRYPTED


def test_encryption_only_equals_gcm_keystream() -> None:
    # GCM without its tag: the ciphertext part of a GCM encryption decrypts as SC 0x21.
    plaintext = bytes(range(40))
    content = gcm_encrypt(plaintext, security_control=0x31)[:-12]
    decrypted = decrypt(
        system_title=GB_SYSTEM_TITLE,
        security_control=0x21,
        invocation_counter=GB_COUNTER,
        content=content,
        encryption_key=GB_KEY,
    )
    assert decrypted.plaintext == plaintext


# decrypt() arguments of a valid authenticated Green Book telegram; each case
# below changes some of them.
GB_ARGUMENTS: dict[str, Any] = {
    "system_title": GB_SYSTEM_TITLE,
    "security_control": 0x30,
    "invocation_counter": GB_COUNTER,
    "content": GB_CONTENT,
    "encryption_key": GB_KEY,
    "authentication_key": GB_AUTH_KEY,
}
_NO_AUTH_KEY: dict[str, Any] = {"authentication_key": None}


def _unsupported(security_control: int, message: str) -> Any:
    return pytest.param(
        {"security_control": security_control, **_NO_AUTH_KEY},
        UnsupportedError,
        message,
        id=f"unsupported-{message.replace(' ', '-')}",
    )


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        pytest.param(
            {"authentication_key": bytes(16)},
            AuthenticationError,
            "does not verify",
            id="wrong-authentication-key",
        ),
        # The same bytes claimed under SC 0x31 must not verify: AAD = SC || AK.
        pytest.param(
            {"security_control": 0x31},
            AuthenticationError,
            "does not verify",
            id="security-control-is-authenticated-data",
        ),
        _unsupported(0xA0, "compresses"),
        _unsupported(0x60, "broadcast key"),
        _unsupported(0x22, "security suite 2"),
        _unsupported(0x2F, "security suite 15"),
        _unsupported(0x10, "authenticated but not encrypted"),
        _unsupported(0x00, "neither encrypted nor authenticated"),
        pytest.param(
            {"security_control": 0x20, "encryption_key": None, **_NO_AUTH_KEY},
            DecryptionError,
            "no key is configured",
            id="missing-key",
        ),
        pytest.param(
            {"content": b"\x00" * 11},
            MalformedPayloadError,
            "too short",
            id="tag-longer-than-content",
        ),
        pytest.param(
            {"encryption_key": bytes(15), **_NO_AUTH_KEY},
            ValueError,
            "encryption key must be 16 bytes, got 15",
            id="short-encryption-key",
        ),
        pytest.param(
            {"authentication_key": bytes(17)},
            ValueError,
            "authentication key must be 16 bytes, got 17",
            id="long-authentication-key",
        ),
        pytest.param(
            {"system_title": b"ISK", "security_control": 0x20, **_NO_AUTH_KEY},
            ValueError,
            "system title must be 8 bytes",
            id="short-system-title",
        ),
    ],
)
def test_decrypt_errors(
    changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        decrypt(**(GB_ARGUMENTS | changes))


# --- ciphered APDU header ---------------------------------------------------


def test_parse_general_glo_ciphering() -> None:
    ciphered = parse_ciphered_apdu(WN_APDU)
    assert ciphered.tag == 0xDB
    assert ciphered.system_title == bytes.fromhex("49534b69743c103f")
    assert ciphered.security_control == 0x20
    assert ciphered.invocation_counter == 0x0010D9E2
    assert len(ciphered.content) == 74


def test_parse_ded_ciphering_with_long_length() -> None:
    content = bytes(300)
    apdu = bytes.fromhex("dc08") + GB_SYSTEM_TITLE + b"\x82\x01\x31\x30\x00\x00\x00\x07"
    ciphered = parse_ciphered_apdu(apdu + content)
    assert ciphered.tag == 0xDC
    assert ciphered.invocation_counter == 7
    assert ciphered.content == content


@pytest.mark.parametrize(
    ("apdu", "error", "message"),
    [
        (b"", MalformedPayloadError, "empty APDU"),
        (WN_APDU[:-1], MalformedPayloadError, "announces 79 bytes .* 78 are present"),
        (WN_APDU + b"\x00", MalformedPayloadError, "80 are present"),
        (
            bytes.fromhex("db07") + bytes(7) + b"\x05" + bytes(5),
            MalformedPayloadError,
            "system title of 7 bytes",
        ),
        (
            bytes.fromhex("db08") + bytes(8) + b"\x04" + bytes(4),
            MalformedPayloadError,
            "no room for SC and IC",
        ),
        (
            bytes.fromhex("db08") + bytes(5),
            MalformedPayloadError,
            "length byte missing",
        ),
        (bytes.fromhex("dd00"), UnsupportedError, "general-ciphering"),
        (bytes.fromhex("0f00"), UnsupportedError, "data-notification"),
    ],
)
def test_ciphered_apdu_errors(
    apdu: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        parse_ciphered_apdu(apdu)
