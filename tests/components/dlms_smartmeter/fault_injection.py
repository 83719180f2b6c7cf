"""Tools of the fault-injection tests: resource counters, exact writes, collectors.

The reliability tests watch what a long-running integration could leak
(asyncio tasks, file descriptors, Python memory), write bytes to a pty
exactly as planned (a pty master accepts only so much at a time), and record
every publication of the coordinator.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import gc
import os
from pathlib import Path
import re
import tracemalloc
from typing import TYPE_CHECKING, Any, Final

from homeassistant.data_entry_flow import section
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import flush_store

from custom_components.dlms_smartmeter.const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from homeassistant.core import HomeAssistant

    from custom_components.dlms_smartmeter.coordinator import (
        DlmsSmartMeterCoordinator,
        MeterData,
    )

    from .meter import PtyMeter

POWER_IMPORT: Final = "1-0:1.7.0"
ENERGY_IMPORT: Final = "1-0:1.8.0"

# Where a link-layer scanner could see the start of a frame: an HDLC flag
# followed by a format byte, or an M-Bus long-frame header.
FRAME_START: Final = re.compile(rb"\x7e[\xa0-\xaf]|\x68(.)\1\x68", re.DOTALL)


def has_frame_start(data: bytes, offset: int = 0) -> bool:
    """Whether ``data`` holds a possible frame start at or after ``offset``."""
    return FRAME_START.search(data, offset) is not None


def entity_id_of(hass: HomeAssistant, meter_id: str, key: str) -> str:
    """The entity ID of one sensor of one meter, looked up by its unique ID."""
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{meter_id}_{key}"
    )
    assert entity_id is not None, f"no {key} sensor of {meter_id}"
    return entity_id


def state_of(hass: HomeAssistant, entity_id: str) -> str:
    """The current state of an entity (which must exist)."""
    state = hass.states.get(entity_id)
    assert state is not None, f"{entity_id} does not exist"
    return state.state


def open_file_descriptors() -> int:
    """How many file descriptors this process has open."""
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


# Log records are kept by pytest's capture handlers for the report; what
# they hold is not memory of the code under test. Neither is what the test
# loop's debug mode records for every callback it schedules (the source
# traceback and repr of each handle): a cancelled timer keeps them until its
# time would have come, which for the long stale timeouts of the replug
# tests is after the measurement.
_NOT_UNDER_TEST: Final = (
    tracemalloc.Filter(inclusive=False, filename_pattern="*/logging/*"),
    tracemalloc.Filter(inclusive=False, filename_pattern="*/_pytest/*"),
    tracemalloc.Filter(inclusive=False, filename_pattern=tracemalloc.__file__),
    tracemalloc.Filter(inclusive=False, filename_pattern="*/traceback.py"),
    tracemalloc.Filter(inclusive=False, filename_pattern="*/reprlib.py"),
)


def heap_snapshot() -> tracemalloc.Snapshot:
    """Live Python allocations after a full garbage collection, without logging."""
    gc.collect()
    return tracemalloc.take_snapshot().filter_traces(_NOT_UNDER_TEST)


def heap_in_use(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes in the snapshot's live allocations."""
    return sum(statistic.size for statistic in snapshot.statistics("filename"))


async def flush_registries(hass: HomeAssistant) -> None:
    """Write the registries' pending changes now, not at some later time.

    The harness keeps written files in memory; a delayed first write inside
    a measurement would look like growth.
    """
    for registry in (er.async_get(hass), dr.async_get(hass)):
        await flush_store(registry._store)


@dataclass(frozen=True, slots=True)
class Resources:
    """What a leak would make grow."""

    tasks: int
    file_descriptors: int

    @classmethod
    def now(cls) -> Resources:
        """Count the running tasks and the open file descriptors."""
        return cls(len(asyncio.all_tasks()), open_file_descriptors())

    def within(self, limit: Resources) -> bool:
        """Whether no count exceeds the one in ``limit``."""
        return (
            self.tasks <= limit.tasks
            and self.file_descriptors <= limit.file_descriptors
        )


async def settled_resources(baseline: Resources, seconds: float = 60.0) -> Resources:
    """Resources once short-lived tasks ended: at most ``baseline``, or the last count.

    Home Assistant starts short tasks of its own (state writes, executor
    jobs); they end within a few loop iterations. A leak never goes away.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        current = Resources.now()
        if current.within(baseline) or loop.time() > deadline:
            return current
        await asyncio.sleep(0.01)


async def write_exactly(meter: PtyMeter, data: bytes) -> None:
    """Write every byte to the pty master, waiting while the reader catches up.

    ``PtyMeter.write`` drops what does not fit, as a meter does; planned
    streams must arrive whole.
    """
    fd = meter.master_fd
    assert fd is not None, "the meter is unplugged"
    view = memoryview(data)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60.0
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            written = 0
        view = view[written:]
        if view:
            if loop.time() > deadline:
                raise AssertionError("the reader stopped taking bytes")
            await asyncio.sleep(0.001)


async def wait_for_bytes(
    coordinator: DlmsSmartMeterCoordinator, total: int, seconds: float = 60.0
) -> None:
    """Wait until the coordinator's decoder has received ``total`` bytes.

    ``seconds`` only turns a hang into a failure, however loaded the machine.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while coordinator.decoder_stats["bytes_received"] < total:
        if loop.time() > deadline:
            received = coordinator.decoder_stats["bytes_received"]
            raise AssertionError(f"received {received} of {total} bytes")
        await asyncio.sleep(0.001)


class Publications:
    """Every ``MeterData`` the coordinator publishes, in order."""

    def __init__(self, coordinator: DlmsSmartMeterCoordinator) -> None:
        """Start recording (stopped by ``unsubscribe``)."""
        self._coordinator = coordinator
        self.published: list[MeterData] = []
        self._last: MeterData | None = coordinator.data
        self.unsubscribe: Callable[[], None] = coordinator.async_add_listener(
            self._on_update
        )

    def _on_update(self) -> None:
        data = self._coordinator.data
        # Listeners are also told about availability changes: only new data
        # is a publication.
        if data is not None and data is not self._last:
            self.published.append(data)
        self._last = data


def form_input(form: Mapping[str, Any], **values: Any) -> dict[str, Any]:
    """What a user submits in a flow's form: ``values``, sections left collapsed.

    Fields with defaults are filled in by the form's schema; built from the
    schema, the input keeps working when fields are added to the form.
    """
    user_input = dict(values)
    for key, validator in form["data_schema"].schema.items():
        if str(key) not in user_input and isinstance(validator, section):
            user_input[str(key)] = {}
    return user_input
