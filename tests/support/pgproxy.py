"""A TCP proxy between the application and PostgreSQL that can lose a COMMIT or its reply (tests only).

It reads the frontend side of the PostgreSQL wire protocol (v3) just enough to know, per connection, the
text of each statement (``Parse`` names a prepared statement, ``Bind`` runs one, ``Query`` is simple)
and so whether the current transaction wrote a row of a given table. When armed, the ``COMMIT`` of such
a transaction is either

* forwarded, and the server's reply dropped (:attr:`LoseCommit.REPLY`: the server committed, the client
  does not know), or
* not forwarded at all (:attr:`LoseCommit.REQUEST`: the server rolls back when the connection ends),

and both sides of that connection are then closed, as a network fault would end them. Everything else
is passed through byte for byte. SSL is refused at the proxy (the client goes on in clear text).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import re
from dataclasses import dataclass, field

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_TRANSACTION_END = re.compile(r"^\s*(COMMIT|ROLLBACK|END|ABORT)\b", re.IGNORECASE)
_TRANSACTION_BEGIN = re.compile(r"^\s*(BEGIN|START\s+TRANSACTION)\b", re.IGNORECASE)
_COMMIT = re.compile(r"^\s*(COMMIT|END)\s*;?\s*$", re.IGNORECASE)


class LoseCommit(enum.Enum):
    REPLY = "reply"  # the server commits; its answer never reaches the client
    REQUEST = "request"  # the COMMIT never reaches the server; it rolls back


@dataclass
class _Connection:
    statements: dict[str, str] = field(default_factory=dict)
    touched: bool = False  # the open transaction ran a statement that matches the armed pattern
    dropping: bool = False  # the server's bytes are discarded from now on
    dropped: asyncio.Event = field(default_factory=asyncio.Event)


def _cstrings(body: bytes, n: int) -> list[str]:
    parts = body.split(b"\x00", n)
    return [p.decode("utf-8", "replace") for p in parts[:n]]


@dataclass
class PgProxy:
    upstream_host: str
    upstream_port: int
    host: str = "127.0.0.1"
    port: int = 0
    #: How many COMMITs to lose from now on, how, and which transactions (a regular expression that one of
    #: their statements must match).
    armed: int = 0
    mode: LoseCommit = LoseCommit.REPLY
    pattern: re.Pattern[str] = re.compile(r"INSERT INTO booking_appointments\b")
    lost: list[LoseCommit] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> PgProxy:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, database_url: str) -> str:
        """``database_url`` with its host and port replaced by the proxy's."""
        return re.sub(r"@[^/]+/", f"@{self.host}:{self.port}/", database_url, count=1)

    def arm(self, times: int = 1, mode: LoseCommit = LoseCommit.REPLY, pattern: str | None = None) -> None:
        self.armed, self.mode = times, mode
        if pattern is not None:
            self.pattern = re.compile(pattern)

    async def close(self) -> None:
        """Stop listening and end every connection through the proxy (bounded: a few seconds at most)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), timeout=5.0)

    # -- plumbing ---------------------------------------------------------------------------------------

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            server_r, server_w = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        except OSError:
            client_w.close()
            self._tasks.discard(task)
            return
        conn = _Connection()
        pump = asyncio.create_task(self._server_to_client(server_r, client_w, conn))
        try:
            await self._client_to_server(client_r, client_w, server_w, conn)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            for w in (server_w, client_w):
                w.close()
            pump.cancel()
            with contextlib.suppress(BaseException):
                await pump
            self._tasks.discard(task)

    async def _server_to_client(
        self, server_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, conn: _Connection
    ) -> None:
        try:
            while data := await server_r.read(65536):
                if conn.dropping:
                    conn.dropped.set()
                    continue
                client_w.write(data)
                await client_w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            client_w.close()  # the server ended the connection (a Terminate, a fault): so does the client's

    async def _client_to_server(
        self,
        client_r: asyncio.StreamReader,
        client_w: asyncio.StreamWriter,
        server_w: asyncio.StreamWriter,
        conn: _Connection,
    ) -> None:
        # Start-up: untyped messages; SSL and GSS encryption are refused here, so the rest is readable.
        while True:
            head = await client_r.readexactly(4)
            body = await client_r.readexactly(int.from_bytes(head, "big") - 4)
            if int.from_bytes(body[:4], "big") in (_SSL_REQUEST, _GSSENC_REQUEST):
                client_w.write(b"N")
                await client_w.drain()
                continue
            server_w.write(head + body)
            await server_w.drain()
            break
        while True:
            kind = await client_r.readexactly(1)
            head = await client_r.readexactly(4)
            body = await client_r.readexactly(int.from_bytes(head, "big") - 4)
            sql: str | None = None
            if kind == b"Q":
                sql = _cstrings(body, 1)[0]
            elif kind == b"P":
                name, sql = _cstrings(body, 2)
                conn.statements[name] = sql
            elif kind == b"B":
                sql = conn.statements.get(_cstrings(body, 2)[1], "")
            if sql is not None:
                if kind == b"Q" and _COMMIT.match(sql) and conn.touched and self.armed > 0:
                    await self._lose(kind + head + body, server_w, conn)
                    return
                if _TRANSACTION_BEGIN.match(sql) or _TRANSACTION_END.match(sql):
                    conn.touched = False
                elif self.pattern.search(sql):
                    conn.touched = True
            server_w.write(kind + head + body)
            await server_w.drain()

    async def _lose(self, commit: bytes, server_w: asyncio.StreamWriter, conn: _Connection) -> None:
        self.armed -= 1
        self.lost.append(self.mode)
        if self.mode is LoseCommit.REPLY:
            conn.dropping = True
            server_w.write(commit)
            await server_w.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.dropped.wait(), timeout=5.0)  # the server has answered
