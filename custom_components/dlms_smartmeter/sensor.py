"""Sensors of a smart meter: energy registers, power, and what else it sends.

Entities are created from what the meter actually delivers: the first
reading decides, values that appear later get their entities then, and
entities already in the registry are restored at startup (unavailable until
the meter pushes again).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfReactivePower,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from .entity import DlmsSmartMeterEntity
from .quarter_hour_sensor import async_setup_quarter_hour_sensors

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from homeassistant.helpers.entity_platform import AddEntitiesCallback
    from homeassistant.helpers.typing import StateType

    from .coordinator import (
        DlmsSmartMeterConfigEntry,
        DlmsSmartMeterCoordinator,
        MeterData,
    )

# Entities only read what the coordinator pushes.
PARALLEL_UPDATES = 0

# Home Assistant 2025.6 and later have a reactive energy device class; before
# that the sensors are class-less but keep their unit and long-term statistics.
REACTIVE_ENERGY_DEVICE_CLASS: Final[SensorDeviceClass | None] = getattr(
    SensorDeviceClass, "REACTIVE_ENERGY", None
)
UNIT_VAR_HOUR: Final = "varh"

OBIS_ENERGY_IMPORT: Final = "1-0:1.8.0"
OBIS_ENERGY_EXPORT: Final = "1-0:2.8.0"
OBIS_POWER_IMPORT: Final = "1-0:1.7.0"
OBIS_POWER_EXPORT: Final = "1-0:2.7.0"


@dataclass(frozen=True, kw_only=True)
class DlmsSensorEntityDescription(SensorEntityDescription):
    """A sensor, how to read its value and when the meter delivers it."""

    value_fn: Callable[[MeterData], StateType | datetime]
    exists_fn: Callable[[MeterData], bool]


def _value_of(obis: str) -> Callable[[MeterData], StateType]:
    return lambda data: data.values.get(obis)


def _has(obis: str) -> Callable[[MeterData], bool]:
    return lambda data: obis in data.values


def _energy(key: str, obis: str) -> DlmsSensorEntityDescription:
    """An active energy register, as the Energy dashboard takes it."""
    return DlmsSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=3,
        value_fn=_value_of(obis),
        exists_fn=_has(obis),
    )


def _reactive_energy(
    key: str, obis: str, *, enabled: bool = True
) -> DlmsSensorEntityDescription:
    """A reactive energy register."""
    return DlmsSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=REACTIVE_ENERGY_DEVICE_CLASS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UNIT_VAR_HOUR,
        suggested_display_precision=0,
        entity_registry_enabled_default=enabled,
        value_fn=_value_of(obis),
        exists_fn=_has(obis),
    )


def _reactive_energy_total(
    key: str, total: str, tariff_1: str, tariff_2: str
) -> DlmsSensorEntityDescription:
    """A reactive energy total: the total register, else a one-tariff meter's tariff 1.

    The AMIS meters send their reactive energy only as tariff-1 registers
    (3.8.1, 4.8.1); without a second tariff that register is the total.
    """

    def _code(data: MeterData) -> str | None:
        if total in data.values:
            return total
        if tariff_1 in data.values and tariff_2 not in data.values:
            return tariff_1
        return None

    def _value(data: MeterData) -> StateType:
        code = _code(data)
        return None if code is None else data.values[code]

    return replace(
        _reactive_energy(key, total),
        value_fn=_value,
        exists_fn=lambda data: _code(data) is not None,
    )


def _power(key: str, obis: str, *, enabled: bool = True) -> DlmsSensorEntityDescription:
    """Active power, published as the mean over the update interval."""
    return DlmsSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        entity_registry_enabled_default=enabled,
        value_fn=_value_of(obis),
        exists_fn=_has(obis),
    )


def _reactive_power(key: str, obis: str) -> DlmsSensorEntityDescription:
    """Reactive power (var is the one unit every supported release accepts)."""
    return DlmsSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.REACTIVE_POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
        suggested_display_precision=0,
        value_fn=_value_of(obis),
        exists_fn=_has(obis),
    )


def _noisy(
    key: str,
    obis: str,
    device_class: SensorDeviceClass,
    unit: str | None,
    precision: int,
) -> DlmsSensorEntityDescription:
    """Per-phase and quality values: every frame differs, so off by default."""
    return DlmsSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=device_class,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=unit,
        suggested_display_precision=precision,
        entity_registry_enabled_default=False,
        value_fn=_value_of(obis),
        exists_fn=_has(obis),
    )


def _net_power(data: MeterData) -> float | None:
    imported = data.values.get(OBIS_POWER_IMPORT)
    exported = data.values.get(OBIS_POWER_EXPORT)
    if imported is None or exported is None:
        return None
    net = imported - exported
    return int(net) if float(net).is_integer() else round(net, 3)


def _meter_time(data: MeterData) -> datetime | None:
    meter_time = data.meter_time
    if meter_time is None:
        return None
    if meter_time.tzinfo is None:
        # The meter did not say its UTC offset: it keeps local time.
        return meter_time.replace(tzinfo=dt_util.get_default_time_zone())
    return meter_time


SENSORS: Final[tuple[DlmsSensorEntityDescription, ...]] = (
    # What the Energy dashboard takes: grid consumption and return to grid.
    _energy("energy_import", OBIS_ENERGY_IMPORT),
    _energy("energy_export", OBIS_ENERGY_EXPORT),
    _reactive_energy_total(
        "reactive_energy_import", "1-0:3.8.0", "1-0:3.8.1", "1-0:3.8.2"
    ),
    _reactive_energy_total(
        "reactive_energy_export", "1-0:4.8.0", "1-0:4.8.1", "1-0:4.8.2"
    ),
    _power("power_import", OBIS_POWER_IMPORT),
    _power("power_export", OBIS_POWER_EXPORT),
    _reactive_power("reactive_power_import", "1-0:3.7.0"),
    _reactive_power("reactive_power_export", "1-0:4.7.0"),
    DlmsSensorEntityDescription(
        key="net_power",
        translation_key="net_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=_net_power,
        exists_fn=lambda data: (
            OBIS_POWER_IMPORT in data.values and OBIS_POWER_EXPORT in data.values
        ),
    ),
    DlmsSensorEntityDescription(
        # AMIS "Inkassozählwerk": signed, so it may go down.
        key="collection_register",
        translation_key="collection_register",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_value_of("1-0:1.128.0"),
        exists_fn=_has("1-0:1.128.0"),
    ),
    DlmsSensorEntityDescription(
        key="meter_time",
        translation_key="meter_time",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_meter_time,
        exists_fn=lambda data: data.meter_time is not None,
    ),
    # Tariff registers (two-rate meters).
    _energy("energy_import_tariff_1", "1-0:1.8.1"),
    _energy("energy_import_tariff_2", "1-0:1.8.2"),
    _energy("energy_export_tariff_1", "1-0:2.8.1"),
    _energy("energy_export_tariff_2", "1-0:2.8.2"),
    _reactive_energy("reactive_energy_import_tariff_1", "1-0:3.8.1", enabled=False),
    _reactive_energy("reactive_energy_import_tariff_2", "1-0:3.8.2", enabled=False),
    _reactive_energy("reactive_energy_export_tariff_1", "1-0:4.8.1", enabled=False),
    _reactive_energy("reactive_energy_export_tariff_2", "1-0:4.8.2", enabled=False),
    # Per-phase and quality values.
    _power("power_import_l1", "1-0:21.7.0", enabled=False),
    _power("power_import_l2", "1-0:41.7.0", enabled=False),
    _power("power_import_l3", "1-0:61.7.0", enabled=False),
    _power("power_export_l1", "1-0:22.7.0", enabled=False),
    _power("power_export_l2", "1-0:42.7.0", enabled=False),
    _power("power_export_l3", "1-0:62.7.0", enabled=False),
    _noisy(
        "voltage_l1",
        "1-0:32.7.0",
        SensorDeviceClass.VOLTAGE,
        UnitOfElectricPotential.VOLT,
        1,
    ),
    _noisy(
        "voltage_l2",
        "1-0:52.7.0",
        SensorDeviceClass.VOLTAGE,
        UnitOfElectricPotential.VOLT,
        1,
    ),
    _noisy(
        "voltage_l3",
        "1-0:72.7.0",
        SensorDeviceClass.VOLTAGE,
        UnitOfElectricPotential.VOLT,
        1,
    ),
    _noisy(
        "current_l1",
        "1-0:31.7.0",
        SensorDeviceClass.CURRENT,
        UnitOfElectricCurrent.AMPERE,
        2,
    ),
    _noisy(
        "current_l2",
        "1-0:51.7.0",
        SensorDeviceClass.CURRENT,
        UnitOfElectricCurrent.AMPERE,
        2,
    ),
    _noisy(
        "current_l3",
        "1-0:71.7.0",
        SensorDeviceClass.CURRENT,
        UnitOfElectricCurrent.AMPERE,
        2,
    ),
    _noisy("power_factor", "1-0:13.7.0", SensorDeviceClass.POWER_FACTOR, None, 3),
    _noisy(
        "frequency", "1-0:14.7.0", SensorDeviceClass.FREQUENCY, UnitOfFrequency.HERTZ, 2
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: DlmsSmartMeterConfigEntry,
    async_add_entities: AddEntitiesCallback,
) -> None:
    """Create the sensors the meter delivers, now and whenever new ones appear."""
    coordinator = entry.runtime_data
    prefix = f"{coordinator.meter_id}_"
    registered = {
        registry_entry.unique_id.removeprefix(prefix)
        for registry_entry in er.async_entries_for_config_entry(
            er.async_get(hass), entry.entry_id
        )
    }
    added: set[str] = set()

    @callback
    def _async_add_new_sensors() -> None:
        data = coordinator.data
        new = [
            description
            for description in SENSORS
            if description.key not in added
            and (
                description.key in registered
                or (data is not None and description.exists_fn(data))
            )
        ]
        if new:
            added.update(description.key for description in new)
            async_add_entities(
                DlmsSmartMeterSensor(coordinator, description) for description in new
            )

    async_add_entities([LinkQualitySensor(coordinator)])
    _async_add_new_sensors()
    entry.async_on_unload(coordinator.async_add_listener(_async_add_new_sensors))
    async_setup_quarter_hour_sensors(hass, entry, async_add_entities)


class DlmsSmartMeterSensor(DlmsSmartMeterEntity, SensorEntity):
    """One value of the meter."""

    entity_description: DlmsSensorEntityDescription

    def __init__(
        self,
        coordinator: DlmsSmartMeterCoordinator,
        description: DlmsSensorEntityDescription,
    ) -> None:
        """Create the sensor for one description."""
        super().__init__(coordinator, description.key)
        self.entity_description = description

    @property
    def available(self) -> bool:
        """Unavailable when the meter is silent or stopped sending this value."""
        data = self.coordinator.data
        return (
            super().available
            and data is not None
            and self.entity_description.exists_fn(data)
        )

    @property
    def native_value(self) -> StateType | datetime:
        """The published value."""
        data = self.coordinator.data
        if data is None:
            return None
        return self.entity_description.value_fn(data)


LINK_QUALITY = SensorEntityDescription(
    key="link_quality",
    translation_key="link_quality",
    entity_category=EntityCategory.DIAGNOSTIC,
    state_class=SensorStateClass.MEASUREMENT,
    native_unit_of_measurement=PERCENTAGE,
    suggested_display_precision=0,
)


class LinkQualitySensor(DlmsSmartMeterEntity, SensorEntity):
    """Share of valid frames over the last minutes (unknown while none arrive).

    Stays available while the meter is silent or garbled: that is when a user
    looks at it, turning the read head into place.
    """

    entity_description = LINK_QUALITY

    def __init__(self, coordinator: DlmsSmartMeterCoordinator) -> None:
        """Create the sensor of the meter's link."""
        super().__init__(coordinator, LINK_QUALITY.key)

    async def async_added_to_hass(self) -> None:
        """Follow the link's health as well as the published readings."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.coordinator.advisor.async_add_listener(self.async_write_ha_state)
        )

    @property
    def available(self) -> bool:
        """Always: the value says how well frames arrive."""
        return True

    @property
    def native_value(self) -> int | None:
        """Percentage of valid frames in the window."""
        return self.coordinator.health.valid_share
