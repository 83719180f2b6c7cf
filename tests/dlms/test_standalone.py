"""The protocol package stands on its own: no Home Assistant, no parent package."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from typing import TYPE_CHECKING

from tests.data import REPOSITORY

if TYPE_CHECKING:
    from pathlib import Path

INTEGRATION = REPOSITORY / "custom_components" / "dlms_smartmeter"
PROTOCOL_PACKAGE = INTEGRATION / "dlms"


def _module_name(path: Path) -> str:
    """Dotted name inside the protocol package; "" for the package itself."""
    parts = path.relative_to(PROTOCOL_PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


PROTOCOL_MODULES = sorted(
    name
    for path in PROTOCOL_PACKAGE.rglob("*.py")
    if path.stem != "__main__" and (name := _module_name(path))
)

# Vector WN-AM550-1: a real AM550 frame and its key.
FRAME = (
    "7ea067cf022313fbf1e6e700db0849534b69743c103f4f200010d9e208f5c0c61a10c2359a"
    "014dfa00024e52839d213a16b086e297ad13f7db4574d0d4d3aff9bada8f10f3bb33a39ac2"
    "fc5fb447342ff4d6a9e9361ecbd84c9b6f76f5ece94425b2917a660b0af27e"
)
KEY = "927CE4ECA62FE23E19406C5EE452285E"

# Runs with the protocol package as a top-level package named ``dlms`` and
# every Home Assistant import failing, the way a separately published copy
# would run.
_PRELUDE = """
import runpy, sys
sys.modules["homeassistant"] = None
sys.path.insert(0, sys.argv.pop(1))
"""


def _run(code: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return _python(_PRELUDE + code, str(INTEGRATION), *arguments)


def _python(code: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter from the repository root."""
    return subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-c", code, *arguments],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        env=os.environ | {"DLMS_KEY": KEY},
        timeout=60,
        check=False,
    )


def test_every_module_imports_without_home_assistant() -> None:
    assert "decoder" in PROTOCOL_MODULES
    result = _run(
        "import importlib\n"
        f"for name in {PROTOCOL_MODULES!r}:\n"
        "    importlib.import_module('dlms.' + name)\n"
        "print(sorted(name for name, module in sys.modules.items()\n"
        "             if name.startswith('homeassistant') and module is not None))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_command_line_tool_runs_as_a_top_level_package() -> None:
    result = _run(
        "sys.argv = ['dlms', 'decode', sys.argv[1]]\n"
        "runpy.run_module('dlms', run_name='__main__', alter_sys=True)",
        FRAME,
    )
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    decoded = json.loads(line)
    assert decoded["manufacturer"] == "ISK"
    assert decoded["values"]["1-0:1.8.0"] == {"value": 855, "unit": "Wh"}


def _readme_decode_command() -> list[str]:
    """The decode command of the README, with the frame and key filled in."""
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    match = re.search(
        r"^DLMS_KEY=YOUR_KEY (python -m \S+ decode) \S+$", readme, re.MULTILINE
    )
    assert match is not None, "the README shows no decode command"
    return [*shlex.split(match[1]), FRAME]


def test_readme_decode_command_runs_without_home_assistant() -> None:
    command = _readme_decode_command()
    assert command[:3] == ["python", "-m", "custom_components.dlms_smartmeter.dlms"]
    # Every import of Home Assistant fails, as in a virtual environment that
    # has only cryptography; the command runs from the repository root.
    blocked = (
        "import runpy, sys\n"
        "class NoHomeAssistant:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] == 'homeassistant':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, NoHomeAssistant())\n"
        f"sys.argv = {command[2:]!r}\n"
        f"runpy.run_module({command[2]!r}, run_name='__main__', alter_sys=True)\n"
    )
    result = _python(blocked)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    decoded = json.loads(line)
    assert decoded["system_title"] == "49534B69743C103F"
    assert decoded["manufacturer"] == "ISK"
    assert decoded["security"] == "encrypted"
    assert decoded["meter_time"] == "2021-10-21T06:44:02+02:00"
    assert decoded["values"]["1-0:1.8.0"] == {"value": 855, "unit": "Wh"}
    assert decoded["values"]["1-0:4.8.0"] == {"value": 169, "unit": "varh"}
