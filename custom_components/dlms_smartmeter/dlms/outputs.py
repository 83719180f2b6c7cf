"""Where simulated frames go: a file or a pty, a stream, the clients of a TCP server."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .simulator import MeterSimulator


class FrameSink(Protocol):
    """Where :func:`stream_frames` writes frames."""

    async def send(self, frame: bytes) -> None:
        """Deliver one frame (or drop it if the receiver cannot take it)."""

    async def aclose(self) -> None:
        """Release the destination."""


class FileSink:
    """Frames to a file descriptor: a file, standard output or a pty master.

    A frame that does not fit (a pty whose reader stopped reading) is dropped,
    as a meter's push is lost when nobody listens.
    """

    def __init__(self, fd: int, *, close: bool = False) -> None:
        """Write to ``fd``; close it in :meth:`aclose` if ``close``."""
        self.fd = fd
        self.dropped = 0
        self._close = close

    async def send(self, frame: bytes) -> None:
        """Write the frame; count it as dropped if it does not fit."""
        view = memoryview(frame)
        while view:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                self.dropped += 1
                return
            view = view[written:]

    async def aclose(self) -> None:
        """Close the descriptor if this sink owns it."""
        if self._close:
            os.close(self.fd)


class StreamSink:
    """Frames to a binary stream such as ``sys.stdout.buffer``.

    A reader that goes away (a closed pipe) ends the stream with
    ``BrokenPipeError``.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        """Write to ``stream``; it stays open (it belongs to the caller)."""
        self._stream = stream

    async def send(self, frame: bytes) -> None:
        """Write and flush the frame."""
        self._stream.write(frame)
        self._stream.flush()

    async def aclose(self) -> None:
        """Flush nothing more: the stream belongs to the caller."""


class TcpFrameServer:
    """A TCP server on 127.0.0.1 that sends every frame to each connected client.

    Readers connect like to a serial-to-network adapter (``socket://`` URL).
    A client that does not keep up (more than ``max_backlog`` bytes pending)
    is disconnected.
    """

    def __init__(self, port: int = 0, *, max_backlog: int = 65536) -> None:
        """Prepare a server; ``port`` 0 picks a free one (see :attr:`port`)."""
        self._requested_port = port
        self._max_backlog = max_backlog
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = port

    @property
    def clients(self) -> int:
        """Number of connected clients."""
        return len(self._clients)

    async def start(self) -> None:
        """Listen on 127.0.0.1."""
        self._server = await asyncio.start_server(
            self._connected, "127.0.0.1", self._requested_port
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._clients.add(writer)
        try:
            # Whatever a client sends is ignored; its end of stream ends it.
            while await reader.read(1024):
                pass
        except OSError:
            pass
        finally:
            self._clients.discard(writer)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            if task is not None:
                self._handlers.discard(task)

    async def send(self, frame: bytes) -> None:
        """Send the frame to every client."""
        for writer in list(self._clients):
            if writer.is_closing():
                continue
            if writer.transport.get_write_buffer_size() > self._max_backlog:
                # Dropped at once: closing would wait for the backlog to drain.
                self._clients.discard(writer)
                writer.transport.abort()
                continue
            writer.write(frame)

    async def aclose(self) -> None:
        """Disconnect the clients and stop listening."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._clients):
            if writer.transport.get_write_buffer_size():
                writer.transport.abort()
            else:
                writer.close()
        self._clients.clear()
        # Let every connection handler finish, so that no task outlives us.
        if self._handlers:
            await asyncio.wait(set(self._handlers))
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None


async def stream_frames(
    simulator: MeterSimulator,
    sink: FrameSink,
    *,
    interval: float = 1.0,
    count: int | None = None,
) -> int:
    """Write a frame every ``interval`` seconds (wall clock) until ``count`` frames.

    Runs until cancelled when ``count`` is ``None``. Returns the number of
    frames written. The interval is independent of the meter's push interval,
    so a test can run a day of meter time in seconds.
    """
    loop = asyncio.get_running_loop()
    due = loop.time()
    sent = 0
    while count is None or sent < count:
        await sink.send(simulator.next_frame())
        sent += 1
        if count is not None and sent >= count:
            break
        due += interval
        await asyncio.sleep(max(0.0, due - loop.time()))
    return sent
