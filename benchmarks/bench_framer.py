"""Throughput and memory of the stream framer.

Run from the repository root::

    python benchmarks/bench_framer.py

Feeds 1 MB and 10 MB of random bytes (fixed seed) in 4 KB chunks, the way a
serial reader hands them over, and a mixed stream of garbage and valid
Wiener Netze AM550 frames. Prints throughput, the time ratio 10 MB / 1 MB
(about 10 when the work per byte is constant) and the peak memory the framer
allocates (the same for both sizes when its buffer is bounded). A plain
``bytes.find`` scan for the HDLC flag over the same data, measured in the same
run, is the baseline for the speed figures.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import partial
from pathlib import Path
import random
import sys
import time
import tracemalloc
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.dlms_smartmeter.dlms.crc import crc16_x25
from custom_components.dlms_smartmeter.dlms.framing import (
    HDLC_MAX_LENGTH,
    LinkFrame,
    LinkLayer,
    StreamFramer,
)

if TYPE_CHECKING:
    from collections.abc import Callable

MEGABYTE = 1_000_000
CHUNK = 4096
# WN-AM550-1: a real 105-byte Wiener Netze push.
AM550_FRAME = bytes.fromhex(
    "7ea067cf022313fbf1e6e700db0849534b69743c103f4f200010d9e208f5c0c6"
    "1a10c2359a014dfa00024e52839d213a16b086e297ad13f7db4574d0d4d3aff9"
    "bada8f10f3bb33a39ac2fc5fb447342ff4d6a9e9361ecbd84c9b6f76f5ece944"
    "25b2917a660b0af27e"
)


@dataclass(frozen=True, slots=True)
class Run:
    """One measured pass over a stream."""

    seconds: float
    frames: int
    largest_buffer: int

    def megabytes_per_second(self, size: int) -> float:
        """Throughput for a stream of ``size`` bytes."""
        return size / MEGABYTE / self.seconds


def frame_stream(data: bytes, link: LinkLayer, chunk: int) -> Run:
    """Feed ``data`` in chunks of ``chunk`` bytes; time it."""
    framer = StreamFramer(link)
    frames = largest = 0
    started = time.perf_counter()
    for index in range(0, len(data), chunk):
        for item in framer.feed(data[index : index + chunk]):
            frames += isinstance(item, LinkFrame)
        largest = max(largest, framer.buffered)
    framer.flush()
    return Run(time.perf_counter() - started, frames, largest)


def find_flags(data: bytes, chunk: int) -> Run:
    """Baseline: find every 0x7E with ``bytes.find``, chunk by chunk."""
    started = time.perf_counter()
    found = 0
    for index in range(0, len(data), chunk):
        piece = data[index : index + chunk]
        position = piece.find(0x7E)
        while position != -1:
            found += 1
            position = piece.find(0x7E, position + 1)
    return Run(time.perf_counter() - started, found, 0)


def best_of(repeats: int, measure: Callable[[], Run]) -> Run:
    """The fastest of ``repeats`` runs (the least disturbed by other load)."""
    return min((measure() for _ in range(repeats)), key=lambda run: run.seconds)


def peak_memory(data: bytes, link: LinkLayer, chunk: int) -> int:
    """Peak bytes allocated while the framer consumes ``data``."""
    tracemalloc.start()
    try:
        frame_stream(data, link, chunk)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def mixed_stream(rng: random.Random, size: int, garbage: int) -> tuple[bytes, int]:
    """Random garbage with a valid AM550 frame after every ``garbage`` bytes."""
    pieces, total, frames = [], 0, 0
    while total < size:
        pieces += [rng.randbytes(garbage), AM550_FRAME]
        total += garbage + len(AM550_FRAME)
        frames += 1
    return b"".join(pieces), frames


def report_random(rng: random.Random, repeats: int, chunk: int) -> None:
    """Random bytes: throughput, linearity and memory for 1 MB and 10 MB."""
    small = rng.randbytes(MEGABYTE)
    large = rng.randbytes(10 * MEGABYTE)
    print(
        f"Random bytes, {chunk}-byte chunks, "
        f"best of {repeats} (10 MB) and of {repeats * 10} (1 MB)"
    )
    print(
        f"{'link':>6} {'size':>6} {'MB/s':>8} {'vs find':>8} {'frames':>7} "
        f"{'buffer':>7} {'peak KiB':>9}"
    )
    for link in LinkLayer:
        runs, baselines = {}, {}
        for label, data in (("1 MB", small), ("10 MB", large)):
            # The same total measuring time for both sizes, so that the short
            # run is not the noisier one when their times are compared.
            tries = repeats * len(large) // len(data)
            run = best_of(tries, partial(frame_stream, data, link, chunk))
            baseline = best_of(tries, partial(find_flags, data, chunk))
            peak = peak_memory(data, link, chunk)
            runs[label], baselines[label] = run, baseline
            print(
                f"{link:>6} {label:>6} {run.megabytes_per_second(len(data)):8.1f} "
                f"{run.seconds / baseline.seconds:7.1f}x {run.frames:7d} "
                f"{run.largest_buffer:7d} {peak / 1024:9.1f}"
            )
        ratio = runs["10 MB"].seconds / runs["1 MB"].seconds
        baseline_ratio = baselines["10 MB"].seconds / baselines["1 MB"].seconds
        verdict = "linear" if ratio <= 12 else "NOT LINEAR"
        print(
            f"{link:>6} time 10 MB / 1 MB = {ratio:.1f} ({verdict}; "
            f"bytes.find: {baseline_ratio:.1f})"
        )


def report_mixed(rng: random.Random, repeats: int, chunk: int) -> None:
    """Garbage and valid frames: every frame must come out."""
    print(f"\nMixed stream: 1 KB of garbage before each AM550 frame, best of {repeats}")
    for size in (MEGABYTE, 10 * MEGABYTE):
        data, expected = mixed_stream(rng, size, 1024)
        run = best_of(repeats, partial(frame_stream, data, LinkLayer.AUTO, chunk))
        baseline = best_of(repeats, partial(find_flags, data, chunk))
        peak = peak_memory(data, LinkLayer.AUTO, chunk)
        print(
            f"{len(data) / MEGABYTE:5.1f} MB: {run.megabytes_per_second(len(data)):.1f}"
            f" MB/s ({run.seconds / baseline.seconds:.1f}x find), "
            f"{run.frames}/{expected} frames, peak {peak / 1024:.1f} KiB"
        )


def longest_frame_header() -> bytes:
    """An HDLC header with a valid HCS that announces the longest frame."""
    header = bytes([0xA0 | HDLC_MAX_LENGTH >> 8, HDLC_MAX_LENGTH & 0xFF])
    header += b"\xcf\x02\x23\x13"
    return b"\x7e" + header + crc16_x25(header).to_bytes(2, "little")


def report_worst_case(chunk: int) -> None:
    """Valid headers of the longest frame, back to back.

    Every candidate passes its HCS and then needs a CRC over 2 KB before it
    fails: the most work per input byte the framer can be made to do.
    """
    header = longest_frame_header()
    data = header * (MEGABYTE // len(header))
    run = frame_stream(data, LinkLayer.HDLC, chunk)
    print(
        f"\nWorst case: {len(header)}-byte headers announcing {HDLC_MAX_LENGTH + 2}"
        f"-byte frames, back to back: {run.megabytes_per_second(len(data)):.2f} MB/s"
        f" (a 115200-baud line delivers 0.0115 MB/s)"
    )


def main() -> None:
    """Parse the options and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=62056)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=CHUNK)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    report_random(rng, options.repeats, options.chunk)
    report_mixed(rng, options.repeats, options.chunk)
    report_worst_case(options.chunk)


if __name__ == "__main__":
    main()
