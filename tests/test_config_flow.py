"""The config flow, reauth, reconfigure and options, against a real pty."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_PORT
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import selector
import pytest
import serialx

from custom_components.dlms_smartmeter import config_flow
from custom_components.dlms_smartmeter.const import (
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_ENCRYPTION_KEY,
    CONF_LINE_PRESET,
    CONF_PARITY,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
    LINE_PRESET_CUSTOM,
    LINE_PRESET_MBUS,
    LINE_PRESET_OPTICAL,
    LINE_PRESET_P1,
)
from custom_components.dlms_smartmeter.dlms import format_key
from custom_components.dlms_smartmeter.dlms.simulator import TcpFrameServer

from .meter import (
    METER_ID,
    OTHER_KEY,
    OTHER_SYSTEM_TITLE,
    TEST_AUTH_KEY,
    TEST_KEY,
    PtyMeter,
    corrupted,
    entry_data,
    get_response_frame,
    make_simulator,
    meter_entry,
    unsupported_frame,
    wait_until,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from homeassistant.core import HomeAssistant

pytestmark = pytest.mark.usefixtures("fast_timeouts")

# How people paste keys: lower case, spaces, a 0x prefix.
TYPED_KEY = "0x" + " ".join(
    TEST_KEY.hex()[i : i + 4] for i in range(0, len(TEST_KEY.hex()), 4)
)
TITLE = f"Iskraemeco AM550-TD0 {METER_ID}"


def _user_input(port: str, key: str = TYPED_KEY, **advanced: Any) -> dict[str, Any]:
    return {
        CONF_PORT: port,
        CONF_ENCRYPTION_KEY: key,
        config_flow.SECTION_ADVANCED: {
            CONF_LINE_PRESET: LINE_PRESET_OPTICAL,
            **advanced,
        },
    }


def _fields(result: Any) -> dict[str, Any]:
    """The form's fields by name (with their selectors)."""
    return {str(key): value for key, value in result["data_schema"].schema.items()}


def _suggested(result: Any) -> dict[str, Any]:
    """The suggested values of the form's top-level fields."""
    return {
        str(key): (key.description or {}).get("suggested_value")
        for key in result["data_schema"].schema
    }


async def _start_user_flow(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    return str(result["flow_id"])


@pytest.fixture
def second_meter(tmp_path: Path, meter: PtyMeter) -> Iterator[PtyMeter]:
    """The same simulated meter behind another pty (the head moved ports)."""
    moved = PtyMeter(tmp_path / "ttyMOVED", meter.simulator)
    yield moved
    moved.close()


# ---------------------------------------------------------------------------
# User step


@pytest.mark.parametrize("native_selector", [True, False])
async def test_user_form_offers_ports(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, native_selector: bool
) -> None:
    """The port field is Home Assistant's port selector or a list of ports."""
    monkeypatch.setattr(
        config_flow,
        "_SERIAL_PORT_SELECTOR",
        selector.TextSelector if native_selector else None,
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    fields = _fields(result)
    assert set(fields) == {CONF_PORT, CONF_ENCRYPTION_KEY, "advanced"}
    port_selector = fields[CONF_PORT]
    if native_selector:
        assert isinstance(port_selector, selector.TextSelector)
        return
    assert isinstance(port_selector, selector.SelectSelector)
    assert port_selector.config["custom_value"] is True
    listed = await hass.async_add_executor_job(serialx.list_serial_ports)
    options = cast("list[selector.SelectOptionDict]", port_selector.config["options"])
    assert len(options) == len(listed)
    for option in options:
        assert option["label"]
        assert option["value"].startswith("/dev/")


async def test_user_creates_entry(hass: HomeAssistant, meter: PtyMeter) -> None:
    """Listening to a meter that decrypts creates the entry, keyed by the meter."""
    flow_id = await _start_user_flow(hass)
    meter.start_streaming()
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    assert result["data"] == entry_data(meter.port)
    assert result["data"][CONF_ENCRYPTION_KEY] == TEST_KEY.hex().upper()
    entry = result["result"]
    assert entry.unique_id == METER_ID
    assert entry.state is ConfigEntryState.LOADED


async def test_user_with_authentication_and_line_preset(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """An authenticated meter on a P1 interface stores both keys and the line."""
    meter.simulator = make_simulator(authentication_key=TEST_AUTH_KEY)
    flow_id = await _start_user_flow(hass)
    meter.start_streaming()

    result = await hass.config_entries.flow.async_configure(
        flow_id,
        _user_input(meter.port, **{CONF_AUTHENTICATION_KEY: OTHER_KEY.hex()}),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_authentication_key"}

    result = await hass.config_entries.flow.async_configure(
        flow_id,
        _user_input(
            meter.port,
            **{
                CONF_AUTHENTICATION_KEY: TEST_AUTH_KEY.hex(":"),
                CONF_LINE_PRESET: LINE_PRESET_P1,
            },
        ),
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        **entry_data(meter.port, authentication_key=TEST_AUTH_KEY),
        CONF_BAUDRATE: 115200,
        CONF_PARITY: "N",
    }
    assert result["result"].state is ConfigEntryState.LOADED


@pytest.mark.parametrize(
    ("preset", "baudrate", "parity", "stored"),
    [
        (LINE_PRESET_MBUS, None, None, (2400, "E")),
        (LINE_PRESET_CUSTOM, "19200", "odd", (19200, "O")),
        (LINE_PRESET_CUSTOM, None, None, (9600, "N")),
    ],
)
async def test_user_line_settings(
    hass: HomeAssistant,
    meter: PtyMeter,
    *,
    preset: str,
    baudrate: str | None,
    parity: str | None,
    stored: tuple[int, str],
) -> None:
    """Presets set baud rate and parity; the custom choice takes the fields."""
    flow_id = await _start_user_flow(hass)
    meter.start_streaming()
    advanced: dict[str, str] = {CONF_LINE_PRESET: preset}
    if baudrate is not None and parity is not None:
        advanced |= {CONF_BAUDRATE: baudrate, CONF_PARITY: parity}
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port, **advanced)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert (result["data"][CONF_BAUDRATE], result["data"][CONF_PARITY]) == stored
    # A pty accepts a parity setting only once, so setup may have to retry
    # here; a real serial port does not have that limitation.
    assert await hass.config_entries.async_unload(result["result"].entry_id)


@pytest.mark.parametrize(
    ("key", "advanced", "errors"),
    [
        ("not a key", {}, {CONF_ENCRYPTION_KEY: "invalid_encryption_key_format"}),
        ("   ", {}, {CONF_ENCRYPTION_KEY: "invalid_encryption_key_format"}),
        (
            TYPED_KEY,
            {CONF_AUTHENTICATION_KEY: "12345"},
            {"base": "invalid_authentication_key_format"},
        ),
    ],
)
async def test_user_rejects_malformed_keys(
    hass: HomeAssistant,
    meter: PtyMeter,
    key: str,
    advanced: dict[str, str],
    errors: dict[str, str],
) -> None:
    """Keys that are not 32 hex characters are refused before listening."""
    flow_id = await _start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port, key, **advanced)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    # Nothing was opened: a malformed key never reaches the port.
    assert meter.simulator.frames_sent == 0

    meter.start_streaming()
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_cannot_connect(
    hass: HomeAssistant, meter: PtyMeter, tmp_path: Path
) -> None:
    """A port that does not exist, then the right one."""
    flow_id = await _start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(str(tmp_path / "ttyUSB9"))
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    # What was typed is offered again.
    assert _suggested(result)[CONF_PORT] == str(tmp_path / "ttyUSB9")

    meter.start_streaming()
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_port_busy(hass: HomeAssistant, meter: PtyMeter) -> None:
    """A port another program holds open cannot be used."""
    transport, _ = await serialx.create_serial_connection(
        asyncio.get_running_loop(), asyncio.Protocol, meter.port, baudrate=9600
    )
    try:
        flow_id = await _start_user_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id, _user_input(meter.port)
        )
        assert result["errors"] == {"base": "cannot_connect"}
    finally:
        transport.close()
        await transport.wait_closed()


async def test_user_port_closes_while_listening(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """A read head that is pulled before anything arrived cannot be used."""
    flow_id = await _start_user_flow(hass)
    asyncio.get_running_loop().call_later(0.2, meter.unplug)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    assert result["errors"] == {"base": "cannot_connect"}


async def test_user_no_data(hass: HomeAssistant, meter: PtyMeter) -> None:
    """A silent port (interface not enabled, head not on the meter), then data."""
    flow_id = await _start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    assert result["errors"] == {"base": "no_data"}

    meter.start_streaming()
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize("kind", ["noise", "corrupted"])
async def test_user_no_valid_frames(
    hass: HomeAssistant, meter: PtyMeter, kind: str
) -> None:
    """Bytes that never form a valid frame (misaligned head, wrong line settings)."""
    flow_id = await _start_user_flow(hass)
    if kind == "noise":
        meter.start_streaming(source=lambda: b"misaligned head, random light " * 3)
    else:
        meter.start_streaming(source=lambda: corrupted(meter.simulator.next_frame()))
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    assert result["errors"] == {"base": "no_valid_frames"}

    meter.start_streaming()
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_invalid_key(hass: HomeAssistant, meter: PtyMeter) -> None:
    """Frames that do not decrypt with the key, then the right key."""
    flow_id = await _start_user_flow(hass)
    meter.start_streaming()
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port, OTHER_KEY.hex())
    )
    assert result["errors"] == {"base": "invalid_key"}

    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_unsupported_meter(
    hass: HomeAssistant, meter: PtyMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """Frames that decrypt to an unknown layout; the plaintext is logged for debug."""
    caplog.set_level("DEBUG", "custom_components.dlms_smartmeter")
    counters = iter(range(5000, 6000))
    meter.start_streaming(
        source=lambda: unsupported_frame(invocation_counter=next(counters))
    )
    flow_id = await _start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    assert result["errors"] == {"base": "unsupported_meter"}
    assert "unknown layout" in caplog.text
    assert TEST_KEY.hex() not in caplog.text.lower()

    meter.start_streaming(source=get_response_frame)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    assert result["errors"] == {"base": "unsupported_meter"}
    assert "Frame not supported" in caplog.text

    meter.start_streaming()
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_network_read_head(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """A socket:// URL is listened to and stored as typed."""
    server = TcpFrameServer()
    await server.start()
    simulator = make_simulator()

    async def _serve() -> None:
        while True:
            await server.send(simulator.next_frame())
            await asyncio.sleep(0.05)

    serving = asyncio.get_running_loop().create_task(_serve())
    url = f"socket://127.0.0.1:{server.port}"
    try:
        flow_id = await _start_user_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id, _user_input(f"  {url} ")
        )
        await hass.async_block_till_done()
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"][CONF_PORT] == url
        assert result["result"].unique_id == METER_ID
        assert await hass.config_entries.async_unload(result["result"].entry_id)
    finally:
        serving.cancel()
        await server.aclose()


async def test_user_unexpected_error(
    hass: HomeAssistant, meter: PtyMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure nobody expected ends in a form error, not a crash."""

    async def _broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(config_flow, "async_probe", _broken)
    flow_id = await _start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    assert result["errors"] == {"base": "unknown"}

    monkeypatch.undo()
    config_flow.LISTEN_TIMEOUT = 1.0  # type: ignore[misc]
    meter.start_streaming()
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_port_already_configured(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """A port that a configured meter uses is refused before it is opened."""
    meter_entry(meter.port, unique_id="0011223344556677").add_to_hass(hass)
    flow_id = await _start_user_flow(hass)
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert loop.time() - started < config_flow.LISTEN_TIMEOUT


async def test_user_meter_already_configured(
    hass: HomeAssistant, meter: PtyMeter, tmp_path: Path
) -> None:
    """The same meter on another port is refused after listening to it."""
    existing = meter_entry(str(tmp_path / "ttyOLD"))
    existing.add_to_hass(hass)
    flow_id = await _start_user_flow(hass)
    meter.start_streaming()
    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


# ---------------------------------------------------------------------------
# Reauth


async def test_reauth_after_rejected_key(hass: HomeAssistant, meter: PtyMeter) -> None:
    """Setup with a wrong key asks for the key; only the right one is stored."""
    entry = meter_entry(meter.port, encryption_key=OTHER_KEY)
    entry.add_to_hass(hass)
    meter.start_streaming()
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == SOURCE_REAUTH
    assert flow["step_id"] == "reauth_confirm"
    flow_id = flow["flow_id"]

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_ENCRYPTION_KEY: "0x123"}
    )
    assert result["errors"] == {CONF_ENCRYPTION_KEY: "invalid_encryption_key_format"}

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_ENCRYPTION_KEY: OTHER_KEY.hex()}
    )
    assert result["errors"] == {"base": "invalid_key"}

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_ENCRYPTION_KEY: TYPED_KEY}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data == entry_data(meter.port)
    assert entry.state is ConfigEntryState.LOADED


async def test_reauth_while_running(hass: HomeAssistant, meter: PtyMeter) -> None:
    """A meter that gets a new key: reauth starts by itself and uses live frames."""
    entry = meter_entry(meter.port)
    entry.add_to_hass(hass)
    meter.start_streaming()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    first = entry.runtime_data
    await wait_until(lambda: first.counters.frames_ok > 0, what="frames")

    # The operator changes the key: the same meter now encrypts with another.
    meter.simulator = make_simulator(encryption_key=OTHER_KEY, invocation_counter=9000)
    await wait_until(
        lambda: bool(hass.config_entries.flow.async_progress_by_handler(DOMAIN)),
        what="reauth flow",
    )
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == SOURCE_REAUTH
    assert entry.state is ConfigEntryState.LOADED

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"],
        {CONF_ENCRYPTION_KEY: OTHER_KEY.hex(), CONF_AUTHENTICATION_KEY: ""},
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_ENCRYPTION_KEY] == format_key(OTHER_KEY)
    second = entry.runtime_data
    assert second is not first
    await wait_until(lambda: second.counters.frames_ok > 0, what="frames again")


async def test_reauth_failed_check_resumes_reading(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """A wrong key in reauth keeps the running entry reading."""
    entry = meter_entry(meter.port)
    entry.add_to_hass(hass)
    meter.start_streaming()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = entry.runtime_data
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENCRYPTION_KEY: OTHER_KEY.hex()}
    )
    assert result["errors"] == {"base": "invalid_key"}
    await wait_until(lambda: coordinator.connected, what="port reopened")
    frames = coordinator.counters.frames_ok
    await wait_until(lambda: coordinator.counters.frames_ok > frames, what="frames")


async def test_reauth_wrong_meter(hass: HomeAssistant, meter: PtyMeter) -> None:
    """Keys that decrypt another meter's frames are not taken."""
    entry = meter_entry(meter.port, encryption_key=OTHER_KEY)
    entry.add_to_hass(hass)
    meter.simulator = make_simulator(system_title=OTHER_SYSTEM_TITLE)
    meter.start_streaming()
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENCRYPTION_KEY: TEST_KEY.hex()}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_meter"
    assert entry.data[CONF_ENCRYPTION_KEY] == format_key(OTHER_KEY)


# ---------------------------------------------------------------------------
# Reconfigure


async def test_reconfigure_moves_port_and_line_settings(
    hass: HomeAssistant, meter: PtyMeter, second_meter: PtyMeter
) -> None:
    """Another port and custom line settings; a blank key keeps the stored one."""
    entry = meter_entry(meter.port, authentication_key=None)
    entry.add_to_hass(hass)
    meter.start_streaming()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    assert _suggested(result)[CONF_PORT] == meter.port
    advanced = result["data_schema"].schema
    section_schema = next(
        value for key, value in advanced.items() if str(key) == "advanced"
    ).schema.schema
    suggested_advanced = {
        str(key): (key.description or {}).get("suggested_value")
        for key in section_schema
    }
    assert suggested_advanced[CONF_LINE_PRESET] == LINE_PRESET_OPTICAL
    assert suggested_advanced[CONF_BAUDRATE] == "9600"

    meter.stop_streaming()
    second_meter.start_streaming()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_PORT: second_meter.port,
            CONF_ENCRYPTION_KEY: "",
            config_flow.SECTION_ADVANCED: {
                CONF_LINE_PRESET: LINE_PRESET_CUSTOM,
                CONF_BAUDRATE: "2400",
                CONF_PARITY: "none",
            },
        },
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == {**entry_data(second_meter.port), CONF_BAUDRATE: 2400}
    coordinator = entry.runtime_data
    assert coordinator.settings.port == second_meter.port
    await wait_until(lambda: coordinator.counters.frames_ok > 0, what="frames")

    # 2400 baud without parity is no preset: the form shows the custom choice.
    result = await entry.start_reconfigure_flow(hass)
    section_schema = next(
        value
        for key, value in result["data_schema"].schema.items()
        if str(key) == "advanced"
    ).schema.schema
    suggested_advanced = {
        str(key): (key.description or {}).get("suggested_value")
        for key in section_schema
    }
    assert suggested_advanced[CONF_LINE_PRESET] == LINE_PRESET_CUSTOM
    assert suggested_advanced[CONF_BAUDRATE] == "2400"
    assert suggested_advanced[CONF_PARITY] == "none"


async def test_reconfigure_errors_then_recovers(
    hass: HomeAssistant, meter: PtyMeter, tmp_path: Path
) -> None:
    """Errors keep the form; the same port as before is checked while running."""
    entry = meter_entry(meter.port, authentication_key=TEST_AUTH_KEY)
    meter.simulator = make_simulator(authentication_key=TEST_AUTH_KEY)
    entry.add_to_hass(hass)
    meter.start_streaming()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await entry.start_reconfigure_flow(hass)
    flow_id = result["flow_id"]

    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port, "zz")
    )
    assert result["errors"] == {CONF_ENCRYPTION_KEY: "invalid_encryption_key_format"}

    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(str(tmp_path / "gone"), "")
    )
    assert result["errors"] == {"base": "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port, "")
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT, result.get("errors")
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == entry_data(meter.port, authentication_key=TEST_AUTH_KEY)


async def test_reconfigure_wrong_meter(
    hass: HomeAssistant, meter: PtyMeter, tmp_path: Path
) -> None:
    """A port with another meter on it is refused."""
    entry = meter_entry(str(tmp_path / "ttyOLD"))
    entry.add_to_hass(hass)
    meter.simulator = make_simulator(system_title=OTHER_SYSTEM_TITLE)
    meter.start_streaming()
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(meter.port, "")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_meter"
    assert entry.data[CONF_PORT] == str(tmp_path / "ttyOLD")


async def test_reconfigure_port_of_other_meter(
    hass: HomeAssistant, meter: PtyMeter, tmp_path: Path
) -> None:
    """A port that another configured meter uses is refused."""
    entry = meter_entry(str(tmp_path / "ttyOLD"))
    entry.add_to_hass(hass)
    meter_entry(meter.port, unique_id="0011223344556677").add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _user_input(meter.port, "")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


# ---------------------------------------------------------------------------
# Options


async def test_options_update_interval(hass: HomeAssistant, meter: PtyMeter) -> None:
    """The update interval is stored as an option and applied by a reload."""
    entry = meter_entry(meter.port)
    entry.add_to_hass(hass)
    meter.push()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.publish_interval == 5

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    assert _fields(result).keys() == {CONF_UPDATE_INTERVAL}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_UPDATE_INTERVAL: 0}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_UPDATE_INTERVAL: 0}
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.publish_interval == 0


async def test_keys_never_reach_the_log(
    hass: HomeAssistant, meter: PtyMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """Setup, a wrong key, reauth and a running meter log no key, at any level."""
    caplog.set_level("DEBUG")
    meter.simulator = make_simulator(authentication_key=TEST_AUTH_KEY)
    meter.start_streaming()
    flow_id = await _start_user_flow(hass)
    await hass.config_entries.flow.async_configure(
        flow_id,
        _user_input(meter.port, OTHER_KEY.hex(), **{CONF_AUTHENTICATION_KEY: "zz"}),
    )
    await hass.config_entries.flow.async_configure(
        flow_id, _user_input(meter.port, OTHER_KEY.hex())
    )
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        _user_input(meter.port, **{CONF_AUTHENTICATION_KEY: TEST_AUTH_KEY.hex()}),
    )
    await hass.async_block_till_done()
    entry = result["result"]
    await wait_until(lambda: entry.runtime_data.counters.frames_ok > 1, what="frames")
    entry.async_start_reauth(hass)
    await hass.async_block_till_done()
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_ENCRYPTION_KEY: OTHER_KEY.hex()}
    )
    log = caplog.text.lower()
    assert f"opened {meter.port}".lower() in log
    for key in (TEST_KEY, TEST_AUTH_KEY, OTHER_KEY):
        assert key.hex() not in log
        assert key.hex(" ") not in log
