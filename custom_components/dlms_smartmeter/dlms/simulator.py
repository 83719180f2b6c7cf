"""A simulated smart meter: plausible readings, pushed as encrypted frames.

:class:`MeterSimulator` models a household with a photovoltaic system: power
is drawn from the grid at night and in the evening and fed in around midday,
so both the import and the export registers move. Every call of
:meth:`MeterSimulator.next_frame` advances the meter clock by the push
interval, integrates the energy registers over it, increments the invocation
counter and returns the frame; :attr:`MeterSimulator.last_reading` is what
that frame carries.
What the meter sends (values, title prefix, link, clock style) comes from the
layout registry (:mod:`.layouts`); where the frames go is :mod:`.outputs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import math
import random
from typing import TYPE_CHECKING, Final

from . import obis
from .encoder import METER_ZONE, encode_reading, transmitted_time
from .framing import LinkLayer
from .layouts import Layout, scale, spec_of
from .reading import MeterValue, Reading, SecurityLevel, Unit
from .security import SC_AUTHENTICATED, SC_ENCRYPTED

if TYPE_CHECKING:
    from collections.abc import Iterator

DEMO_ENCRYPTION_KEY: Final = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
"""Key of the simulated meter when none is chosen (not any real meter's key)."""


_V: Final = (obis.VOLTAGE_L1, obis.VOLTAGE_L2, obis.VOLTAGE_L3)
_I: Final = (obis.CURRENT_L1, obis.CURRENT_L2, obis.CURRENT_L3)
_ANGLES: Final = (obis.ANGLE_U_I_L1, obis.ANGLE_U_I_L2, obis.ANGLE_U_I_L3)

_PV_PEAK_W: Final = 5200.0
_BASE_LOAD_W: Final = 180.0
_APPLIANCE_W: Final = 2000.0
_APPLIANCE_STARTS_PER_HOUR: Final = 1.5
_PHASE_SHARES: Final = (0.5, 0.3, 0.2)
_DAY_TARIFF_HOURS: Final = range(6, 22)


@dataclass(frozen=True, slots=True)
class _Instant:
    """Grid quantities at one moment (before rounding to what a meter sends)."""

    import_w: float
    export_w: float
    reactive_import_var: float
    reactive_export_var: float
    decivolts: tuple[int, int, int]
    centiamps: tuple[int, int, int]
    power_factor_milli: int
    angles: tuple[int, int, int]


class MeterSimulator:
    """A meter that pushes one encrypted frame per call of :meth:`next_frame`."""

    def __init__(  # noqa: PLR0913 - every property of a simulated meter is a keyword
        self,
        encryption_key: bytes | None = DEMO_ENCRYPTION_KEY,
        *,
        layout: Layout = Layout.WIENER_NETZE,
        authentication_key: bytes | None = None,
        system_title: bytes | None = None,
        serial_number: str | None = None,
        start: datetime | None = None,
        push_interval: int = 1,
        invocation_counter: int | None = None,
        seed: int = 0,
        link: LinkLayer = LinkLayer.AUTO,
        block_size: int | None = None,
        max_information: int | None = None,
    ) -> None:
        """Set up the meter.

        Args:
            encryption_key: The meter's 16-byte key; ``None`` sends plain
                (unciphered) data-notifications.
            layout: The payload layout, i.e. which meter to imitate (default:
                the Wiener Netze AM550).
            authentication_key: With it, frames are authenticated and
                encrypted (security control 0x30) instead of only encrypted.
            system_title: 8 bytes; default: the manufacturer id and model
                letters of the layout's meters plus random bytes
                (``ISKit`` + 3 bytes for the AM550).
            serial_number: Meter number for layouts that carry one; default:
                a random one in the style of the layout's meters.
            start: Meter time of the first frame (aware); default: now,
                whole seconds.
            push_interval: Seconds of meter time between two frames.
            invocation_counter: Counter of the first frame; default: random.
            seed: Seed of every random choice, for reproducible runs.
            link: Link layer; AUTO is the one the layout's meters use.
            block_size: Send general-block-transfer blocks of this size.
            max_information: HDLC/M-Bus segment size (see ``encode_reading``).

        """
        if push_interval < 1:
            raise ValueError("the push interval is at least one second")
        if layout is Layout.DSMR_TEXT and encryption_key is None:
            raise ValueError("DSMR telegrams are only sent encrypted")
        self.layout = layout
        self.encryption_key = encryption_key
        self.authentication_key = authentication_key
        self.push_interval = push_interval
        self.spec = spec_of(layout)
        self.link = self.spec.link if link is LinkLayer.AUTO else link
        self.block_size = block_size
        self.max_information = max_information
        self._random = random.Random(seed)  # noqa: S311 - simulated values, not keys
        prefix = self.spec.title_prefix
        self.system_title = system_title or prefix + self._random.randbytes(
            8 - len(prefix)
        )
        if len(self.system_title) != 8:
            raise ValueError("the system title has 8 bytes")
        self.serial_number = (
            serial_number if serial_number is not None else self._serial_number()
        )
        if start is not None and start.utcoffset() is None:
            raise ValueError("the start time must be timezone-aware")
        # Kept in UTC: arithmetic on zoned datetimes ignores DST changes.
        self._time = (start or datetime.now(UTC).replace(microsecond=0)).astimezone(UTC)
        self._counter = (
            invocation_counter
            if invocation_counter is not None
            else self._random.randint(100_000, 5_000_000)
        )
        # Energy registers in Wh/varh: (day tariff, night tariff) per quantity.
        self._energy = {
            quantity: [self._random.uniform(1e5, 4e6) * share for share in (0.7, 0.3)]
            for quantity in (1, 2, 3, 4)
        }
        self._energy[2] = [value / 4 for value in self._energy[2]]
        self._cloud = 1.0
        self._appliance_left = 0.0
        self._frames = 0
        self.last_reading: Reading | None = None
        """The reading of the last frame sent; ``None`` before the first."""

    @property
    def frames_sent(self) -> int:
        """How many pushes the meter has made (frames or bare readings)."""
        return self._frames

    @property
    def security(self) -> SecurityLevel:
        """What the frames' protection decodes as."""
        if self.encryption_key is None:
            return SecurityLevel.NONE
        if self.authentication_key is None:
            return SecurityLevel.ENCRYPTED
        return SecurityLevel.AUTHENTICATED

    def reading(self) -> Reading:
        """The reading of the last frame sent (raises before the first frame)."""
        if self.last_reading is None:
            raise RuntimeError("the simulated meter has not sent a frame yet")
        return self.last_reading

    def next_reading(self) -> Reading:
        """Advance the meter by one push and return what it sends (no frame)."""
        if self._frames:
            self._time += timedelta(seconds=self.push_interval)
            self._counter = (self._counter + 1) & 0xFFFFFFFF
        local = self._time.astimezone(METER_ZONE)
        instant = self._instant(local)
        if self._frames:
            self._integrate(instant, local)
        self._frames += 1
        encrypted = self.encryption_key is not None
        reading = Reading(
            system_title=self.system_title if encrypted else b"",
            invocation_counter=self._counter if encrypted else None,
            security=self.security,
            meter_time=transmitted_time(local, self.layout),
            values=self._values(instant),
            layout=str(self.layout),
            serial_number=self.serial_number,
        )
        self.last_reading = reading
        return reading

    def next_frame(self) -> bytes:
        """Advance the meter by one push and return the frame's wire bytes."""
        reading = self.next_reading()
        security_control = None
        if reading.security is SecurityLevel.ENCRYPTED:
            # KSM West Kaifa meters announce security suite 1.
            suite = 1 if self.layout is Layout.OBIS_TRIPLES else 0
            security_control = SC_ENCRYPTED | suite
        elif reading.security is SecurityLevel.AUTHENTICATED:
            security_control = SC_AUTHENTICATED
        return encode_reading(
            reading,
            encryption_key=self.encryption_key,
            authentication_key=self.authentication_key,
            security_control=security_control,
            link=self.link,
            block_size=self.block_size,
            max_information=self.max_information,
        )

    # --- the household ----------------------------------------------------------

    def _serial_number(self) -> str | None:
        digits = "".join(str(self._random.randint(0, 9)) for _ in range(13))
        return {
            Layout.WIENER_NETZE_IM350: f"SMS{digits}",
            Layout.P1_POSITIONAL: digits,
            Layout.OBIS_FLAT_TRIPLES: digits[:12],
            Layout.OBIS_TRIPLES: f"1KFM{digits[:10]}",
            Layout.SELF_DESCRIBING: digits[:8],
            Layout.BURGENLAND: digits[:8],
        }.get(self.layout)

    def _instant(self, moment: datetime) -> _Instant:
        hour = moment.hour + moment.minute / 60 + moment.second / 3600
        rand = self._random
        # Household: base load, breakfast, lunch and the evening peak, plus an
        # appliance (kettle, washing machine) that runs now and then.
        consumption = (
            _BASE_LOAD_W
            + 600 * math.exp(-(((hour - 7.5) / 0.8) ** 2))
            + 500 * math.exp(-(((hour - 12.5) / 0.7) ** 2))
            + 1400 * math.exp(-(((hour - 19.5) / 1.5) ** 2))
            + rand.gauss(0, 15)
        )
        if self._appliance_left <= 0 and rand.random() < (
            _APPLIANCE_STARTS_PER_HOUR * self.push_interval / 3600
        ):
            self._appliance_left = rand.uniform(60, 900)
        if self._appliance_left > 0:
            consumption += _APPLIANCE_W
            self._appliance_left -= self.push_interval
        consumption = max(consumption, 50.0)
        # Photovoltaics from 06:00 to 20:00, peaking at 13:00, with clouds.
        self._cloud = min(1.0, max(0.3, self._cloud + rand.gauss(0, 0.01)))
        daylight = math.sin(math.pi * (hour - 6) / 14) if 6 < hour < 20 else 0.0
        production = _PV_PEAK_W * daylight**2 * self._cloud
        net = consumption - production
        reactive = 0.3 * consumption - 0.1 * production
        apparent = math.hypot(net, reactive)
        power_factor = abs(net) / apparent if apparent else 1.0
        volts = tuple(
            230.0 + 3.0 * math.sin(2 * math.pi * hour / 24 + phase) + rand.gauss(0, 0.3)
            for phase in (0.0, 2.1, 4.2)
        )
        shares = _PHASE_SHARES if net >= 0 else (1 / 3, 1 / 3, 1 / 3)
        amps = tuple(
            abs(net) * share / (volt * max(power_factor, 0.1))
            for share, volt in zip(shares, volts, strict=True)
        )
        angle = round(math.degrees(math.atan2(reactive, net))) % 360
        return _Instant(
            import_w=max(net, 0.0),
            export_w=max(-net, 0.0),
            reactive_import_var=max(reactive, 0.0),
            reactive_export_var=max(-reactive, 0.0),
            decivolts=_triple(round(volt * 10) for volt in volts),
            centiamps=_triple(round(amp * 100) for amp in amps),
            power_factor_milli=round(power_factor * 1000),
            angles=(angle, angle, angle),
        )

    def _integrate(self, instant: _Instant, moment: datetime) -> None:
        hours = self.push_interval / 3600
        tariff = 0 if moment.hour in _DAY_TARIFF_HOURS else 1
        for quantity, power in (
            (1, instant.import_w),
            (2, instant.export_w),
            (3, instant.reactive_import_var),
            (4, instant.reactive_export_var),
        ):
            self._energy[quantity][tariff] += power * hours

    def _values(self, instant: _Instant) -> dict[str, MeterValue]:
        powers = {
            1: instant.import_w,
            2: instant.export_w,
            3: instant.reactive_import_var,
            4: instant.reactive_export_var,
        }
        known: dict[str, MeterValue] = {}
        for quantity in (1, 2, 3, 4):
            energy_unit = Unit.WATT_HOUR if quantity <= 2 else Unit.VAR_HOUR
            power_unit = Unit.WATT if quantity <= 2 else Unit.VAR
            day, night = (math.floor(value) for value in self._energy[quantity])
            known[f"1-0:{quantity}.8.0"] = MeterValue(day + night, energy_unit)
            known[f"1-0:{quantity}.8.1"] = MeterValue(day, energy_unit)
            known[f"1-0:{quantity}.8.2"] = MeterValue(night, energy_unit)
            known[f"1-0:{quantity}.7.0"] = MeterValue(
                round(powers[quantity]), power_unit
            )
        for code, decivolts, centiamps, angle in zip(
            _V, instant.decivolts, instant.centiamps, instant.angles, strict=True
        ):
            volts = (
                round(decivolts / 10) if self.spec.whole_volts else scale(decivolts, -1)
            )
            known[code] = MeterValue(volts, Unit.VOLT)
            known[_I[_V.index(code)]] = MeterValue(scale(centiamps, -2), Unit.AMPERE)
            known[_ANGLES[_V.index(code)]] = MeterValue(angle, Unit.DEGREE)
        known[obis.POWER_FACTOR] = MeterValue(
            scale(instant.power_factor_milli, -3), Unit.NONE
        )
        return {code: known[code] for code in self.spec.values}


def _triple(values: Iterator[int]) -> tuple[int, int, int]:
    first, second, third = values
    return first, second, third
