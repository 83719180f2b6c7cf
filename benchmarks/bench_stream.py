"""Framer and decoder under 100 MB of mixed garbage and valid frames.

Run from the repository root, inside the virtual environment::

    python benchmarks/bench_stream.py                # 2 x 100 MB, about 2 minutes
    python benchmarks/bench_stream.py --megabytes 10

Two streams of random garbage (fixed seed) and valid Wiener Netze AM550
frames (from the simulator, each with its own invocation counter), fed to one
:class:`MeterDecoder` in 4 KB chunks, the way a serial reader hands them
over:

* mostly garbage: 0-2 KB of random bytes before each frame (a misplaced
  read head, a wrong baud rate);
* mostly frames: 0-64 bytes of random bytes before each frame, and every
  tenth frame damaged (one flipped bit, or its tail lost).

Printed per stream: throughput of the whole pipeline (framing, decryption,
decoding) in MB/s and frames/s, the same for the framer alone and for a
``bytes.find`` scan for the HDLC flag (baselines measured in the same run),
whether every valid frame came out as a reading, the error counters, and
the peak memory the decoder allocates while it works (tracemalloc, in a
separate pass; the input itself is allocated before).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
import random
import sys
import time
import tracemalloc
from typing import TYPE_CHECKING, Final

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.dlms_smartmeter.dlms import MeterDecoder, Reading, StreamFramer
from custom_components.dlms_smartmeter.dlms.simulator import MeterSimulator

if TYPE_CHECKING:
    from collections.abc import Callable

MEGABYTE: Final = 1_000_000
CHUNK: Final = 4096
KEY: Final = bytes.fromhex("5D3A94C2E81F07B6A4D9C3E2F1B08A76")
"""Key of the simulated meter (made up for this benchmark)."""
POOL: Final = 1000
"""Distinct valid frames; the stream cycles through them."""


@dataclass(frozen=True, slots=True)
class Stream:
    """A test stream and what is in it."""

    name: str
    data: bytes
    valid: int
    damaged: int


@dataclass(frozen=True, slots=True)
class Pass:
    """One timed pass over a stream."""

    seconds: float
    readings: int
    errors: dict[str, int]


def frame_pool(count: int) -> list[bytes]:
    """``count`` consecutive AM550 frames of one simulated meter."""
    simulator = MeterSimulator(KEY, system_title=b"ISKit\x0a\x0b\x0c", seed=1)
    return [simulator.next_frame() for _ in range(count)]


def damage(frame: bytes, rng: random.Random) -> bytes:
    """A bit flipped inside the frame, or its tail lost."""
    if rng.random() < 0.5:
        broken = bytearray(frame)
        broken[rng.randrange(11, len(frame) - 3)] ^= 1 << rng.randrange(8)
        return bytes(broken)
    return frame[: -rng.randrange(2, 40)]


def build_stream(
    name: str,
    size: int,
    pool: list[bytes],
    rng: random.Random,
    *,
    garbage: int,
    damaged_every: int,
) -> Stream:
    """Random garbage (up to ``garbage`` bytes) before each frame, to ``size``."""
    parts: list[bytes] = [pool[0]]  # a valid frame first: the link layer is known
    total, valid, damaged = len(pool[0]), 1, 0
    while total < size:
        noise = rng.randbytes(rng.randrange(garbage + 1))
        frame = pool[(valid + damaged) % len(pool)]
        if damaged_every and (valid + damaged) % damaged_every == 0:
            frame = damage(frame, rng)
            damaged += 1
        else:
            valid += 1
        parts += [noise, frame]
        total += len(noise) + len(frame)
    # A valid frame last: a damaged frame before it is then complete.
    parts.append(pool[1])
    return Stream(name, b"".join(parts), valid + 1, damaged)


def decode(data: bytes, chunk: int) -> Pass:
    """The whole pipeline over ``data``, in chunks."""
    decoder = MeterDecoder(KEY)
    readings = 0
    started = time.perf_counter()
    for index in range(0, len(data), chunk):
        for item in decoder.feed(data[index : index + chunk]):
            readings += isinstance(item, Reading)
    decoder.flush()
    seconds = time.perf_counter() - started
    stats = decoder.stats.as_dict()
    errors = {
        name: count
        for name, count in stats.items()
        if name not in {"bytes_received", "frames", "readings"} and count
    }
    return Pass(seconds, readings, errors)


def frame_only(data: bytes, chunk: int) -> Pass:
    """Baseline: the framer alone (no decryption, no decoding)."""
    framer = StreamFramer()
    frames = 0
    started = time.perf_counter()
    for index in range(0, len(data), chunk):
        frames += sum(1 for _ in framer.feed(data[index : index + chunk]))
    framer.flush()
    return Pass(time.perf_counter() - started, frames, {})


def find_flags(data: bytes, chunk: int) -> Pass:
    """Baseline: every 0x7E found with ``bytes.find``, chunk by chunk."""
    found = 0
    started = time.perf_counter()
    for index in range(0, len(data), chunk):
        piece = data[index : index + chunk]
        position = piece.find(0x7E)
        while position != -1:
            found += 1
            position = piece.find(0x7E, position + 1)
    return Pass(time.perf_counter() - started, found, {})


def peak_memory(measure: Callable[[], object]) -> int:
    """Peak bytes allocated while ``measure`` runs (beyond what existed before)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        measure()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def report(stream: Stream, chunk: int) -> None:
    """Time the pipeline and the baselines on one stream; print the figures."""
    size = len(stream.data) / MEGABYTE
    print(
        f"\n{stream.name}: {size:.1f} MB, {stream.valid:,} valid frames, "
        f"{stream.damaged:,} damaged, {chunk}-byte chunks"
    )
    full = decode(stream.data, chunk)
    framer = frame_only(stream.data, chunk)
    scan = find_flags(stream.data, chunk)
    for label, measured in (
        ("framer + decoder", full),
        ("framer alone", framer),
        ("bytes.find 0x7E", scan),
    ):
        print(
            f"  {label:<17} {size / measured.seconds:8.1f} MB/s "
            f"({measured.seconds / scan.seconds:5.1f}x the time of bytes.find)"
        )
    print(f"  {stream.valid / full.seconds:,.0f} valid frames decoded per second")
    print(
        f"  decoding costs {full.seconds / framer.seconds:.1f}x framing alone; "
        f"{full.seconds / stream.valid * 1e6:.1f} µs per valid frame all in"
    )
    verdict = "all" if full.readings == stream.valid else "NOT ALL"
    print(f"  readings: {full.readings:,} of {stream.valid:,} valid frames ({verdict})")
    print(f"  errors counted: {full.errors}")
    peak = peak_memory(lambda: decode(stream.data, chunk))
    print(f"  peak memory while decoding (tracemalloc): {peak / 1024:.0f} KiB")


def main() -> None:
    """Parse the options, build the streams and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=CHUNK)
    parser.add_argument("--seed", type=int, default=62056)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    size = options.megabytes * MEGABYTE
    started = time.perf_counter()
    pool = frame_pool(POOL)
    streams = [
        build_stream("mostly garbage", size, pool, rng, garbage=2048, damaged_every=0),
        build_stream("mostly frames", size, pool, rng, garbage=64, damaged_every=10),
    ]
    print(f"Built {len(streams)} streams in {time.perf_counter() - started:.1f} s")
    for stream in streams:
        report(stream, options.chunk)


if __name__ == "__main__":
    main()
