"""Decode speed: one Wiener Netze AM550 frame, raw bytes to a line of JSON.

Measures what the command-line tool's ``decode`` does per frame (decoding
and writing the JSON line) and compares it with gurux-dlms (``GXDLMSSecureClient``,
encryption only, ``getData``) on the same frame in the same run, after
checking that both decode it correctly. gurux-dlms is not a dependency of
the project; install it to compare (``pip install gurux-dlms``). Without it
only our decoder is measured.

Run from the repository root: ``python benchmarks/bench_decode.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
from pathlib import Path
import sys
import timeit
from typing import IO, TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.dlms_smartmeter.dlms import MeterDecoder, Reading
from custom_components.dlms_smartmeter.dlms.cli import Tally, decode_capture

if TYPE_CHECKING:
    from collections.abc import Callable

# Vector WN-AM550-1 (tests/data/vectors.json): a real AM550 IR frame and its key.
FRAME = bytes.fromhex(
    "7ea067cf022313fbf1e6e700db0849534b69743c103f4f200010d9e208f5c0c61a10c2359a"
    "014dfa00024e52839d213a16b086e297ad13f7db4574d0d4d3aff9bada8f10f3bb33a39ac2"
    "fc5fb447342ff4d6a9e9361ecbd84c9b6f76f5ece94425b2917a660b0af27e"
)
KEY = bytes.fromhex("927CE4ECA62FE23E19406C5EE452285E")
EXPECTED = [855, 246, 103, 169, 0, 0, 0, 0]  # +A -A +R -R +P -P +Q -Q
TARGET_RATIO = 30.0


def ours(out: IO[str]) -> Callable[[], object]:
    """One frame through the command-line tool's decode: a JSON line to ``out``."""
    decoder = MeterDecoder(KEY)
    (reading,) = decoder.feed(FRAME)
    if not isinstance(reading, Reading):
        raise SystemExit(f"our decoder failed on the frame: {reading!r}")
    got = [meter_value.value for meter_value in reading.values.values()]
    if got != EXPECTED:
        raise SystemExit(f"our decoder gave {got}, expected {EXPECTED}")
    printed = io.StringIO()
    decode_capture(decoder, FRAME, printed, Tally())
    if json.loads(printed.getvalue())["values"]["1-0:1.8.0"]["value"] != EXPECTED[0]:
        raise SystemExit(f"the tool printed {printed.getvalue()!r}")
    tally = Tally()
    return lambda: decode_capture(decoder, FRAME, out, tally)


def gurux() -> Callable[[], object] | None:
    """One frame through gurux-dlms; ``None`` when it is not installed."""
    try:
        # Optional, untyped, and only needed for the comparison.
        from gurux_dlms.enums import Security  # noqa: PLC0415
        from gurux_dlms.GXByteBuffer import GXByteBuffer  # noqa: PLC0415
        from gurux_dlms.GXReplyData import GXReplyData  # noqa: PLC0415
        from gurux_dlms.secure.GXDLMSSecureClient import GXDLMSSecureClient  # noqa: PLC0415
    except ImportError:
        return None
    # Client 0x67 (CF) and server 0x91 (02 23) as in the frame; gurux prints a
    # note when the security is set.
    client = GXDLMSSecureClient(True, 0x67, 0x91)  # noqa: FBT003 - its API
    with contextlib.redirect_stdout(io.StringIO()):
        client.ciphering.security = Security.ENCRYPTION
    client.ciphering.blockCipherKey = KEY
    client.ciphering.authenticationKey = KEY

    def decode() -> Any:
        notify = GXReplyData()
        client.getData(GXByteBuffer(FRAME), GXReplyData(), notify)
        return notify.value

    with contextlib.redirect_stdout(io.StringIO()):
        value = decode()
    got = list(value)[1:] if value is not None else None
    if got != EXPECTED:
        raise SystemExit(f"gurux-dlms gave {value!r}, expected {EXPECTED}")
    return decode


def calibrate(decode: Callable[[], object], seconds: float) -> int:
    """How many calls of ``decode`` take about ``seconds``."""
    number, elapsed = timeit.Timer(decode).autorange()
    return max(1, int(number * seconds / elapsed))


def best_per_frame(
    runs: list[tuple[Callable[[], object], int]], rounds: int
) -> list[float]:
    """Best time per call (seconds) of each decoder.

    The decoders take turns, round after round, so that a change in the
    machine's load during the run affects all of them alike.
    """
    best = [float("inf")] * len(runs)
    for _ in range(rounds):
        for index, (decode, number) in enumerate(runs):
            elapsed = timeit.Timer(decode).timeit(number)
            best[index] = min(best[index], elapsed / number)
    return best


def main() -> int:
    """Measure and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=0.3, help="time per measurement run"
    )
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds")
    args = parser.parse_args()

    # Both tools write to /dev/null: our JSON lines, and the line gurux-dlms
    # prints for every frame it decrypts (writing is part of either's cost).
    with (
        Path(os.devnull).open("w", encoding="utf-8") as devnull,
        contextlib.redirect_stdout(devnull),
    ):
        our_decode = ours(devnull)
        reference = gurux()
        runs = [(our_decode, calibrate(our_decode, args.seconds))]
        if reference is not None:
            runs.append((reference, calibrate(reference, args.seconds)))
        our_time, *others = best_per_frame(runs, args.rounds)
    print(f"frame: {len(FRAME)} bytes (Wiener Netze AM550, AES-128-CTR)")
    print(f"dlms_smartmeter: {our_time * 1e6:8.1f} µs per frame, JSON line included")
    print(f"dlms_smartmeter: {1 / our_time:8.0f} frames/s")
    if not others:
        print("gurux-dlms is not installed (pip install gurux-dlms): no comparison")
        return 0
    (gurux_time,) = others
    ratio = gurux_time / our_time
    print(f"gurux-dlms:      {gurux_time * 1e6:8.1f} µs per frame")
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"speed ratio:     {ratio:8.1f}x ({verdict} the {TARGET_RATIO:.0f}x target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
