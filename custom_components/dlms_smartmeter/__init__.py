"""The DLMS Smart Meter integration: local push readings from a smart meter.

Home Assistant finds its entry points (:mod:`.entry`) on this package. They
are imported here only when Home Assistant is already running, so that the
protocol package (``custom_components.dlms_smartmeter.dlms``) and its
command-line tool start without importing Home Assistant.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or "homeassistant" in sys.modules:
    from .entry import (
        PLATFORMS,
        async_remove_entry,
        async_setup_entry,
        async_unload_entry,
    )

__all__ = [
    "PLATFORMS",
    "async_remove_entry",
    "async_setup_entry",
    "async_unload_entry",
]


def __getattr__(name: str) -> Any:
    """Load the entry points on first use when Home Assistant came later."""
    if name in __all__:
        from . import entry  # noqa: PLC0415

        return getattr(entry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
