"""An AMIS meter of Netz Oberösterreich, set up through the config flow on a pty."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_URL, STATE_UNAVAILABLE, EntityCategory
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.dlms_smartmeter import config_flow, flow_fields
from custom_components.dlms_smartmeter.const import (
    CONF_ENCRYPTION_KEY,
    CONF_INTERFACE,
    DOMAIN,
    INTERFACE_NETZ_OOE_AMIS,
    INTERFACES,
)
from custom_components.dlms_smartmeter.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.dlms_smartmeter.dlms import format_key
from custom_components.dlms_smartmeter.dlms.amis_simulator import AmisState
from tests.data import AMIS

from .amis_meter import AMIS_KEY, PtyAmisMeter
from .meter import (
    OTHER_KEY,
    PtyMeter,
    configure_flow,
    entry_data,
    meter_entry,
    wait_until,
)
from .user_view import snapshot_entities, user_view_of_device

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from homeassistant.core import HomeAssistant
    from syrupy.assertion import SnapshotAssertion

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )

pytestmark = pytest.mark.usefixtures("fast_timeouts")


@pytest.fixture
def amis_meter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PtyAmisMeter]:
    """A simulated AMIS meter behind a pseudo-terminal, not yet running.

    A pseudo-terminal has no parity: Linux accepts even parity once and then
    refuses it (EINVAL) on the next open, so the choice runs at 8N1 here.
    """
    amis = INTERFACES[INTERFACE_NETZ_OOE_AMIS]
    monkeypatch.setitem(INTERFACES, INTERFACE_NETZ_OOE_AMIS, replace(amis, parity="N"))
    simulated = PtyAmisMeter(tmp_path / "ttyAMIS")
    yield simulated
    simulated.close()


def _user_input(port: str, key: bytes) -> dict[str, Any]:
    return {
        CONF_URL: port,
        CONF_ENCRYPTION_KEY: key.hex(),
        CONF_INTERFACE: INTERFACE_NETZ_OOE_AMIS,
        flow_fields.SECTION_CUSTOM_LINE: {},
    }


async def _add_meter(hass: HomeAssistant, amis_meter: PtyAmisMeter) -> Any:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await configure_flow(
        hass, result["flow_id"], _user_input(amis_meter.port, AMIS_KEY)
    )
    await hass.async_block_till_done()
    return result


def _entity_id(hass: HomeAssistant, unique_id: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, unique_id)
    assert entity_id is not None, unique_id
    return entity_id


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


def test_listen_window_covers_the_search_interval() -> None:
    amis = INTERFACES[INTERFACE_NETZ_OOE_AMIS]
    assert amis.search_interval is not None
    assert (amis.baudrate, amis.parity) == (9600, "E")
    assert amis.search_interval == 60.0
    timeout = config_flow._listen_timeout(INTERFACE_NETZ_OOE_AMIS)
    assert timeout == pytest.approx(70.0)
    assert config_flow._listen_timeout("wiener_netze_optical") == (
        config_flow.LISTEN_TIMEOUT
    )


async def test_amis_meter_through_the_config_flow(
    hass: HomeAssistant, amis_meter: PtyAmisMeter
) -> None:
    """Setup answers the search, the entities show the meter, only E5 is sent."""
    amis_meter.start()
    result = await _add_meter(hass, amis_meter)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Siemens AMIS"
    assert result["data"][CONF_INTERFACE] == INTERFACE_NETZ_OOE_AMIS
    assert result["data"][CONF_ENCRYPTION_KEY] == format_key(AMIS_KEY)
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    unique_id = entry.unique_id
    assert unique_id.startswith("53414D")  # "SAM", then random bytes
    assert len(unique_id) == 16
    assert AMIS_KEY.hex().upper() not in unique_id
    coordinator: DlmsSmartMeterCoordinator = entry.runtime_data
    await wait_until(lambda: coordinator.data is not None, what="first data")
    await hass.async_block_till_done()

    power = hass.states.get(_entity_id(hass, f"{unique_id}_power_import"))
    assert power is not None
    assert power.state == "1250"
    energy = hass.states.get(_entity_id(hass, f"{unique_id}_energy_import"))
    assert energy is not None
    assert float(energy.state) == pytest.approx(12345.678, abs=0.1)  # kWh
    reactive = hass.states.get(_entity_id(hass, f"{unique_id}_reactive_energy_import"))
    assert reactive is not None
    assert float(reactive.state) == pytest.approx(1_500_000, abs=100)
    reactive_export = hass.states.get(
        _entity_id(hass, f"{unique_id}_reactive_energy_export")
    )
    assert reactive_export is not None
    assert float(reactive_export.state) == pytest.approx(3_000_000, abs=100)
    collection = er.async_get(hass).async_get(
        _entity_id(hass, f"{unique_id}_collection_register")
    )
    assert collection is not None
    assert collection.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert collection.entity_category is EntityCategory.DIAGNOSTIC

    assert amis_meter.emulator.errors == []
    assert set(amis_meter.reader_bytes) == {0xE5}
    assert amis_meter.state is AmisState.SENDING

    # The head stops passing the acknowledgements, then works again.
    amis_meter.acks_reach_meter = False
    await wait_until(
        lambda: amis_meter.state is AmisState.SEARCHING, what="meter searching"
    )
    amis_meter.acks_reach_meter = True
    handled = coordinator.counters.frames_ok
    sent = amis_meter.emulator.telegrams_sent
    await wait_until(
        lambda: coordinator.counters.frames_ok > handled + 2, what="data again"
    )
    assert amis_meter.emulator.telegrams_sent > sent
    assert amis_meter.state is AmisState.SENDING
    assert set(amis_meter.reader_bytes) == {0xE5}
    assert amis_meter.emulator.errors == []
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_silence_while_the_meter_searches_keeps_the_port_open(
    hass: HomeAssistant, amis_meter: PtyAmisMeter
) -> None:
    """The watchdog marks a searching meter unavailable, but keeps answering it.

    Reopening the port would only risk missing the once-a-minute search; the
    data returns as soon as the acknowledgements get through again.
    """
    amis_meter.start()
    # Set up without the config flow: every byte the meter gets is the link's.
    data = entry_data(amis_meter.port, encryption_key=AMIS_KEY)
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="53414D0102030405",
        data={**data, CONF_INTERFACE: INTERFACE_NETZ_OOE_AMIS},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    coordinator: DlmsSmartMeterCoordinator = entry.runtime_data
    await wait_until(lambda: coordinator.data is not None, what="first data")
    await hass.async_block_till_done()
    power_id = _entity_id(hass, f"{entry.unique_id}_power_import")
    assert _state(hass, power_id) == "1250"

    amis_meter.acks_reach_meter = False
    await wait_until(
        lambda: amis_meter.state is AmisState.SEARCHING, what="meter searching"
    )
    searches = amis_meter.emulator.searches_sent
    await wait_until(
        lambda: amis_meter.emulator.searches_sent > searches + 1, what="searches"
    )
    reconnects = coordinator.counters.reconnects
    later = dt_util.utcnow() + timedelta(seconds=coordinator.stale_timeout + 1)
    async_fire_time_changed(hass, later)
    await hass.async_block_till_done()
    assert _state(hass, power_id) == STATE_UNAVAILABLE
    assert coordinator.connected
    assert coordinator.counters.reconnects == reconnects

    amis_meter.acks_reach_meter = True
    await wait_until(
        lambda: amis_meter.state is AmisState.SENDING, what="data telegrams again"
    )
    await wait_until(lambda: coordinator.last_update_success, what="available again")
    await hass.async_block_till_done()
    assert _state(hass, power_id) != STATE_UNAVAILABLE
    assert coordinator.counters.reconnects == reconnects

    # Every byte the reader sent is an acknowledgement, and the link's count,
    # the diagnostics and what the meter got agree.
    await wait_until(
        lambda: len(amis_meter.reader_bytes) == coordinator.link.bytes_written,
        what="the meter read every acknowledgement",
    )
    assert set(amis_meter.reader_bytes) == {0xE5}
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["counters"]["bytes_written"] == coordinator.link.bytes_written
    assert coordinator.link.bytes_written > 0
    assert amis_meter.emulator.errors == []
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_wrong_key_is_named_and_the_session_stays_alive(
    hass: HomeAssistant, amis_meter: PtyAmisMeter
) -> None:
    """A wrong key is invalid_key; the telegrams were still acknowledged."""
    amis_meter.start()
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await configure_flow(
        hass, result["flow_id"], _user_input(amis_meter.port, OTHER_KEY)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_key"}
    assert amis_meter.emulator.telegrams_sent >= 3
    assert amis_meter.emulator.acknowledgements >= 3
    assert set(amis_meter.reader_bytes) == {0xE5}
    assert amis_meter.emulator.errors == []


async def test_same_key_is_already_configured_and_reauth_keeps_the_id(
    hass: HomeAssistant, amis_meter: PtyAmisMeter
) -> None:
    """Re-keying keeps the unique ID; the same meter cannot be added twice."""
    amis_meter.start()
    entry = (await _add_meter(hass, amis_meter))["result"]
    unique_id = entry.unique_id
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    # The meter got a new key: reauth with it keeps the entry's ID.
    new_key = bytes(reversed(AMIS_KEY))
    amis_meter.emulator.key = new_key
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_REAUTH, "entry_id": entry.entry_id},
        data=entry.data,
    )
    result = await configure_flow(
        hass, result["flow_id"], {CONF_ENCRYPTION_KEY: new_key.hex()}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.unique_id == unique_id
    assert entry.data[CONF_ENCRYPTION_KEY] == format_key(new_key)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    # The same key on another port is the same meter.
    other_port = amis_meter.link.with_name("ttyOTHER")
    other_port.symlink_to(amis_meter.link.resolve())
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await configure_flow(
        hass, result["flow_id"], _user_input(str(other_port), new_key)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_keeps_an_amis_entry_and_refuses_other_meters(
    hass: HomeAssistant, amis_meter: PtyAmisMeter
) -> None:
    """Reconfigure keeps an AMIS entry's ID; another meter's entry is refused."""
    amis_meter.start()
    amis_entry = meter_entry(
        amis_meter.port, unique_id="53414D0102030405", encryption_key=AMIS_KEY
    )
    amis_entry.add_to_hass(hass)
    result = await amis_entry.start_reconfigure_flow(hass)
    result = await configure_flow(
        hass, result["flow_id"], {**_user_input(amis_meter.port, AMIS_KEY)}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert amis_entry.unique_id == "53414D0102030405"
    assert amis_entry.data[CONF_INTERFACE] == INTERFACE_NETZ_OOE_AMIS
    await hass.config_entries.async_remove(amis_entry.entry_id)
    await hass.async_block_till_done()

    # An entry of a DLMS meter pointed at the AMIS meter: a different meter.
    other = meter_entry(str(amis_meter.link.with_name("ttyGONE")))
    other.add_to_hass(hass)
    result = await other.start_reconfigure_flow(hass)
    result = await configure_flow(
        hass, result["flow_id"], {**_user_input(amis_meter.port, AMIS_KEY)}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_meter"


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.freeze_time("2026-06-01 10:00:00", tick=True)
async def test_entities_of_an_amis_meter(
    hass: HomeAssistant,
    meter: PtyMeter,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """Every entity of an AMIS meter, from the specification's example telegram.

    The same telegram again and again: the repeats are dropped as replays, so
    the entities show exactly this telegram (as for the other meters in
    ``test_sensor.py::test_entities_per_meter``).
    """
    [vector] = [v for v in AMIS["vectors"] if v["id"] == "AMIS-SPEC-2021"]
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Siemens AMIS",
        unique_id="53414D0102030405",
        data={
            **entry_data(meter.port, encryption_key=bytes.fromhex(vector["key"])),
            CONF_INTERFACE: INTERFACE_NETZ_OOE_AMIS,
        },
    )
    entry.add_to_hass(hass)
    raw = bytes.fromhex(vector["frame_hex"])
    meter.start_streaming(source=lambda: raw)
    assert await hass.config_entries.async_setup(entry.entry_id)
    coordinator: DlmsSmartMeterCoordinator = entry.runtime_data
    await wait_until(lambda: coordinator.data is not None, what="first data")
    meter.stop_streaming()
    await hass.async_block_till_done()

    [device] = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    assert user_view_of_device(device) == snapshot(name="device")
    await snapshot_entities(hass, entity_registry, snapshot, entry.entry_id)
