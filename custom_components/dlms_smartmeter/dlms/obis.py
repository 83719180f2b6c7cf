"""OBIS codes (IEC 62056-6-1): six value groups A-B:C.D.E*F.

Readings key their values by the text form ``"1-0:1.8.0"``: value group F
is left out when it is 255 (the "current value" marker every push uses) and
written as ``*F`` otherwise.
"""

from __future__ import annotations

from dataclasses import replace
import re

from .errors import MalformedPayloadError
from .reading import Reading, Unit

OBIS_LENGTH = 6

_TEXT = re.compile(
    r"(?P<a>\d{1,3})-(?P<b>\d{1,3}):(?P<c>\d{1,3})\.(?P<d>\d{1,3})\.(?P<e>\d{1,3})"
    r"(?:[*.&](?P<f>\d{1,3}))?"
)

# Well-known codes, as used in readings.
CLOCK = "0-0:1.0.0"
CLOCK_CHANNEL_1 = "0-1:1.0.0"
"""The clock as Kamstrup writes it (channel 1)."""
SERIAL_NUMBER = "0-0:96.1.0"
LOGICAL_DEVICE_NAME = "0-0:42.0.0"
DEVICE_ID_2 = "0-0:96.1.1"
LIST_IDENTIFIER = "1-0:0.2.129"
"""Kaifa's OBIS code of the list identifier (``KFM_001``)."""
KAMSTRUP_METER_ID = "1-1:0.0.5"
KAMSTRUP_METER_TYPE = "1-1:96.1.1"
ACTIVE_ENERGY_IMPORT = "1-0:1.8.0"
ACTIVE_ENERGY_EXPORT = "1-0:2.8.0"
REACTIVE_ENERGY_IMPORT = "1-0:3.8.0"
REACTIVE_ENERGY_EXPORT = "1-0:4.8.0"
ACTIVE_POWER_IMPORT = "1-0:1.7.0"
ACTIVE_POWER_EXPORT = "1-0:2.7.0"
REACTIVE_POWER_IMPORT = "1-0:3.7.0"
REACTIVE_POWER_EXPORT = "1-0:4.7.0"
VOLTAGE_L1 = "1-0:32.7.0"
VOLTAGE_L2 = "1-0:52.7.0"
VOLTAGE_L3 = "1-0:72.7.0"
CURRENT_L1 = "1-0:31.7.0"
CURRENT_L2 = "1-0:51.7.0"
CURRENT_L3 = "1-0:71.7.0"
POWER_FACTOR = "1-0:13.7.0"
ANGLE_U_I_L1 = "1-0:81.7.4"
ANGLE_U_I_L2 = "1-0:81.7.15"
ANGLE_U_I_L3 = "1-0:81.7.26"


_CHANNEL_0 = "1-0:"
_CHANNEL_1 = "1-1:"


def channel_0_code(code: str) -> str:
    """The channel-0 code of an electricity code on channel 1; others unchanged."""
    if code.startswith(_CHANNEL_1):
        return _CHANNEL_0 + code.removeprefix(_CHANNEL_1)
    return code


def on_channel_0(reading: Reading) -> Reading:
    """``reading`` with its electricity values of channel 1 moved to channel 0.

    Kamstrup and the Swiss Landis+Gyr and Iskraemeco pushes number their
    registers ``1-1:1.8.0`` where others write ``1-0:1.8.0``; both are the
    meter's own measurement. A code the reading also carries on channel 0
    stays where it is. Readings without channel-1 codes come back unchanged.
    """
    values = reading.values
    if not any(code.startswith(_CHANNEL_1) for code in values):
        return reading
    moved = {}
    for code, value in values.items():
        target = channel_0_code(code)
        moved[target if target not in values else code] = value
    return replace(reading, values=moved)


def format_obis(code: bytes) -> str:
    """Six bytes to ``"A-B:C.D.E"`` (``"A-B:C.D.E*F"`` when F is not 255)."""
    if len(code) != OBIS_LENGTH:
        raise MalformedPayloadError(
            f"an OBIS code has {OBIS_LENGTH} bytes, got {len(code)}"
        )
    a, b, c, d, e, f = code
    text = f"{a}-{b}:{c}.{d}.{e}"
    return text if f == 0xFF else f"{text}*{f}"


def parse_obis(text: str) -> bytes:
    """``"1-0:1.8.0"`` (optionally with ``*F``/``.F``) to six bytes; F defaults to 255.

    Raises ``ValueError`` for text that is not an OBIS code.
    """
    match = _TEXT.fullmatch(text.strip())
    if match is None:
        msg = f"not an OBIS code: {text!r}"
        raise ValueError(msg)
    groups = [match["a"], match["b"], match["c"], match["d"], match["e"]]
    groups.append(match["f"] or "255")
    numbers = [int(group) for group in groups]
    if any(number > 255 for number in numbers):
        msg = f"OBIS value groups are 0-255: {text!r}"
        raise ValueError(msg)
    return bytes(numbers)


def default_unit(obis: str) -> Unit | None:
    """Unit implied by an electricity OBIS code, for payloads that send no unit.

    Covers instantaneous values (D = 7) and energy registers (D = 8) of the
    total and per-phase quantities (C = 1-80, in blocks of 20: active and
    reactive power, apparent power, current, voltage, power factor,
    frequency), the neutral current (91.7) and the U-I angles (81.7).
    ``None`` for anything else.
    """
    try:
        a, _b, c, d, _e, _f = parse_obis(obis)
    except ValueError:
        return None
    unit: Unit | None = None
    if a != 1 or d not in {7, 8}:
        unit = None
    elif c in _SPECIAL_UNITS:
        unit = _SPECIAL_UNITS[c] if d == 7 else None
    elif 1 <= c <= 80:
        quantity = (c - 1) % 20 + 1
        units = _ENERGY_UNITS if d == 8 else _INSTANTANEOUS_UNITS
        unit = units.get(quantity)
    return unit


_SPECIAL_UNITS: dict[int, Unit] = {81: Unit.DEGREE, 91: Unit.AMPERE}
_INSTANTANEOUS_UNITS: dict[int, Unit] = {
    1: Unit.WATT,
    2: Unit.WATT,
    3: Unit.VAR,
    4: Unit.VAR,
    9: Unit.VOLT_AMPERE,
    10: Unit.VOLT_AMPERE,
    11: Unit.AMPERE,
    12: Unit.VOLT,
    13: Unit.NONE,
    14: Unit.HERTZ,
}
_ENERGY_UNITS: dict[int, Unit] = {
    1: Unit.WATT_HOUR,
    2: Unit.WATT_HOUR,
    3: Unit.VAR_HOUR,
    4: Unit.VAR_HOUR,
    # Reactive energy per quadrant (QI to QIV).
    5: Unit.VAR_HOUR,
    6: Unit.VAR_HOUR,
    7: Unit.VAR_HOUR,
    8: Unit.VAR_HOUR,
    9: Unit.VOLT_AMPERE_HOUR,
    10: Unit.VOLT_AMPERE_HOUR,
}
