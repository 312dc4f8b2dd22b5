"""The fault proxy against a local echo server, and the held SQLite lock."""

from __future__ import annotations

import socket
import socketserver
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fusionrec.testing.faults import FaultProxy, sqlite_write_lock

pytestmark = pytest.mark.timeout(60)  # hang guard: a broken proxy must not stall the run
QUIET_S = 0.3  # how long a hung connection is watched for bytes that must not come


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with FaultProxy(server.server_address[:2]) as started:  # type: ignore[arg-type]
        yield started
    server.shutdown()
    server.server_close()


def connect(proxy: FaultProxy) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    return client


def echo(client: socket.socket, payload: bytes) -> bytes:
    client.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = client.recv(4096)
        if not chunk:
            break
        received += chunk
    return received


def test_pass_forwards_both_ways(proxy: FaultProxy) -> None:
    with connect(proxy) as client:
        assert echo(client, b"hello") == b"hello"
        assert echo(client, b"x" * 200_000) == b"x" * 200_000
    assert proxy.accepted == 1


def test_hang_accepts_and_answers_nothing_until_it_heals(proxy: FaultProxy) -> None:
    with connect(proxy) as open_before:
        assert echo(open_before, b"a") == b"a"
        proxy.set_mode("hang")
        open_before.sendall(b"held")
        with connect(proxy) as opened_during:  # the connection is accepted
            opened_during.sendall(b"also held")
            for client in (open_before, opened_during):
                client.settimeout(QUIET_S)
                with pytest.raises(TimeoutError):
                    client.recv(100)
            proxy.set_mode("pass")
            for client, payload in ((open_before, b"held"), (opened_during, b"also held")):
                client.settimeout(10)
                assert client.recv(100) == payload  # held bytes flow once the link heals


def ending(client: socket.socket | None, proxy: FaultProxy) -> str:
    """How a connection ends: "closed" (FIN) or "reset" (RST, seen on connect or on read)."""
    try:
        with client or connect(proxy) as opened:
            return "closed" if opened.recv(100) == b"" else "data"
    except ConnectionResetError:
        return "reset"


@pytest.mark.parametrize(("mode", "end"), [("drop", "closed"), ("reset", "reset")])
def test_drop_and_reset_close_open_and_new_connections(proxy: FaultProxy, mode: str, end: str) -> None:
    open_before = connect(proxy)
    assert echo(open_before, b"a") == b"a"
    proxy.set_mode(mode)  # type: ignore[arg-type]
    assert ending(open_before, proxy) == end
    assert ending(None, proxy) == end
    assert proxy.active == 0
    proxy.set_mode("pass")
    with connect(proxy) as client:
        assert echo(client, b"back") == b"back"


def test_delay_adds_latency_in_each_direction(proxy: FaultProxy) -> None:
    proxy.set_mode("delay", delay_s=0.2)
    with connect(proxy) as client:
        started = time.monotonic()
        assert echo(client, b"slow") == b"slow"
        assert time.monotonic() - started >= 0.2  # a lower bound: the bytes cannot come back sooner
    assert proxy.delay_s == 0.2


def test_bad_modes_and_delays_are_refused(proxy: FaultProxy) -> None:
    with pytest.raises(ValueError, match="unknown; use one of"):
        proxy.set_mode("melt")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="delay_s is -1"):
        proxy.set_mode("delay", delay_s=-1)
    with pytest.raises(RuntimeError, match="not started"):
        FaultProxy(("127.0.0.1", 1)).set_mode("hang")


def test_an_unreachable_upstream_closes_the_client(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with FaultProxy(("127.0.0.1", port)) as proxy, connect(proxy) as client:
        assert client.recv(100) == b""


def test_sqlite_write_lock_blocks_writers_not_readers(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path, isolation_level=None) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (x INTEGER)")
        setup.execute("INSERT INTO t VALUES (1)")
    other = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    with sqlite_write_lock(path):
        assert other.execute("SELECT count(*) FROM t").fetchone() == (1,)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("INSERT INTO t VALUES (2)")
    other.execute("INSERT INTO t VALUES (2)")
    assert other.execute("SELECT count(*) FROM t").fetchone() == (2,)
    other.close()
