"""Fan-out of station events to the open event streams of one API process.

Any number of API workers run, so an event is written to the database by whoever
creates it, and each worker polls for new rows once for all its listeners: one query
per interval, however many devices are connected.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from anyio import to_thread
from sqlalchemy import Engine
from sqlmodel import Session

from scheduler.events import event_document, events_after, last_event_id

# An emergency waits at most this long for its worker to see it; the query finds nothing
# new by its primary key almost every time, which costs next to nothing.
POLL_SECONDS = 0.1
KEEPALIVE_SECONDS = 15.0


class EventHub:
    """Polls for new events and hands each to the listeners of its station."""

    def __init__(self, engine: Engine, *, poll_seconds: float = POLL_SECONDS) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self._listeners: dict[int, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._last = 0

    def _latest(self) -> int:
        with Session(self.engine) as session:
            return last_event_id(session)

    def _fetch(self, after: int) -> list[tuple[int, dict[str, Any]]]:
        with Session(self.engine) as session:
            return [
                (e.station_id, event_document(e))
                for e in events_after(session, after=after, limit=5000)
            ]

    def _replay(self, station_id: int, after: int) -> list[dict[str, Any]]:
        with Session(self.engine) as session:
            return [
                event_document(e)
                for e in events_after(session, after=after, station_ids=[station_id], limit=1000)
            ]

    async def _poll(self) -> None:
        while self._listeners:
            try:
                rows = await to_thread.run_sync(self._fetch, self._last)
            except Exception:  # a database hiccup must not end every stream
                await asyncio.sleep(self.poll_seconds * 4)
                continue
            for station_id, document in rows:
                self._last = max(self._last, document["id"])
                for queue in self._listeners.get(station_id, ()):
                    queue.put_nowait(document)
            await asyncio.sleep(self.poll_seconds)
        self._task = None

    async def listen(self, *, station_id: int, after: int | None) -> AsyncIterator[dict[str, Any]]:
        """Yield the station's events newer than `after` (or from now), then live ones."""
        # Listen first, then look back: an event is either replayed from the database or
        # arrives through the queue, and the ids weed out the ones that do both.
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._listeners.setdefault(station_id, set()).add(queue)
        try:
            latest = await to_thread.run_sync(self._latest)
            if self._task is None:
                self._last = latest
                self._task = asyncio.create_task(self._poll())
            seen = after if after is not None else latest
            for document in await to_thread.run_sync(self._replay, station_id, seen):
                seen = document["id"]
                yield document
            while True:
                try:
                    document = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield {}
                    continue
                if document["id"] > seen:
                    seen = document["id"]
                    yield document
        finally:
            listeners = self._listeners.get(station_id, set())
            listeners.discard(queue)
            if not listeners:
                self._listeners.pop(station_id, None)

    async def close(self) -> None:
        """Stop polling (on shutdown)."""
        self._listeners.clear()
        if self._task is not None:
            self._task.cancel()
