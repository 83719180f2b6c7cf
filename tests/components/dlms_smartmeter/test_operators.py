"""Every Austrian operator's real frames through the whole integration.

Each verified stream vector (HDLC, M-Bus or bare APDU) is written again and
again into a real pseudo-terminal while the config flow listens with the
interface its operator's meters use; the entry is created, set up, and its
entities show the vector's values with the right units and device classes.
The coordinator drops the repeated frames as replays, so what the entities
show is the first frame's content. Invalid keys, the authentication key and
a meter whose layout changes after a firmware update are covered per
operator family as well.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_URL, STATE_UNAVAILABLE
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest

from custom_components.dlms_smartmeter import (
    flow_fields,
)
from custom_components.dlms_smartmeter.const import (
    AUSTRIA,
    CONF_AUTHENTICATION_KEY,
    CONF_ENCRYPTION_KEY,
    CONF_INTERFACE,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
    INTERFACE_CUSTOM,
    INTERFACE_NETZ_OOE_AMIS,
    INTERFACE_STEIERMARK_E450,
    INTERFACES,
)
from custom_components.dlms_smartmeter.dlms import SecurityLevel
from custom_components.dlms_smartmeter.dlms.layouts import Layout
from custom_components.dlms_smartmeter.quarter_hour_sensor import QUARTER_HOUR_SENSORS
from tests.data import VECTORS

from .entities import SHOWN, sensor_keys, sensor_state, user_flow
from .meter import (
    OTHER_KEY,
    TEST_AUTH_KEY,
    TEST_KEY,
    PtyMeter,
    make_simulator,
    push_and_wait,
    wait_until,
)
from .operators import METERS, vector_entry_data, vector_key, vector_stream

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )

pytestmark = pytest.mark.usefixtures("fast_timeouts", "pty_accepts_parity_again")

STREAM_KINDS: Final = frozenset({"hdlc", "mbus", "apdu"})


# Where vectors.json has no usable "expected", the values vectors.md states:
# E450-GBT-3 lists attribute numbers, BGLD-E450-1 and STMK-SAG-DSMR-1 none.
STATED_VALUES: Final[dict[str, dict[str, tuple[float, str]]]] = {
    "E450-GBT-3-zero-key": {
        "1-0:1.7.0": (0, "W"),
        "1-0:2.7.0": (0, "W"),
        "1-0:1.8.0": (49805, "Wh"),
        "1-0:2.8.0": (0, "Wh"),
        "1-0:3.7.0": (0, "var"),
        "1-0:4.7.0": (0, "var"),
        "1-0:3.8.0": (4697, "varh"),
        "1-0:4.8.0": (58267, "varh"),
        "1-0:31.7.0": (0, "A"),
        "1-0:51.7.0": (0, "A"),
        "1-0:71.7.0": (0, "A"),
        "1-0:32.7.0": (234, "V"),
        "1-0:52.7.0": (0, "V"),
        "1-0:72.7.0": (0, "V"),
    },
    "BGLD-E450-1": {
        "1-0:32.7.0": (236, "V"),
        "1-0:52.7.0": (237, "V"),
        "1-0:72.7.0": (236, "V"),
        "1-0:31.7.0": (0.0, "A"),
        "1-0:51.7.0": (0.04, "A"),
        "1-0:71.7.0": (0.26, "A"),
        "1-0:1.7.0": (29, "W"),
        "1-0:2.7.0": (0, "W"),
        "1-0:1.8.0": (31358606, "Wh"),
        "1-0:2.8.0": (7619, "Wh"),
        "1-0:81.7.4": (400, "°"),
        "1-0:81.7.15": (53, "°"),
        "1-0:81.7.26": (295, "°"),
    },
    "STMK-SAG-DSMR-1": {
        "1-0:1.8.0": (14159934, "Wh"),
        "1-0:1.8.1": (8520922, "Wh"),
        "1-0:1.8.2": (5639012, "Wh"),
        "1-0:1.7.0": (544, "W"),
        "1-0:2.8.0": (7086646, "Wh"),
        "1-0:2.8.1": (7084926, "Wh"),
        "1-0:2.8.2": (1720, "Wh"),
        "1-0:2.7.0": (1803, "W"),
        "1-0:3.8.0": (3866, "varh"),
        "1-0:3.8.1": (241, "varh"),
        "1-0:3.8.2": (3625, "varh"),
        "1-0:3.7.0": (0, "var"),
        "1-0:4.8.0": (19308370, "varh"),
        "1-0:4.8.1": (12529385, "varh"),
        "1-0:4.8.2": (6778985, "varh"),
        "1-0:4.7.0": (1659, "var"),
    },
}

# The Burgenland U-I angles come without a documented unit or scaling (400
# cannot be degrees), so no entity shows them.
NOT_SHOWN: Final = frozenset({"1-0:81.7.4", "1-0:81.7.15", "1-0:81.7.26"})


def _pasted(key: bytes) -> str:
    """A key as people paste it: lower case, in groups of four."""
    text = key.hex()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _expected(vector_id: str) -> dict[str, tuple[float, str]]:
    if vector_id in STATED_VALUES:
        return STATED_VALUES[vector_id]
    return {
        code: (entry["value"], entry["unit"])
        for code, entry in VECTORS[vector_id]["expected"].items()
    }


def _form(
    port: str,
    interface: str,
    encryption_key: bytes,
    authentication_key: bytes | None = None,
) -> dict[str, Any]:
    form: dict[str, Any] = {
        CONF_URL: port,
        CONF_INTERFACE: interface,
        CONF_ENCRYPTION_KEY: _pasted(encryption_key),
        flow_fields.SECTION_CUSTOM_LINE: {},
    }
    if authentication_key is not None:
        form[CONF_AUTHENTICATION_KEY] = _pasted(authentication_key)
    return form


# --- every vector, through the flow to the entities ---------------------------


def test_every_stream_vector_has_an_operator() -> None:
    """No stream vector is left out of the integration tests below."""
    streams = {
        key for key, value in VECTORS.items() if value["input_kind"] in STREAM_KINDS
    }
    assert streams == set(METERS)
    # AMIS meters are not DLMS: test_amis.py takes them through the flow.
    # Choices beyond Austria: test_beyond_austria.py.
    austrian = {
        name for name, choice in INTERFACES.items() if choice.country == AUSTRIA
    }
    assert {meter.interface for meter in METERS.values()} == {
        *austrian,
        INTERFACE_CUSTOM,
    } - {INTERFACE_NETZ_OOE_AMIS}


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("vector_id", list(METERS))
async def test_vector_through_flow_to_entities(
    hass: HomeAssistant, meter: PtyMeter, vector_id: str
) -> None:
    """The operator's interface, the vector's keys: entry, device and entities."""
    spec = METERS[vector_id]
    raw = vector_stream(vector_id)
    encryption_key = vector_key(vector_id) or TEST_KEY
    authentication_key = vector_key(vector_id, "auth_key")
    meter.start_streaming(source=lambda: raw)

    result = await user_flow(
        hass, _form(meter.port, spec.interface, encryption_key, authentication_key)
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    entry = result["result"]
    # A meter that pushes without encryption is known by its serial number.
    assert entry.unique_id == (spec.system_title or spec.serial_number)
    assert result["title"].startswith(spec.manufacturer or "Smart meter")
    assert result["title"].endswith(spec.serial_number or spec.system_title)
    assert entry.data == vector_entry_data(vector_id, meter.port)
    assert entry.state is ConfigEntryState.LOADED
    coordinator: DlmsSmartMeterCoordinator = entry.runtime_data
    await wait_until(lambda: coordinator.data is not None, what="first data")
    await hass.async_block_till_done()

    reading = coordinator.last_reading
    assert reading is not None
    if not spec.system_title:
        assert reading.security is SecurityLevel.NONE
    elif authentication_key is not None:
        assert reading.security is SecurityLevel.AUTHENTICATED
    else:
        assert reading.security is SecurityLevel.ENCRYPTED

    expected = _expected(vector_id)
    shown = {code: SHOWN[code] for code in expected if code not in NOT_SHOWN}
    assert set(expected) - set(shown) <= NOT_SHOWN
    for code, presentation in shown.items():
        value, _unit = expected[code]
        state = sensor_state(hass, entry, presentation.key)
        assert float(state.state) == pytest.approx(value * presentation.factor), code
        assert state.attributes.get("unit_of_measurement") == presentation.unit, code
        assert state.attributes.get("device_class") == presentation.device_class, code

    # Entities exist for what the meter sends, and only for that.
    derived = {"meter_time", "link_quality"}
    if "1-0:1.8.0" in expected:
        derived |= {description.key for description in QUARTER_HOUR_SENSORS}
    if {"1-0:1.7.0", "1-0:2.7.0"} <= set(expected):
        derived.add("net_power")
        net = sensor_state(hass, entry, "net_power")
        assert float(net.state) == pytest.approx(
            expected["1-0:1.7.0"][0] - expected["1-0:2.7.0"][0]
        )
    assert (
        sensor_keys(hass, entry)
        == {presentation.key for presentation in shown.values()} | derived
    )
    meter_time = dt_util.parse_datetime(sensor_state(hass, entry, "meter_time").state)
    assert meter_time == datetime.fromisoformat(spec.meter_time)

    [device] = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert device.manufacturer == spec.manufacturer
    assert device.model == spec.model
    assert device.serial_number == spec.serial_number


# --- keys per operator family -----------------------------------------------------


@pytest.mark.parametrize(
    ("vector_id", "with_authentication_key"),
    [
        pytest.param("WN-AM550-1", False, id="wiener_netze_hdlc_suite_0"),
        pytest.param("WN-IM350-1", False, id="wiener_netze_4_byte_address"),
        pytest.param("KN-AM550-1", False, id="kaernten_p1_positional"),
        pytest.param("NOE-SAG-2", False, id="netz_noe_mbus_two_segments"),
        pytest.param("NOE-KAIFA-DOC", False, id="netz_noe_kaifa"),
        pytest.param("TINETZ-KAIFA-DOC", False, id="tinetz_mbus_suite_1"),
        pytest.param("E450-GBT-1", True, id="steiermark_block_transfer_authenticated"),
        pytest.param("BGLD-E450-1", True, id="burgenland_authentication_key_given"),
        pytest.param("BGLD-E450-1", False, id="burgenland_no_authentication_key"),
        pytest.param("STMK-SAG-DSMR-1", False, id="steiermark_t210_dsmr_in_apdu"),
    ],
)
async def test_invalid_key_per_operator(
    hass: HomeAssistant,
    meter: PtyMeter,
    *,
    vector_id: str,
    with_authentication_key: bool,
) -> None:
    """A wrong encryption key is named as such, also next to a right second key."""
    raw = vector_stream(vector_id)
    meter.start_streaming(source=lambda: raw)
    authentication_key = (
        vector_key(vector_id, "auth_key") if with_authentication_key else None
    )
    result = await user_flow(
        hass,
        _form(meter.port, METERS[vector_id].interface, OTHER_KEY, authentication_key),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_key"}
    assert not hass.config_entries.async_entries(DOMAIN)


async def _configure_authenticated(
    hass: HomeAssistant,
    meter: PtyMeter,
    vector_id: str,
    authentication_key: bytes | None,
) -> Any:
    """The flow with the vector's encryption key and ``authentication_key``."""
    raw = vector_stream(vector_id)
    meter.start_streaming(source=lambda: raw)
    encryption_key = vector_key(vector_id)
    assert encryption_key is not None
    form = _form(
        meter.port, METERS[vector_id].interface, encryption_key, authentication_key
    )
    return await user_flow(hass, form)


AUTHENTICATED: Final = {"burgenland": "BGLD-E450-1", "steiermark_e450": "E450-GBT-1"}


@pytest.mark.parametrize("vector_id", AUTHENTICATED.values(), ids=AUTHENTICATED)
async def test_wrong_authentication_key(
    hass: HomeAssistant, meter: PtyMeter, vector_id: str
) -> None:
    """The right encryption key with a wrong authentication key is refused."""
    result = await _configure_authenticated(hass, meter, vector_id, OTHER_KEY)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_authentication_key"}
    assert not hass.config_entries.async_entries(DOMAIN)


@pytest.mark.parametrize("vector_id", AUTHENTICATED.values(), ids=AUTHENTICATED)
async def test_authenticated_meter_without_authentication_key(
    hass: HomeAssistant, meter: PtyMeter, vector_id: str
) -> None:
    """Without the second key the frames decrypt, marked as not authenticated."""
    result = await _configure_authenticated(hass, meter, vector_id, None)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_AUTHENTICATION_KEY not in result["data"]
    coordinator: DlmsSmartMeterCoordinator = result["result"].runtime_data
    await wait_until(lambda: coordinator.last_reading is not None, what="reading")
    assert coordinator.last_reading is not None
    assert coordinator.last_reading.security is SecurityLevel.ENCRYPTED
    assert (
        coordinator.last_reading.values["1-0:1.8.0"].value
        == (_expected(vector_id)["1-0:1.8.0"][0])
    )


# --- a firmware update changes what the meter sends -------------------------------


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_firmware_update_changes_the_layout(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """New values get entities without reconfiguring; vanished ones are unavailable.

    An E450 in Steiermark first pushes its registers with tariffs; after a
    firmware update it sends the self-describing push with voltages and
    currents instead, and no tariff registers.
    """
    title = b"LGZgs\x01\x02\x03"
    before = make_simulator(
        layout=Layout.OBIS_PAIRS, system_title=title, authentication_key=TEST_AUTH_KEY
    )
    after = make_simulator(
        layout=Layout.SELF_DESCRIBING,
        system_title=title,
        authentication_key=TEST_AUTH_KEY,
    )
    meter.simulator = before
    meter.start_streaming()
    result = await user_flow(
        hass, _form(meter.port, INTERFACE_STEIERMARK_E450, TEST_KEY, TEST_AUTH_KEY)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    meter.stop_streaming()
    entry = result["result"]
    # Every frame published at once, so each push shows.
    options = await hass.config_entries.options.async_init(entry.entry_id)
    await hass.config_entries.options.async_configure(
        options["flow_id"], {CONF_UPDATE_INTERVAL: 0}
    )
    await hass.async_block_till_done()
    await wait_until(lambda: entry.state is ConfigEntryState.LOADED, what="reload")
    await push_and_wait(hass, meter, entry.runtime_data)
    tariff_keys = {"energy_import_tariff_1", "energy_export_tariff_2"}
    phase_keys = {"voltage_l1", "voltage_l3", "current_l2"}
    created = sensor_keys(hass, entry)
    assert tariff_keys <= created
    assert not phase_keys & created
    tariff_before = float(sensor_state(hass, entry, "energy_import_tariff_1").state)
    assert tariff_before > 0

    # The updated meter continues the same registers and counter.
    for _ in range(before.frames_sent):
        after.next_reading()
    meter.simulator = after
    await push_and_wait(hass, meter, entry.runtime_data)
    reading = after.reading()
    assert phase_keys <= sensor_keys(hass, entry)
    voltage = sensor_state(hass, entry, "voltage_l1")
    assert float(voltage.state) == pytest.approx(reading.values["1-0:32.7.0"].value)
    assert voltage.attributes["unit_of_measurement"] == "V"
    for key in tariff_keys:
        assert sensor_state(hass, entry, key).state == STATE_UNAVAILABLE, key
    energy = sensor_state(hass, entry, "energy_import")
    assert float(energy.state) == pytest.approx(
        reading.values["1-0:1.8.0"].value / 1000
    )

    # After a restart the vanished values stay unavailable, not zero.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await push_and_wait(hass, meter, entry.runtime_data)
    for key in tariff_keys:
        assert sensor_state(hass, entry, key).state == STATE_UNAVAILABLE, key
    assert float(sensor_state(hass, entry, "voltage_l1").state) == pytest.approx(
        after.reading().values["1-0:32.7.0"].value
    )
    assert entry.data[CONF_INTERFACE] == INTERFACE_STEIERMARK_E450
