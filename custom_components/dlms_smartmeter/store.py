"""The guards' state on disk, so that the first frame after a restart is checked.

Keeps the last invocation counter and the register baseline of one config
entry in Home Assistant's storage (``.storage/dlms_smartmeter.<entry id>``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers.storage import Store

from .const import DOMAIN

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 60.0
"""Seconds between writes while frames arrive (and at Home Assistant's stop)."""


class GuardStore:
    """Load and save the guards' snapshot of one config entry."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Prepare the store; nothing is read before ``async_load``."""
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}"
        )
        self._snapshot: Callable[[], dict[str, Any]] | None = None

    async def async_load(self) -> dict[str, Any]:
        """The saved snapshot, empty when there is none."""
        data = await self._store.async_load()
        return data if isinstance(data, dict) else {}

    def schedule_save(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        """Write the snapshot soon (Home Assistant's stop writes it too).

        Called for every frame: only the first call arms the timer, so that a
        frame costs no new timer; the write takes the snapshot of its time.
        """
        if self._snapshot is None:
            self._snapshot = snapshot
            self._store.async_delay_save(self._take_snapshot, SAVE_DELAY)

    def _take_snapshot(self) -> dict[str, Any]:
        snapshot, self._snapshot = self._snapshot, None
        return snapshot() if snapshot is not None else {}

    async def async_save(self, snapshot: dict[str, Any]) -> None:
        """Write the snapshot now."""
        await self._store.async_save(snapshot)

    async def async_remove(self) -> None:
        """Delete the file (the entry was removed)."""
        await self._store.async_remove()
