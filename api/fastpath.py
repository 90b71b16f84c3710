"""The morning pull's fast path: a device asking for its own station's playlist.

Every cluster pulls its day each morning, most of them to hear "not modified". Through
the framework's routing, dependencies and ORM a pull cost about twice the work of
answering it. This middleware answers the plain case itself with one query for who is
asking and the day's ETag; the days it sent lately are kept, so a second query is
needed only for a day it has not. Anything else (another station, a revoked or unknown
token, a bound device asking for another cluster, a day not made yet, a day out of
range, any other query) goes on to the documented route, which answers it as always:
the fast path only ever gives the answer that route would give.
"""

import asyncio
import contextlib
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import Date, Dialect, Engine, bindparam, select
from sqlalchemy.exc import OperationalError
from starlette.datastructures import Headers, State
from starlette.types import ASGIApp, Receive, Scope, Send

from api.links import link_base, with_links
from api.problems import database_trouble
from api.pull_asks import ASKER_COLUMNS, PullAsker, with_asked_day
from api.security import data_headers
from core.clock import utcnow
from core.identity import DEVICE_TOKEN_PREFIX, token_digest
from core.models import DeviceToken
from core.types import UTCDateTime
from scheduler.playlists import PLAYLIST_OF_DAY, PLAYLIST_RANGE_DAYS, playlist_document, plays_on
from scheduler.service import CODE_PATTERN

logger = logging.getLogger(__name__)

PULL_PATH = re.compile(r"^/api/v1/stations/([^/]+)/playlists/(\d{4}-\d{2}-\d{2})$")

# One pull's question, built once.
_ASKER = with_asked_day(
    select(*ASKER_COLUMNS).select_from(DeviceToken),
    code=bindparam("code"),
    day=bindparam("day"),
).where(DeviceToken.token_hash == bindparam("digest"))


# The asker is run by the database's driver itself: through SQLAlchemy's execution it
# took 80 µs, a fifth of a pull; by the driver, 20 µs.
@dataclass(frozen=True)
class DriverStatement:
    """The asker as the driver takes it, with SQLAlchemy's conversions of what goes in and out."""

    sql: str
    positions: tuple[str, ...] | None  # None: the driver takes the parameters by name
    day: Callable[[date], Any] | None
    moment: Callable[[Any], datetime | None]


@cache
def driver_asker(dialect: Dialect) -> DriverStatement:
    """The asker statement compiled for one kind of database."""
    compiled = _ASKER.compile(dialect=dialect)
    return DriverStatement(
        sql=str(compiled),
        positions=tuple(compiled.positiontup or ()) if compiled.positional else None,
        day=Date().dialect_impl(dialect).bind_processor(dialect),
        moment=UTCDateTime().dialect_impl(dialect).result_processor(dialect, None),
    )


# Days kept per process: every commune of a large province for today and tomorrow.
RECENT_DAYS = 1024
# Bodies kept per day: its clusters' selections, each for the few addresses devices use.
BODIES_PER_DAY = 64


@dataclass
class SentDay:
    """A day's playlist row and the bodies sent of it, by the entries each one holds and
    the address their links point at."""

    playlist: Any
    bodies: dict[tuple[tuple[int, ...] | None, str], bytes] = field(default_factory=dict)


class RecentDays:
    """Days lately sent, by the columns of their row that move whenever its bytes do.

    Every cluster of a commune asks for the same day, and the query for who asks reads
    the day's ETag, version and time of making anyway: a day known by all three is
    answered without reading and decoding its row again, and most clusters play the
    same entries, so their body is encoded once. A day that changed has a new version,
    so a stale row is never found.
    """

    def __init__(self, size: int = RECENT_DAYS) -> None:
        self.size = size
        self.rows: OrderedDict[tuple, SentDay] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple) -> SentDay | None:
        """The day kept under `key`, or None."""
        with self.lock:
            row = self.rows.get(key)
            if row is not None:
                self.rows.move_to_end(key)
            return row

    def keep(self, key: tuple, day: SentDay) -> None:
        """Keep a day, forgetting the least recently asked when full."""
        with self.lock:
            self.rows[key] = day
            if len(self.rows) > self.size:
                self.rows.popitem(last=False)


@dataclass(slots=True)
class Reply:
    """A fast answer: what the route's response would send, as two ASGI messages."""

    status: int  # 200 with the body, or 304
    etag: str
    body: bytes = b""

    async def send(self, send: Send, extra: list[tuple[bytes, bytes]]) -> None:
        """Send it with the headers every answer that is not a page carries."""
        headers = [(b"etag", self.etag.encode()), *extra]
        if self.status == 200:
            headers.append((b"content-length", str(len(self.body)).encode()))
            headers.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


@cache
def _raw_data_headers(secure_cookies: bool) -> list[tuple[bytes, bytes]]:
    # Made once: a Response, with these added to its headers, cost 11 µs more a pull.
    headers = data_headers(secure_cookies=secure_cookies).items()
    return [(name.lower().encode(), value.encode()) for name, value in headers]


class FastPull:
    """ASGI middleware: answer a device's plain pull of its own station's day directly."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.recent = RecentDays()
        # Days being read from PostgreSQL, so the pulls of one commune that arrive
        # together read its day once.
        self.reading: dict[tuple, asyncio.Future[SentDay | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            asked = _asked(scope)
            if asked is not None:
                state: State = scope["app"].state
                asked["base"] = link_base(scope, state.settings)
                try:
                    reply = await self._answer(state, **asked)
                except OperationalError as exc:  # asking the route would wait as long again
                    trouble = database_trouble("GET", scope["path"], exc)
                    trouble.headers.update(
                        data_headers(secure_cookies=state.settings.secure_cookies)
                    )
                    await trouble(scope, receive, send)
                    return
                except Exception:  # outside the framework's error handling: the route's turn
                    logger.exception("fast path failed on %s", scope["path"])
                    reply = None
                if reply is not None:
                    await reply.send(send, _raw_data_headers(state.settings.secure_cookies))
                    return
        await self.app(scope, receive, send)

    async def _answer(
        self,
        state: State,
        *,
        code: str,
        day: date,
        token: str,
        cluster: str | None,
        if_none_match: str,
        base: str,
    ) -> "Reply | None":
        if abs((day - utcnow().date()).days) > PLAYLIST_RANGE_DAYS:
            return None
        digest = token_digest(token)
        on_sqlite = state.engine.dialect.name == "sqlite"
        if on_sqlite:
            # Answered here, without the hop to a thread that cost as much as the
            # answer: a read of SQLite in WAL mode never waits for a writer, and an
            # admitted request finds a free connection (see api/limits.py).
            row = state.pull_asker.ask_now(code=code, day=day, digest=digest)
        else:
            # A server across the network may stall: asked in batches by the loop,
            # which never waits for it (api/pull_asks.py).
            row = await state.pull_asker.ask(digest=digest, code=code, day=day)
        if row is None:
            return None  # unknown token or station: the route says which
        moment = driver_asker(state.engine.dialect).moment
        device_id, station_of_device, revoked_at, last_used_at, bound, station_id = row[:6]
        etag, version, made_at = row[6], row[7], moment(row[8])
        if revoked_at is not None or station_of_device != station_id or etag is None:
            return None
        if bound is not None:
            if cluster not in (None, bound):
                return None
            cluster = bound
        state.device_usage.note_use(device_id=device_id, last_used_at=moment(last_used_at))
        tagged = f'"{etag}-{cluster}"' if cluster else f'"{etag}"'
        if tagged in if_none_match:
            return Reply(304, tagged)
        key = (station_id, day, etag, version, made_at)
        sent = self.recent.get(key)
        if sent is None:
            if on_sqlite:
                sent = _read_day(state.engine, key)
            else:
                sent = await self._read_once(state.pull_asker, key)
            if sent is None:
                return None  # changed in between: the route reads it afresh
            self.recent.keep(key, sent)
        return _sent_body(sent, cluster=cluster, base=base, tagged=tagged)

    async def _read_once(self, asker: PullAsker, key: tuple) -> SentDay | None:
        reading = self.reading.get(key)
        if reading is None:
            reading = asyncio.ensure_future(_read_day_async(asker, key))
            self.reading[key] = reading
            reading.add_done_callback(lambda _: self.reading.pop(key, None))
        return await asyncio.shield(reading)


def _asked(scope: Scope) -> dict[str, Any] | None:
    # The request, if it is the plain case; None sends it on to the route.
    match = PULL_PATH.match(scope["path"])
    if match is None:
        return None
    headers = Headers(scope=scope)
    if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
        return None  # a body, however odd on a GET, is for the body limit to deal with
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(DEVICE_TOKEN_PREFIX):
        return None
    query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    if any(name != "cluster" for name, _ in query) or len(query) > 1:
        return None
    cluster = query[0][1] if query else None
    if cluster is not None and not CODE_PATTERN.match(cluster):
        return None
    try:
        day = date.fromisoformat(match[2])
    except ValueError:
        return None
    return {
        "code": match[1],
        "day": day,
        "token": token,
        "cluster": cluster,
        "if_none_match": headers.get("if-none-match", ""),
    }


class SqliteAsker:
    """The asker on SQLite, run by its driver on the loop's own thread, on a connection
    this process keeps for it.

    Taken from the pool and given back for each pull, a connection cost a tenth of the
    server's time in a morning's storm. The kept one is detached from the pool, so it
    takes none of the connections admitted requests are promised (see api/limits.py).
    SQLite in WAL mode never makes a reader wait for a writer, and each question is its
    own transaction (the engine leaves none open by itself): every pull sees what was
    committed before it, a revoked token included.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Any = None

    def ask_now(self, *, code: str, day: date, digest: str) -> Any:
        """The fast path's row for this pull, or None."""
        asker = driver_asker(self.engine.dialect)
        values = {"code": code, "day": asker.day(day) if asker.day else day, "digest": digest}
        params = [values[n] for n in asker.positions] if asker.positions else values
        try:
            if self.connection is None:
                kept = self.engine.raw_connection()
                kept.detach()
                self.connection = kept.dbapi_connection
            # Read to the end, so the statement is done and holds no snapshot.
            rows = self.connection.execute(asker.sql, params).fetchall()
        except self.engine.dialect.loaded_dbapi.OperationalError as exc:
            self._drop()  # the next pull opens another
            # Raised as SQLAlchemy raises it, so a database out of reach is one kind of error.
            raise OperationalError(asker.sql, params, exc) from exc
        return rows[0] if rows else None

    async def warm(self) -> None:
        """Open the kept connection and ask once, as a pull would, so the first pulls of a
        storm do not wait for it."""
        today = utcnow().date()
        self.ask_now(code="", day=today, digest="")
        _read_day(self.engine, (0, today))

    async def close(self) -> None:
        """Close the kept connection."""
        self._drop()

    def _drop(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None


def _read_day(engine: Engine, key: tuple) -> SentDay | None:
    # The day's row, if it is still the one the asker saw.
    station_id, day = key[:2]
    with engine.connect() as reading:
        playlist = reading.execute(PLAYLIST_OF_DAY, {"station_id": station_id, "day": day}).first()
    if playlist is None or key[2:] != (playlist.etag, playlist.version, playlist.generated_at):
        return None
    return SentDay(playlist)


async def _read_day_async(asker: PullAsker, key: tuple) -> SentDay | None:
    station_id, day = key[:2]
    row = await asker.day(station_id=station_id, day=day)
    if row is None or key[2:] != (row.etag, row.version, row.generated_at):
        return None
    return SentDay(row)


def _sent_body(sent: SentDay, *, cluster: str | None, base: str, tagged: str) -> "Reply":
    entries = sent.playlist.body["entries"]
    plays = tuple(i for i, e in enumerate(entries) if plays_on(e, cluster)) if cluster else None
    body = sent.bodies.get((plays, base))
    if body is None:
        document = with_links(playlist_document(sent.playlist, cluster=cluster), base)
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        if len(sent.bodies) >= BODIES_PER_DAY:
            sent.bodies.clear()  # a client making up hosts must not grow it without end
        sent.bodies[(plays, base)] = body
    return Reply(200, tagged, body)
