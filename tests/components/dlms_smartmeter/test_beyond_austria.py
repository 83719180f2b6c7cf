"""Real frames from meters outside Austria, through the config flow to the entities.

Each frame of ``tests/data/international.json`` that stands for one of the
non-Austrian interface choices is written again and again into a real
pseudo-terminal while the flow listens with that choice. Meters that push
without encryption are set up with the key left empty and keyed by the
identification they push; registers numbered on channel 1 (``1-1:``) get
the same entities as channel 0; a register whose scale no source states
gets no entity at all.
"""

from __future__ import annotations

import asyncio
from itertools import cycle
import json
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import CONF_URL
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
import pytest

from custom_components.dlms_smartmeter import connection, flow_fields
from custom_components.dlms_smartmeter.const import (
    AUSTRIA,
    CONF_AUTHENTICATION_KEY,
    CONF_ENCRYPTION_KEY,
    CONF_INTERFACE,
    DOMAIN,
    INTERFACE_DENMARK_KAMSTRUP,
    INTERFACE_LUXEMBOURG_SMARTY,
    INTERFACE_NORWAY_AIDON_KAIFA,
    INTERFACE_NORWAY_KAMSTRUP,
    INTERFACE_SWITZERLAND_AM550,
    INTERFACE_SWITZERLAND_LG_E360,
    INTERFACE_SWITZERLAND_LG_MBUS,
    INTERFACES,
)
from custom_components.dlms_smartmeter.dlms.obis import channel_0_code
from tests.data import DATA

from .entities import SHOWN, sensor_keys, sensor_state, user_flow
from .meter import wait_until

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )

    from .meter import PtyMeter

pytestmark = pytest.mark.usefixtures(
    "fast_timeouts", "entity_registry_enabled_by_default", "pty_accepts_parity_again"
)

FRAMES: Final[dict[str, dict[str, Any]]] = {
    frame["id"]: frame
    for frame in json.loads((DATA / "international.json").read_text("utf-8"))["frames"]
}

METERS: Final[dict[str, str]] = {
    # Frame -> the interface choice of its country and meter.
    "NO-KAIFA-L3-3P": INTERFACE_NORWAY_AIDON_KAIFA,
    "NO-AIDON-L3": INTERFACE_NORWAY_AIDON_KAIFA,
    "NO-KAMSTRUP-L3-3P": INTERFACE_NORWAY_KAMSTRUP,
    "DK-KAMSTRUP-OMNIPOWER": INTERFACE_DENMARK_KAMSTRUP,
    "CH-LGE450-VSE2026": INTERFACE_SWITZERLAND_LG_MBUS,
    "CH-LGE360-VSE2026": INTERFACE_SWITZERLAND_LG_E360,
    "CH-AM550-VSE2026": INTERFACE_SWITZERLAND_AM550,
    "LU-SMARTY-SAG": INTERFACE_LUXEMBOURG_SMARTY,
}


def _form(
    port: str, frame: dict[str, Any], *, with_keys: bool = True
) -> dict[str, Any]:
    form: dict[str, Any] = {
        CONF_URL: port,
        CONF_INTERFACE: METERS[frame["id"]],
        flow_fields.SECTION_CUSTOM_LINE: {},
    }
    if with_keys and frame.get("key"):
        form[CONF_ENCRYPTION_KEY] = frame["key"]
    if with_keys and frame.get("auth_key"):
        form[CONF_AUTHENTICATION_KEY] = frame["auth_key"]
    return form


def test_every_foreign_choice_is_taken_through_the_flow() -> None:
    foreign = {name for name, choice in INTERFACES.items() if choice.country != AUSTRIA}
    assert set(METERS.values()) == foreign


@pytest.mark.parametrize("frame_id", list(METERS))
async def test_frame_through_flow_to_entities(
    hass: HomeAssistant, meter: PtyMeter, frame_id: str
) -> None:
    frame = FRAMES[frame_id]
    raw = bytes.fromhex(frame["hex"])
    meter.start_streaming(source=lambda: raw)

    result = await user_flow(hass, _form(meter.port, frame))

    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    entry = result["result"]
    assert entry.data[CONF_INTERFACE] == METERS[frame_id]
    assert (CONF_ENCRYPTION_KEY in entry.data) == bool(frame.get("key"))
    coordinator: DlmsSmartMeterCoordinator = entry.runtime_data
    await wait_until(lambda: coordinator.data is not None, what="first data")
    await hass.async_block_till_done()
    reading = coordinator.last_reading
    assert reading is not None
    if reading.system_title:
        assert entry.unique_id == reading.system_title.hex().upper()
    else:
        # Pushed without encryption: the meter's own identification.
        stated = frame["identification"]["value"]
        assert entry.unique_id == stated.upper()
        assert stated in entry.title

    withheld = {channel_0_code(code) for code in frame.get("withheld", [])}
    shown_codes = set()
    for code, stated in frame["values"].items():
        presentation = SHOWN.get(channel_0_code(code))
        if presentation is None or not stated["unit"]:
            continue
        shown_codes.add(channel_0_code(code))
        state = sensor_state(hass, entry, presentation.key)
        expected = stated["value"] * presentation.factor
        assert float(state.state) == pytest.approx(expected), code
        assert state.attributes.get("unit_of_measurement") == presentation.unit, code
    created = sensor_keys(hass, entry)
    for code in withheld - shown_codes:
        presentation = SHOWN.get(code)
        if presentation is not None:
            # No guessed unit: a register without a stated scale has no entity.
            assert presentation.key not in created, code
    assert ("meter_time" in created) == (reading.meter_time is not None)

    [device] = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert device.identifiers == {(DOMAIN, entry.unique_id)}


async def test_an_encrypting_meter_without_a_key_asks_for_one(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    frame = FRAMES["DK-KAMSTRUP-OMNIPOWER"]
    raw = bytes.fromhex(frame["hex"])
    meter.start_streaming(source=lambda: raw)
    result = await user_flow(hass, _form(meter.port, frame, with_keys=False))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "key_required"}
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_the_list_that_names_the_meter_gives_its_id(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """Norway: list 1 (power only) comes first; setup waits for list 2."""
    short = bytes.fromhex(FRAMES["NO-KAIFA-L1"]["hex"])
    named = FRAMES["NO-KAIFA-L2-3P"]
    lists = cycle([short, short, bytes.fromhex(named["hex"])])
    meter.start_streaming(source=lambda: next(lists))
    form = _form(meter.port, {**named, "id": "NO-KAIFA-L3-3P"})
    result = await user_flow(hass, form)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    assert result["result"].unique_id == named["identification"]["value"]


async def test_a_meter_that_never_names_itself_gets_a_random_id(
    hass: HomeAssistant, meter: PtyMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "IDENTIFICATION_WAIT", 0.3)
    short = bytes.fromhex(FRAMES["NO-KAIFA-L1"]["hex"])
    meter.start_streaming(source=lambda: short)
    form = _form(meter.port, {**FRAMES["NO-KAIFA-L1"], "id": "NO-KAIFA-L3-3P"})
    result = await user_flow(hass, form)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    unique_id = result["result"].unique_id
    assert unique_id
    assert len(unique_id) == 10
    int(unique_id, 16)  # hex: stable for the entry, never empty


async def test_setup_listens_on_for_the_list_that_names_the_meter(
    hass: HomeAssistant, meter: PtyMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """List 2 comes only after the usual listening time: setup waits for it."""
    monkeypatch.setattr(connection, "IDENTIFICATION_WAIT", 5.0)
    short = bytes.fromhex(FRAMES["NO-KAIFA-L1"]["hex"])
    named = FRAMES["NO-KAIFA-L2-3P"]
    loop = asyncio.get_running_loop()
    # Past the flow's listening time (one second in these tests).
    named_from = loop.time() + 1.5
    meter.start_streaming(
        source=lambda: (
            bytes.fromhex(named["hex"]) if loop.time() > named_from else short
        )
    )
    form = _form(meter.port, {**named, "id": "NO-KAIFA-L3-3P"})
    result = await user_flow(hass, form)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    assert result["result"].unique_id == named["identification"]["value"]
    assert loop.time() > named_from
