"""Key parsing: what people paste from the operator portal."""

from __future__ import annotations

import pytest

from custom_components.dlms_smartmeter.dlms import format_key, parse_key

KEY = bytes.fromhex("927CE4ECA62FE23E19406C5EE452285E")


@pytest.mark.parametrize(
    "text",
    [
        "927CE4ECA62FE23E19406C5EE452285E",
        "927ce4eca62fe23e19406c5ee452285e",
        " 92 7C E4 EC A6 2F E2 3E 19 40 6C 5E E4 52 28 5E ",
        "92:7C:E4:EC:A6:2F:E2:3E:19:40:6C:5E:E4:52:28:5E",
        "0x927CE4ECA62FE23E19406C5EE452285E",
        (
            "0x92 0x7C 0xE4 0xEC 0xA6 0x2F 0xE2 0x3E "
            "0x19 0x40 0x6C 0x5E 0xE4 0x52 0x28 0x5E"
        ),
        "927CE4EC-A62FE23E-19406C5E-E452285E\n",
    ],
)
def test_parse_key_accepts_pasted_forms(text: str) -> None:
    assert parse_key(text) == KEY


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("927CE4ECA62FE23E19406C5EE452285", "32 hexadecimal characters, got 31"),
        ("927CE4ECA62FE23E19406C5EE452285E00", "got 34"),
        ("927CE4ECA62FE23E19406C5EE452285G", "only contain hexadecimal"),
        ("", "got 0"),
    ],
)
def test_parse_key_rejects_with_plain_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        parse_key(text)
    # The message must never echo what was typed.
    if text:
        assert text.strip() not in str(err.value)


def test_format_key_is_upper_case_hex() -> None:
    assert format_key(KEY) == "927CE4ECA62FE23E19406C5EE452285E"
