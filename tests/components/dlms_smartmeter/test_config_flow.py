"""The config flow, reauth, reconfigure and options, against a real pty."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import json
from pathlib import Path
import re
from typing import TYPE_CHECKING, Any, Final, cast

from homeassistant.config_entries import (
    SOURCE_REAUTH,
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
from pytest_homeassistant_custom_component.common import MockConfigEntry
import serialx

from custom_components.dlms_smartmeter import config_flow, flow_fields, line_search
from custom_components.dlms_smartmeter.const import (
    AUSTRIA,
    AUTO_CANDIDATES,
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_ENCRYPTION_KEY,
    CONF_INTERFACE,
    CONF_PARITY,
    CONF_UPDATE_INTERVAL,
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
    interface_for,
)
from custom_components.dlms_smartmeter.dlms import Layout, LinkLayer, format_key
from custom_components.dlms_smartmeter.dlms.apdu import (
    encode_data_notification,
    encode_general_glo_ciphering,
)
from custom_components.dlms_smartmeter.dlms.axdr import (
    axdr_double_long_unsigned,
    axdr_structure,
    axdr_visible_string,
)
from custom_components.dlms_smartmeter.dlms.framing import encode_link
from custom_components.dlms_smartmeter.dlms.outputs import TcpFrameServer
from custom_components.dlms_smartmeter.dlms.security import SC_AUTHENTICATED

from .meter import (
    FAST_CANDIDATES,
    METER_ID,
    OTHER_KEY,
    OTHER_SYSTEM_TITLE,
    SYSTEM_TITLE,
    TEST_AUTH_KEY,
    TEST_KEY,
    PtyMeter,
    configure_flow,
    corrupted,
    entry_data,
    get_response_frame,
    make_simulator,
    meter_entry,
    unsupported_frame,
    wait_until,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from homeassistant.core import HomeAssistant

    from .rfc2217 import Rfc2217Meter

pytestmark = pytest.mark.usefixtures("fast_timeouts")

# How people paste keys: lower case, spaces, a 0x prefix.
TYPED_KEY = "0x" + " ".join(
    TEST_KEY.hex()[i : i + 4] for i in range(0, len(TEST_KEY.hex()), 4)
)
TITLE = f"Iskraemeco AM550-TD0 {METER_ID}"


def _translations(language: str) -> dict[str, Any]:
    path = Path(config_flow.__file__).parent / "translations" / f"{language}.json"
    content: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return content


TRANSLATIONS = _translations("en")


def _user_input(port: str, key: str = TYPED_KEY, **fields: Any) -> dict[str, Any]:
    return {
        # A pty is not a detected port: it is typed, like a URL.
        CONF_URL: port,
        CONF_ENCRYPTION_KEY: key,
        CONF_INTERFACE: INTERFACE_WIENER_NETZE,
        # The frontend sends a section even when it stays collapsed.
        flow_fields.SECTION_CUSTOM_LINE: {},
        **fields,
    }


def _custom_line(baudrate: str | None, parity: str | None) -> dict[str, Any]:
    """The custom line settings section as the form sends it."""
    line: dict[str, str] = {}
    if baudrate is not None:
        line[CONF_BAUDRATE] = baudrate
    if parity is not None:
        line[CONF_PARITY] = parity
    return {flow_fields.SECTION_CUSTOM_LINE: line}


def _stored(
    port: str, interface: str = INTERFACE_WIENER_NETZE, **kwargs: Any
) -> dict[str, Any]:
    """Entry data as this version of the flow stores it."""
    return {**entry_data(port, **kwargs), CONF_INTERFACE: interface}


def _fields(result: Any) -> dict[str, Any]:
    """The form's fields by name (with their selectors)."""
    return {str(key): value for key, value in result["data_schema"].schema.items()}


def _suggested(result: Any, section_name: str | None = None) -> dict[str, Any]:
    """The suggested values of the form's top-level fields or of a section."""
    schema = result["data_schema"].schema
    if section_name is not None:
        schema = _fields(result)[section_name].schema.schema
    return {str(key): (key.description or {}).get("suggested_value") for key in schema}


def _legacy_entry(
    port: str,
    *,
    baudrate: int = 9600,
    parity: str = "N",
    authentication_key: bytes | None = None,
) -> MockConfigEntry:
    """An entry stored before entries kept their interface choice."""
    data = entry_data(port, authentication_key=authentication_key)
    return MockConfigEntry(
        domain=DOMAIN,
        title=TITLE,
        unique_id=METER_ID,
        data={**data, CONF_BAUDRATE: baudrate, CONF_PARITY: parity},
    )


def _authenticated_unsupported_frame(invocation_counter: int) -> bytes:
    """An authenticated frame (test keys) whose content has no known layout."""
    body = axdr_structure(
        axdr_visible_string("not a meter layout"), axdr_double_long_unsigned(42)
    )
    apdu = encode_general_glo_ciphering(
        encode_data_notification(body, invoke_id=1, date_time=None),
        system_title=SYSTEM_TITLE,
        invocation_counter=invocation_counter,
        encryption_key=TEST_KEY,
        authentication_key=TEST_AUTH_KEY,
        security_control=SC_AUTHENTICATED,
    )
    return encode_link([apdu], link=LinkLayer.HDLC)


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
        flow_fields,
        "SERIAL_PORT_SELECTOR",
        selector.TextSelector if native_selector else None,
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    fields = _fields(result)
    assert set(fields) == {
        CONF_PORT,
        CONF_URL,
        CONF_INTERFACE,
        CONF_ENCRYPTION_KEY,
        CONF_AUTHENTICATION_KEY,
        flow_fields.SECTION_CUSTOM_LINE,
    }
    port_selector = fields[CONF_PORT]
    if native_selector:
        assert isinstance(port_selector, selector.TextSelector)
        return
    assert isinstance(port_selector, selector.SelectSelector)
    # Typed ports go into their own field, not into the list.
    assert not port_selector.config["custom_value"]
    listed = await hass.async_add_executor_job(serialx.list_serial_ports)
    options = cast("list[selector.SelectOptionDict]", port_selector.config["options"])
    assert len(options) == len(listed)
    for option in options:
        assert option["label"]
        assert option["value"].startswith("/dev/")


async def test_user_form_offers_interfaces(hass: HomeAssistant) -> None:
    """Automatic first and the default, then by operator and meter, then custom."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    interface_selector = _fields(result)[CONF_INTERFACE]
    assert isinstance(interface_selector, selector.SelectSelector)
    assert interface_selector.config["options"] == [
        INTERFACE_AUTO,
        *INTERFACES,
        INTERFACE_CUSTOM,
    ]
    assert interface_selector.config["translation_key"] == CONF_INTERFACE
    schema: Any = result["data_schema"]
    [interface_key] = [key for key in schema.schema if str(key) == CONF_INTERFACE]
    assert interface_key.default() == INTERFACE_AUTO
    # Each label names the line settings the choice sets, in both languages.
    for language in ("en", "de"):
        labels = _translations(language)["selector"][CONF_INTERFACE]["options"]
        assert set(labels) == {INTERFACE_AUTO, *INTERFACES, INTERFACE_CUSTOM}
        for name, interface in INTERFACES.items():
            assert f"({interface.baudrate} 8{interface.parity}1)" in labels[name]


async def test_every_placeholder_is_filled(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """The key help texts name their sources through placeholders the flow fills."""
    placeholder = re.compile(r"\{(\w+)\}")
    steps = TRANSLATIONS["config"]["step"]

    def _used(step_id: str) -> set[str]:
        return set(placeholder.findall(json.dumps(steps[step_id])))

    def _filled(result: Any) -> dict[str, str]:
        return dict(result["description_placeholders"] or {})

    assert {"wiener_netze_info", "netz_noe_email"} <= _used("user")
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert _used("user") <= set(_filled(result))
    for name in flow_fields.KEY_SOURCES:
        value = _filled(result)[name]
        assert value.startswith("https://") or "@" in value

    entry = meter_entry(meter.port)
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert _used("reconfigure") <= set(_filled(result))
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    assert _used("reauth_confirm") <= set(_filled(result))


def test_older_entries_get_a_fitting_interface() -> None:
    """Line settings and the presence of an authentication key pick the choice.

    Entries without a stored choice come from releases with Austrian choices only.
    """
    for name, interface in INTERFACES.items():
        if interface.country != AUSTRIA:
            continue
        chosen = INTERFACES[
            interface_for(
                interface.baudrate,
                interface.parity,
                authentication_key=interface.authentication_key_issued,
            )
        ]
        assert (chosen.baudrate, chosen.parity) == (
            interface.baudrate,
            interface.parity,
        ), name
        assert chosen.authentication_key_issued == interface.authentication_key_issued
    assert interface_for(2400, "N", authentication_key=False) == INTERFACE_CUSTOM


async def test_user_creates_entry(hass: HomeAssistant, meter: PtyMeter) -> None:
    """Listening to a meter that decrypts creates the entry, keyed by the meter."""
    flow_id = await _start_user_flow(hass)
    meter.start_streaming()
    result = await configure_flow(hass, flow_id, _user_input(meter.port))
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == TITLE
    assert result["data"] == _stored(meter.port)
    assert result["data"][CONF_ENCRYPTION_KEY] == TEST_KEY.hex().upper()
    entry = result["result"]
    assert entry.unique_id == METER_ID
    assert entry.state is ConfigEntryState.LOADED


async def test_user_with_authentication_and_interface(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """An authenticated meter on a P1 interface stores both keys and the line."""
    meter.simulator = make_simulator(authentication_key=TEST_AUTH_KEY)
    flow_id = await _start_user_flow(hass)
    meter.start_streaming()

    result = await configure_flow(
        hass,
        flow_id,
        _user_input(meter.port, **{CONF_AUTHENTICATION_KEY: OTHER_KEY.hex()}),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_authentication_key"}

    result = await configure_flow(
        hass,
        flow_id,
        _user_input(
            meter.port,
            **{
                CONF_AUTHENTICATION_KEY: TEST_AUTH_KEY.hex(":"),
                CONF_INTERFACE: INTERFACE_STEIERMARK_T210,
            },
        ),
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        **_stored(
            meter.port,
            INTERFACE_STEIERMARK_T210,
            authentication_key=TEST_AUTH_KEY,
        ),
        CONF_BAUDRATE: 115200,
        CONF_PARITY: "N",
    }
    assert result["result"].state is ConfigEntryState.LOADED


async def test_user_tells_which_of_two_keys_is_wrong(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """The tag fails for either wrong key; decrypting without it tells them apart."""
    meter.simulator = make_simulator(authentication_key=TEST_AUTH_KEY)
    flow_id = await _start_user_flow(hass)
    meter.start_streaming()
    # The two keys swapped: the encryption key is the wrong one.
    result = await configure_flow(
        hass,
        flow_id,
        _user_input(
            meter.port,
            TEST_AUTH_KEY.hex(),
            **{
                CONF_AUTHENTICATION_KEY: TEST_KEY.hex(),
                CONF_INTERFACE: INTERFACE_BURGENLAND,
            },
        ),
    )
    assert result["errors"] == {"base": "invalid_key"}

    # Frames whose content is unknown leave the encryption key unproven: the
    # failed tag is what is known.
    counters = iter(range(7000, 8000))
    meter.start_streaming(
        source=lambda: _authenticated_unsupported_frame(next(counters))
    )
    result = await configure_flow(
        hass,
        flow_id,
        _user_input(
            meter.port,
            **{
                CONF_AUTHENTICATION_KEY: OTHER_KEY.hex(),
                CONF_INTERFACE: INTERFACE_BURGENLAND,
            },
        ),
    )
    assert result["errors"] == {"base": "invalid_authentication_key"}
    assert not hass.config_entries.async_entries(DOMAIN)


@pytest.mark.parametrize(
    ("interface", "custom_line", "stored"),
    [
        (INTERFACE_NETZ_NOE, None, (2400, "E")),
        (INTERFACE_TINETZ_SALZBURG_VORARLBERG, None, (2400, "E")),
        (INTERFACE_KAERNTEN_WELS, ("19200", "odd"), (115200, "N")),
        (INTERFACE_CUSTOM, ("19200", "odd"), (19200, "O")),
        (INTERFACE_CUSTOM, (None, None), (9600, "N")),
    ],
)
async def test_user_line_settings(
    hass: HomeAssistant,
    meter: PtyMeter,
    *,
    interface: str,
    custom_line: tuple[str | None, str | None] | None,
    stored: tuple[int, str],
) -> None:
    """Interfaces set baud rate and parity; only the custom one takes the fields."""
    flow_id = await _start_user_flow(hass)
    meter.start_streaming()
    fields: dict[str, Any] = {CONF_INTERFACE: interface}
    if custom_line is not None:
        fields |= _custom_line(*custom_line)
    result = await configure_flow(hass, flow_id, _user_input(meter.port, **fields))
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert (result["data"][CONF_BAUDRATE], result["data"][CONF_PARITY]) == stored
    assert result["data"][CONF_INTERFACE] == interface
    # A pty accepts a parity setting only once, so setup may have to retry
    # here; a real serial port does not have that limitation.
    assert await hass.config_entries.async_unload(result["result"].entry_id)


@pytest.mark.parametrize(
    ("key", "advanced", "errors"),
    [
        ("not a key", {}, {CONF_ENCRYPTION_KEY: "invalid_encryption_key_format"}),
        (
            "   ",
            {CONF_AUTHENTICATION_KEY: TYPED_KEY},
            {CONF_ENCRYPTION_KEY: "encryption_key_missing"},
        ),
        (
            TYPED_KEY,
            {CONF_AUTHENTICATION_KEY: "12345"},
            {CONF_AUTHENTICATION_KEY: "invalid_authentication_key_format"},
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
    result = await configure_flow(
        hass, flow_id, _user_input(meter.port, key, **advanced)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    # Nothing was opened: a malformed key never reaches the port.
    assert meter.simulator.frames_sent == 0

    meter.start_streaming()
    result = await configure_flow(hass, flow_id, _user_input(meter.port))
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


@dataclass(frozen=True)
class UserError:
    """What the meter (or the port) does, and the error the form shows."""

    error: str
    port: str = "meter"
    """``meter``: the simulated meter's port; otherwise a path that does not exist."""
    stream: Callable[[PtyMeter], Callable[[], bytes] | None] | None = None
    """Makes the ``source`` of the bytes on the line (the simulator's frames
    when it makes ``None``); ``None`` here: a silent meter."""
    key: str = TYPED_KEY
    logged: str | None = None
    """A debug log line the error leaves (what a bug report needs)."""


def _line_noise(_meter: PtyMeter) -> Callable[[], bytes]:
    return lambda: b"misaligned head, random light " * 3


def _corrupted_frames(meter: PtyMeter) -> Callable[[], bytes]:
    return lambda: corrupted(meter.simulator.next_frame())


def _unknown_layout(_meter: PtyMeter) -> Callable[[], bytes]:
    counters = iter(range(5000, 6000))
    return lambda: unsupported_frame(invocation_counter=next(counters))


def _simulated_frames(_meter: PtyMeter) -> None:
    return None


USER_ERRORS: Final = {
    # The head is not plugged in, or the path is mistyped.
    "port_missing": UserError("cannot_connect", port="ttyUSB9"),
    # Interface not enabled, head not on the meter.
    "silent_port": UserError("no_data"),
    # A misaligned head, wrong line settings.
    "line_noise": UserError("no_valid_frames", stream=_line_noise),
    "corrupted_frames": UserError("no_valid_frames", stream=_corrupted_frames),
    "wrong_key": UserError(
        "invalid_key", stream=_simulated_frames, key=OTHER_KEY.hex()
    ),
    # Frames that decrypt to an unknown layout: the plaintext is logged.
    "unknown_layout": UserError(
        "unsupported_meter", stream=_unknown_layout, logged="unknown layout"
    ),
    # A valid frame that is no push at all.
    "not_a_push": UserError(
        "unsupported_meter",
        stream=lambda _meter: get_response_frame,
        logged="Frame not supported",
    ),
}


@pytest.mark.parametrize("case", USER_ERRORS.values(), ids=USER_ERRORS)
async def test_user_error_then_recovers(
    hass: HomeAssistant,
    meter: PtyMeter,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    case: UserError,
) -> None:
    """Each problem keeps the form with its error; fixed, the entry is created."""
    caplog.set_level("DEBUG", "custom_components.dlms_smartmeter")
    port = meter.port if case.port == "meter" else str(tmp_path / case.port)
    if case.stream is not None:
        meter.start_streaming(source=case.stream(meter))
    flow_id = await _start_user_flow(hass)
    result = await configure_flow(hass, flow_id, _user_input(port, case.key))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": case.error}
    # What was typed is offered again.
    assert _suggested(result)[CONF_URL] == port
    if case.logged is not None:
        assert case.logged in caplog.text
    assert TEST_KEY.hex() not in caplog.text.lower()

    meter.start_streaming()
    result = await configure_flow(hass, flow_id, _user_input(meter.port))
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_port_busy(hass: HomeAssistant, meter: PtyMeter) -> None:
    """A port another program holds open cannot be used."""
    transport, _ = await serialx.create_serial_connection(
        asyncio.get_running_loop(), asyncio.Protocol, meter.port, baudrate=9600
    )
    try:
        flow_id = await _start_user_flow(hass)
        result = await configure_flow(hass, flow_id, _user_input(meter.port))
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
    result = await configure_flow(hass, flow_id, _user_input(meter.port))
    assert result["errors"] == {"base": "cannot_connect"}


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
        result = await configure_flow(hass, flow_id, _user_input(f"  {url} "))
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

    monkeypatch.setattr(line_search, "async_probe", _broken)
    flow_id = await _start_user_flow(hass)
    result = await configure_flow(hass, flow_id, _user_input(meter.port))
    assert result["errors"] == {"base": "unknown"}

    monkeypatch.undo()
    config_flow.LISTEN_TIMEOUT = 1.0  # type: ignore[misc]
    meter.start_streaming()
    result = await configure_flow(hass, flow_id, _user_input(meter.port))
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_port_already_configured(
    hass: HomeAssistant, meter: PtyMeter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port that a configured meter uses is refused before it is opened."""
    meter_entry(meter.port, unique_id="0011223344556677").add_to_hass(hass)
    probed: list[object] = []

    def _search(*args: object) -> None:
        probed.append(args)

    monkeypatch.setattr(config_flow, "LineSearch", _search)
    flow_id = await _start_user_flow(hass)
    result = await configure_flow(hass, flow_id, _user_input(meter.port))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert probed == []


async def test_user_meter_already_configured(
    hass: HomeAssistant, meter: PtyMeter, tmp_path: Path
) -> None:
    """The same meter on another port is refused after listening to it."""
    existing = meter_entry(str(tmp_path / "ttyOLD"))
    existing.add_to_hass(hass)
    flow_id = await _start_user_flow(hass)
    meter.start_streaming()
    result = await configure_flow(hass, flow_id, _user_input(meter.port))
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

    result = await configure_flow(hass, flow_id, {CONF_ENCRYPTION_KEY: "0x123"})
    assert result["errors"] == {CONF_ENCRYPTION_KEY: "invalid_encryption_key_format"}

    result = await configure_flow(hass, flow_id, {CONF_ENCRYPTION_KEY: OTHER_KEY.hex()})
    assert result["errors"] == {"base": "invalid_key"}

    result = await configure_flow(hass, flow_id, {CONF_ENCRYPTION_KEY: TYPED_KEY})
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    # The entry predates stored interface choices: its line settings say which.
    assert entry.data == _stored(meter.port, INTERFACE_WIENER_NETZE)
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

    result = await configure_flow(
        hass,
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
    result = await configure_flow(
        hass, result["flow_id"], {CONF_ENCRYPTION_KEY: OTHER_KEY.hex()}
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
    result = await configure_flow(
        hass, result["flow_id"], {CONF_ENCRYPTION_KEY: TEST_KEY.hex()}
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
    # Not a detected port: offered in the field for typed ports.
    assert _suggested(result)[CONF_URL] == meter.port
    assert _suggested(result)[CONF_PORT] is None
    assert _suggested(result)[CONF_INTERFACE] == INTERFACE_WIENER_NETZE
    line = _suggested(result, flow_fields.SECTION_CUSTOM_LINE)
    assert line[CONF_BAUDRATE] == "9600"

    meter.stop_streaming()
    second_meter.start_streaming()
    result = await configure_flow(
        hass,
        result["flow_id"],
        {
            CONF_URL: second_meter.port,
            CONF_ENCRYPTION_KEY: "",
            CONF_INTERFACE: INTERFACE_CUSTOM,
            **_custom_line("2400", "none"),
        },
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == {
        **_stored(second_meter.port, INTERFACE_CUSTOM),
        CONF_BAUDRATE: 2400,
    }
    coordinator = entry.runtime_data
    assert coordinator.settings.port == second_meter.port
    await wait_until(lambda: coordinator.counters.frames_ok > 0, what="frames")

    # The form offers the stored choice and line settings again.
    result = await entry.start_reconfigure_flow(hass)
    assert _suggested(result)[CONF_INTERFACE] == INTERFACE_CUSTOM
    line = _suggested(result, flow_fields.SECTION_CUSTOM_LINE)
    assert line == {CONF_BAUDRATE: "2400", CONF_PARITY: "none"}


@pytest.mark.parametrize(
    ("baudrate", "parity", "authentication_key", "interface"),
    [
        (9600, "N", None, INTERFACE_WIENER_NETZE),
        (9600, "N", TEST_AUTH_KEY, INTERFACE_BURGENLAND),
        (2400, "E", None, INTERFACE_NETZ_NOE),
        (2400, "E", TEST_AUTH_KEY, INTERFACE_STEIERMARK_E450),
        (115200, "N", None, INTERFACE_KAERNTEN_WELS),
        (115200, "N", TEST_AUTH_KEY, INTERFACE_STEIERMARK_T210),
        (2400, "N", None, INTERFACE_CUSTOM),
    ],
)
async def test_reconfigure_offers_the_interface_of_older_entries(
    hass: HomeAssistant,
    meter: PtyMeter,
    *,
    baudrate: int,
    parity: str,
    authentication_key: bytes | None,
    interface: str,
) -> None:
    """Entries without a stored choice get the one their line and keys fit."""
    entry = _legacy_entry(
        meter.port,
        baudrate=baudrate,
        parity=parity,
        authentication_key=authentication_key,
    )
    entry.add_to_hass(hass)
    assert CONF_INTERFACE not in entry.data
    result = await entry.start_reconfigure_flow(hass)
    assert _suggested(result)[CONF_INTERFACE] == interface


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

    result = await configure_flow(hass, flow_id, _user_input(meter.port, "zz"))
    assert result["errors"] == {CONF_ENCRYPTION_KEY: "invalid_encryption_key_format"}

    result = await configure_flow(
        hass, flow_id, _user_input(str(tmp_path / "gone"), "")
    )
    assert result["errors"] == {"base": "cannot_connect"}

    result = await configure_flow(hass, flow_id, _user_input(meter.port, ""))
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT, result.get("errors")
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == _stored(meter.port, authentication_key=TEST_AUTH_KEY)


async def test_reconfigure_wrong_meter(
    hass: HomeAssistant, meter: PtyMeter, tmp_path: Path
) -> None:
    """A port with another meter on it is refused."""
    entry = meter_entry(str(tmp_path / "ttyOLD"))
    entry.add_to_hass(hass)
    meter.simulator = make_simulator(system_title=OTHER_SYSTEM_TITLE)
    meter.start_streaming()
    result = await entry.start_reconfigure_flow(hass)
    result = await configure_flow(hass, result["flow_id"], _user_input(meter.port, ""))
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
    result = await configure_flow(hass, result["flow_id"], _user_input(meter.port, ""))
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
    await configure_flow(
        hass,
        flow_id,
        _user_input(meter.port, OTHER_KEY.hex(), **{CONF_AUTHENTICATION_KEY: "zz"}),
    )
    await configure_flow(hass, flow_id, _user_input(meter.port, OTHER_KEY.hex()))
    result = await configure_flow(
        hass,
        flow_id,
        _user_input(meter.port, **{CONF_AUTHENTICATION_KEY: TEST_AUTH_KEY.hex()}),
    )
    await hass.async_block_till_done()
    entry = result["result"]
    await wait_until(lambda: entry.runtime_data.counters.frames_ok > 1, what="frames")
    entry.async_start_reauth(hass)
    await hass.async_block_till_done()
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    await configure_flow(hass, flow["flow_id"], {CONF_ENCRYPTION_KEY: OTHER_KEY.hex()})
    log = caplog.text.lower()
    assert f"opened {meter.port}".lower() in log
    for key in (TEST_KEY, TEST_AUTH_KEY, OTHER_KEY):
        assert key.hex() not in log
        assert key.hex(" ") not in log


# ---------------------------------------------------------------------------
# Automatic line settings, behind RFC 2217 servers that send a meter's
# frames only at its own line settings, and the progress step


def _auto_input(typed: str, **fields: Any) -> dict[str, Any]:
    return {
        CONF_URL: typed,
        CONF_ENCRYPTION_KEY: TEST_KEY.hex(),
        CONF_INTERFACE: INTERFACE_AUTO,
        flow_fields.SECTION_CUSTOM_LINE: {},
        **fields,
    }


def _texts(result: Any) -> dict[str, str]:
    """The placeholders of a progress step or form."""
    return dict(result["description_placeholders"] or {})


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
