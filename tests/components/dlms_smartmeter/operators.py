"""The meters of every Austrian operator, as the verified vectors show them.

Each stream vector (HDLC, M-Bus or bare APDU) of ``tests/data/vectors.json``
with the setup form's interface for its operator and what the integration
must make of it (facts from vectors.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from homeassistant.const import CONF_PORT
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.dlms_smartmeter.const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_ENCRYPTION_KEY,
    CONF_INTERFACE,
    CONF_PARITY,
    DOMAIN,
    INTERFACE_BURGENLAND,
    INTERFACE_CUSTOM,
    INTERFACE_KAERNTEN_WELS,
    INTERFACE_NETZ_NOE,
    INTERFACE_STEIERMARK_E450,
    INTERFACE_STEIERMARK_T210,
    INTERFACE_TINETZ_SALZBURG_VORARLBERG,
    INTERFACE_WIENER_NETZE,
    INTERFACES,
)
from custom_components.dlms_smartmeter.dlms import format_key
from tests.data import VECTORS

from .meter import TEST_KEY


@dataclass(frozen=True)
class Meter:
    """What the integration must make of one vector (facts from vectors.md)."""

    interface: str
    """The setup form's choice for this operator and meter."""
    system_title: str
    manufacturer: str | None
    model: str | None
    serial_number: str | None
    meter_time: str


METERS: Final[dict[str, Meter]] = {
    "WN-AM550-1": Meter(
        INTERFACE_WIENER_NETZE,
        "49534B69743C103F",
        "Iskraemeco",
        "AM550-TD0",
        None,
        "2021-10-21T06:44:02+02:00",
    ),
    "WN-AM550-3-tampered": Meter(
        INTERFACE_WIENER_NETZE,
        "49534B6974A8D899",
        "Iskraemeco",
        "AM550-TD0",
        None,
        "2021-10-13T07:30:57+02:00",
    ),
    "WN-AM550-4-pocki": Meter(
        INTERFACE_WIENER_NETZE,
        # A constructed example: its system title names no real manufacturer.
        "44556677889900AA",
        "DUf",
        None,
        None,
        "2021-01-27T16:11:45+01:00",
    ),
    "WN-IM350-1": Meter(
        INTERFACE_WIENER_NETZE,
        "534D5367753EC614",
        "Siemens",
        "IM350",
        "SMS1030788000020",
        "2021-10-21T05:40:34+02:00",
    ),
    "WN-E450-1": Meter(
        INTERFACE_WIENER_NETZE,
        "4C475A67726D311E",
        "Landis+Gyr",
        "E450",
        None,
        "2021-11-03T04:56:57+01:00",
    ),
    "KN-AM550-1": Meter(
        INTERFACE_KAERNTEN_WELS,
        "49534B69745CF6C9",
        "Iskraemeco",
        "AM550-TD0",
        "1121273201353",
        "2021-03-25T19:01:14+01:00",
    ),
    "SMS-IM350-1": Meter(
        INTERFACE_KAERNTEN_WELS,
        "534D53677004C446",
        "Siemens",
        "IM350",
        "2221202033801",
        "2021-03-07T14:55:33+01:00",
    ),
    "WELS-IM350-1": Meter(
        INTERFACE_KAERNTEN_WELS,
        "534D53677002FD62",
        "Siemens",
        "IM350",
        "18037098",
        "2021-05-19T10:08:23+02:00",
    ),
    "E450-GBT-1": Meter(
        INTERFACE_STEIERMARK_E450,
        "4C475A677370B177",
        "Landis+Gyr",
        "E450",
        None,
        "2022-02-21T17:37:30+01:00",
    ),
    "E450-GBT-3-zero-key": Meter(
        INTERFACE_STEIERMARK_E450,
        "4C475A677362F13A",
        "Landis+Gyr",
        "E450",
        "56815930",
        "2023-10-12T14:05:40+02:00",
    ),
    "BGLD-E450-1": Meter(
        INTERFACE_BURGENLAND,
        "4C475A6772A9A111",
        "Landis+Gyr",
        "E450",
        "30137181",
        "2023-03-28T19:11:20+02:00",
    ),
    "NOE-KAIFA-DOC": Meter(
        INTERFACE_NETZ_NOE,
        "4B464D6750000009",
        "Kaifa",
        None,
        "181220000009",
        "2021-09-27T09:47:15+02:00",
    ),
    "NOE-SAG-2": Meter(
        INTERFACE_NETZ_NOE,
        "5341475905E990F3",
        "Sagemcom",
        None,
        "178210193075",
        "2023-06-09T08:57:55+02:00",
    ),
    "TINETZ-KAIFA-DOC": Meter(
        INTERFACE_TINETZ_SALZBURG_VORARLBERG,
        "4B464D1010000023",
        "Kaifa",
        None,
        "1KFM0100000035",
        "2021-07-19T15:46:35+02:00",
    ),
    "STMK-SAG-DSMR-1": Meter(
        INTERFACE_STEIERMARK_T210,
        "534147350000D28F",
        "Sagemcom",
        None,
        None,
        "2021-09-29T11:47:30+02:00",
    ),
    # An unencrypted push from outside Austria (HDLC segmentation): no
    # operator's interface fits, and any key is accepted.
    "ISKRA550-SEG-PLAIN": Meter(
        INTERFACE_CUSTOM, "", None, None, "84895126", "2023-04-01T21:32:35+02:00"
    ),
}


def vector_stream(vector_id: str) -> bytes:
    """The vector's bytes as they come off the line."""
    return bytes.fromhex(VECTORS[vector_id]["input_hex"])


def vector_key(vector_id: str, name: str = "key") -> bytes | None:
    """The vector's encryption key (or ``name``: its authentication key)."""
    text = VECTORS[vector_id][name]
    return bytes.fromhex(text) if text else None


def vector_entry_data(vector_id: str, port: str) -> dict[str, Any]:
    """Entry data as the config flow stores it for this vector's meter.

    A meter that sends plain frames takes any key: the test key stands in.
    """
    interface = METERS[vector_id].interface
    line = INTERFACES.get(interface)
    data: dict[str, Any] = {
        CONF_PORT: port,
        CONF_INTERFACE: interface,
        CONF_ENCRYPTION_KEY: format_key(vector_key(vector_id) or TEST_KEY),
        CONF_BAUDRATE: line.baudrate if line else 9600,
        CONF_PARITY: line.parity if line else "N",
    }
    authentication_key = vector_key(vector_id, "auth_key")
    if authentication_key is not None:
        data[CONF_AUTHENTICATION_KEY] = format_key(authentication_key)
    return data


def vector_entry(
    vector_id: str, port: str, options: dict[str, Any] | None = None
) -> MockConfigEntry:
    """A config entry for this vector's meter on ``port``."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=vector_id,
        unique_id=METERS[vector_id].system_title,
        data=vector_entry_data(vector_id, port),
        options=options or {},
    )
