"""Database faults on demand: a TCP proxy that passes, hangs, drops, delays or resets, and a held SQLite lock.

Put :class:`FaultProxy` between a service and its database (point the
service's URL at the proxy's port) to see what the service does when the
database stops answering, goes away or slows down; switch the mode while
the service runs. The proxy runs its own event loop in a daemon thread, so
plain blocking code (a test, a benchmark) drives it.

Modes:

* ``pass``: bytes flow both ways untouched.
* ``hang``: connections are accepted and nothing is forwarded in either
  direction (a database behind a dead link or a stuck proxy). Held bytes
  flow again when the mode changes back to ``pass`` or ``delay``, as after
  a healed network partition.
* ``drop``: every open connection is closed (FIN) and new ones are closed
  as soon as they are accepted (a database that went away).
* ``reset``: the same with a TCP reset (RST) instead of a close.
* ``delay``: every chunk arrives ``delay_s`` later than it was sent, in
  both directions, so a query's round trip takes ``2 * delay_s`` longer.

:func:`sqlite_write_lock` holds an exclusive lock on a SQLite database from
another connection: writers wait for their busy timeout and then fail with
"database is locked"; in WAL mode readers go on.

Example:
    >>> with FaultProxy(("127.0.0.1", 5432)) as proxy:  # doctest: +SKIP
    ...     url = f"postgresql+psycopg://root@127.0.0.1:{proxy.port}/test"
    ...     proxy.set_mode("hang")  # queries through the proxy now wait forever
    ...     proxy.set_mode("pass")  # and complete
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import struct
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, get_args

FaultMode = Literal["pass", "hang", "drop", "delay", "reset"]
FAULT_MODES: tuple[str, ...] = get_args(FaultMode)
_CHUNK = 65_536
_QUEUED_CHUNKS = 64  # per direction; a full queue stops reading, so a hang pushes back on the sender


@dataclass(eq=False)  # compared and hashed by identity: links live in a set
class _Link:
    """One client connection and its upstream connection (None until connected)."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def close(self, reset: bool = False) -> None:
        for task in self.tasks:
            task.cancel()
        _close(self.client, reset)
        if self.upstream is not None:
            _close(self.upstream, reset=False)


class FaultProxy:
    """A loopback TCP proxy in front of ``upstream`` whose fault mode can be switched at run time.

    Args:
        upstream: ``(host, port)`` of the real server, e.g. ``("127.0.0.1", 5432)``.
        port: the port to listen on (0: a free one, read it from :attr:`port` after :meth:`start`).
        delay_s: the one-way latency of the ``delay`` mode.

    Attributes:
        port: the listening port, once started.
        accepted: connections accepted so far.
    """

    def __init__(self, upstream: tuple[str, int], *, port: int = 0, delay_s: float = 0.5) -> None:
        if delay_s < 0:
            raise ValueError(f"delay_s is {delay_s} but must be >= 0 seconds")
        self.upstream, self.port, self.delay_s = upstream, port, delay_s
        self.mode: FaultMode = "pass"
        self.accepted = 0
        self._links: set[_Link] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None  # clear while hanging

    # --- control (any thread) ----------------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Start listening on 127.0.0.1; returns self."""
        if self._thread is not None:
            raise RuntimeError("this FaultProxy is already started; make a new one to listen again")
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), name="fault-proxy", daemon=True)
        self._thread.start()
        if not started.wait(10) or self._server is None:
            raise RuntimeError(f"the fault proxy could not listen on 127.0.0.1:{self.port}")
        return self

    def set_mode(self, mode: FaultMode, delay_s: float | None = None) -> None:
        """Switch to ``mode`` (see the module docstring); it applies to open and new connections on return."""
        if mode not in FAULT_MODES:
            raise ValueError(f"fault mode {mode!r} is unknown; use one of {list(FAULT_MODES)}")
        if delay_s is not None and delay_s < 0:
            raise ValueError(f"delay_s is {delay_s} but must be >= 0 seconds")
        self._run(self._apply(mode, delay_s))

    @property
    def active(self) -> int:
        """Connections open now."""
        return len(self._links)

    def stop(self) -> None:
        """Close every connection and stop listening."""
        if self._loop is None or self._thread is None or not self._thread.is_alive():
            return
        self._run(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("the fault proxy is not started; call start() or use it as a context manager")
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=90)

    # --- the proxy's own thread ----------------------------------------------------------------------

    def _serve(self, started: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        try:
            self._flowing = asyncio.Event()
            self._flowing.set()
            self._server = self._loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", self.port))
            self.port = int(self._server.sockets[0].getsockname()[1])
        finally:
            started.set()
        self._loop.run_forever()
        self._loop.close()

    async def _apply(self, mode: FaultMode, delay_s: float | None) -> None:
        assert self._flowing is not None
        self.mode = mode
        if delay_s is not None:
            self.delay_s = delay_s
        if mode == "hang":
            self._flowing.clear()
        else:
            self._flowing.set()
        if mode in ("drop", "reset"):
            for link in list(self._links):
                link.close(reset=mode == "reset")
            self._links.clear()

    async def _shutdown(self) -> None:
        assert self._server is not None and self._flowing is not None
        self._server.close()
        self._flowing.set()  # connections waiting out a hang wake up and end
        for link in list(self._links):
            link.close()
        self._links.clear()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        if others:  # closed links' tasks end on their own, so none is destroyed while pending (a busy machine
            await asyncio.wait(others, timeout=60)  # may take seconds to run them: the wait ends when they do)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        self.accepted += 1
        if self.mode in ("drop", "reset"):
            _close(writer, reset=self.mode == "reset")
            return
        link = _Link(writer)
        self._links.add(link)
        try:
            await self._flowing.wait()  # hang: accepted, never answered
            if link not in self._links:  # dropped or reset while it waited
                return
            upstream_reader, link.upstream = await asyncio.open_connection(*self.upstream)
        except OSError:
            link.close()
            self._links.discard(link)
            return
        link.tasks = [
            asyncio.create_task(self._pipe(reader, link.upstream, link)),
            asyncio.create_task(self._pipe(upstream_reader, writer, link)),
        ]

    async def _pipe(self, source: asyncio.StreamReader, target: asyncio.StreamWriter, link: _Link) -> None:
        """Copy one direction through a queue, so a delay is a latency and not a throughput cap."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(_QUEUED_CHUNKS)
        sender = asyncio.create_task(self._send(queue, target))
        try:
            while chunk := await source.read(_CHUNK):
                await queue.put((time.monotonic(), chunk))
            await queue.put((time.monotonic(), b""))  # end of stream, after what is queued
            await sender
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            sender.cancel()
            if link in self._links:
                link.close()
                self._links.discard(link)

    async def _send(self, queue: asyncio.Queue[tuple[float, bytes]], target: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        while True:
            sent_at, chunk = await queue.get()
            await self._flowing.wait()
            if self.mode == "delay":
                await asyncio.sleep(max(0.0, sent_at + self.delay_s - time.monotonic()))
                await self._flowing.wait()  # the mode may have changed to hang meanwhile
            if not chunk:
                return
            target.write(chunk)
            await target.drain()


def _close(writer: asyncio.StreamWriter, reset: bool) -> None:
    """Close a connection; with ``reset`` the peer gets a TCP RST instead of a FIN."""
    if reset:
        sock = writer.get_extra_info("socket")
        with suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return
    writer.close()


@contextmanager
def sqlite_write_lock(path: str | Path) -> Iterator[sqlite3.Connection]:
    """Hold an exclusive lock on the SQLite database at ``path`` until the block ends.

    Other connections' writes wait for their busy timeout and then fail
    with "database is locked"; in WAL mode their reads go on.

    Example:
        >>> with sqlite_write_lock("events.sqlite3"):  # doctest: +SKIP
        ...     ...  # writes of the service time out here
    """
    connection = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        yield connection
        connection.execute("ROLLBACK")
    finally:
        connection.close()


__all__ = ["FAULT_MODES", "FaultMode", "FaultProxy", "sqlite_write_lock"]
