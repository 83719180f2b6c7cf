"""Finding line settings without the flow: choices, candidates, bursts, search."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

import pytest

from custom_components.dlms_smartmeter import connection, line_search
from custom_components.dlms_smartmeter.const import (
    AUTO_CANDIDATES,
    CONF_AUTHENTICATION_KEY,
    INTERFACE_AUTO,
    INTERFACE_BURGENLAND,
    INTERFACE_CUSTOM,
    INTERFACE_DENMARK_KAMSTRUP,
    INTERFACE_KAERNTEN_WELS,
    INTERFACE_NETZ_NOE,
    INTERFACE_NORWAY_AIDON_KAIFA,
    INTERFACE_NORWAY_KAMSTRUP,
    INTERFACE_STEIERMARK_E450,
    INTERFACE_STEIERMARK_T210,
    INTERFACE_SWITZERLAND_AM550,
    INTERFACE_SWITZERLAND_LG_E360,
    INTERFACE_SWITZERLAND_LG_MBUS,
    INTERFACE_TINETZ_SALZBURG_VORARLBERG,
    INTERFACE_WIENER_NETZE,
    INTERFACES,
    interface_found,
)
from custom_components.dlms_smartmeter.dlms import Layout, SecurityLevel
from custom_components.dlms_smartmeter.flow_fields import MeterInput

from .meter import FAST_CANDIDATES, METER_ID, TEST_KEY, PtyMeter

PLAIN = SecurityLevel.NONE
ENCRYPTED = SecurityLevel.ENCRYPTED
AUTHENTICATED = SecurityLevel.AUTHENTICATED

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant

    from .rfc2217 import Rfc2217Meter


@pytest.mark.parametrize(
    ("line", "layout", "security", "interface"),
    [
        ((9600, "N"), Layout.WIENER_NETZE_IM350, ENCRYPTED, INTERFACE_WIENER_NETZE),
        ((9600, "N"), Layout.BURGENLAND, AUTHENTICATED, INTERFACE_BURGENLAND),
        (
            (2400, "E"),
            Layout.OBIS_TRIPLES,
            ENCRYPTED,
            INTERFACE_TINETZ_SALZBURG_VORARLBERG,
        ),
        ((2400, "E"), Layout.OBIS_FLAT_TRIPLES, ENCRYPTED, INTERFACE_NETZ_NOE),
        ((2400, "E"), Layout.SELF_DESCRIBING, AUTHENTICATED, INTERFACE_STEIERMARK_E450),
        # An authenticated payload of the other kind: the tag decides.
        ((2400, "E"), Layout.WIENER_NETZE, AUTHENTICATED, INTERFACE_STEIERMARK_E450),
        ((115200, "N"), Layout.DSMR_TEXT, AUTHENTICATED, INTERFACE_STEIERMARK_T210),
        ((115200, "N"), Layout.P1_POSITIONAL, ENCRYPTED, INTERFACE_KAERNTEN_WELS),
        # A foreign choice only for its own layouts.
        ((2400, "N"), Layout.OBIS_FLAT_TRIPLES, ENCRYPTED, INTERFACE_CUSTOM),
        # Beyond Austria: pushes without encryption tell the countries apart.
        ((2400, "E"), Layout.OBIS_TRIPLES, PLAIN, INTERFACE_NORWAY_AIDON_KAIFA),
        ((2400, "E"), Layout.KAIFA_NVE, PLAIN, INTERFACE_NORWAY_AIDON_KAIFA),
        ((2400, "N"), Layout.OBIS_PAIRS, PLAIN, INTERFACE_NORWAY_KAMSTRUP),
        ((2400, "N"), Layout.OBIS_PAIRS, AUTHENTICATED, INTERFACE_DENMARK_KAMSTRUP),
        ((2400, "E"), Layout.SELF_DESCRIBING, PLAIN, INTERFACE_SWITZERLAND_LG_MBUS),
        ((9600, "N"), Layout.SELF_DESCRIBING, PLAIN, INTERFACE_SWITZERLAND_LG_E360),
        ((115200, "N"), Layout.SELF_DESCRIBING, PLAIN, INTERFACE_SWITZERLAND_AM550),
    ],
)
def test_found_settings_pick_the_choice(
    line: tuple[int, str], layout: Layout, security: SecurityLevel, interface: str
) -> None:
    """Line settings, then payload layout, encryption and authentication pick."""
    found = interface_found(
        *line,
        layout=layout,
        encrypted=security is not SecurityLevel.NONE,
        authenticated=security is SecurityLevel.AUTHENTICATED,
    )
    assert found == interface


def test_every_choice_is_a_candidate() -> None:
    """The search tries the line settings of every named choice."""
    candidates = {(c.baudrate, c.parity) for c in AUTO_CANDIDATES}
    assert {(i.baudrate, i.parity) for i in INTERFACES.values()} <= candidates
    # The longest wait comes last: a silent line skips to it.
    waits = [c.listen_time or 0.0 for c in AUTO_CANDIDATES]
    assert waits == sorted(waits)


async def test_probe_leaves_noise_after_one_whole_burst(meter: PtyMeter) -> None:
    """Bytes heard from their start that hold no frame end the wait early."""
    meter.start_streaming(interval=0.2, source=lambda: b"\x55\xaa" * 40)
    settings = connection.LineSettings(meter.port, 9600, "N")
    async with asyncio.timeout(30):
        with pytest.raises(connection.NoValidFramesError):
            await connection.async_probe(settings, TEST_KEY, None, 600, burst_gap=0.05)


async def test_probe_with_bursts_still_reads(meter: PtyMeter) -> None:
    """At the right setting, pushes with quiet in between give a reading."""
    meter.start_streaming(interval=0.2)
    settings = connection.LineSettings(meter.port, 9600, "N")
    async with asyncio.timeout(30):
        reading = await connection.async_probe(
            settings, TEST_KEY, None, 600, burst_gap=0.05
        )
    assert reading.system_title.hex().upper() == METER_ID


async def test_search_skips_only_shorter_waits(
    hass: HomeAssistant, rfc2217_meter: Callable[..., Any]
) -> None:
    """After a silent wait, a candidate with the same wait is not tried."""
    silent: Rfc2217Meter = await rfc2217_meter(9600, "N", interval=3600)
    search = line_search.LineSearch(
        silent.url,
        FAST_CANDIDATES,
        (TEST_KEY, None),
        listen_time=0.2,
    )
    with pytest.raises(connection.NoDataError):
        await search.async_run()
    assert [str(c) for c in search.tried] == ["9600 8N1", "9600 8E1"]
    assert search.number == len(FAST_CANDIDATES)


async def test_keys_stay_out_of_the_search(hass: HomeAssistant) -> None:
    """The search's input never shows its keys."""
    form = MeterInput("/dev/null", INTERFACE_AUTO, AUTO_CANDIDATES, TEST_KEY, TEST_KEY)
    assert TEST_KEY.hex() not in repr(form).lower()
    assert CONF_AUTHENTICATION_KEY in form.entry_data(
        connection.LineSettings("/dev/null", 9600, "N"), INTERFACE_WIENER_NETZE
    )


class _Written:
    """Stands in for the port's transport: keeps what the probe writes."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


@pytest.mark.parametrize(
    ("burst", "answered"),
    [
        # The AMIS meter's search request: the decoder answers it with E5.
        (b"\x10\x40\xf0\x30\x16", True),
        # The same bytes with a wrong checksum: noise, nothing to answer.
        (b"\x10\x40\xf0\x31\x16", False),
    ],
    ids=["search-request", "noise"],
)
async def test_probe_keeps_listening_after_an_answered_burst(
    burst: bytes, answered: bool
) -> None:
    """A burst the meter's protocol wanted answered is no sign of wrong settings.

    A meter that asks before it pushes (AMIS sends a short request once a
    minute and pushes only after the acknowledgement) has no valid frame in
    its first burst. Quiet is driven by hand: the burst gap never passes.
    """
    probe = connection._Probe(TEST_KEY, None, burst_gap=3600)
    written = _Written()
    probe.transport = cast("Any", written)
    probe.listening()
    probe._quiet()  # the line was quiet since the port opened
    probe.feed(burst)
    probe._quiet()  # the burst is over
    probe.stop()
    if answered:
        assert written.data == b"\xe5"
        assert not probe.done.done()
    else:
        assert written.data == b""
        assert isinstance(probe.done.exception(), connection.NoValidFramesError)
