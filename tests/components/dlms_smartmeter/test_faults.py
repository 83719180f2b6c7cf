"""Bad input on a live port: line noise, a re-keyed meter, replays, clock trouble.

Every test drives the real integration through a pty and checks what reached
the states, the counters in the diagnostics and the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
import logging
import random
import struct
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE
from homeassistant.core import CoreState, Event, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)

from custom_components.dlms_smartmeter import coordinator as coordinator_module
from custom_components.dlms_smartmeter.const import (
    CONF_ENCRYPTION_KEY,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)
from custom_components.dlms_smartmeter.dlms import (
    LinkLayer,
    MeterDecoder,
    MeterValue,
    Reading,
    UnsupportedPayloadError,
    format_key,
)
from custom_components.dlms_smartmeter.dlms.apdu import (
    encode_data_notification,
    encode_general_glo_ciphering,
)
from custom_components.dlms_smartmeter.dlms.axdr import (
    axdr_double_long_unsigned,
    axdr_structure,
    axdr_visible_string,
)
from custom_components.dlms_smartmeter.dlms.cosem_time import encode_cosem_datetime
from custom_components.dlms_smartmeter.dlms.encoder import (
    encode_plaintext,
    encode_reading,
    hdlc_addresses,
)
from custom_components.dlms_smartmeter.dlms.framing import encode_link
from custom_components.dlms_smartmeter.dlms.guards import RESTART_CONFIRMATION_FRAMES
from custom_components.dlms_smartmeter.dlms.layouts import Layout
from tests.data.appendix_frames import (
    A3_GARBLED_START,
    SEED_STEVE_GOOD,
    SEED_STEVE_SHORT,
)

from .fault_injection import (
    ENERGY_IMPORT,
    POWER_IMPORT,
    Publications,
    entity_id_of,
    form_input,
    has_frame_start,
    state_of,
    wait_for_bytes,
    write_exactly,
)
from .meter import (
    METER_ID,
    OTHER_KEY,
    TEST_KEY,
    PtyMeter,
    configure_flow,
    make_simulator,
    meter_entry,
    push_and_wait,
    send_and_wait,
    set_up_meter,
    unsupported_frame,
    wait_until,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )
    from custom_components.dlms_smartmeter.dlms.simulator import MeterSimulator

pytestmark = pytest.mark.usefixtures("fast_timeouts")

EVERY_FRAME: Final = {CONF_UPDATE_INTERVAL: 0}
REACTIVE_IMPORT: Final = "1-0:3.8.0"
INTEGRATION_LOGGER: Final = "custom_components.dlms_smartmeter"

# Line noise that cannot open a frame by itself or with its neighbours: no
# HDLC flag, no M-Bus start, no raw-APDU tag, and no HDLC format byte (which
# would turn the closing flag of the frame before it into a frame start).
NOISE_BYTES: Final = bytes(
    byte
    for byte in range(256)
    if byte not in {0x7E, 0x68, 0xDB} and not 0xA0 <= byte <= 0xAF
)
# The forum's 96-byte read lost these bytes of a 105-byte AM550 frame: the
# second HCS byte, the LLC header and the start of the APDU.
FORUM_GAP: Final = slice(8, 17)
EVENING: Final = datetime(2026, 6, 21, 17, 0, tzinfo=UTC)
"""19:00 in Vienna: the household draws power, so both import registers grow
(with a push every 10 s, in every frame)."""


def _values(reading: Reading) -> dict[str, float]:
    return {obis: value.value for obis, value in reading.values.items()}


async def _running(hass: HomeAssistant, meter: PtyMeter) -> DlmsSmartMeterCoordinator:
    """The simulated meter set up, publishing every frame."""
    coordinator = await set_up_meter(
        hass, meter, meter_entry(meter.port, options=EVERY_FRAME)
    )
    await push_and_wait(hass, meter, coordinator)
    return coordinator


def _in_step(simulator: MeterSimulator, like: MeterSimulator) -> MeterSimulator:
    """Advance ``simulator`` to the same number of frames as ``like``."""
    while simulator.frames_sent < like.frames_sent:
        simulator.next_reading()
    return simulator


# --- line noise ---------------------------------------------------------------


@dataclass
class NoisyLine:
    """A stream of frames and noise, and what the integration must make of it."""

    writes: list[tuple[bytes, bool]] = field(default_factory=list)
    """Bytes per write; True: trickled in writes of a few bytes each."""
    valid: list[Reading] = field(default_factory=list)
    """Readings of the intact frames, in stream order."""
    broken: int = 0
    """Frames damaged on the line (each fails a checksum)."""
    pending: bytearray = field(default_factory=bytearray)

    @property
    def frames_sent(self) -> int:
        """Every frame the meter sent, intact or not."""
        return len(self.valid) + self.broken

    @property
    def size(self) -> int:
        """Bytes in all writes."""
        return sum(len(data) for data, _ in self.writes)

    def intact(self, simulator: MeterSimulator, *, shared_flag: bool = False) -> None:
        """An intact frame; with ``shared_flag`` it reuses the last closing flag."""
        frame = simulator.next_frame()
        self.pending += frame[1:] if shared_flag else frame
        self.valid.append(simulator.reading())

    def damaged(self, frame: bytes) -> None:
        """A frame that must fail its checksum, and only that."""
        # A frame start inside the damaged frame would be scanned as one more
        # candidate after the checksum failure: the plan avoids it.
        assert not has_frame_start(frame, 1)
        self.pending += frame
        self.broken += 1

    def flush(self, *, trickle: bool = False) -> None:
        """End the current write."""
        self.writes.append((bytes(self.pending), trickle))
        self.pending.clear()


def _flipped(frame: bytes, rng: random.Random) -> bytes:
    """One bit flipped in the information field; the frame still looks like one."""
    while True:
        broken = bytearray(frame)
        broken[rng.randrange(11, len(frame) - 3)] ^= 1 << rng.randrange(8)
        if not has_frame_start(bytes(broken), 1):
            return bytes(broken)


def _tail_lost(frame: bytes, rng: random.Random) -> bytes:
    """The frame with its last bytes lost (the next frame follows directly)."""
    while True:
        cut = frame[: -rng.randrange(2, 40)]
        if not has_frame_start(cut, 1):
            return cut


def _noise(rng: random.Random) -> bytes:
    return bytes(rng.choice(NOISE_BYTES) for _ in range(rng.randrange(1, 80)))


def _noisy_line(simulator: MeterSimulator, rounds: int) -> NoisyLine:
    """Every kind of line trouble, ``rounds`` times, ending with an intact frame."""
    rng = random.Random(2026)
    line = NoisyLine()
    for _ in range(rounds):
        line.pending += _noise(rng)
        line.intact(simulator)
        line.pending += b"\x7e" * rng.randrange(2, 6)  # duplicated flags
        line.intact(simulator)
        line.intact(simulator, shared_flag=True)
        line.damaged(_flipped(simulator.next_frame(), rng))
        line.pending += A3_GARBLED_START  # a garbled start from the field
        frame = simulator.next_frame()
        line.damaged(frame[: FORUM_GAP.start] + frame[FORUM_GAP.stop :])
        line.pending += _noise(rng)
        line.damaged(_tail_lost(simulator.next_frame(), rng))
        line.intact(simulator)
        line.flush()  # several frames in one write
        line.intact(simulator)
        line.flush(trickle=True)  # one frame in writes of a few bytes
    return line


def test_forum_gap_is_the_forum_frame() -> None:
    """The damage applied to simulated frames is what the forum frame shows."""
    full, short = SEED_STEVE_GOOD[0], SEED_STEVE_SHORT
    assert len(short) == 96
    assert short[: FORUM_GAP.start] == full[: FORUM_GAP.start]
    # The same 9 bytes are missing (the rest of the frame differs in counter
    # and ciphertext, not in position).
    assert short[FORUM_GAP.start : FORUM_GAP.start + 8] == full[FORUM_GAP.stop : 25]


async def test_line_noise_every_frame_accounted_for(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    meter: PtyMeter,
) -> None:
    """Noise, damaged, merged and trickled frames: nothing lost, nothing invented."""
    coordinator = await _running(hass, meter)
    entry = coordinator.config_entry
    before = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    publications = Publications(coordinator)
    line = _noisy_line(meter.simulator, rounds=4)
    rng = random.Random(62056)

    received = coordinator.decoder_stats["bytes_received"]
    for data, trickle in line.writes:
        position = 0
        while position < len(data):
            size = rng.randrange(1, 6) if trickle else len(data)
            chunk = data[position : position + size]
            await write_exactly(meter, chunk)
            position += len(chunk)
            received += len(chunk)
            if trickle:
                # Each piece arrives on its own.
                await wait_for_bytes(coordinator, received)
    await wait_for_bytes(coordinator, received)
    await wait_until(
        lambda: len(publications.published) >= len(line.valid), what="publications"
    )
    await hass.async_block_till_done()

    # Every intact frame was published, in order, with its values.
    assert [data.values for data in publications.published] == [
        _values(reading) for reading in line.valid
    ]
    after = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    def counted(section: str, name: str) -> int:
        return int(after[section][name] - before[section][name])

    decoded = counted("counters", "frames_ok")
    # Rejected by the framer (checksum, framing) or after it (every frame
    # that passed its checksum but gave no reading).
    rejected = (
        counted("counters", "checksum_errors")
        + counted("decoder", "framing_errors")
        + counted("decoder", "frames")
        - counted("decoder", "readings")
    )
    assert decoded == len(line.valid) == 5 * 4
    assert counted("counters", "checksum_errors") == line.broken == 3 * 4
    assert line.frames_sent == decoded + rejected
    assert counted("decoder", "bytes_received") == line.size
    # Nothing was dropped by the guards either.
    for name in ("replayed_frames", "dropped_decreasing_registers", "reconnects"):
        assert counted("counters", name) == 0
    assert float(state_of(hass, entity_id_of(hass, METER_ID, "power_import"))) == (
        line.valid[-1].values[POWER_IMPORT].value
    )


# --- wrong key at runtime ------------------------------------------------------


async def test_rekeyed_meter_asks_once_and_resumes_with_the_new_key(
    hass: HomeAssistant,
    meter: PtyMeter,
    entity_registry: er.EntityRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The operator changed the key: one reauth flow; the new key resumes reading."""
    coordinator = await _running(hass, meter)
    entry = coordinator.config_entry
    power = entity_id_of(hass, METER_ID, "power_import")
    shown = state_of(hass, power)
    entities = {
        registry_entry.entity_id
        for registry_entry in er.async_entries_for_config_entry(
            entity_registry, entry.entry_id
        )
    }
    publications = Publications(coordinator)

    # Same meter, same counter and registers, new key.
    meter.simulator = _in_step(
        make_simulator(encryption_key=OTHER_KEY), meter.simulator
    )
    frames = 3 * coordinator_module.REAUTH_AFTER_FAILURES
    await write_exactly(
        meter, b"".join(meter.simulator.next_frame() for _ in range(frames))
    )
    await wait_until(
        lambda: coordinator.decoder_stats["decryption_errors"] == frames,
        what="decryption errors",
    )
    await hass.async_block_till_done()
    assert publications.published == []
    assert state_of(hass, power) == shown
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert caplog.text.count("did not decrypt") == 1

    # The user enters the new key while the meter keeps pushing.
    meter.start_streaming()
    [flow] = flows
    form = await configure_flow(hass, flow["flow_id"])
    result = await configure_flow(
        hass,
        flow["flow_id"],
        form_input(form, **{CONF_ENCRYPTION_KEY: OTHER_KEY.hex()}),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_ENCRYPTION_KEY] == format_key(OTHER_KEY)
    resumed: DlmsSmartMeterCoordinator = entry.runtime_data
    await wait_until(lambda: resumed.counters.frames_ok > 0, what="new key frames")
    meter.stop_streaming()
    reading = await push_and_wait(hass, meter, resumed)
    assert float(state_of(hass, power)) == reading.values[POWER_IMPORT].value
    # Home Assistant kept running; the same entities carry on.
    assert hass.state is CoreState.running
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert {
        registry_entry.entity_id
        for registry_entry in er.async_entries_for_config_entry(
            entity_registry, entry.entry_id
        )
    } == entities
    assert resumed.decoder_stats["decryption_errors"] == 0


# --- replays, counters and registers -------------------------------------------


def _with_registers(reading: Reading, change: Callable[[float], float]) -> Reading:
    """The reading with ``change`` applied to every total energy register."""
    values = {
        obis: (
            MeterValue(change(meter_value.value), meter_value.unit)
            if obis.endswith(".8.0")
            else meter_value
        )
        for obis, meter_value in reading.values.items()
    }
    return replace(reading, values=values)


async def test_energy_history_never_goes_down(
    hass: HomeAssistant, meter: PtyMeter
) -> None:
    """Replays, glitches and counter restarts never make an energy state drop.

    A ``total_increasing`` sensor that drops looks like a meter reset to the
    statistics: the Energy dashboard would count the whole register again.
    """
    meter.simulator = make_simulator(start=EVENING, push_interval=10)
    coordinator = await _running(hass, meter)
    history: dict[str, list[float]] = {ENERGY_IMPORT: [], REACTIVE_IMPORT: []}
    entity_ids = {
        entity_id_of(hass, METER_ID, "energy_import"): ENERGY_IMPORT,
        entity_id_of(hass, METER_ID, "reactive_energy_import"): REACTIVE_IMPORT,
    }

    @callback
    def _record(event: Event[Any]) -> None:
        obis = entity_ids.get(event.data["entity_id"])
        new_state = event.data["new_state"]
        if obis is not None and new_state.state != STATE_UNAVAILABLE:
            history[obis].append(float(new_state.state))

    unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, _record)
    published = [await push_and_wait(hass, meter, coordinator) for _ in range(3)]

    # Replays: the last frame again, and one from earlier (lower registers).
    for frame in (meter.frames[-1], meter.frames[0]):
        meter.write(frame)
    await wait_until(lambda: coordinator.counters.replayed_frames == 2, what="replay")

    # Corrupted values that passed the checksum: a register far down, one far
    # up (an implausible jump), each with a fresh invocation counter.
    changes: list[Callable[[float], float]] = [
        lambda value: value // 2,
        lambda value: value + 50_000_000,
    ]
    for change in changes:
        glitch = _with_registers(meter.simulator.next_reading(), change)
        meter.write(encode_reading(glitch, encryption_key=TEST_KEY))
    await wait_until(
        lambda: (
            coordinator.counters.dropped_decreasing_registers == 1
            and coordinator.counters.dropped_implausible_registers == 1
        ),
        what="glitches dropped",
    )
    published.append(await push_and_wait(hass, meter, coordinator))

    # The counter restarts low (registers go on): taken after confirmation.
    meter.simulator = _in_step(
        make_simulator(start=EVENING, push_interval=10, invocation_counter=10),
        meter.simulator,
    )
    for _ in range(RESTART_CONFIRMATION_FRAMES):
        reading = await push_and_wait(hass, meter, coordinator)
    published.append(reading)
    assert coordinator.counters.counter_restarts == 1
    published.append(await push_and_wait(hass, meter, coordinator))

    # A restart whose registers are lower than what was published: never shown.
    restarted = _in_step(
        make_simulator(start=EVENING, push_interval=10, invocation_counter=1),
        meter.simulator,
    )
    for _ in range(RESTART_CONFIRMATION_FRAMES + 2):
        lower = _with_registers(restarted.next_reading(), changes[0])
        await send_and_wait(
            hass, meter, coordinator, encode_reading(lower, encryption_key=TEST_KEY)
        )
    unsubscribe()

    for obis, states in history.items():
        assert len(states) > 5, obis
        assert states == sorted(states), obis
        last = published[-1].values[obis].value
        # Active energy is shown in kWh, reactive energy in varh.
        assert states[-1] == pytest.approx(
            last / 1000 if obis == ENERGY_IMPORT else last
        )
    assert coordinator.counters.dropped_decreasing_registers == 1 + 3
    shown = state_of(hass, entity_id_of(hass, METER_ID, "energy_import"))
    assert float(shown) == pytest.approx(
        published[-1].values[ENERGY_IMPORT].value / 1000
    )


# --- clock trouble -------------------------------------------------------------


def _clock(
    fields: tuple[int, int, int, int, int, int] | None,
    *,
    deviation: int = -0x8000,
    status: int = 0xFF,
) -> bytes:
    """12 COSEM date-time bytes: local year to second, deviation and status.

    ``None``: every field "not specified".
    """
    if fields is None:
        return b"\xff" * 9 + b"\x80\x00\xff"
    year, month, day, hour, minute, second = fields
    weekday = date(year, month, day).isoweekday()
    return struct.pack(
        ">HBBBBBBBhB",
        year,
        month,
        day,
        weekday,
        hour,
        minute,
        second,
        0,
        deviation,
        status,
    )


def _frame_with_clock(
    simulator: MeterSimulator, clock: bytes | None
) -> tuple[bytes, Reading]:
    """The simulator's next AM550 frame, its date-time fields replaced by ``clock``.

    ``None`` keeps the clock the simulator sends.
    """
    reading = simulator.next_reading()
    plaintext = encode_plaintext(reading)
    sent = encode_cosem_datetime(reading.meter_time)
    # The AM550 sends its clock in the notification header and in the body.
    assert plaintext.count(sent) == 2
    apdu = encode_general_glo_ciphering(
        plaintext.replace(sent, sent if clock is None else clock),
        system_title=reading.system_title,
        invocation_counter=reading.invocation_counter or 0,
        encryption_key=TEST_KEY,
    )
    frame = encode_link(
        [apdu], link=LinkLayer.HDLC, addresses=hdlc_addresses(Layout.WIENER_NETZE)
    )
    return frame, reading


def test_clock_frames_are_built_like_the_meters() -> None:
    """Apart from the clock, the frames are exactly what the simulator sends."""
    built, reading = _frame_with_clock(make_simulator(), None)
    simulator = make_simulator()
    assert built == simulator.next_frame()
    assert reading == simulator.reading()


@pytest.mark.parametrize(
    ("clocks", "meter_times"),
    [
        pytest.param([_clock(None)], [None], id="not-specified"),
        pytest.param(
            [
                _clock((2026, 6, 1, 12, 0, 5), deviation=-120, status=0x0B),
                _clock((2026, 6, 1, 12, 0, 6), deviation=-120, status=0x02),
            ],
            [
                datetime(2026, 6, 1, 10, 0, 5, tzinfo=UTC),
                datetime(2026, 6, 1, 10, 0, 6, tzinfo=UTC),
            ],
            id="invalid-status-bits",
        ),
        pytest.param(
            [
                # 02:30 twice on the last Sunday of October: summer time first.
                _clock((2026, 10, 25, 2, 30, 0), deviation=-120, status=0x80),
                _clock((2026, 10, 25, 2, 30, 0), deviation=-60, status=0x00),
                # A meter that sends no deviation: the DST bit decides.
                _clock((2026, 10, 25, 2, 59, 59), status=0x80),
                _clock((2026, 10, 25, 2, 0, 0), status=0x00),
            ],
            [
                datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
                datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
                datetime(2026, 10, 25, 0, 59, 59, tzinfo=UTC),
                datetime(2026, 10, 25, 1, 0, 0, tzinfo=UTC),
            ],
            id="dst-fold",
        ),
        pytest.param(
            [
                # Hours ahead, then a clock that lost its battery.
                _clock((2030, 1, 1, 3, 0, 0), deviation=-60, status=0x00),
                _clock((2019, 1, 1, 0, 0, 1), deviation=-60, status=0x01),
            ],
            [
                datetime(2030, 1, 1, 2, 0, tzinfo=UTC),
                datetime(2018, 12, 31, 23, 0, 1, tzinfo=UTC),
            ],
            id="clock-hours-off",
        ),
    ],
)
async def test_clock_trouble_still_publishes(
    hass: HomeAssistant,
    meter: PtyMeter,
    clocks: list[bytes],
    meter_times: list[datetime | None],
) -> None:
    """Readings are published whatever the meter's clock says; meter_time shows it."""
    coordinator = await _running(hass, meter)
    power = entity_id_of(hass, METER_ID, "power_import")
    meter_time = entity_id_of(hass, METER_ID, "meter_time")
    for clock, expected in zip(clocks, meter_times, strict=True):
        frame, reading = _frame_with_clock(meter.simulator, clock)
        await send_and_wait(hass, meter, coordinator, frame)
        assert float(state_of(hass, power)) == reading.values[POWER_IMPORT].value
        assert coordinator.data is not None
        assert coordinator.data.meter_time == expected
        if expected is None:
            # The meter said nothing: no earlier time is shown as current.
            assert state_of(hass, meter_time) == STATE_UNAVAILABLE
        else:
            assert dt_util.parse_datetime(state_of(hass, meter_time)) == expected
        # States are stamped with the host's clock, not the meter's.
        power_state = hass.states.get(power)
        assert power_state is not None
        assert abs((power_state.last_updated - dt_util.utcnow()).total_seconds()) < 60
    assert coordinator.counters.replayed_frames == 0
    assert coordinator.counters.dropped_decreasing_registers == 0


# --- unsupported meter ---------------------------------------------------------


def _unsupported_plaintext() -> bytes:
    """The decrypted payload of ``unsupported_frame()``."""
    body = axdr_structure(
        axdr_visible_string("not a meter layout"), axdr_double_long_unsigned(42)
    )
    return encode_data_notification(body, invoke_id=1, date_time=None)


def _warnings_with(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING and text in record.getMessage()
    ]


async def test_unsupported_meter_in_the_config_flow(
    hass: HomeAssistant, meter: PtyMeter, caplog: pytest.LogCaptureFixture
) -> None:
    """Valid frames, unknown layout: a form error and the payload in the log."""
    caplog.set_level(logging.WARNING, INTEGRATION_LOGGER)
    payload = _unsupported_plaintext()
    (error,) = MeterDecoder(TEST_KEY).feed(unsupported_frame())
    assert isinstance(error, UnsupportedPayloadError)
    assert error.plaintext == payload
    counters = iter(range(5000, 6000))
    meter.start_streaming(
        source=lambda: unsupported_frame(invocation_counter=next(counters))
    )
    form = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await configure_flow(
        hass,
        form["flow_id"],
        form_input(form, url=meter.port, **{CONF_ENCRYPTION_KEY: TEST_KEY.hex()}),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "unsupported_meter"}
    # At the default log level, once per attempt, with the decrypted payload.
    [message] = _warnings_with(caplog, payload.hex())
    assert meter.port in message
    assert TEST_KEY.hex() not in caplog.text.lower()
    assert hass.config_entries.async_entries(DOMAIN) == []
    meter.stop_streaming()


async def test_unsupported_layout_at_runtime(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    meter: PtyMeter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A meter that starts sending an unknown layout: logged once, reading goes on."""
    caplog.set_level(logging.WARNING, INTEGRATION_LOGGER)
    coordinator = await _running(hass, meter)
    publications = Publications(coordinator)
    reader = coordinator.link.task
    counter = meter.simulator.reading().invocation_counter or 0
    for offset in range(1, 4):
        meter.write(unsupported_frame(invocation_counter=counter + offset))
    await wait_until(
        lambda: coordinator.decoder_stats["unsupported"] == 3, what="unsupported"
    )
    await hass.async_block_till_done()
    assert publications.published == []
    assert len(_warnings_with(caplog, _unsupported_plaintext().hex())) == 1
    assert reader is not None
    assert not reader.done()
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, coordinator.config_entry
    )
    assert diagnostics["decoder"]["unsupported"] == 3
    assert diagnostics["counters"]["decryption_failures"] == 0

    reading = await push_and_wait(hass, meter, coordinator)
    assert [data.values for data in publications.published] == [_values(reading)]
