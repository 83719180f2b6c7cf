"""Test data shared by the protocol and the Home Assistant tests.

``vectors.json`` holds verified frames with their keys and expected values;
``appendix_frames`` holds frames quoted in the protocol reference and the
forum thread this project started from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

DATA: Final = Path(__file__).resolve().parent
REPOSITORY: Final = DATA.parent.parent

VECTORS: Final[dict[str, dict[str, Any]]] = {
    vector["id"]: vector
    for vector in json.loads((DATA / "vectors.json").read_text(encoding="utf-8"))
}

AMIS: Final[dict[str, Any]] = json.loads(
    (DATA / "amis.json").read_text(encoding="utf-8")
)
"""AMIS vectors, streams and real telegrams from public sources (see its ``_about``)."""
