"""Live sessions: start, stream (ingest), listen, end.

The workflow is `scheduler.live`; the stream is received by `api.live_ingest`. Ingest
and end hold no request-long transaction (a stream lasts minutes): they check the
caller in a short one of their own.
"""

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from api.access import AnnouncementWriter, may_announce
from api.auth import Principal, UserBearer, get_caller
from api.deps import EngineDep, SessionDep, SettingsDep
from api.links import LinkBase
from api.live_ingest import checked_live, ingests_of
from api.outputs import LiveOut, live_out
from api.uploads import TooLargeError
from core.audit import Actor
from core.db import session_scope
from core.errors import ConflictError, NotFoundError, UnauthorizedError
from scheduler.live import DEFAULT_MINUTES, MAX_MINUTES, Live, archived, get_live, start_live
from scheduler.service import get_station

router = APIRouter(tags=["live"])

STREAM_FILE = re.compile(r"^(index\.m3u8|seg\d{5}\.ts)$")
KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CHUNK_MAX = 1 << 20


class LiveIn(BaseModel):
    """A live session to open."""

    title: str
    priority: str = Field("normal", description="normal | priority | emergency")
    clusters: list[str] = Field(default_factory=list)
    zones: list[str] = Field(default_factory=list)
    minutes: int | None = Field(
        None,
        description=(
            f"the longest it may last, 1 to {MAX_MINUTES}; left out, {DEFAULT_MINUTES} or "
            "until the end of the window it airs in when that comes sooner"
        ),
    )


@router.post(
    "/stations/{code}/live",
    status_code=201,
    summary="Open a live session; stream to `ingest`, players open `listen`",
)
def post_live(
    code: str,
    body: LiveIn,
    principal: AnnouncementWriter,
    session: SessionDep,
    settings: SettingsDep,
    links: LinkBase,
) -> LiveOut:
    """Check who may go live where (as for announcements) and that no open session holds
    one of the clusters (409); nothing airs until the stream's first segment is out."""
    station = get_station(session, code=code)
    may_announce(session, principal, station, body.priority)
    live = start_live(
        session,
        station=station,
        **body.model_dump(),
        author=principal.name,
        base_url=settings.public_base_url,
    )
    session.commit()
    return live_out(live, base_url=links)


@router.get("/stations/{code}/live/{live_id}", summary="A live session")
def get_live_session(
    code: str,
    live_id: int,
    principal: AnnouncementWriter,
    session: SessionDep,
    links: LinkBase,
) -> LiveOut:
    """The session's state, and its archived audio once it ended."""
    station = get_station(session, code=code)
    live = get_live(session, station=station, live_id=live_id)
    may_announce(session, principal, station, live.state["priority"])
    return live_out(live, base_url=links, archive=archived(session, live=live))


def _checked(
    code: str,
    live_id: int,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    _token: UserBearer,  # declared for the schema; the header is read here
) -> tuple[Live, Actor]:
    """The live session a device or speaker's token may feed or end (a dependency, run in
    a worker thread like every plain function FastAPI calls)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError(
            "Cần mã truy cập để phát trực tiếp (Authorization: Bearer …); chưa phát gì."
        )

    def caller(session: Session) -> Principal:
        usage = request.app.state.device_usage
        return get_caller(session, settings, token.strip(), None, usage)

    return checked_live(engine, principal_of=caller, live_id=live_id, code=code)


Checked = Annotated[tuple[Live, Actor], Depends(_checked)]


def _receiving(checked: Checked) -> tuple[Live, dict[str, Any]]:
    live, actor = checked
    if live.status == "ended" or not live.is_open(datetime.now(live.deadline().tzinfo)):
        raise ConflictError("Phiên trực tiếp đã kết thúc; hãy mở phiên mới.")
    where = {"live_id": live.programme.id, "station_id": live.station.id, "key": live.state["key"]}
    return live, {**where, "actor": actor}


Receiving = Annotated[tuple[Live, dict[str, Any]], Depends(_receiving)]


@router.put(
    "/stations/{code}/live/{live_id}/ingest",
    status_code=204,
    summary="The session's audio as one stream (chunked PUT); the session ends with it",
)
async def ingest_stream(request: Request, receiving: Receiving) -> None:
    """An Ogg/Opus, WebM or MP3 stream, e.g. `ffmpeg -re -i x.mp3 -f mp3 -method PUT URL`;
    the session ends when the upload does (409 if it could not go on air). Without a
    valid token: 401 and nothing airs."""
    live, where = receiving
    ingests = ingests_of(request)
    failed = None
    try:
        async for chunk in request.stream():
            if chunk:
                await ingests.feed(**where, chunk=chunk)
    finally:
        # The encoder stopped sending (or went away): the session is over.
        failed = await ingests.finish(
            live_id=where["live_id"], station_id=live.station.id, actor=where["actor"]
        )
    if failed:
        raise ConflictError(f"Phiên trực tiếp không lên sóng được: {failed}")


@router.post(
    "/stations/{code}/live/{live_id}/ingest",
    status_code=204,
    summary="The next chunk of the session's audio (a browser's MediaRecorder slices)",
)
async def ingest_chunk(request: Request, receiving: Receiving) -> None:
    """Chunks sent one after another make one stream; DELETE ends the session. A chunk
    larger than `CHUNK_MAX` is refused (413): a quarter second of speech is a few KB."""
    _live, where = receiving
    chunk = bytearray()
    async for part in request.stream():
        chunk += part
        if len(chunk) > CHUNK_MAX:
            raise TooLargeError(f"Mỗi phần luồng trực tiếp gửi không quá {CHUNK_MAX >> 10} KB.")
    await ingests_of(request).feed(**where, chunk=bytes(chunk))


@router.delete("/stations/{code}/live/{live_id}", summary="End a live session (again: no change)")
async def delete_live(
    code: str,
    live_id: int,
    request: Request,
    engine: EngineDep,
    links: LinkBase,
    checked: Checked,
) -> LiveOut:
    """Stop the stream (players reach its end), cut the booking to the real length, tell
    the devices, and archive what was received."""
    live, actor = checked
    await ingests_of(request).finish(live_id=live_id, station_id=live.station.id, actor=actor)

    def reread() -> LiveOut:
        with session_scope(engine) as session:
            station = get_station(session, code=code)
            ended = get_live(session, station=station, live_id=live_id)
            return live_out(ended, base_url=links, archive=archived(session, live=ended))

    return await to_thread.run_sync(reread)


@router.get(
    "/live/{key}/{name}",
    summary="A live session's HLS playlist and segments (the key is the session's secret)",
    response_class=FileResponse,
)
def listen(key: str, name: str, request: Request) -> FileResponse:
    """What players open: `index.m3u8`, then its segments; ENDLIST once it ended."""
    if not KEY.match(key) or not STREAM_FILE.match(name):
        raise NotFoundError("Không có luồng trực tiếp này.")
    path: Path = ingests_of(request).folder(key) / name
    if not path.is_file():
        raise NotFoundError("Luồng trực tiếp chưa có hoặc đã kết thúc.")
    playlist = name.endswith(".m3u8")
    return FileResponse(
        path,
        media_type="application/vnd.apple.mpegurl" if playlist else "video/mp2t",
        headers={"Cache-Control": "no-cache" if playlist else "max-age=3600"},
    )
