"""Shared fixtures."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
import pytest

# Import our package before the harness's own testing_config/custom_components
# can shadow it.
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


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components/."""
