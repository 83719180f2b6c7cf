"""``simulate`` in a child process, as a user starts it and stops it with Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from tests.data import REPOSITORY

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def simulated(*arguments: str) -> Iterator[tuple[str, list[str]]]:
    """``simulate ARGUMENTS`` in a child process: its first output line, then Ctrl-C.

    After the block the list holds the child's standard error; the child must
    have ended with status 0 and without a traceback.
    """
    environment = os.environ | {"PYTHONPATH": str(REPOSITORY)}
    process = subprocess.Popen(  # noqa: S603 - the arguments come from the tests
        [
            sys.executable,
            "-m",
            "custom_components.dlms_smartmeter.dlms",
            "simulate",
            *arguments,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # From the repository root, so that coverage measurement of the child
        # process finds the project's coverage settings.
        cwd=REPOSITORY,
        env=environment,
    )
    errors: list[str] = []
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip(), errors
        process.send_signal(signal.SIGINT)
        errors.append(process.communicate(timeout=30)[1])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors
    assert "Traceback" not in errors[0]
