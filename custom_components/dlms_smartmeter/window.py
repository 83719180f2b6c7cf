"""The publication window: readings collected between two publications.

Instantaneous values (power, voltage ...) are published as the mean over the
window, cumulative registers as the latest value. Nothing here imports Home
Assistant.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .dlms import Unit
from .dlms.guards import REGISTER_UNITS
from .dlms.obis import default_unit

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from .dlms import Reading


_UNITLESS: frozenset[Unit | None] = frozenset({None, Unit.NONE})


@dataclass(frozen=True, slots=True)
class MeterData:
    """What the entities show: one published window of readings."""

    values: Mapping[str, float]
    """OBIS code -> published value (mean for instantaneous values)."""
    meter_time: datetime | None


@dataclass(slots=True)
class PublishWindow:
    """Readings collected since the last publication."""

    latest: dict[str, float] = field(default_factory=dict)
    sums: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    counts: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    meter_time: datetime | None = None
    readings: int = 0

    def add(self, reading: Reading) -> None:
        """Take one accepted reading into the window."""
        for obis, meter_value in reading.values.items():
            if meter_value.unit is Unit.NONE and default_unit(obis) not in _UNITLESS:
                # Unit unknown (no scale stated for this meter): the entity of
                # this OBIS code would show the bare number in its unit.
                continue
            if meter_value.unit in REGISTER_UNITS:
                self.latest[obis] = meter_value.value
            else:
                self.sums[obis] += meter_value.value
                self.counts[obis] += 1
        self.meter_time = reading.meter_time
        self.readings += 1

    def to_data(self) -> MeterData:
        """What to publish for the readings of this window."""
        values: dict[str, float] = dict(self.latest)
        for obis, total in self.sums.items():
            mean = total / self.counts[obis]
            values[obis] = int(mean) if mean.is_integer() else round(mean, 3)
        return MeterData(values=values, meter_time=self.meter_time)
