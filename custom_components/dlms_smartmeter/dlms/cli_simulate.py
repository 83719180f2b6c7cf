"""The ``simulate`` command: a simulated meter pushing frames somewhere."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import TYPE_CHECKING

from .amis_simulator import AmisMeterEmulator, run_amis_meter
from .cli import AUTH_KEY_ENV, EXIT_OK, KEY_ENV, UsageError, read_key
from .keys import format_key
from .layouts import Layout
from .outputs import FileSink, StreamSink, TcpFrameServer, stream_frames
from .simulator import DEMO_ENCRYPTION_KEY, MeterSimulator
from .virtual_port import create_virtual_serial_port, remove_virtual_serial_port

if TYPE_CHECKING:
    import argparse

    from .outputs import FrameSink

# Seconds between 1970 and 2020: the simulated invocation counter starts at the
# seconds since 2020, so that it keeps growing across restarts as on a meter.
_COUNTER_EPOCH = 1_577_836_800


async def _simulate(args: argparse.Namespace, simulator: MeterSimulator) -> int:
    sink: FrameSink
    pty: int | None = None
    if args.tcp is not None:
        server = TcpFrameServer(args.tcp)
        try:
            await server.start()
        except (OSError, OverflowError) as error:
            raise UsageError(
                f"--tcp: cannot listen on port {args.tcp}: {error}"
            ) from None
        sink = server
        _announce(f"socket://127.0.0.1:{server.port}", "TCP clients get the frames")
    elif args.pty is not None:
        try:
            pty, slave_path = create_virtual_serial_port(args.pty)
        except OSError as error:
            raise UsageError(f"--pty: cannot create {args.pty}: {error}") from None
        sink = FileSink(pty)
        _announce(args.pty, f"virtual serial port (-> {slave_path})")
    elif args.output is not None:
        try:
            fd = os.open(
                args.output, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOCTTY, 0o644
            )
        except OSError as error:
            raise UsageError(
                f"--output: cannot open {args.output}: {error.strerror}"
            ) from None
        sink = FileSink(fd, close=True)
    else:
        sink = StreamSink(sys.stdout.buffer)
    try:
        await stream_frames(simulator, sink, interval=args.interval, count=args.count)
    finally:
        await sink.aclose()
        if pty is not None:
            remove_virtual_serial_port(pty, args.pty)
    return EXIT_OK


def _announce(path: str, what: str) -> None:
    """Print where the frames go: the path alone on stdout, details on stderr."""
    print(f"{what}: {path}", file=sys.stderr, flush=True)
    print(path, flush=True)


def _run_simulate_amis(args: argparse.Namespace, encryption_key: bytes) -> int:
    """An AMIS meter: it talks to one reader, so it needs --pty or --tcp."""
    if args.pty is None and args.tcp is None:
        raise UsageError("--amis needs --pty or --tcp: the meter waits for E5")
    print(
        f"simulated AMIS meter, encryption key {format_key(encryption_key)}; it "
        f"searches every {args.search_interval:g} s and sends every "
        f"{args.interval:g} s while acknowledged",
        file=sys.stderr,
        flush=True,
    )

    def _emulator() -> AmisMeterEmulator:
        return AmisMeterEmulator(
            encryption_key,
            search_interval=args.search_interval,
            data_interval=args.interval or 1.0,
        )

    async def _serve() -> int:
        if args.tcp is not None:

            def _listening(port: int) -> None:
                _announce(f"socket://127.0.0.1:{port}", "AMIS meter for TCP readers")

            await run_amis_meter(_emulator, tcp_port=args.tcp, on_listening=_listening)
            return EXIT_OK
        try:
            pty, slave_path = create_virtual_serial_port(args.pty)
        except OSError as error:
            raise UsageError(f"--pty: cannot create {args.pty}: {error}") from None
        _announce(args.pty, f"AMIS meter on a virtual serial port (-> {slave_path})")
        try:
            await run_amis_meter(_emulator, master_fd=pty)
        finally:
            remove_virtual_serial_port(pty, args.pty)
        return EXIT_OK

    try:
        return asyncio.run(_serve())
    except KeyboardInterrupt:
        return EXIT_OK


def run_simulate(args: argparse.Namespace) -> int:
    """Run the simulated meter until the count is reached or it is interrupted."""
    encryption_key = (
        read_key(args.key, args.key_file, KEY_ENV, "key") or DEMO_ENCRYPTION_KEY
    )
    authentication_key = read_key(
        args.auth_key, args.auth_key_file, AUTH_KEY_ENV, "auth-key"
    )
    if args.interval < 0:
        raise UsageError("--interval must not be negative")
    if args.amis:
        return _run_simulate_amis(args, encryption_key)
    if args.count is not None and args.count < 1:
        raise UsageError("--count must be at least 1")
    if args.push_interval is not None and args.push_interval < 1:
        raise UsageError("--push-interval must be at least 1 second")
    layout = Layout(args.layout)
    simulator = MeterSimulator(
        encryption_key,
        layout=layout,
        authentication_key=authentication_key,
        push_interval=args.push_interval or max(1, round(args.interval)),
        invocation_counter=int(time.time()) - _COUNTER_EPOCH,
        seed=args.seed,
    )
    # The simulated meter's key is a demo key the user chose, not a secret:
    # show it so that the reader can be configured with it.
    print(
        f"simulated meter ({layout}), system title "
        f"{simulator.system_title.hex().upper()}, encryption key "
        f"{format_key(encryption_key)}"
        + (
            f", authentication key {format_key(authentication_key)}"
            if authentication_key
            else ""
        ),
        file=sys.stderr,
        flush=True,
    )
    try:
        return asyncio.run(_simulate(args, simulator))
    except KeyboardInterrupt:
        return EXIT_OK
