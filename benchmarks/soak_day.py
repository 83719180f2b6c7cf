"""A simulated day: 86,400 AM550 frames through the integration in Home Assistant.

Run from the repository root, inside the virtual environment::

    python benchmarks/soak_day.py              # the whole day (about 5 minutes)
    python benchmarks/soak_day.py --frames 20000

A simulated Wiener Netze AM550 pushes one frame per second of meter time
(a summer day from midnight) into a real pseudo-terminal; the integration,
set up by the Home Assistant test harness, reads it. Each frame is written as
soon as the previous one was read, and Home Assistant's clock (frozen, moved
by hand) advances one second per frame, so the update interval works as in
a real day. The event loop runs without asyncio's debug mode, as in
Home Assistant.

Runs, each with a fresh Home Assistant:

* baseline: the same frames, pty and loop, read by a reader that only
  counts bytes: the CPU time that is not the integration's;
* update interval 0 (every frame published) and the default (5 s): CPU
  time per frame (all threads), with the baseline subtracted;
* update interval 0 again with tracemalloc on (which slows everything
  down, hence a run of its own): the Python heap after every 10,000 frames
  and its growth per 10,000 frames (a least-squares slope from 20,000
  frames on, when caches are warm).

Each integration run checks that all frames are accounted for (decoded,
rejected, dropped) and that the final states equal the last frame
(registers) or the mean of the last window (power). No figure is asserted:
this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
import os
from pathlib import Path
import statistics
import sys
import tracemalloc
from typing import TYPE_CHECKING, Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest

from benchmarks.ha_harness import (
    SECOND,
    FrameLine,
    collected,
    cpu_clock,
    peak_rss,
    run,
    run_like_home_assistant,
    slope,
    until,
    until_received,
    wall_clock,
    while_ticking,
)
from custom_components.dlms_smartmeter import coordinator as coordinator_module
from custom_components.dlms_smartmeter.const import (
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
)
from custom_components.dlms_smartmeter.dlms import Reading, Unit
from tests.components.dlms_smartmeter.meter import make_simulator, meter_entry

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from freezegun.api import FrozenDateTimeFactory

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
    )

FRAMES: Final = int(os.environ.get("SOAK_FRAMES", "86400"))
CHECKPOINT: Final = 10_000
WARM: Final = 20_000
"""Frames after which caches are warm: the growth slope starts here."""
DAY_START: Final = datetime(2026, 6, 21, tzinfo=dt_util.get_time_zone("Europe/Vienna"))
FROZEN_START: Final = "2026-06-20 22:00:00"
"""Home Assistant's clock at the start: the day's midnight in Vienna, in UTC."""
POWER_IMPORT: Final = "1-0:1.7.0"
ENERGY_IMPORT: Final = "1-0:1.8.0"
REGISTER_UNITS: Final = {Unit.WATT_HOUR, Unit.VAR_HOUR}


@dataclass(frozen=True)
class Day:
    """The frames of the simulated day and what they carry."""

    frames: list[bytes]
    power: list[float]
    """Import power of each frame (for the mean of a window)."""
    last: Reading


@dataclass
class Result:
    """What one run measured."""

    label: str
    frames: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    heap: list[tuple[int, int]] = field(default_factory=list)
    """(frames so far, traced Python heap in bytes) at each checkpoint."""
    growth_sites: list[str] = field(default_factory=list)
    """Where the heap grew most between the warm point and the end."""
    peak_rss: int = 0
    publications: int = 0
    state_writes: int = 0
    checks: list[str] = field(default_factory=list)

    @property
    def cpu_per_frame(self) -> float:
        """Microseconds of CPU per frame."""
        return self.cpu / max(self.frames, 1) * 1e6

    @property
    def growth_per_checkpoint(self) -> float:
        """Heap growth (bytes) per 10,000 frames once warm."""
        points = [(float(x), float(y)) for x, y in self.heap if x >= WARM]
        return slope(points) * CHECKPOINT


RESULTS: dict[str, Result] = {}


@pytest.fixture(scope="module")
def day() -> Day:
    """86,400 frames (or ``SOAK_FRAMES``), built before anything is measured."""
    simulator = make_simulator(start=DAY_START, push_interval=1)
    frames: list[bytes] = []
    power: list[float] = []
    started = wall_clock()
    for _ in range(FRAMES):
        frames.append(simulator.next_frame())
        power.append(simulator.reading().values[POWER_IMPORT].value)
    print(
        f"\nBuilt {len(frames):,} frames ({sum(map(len, frames)) / 1e6:.1f} MB) in "
        f"{wall_clock() - started:.1f} s"
    )
    return Day(frames, power, simulator.reading())


@pytest.fixture(autouse=True)
async def production_loop() -> None:
    """The event loop and logging as Home Assistant runs them."""
    run_like_home_assistant()


async def _feed(
    line: FrameLine,
    day: Day,
    freezer: FrozenDateTimeFactory,
    result: Result,
    received: Callable[[int], Awaitable[None]],
    *,
    trace: bool,
) -> None:
    """Send frames 1 .. N-1, one second of Home Assistant time each."""
    if trace:
        tracemalloc.start()
    cpu, started = cpu_clock(), wall_clock()
    paused_cpu = paused_wall = 0.0
    snapshots: list[tracemalloc.Snapshot] = []
    for index in range(1, len(day.frames)):
        await line.send(day.frames[index])
        await received(line.sent)
        freezer.tick(SECOND)
        # Timers that came due run before the next frame arrives, as they
        # would in real time.
        await asyncio.sleep(0)
        if trace and (index + 1) % CHECKPOINT == 0:
            checkpoint_cpu, checkpoint_wall = cpu_clock(), wall_clock()
            collected()
            result.heap.append((index + 1, tracemalloc.get_traced_memory()[0]))
            if index + 1 in {WARM, len(day.frames) // CHECKPOINT * CHECKPOINT}:
                snapshots.append(tracemalloc.take_snapshot())
            # The collection is not the integration's work.
            paused_cpu += cpu_clock() - checkpoint_cpu
            paused_wall += wall_clock() - checkpoint_wall
    if len(snapshots) == 2:
        growth = snapshots[1].compare_to(snapshots[0], "lineno")
        result.growth_sites = [str(statistic) for statistic in growth[:5]]
    result.cpu = cpu_clock() - cpu - paused_cpu
    result.wall = wall_clock() - started - paused_wall
    result.frames = len(day.frames) - 1
    result.peak_rss = peak_rss()
    if trace:
        tracemalloc.stop()


@pytest.mark.freeze_time(FROZEN_START)
@pytest.mark.usefixtures("hass")  # the same event loop as the other runs
async def test_baseline(
    day: Day, freezer: FrozenDateTimeFactory, tmp_path: Path
) -> None:
    """The same frames, pty and loop, read by a reader that only counts bytes."""
    result = RESULTS.setdefault("baseline", Result("baseline: pty and loop only"))
    line = FrameLine(tmp_path / "ttyBASELINE")
    loop = asyncio.get_running_loop()
    fd = os.open(line.port, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    got = 0

    def _read() -> None:
        nonlocal got
        got += len(os.read(fd, 65536))

    loop.add_reader(fd, _read)

    async def received(total: int) -> None:
        await until(lambda: got, total)

    try:
        await line.send(day.frames[0])
        await received(line.sent)
        await _feed(line, day, freezer, result, received, trace=False)
    finally:
        loop.remove_reader(fd)
        os.close(fd)
        line.close()
    print(f"{result.label}: {result.frames + 1:,} frames in {result.wall:.1f} s")


@pytest.mark.parametrize(
    ("interval", "trace"),
    [
        pytest.param(0, False, id="interval-0"),
        pytest.param(DEFAULT_UPDATE_INTERVAL, False, id="interval-default"),
        pytest.param(0, True, id="interval-0-traced"),
    ],
)
@pytest.mark.freeze_time(FROZEN_START)
@pytest.mark.usefixtures("enable_custom_integrations")
async def test_day(
    *,
    hass: HomeAssistant,
    day: Day,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interval: int,
    trace: bool,
) -> None:
    """A day through the integration with this update interval."""
    label = f"interval {interval} s" + (", heap traced" if trace else "")
    result = RESULTS.setdefault(label, Result(label))
    line = FrameLine(tmp_path / "ttyMETER")
    entry = meter_entry(line.port, options={CONF_UPDATE_INTERVAL: interval})
    entry.add_to_hass(hass)
    # Opening the port drops what was sent before: the first frame comes
    # after setup, which need not wait for it.
    monkeypatch.setattr(coordinator_module, "SETUP_TIMEOUT", 0)
    if not await while_ticking(
        freezer, hass.config_entries.async_setup(entry.entry_id)
    ):
        raise RuntimeError("setup failed")
    await hass.async_block_till_done()
    coordinator: DlmsSmartMeterCoordinator = entry.runtime_data
    await line.send(day.frames[0])
    await until_received(coordinator, line.sent)
    await hass.async_block_till_done()

    ours = {
        registry_entry.entity_id
        for registry_entry in er.async_entries_for_config_entry(
            er.async_get(hass), entry.entry_id
        )
    }
    # Frames taken at the last two publications (the last window lies
    # between them); only two, so that the benchmark itself does not grow.
    windows = deque([coordinator.counters.frames_ok], maxlen=2)

    @callback
    def _published() -> None:
        if coordinator.last_update_success:
            windows.append(coordinator.counters.frames_ok)
            result.publications += 1

    @callback
    def _state_written(event: Event[Any]) -> None:
        if event.data["entity_id"] in ours:
            result.state_writes += 1

    unsubscribe = coordinator.async_add_listener(_published)
    stop_counting = hass.bus.async_listen(EVENT_STATE_CHANGED, _state_written)

    async def received(total: int) -> None:
        await until_received(coordinator, total)

    await _feed(line, day, freezer, result, received, trace=trace)
    # Let the last window close.
    freezer.tick(float(interval) + 1)
    await asyncio.sleep(0)
    await hass.async_block_till_done()
    stop_counting()
    unsubscribe()
    _check_accounting(result, coordinator, day, line)
    _check_final_states(result, hass, coordinator, day, windows)
    if not await while_ticking(
        freezer, hass.config_entries.async_unload(entry.entry_id)
    ):
        raise RuntimeError("unload failed")
    line.close()
    print(f"{result.label}: {result.frames + 1:,} frames in {result.wall:.1f} s")


def _check_accounting(
    result: Result, coordinator: DlmsSmartMeterCoordinator, day: Day, line: FrameLine
) -> None:
    stats = coordinator.decoder_stats
    counters = coordinator.counters
    sent = len(day.frames)
    dropped = (
        counters.replayed_frames
        + counters.dropped_decreasing_registers
        + counters.dropped_implausible_registers
        + counters.foreign_meter_frames
    )
    rejected = stats["frames"] - stats["readings"] + stats["checksum_errors"]
    all_accounted = (
        stats["bytes_received"] == line.sent
        and stats["frames"] == stats["readings"] == sent
        and counters.frames_ok == sent
        and rejected == dropped == 0
    )
    result.checks.append(
        f"{sent:,} frames sent ({line.sent:,} bytes); {stats['bytes_received']:,} "
        f"bytes read, {stats['readings']:,} decoded, {rejected} rejected, "
        f"{counters.frames_ok:,} taken, {dropped} dropped: "
        f"{'all accounted for' if all_accounted else 'FRAMES MISSING'}"
    )


def _check_final_states(
    result: Result,
    hass: HomeAssistant,
    coordinator: DlmsSmartMeterCoordinator,
    day: Day,
    windows: deque[int],
) -> None:
    data = coordinator.data
    if data is None:
        result.checks.append("final states: NOTHING PUBLISHED")
        return
    registers = {
        obis: value.value
        for obis, value in day.last.values.items()
        if value.unit in REGISTER_UNITS
    }
    registers_equal = all(
        data.values.get(obis) == value for obis, value in registers.items()
    )
    # The last publication covered the frames taken after the one before it.
    window = day.power[windows[-2] : windows[-1]] if len(windows) > 1 else []
    power_equal = bool(window) and (
        abs(data.values[POWER_IMPORT] - statistics.mean(window)) < 1e-3
    )
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{coordinator.meter_id}_energy_import"
    )
    energy = hass.states.get(entity_id or "")
    shown = float(energy.state) if energy is not None else float("nan")
    state_equal = abs(shown - registers[ENERGY_IMPORT] / 1000) < 5e-4
    ok = registers_equal and power_equal and state_equal
    result.checks.append(
        f"final states: registers = last frame, energy state {shown} kWh, power = "
        f"mean of the last {len(window)} frame(s): {'yes' if ok else 'NO'}"
    )


def test_report() -> None:
    """Print the figures of all runs, with the baseline subtracted."""
    baseline = RESULTS.get("baseline")
    base = baseline.cpu_per_frame if baseline is not None else 0.0
    print(f"\n=== A simulated day ({FRAMES:,} frames) through the integration ===")
    print(
        f"{'run':<30} {'wall s':>7} {'frames/s':>9} {'CPU µs/frame':>13} "
        f"{'minus baseline':>15} {'published':>10} {'state writes':>13}"
    )
    for result in RESULTS.values():
        if result.heap:
            continue  # slowed down by tracemalloc: its times mean nothing
        net = result.cpu_per_frame - base if result is not baseline else 0.0
        print(
            f"{result.label:<30} {result.wall:7.1f} {result.frames / result.wall:9.0f} "
            f"{result.cpu_per_frame:13.1f} {net:15.1f} {result.publications:>10,} "
            f"{result.state_writes:>13,}"
        )
    if baseline is not None:
        for result in RESULTS.values():
            if result is not baseline and not result.heap:
                share = result.cpu_per_frame / base
                busy = result.cpu_per_frame / 1e6 * 100  # one frame per second
                print(
                    f"{result.label}: {share:.1f}x the baseline's CPU per frame; "
                    f"{busy:.3f} % of one core at one frame per second"
                )
    for result in RESULTS.values():
        if not result.heap:
            continue
        print(f"\nPython heap (tracemalloc) after every {CHECKPOINT:,} frames, KiB:")
        print(" ".join(f"{heap / 1024:.0f}" for _, heap in result.heap))
        print(
            f"growth per {CHECKPOINT:,} frames from {WARM:,} on: "
            f"{result.growth_per_checkpoint / 1024:+.1f} KiB"
        )
        if result.growth_sites:
            print("largest changes from then to the end, by line:")
            for site in result.growth_sites:
                print(f"  {site}")
    print()
    for result in RESULTS.values():
        print(f"{result.label}: peak RSS so far {result.peak_rss / 2**20:.0f} MiB")
        for check in result.checks:
            print(f"{result.label}: {check}")


def main() -> None:
    """Parse the options and run the day under the Home Assistant test harness."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=86_400)
    options = parser.parse_args()
    sys.exit(run(__file__, {"SOAK_FRAMES": str(options.frames)}))


if __name__ == "__main__":
    main()
