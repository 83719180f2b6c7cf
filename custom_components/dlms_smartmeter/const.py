"""Constants of the DLMS Smart Meter integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "dlms_smartmeter"
LOGGER = logging.getLogger(__package__)

CONF_ENCRYPTION_KEY: Final = "encryption_key"
CONF_AUTHENTICATION_KEY: Final = "authentication_key"
CONF_BAUDRATE: Final = "baudrate"
CONF_PARITY: Final = "parity"
CONF_LINE_PRESET: Final = "line_preset"
CONF_UPDATE_INTERVAL: Final = "update_interval"

DEFAULT_UPDATE_INTERVAL: Final = 5
MAX_UPDATE_INTERVAL: Final = 3600

PARITY_NONE: Final = "N"
PARITY_EVEN: Final = "E"
PARITY_ODD: Final = "O"
PARITIES: Final = (PARITY_NONE, PARITY_EVEN, PARITY_ODD)
PARITY_CHOICES: Final[dict[str, str]] = {
    # Form choice (translation keys are lower case) -> stored parity.
    "none": PARITY_NONE,
    "even": PARITY_EVEN,
    "odd": PARITY_ODD,
}

LINE_PRESET_OPTICAL: Final = "optical_9600_8n1"
LINE_PRESET_MBUS: Final = "mbus_2400_8e1"
LINE_PRESET_P1: Final = "p1_115200_8n1"
LINE_PRESET_CUSTOM: Final = "custom"
DEFAULT_LINE_PRESET: Final = LINE_PRESET_OPTICAL

LINE_PRESETS: Final[dict[str, tuple[int, str]]] = {
    # Optical IR head on the meter's customer interface (Wiener Netze and
    # most operators with an optical push).
    LINE_PRESET_OPTICAL: (9600, PARITY_NONE),
    # Wired M-Bus customer interface (Netz NÖ, KSM West).
    LINE_PRESET_MBUS: (2400, PARITY_EVEN),
    # RJ12 "P1" customer interface (Kärnten, Wels, Steiermark).
    LINE_PRESET_P1: (115200, PARITY_NONE),
}
DEFAULT_BAUDRATE: Final = LINE_PRESETS[DEFAULT_LINE_PRESET][0]
DEFAULT_PARITY: Final = LINE_PRESETS[DEFAULT_LINE_PRESET][1]


def line_preset_for(baudrate: int, parity: str) -> str:
    """Name of the preset with these line settings, or the custom choice."""
    for preset, settings in LINE_PRESETS.items():
        if settings == (baudrate, parity):
            return preset
    return LINE_PRESET_CUSTOM
