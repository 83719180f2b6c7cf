"""Scaling conventions for registers that travel without a scaler and unit.

The rule: a register gets its scaler and unit from the frame itself (a
scaler-unit structure, an OBIS-tagged register with a unit) or from a
convention that a public document or source states for that manufacturer
and list; every convention below names its source. A register whose
quantity no convention of its list covers is reported as a bare number
without a unit (so no entity is made for it) and logged once as
"unit unknown": a guessed unit would put a wrong value into statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
import logging
from typing import Final

from .. import obis
from ..reading import Unit

_LOGGER = logging.getLogger(__name__)


class Quantity(StrEnum):
    """What a register measures, as far as scaling is concerned."""

    ENERGY = "energy"
    QUADRANT_ENERGY = "quadrant_energy"
    """Reactive energy per quadrant (C = 5 to 8)."""
    POWER = "power"
    CURRENT = "current"
    VOLTAGE = "voltage"
    POWER_FACTOR = "power_factor"
    FREQUENCY = "frequency"
    ANGLE = "angle"


_ENERGY_REGISTER: Final = 8  # value group D
_U_I_ANGLE: Final = 81  # value group C
_NEUTRAL_CURRENT: Final = 91  # value group C
_QUADRANTS: Final = frozenset({5, 6, 7, 8})
_INSTANTANEOUS: Final = {
    1: Quantity.POWER,
    2: Quantity.POWER,
    3: Quantity.POWER,
    4: Quantity.POWER,
    9: Quantity.POWER,
    10: Quantity.POWER,
    11: Quantity.CURRENT,
    12: Quantity.VOLTAGE,
    13: Quantity.POWER_FACTOR,
    14: Quantity.FREQUENCY,
}


def quantity_of(code: str) -> Quantity | None:
    """The quantity of an electricity register, ``None`` for anything else."""
    try:
        a, _b, c, d, _e, _f = obis.parse_obis(code)
    except ValueError:
        return None
    if a != 1 or obis.default_unit(code) is None:
        return None
    if d == _ENERGY_REGISTER:
        quadrant = (c - 1) % 20 + 1 in _QUADRANTS
        return Quantity.QUADRANT_ENERGY if quadrant else Quantity.ENERGY
    if c == _U_I_ANGLE:
        return Quantity.ANGLE
    if c == _NEUTRAL_CURRENT:
        return Quantity.CURRENT
    return _INSTANTANEOUS.get((c - 1) % 20 + 1)


@dataclass(frozen=True, slots=True)
class Convention:
    """Scalers of one manufacturer's list, by quantity, and who states them."""

    name: str
    source: str
    scalers: dict[Quantity, int]
    default: int | None = None
    """Scaler of quantities not listed; ``None``: they have no known scale."""
    _logged: set[str] = field(default_factory=set, compare=False, repr=False)

    def scaling(self, code: str) -> tuple[int, Unit]:
        """Scaler and unit of register ``code`` sent without a scaler."""
        unit = obis.default_unit(code)
        quantity = quantity_of(code)
        scaler = self.scalers.get(quantity, self.default) if quantity else None
        if unit is None or scaler is None:
            if unit not in {None, Unit.NONE} and code not in self._logged:
                self._logged.add(code)
                _LOGGER.info(
                    "unit unknown: %s of a %s list comes without a scaler and no "
                    "source states one; it is reported as a bare number",
                    code,
                    self.name,
                )
            return 0, Unit.NONE
        return scaler, unit


OBIS_UNITS: Final = Convention(
    "OBIS-tagged",
    "Austrian Kaifa and Sagemcom pushes (KSM West, Netz NÖ): registers sent "
    "without a scaler are whole units of their OBIS code",
    {},
    default=0,
)
UNKNOWN: Final = Convention(
    "unknown",
    "no source: a list this package cannot attribute to a maker",
    {},
)
LG_E450: Final = Convention(
    "Landis+Gyr E450",
    "currents 10^-2 A: the Netz Burgenland push, where that scaling makes the "
    "currents match the powers; scs/smartmeter-datacollector tests/test_lge450.py "
    "(9 -> 0.09 A, 236 V); power factor 10^-3: its smartmeter/lge450.py register "
    "table (1.0.13.7.0.255, 0.001)",
    {Quantity.CURRENT: -2, Quantity.POWER_FACTOR: -3},
    default=0,
)
LG_E570: Final = Convention(
    "Landis+Gyr E570",
    "scs/smartmeter-datacollector tests/test_lge570.py (load test: 400/200/601 A at "
    "258874 W, so whole amperes; 229 V); power factor 10^-3 from its register "
    "table; no table covers its quadrant energies, so they have no unit",
    {
        Quantity.ENERGY: 0,
        Quantity.POWER: 0,
        Quantity.VOLTAGE: 0,
        Quantity.CURRENT: 0,
        Quantity.POWER_FACTOR: -3,
    },
)
LG_E360: Final = Convention(
    "Landis+Gyr E360",
    "scs/smartmeter-datacollector tests/test_lge360.py (2357 -> 235.7 V, "
    "6 -> 0.06 A, energies and powers unscaled)",
    {
        Quantity.ENERGY: 0,
        Quantity.POWER: 0,
        Quantity.VOLTAGE: -1,
        Quantity.CURRENT: -2,
    },
)
ISKRAEMECO_AM550: Final = Convention(
    "Iskraemeco AM550",
    "scs/smartmeter-datacollector smartmeter/iskraam550.py register table (W, var, "
    "Wh, varh unscaled, power factor 0.001); 10^-1 V and 10^-2 A as the only "
    "readings that fit a 230 V grid and the pushed power (tests/data/international.md)",
    {
        Quantity.ENERGY: 0,
        Quantity.QUADRANT_ENERGY: 0,
        Quantity.POWER: 0,
        Quantity.VOLTAGE: -1,
        Quantity.CURRENT: -2,
        Quantity.POWER_FACTOR: -3,
    },
)
KAIFA_KFM001: Final = Convention(
    "Kaifa KFM_001",
    "toreamun/amshan han/kaifa.py (currents 10^-3 A, voltages 10^-1 V, W, var, "
    "Wh, varh) and turbokongen/hass-AMS tests (10494991 -> 10494.991 kWh)",
    {
        Quantity.ENERGY: 0,
        Quantity.POWER: 0,
        Quantity.VOLTAGE: -1,
        Quantity.CURRENT: -3,
    },
)
KAMSTRUP_NVE: Final = Convention(
    "Kamstrup HAN (NVE)",
    "toreamun/amshan han/kamstrup.py (currents 10^-2 A, energies 10^1 Wh, whole "
    "volts and watts) and turbokongen/hass-AMS tests/test_parser_kamstrup.py "
    "(15523251 -> 155232.51 kWh)",
    {
        Quantity.ENERGY: 1,
        Quantity.POWER: 0,
        Quantity.VOLTAGE: 0,
        Quantity.CURRENT: -2,
    },
)
KAMSTRUP_NVE_CT: Final = Convention(
    "Kamstrup HAN (NVE, CT meter type 685x)",
    "toreamun/amshan han/kamstrup.py: CT meters of type 685x count 10^-3 A",
    {**KAMSTRUP_NVE.scalers, Quantity.CURRENT: -3},
)
KAMSTRUP_DK: Final = Convention(
    "Kamstrup Omnipower (Danish list)",
    "no document found: the phase powers add up to the total in whole watts, and "
    "U x I x PF matches each phase power only with 10^-2 A and 10^-2 PF "
    "(esphome-libs/dlms_parser hdlc_kamstrup_omnipower.h; "
    "tests/data/international.md); "
    "the energy scale is stated nowhere, so energies have no unit",
    {
        Quantity.POWER: 0,
        Quantity.VOLTAGE: 0,
        Quantity.CURRENT: -2,
        Quantity.POWER_FACTOR: -2,
    },
)
