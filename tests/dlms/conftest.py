"""The protocol tests need only ``cryptography``, ``pytest`` and ``hypothesis``.

Where the Home Assistant test harness is installed it brings
``pytest-asyncio`` and ``pytest-socket``; without it, the two small
stand-ins below take their place.
"""

from __future__ import annotations

import asyncio
from importlib.util import find_spec
import inspect

import pytest

if find_spec("pytest_asyncio") is None:

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
        """Run a coroutine test function in a fresh event loop."""
        if not inspect.iscoroutinefunction(pyfuncitem.obj):
            return None
        arguments = {
            name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames
        }
        asyncio.run(pyfuncitem.obj(**arguments))
        return True


if find_spec("pytest_socket") is None:

    @pytest.fixture
    def socket_enabled() -> None:
        """Without pytest-socket, sockets are never disabled."""
