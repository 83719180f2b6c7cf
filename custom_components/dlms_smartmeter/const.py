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
