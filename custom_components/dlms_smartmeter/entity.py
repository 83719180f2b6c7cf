"""Base entity: one device per meter, named after what the meter reports."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import DlmsSmartMeterCoordinator
from .dlms.identity import MeterIdentity, identity_of


def _meter_identity(coordinator: DlmsSmartMeterCoordinator) -> MeterIdentity:
    """Identity from the last reading, or from the meter ID alone.

    The manufacturer and the model follow from the system title alone, so the
    device is described correctly even before the first frame arrives.
    """
    if coordinator.last_reading is not None:
        return coordinator.last_reading.identity
    return identity_of(coordinator.meter_id)


class DlmsSmartMeterEntity(CoordinatorEntity[DlmsSmartMeterCoordinator]):
    """An entity of the meter's device."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: DlmsSmartMeterCoordinator, key: str) -> None:
        """Attach the entity to the meter's device."""
        super().__init__(coordinator)
        self._attr_unique_id = f"{coordinator.meter_id}_{key}"
        meter = _meter_identity(coordinator)
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, coordinator.meter_id)},
            manufacturer=meter.manufacturer,
            model=meter.model,
            serial_number=meter.serial_number,
            name=meter.name,
        )
