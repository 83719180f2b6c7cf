"""Command-line tool: decode captured frames, or run a simulated meter.

``python -m custom_components.dlms_smartmeter.dlms decode --key KEY [HEX ...]``
prints one JSON object per telegram; ``... simulate`` pushes encrypted frames
to standard output, a file, a virtual serial port or TCP clients.

Exit status: 0 when every frame decoded, 1 when a frame was rejected or no
frame was found, 2 on bad usage (an invalid key, input that is not hex).
Keys given on the command line show up in the process list: ``--key-file``
and the ``DLMS_KEY``/``DLMS_AUTH_KEY`` environment variables avoid that.
Error messages never repeat a key.

The protocol package does not need Home Assistant: from the directory
``custom_components/dlms_smartmeter``, ``python -m dlms decode ...`` runs the
same tool with only ``cryptography`` installed.
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass
import json
import os
from pathlib import Path
import re
import sys
from typing import IO, TYPE_CHECKING, Any

from .cosem_time import METER_TIME_ZONE
from .decoder import MeterDecoder
from .framing import LinkLayer
from .keys import parse_key
from .layouts import Layout
from .reading import Reading, SecurityLevel, Unit, reading_as_dict
from .virtual_port import DEFAULT_PTY_LINK

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .errors import DlmsError

PROG = "python -m custom_components.dlms_smartmeter.dlms"
KEY_ENV = "DLMS_KEY"
AUTH_KEY_ENV = "DLMS_AUTH_KEY"

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2


# What people paste besides hex digits: "0x" prefixes, whitespace and the
# separators of serial monitors and forum posts.
_HEX_PREFIX = re.compile(r"(?<![0-9A-Fa-f])0[xX]")
_SEPARATORS = re.compile(r"[\s:,;|\-\"'`]+")
_NOT_HEX = re.compile(r"[^0-9A-Fa-f]")


class UsageError(Exception):
    """Bad command-line input; the message is shown as is (never holds a key)."""


def parse_hex(text: str) -> bytes:
    """Bytes from hex text as pasted: spaces, newlines, ``0x``, any case.

    Raises :class:`UsageError` for other characters or an odd digit count.
    """
    cleaned = _SEPARATORS.sub("", _HEX_PREFIX.sub("", text))
    bad = _NOT_HEX.search(cleaned)
    if bad is not None:
        raise UsageError(
            f"invalid hex input: unexpected character {bad.group()!r} "
            "(expected hex digits, optionally with spaces or 0x prefixes)"
        )
    if len(cleaned) % 2:
        raise UsageError(
            f"invalid hex input: odd number of hex digits ({len(cleaned)})"
        )
    return bytes.fromhex(cleaned)


def read_key(
    value: str | None, file: str | None, env: str, option: str
) -> bytes | None:
    """A key from its option, its file option or its environment variable."""
    if value is not None:
        text, source = value, f"--{option}"
    elif file is not None:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(
                f"--{option}-file: cannot read {file}: {error.strerror}"
            ) from None
        source = f"--{option}-file"
    elif os.environ.get(env):
        text, source = os.environ[env], env
    else:
        return None
    try:
        return parse_key(text)
    except ValueError as error:
        raise UsageError(f"{source}: {error}") from None


def _add_key_options(parser: argparse.ArgumentParser) -> None:
    keys = parser.add_argument_group(
        "keys",
        f"32 hex characters each; also read from ${KEY_ENV} / ${AUTH_KEY_ENV}",
    )
    keys.add_argument("--key", metavar="HEX", help="encryption key (GUEK)")
    keys.add_argument("--key-file", metavar="FILE", help="file holding the key")
    keys.add_argument(
        "--auth-key", metavar="HEX", help="authentication key (GAK), if any"
    )
    keys.add_argument(
        "--auth-key-file", metavar="FILE", help="file holding the authentication key"
    )


# What ``decode`` prints of a reading, in this order; "manufacturer" is the
# FLAG id here (the readable name is for people, the id for scripts).
_JSON_KEYS = (
    "system_title",
    "manufacturer",
    "invocation_counter",
    "security",
    "meter_time",
    "values",
)


def reading_to_json(reading: Reading) -> dict[str, Any]:
    """The JSON object ``decode`` prints for a reading."""
    record = reading_as_dict(reading)
    record["manufacturer"] = reading.manufacturer
    return {key: record[key] for key in _JSON_KEYS}


# JSON text around each value, per (OBIS code, unit): built once, reused for
# every telegram (bounded, as codes come from the input).
_VALUE_JSON: dict[tuple[str, Unit], tuple[str, str]] = {}
_VALUE_JSON_LIMIT = 1024
# The start of each line, per meter (system title) and security.
_HEAD_JSON: dict[tuple[bytes, SecurityLevel], str] = {}


def _text_json(text: str | None) -> str:
    return "null" if text is None else json.dumps(text)


def reading_json_line(reading: Reading) -> str:
    """``json.dumps(reading_to_json(reading))``, written without the detour.

    Decoding prints one line per telegram; composing the text directly
    keeps the JSON output from costing more than the decoding.
    """
    values = []
    for code, value in reading.values.items():
        key = (code, value.unit)
        around = _VALUE_JSON.get(key)
        if around is None:
            around = (
                f'{json.dumps(code)}: {{"value": ',
                f', "unit": {json.dumps(value.unit.value)}}}',
            )
            if len(_VALUE_JSON) < _VALUE_JSON_LIMIT:
                _VALUE_JSON[key] = around
        number = value.value
        if type(number) is int:
            values.append(f"{around[0]}{number}{around[1]}")
        else:
            values.append(f"{around[0]}{json.dumps(number)}{around[1]}")
    head = _HEAD_JSON.get((reading.system_title, reading.security))
    if head is None:
        head = (
            f'{{"system_title": "{reading.system_title.hex().upper()}", '
            f'"manufacturer": {_text_json(reading.manufacturer)}, '
            '"invocation_counter": '
        )
        if len(_HEAD_JSON) < _VALUE_JSON_LIMIT:
            _HEAD_JSON[reading.system_title, reading.security] = head
    counter = reading.invocation_counter
    meter_time = reading.meter_time
    return (
        f"{head}{'null' if counter is None else int(counter)}, "
        f'"security": "{reading.security.value}", '
        '"meter_time": '
        f"{'null' if meter_time is None else f'"{meter_time.isoformat()}"'}, "
        f'"values": {{{", ".join(values)}}}}}'
    )


def error_to_json(error: DlmsError) -> dict[str, Any]:
    """The JSON object ``decode`` prints for a rejected frame."""
    return {"error": error.kind, "message": str(error)}


@dataclass(slots=True)
class Tally:
    """Telegrams decoded and frames rejected so far."""

    readings: int = 0
    errors: int = 0


def decode_capture(
    decoder: MeterDecoder, data: bytes, out: IO[str], tally: Tally
) -> None:
    """Decode one capture (an argument, standard input or a file) completely."""
    for outcome in [*decoder.feed(data), *decoder.flush()]:
        if isinstance(outcome, Reading):
            tally.readings += 1
            out.write(reading_json_line(outcome) + "\n")
        else:
            tally.errors += 1
            out.write(json.dumps(error_to_json(outcome)) + "\n")
    out.flush()


def _run_decode(args: argparse.Namespace) -> int:
    encryption_key = read_key(args.key, args.key_file, KEY_ENV, "key")
    authentication_key = read_key(
        args.auth_key, args.auth_key_file, AUTH_KEY_ENV, "auth-key"
    )
    captures: list[bytes] = []
    if args.binary is not None:
        if args.binary == "-":
            captures.append(sys.stdin.buffer.read())
        else:
            try:
                captures.append(Path(args.binary).read_bytes())
            except OSError as error:
                raise UsageError(
                    f"--binary: cannot read {args.binary}: {error.strerror}"
                ) from None
    captures += [parse_hex(text) for text in args.hex]
    if args.binary is None and not args.hex:
        captures.append(parse_hex(sys.stdin.read()))
    try:
        decoder = MeterDecoder(
            encryption_key,
            authentication_key,
            link=LinkLayer(args.link),
            time_zone=args.time_zone,
        )
    except ValueError as error:  # an unknown time zone (keys are checked above)
        raise UsageError(f"--time-zone: {error}") from None
    tally = Tally()
    for capture in captures:
        decode_capture(decoder, capture, sys.stdout, tally)
    if tally.readings == 0 and tally.errors == 0:
        message = {"error": "framing", "message": "no frame found in the input"}
        sys.stdout.write(json.dumps(message) + "\n")
        return EXIT_REJECTED
    return EXIT_REJECTED if tally.errors else EXIT_OK


def _run_simulate(args: argparse.Namespace) -> int:
    # The simulator and its outputs (asyncio) load only for this command, so
    # that decoding starts fast.
    from .cli_simulate import run_simulate  # noqa: PLC0415

    return run_simulate(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the tool."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Decode DLMS/COSEM push frames of smart meters, or simulate a "
        "meter.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    decode = commands.add_parser(
        "decode",
        help="decode frames to JSON (one object per line)",
        description="Decode frames given as hex arguments, as hex on standard "
        "input, or as raw bytes (--binary). Prints one JSON object per telegram "
        "or rejected frame.",
    )
    _add_key_options(decode)
    decode.add_argument(
        "--link",
        choices=[link.value for link in LinkLayer],
        default=LinkLayer.AUTO.value,
        help="link layer of the input (default: auto)",
    )
    decode.add_argument(
        "--time-zone",
        metavar="ZONE",
        default=METER_TIME_ZONE,
        help="where the meter runs its clock, for times sent without a UTC "
        f"offset (IANA name; default: {METER_TIME_ZONE})",
    )
    decode.add_argument(
        "--binary", metavar="FILE", help="raw bytes from FILE ('-': standard input)"
    )
    decode.add_argument(
        "hex", nargs="*", metavar="HEX", help="frames as hex (spaces and 0x allowed)"
    )
    decode.set_defaults(handler=_run_decode, parser=decode)

    simulate = commands.add_parser(
        "simulate",
        help="push simulated encrypted frames",
        description="Push frames of a simulated meter (a household with solar "
        "panels) with increasing counters. Without --key a demo key is used.",
    )
    _add_key_options(simulate)
    simulate.add_argument(
        "--layout",
        choices=[layout.value for layout in Layout],
        default=Layout.WIENER_NETZE.value,
        help="which meter to imitate (default: wiener_netze, the AM550)",
    )
    simulate.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between frames (default: 1)",
    )
    simulate.add_argument(
        "--push-interval",
        type=int,
        metavar="SECONDS",
        help="meter time between frames (default: the interval, at least 1 s)",
    )
    simulate.add_argument("--count", type=int, metavar="N", help="stop after N frames")
    simulate.add_argument(
        "--amis",
        action="store_true",
        help="behave like a Netz Oberösterreich AMIS meter: search request, then "
        "data only while the reader answers E5 (needs --pty or --tcp)",
    )
    simulate.add_argument(
        "--search-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="AMIS: seconds between search requests (default: 60)",
    )
    simulate.add_argument(
        "--seed", type=int, default=0, help="seed of the simulated values"
    )
    target = simulate.add_mutually_exclusive_group()
    target.add_argument("--output", metavar="PATH", help="append frames to PATH")
    target.add_argument(
        "--tcp",
        type=int,
        metavar="PORT",
        help="serve frames on 127.0.0.1:PORT (0: any free port)",
    )
    target.add_argument(
        "--pty",
        nargs="?",
        const=DEFAULT_PTY_LINK,
        metavar="LINK_PATH",
        help=f"create a virtual serial port linked at LINK_PATH (default "
        f"{DEFAULT_PTY_LINK})",
    )
    simulate.set_defaults(handler=_run_simulate, parser=simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tool; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        try:
            status: int = args.handler(args)
        except UsageError as error:
            args.parser.error(str(error))  # exits with status 2
    except SystemExit as exit_request:
        code = exit_request.code
        return code if isinstance(code, int) else EXIT_USAGE
    except BrokenPipeError:
        # The reader of standard output went away (e.g. ``| head``).
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return status
