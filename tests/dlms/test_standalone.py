"""The protocol package stands on its own: no Home Assistant, no parent package."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.data import REPOSITORY

INTEGRATION = REPOSITORY / "custom_components" / "dlms_smartmeter"
PROTOCOL_MODULES = sorted(
    path.stem for path in (INTEGRATION / "dlms").glob("*.py") if path.stem != "__main__"
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
    return subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-c", _PRELUDE + code, str(INTEGRATION), *arguments],
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
