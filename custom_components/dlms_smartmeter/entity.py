"""Base entity: one device per meter, named after what the meter reports."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import DlmsSmartMeterCoordinator
from .dlms import Reading, SecurityLevel


def _meter_description(coordinator: DlmsSmartMeterCoordinator) -> Reading:
    """The last reading, or a reading without values built from the meter ID.

    The manufacturer and the model follow from the system title alone, so the
    device is described correctly even before the first frame arrives.
    """
    if coordinator.last_reading is not None:
        return coordinator.last_reading
    return Reading(
        system_title=bytes.fromhex(coordinator.meter_id),
        invocation_counter=None,
        security=SecurityLevel.NONE,
        meter_time=None,
        values={},
        layout="",
    )


class DlmsSmartMeterEntity(CoordinatorEntity[DlmsSmartMeterCoordinator]):
    """An entity of the meter's device."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: DlmsSmartMeterCoordinator, key: str) -> None:
        """Attach the entity to the meter's device."""
        super().__init__(coordinator)
        self._attr_unique_id = f"{coordinator.meter_id}_{key}"
        meter = _meter_description(coordinator)
        manufacturer = meter.manufacturer_name
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, coordinator.meter_id)},
            manufacturer=manufacturer,
            model=meter.model,
            serial_number=meter.serial_number,
            name=" ".join(part for part in (manufacturer, meter.model) if part)
            or "Smart meter",
        )
