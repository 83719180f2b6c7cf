"""Fixtures for the Home Assistant tests: a simulated meter on a real pty."""

from __future__ import annotations

import contextlib
import termios
from typing import TYPE_CHECKING, Any
from unittest.mock import PropertyMock, patch

import pytest
from pytest_homeassistant_custom_component.syrupy import (
    HomeAssistantSnapshotExtension,
)

from .meter import FAST_CANDIDATES, PtyMeter, make_simulator
from .rfc2217 import Rfc2217Meter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from pathlib import Path

    from homeassistant.core import HomeAssistant
    from syrupy.assertion import SnapshotAssertion


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots in snapshots/ beside the test, as Home Assistant keeps them."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components/."""


HOME_TIME_ZONE = "Europe/Vienna"
"""Where the simulated meters hang: their clocks run on Vienna time."""


@pytest.fixture
async def home_in_vienna(hass: HomeAssistant) -> None:
    """Home Assistant configured for a home in Austria, as its meters are.

    The harness starts in US/Pacific; the integration reads meter clocks
    that send no UTC offset in the home's time zone.
    """
    await hass.config.async_set_time_zone(HOME_TIME_ZONE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test with a Home Assistant instance gets the home's time zone first."""
    for item in items:
        names = getattr(item, "fixturenames", None)
        if names is not None and "hass" in names and "home_in_vienna" not in names:
            names.insert(names.index("hass") + 1, "home_in_vienna")


# --- Home Assistant integration: a simulated meter on a real pty ------------


@pytest.fixture
def fast_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shorten the integration's waits so that a test takes a second, not ten."""
    from custom_components.dlms_smartmeter import (  # noqa: PLC0415
        config_flow,
        coordinator,
        link,
    )

    monkeypatch.setattr(config_flow, "LISTEN_TIMEOUT", 1.0)
    # The longest wait of the automatic search (an AMIS meter's minute).
    monkeypatch.setattr(config_flow, "AUTO_CANDIDATES", FAST_CANDIDATES)
    monkeypatch.setattr(coordinator, "SETUP_TIMEOUT", 1.0)
    monkeypatch.setattr(link, "RECONNECT_MIN_DELAY", 0.05)
    monkeypatch.setattr(link, "RECONNECT_MAX_DELAY", 0.2)


@pytest.fixture
def meter(tmp_path: Path) -> Iterator[PtyMeter]:
    """A simulated AM550 behind a pseudo-terminal; nothing is sent until told."""
    simulated = PtyMeter(tmp_path / "ttyMETER", make_simulator())
    yield simulated
    simulated.close()


@pytest.fixture
async def rfc2217_meter(socket_enabled: None) -> AsyncIterator[Callable[..., Any]]:
    """Start meters behind RFC 2217 servers; all stop at the end of the test."""
    started: list[Rfc2217Meter] = []

    async def _start(
        baudrate: int, parity: str, *, interval: float = 0.05, **simulator: Any
    ) -> Rfc2217Meter:
        served = Rfc2217Meter(
            make_simulator(**simulator), baudrate, parity, interval=interval
        )
        await served.start()
        started.append(served)
        return served

    yield _start
    for served in started:
        await served.aclose()


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Create every entity enabled, including those disabled by default."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
def pty_accepts_parity_again(monkeypatch: pytest.MonkeyPatch, meter: PtyMeter) -> None:
    """Move the pty to another speed whenever the integration closes the port.

    A pseudo-terminal cannot keep a parity bit, and here it refuses (EINVAL)
    a configuration that asks for parity and changes nothing else: the
    second open with the same M-Bus settings (the entry's setup right after
    the flow's check). A USB serial adapter accepts it. After a speed change
    the next open is a change again.
    """
    from custom_components.dlms_smartmeter import (  # noqa: PLC0415
        connection,
        link as link_module,
    )

    closing = connection.async_close

    async def _close(transport: Any) -> None:
        await closing(transport)
        if meter.slave_fd is not None:
            with contextlib.suppress(termios.error, OSError):
                attributes = termios.tcgetattr(meter.slave_fd)
                attributes[4] = attributes[5] = termios.B50
                termios.tcsetattr(meter.slave_fd, termios.TCSANOW, attributes)

    monkeypatch.setattr(connection, "async_close", _close)
    monkeypatch.setattr(link_module, "async_close", _close)
