"""Quarter-hour sensors: last quarter's energy, running demand, the month's peak.

The values come from the coordinator's :class:`QuarterHourTracker`, which
follows the meter's clock. Each of these sensors keeps the tracker's state as
extra restore data, so a restart loses neither the monthly peak nor the
quarter in progress (when the meter's readings resume within a quarter-hour).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfEnergy, UnitOfPower
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.restore_state import RestoredExtraData, RestoreEntity

from .dlms.quarter_hour import QuarterHour, QuarterHourTracker, as_number
from .entity import DlmsSmartMeterEntity

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from fractions import Fraction

    from homeassistant.helpers.entity_platform import AddEntitiesCallback

    from .coordinator import DlmsSmartMeterConfigEntry, DlmsSmartMeterCoordinator

ATTR_QUARTER_START: Final = "quarter_start"


@dataclass(frozen=True, kw_only=True)
class QuarterHourSensorEntityDescription(SensorEntityDescription):
    """A quarter-hour sensor and how to read it from the tracker."""

    value_fn: Callable[[QuarterHourTracker], Fraction | None]
    quarter_fn: Callable[[QuarterHourTracker], QuarterHour | None] = lambda _: None
    """The quarter the value belongs to (its start is the ``last_reset``)."""


def _last_quarter(tracker: QuarterHourTracker) -> QuarterHour | None:
    return tracker.last_quarter


def _monthly_peak(tracker: QuarterHourTracker) -> QuarterHour | None:
    return tracker.monthly_peak


def _description(
    key: str,
    value: Callable[[QuarterHourTracker], Fraction | None],
    quarter: Callable[[QuarterHourTracker], QuarterHour | None] = lambda _: None,
    *,
    energy: bool = False,
) -> QuarterHourSensorEntityDescription:
    """Energy of a quarter (a total from the quarter's start) or a mean power."""
    return QuarterHourSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY if energy else SensorDeviceClass.POWER,
        state_class=SensorStateClass.TOTAL if energy else SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR
        if energy
        else UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=value,
        quarter_fn=quarter,
    )


def _last_energy(
    energy: Callable[[QuarterHour], Fraction | None],
) -> Callable[[QuarterHourTracker], Fraction | None]:
    def value(tracker: QuarterHourTracker) -> Fraction | None:
        quarter = tracker.last_quarter
        return None if quarter is None else energy(quarter)

    return value


def _peak_demand(tracker: QuarterHourTracker) -> Fraction | None:
    peak = tracker.monthly_peak
    return None if peak is None else peak.demand


QUARTER_HOUR_SENSORS: Final[tuple[QuarterHourSensorEntityDescription, ...]] = (
    _description(
        "last_quarter_hour_energy_import",
        _last_energy(lambda quarter: quarter.energy_import),
        _last_quarter,
        energy=True,
    ),
    _description(
        "last_quarter_hour_energy_export",
        _last_energy(lambda quarter: quarter.energy_export),
        _last_quarter,
        energy=True,
    ),
    _description("quarter_hour_demand", lambda tracker: tracker.demand),
    _description("quarter_hour_demand_forecast", lambda tracker: tracker.forecast),
    _description("monthly_peak_demand", _peak_demand, _monthly_peak),
)


@callback
def async_setup_quarter_hour_sensors(
    hass: HomeAssistant,
    entry: DlmsSmartMeterConfigEntry,
    async_add_entities: AddEntitiesCallback,
) -> None:
    """Add the quarter-hour sensors once the meter sends its time and +A register.

    Sensors already in the entity registry are added at once, so that they
    restore their state before the meter pushes again.
    """
    coordinator = entry.runtime_data
    keys = {
        f"{coordinator.meter_id}_{description.key}"
        for description in QUARTER_HOUR_SENSORS
    }
    registered = any(
        registry_entry.unique_id in keys
        for registry_entry in er.async_entries_for_config_entry(
            er.async_get(hass), entry.entry_id
        )
    )
    added = False

    @callback
    def _async_add_when_active() -> None:
        nonlocal added
        if added or not (registered or coordinator.quarter_hours.active):
            return
        added = True
        async_add_entities(
            QuarterHourSensor(coordinator, description)
            for description in QUARTER_HOUR_SENSORS
        )

    _async_add_when_active()
    entry.async_on_unload(coordinator.async_add_listener(_async_add_when_active))


class QuarterHourSensor(DlmsSmartMeterEntity, SensorEntity, RestoreEntity):
    """One quarter-hour value of the meter."""

    entity_description: QuarterHourSensorEntityDescription

    def __init__(
        self,
        coordinator: DlmsSmartMeterCoordinator,
        description: QuarterHourSensorEntityDescription,
    ) -> None:
        """Create the sensor for one description."""
        super().__init__(coordinator, description.key)
        self.entity_description = description

    async def async_added_to_hass(self) -> None:
        """Give the tracker the state saved before Home Assistant stopped."""
        await super().async_added_to_hass()
        saved = await self.async_get_last_extra_data()
        if saved is not None and self.coordinator.quarter_hours.restore(
            saved.as_dict()
        ):
            self.coordinator.async_update_listeners()

    @property
    def extra_restore_state_data(self) -> RestoredExtraData:
        """The tracker's state, saved with this sensor."""
        return RestoredExtraData(self.coordinator.quarter_hours.as_dict())

    @property
    def native_value(self) -> int | float | None:
        """The value, exact to the Wh or W, rounded to three decimals."""
        value = self.entity_description.value_fn(self.coordinator.quarter_hours)
        return None if value is None else as_number(value)

    @property
    def last_reset(self) -> datetime | None:
        """Start of the quarter an energy value belongs to."""
        if self.entity_description.state_class is not SensorStateClass.TOTAL:
            return None
        quarter = self.entity_description.quarter_fn(self.coordinator.quarter_hours)
        return None if quarter is None else quarter.start

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The peak's quarter (its start, in the meter's local time)."""
        if self.entity_description.state_class is SensorStateClass.TOTAL:
            return None
        quarter = self.entity_description.quarter_fn(self.coordinator.quarter_hours)
        if quarter is None:
            return None
        return {ATTR_QUARTER_START: quarter.start.isoformat()}
