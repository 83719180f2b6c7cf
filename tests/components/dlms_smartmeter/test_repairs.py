"""Telling the user what to check: the link-quality sensor and Repairs issues."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Final

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.dlms_smartmeter import health, repairs
from custom_components.dlms_smartmeter.const import (
    CONF_PARITY,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)
from custom_components.dlms_smartmeter.link import LineSettings

from .fault_injection import entity_id_of, state_of, wait_for_bytes, write_exactly
from .meter import (
    METER_ID,
    PtyMeter,
    corrupted,
    meter_entry,
    push_and_wait,
    set_up_meter,
    wait_until,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )

pytestmark = [
    pytest.mark.usefixtures("fast_timeouts"),
    pytest.mark.freeze_time("2026-06-01 10:00:00", tick=True),
]

EVERY_FRAME: Final = {CONF_UPDATE_INTERVAL: 0}
SILENT_AFTER: Final = 60.0


def _issue(
    hass: HomeAssistant, kind: str, entry: MockConfigEntry
) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(
        DOMAIN, repairs.issue_id(kind, entry.entry_id)
    )


def _available(coordinator: DlmsSmartMeterCoordinator) -> bool:
    return coordinator.last_update_success


async def _reopened(coordinator: DlmsSmartMeterCoordinator, before: int) -> None:
    """Wait until the watchdog's reopen of the port is done."""
    await wait_until(
        lambda: coordinator.counters.reconnects > before and coordinator.connected,
        what="port reopened",
    )


async def _advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float
) -> None:
    """Let ``seconds`` pass (from now) and fire what became due."""
    freezer.move_to(dt_util.utcnow() + timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def _write_damaged(
    meter: PtyMeter, coordinator: DlmsSmartMeterCoordinator, count: int
) -> None:
    """``count`` frames with a byte changed on the line, all received."""
    received = coordinator.decoder_stats["bytes_received"]
    damaged = b"".join(corrupted(meter.simulator.next_frame()) for _ in range(count))
    await write_exactly(meter, damaged)
    await wait_for_bytes(coordinator, received + len(damaged))


async def test_silent_meter_raises_an_issue_that_clears_itself(
    hass: HomeAssistant,
    meter: PtyMeter,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Silent for long: an issue says what to check; frames again: it is gone."""
    monkeypatch.setattr(repairs, "METER_SILENT_AFTER", SILENT_AFTER)
    entry = meter_entry(meter.port, options=EVERY_FRAME)
    coordinator = await set_up_meter(hass, meter, entry)
    for _ in range(3):
        await push_and_wait(hass, meter, coordinator)
    stale = coordinator.stale_timeout

    await _advance(hass, freezer, stale + 1)
    assert not _available(coordinator)
    silent_for = 0.0
    while silent_for + stale + 1 < SILENT_AFTER:
        await _advance(hass, freezer, stale + 1)
        silent_for += stale + 1
        assert _issue(hass, repairs.ISSUE_METER_SILENT, entry) is None
    reopened = coordinator.counters.reconnects
    await _advance(hass, freezer, stale + 1)
    issue = _issue(hass, repairs.ISSUE_METER_SILENT, entry)
    assert issue is not None
    assert issue.translation_key == repairs.ISSUE_METER_SILENT
    assert issue.severity is ir.IssueSeverity.WARNING
    assert not issue.is_fixable
    assert issue.translation_placeholders == {
        "title": entry.title,
        "port": meter.port,
        "minutes": "1",
    }

    await _reopened(coordinator, reopened)
    await push_and_wait(hass, meter, coordinator)
    assert _available(coordinator)
    assert _issue(hass, repairs.ISSUE_METER_SILENT, entry) is None


async def test_damaged_frames_raise_an_issue_with_the_parity_to_try(
    hass: HomeAssistant, meter: PtyMeter, freezer: FrozenDateTimeFactory
) -> None:
    """Mostly damaged frames: issue and a low link quality; fixed: both recover."""
    entry = meter_entry(meter.port, options=EVERY_FRAME)
    coordinator = await set_up_meter(hass, meter, entry)
    quality = entity_id_of(hass, METER_ID, "link_quality")
    assert state_of(hass, quality) == "100"

    await _write_damaged(meter, coordinator, 2 * health.DAMAGED_MIN_FRAMES)
    await hass.async_block_till_done()
    issue = _issue(hass, repairs.ISSUE_DAMAGED_FRAMES, entry)
    assert issue is not None
    placeholders = issue.translation_placeholders or {}
    assert placeholders["parity"] == "none"
    assert placeholders["other_parity"] == "even"
    # The share when the issue was raised; more damaged frames came after.
    assert int(placeholders["share"]) < health.DAMAGED_MAX_SHARE
    share = coordinator.health.valid_share
    assert share is not None
    assert share < health.DAMAGED_MAX_SHARE
    assert state_of(hass, quality) == str(share)
    # The head is turned into place: the damaged frames age out, good ones
    # arrive.
    reopened = coordinator.counters.reconnects
    await _advance(hass, freezer, health.HEALTH_WINDOW + 1)
    await _reopened(coordinator, reopened)
    await push_and_wait(hass, meter, coordinator)
    assert _issue(hass, repairs.ISSUE_DAMAGED_FRAMES, entry) is None
    assert state_of(hass, quality) == "100"


async def test_link_quality_stays_available_while_the_meter_is_silent(
    hass: HomeAssistant, meter: PtyMeter, freezer: FrozenDateTimeFactory
) -> None:
    """What a user watches while placing the head: never unavailable."""
    entry = meter_entry(meter.port, options=EVERY_FRAME)
    coordinator = await set_up_meter(hass, meter, entry)
    quality = entity_id_of(hass, METER_ID, "link_quality")
    power = entity_id_of(hass, METER_ID, "power_import")
    await _advance(hass, freezer, health.HEALTH_WINDOW + 1)
    assert state_of(hass, power) == STATE_UNAVAILABLE
    assert not _available(coordinator)
    # Nothing arrived in the window: no share to show.
    assert state_of(hass, quality) == STATE_UNKNOWN


async def test_issues_go_away_with_the_entry(
    hass: HomeAssistant,
    meter: PtyMeter,
    hass_storage: dict[str, object],
) -> None:
    """Unloading removes the issues; removing the entry also its saved state."""
    entry = meter_entry(meter.port, options=EVERY_FRAME)
    coordinator = await set_up_meter(hass, meter, entry)
    await _write_damaged(meter, coordinator, 2 * health.DAMAGED_MIN_FRAMES)
    await hass.async_block_till_done()
    assert _issue(hass, repairs.ISSUE_DAMAGED_FRAMES, entry) is not None
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert _issue(hass, repairs.ISSUE_DAMAGED_FRAMES, entry) is None
    key = f"{DOMAIN}.{entry.entry_id}"
    assert key in hass_storage

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage


def test_parity_to_try() -> None:
    """Optical and P1 heads use none, wired M-Bus even: the other one is advised."""
    assert repairs.other_parity("N") == "E"
    assert repairs.other_parity("E") == "N"
    assert repairs.other_parity("O") == "N"


async def test_damaged_issue_on_an_m_bus_entry_advises_no_parity(
    hass: HomeAssistant,
) -> None:
    """An entry with even parity is told to try none."""
    entry = meter_entry("/dev/ttyUSB0")
    settings = LineSettings.from_entry_data({**entry.data, CONF_PARITY: "E"})
    repairs.raise_damaged_frames(hass, entry.entry_id, entry.title, settings, 10)
    issue = _issue(hass, repairs.ISSUE_DAMAGED_FRAMES, entry)
    assert issue is not None
    placeholders = issue.translation_placeholders or {}
    assert placeholders["parity"] == "even"
    assert placeholders["other_parity"] == "none"
    repairs.clear_all(hass, entry.entry_id)
    assert _issue(hass, repairs.ISSUE_DAMAGED_FRAMES, entry) is None
