"""Install what Home Assistant would install itself at its first start.

``hass`` installs the requirements of the integrations it loads into its
Python environment when it starts. Here that environment is also the test
environment, and some of Home Assistant's pins only exist as source builds
for new Pythons; so ``scripts/develop`` and ``scripts/e2e`` install the
requirements beforehand with this script and start ``hass --skip-pip``.

Usage: ``python scripts/ha_requirements.py DOMAIN ...`` (the integrations
``configuration.yaml`` loads besides Home Assistant's core and default ones;
this integration is always included).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
from pathlib import Path
import subprocess
import sys
from typing import Any, Final

from homeassistant import bootstrap, components
from packaging.requirements import Requirement

DOMAIN: Final = "dlms_smartmeter"
INTEGRATION_DIR: Final = (
    Path(__file__).resolve().parent.parent / "custom_components" / DOMAIN
)
PIP_NOISE: Final = "is ignored: it is neither a file nor a directory"


def _manifest(domain: str) -> dict[str, Any]:
    if domain == DOMAIN:
        path = INTEGRATION_DIR / "manifest.json"
    else:
        path = Path(components.__file__).parent / domain / "manifest.json"
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def requirements_to_install(configured: set[str]) -> list[str]:
    """Requirements of the loaded integrations whose package is not installed.

    A package installed in another version stays: the unit tests run in this
    environment, and requirements_test.txt chooses some versions (serialx).
    """
    pending = {
        *bootstrap.CORE_INTEGRATIONS,
        *bootstrap.DEFAULT_INTEGRATIONS,
        *configured,
        DOMAIN,
    }
    seen: set[str] = set()
    missing: dict[str, str] = {}
    while pending:
        domain = pending.pop()
        if domain in seen:
            continue
        seen.add(domain)
        manifest = _manifest(domain)
        pending.update(manifest.get("dependencies", ()))
        for requirement in manifest.get("requirements", ()):
            name = Requirement(requirement).name
            try:
                importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                missing.setdefault(name.lower(), requirement)
    return sorted(missing.values())


def _pip_install(*arguments: str) -> str | None:
    """Run ``pip install``; ``None`` when it worked, else pip's last words."""
    command = [sys.executable, "-m", "pip", "install", "--quiet"]
    command += ["--disable-pip-version-check", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode == 0:
        return None
    lines = [line for line in result.stderr.splitlines() if PIP_NOISE not in line]
    return "\n".join(lines[-5:])


def install(configured: set[str]) -> int:
    """Install the missing requirements; 0 when all is there."""
    constraints = Path(components.__file__).parent.parent / "package_constraints.txt"
    failed: list[str] = []
    for requirement in requirements_to_install(configured):
        print(f"installing {requirement} (a requirement of Home Assistant)")
        pinned = ("--constraint", str(constraints), requirement)
        if _pip_install("--only-binary=:all:", *pinned) is None:
            continue
        if _pip_install("--prefer-binary", *pinned) is None:
            continue  # built from source (pure-Python packages without wheels)
        # Home Assistant's own wheel index has builds that PyPI lacks for new
        # Pythons (the audio packages of assist_pipeline, which the frontend
        # needs to list services): take PyPI's newest wheel instead.
        name = Requirement(requirement).name
        print(f"  no build of {requirement} for this Python; installing {name}")
        error = _pip_install("--only-binary=:all:", name)
        if error is not None:
            print(error, file=sys.stderr)
            failed.append(requirement)
    if failed:
        print(f"could not install: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and install."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("domains", nargs="*", help="integrations configured in YAML")
    args = parser.parse_args(argv)
    return install(set(args.domains))


if __name__ == "__main__":
    sys.exit(main())
