"""Settings shared by every test; nothing here imports Home Assistant.

The protocol tests (``tests/dlms``) run in an environment that has only
``cryptography``, ``pytest`` and ``hypothesis``; the Home Assistant tests
(``tests/components``) and the repository checks (``tests/repository``)
bring their own fixtures.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Import our package before the Home Assistant test harness's own
# testing_config/custom_components can shadow it.
import custom_components.dlms_smartmeter  # noqa: F401

# A fixed, reproducible budget for property-based tests; `HYPOTHESIS_PROFILE=dev`
# explores more.
settings.register_profile(
    "ci",
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
