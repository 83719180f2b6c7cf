"""The automatic interface choice: setup finds baud rate and parity by itself.

The meters sit behind an RFC 2217 server that sends their frames only at
their own line settings, so a test passes only when the search really
found them.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
)
from homeassistant.const import CONF_PORT, CONF_URL, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.data_entry_flow import (
    EVENT_DATA_ENTRY_FLOW_PROGRESSED,
    FlowResultType,
)
from homeassistant.helpers import entity_registry as er, selector
import pytest

from custom_components.dlms_smartmeter import config_flow, connection, line_search
from custom_components.dlms_smartmeter.const import (
    AUTO_CANDIDATES,
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_ENCRYPTION_KEY,
    CONF_INTERFACE,
    CONF_PARITY,
    DOMAIN,
    INTERFACE_AUTO,
    INTERFACE_BURGENLAND,
    INTERFACE_CUSTOM,
    INTERFACE_KAERNTEN_WELS,
    INTERFACE_NETZ_NOE,
    INTERFACE_STEIERMARK_E450,
    INTERFACE_STEIERMARK_T210,
    INTERFACE_TINETZ_SALZBURG_VORARLBERG,
    INTERFACE_WIENER_NETZE,
    INTERFACES,
    interface_found,
)
from custom_components.dlms_smartmeter.dlms import Layout
from custom_components.dlms_smartmeter.flow_form import SECTION_CUSTOM_LINE, MeterInput

from .meter import (
    METER_ID,
    OTHER_KEY,
    TEST_KEY,
    PtyMeter,
    configure_flow,
    make_simulator,
    meter_entry,
    wait_until,
)
from .rfc2217 import Rfc2217Meter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from homeassistant.core import HomeAssistant

pytestmark = pytest.mark.usefixtures("fast_timeouts")

# The candidates as the fast_timeouts fixture shortens them.
FAST_CANDIDATES = tuple(
    replace(candidate, listen_time=2.0) if candidate.listen_time else candidate
    for candidate in AUTO_CANDIDATES
)


def _auto_input(typed: str, **fields: Any) -> dict[str, Any]:
    return {
        CONF_URL: typed,
        CONF_ENCRYPTION_KEY: TEST_KEY.hex(),
        CONF_INTERFACE: INTERFACE_AUTO,
        SECTION_CUSTOM_LINE: {},
        **fields,
    }


def _texts(result: Any) -> dict[str, str]:
    """The placeholders of a progress step or form."""
    return dict(result["description_placeholders"] or {})


async def _start_user_flow(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    return str(result["flow_id"])


def _progress_texts(
    hass: HomeAssistant,
) -> tuple[list[dict[str, str]], Callable[[], None]]:
    """Placeholders of the progress step each time it tells the frontend to refresh."""
    seen: list[dict[str, str]] = []

    def _record(event: Any) -> None:
        flow = hass.config_entries.flow._progress.get(event.data["flow_id"])
        if flow is not None and flow.cur_step is not None:
            seen.append(dict(flow.cur_step.get("description_placeholders") or {}))

    return seen, hass.bus.async_listen(EVENT_DATA_ENTRY_FLOW_PROGRESSED, _record)


@pytest.fixture
async def rfc2217_meter(socket_enabled: None) -> AsyncIterator[Callable[..., Any]]:
    """Start meters behind RFC 2217 servers; all stop at the end of the test."""
    started: list[Rfc2217Meter] = []

    async def _start(
        baudrate: int, parity: str, *, interval: float = 0.05, **simulator: Any
    ) -> Rfc2217Meter:
        served = Rfc2217Meter(
            make_simulator(**simulator), baudrate, parity, interval=interval
        )
        await served.start()
        started.append(served)
        return served

    yield _start
    for served in started:
        await served.aclose()


@pytest.mark.parametrize(
    ("layout", "baudrate", "parity", "interface", "tried"),
    [
        (Layout.WIENER_NETZE, 9600, "N", INTERFACE_WIENER_NETZE, 1),
        (Layout.OBIS_FLAT_TRIPLES, 2400, "E", INTERFACE_NETZ_NOE, 2),
        (Layout.P1_POSITIONAL, 115200, "N", INTERFACE_KAERNTEN_WELS, 3),
    ],
    ids=["optical", "mbus", "p1"],
)
async def test_auto_finds_the_line_settings(
    hass: HomeAssistant,
    rfc2217_meter: Callable[..., Any],
    *,
    layout: Layout,
    baudrate: int,
    parity: str,
    interface: str,
    tried: int,
) -> None:
    """Each kind of interface is found, stored with its choice, and then read."""
    served: Rfc2217Meter = await rfc2217_meter(baudrate, parity, layout=layout)
    seen, stop_listening = _progress_texts(hass)
    flow_id = await _start_user_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        flow_id, _auto_input(served.url)
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["step_id"] == "listen"
    assert result["progress_action"] == "search"
    assert _texts(result)["setting"] == "9600 8N1"
    assert _texts(result)["number"] == "1"
    assert _texts(result)["count"] == str(len(AUTO_CANDIDATES))
    assert "rfc2217://127.0.0.1" in _texts(result)["port"]

    result = await configure_flow(hass, flow_id)
    await hass.async_block_till_done()
    stop_listening()
    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    assert result["data"][CONF_PORT] == served.url
    assert result["data"][CONF_BAUDRATE] == baudrate
    assert result["data"][CONF_PARITY] == parity
    assert result["data"][CONF_INTERFACE] == interface
    # The search went through the settings in order and stopped at the
    # meter's; the running entry then opened the port with those.
    listened = [(line.baudrate, line.parity) for line in served.clients]
    expected = [(c.baudrate, c.parity) for c in AUTO_CANDIDATES[:tried]]
    assert listened[:tried] == expected
    assert listened[tried:] == [(baudrate, parity)] * len(listened[tried:])
    # The progress text named each setting as the search moved on.
    settings = [texts["setting"] for texts in seen if "setting" in texts]
    assert [str(c) for c in AUTO_CANDIDATES[1:tried]] == [
        setting for setting in settings if setting != "9600 8N1"
    ][: tried - 1]

    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    await wait_until(lambda: entry.runtime_data.data is not None, what="first data")
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    states = [
        hass.states.get(item.entity_id)
        for item in er.async_entries_for_config_entry(registry, entry.entry_id)
    ]
    values = [
        state.state
        for state in states
        if state is not None and state.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)
    ]
    assert values
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_auto_reports_the_settings_tried(
    hass: HomeAssistant,
    rfc2217_meter: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A meter at a setting no candidate has: noise at each, all named."""
    # Pushes with quiet in between: each wrong setting is left after one push.
    monkeypatch.setattr(line_search, "BURST_GAP", 0.1)
    served: Rfc2217Meter = await rfc2217_meter(19200, "O", interval=0.3)
    flow_id = await _start_user_flow(hass)
    result = await configure_flow(hass, flow_id, _auto_input(served.url))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "no_valid_frames"}
    assert _texts(result)["tried"] == ", ".join(
        str(candidate) for candidate in FAST_CANDIDATES
    )
    # What was typed is offered again.
    assert _suggested(result)[CONF_URL] == served.url


async def test_auto_silent_line(
    hass: HomeAssistant, rfc2217_meter: Callable[..., Any]
) -> None:
    """Silence is silence at any setting: only the longer wait is tried too."""
    silent: Rfc2217Meter = await rfc2217_meter(9600, "N", interval=3600)
    flow_id = await _start_user_flow(hass)
    result = await configure_flow(hass, flow_id, _auto_input(silent.url))
    assert result["errors"] == {"base": "no_data"}
    assert _texts(result)["tried"] == "9600 8N1, 9600 8E1"
    assert [str(line) for line in silent.clients] == ["9600 8N1", "9600 8E1"]

    # The same form again, now with a meter that talks.
    talking: Rfc2217Meter = await rfc2217_meter(9600, "N")
    result = await configure_flow(hass, flow_id, _auto_input(talking.url))
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_INTERFACE] == INTERFACE_WIENER_NETZE
    assert result["result"].unique_id == METER_ID
    assert await hass.config_entries.async_unload(result["result"].entry_id)


async def test_auto_stops_at_frames_with_a_wrong_key(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """Frames that do not decrypt prove the setting: the key is what is wrong."""
    meter.start_streaming()
    flow_id = await _start_user_flow(hass)
    result = await configure_flow(
        hass, flow_id, _auto_input(meter.port, **{CONF_ENCRYPTION_KEY: OTHER_KEY.hex()})
    )
    assert result["errors"] == {"base": "invalid_key"}
    assert _texts(result)["tried"] == "9600 8N1"


async def test_explicit_choice_shows_its_setting(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """A named choice listens with its own setting, the usual way."""
    meter.start_streaming()
    flow_id = await _start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _auto_input(meter.port, **{CONF_INTERFACE: INTERFACE_NETZ_NOE})
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "listen"
    assert _texts(result)["setting"] == "2400 8E1"
    assert _texts(result)["seconds"] == "1"
    result = await configure_flow(hass, flow_id)
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_INTERFACE] == INTERFACE_NETZ_NOE
    assert await hass.config_entries.async_unload(result["result"].entry_id)


async def test_reauth_and_reconfigure_show_progress(
    hass: HomeAssistant, rfc2217_meter: Callable[..., Any]
) -> None:
    """Reauth listens with the stored setting; reconfigure can search again."""
    served: Rfc2217Meter = await rfc2217_meter(
        2400, "E", layout=Layout.OBIS_FLAT_TRIPLES
    )
    entry = meter_entry(served.url, encryption_key=OTHER_KEY)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_BAUDRATE: 2400, CONF_PARITY: "E"}
    )
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENCRYPTION_KEY: TEST_KEY.hex()}
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "listen"
    assert _texts(result)["setting"] == "2400 8E1"
    result = await configure_flow(hass, result["flow_id"])
    await hass.async_block_till_done()
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_INTERFACE] == INTERFACE_NETZ_NOE

    # Reconfigure with the automatic choice: the entry was running and
    # lends its port to the search.
    await wait_until(lambda: entry.runtime_data.connected, what="entry connected")
    result = await entry.start_reconfigure_flow(hass)
    assert _suggested(result)[CONF_URL] == served.url
    assert _suggested(result)[CONF_INTERFACE] == INTERFACE_NETZ_NOE
    result = await configure_flow(
        hass,
        result["flow_id"],
        _auto_input(served.url, **{CONF_ENCRYPTION_KEY: ""}),
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert (entry.data[CONF_BAUDRATE], entry.data[CONF_PARITY]) == (2400, "E")
    assert entry.data[CONF_INTERFACE] == INTERFACE_NETZ_NOE
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)


# ---------------------------------------------------------------------------
# Port fields


def _suggested(result: Any) -> dict[str, Any]:
    schema = result["data_schema"].schema
    return {str(key): (key.description or {}).get("suggested_value") for key in schema}


@pytest.mark.parametrize(
    "ports", [{}, {CONF_PORT: "/dev/ttyUSB0", CONF_URL: "socket://head:8888"}]
)
async def test_one_port_field_at_a_time(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, ports: dict[str, str]
) -> None:
    """A detected port or a typed one: neither or both cannot be used."""
    detected = [selector.SelectOptionDict(value="/dev/ttyUSB0", label="USB IR head")]
    monkeypatch.setattr(config_flow, "list_ports", lambda: detected)
    flow_id = await _start_user_flow(hass)
    form = _auto_input("")
    del form[CONF_URL]
    result = await configure_flow(hass, flow_id, {**form, **ports})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "port_or_url"}


async def test_detected_port_from_the_list(
    hass: HomeAssistant, meter: PtyMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port from the list is used as chosen and offered there again."""
    detected = [selector.SelectOptionDict(value=meter.port, label="USB IR head")]
    monkeypatch.setattr(config_flow, "list_ports", lambda: detected)
    meter.start_streaming()
    flow_id = await _start_user_flow(hass)
    form = _auto_input("", **{CONF_PORT: meter.port})
    del form[CONF_URL]
    result = await configure_flow(hass, flow_id, form)
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_PORT] == meter.port
    entry = result["result"]

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert _suggested(result)[CONF_PORT] == meter.port
    assert _suggested(result)[CONF_URL] is None
    # What the automatic choice found is offered, not the search again.
    assert _suggested(result)[CONF_INTERFACE] == INTERFACE_WIENER_NETZE
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_steps_without_a_check_show_the_form(hass: HomeAssistant) -> None:
    """The listening steps reached without input fall back to the form."""
    flow_id = await _start_user_flow(hass)
    flow = cast(
        "config_flow.DlmsSmartMeterConfigFlow",
        hass.config_entries.flow._progress[flow_id],
    )
    for step in (flow.async_step_listen, flow.async_step_finish):
        result = await step()
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "user"


# ---------------------------------------------------------------------------
# Without Home Assistant's flow


@pytest.mark.parametrize(
    ("line", "layout", "authenticated", "interface"),
    [
        ((9600, "N"), Layout.WIENER_NETZE_IM350, False, INTERFACE_WIENER_NETZE),
        ((9600, "N"), Layout.BURGENLAND, True, INTERFACE_BURGENLAND),
        ((2400, "E"), Layout.OBIS_TRIPLES, False, INTERFACE_TINETZ_SALZBURG_VORARLBERG),
        ((2400, "E"), Layout.OBIS_FLAT_TRIPLES, False, INTERFACE_NETZ_NOE),
        ((2400, "E"), Layout.SELF_DESCRIBING, True, INTERFACE_STEIERMARK_E450),
        # An authenticated payload of the other kind: the tag decides.
        ((2400, "E"), Layout.WIENER_NETZE, True, INTERFACE_STEIERMARK_E450),
        ((115200, "N"), Layout.DSMR_TEXT, True, INTERFACE_STEIERMARK_T210),
        ((115200, "N"), Layout.P1_POSITIONAL, False, INTERFACE_KAERNTEN_WELS),
        ((2400, "N"), Layout.OBIS_FLAT_TRIPLES, False, INTERFACE_CUSTOM),
    ],
)
def test_found_settings_pick_the_choice(
    line: tuple[int, str], layout: Layout, authenticated: bool, interface: str
) -> None:
    """Line settings, then payload layout and authentication pick the choice."""
    assert (
        interface_found(*line, layout=layout, authenticated=authenticated) == interface
    )


def test_every_choice_is_a_candidate() -> None:
    """The search tries the line settings of every named choice."""
    candidates = {(c.baudrate, c.parity) for c in AUTO_CANDIDATES}
    assert {(i.baudrate, i.parity) for i in INTERFACES.values()} <= candidates
    # The longest wait comes last: a silent line skips to it.
    waits = [c.listen_time or 0.0 for c in AUTO_CANDIDATES]
    assert waits == sorted(waits)


async def test_probe_leaves_noise_after_one_whole_burst(meter: PtyMeter) -> None:
    """Bytes heard from their start that hold no frame end the wait early."""
    meter.start_streaming(interval=0.2, source=lambda: b"\x55\xaa" * 40)
    settings = connection.LineSettings(meter.port, 9600, "N")
    async with asyncio.timeout(30):
        with pytest.raises(connection.NoValidFramesError):
            await connection.async_probe(settings, TEST_KEY, None, 600, burst_gap=0.05)


async def test_probe_with_bursts_still_reads(meter: PtyMeter) -> None:
    """At the right setting, pushes with quiet in between give a reading."""
    meter.start_streaming(interval=0.2)
    settings = connection.LineSettings(meter.port, 9600, "N")
    async with asyncio.timeout(30):
        reading = await connection.async_probe(
            settings, TEST_KEY, None, 600, burst_gap=0.05
        )
    assert reading.system_title.hex().upper() == METER_ID


async def test_search_skips_only_shorter_waits(
    hass: HomeAssistant, rfc2217_meter: Callable[..., Any]
) -> None:
    """After a silent wait, a candidate with the same wait is not tried."""
    silent: Rfc2217Meter = await rfc2217_meter(9600, "N", interval=3600)
    search = line_search.LineSearch(
        silent.url,
        FAST_CANDIDATES,
        (TEST_KEY, None),
        listen_time=0.2,
    )
    with pytest.raises(connection.NoDataError):
        await search.async_run()
    assert [str(c) for c in search.tried] == ["9600 8N1", "9600 8E1"]
    assert search.number == len(FAST_CANDIDATES)


async def test_keys_stay_out_of_the_search(hass: HomeAssistant) -> None:
    """The search's input never shows its keys."""
    form = MeterInput("/dev/null", INTERFACE_AUTO, AUTO_CANDIDATES, TEST_KEY, TEST_KEY)
    assert TEST_KEY.hex() not in repr(form).lower()
    assert CONF_AUTHENTICATION_KEY in form.entry_data(
        connection.LineSettings("/dev/null", 9600, "N"), INTERFACE_WIENER_NETZE
    )
