"""Repairs issues that tell the user what to check, raised and cleared automatically.

* ``meter_silent``: no valid frame for a long time (customer interface
  switched off, head fell off, network head offline).
* ``damaged_frames``: many frames fail their checksum (head misaligned,
  sunlight on an optical head, wrong parity).

Frames that stopped decrypting start reauthentication instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LOGGER, PARITY_CHOICES, PARITY_EVEN, PARITY_NONE

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant

    from .health import LinkHealth
    from .link import LineSettings

ISSUE_METER_SILENT: Final = "meter_silent"
ISSUE_DAMAGED_FRAMES: Final = "damaged_frames"
ISSUES: Final = (ISSUE_METER_SILENT, ISSUE_DAMAGED_FRAMES)

METER_SILENT_AFTER: Final = 900.0
"""Seconds without a valid frame before the user is told to check the meter."""

_PARITY_NAMES: Final = {stored: choice for choice, stored in PARITY_CHOICES.items()}
"""Stored parity -> its name in the setup form (``"E"`` -> ``"even"``)."""


def issue_id(kind: str, entry_id: str) -> str:
    """The issue of one kind for one config entry."""
    return f"{kind}_{entry_id}"


def other_parity(parity: str) -> str:
    """The parity to try: M-Bus sockets use even, optical and P1 heads none."""
    return PARITY_EVEN if parity == PARITY_NONE else PARITY_NONE


def raise_meter_silent(
    hass: HomeAssistant, entry_id: str, title: str, settings: LineSettings
) -> None:
    """Tell the user that the meter has been silent for a long time."""
    _raise(
        hass,
        ISSUE_METER_SILENT,
        entry_id,
        {
            "title": title,
            "port": settings.redacted_port,
            "minutes": str(round(METER_SILENT_AFTER / 60)),
        },
    )


def raise_damaged_frames(
    hass: HomeAssistant,
    entry_id: str,
    title: str,
    settings: LineSettings,
    valid_share: int,
) -> None:
    """Tell the user that most frames arrive damaged."""
    _raise(
        hass,
        ISSUE_DAMAGED_FRAMES,
        entry_id,
        {
            "title": title,
            "port": settings.redacted_port,
            "share": str(valid_share),
            "parity": _PARITY_NAMES.get(settings.parity, settings.parity),
            "other_parity": _PARITY_NAMES[other_parity(settings.parity)],
        },
    )


def clear(hass: HomeAssistant, kind: str, entry_id: str) -> None:
    """Remove an issue (nothing happens when it is not raised)."""
    ir.async_delete_issue(hass, DOMAIN, issue_id(kind, entry_id))


def clear_all(hass: HomeAssistant, entry_id: str) -> None:
    """Remove every issue of a config entry."""
    for kind in ISSUES:
        clear(hass, kind, entry_id)


def _raise(
    hass: HomeAssistant, kind: str, entry_id: str, placeholders: dict[str, str]
) -> None:
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(kind, entry_id),
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=kind,
        translation_placeholders=placeholders,
    )


class LinkAdvisor:
    """Raises and clears one entry's issues from the link's health and silence.

    Also tells listeners (the link-quality sensor) when the share of valid
    frames changes, so that sensor updates without a poll.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        title: str,
        settings: LineSettings,
        health: LinkHealth,
    ) -> None:
        """Watch ``health`` for one entry; nothing is raised yet."""
        self._hass = hass
        self._entry_id = entry_id
        self._title = title
        self._settings = settings
        self._health = health
        self._listeners: set[Callable[[], None]] = set()
        self._shown_share: int | None = None
        self._damaged_raised = False
        self._silent_since: float | None = None
        self._silent_raised = False

    @callback
    def async_add_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call ``listener`` whenever the share of valid frames changes."""
        self._listeners.add(listener)
        return lambda: self._listeners.discard(listener)

    @callback
    def update(self) -> None:
        """Look at the health after new frames (or none for a while)."""
        health = self._health
        now = dt_util.utcnow().timestamp()
        health.expire(now)
        if (
            self._silent_since is not None
            and now - self._silent_since >= METER_SILENT_AFTER
            and not self._silent_raised
        ):
            self._silent_raised = True
            raise_meter_silent(self._hass, self._entry_id, self._title, self._settings)
        if health.bad and not self._damaged_raised:
            self._damaged_raised = True
            LOGGER.info("%s: most frames arrive damaged", self._title)
            raise_damaged_frames(
                self._hass,
                self._entry_id,
                self._title,
                self._settings,
                health.valid_share or 0,
            )
        elif health.good and self._damaged_raised:
            self._damaged_raised = False
            clear(self._hass, ISSUE_DAMAGED_FRAMES, self._entry_id)
        if health.valid_share != self._shown_share:
            self._shown_share = health.valid_share
            for listener in list(self._listeners):
                listener()

    @callback
    def went_silent(self) -> None:
        """The meter became unavailable: if it stays silent, an issue follows.

        The watchdog calls :meth:`update` after every further stale timeout,
        which raises the issue once the silence has lasted long enough.
        """
        if self._silent_since is None:
            self._silent_since = dt_util.utcnow().timestamp()

    @callback
    def data_flows(self) -> None:
        """Valid frames again: the silence issue is over."""
        self._silent_since = None
        if self._silent_raised:
            self._silent_raised = False
            clear(self._hass, ISSUE_METER_SILENT, self._entry_id)

    @callback
    def stop(self) -> None:
        """The entry goes away: no issues left behind."""
        clear_all(self._hass, self._entry_id)
