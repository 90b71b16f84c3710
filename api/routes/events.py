"""Events for devices: emergency bulletins as a server-sent event stream, or polled."""

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from api.auth import OnStation, Permission, StationGrant
from api.deps import SessionDep
from api.links import LinkBase, with_links
from api.paging import Page, described_page
from scheduler.events import event_document, events_after

router = APIRouter(tags=["events"])

Listener = Annotated[StationGrant, Depends(OnStation(Permission.playlists_read, devices=True))]


class EventOut(BaseModel):
    """An event: for an emergency, the entries that interrupt what plays."""

    id: int
    kind: str
    created_at: str
    booking_id: int | None = None
    station: str | None = None
    date: str | None = None
    version: int | None = None
    entries: list[dict[str, Any]] = []


@router.get(
    "/stations/{code}/events",
    summary="Events after a given id (the polling fallback of the stream)",
)
def poll_events(
    grant: Listener,
    session: SessionDep,
    base: LinkBase,
    paging: Annotated[Page, described_page("last event id already seen", limit=500)],
) -> list[EventOut]:
    """The station's events newer than `after`, oldest first."""
    events = events_after(
        session, after=paging.after, station_ids=[grant.station.id], limit=paging.limit
    )
    return [EventOut(**with_links(event_document(e), base)) for e in events]


@router.get(
    "/stations/{code}/events/stream",
    summary="Server-sent events: emergency bulletins the moment they are booked",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_events(
    request: Request,
    grant: Listener,
    session: SessionDep,
    base: LinkBase,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
    after: Annotated[int | None, Query(ge=0, description="as Last-Event-ID")] = None,
) -> StreamingResponse:
    """Stream the station's events; a reconnect with Last-Event-ID gets what it missed."""
    hub = request.app.state.events
    station_id = grant.station.id
    since = last_event_id if last_event_id is not None else after
    # A stream may stay open for days: give its database connection back now, or a
    # thousand listening agents would hold a thousand connections.
    session.close()

    async def lines() -> AsyncIterator[bytes]:
        yield b"retry: 3000\n\n"
        async for document in hub.listen(station_id=station_id, after=since):
            if await request.is_disconnected():
                return
            if not document:
                yield b": keepalive\n\n"
                continue
            document = with_links(document, base)
            data = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
            yield f"id: {document['id']}\nevent: {document['kind']}\ndata: {data}\n\n".encode()

    return StreamingResponse(
        lines(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
