"""Fixtures for the Home Assistant tests: a simulated meter on a real pty."""

from __future__ import annotations

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

    from syrupy.assertion import SnapshotAssertion


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots in snapshots/ beside the test, as Home Assistant keeps them."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components/."""


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
