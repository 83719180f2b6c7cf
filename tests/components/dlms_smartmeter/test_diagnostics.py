"""Diagnostics: counters, the last frame and reading, never the keys."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from homeassistant.const import CONF_PORT
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from syrupy.filters import props

from custom_components.dlms_smartmeter import link
from custom_components.dlms_smartmeter.const import (
    CONF_UPDATE_INTERVAL,
)
from custom_components.dlms_smartmeter.health import FRAME_HISTORY
from custom_components.dlms_smartmeter.link import redact_port

from .meter import (
    TEST_KEY,
    PtyMeter,
    meter_entry,
    push_and_wait,
    send_and_wait,
    set_up_meter,
    wait_until,
)
from .operators import vector_entry, vector_key, vector_stream

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
    from syrupy.assertion import SnapshotAssertion

pytestmark = pytest.mark.usefixtures("fast_timeouts")


# An authenticated meter, both keys given: both must be redacted.
DIAGNOSTICS_VECTOR = "BGLD-E450-1"


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    meter: PtyMeter,
    snapshot: SnapshotAssertion,
) -> None:
    """Everything a bug report needs, with both keys redacted everywhere."""
    entry = vector_entry(
        DIAGNOSTICS_VECTOR, meter.port, options={CONF_UPDATE_INTERVAL: 0}
    )
    encryption_key = vector_key(DIAGNOSTICS_VECTOR)
    authentication_key = vector_key(DIAGNOSTICS_VECTOR, "auth_key")
    assert encryption_key is not None
    assert authentication_key is not None
    entry.add_to_hass(hass)
    # Set up while the meter is silent (setup gives up waiting for a first
    # frame), then exactly one frame and one replay of it: every counter is
    # known.
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = entry.runtime_data
    frame = vector_stream(DIAGNOSTICS_VECTOR)
    await send_and_wait(hass, meter, coordinator, frame)
    await send_and_wait(hass, meter, coordinator, frame)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    text = json.dumps(diagnostics).lower()
    for key in (encryption_key, authentication_key):
        assert key.hex() not in text
    assert diagnostics["entry"]["data"][CONF_PORT] == meter.port
    assert diagnostics["last_frame_hex"] == frame.hex()
    assert [frame["hex"] for frame in diagnostics["recent_frames"]] == [frame.hex()] * 2
    # The port is a temporary path and a frame's reception time the moment of
    # the run: both change from run to run.
    assert diagnostics == snapshot(exclude=props(CONF_PORT, "received"))


async def test_diagnostics_before_the_first_frame(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, meter: PtyMeter
) -> None:
    """A meter that has not pushed yet still gives diagnostics."""
    entry = meter_entry(meter.port)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["last_reading"] is None
    assert diagnostics["last_frame_hex"] is None
    assert diagnostics["published"] is None
    assert diagnostics["last_invocation_counter"] is None
    assert TEST_KEY.hex() not in json.dumps(diagnostics).lower()


def test_port_secrets_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    """URL parameters such as an ESPHome proxy's key never reach logs."""
    url = "esphome://meter-proxy.local:6053/?key=c2VjcmV0a2V5&port=1"
    assert "c2VjcmV0a2V5" not in redact_port(url)
    assert redact_port(url).startswith("esphome://meter-proxy.local:6053/")
    assert (
        redact_port("/dev/serial/by-id/usb-IR-head") == "/dev/serial/by-id/usb-IR-head"
    )
    assert redact_port("socket://192.0.2.5:8888") == "socket://192.0.2.5:8888"
    # Older serialx without its redaction helper: the query is dropped.
    monkeypatch.setattr(link, "_REDACT_URI", None)
    assert redact_port(url) == "esphome://meter-proxy.local:6053/"


async def test_diagnostics_keep_the_last_frames_as_received(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, meter: PtyMeter
) -> None:
    """The last 20 frames, still encrypted, and what was written to the meter."""
    entry = meter_entry(meter.port, options={CONF_UPDATE_INTERVAL: 0})
    coordinator = await set_up_meter(hass, meter, entry)
    for _ in range(FRAME_HISTORY + 5):
        await push_and_wait(hass, meter, coordinator)
    meter.write(meter.frames[-1])  # dropped as a replay, still a received frame
    await wait_until(
        lambda: coordinator.counters.replayed_frames == 1, what="replayed frame"
    )
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    recent = diagnostics["recent_frames"]
    expected = [*meter.frames, meter.frames[-1]][-FRAME_HISTORY:]
    assert [frame["hex"] for frame in recent] == [frame.hex() for frame in expected]
    assert all(frame["received"].endswith("+00:00") for frame in recent)
    assert diagnostics["counters"]["bytes_written"] == 0
    connection = diagnostics["connection"]
    assert connection["valid_frame_share"] == 100
    assert connection["damaged_frames_in_window"] == 0
    assert connection["valid_frames_in_window"] >= FRAME_HISTORY + 6
    assert TEST_KEY.hex() not in json.dumps(diagnostics).lower()
