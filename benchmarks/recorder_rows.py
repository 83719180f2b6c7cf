"""Recorder impact: state rows written for one simulated hour, per update interval.

Run from the repository root, inside the virtual environment::

    python benchmarks/recorder_rows.py             # 19:00-20:00, about a minute
    python benchmarks/recorder_rows.py --hours 2 --start-hour 12

A simulated Wiener Netze AM550 pushes one frame per second of meter time
into a real pseudo-terminal; the integration, set up by the Home Assistant
test harness with the recorder enabled (an SQLite database in memory, as the
harness's ``recorder_mock`` provides), reads it while Home Assistant's clock
advances one second per frame. Counted afterwards in the database: the rows
of the ``states`` table for the meter's entities, for update interval 0
(every frame published) and for the default (5 s); rows per day are the
hour's rows times 24 (an evening hour, when the household draws power, is a
busy hour). The ratio of the two runs is printed: the default interval is
the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import os
from pathlib import Path
import sys
from typing import TYPE_CHECKING, Final

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from homeassistant.components.recorder.db_schema import States, StatesMeta
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.recorder import get_instance, session_scope
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from sqlalchemy import func, text

from benchmarks.ha_harness import (
    SECOND,
    FrameLine,
    cpu_clock,
    run,
    run_like_home_assistant,
    until_received,
    wall_clock,
    while_ticking,
)
from custom_components.dlms_smartmeter import coordinator as coordinator_module
from custom_components.dlms_smartmeter.const import (
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
)
from tests.components.dlms_smartmeter.meter import make_simulator, meter_entry

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )

HOURS: Final = int(os.environ.get("RECORDER_HOURS", "1"))
START_HOUR: Final = int(os.environ.get("RECORDER_START_HOUR", "19"))
VIENNA: Final = dt_util.get_time_zone("Europe/Vienna")
START: Final = datetime(2026, 6, 21, START_HOUR, tzinfo=VIENNA)
FROZEN_START: Final = dt_util.as_utc(START).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Hour:
    """What the database holds after the simulated time of one run."""

    interval: int
    frames: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    """State rows per entity (object ID without the device name)."""
    database_bytes: int = 0
    cpu: float = 0.0
    wall: float = 0.0
    catching_up: float = 0.0
    """Seconds the recorder needed after the last frame to write everything."""

    @property
    def total(self) -> int:
        """State rows of all the meter's entities."""
        return sum(self.rows.values())

    @property
    def per_day(self) -> float:
        """Rows per day, from the simulated time."""
        return self.total * 24 / HOURS


RESULTS: dict[int, Hour] = {}


@pytest.fixture(autouse=True)
async def production_loop() -> None:
    """The event loop and logging as Home Assistant runs them."""
    run_like_home_assistant()


def _rows(hass: HomeAssistant, entity_ids: set[str]) -> dict[str, int]:
    """State rows per entity, read in the recorder's thread pool."""
    with session_scope(hass=hass, read_only=True) as session:
        counts = (
            session.query(StatesMeta.entity_id, func.count(States.state_id))
            .join(States, States.metadata_id == StatesMeta.metadata_id)
            .group_by(StatesMeta.entity_id)
            .all()
        )
    return {
        entity_id: int(count) for entity_id, count in counts if entity_id in entity_ids
    }


def _database_bytes(hass: HomeAssistant) -> int:
    """Size of the SQLite database (pages in use times the page size)."""
    with session_scope(hass=hass, read_only=True) as session:
        pages = session.execute(text("PRAGMA page_count")).scalar() or 0
        size = session.execute(text("PRAGMA page_size")).scalar() or 0
    return int(pages) * int(size)


@pytest.mark.parametrize(
    "interval",
    [
        pytest.param(0, id="interval-0"),
        pytest.param(DEFAULT_UPDATE_INTERVAL, id="interval-default"),
    ],
)
@pytest.mark.freeze_time(FROZEN_START)
# The recorder before Home Assistant: the harness insists on this order.
@pytest.mark.usefixtures("recorder_mock", "enable_custom_integrations")
async def test_hour(
    *,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interval: int,
) -> None:
    """The simulated time through the integration, recorded."""
    hour = RESULTS.setdefault(interval, Hour(interval))
    simulator = make_simulator(start=START, push_interval=1)
    frames = [simulator.next_frame() for _ in range(HOURS * 3600)]
    line = FrameLine(tmp_path / "ttyMETER")
    entry = meter_entry(line.port, options={CONF_UPDATE_INTERVAL: interval})
    entry.add_to_hass(hass)
    monkeypatch.setattr(coordinator_module, "SETUP_TIMEOUT", 0)
    if not await while_ticking(
        freezer, hass.config_entries.async_setup(entry.entry_id)
    ):
        raise RuntimeError("setup failed")
    await hass.async_block_till_done()
    coordinator: DlmsSmartMeterCoordinator = entry.runtime_data

    cpu, started = cpu_clock(), wall_clock()
    for frame in frames:
        await line.send(frame)
        await until_received(coordinator, line.sent)
        freezer.tick(SECOND)
        # Timers that came due run before the next frame arrives, as they
        # would in real time.
        await asyncio.sleep(0)
    freezer.tick(float(interval) + 1)  # the last window closes
    await asyncio.sleep(0)
    fed = wall_clock()
    # The recorder writes in its own thread and may lag behind.
    await while_ticking(freezer, async_wait_recording_done(hass), limit=900)
    hour.cpu = cpu_clock() - cpu
    hour.wall = wall_clock() - started
    hour.catching_up = wall_clock() - fed
    hour.frames = coordinator.counters.frames_ok

    registry = er.async_get(hass)
    names = {
        registry_entry.entity_id: registry_entry.unique_id.removeprefix(
            f"{coordinator.meter_id}_"
        )
        for registry_entry in er.async_entries_for_config_entry(
            registry, entry.entry_id
        )
    }
    instance = get_instance(hass)
    rows = await instance.async_add_executor_job(_rows, hass, set(names))
    hour.rows = {names[entity_id]: count for entity_id, count in rows.items()}
    hour.database_bytes = await instance.async_add_executor_job(_database_bytes, hass)
    if not await while_ticking(
        freezer, hass.config_entries.async_unload(entry.entry_id)
    ):
        raise RuntimeError("unload failed")
    line.close()
    print(
        f"interval {interval} s: {hour.frames:,} frames, {hour.total:,} state rows "
        f"in {hour.wall:.1f} s ({hour.catching_up:.1f} s of them after the last frame"
        f", while the recorder caught up)"
    )


def test_report() -> None:
    """Print rows per entity, per hour and per day, and the ratio of the runs."""
    if not RESULTS:
        return
    end = START + timedelta(hours=HOURS)
    span = f"{START:%H:%M}-{end:%H:%M} Vienna time ({HOURS} h of pushes)"
    print(f"\n=== Recorder: state rows for {span} ===")
    intervals = sorted(RESULTS)
    names = sorted({name for hour in RESULTS.values() for name in hour.rows})
    header = "".join(f"{f'interval {interval} s':>16}" for interval in intervals)
    print(f"{'entity':<24}{header}")
    for name in names:
        cells = "".join(
            f"{RESULTS[interval].rows.get(name, 0):>16,}" for interval in intervals
        )
        print(f"{name:<24}{cells}")
    print(
        f"{'all entities':<24}" + "".join(f"{RESULTS[i].total:>16,}" for i in intervals)
    )
    print(
        f"{'rows per day (x24/h)':<24}"
        + "".join(f"{RESULTS[i].per_day:>16,.0f}" for i in intervals)
    )
    print(
        f"{'database (KiB)':<24}"
        + "".join(f"{RESULTS[i].database_bytes / 1024:>16,.0f}" for i in intervals)
    )
    baseline = RESULTS.get(DEFAULT_UPDATE_INTERVAL)
    every_frame = RESULTS.get(0)
    if baseline and every_frame and baseline.total:
        print(
            f"interval 0 writes {every_frame.total / baseline.total:.1f}x the rows of "
            f"the default interval ({DEFAULT_UPDATE_INTERVAL} s)"
        )


def main() -> None:
    """Parse the options and run under the Home Assistant test harness."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=int, default=1)
    parser.add_argument("--start-hour", type=int, default=19, choices=range(24))
    options = parser.parse_args()
    settings = {
        "RECORDER_HOURS": str(options.hours),
        "RECORDER_START_HOUR": str(options.start_hour),
    }
    sys.exit(run(__file__, settings))


if __name__ == "__main__":
    main()
