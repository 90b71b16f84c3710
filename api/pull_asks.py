"""Who is pulling, asked of PostgreSQL for every waiting pull in one statement.

A pull through a pooled connection made three round trips to the server (the pool's
ping, the question, the rollback when the connection went back), each from a thread
that the event loop handed it to; with the database's own processes on the same cores
most of a pull went to waiting and switching. Here each server process keeps one
connection of its own in autocommit, driven by the event loop: the pulls that arrive
while a question is out are asked together in the next one, as rows of arrays, so a
morning's storm costs a round trip per batch, not three per pull.

The loop never waits on the database: a question that takes longer than the connect
timeout fails every pull waiting for it with the same error a pooled connection gives
(503), and the connection is dropped and made again for the next.
"""

import asyncio
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from sqlalchemy import Date, Engine, Integer, Select, String, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import bindparam

from core.clock import utcnow
from core.db import PG_CONNECT_TIMEOUT_S
from core.models import DeviceToken
from core.types import UTCDateTime
from scheduler.models import Cluster, Playlist, Station

# A batch no larger than this, so one storm's first answers are not held behind a
# statement of thousands.
MOST_PER_QUESTION = 500

_ASKED = (
    func.unnest(
        bindparam("digests", type_=ARRAY(String)),
        bindparam("codes", type_=ARRAY(String)),
        bindparam("days", type_=ARRAY(Date)),
    )
    .table_valued("digest", "code", "day", with_ordinality="n")
    .render_derived(name="asked")
)

# What the fast path reads of a pull: who asks, the station they name, that day's ETag.
ASKER_COLUMNS = (
    DeviceToken.id,
    DeviceToken.station_id,
    DeviceToken.revoked_at,
    DeviceToken.last_used_at,
    Cluster.code,
    Station.id,
    Playlist.etag,
    Playlist.version,
    Playlist.generated_at,
)


def with_asked_day(query: Select, *, code: Any, day: Any) -> Select:
    """A question about a device token joined to the station named and its day."""
    return (
        query.join(Station, Station.code == code)
        .outerjoin(Cluster, Cluster.id == DeviceToken.cluster_id)
        .outerjoin(Playlist, (Playlist.station_id == Station.id) & (Playlist.day == day))
    )


# The pulls waiting, each with its number among them.
_MANY = with_asked_day(
    select(_ASKED.c.n, *ASKER_COLUMNS)
    .select_from(_ASKED)
    .join(DeviceToken, DeviceToken.token_hash == _ASKED.c.digest),
    code=_ASKED.c.code,
    day=_ASKED.c.day,
)


_DAYS_ASKED = (
    func.unnest(
        bindparam("station_ids", type_=ARRAY(Integer)),
        bindparam("days", type_=ARRAY(Date)),
    )
    .table_valued("station_id", "day", with_ordinality="n")
    .render_derived(name="asked")
)

# The days waiting to be read, each with its number among them: the columns of a day's
# row a device's document is made of.
_DAYS = (
    select(
        _DAYS_ASKED.c.n,
        Playlist.etag,
        Playlist.version,
        Playlist.body,
        Playlist.generated_at,
        Playlist.frozen_at,
    )
    .select_from(_DAYS_ASKED)
    .join(
        Playlist,
        (Playlist.station_id == _DAYS_ASKED.c.station_id) & (Playlist.day == _DAYS_ASKED.c.day),
    )
)


class _Batches:
    """Questions of one kind, those waiting asked together as rows of arrays."""

    def __init__(self, asker: "PullAsker", sql: str, names: tuple[str, ...]) -> None:
        self.asker, self.sql, self.names = asker, sql, names
        self.waiting: list[tuple[tuple, asyncio.Future]] = []
        self.asking: asyncio.Task | None = None

    async def ask(self, values: tuple) -> tuple | None:
        """The row answering these values (without its number), or None."""
        answer = asyncio.get_running_loop().create_future()
        self.waiting.append((values, answer))
        if self.asking is None or self.asking.done():
            self.asking = asyncio.create_task(self._ask_all())
        try:
            # Counted from its own arrival: a question already out may be slow for it.
            return await asyncio.wait_for(answer, self.asker.timeout_s)
        except TimeoutError as exc:
            raise _as_trouble(self.sql, exc) from None

    async def _ask_all(self) -> None:
        # Everything that waits is asked; what arrives meanwhile waits for the next round.
        while self.waiting:
            batch = self.waiting[:MOST_PER_QUESTION]
            del self.waiting[:MOST_PER_QUESTION]
            params = {name: [values[i] for values, _ in batch] for i, name in enumerate(self.names)}
            try:
                found = await self.asker.run_timed(self.sql, params)
            except Exception as trouble:
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(trouble)
                continue
            rows = {row[0]: row[1:] for row in found}
            for n, (_, answer) in enumerate(batch, start=1):
                if not answer.done():
                    answer.set_result(rows.get(n))


@dataclass(frozen=True)
class DayRow:
    """A stored day as the device document reads it (see `playlist_document`)."""

    etag: str
    version: int
    body: dict[str, Any]
    generated_at: datetime
    frozen_at: datetime | None


class PullAsker:
    """One process's questions to PostgreSQL about who is pulling, asked in batches."""

    def __init__(self, engine: Engine, *, timeout_s: float = PG_CONNECT_TIMEOUT_S) -> None:
        dialect = engine.dialect
        self.moment = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
        args, options = dialect.create_connect_args(engine.url)
        self.connect_args: dict[str, Any] = {"connect_timeout": PG_CONNECT_TIMEOUT_S} | options
        self.connect_args.update(zip(("conninfo",), args, strict=False))
        self.timeout_s = timeout_s
        self.sql = {
            "pulls": str(_MANY.compile(dialect=dialect)),
            "days": str(_DAYS.compile(dialect=dialect)),
        }
        self.connection: psycopg.AsyncConnection | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._this_loop(None)

    async def ask(self, *, digest: str, code: str, day: date) -> tuple | None:
        """The fast path's row for this pull, or None."""
        self._this_loop(asyncio.get_running_loop())
        return await self.pulls.ask((digest, code, day))

    async def day(self, *, station_id: int, day: date) -> DayRow | None:
        """A station's stored day, or None."""
        self._this_loop(asyncio.get_running_loop())
        row = await self.days.ask((station_id, day))
        if row is None:
            return None
        etag, version, body, made_at, frozen_at = row
        return DayRow(etag, version, body, self.moment(made_at), self.moment(frozen_at))

    def _this_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        # A connection and its lock serve the loop they were made on; a server has one
        # loop per process, a test client may start a new one for each request.
        if loop is self.loop and loop is not None:
            return
        self._drop()
        self.loop = loop
        self.pulls = _Batches(self, self.sql["pulls"], ("digests", "codes", "days"))
        self.days = _Batches(self, self.sql["days"], ("station_ids", "days"))
        self.connecting = asyncio.Lock()

    async def warm(self) -> None:
        """Connect and ask once, so the first pulls of a storm do not wait for it."""
        today = utcnow().date()
        await self.ask(digest="", code="", day=today)
        await self.day(station_id=0, day=today)

    async def close(self) -> None:
        """Stop asking and close the connection."""
        for batches in (self.pulls, self.days):
            if batches.asking is not None:
                batches.asking.cancel()
        self._drop()

    async def run_timed(self, sql: str, params: dict[str, Any]) -> list[tuple]:
        """The statement's rows, waited for no longer than the connect timeout."""
        question = asyncio.ensure_future(self._question(sql, params))
        await asyncio.wait({question}, timeout=self.timeout_s)
        if not question.done():
            # Left to end on its own: cancelling tells the server in the background,
            # which a stalled server may take as long again to hear.
            self._abandon(question)
            raise _as_trouble(sql, TimeoutError("no answer within the connect timeout"))
        exc = question.exception()
        if exc is not None:
            if isinstance(exc, psycopg.OperationalError | OSError):
                self._drop()
            raise _as_trouble(sql, exc)
        return question.result()

    async def _question(self, sql: str, params: dict[str, Any]) -> list[tuple]:
        async with self.connecting:
            if self.connection is None or self.connection.closed:
                self.connection = await psycopg.AsyncConnection.connect(
                    **self.connect_args, autocommit=True
                )
        cursor = await self.connection.execute(sql, params)
        return await cursor.fetchall()

    def _abandon(self, question: asyncio.Future) -> None:
        connection, self.connection = self.connection, None
        question.cancel()
        if connection is not None:
            question.add_done_callback(lambda _: connection.pgconn.finish())
        # Its outcome is known already (a timeout); asking for it keeps asyncio quiet.
        question.add_done_callback(lambda q: q.cancelled() or q.exception())

    def _drop(self) -> None:
        # Closed without waiting for a goodbye a server in trouble may never answer.
        if self.connection is not None:
            self.connection.pgconn.finish()
            self.connection = None


def _as_trouble(sql: str, exc: BaseException) -> BaseException:
    # Out of reach or too slow: the error a pooled connection raises, which answers 503.
    # Anything else is a fault of ours and stays what it is.
    if isinstance(exc, psycopg.OperationalError):
        return OperationalError(sql, {}, exc)
    if isinstance(exc, OSError | TimeoutError):
        return OperationalError(sql, {}, psycopg.OperationalError(f"no answer: {exc!r}"))
    return exc
