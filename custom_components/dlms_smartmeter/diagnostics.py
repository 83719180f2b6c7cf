"""Diagnostics: counters, link health and the last frames, with the keys redacted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_PORT

from .connection import redact_port
from .const import CONF_AUTHENTICATION_KEY, CONF_ENCRYPTION_KEY
from .dlms.reading import reading_as_dict

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .coordinator import DlmsSmartMeterConfigEntry

TO_REDACT = {CONF_ENCRYPTION_KEY, CONF_AUTHENTICATION_KEY}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant,  # noqa: ARG001 - the signature Home Assistant calls
    entry: DlmsSmartMeterConfigEntry,
) -> dict[str, Any]:
    """What a bug report needs: settings, counters, the last frame and reading."""
    coordinator = entry.runtime_data
    decoder = coordinator.decoder_stats
    reading = coordinator.last_reading
    last_reading = reading_as_dict(reading) if reading is not None else None
    published = coordinator.data
    entry_data = async_redact_data(dict(entry.data), TO_REDACT)
    entry_data[CONF_PORT] = redact_port(entry.data[CONF_PORT])
    return {
        "entry": {
            "title": entry.title,
            "data": entry_data,
            "options": dict(entry.options),
        },
        "connection": {
            "connected": coordinator.connected,
            "available": coordinator.last_update_success,
            "push_period": coordinator.push_period,
            "stale_timeout": coordinator.stale_timeout,
            "publish_interval": coordinator.publish_interval,
            "reconnect_delay": coordinator.link.backoff,
            "valid_frame_share": coordinator.health.valid_share,
            "valid_frames_in_window": coordinator.health.valid_frames,
            "damaged_frames_in_window": coordinator.health.damaged_frames,
        },
        "counters": {
            **coordinator.counters_as_dict(),
            "checksum_errors": decoder.get("checksum_errors", 0),
            "decryption_failures": decoder.get("decryption_errors", 0),
            "authentication_failures": decoder.get("authentication_errors", 0),
        },
        "decoder": decoder,
        "last_invocation_counter": coordinator.last_invocation_counter,
        "last_frame_hex": reading.raw.hex() if reading is not None else None,
        # The last frames exactly as received (encrypted frames stay
        # encrypted; the keys are never part of a frame).
        "recent_frames": coordinator.frames.as_list(),
        "last_reading": last_reading,
        "published": dict(published.values) if published is not None else None,
    }
