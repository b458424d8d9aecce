"""The embedded store in a process of its own, so inserting and converting run side by side.

chDB holds the GIL for a whole statement: in the sink's own process an insert stops the
consumer from fetching and converting the next batch. Here the engine lives in a child process
that owns the chDB directory and runs the statements it is sent over a pipe; the sink talks to
it through ``EngineClient``, which offers the part of clickhouse-connect's ``Client`` the sink
uses. The child ends when the pipe closes, so a sink killed with -9 leaves no owner behind.

Reads of the SQL endpoint travel on a second pipe to a second connection of the same engine,
served by a thread of their own (chDB lets go of the GIL while a statement runs), so a long
read does not hold up the sink's inserts.
"""

from __future__ import annotations

import pickle
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from clickhouse_connect.driver.exceptions import DatabaseError

from base.logs import configure_logging
from sinks.clickhouse import Store, connect, is_embedded
from sinks.settings import SinkSettings

START_TIMEOUT_S = 120.0
# The child imports this module by name, so its answers unpickle as this module's classes.
CHILD = "from sinks.engine import main; main()"


@dataclass(frozen=True)
class Rows:
    """A query's answer as the sink reads it: ``result_rows`` and ``column_names``."""

    result_rows: list[tuple[Any, ...]]
    column_names: tuple[str, ...]


class EngineGone(RuntimeError):
    """The engine process ended: not a wait-and-retry outage, the sink process must restart."""


def serve(dsn: str, conn: Connection, read_conn: Connection) -> None:
    """The child: open the store twice (writes, reads), answer each pipe until the first ends."""
    try:
        client = connect(dsn)
        reader = connect(dsn)
    except Exception as exc:  # the reason travels back; the parent raises it
        conn.send(("error", portable(exc)))
        return
    conn.send(("ok", None))
    reads = threading.Thread(target=answer_calls, args=(reader, read_conn), daemon=True)
    reads.start()
    answer_calls(client, conn)
    read_conn.close()
    reads.join(timeout=5)
    reader.close()
    client.close()


def answer_calls(client: Store, conn: Connection) -> None:
    """Answer ``(method, args, kwargs)`` on ``conn`` with ``client`` until EOF."""
    while True:
        try:
            method, args, kwargs = conn.recv()
        except (EOFError, OSError):
            break
        try:
            result = getattr(client, method)(*args, **kwargs)
            if method == "query":
                result = Rows(list(result.result_rows), tuple(result.column_names))
            answer = ("ok", result)
        except Exception as exc:
            answer = ("error", portable(exc))
        try:
            conn.send(answer)
        except OSError:  # the sink is gone
            break


def portable(exc: Exception) -> Exception:
    """``exc`` if it survives pickling, else a DatabaseError with its message."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return DatabaseError(f"{type(exc).__name__}: {exc}")


class Channel:
    """One pipe to the engine process; statements on it run one at a time, from any thread."""

    def __init__(self, conn: Connection, process: subprocess.Popen[bytes]) -> None:
        self.conn = conn
        self.process = process
        self.lock = threading.Lock()

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            try:
                self.conn.send((method, args, kwargs))
            except (OSError, ValueError) as exc:
                raise EngineGone(f"the ClickHouse engine process is gone ({exc})") from exc
            return self.answer()

    def answer(self) -> Any:
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError) as exc:
            code = self.process.poll()
            raise EngineGone(f"the ClickHouse engine process ended (exit code {code})") from exc
        if status == "error":
            raise value
        return value


class ChannelStore:
    """The part of clickhouse-connect's ``Client`` the sink uses, run over one channel."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def command(self, cmd: str, parameters: Any = None, **kwargs: Any) -> Any:
        return self.channel.call("command", cmd, parameters, **kwargs)

    def query(self, query: str, parameters: Any = None, **kwargs: Any) -> Rows:
        rows: Rows = self.channel.call("query", query, parameters, **kwargs)
        return rows

    def raw_query(self, query: str, parameters: Any = None, **kwargs: Any) -> bytes:
        data: bytes = self.channel.call("raw_query", query, parameters, **kwargs)
        return data

    def insert(
        self, table: str, data: Sequence[Sequence[Any]], column_names: Sequence[str], **kwargs: Any
    ) -> Any:
        return self.channel.call("insert", table, data, column_names=column_names, **kwargs)

    def raw_insert(
        self, table: str, column_names: Sequence[str], insert_block: bytes, *, fmt: str
    ) -> Any:
        return self.channel.call("raw_insert", table, column_names, insert_block, fmt=fmt)

    def close(self) -> None:
        """Nothing to close on a channel of its own; ``EngineClient.close`` ends the process."""


class EngineClient(ChannelStore):
    """The engine process: the sink's statements on one channel, ``reads`` on another."""

    def __init__(self, dsn: str) -> None:
        ours, theirs = socket.socketpair()
        ours_read, theirs_read = socket.socketpair()
        fds = [theirs.fileno(), theirs_read.fileno()]
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, dsn, *map(str, fds)], pass_fds=fds
        )
        theirs.close()
        theirs_read.close()
        self.conn = Connection(ours.detach())
        self.read_conn = Connection(ours_read.detach())
        super().__init__(Channel(self.conn, self.process))
        self.reads = ChannelStore(Channel(self.read_conn, self.process))
        try:
            if not self.conn.poll(START_TIMEOUT_S):
                raise TimeoutError(f"the ClickHouse engine process did not open {dsn} in time")
            self.channel.answer()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the pipes (the child then ends) and wait for the child to let go of the store."""
        self.conn.close()
        self.read_conn.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def open_store(dsn: str) -> Store:
    """The sink's way in: an engine process for an embedded store, a client for a server."""
    return EngineClient(dsn) if is_embedded(dsn) else connect(dsn)


def reads_of(store: Store) -> Store:
    """Where the SQL endpoint's reads go: the engine's read channel, else the store itself.

    A server's client (clickhouse-connect over HTTP) runs concurrent queries on its own pool.
    """
    return store.reads if isinstance(store, EngineClient) else store


def main() -> None:
    """The child's entry (``python -c CHILD DSN FD READ_FD``): serve DSN over both sockets."""
    configure_logging("sink-engine", SinkSettings().log_format)
    dsn, fd, read_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    serve(dsn, Connection(fd), Connection(read_fd))
