"""The live streams this API process is receiving: one HLS cutter per session, the moment
its first segment is out (on air), and its end (ENDLIST, then `live_end` and the archive).

A stream is received by the process its request reached: a session's PUT, or its
browser's sequential chunk POSTs, go to one server (the embedded default is one
process; behind several workers, route `/live/` by session). Every database step is a
short transaction of its own, never one held for the length of the stream.
"""

import asyncio
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import Request
from sqlalchemy import Engine
from sqlmodel import Session

from api.access import may_announce
from api.auth import Allowed, Permission, Principal
from audio.live import HlsCutter
from audio.models import Programme
from audio.store import MediaStore
from core.audit import Actor, act_as
from core.db import session_scope
from core.errors import ConflictError, NotFoundError
from scheduler.live import Live, archive_live, end_live, get_live, go_on_air
from scheduler.models import Station
from scheduler.service import get_station

log = logging.getLogger(__name__)

ON_AIR_POLL_S = 0.05
SHUTDOWN = Actor(kind="system", id=None, name="system:shutdown")
KEEP_AFTER_END_S = 60.0  # players still read the last segments for a while


@dataclass
class Stream:
    """One session's cutter and whether it went on air."""

    live_id: int
    station_id: int
    cutter: HlsCutter
    actor: Actor  # who sent its first bytes: going on air is theirs in the audit trail
    watcher: asyncio.Task[None] | None = None
    on_air: asyncio.Event = field(default_factory=asyncio.Event)
    failed: str | None = None


class LiveIngests:
    """The sessions whose stream this process receives."""

    def __init__(self, *, engine: Engine, store: MediaStore, root: Path, base_url: str) -> None:
        self.engine = engine
        self.store = store
        self.root = root
        self.base_url = base_url
        self._streams: dict[int, Stream] = {}
        self._lock = asyncio.Lock()

    def folder(self, key: str) -> Path:
        """Where a session's segments and received bytes are kept."""
        return self.root / key

    async def feed(
        self, *, live_id: int, station_id: int, key: str, chunk: bytes, actor: Actor
    ) -> None:
        """Pass a chunk of a session's stream on; 409 once the session no longer takes it."""
        async with self._lock:
            stream = self._streams.get(live_id)
            if stream is None:
                cutter = await to_thread.run_sync(HlsCutter, self.folder(key))
                stream = Stream(live_id, station_id, cutter, actor)
                stream.watcher = asyncio.create_task(self._watch(stream))
                self._streams[live_id] = stream
        if stream.failed:
            raise ConflictError(f"Phiên trực tiếp không lên sóng được: {stream.failed}")
        if not await to_thread.run_sync(stream.cutter.feed, chunk):
            raise ConflictError("Phiên trực tiếp đã kết thúc; hãy mở phiên mới.")

    def on_air(self, live_id: int) -> bool:
        """Whether a session this process receives has gone on air."""
        stream = self._streams.get(live_id)
        return stream is not None and stream.on_air.is_set()

    async def _watch(self, stream: Stream) -> None:
        # The first segment is out: only now are devices told, so they find sound at once.
        while not stream.cutter.on_air():
            if not stream.cutter.running():
                return
            await asyncio.sleep(ON_AIR_POLL_S)
        try:
            await to_thread.run_sync(self._go_on_air, stream)
        except Exception as exc:  # a refused booking: the stream is not aired
            stream.failed = getattr(exc, "detail", None) or str(exc)
            log.warning("live session %s not aired: %s", stream.live_id, stream.failed)
            await to_thread.run_sync(stream.cutter.close)
            return
        stream.on_air.set()

    def _go_on_air(self, stream: Stream) -> None:
        with session_scope(self.engine, write=True) as session:
            act_as(session, stream.actor)
            station = session.get(Station, stream.station_id)
            live = get_live(session, station=station, live_id=stream.live_id)
            go_on_air(session, live=live, base_url=self.base_url)

    async def finish(self, *, live_id: int, station_id: int, actor: Actor) -> str | None:
        """End a session: close its stream (ENDLIST), tell devices, archive what came;
        return why it never went on air, if it did not."""
        async with self._lock:
            stream = self._streams.pop(live_id, None)
        received = None
        if stream is not None:
            await to_thread.run_sync(stream.cutter.close)
            if stream.watcher is not None:
                await stream.watcher
            received = stream.cutter.archive
        await to_thread.run_sync(self._end, live_id, station_id, received, actor)
        if received is not None:
            asyncio.get_running_loop().call_later(
                KEEP_AFTER_END_S, shutil.rmtree, received.parent, True
            )
        return stream.failed if stream is not None else None

    def _end(self, live_id: int, station_id: int, received: Path | None, actor: Actor) -> None:
        with session_scope(self.engine, write=True) as session:
            act_as(session, actor)
            station = session.get(Station, station_id)
            live = get_live(session, station=station, live_id=live_id)
            end_live(session, live=live, base_url=self.base_url)
        if received is None:
            return
        # Normalising a long session takes a while: outside the transaction that ended it.
        with session_scope(self.engine, write=True) as session:
            act_as(session, actor)
            station = session.get(Station, station_id)
            live = get_live(session, station=station, live_id=live_id)
            archive_live(session, live=live, store=self.store, received=received)

    async def close(self) -> None:
        """End every stream (on shutdown)."""
        for live_id, stream in list(self._streams.items()):
            await self.finish(live_id=live_id, station_id=stream.station_id, actor=SHUTDOWN)


def ingests_of(request: Request) -> LiveIngests:
    """The live streams this process receives."""
    return request.app.state.live


def checked_live(
    engine: Any, *, principal_of: Callable[[Session], Principal], live_id: int, code: str = ""
) -> tuple[Live, Actor]:
    """The session, if the caller may stream to it or end it, and who the caller is: read
    and checked in a transaction of its own, never one held while the stream lasts."""
    with session_scope(engine) as session:
        principal = principal_of(session)
        Allowed(Permission.announcements_write)(principal)
        programme = session.get(Programme, live_id)
        station_id = programme.station_id if programme else None
        station = get_station(session, code=code) if code else session.get(Station, station_id)
        if station is None:
            raise NotFoundError(f"Không có phiên trực tiếp số {live_id}.")
        live = get_live(session, station=station, live_id=live_id)
        may_announce(session, principal, station, live.state["priority"])
        return live, principal.actor
