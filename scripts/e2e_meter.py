"""Simulated meter for the end-to-end test: frames to a pty, readings to a log.

The same simulated meter as ``python -m custom_components.dlms_smartmeter.dlms
simulate --pty``, plus one JSON line per frame in the readings log: when the
frame was written and the values it carries. The browser test compares what
Home Assistant's device page shows with these values, so the log is the
expected result and never comes from the integration under test.

Usage (from the repository root)::

    PYTHONPATH=. python scripts/e2e_meter.py --pty PATH --key HEX \
        --readings FILE [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
import signal
import sys
import time
from typing import TYPE_CHECKING, TextIO

from custom_components.dlms_smartmeter.dlms import parse_key
from custom_components.dlms_smartmeter.dlms.outputs import FileSink, stream_frames
from custom_components.dlms_smartmeter.dlms.simulator import MeterSimulator
from custom_components.dlms_smartmeter.dlms.virtual_port import (
    create_virtual_serial_port,
    remove_virtual_serial_port,
)

if TYPE_CHECKING:
    from collections.abc import Sequence


class LoggingSink:
    """Writes each frame to the pty, then logs the reading the frame carries."""

    def __init__(self, pty: FileSink, simulator: MeterSimulator, log: TextIO) -> None:
        """Forward to ``pty``; log ``simulator.last_reading`` to ``log``."""
        self._pty = pty
        self._simulator = simulator
        self._log = log

    async def send(self, frame: bytes) -> None:
        """Write the frame, then append its reading to the log."""
        await self._pty.send(frame)
        reading = self._simulator.reading()
        record = {
            "sent_at": time.time(),
            "invocation_counter": reading.invocation_counter,
            "values": {
                code: {"value": value.value, "unit": str(value.unit)}
                for code, value in reading.values.items()
            },
        }
        self._log.write(json.dumps(record) + "\n")
        self._log.flush()

    async def aclose(self) -> None:
        """Close the pty sink (the log is closed by its owner)."""
        await self._pty.aclose()


async def _run(args: argparse.Namespace, log: TextIO) -> None:
    simulator = MeterSimulator(parse_key(args.key), seed=args.seed)
    master_fd, slave_path = create_virtual_serial_port(args.pty)
    print(
        f"simulated meter: system title {simulator.system_title.hex().upper()}, "
        f"port {args.pty} -> {slave_path}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sink = LoggingSink(FileSink(master_fd), simulator, log)
    streaming = asyncio.create_task(
        stream_frames(simulator, sink, interval=args.interval)
    )
    try:
        await stop.wait()
    finally:
        streaming.cancel()
        await asyncio.gather(streaming, return_exceptions=True)
        remove_virtual_serial_port(master_fd, args.pty)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the meter until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pty", required=True, help="link path of the serial port")
    parser.add_argument("--key", required=True, help="encryption key (32 hex digits)")
    parser.add_argument("--readings", required=True, help="JSON-lines log to append")
    parser.add_argument("--seed", type=int, default=0, help="seed of the meter")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between frames"
    )
    args = parser.parse_args(argv)
    with Path(args.readings).open("a", encoding="utf-8") as log:
        asyncio.run(_run(args, log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
