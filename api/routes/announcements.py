"""Recorded announcements aired now, first in the next session or in the next free place.

The workflow is `scheduler.announcements.announce`; this route streams the upload to
disk, checks who may air what, and translates.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel

from api.access import AnnouncementWriter, may_announce
from api.deps import SessionDep, SettingsDep, StoreDep
from api.links import LinkBase
from api.outputs import AssetOut, asset_out
from api.uploads import multipart_body, receive_upload, require_audio
from scheduler.announcements import Announced, announce
from scheduler.service import get_station

router = APIRouter(tags=["announcements"])


class AnnouncementOut(BaseModel):
    """What was booked for an announcement, and when and where it airs."""

    booking_id: int
    programme_id: int | None
    station: str
    title: str
    priority: str
    airs_at: datetime | None
    ends_at: datetime | None
    clusters: list[str]
    zones: list[str]
    duration_s: float
    audio: AssetOut
    displaced: list[dict[str, Any]]
    notified_stations: int


def announcement_out(announced: Announced, base_url: str) -> AnnouncementOut:
    """The public shape of an announcement."""
    booking = announced.booking
    return AnnouncementOut(
        booking_id=booking.id,
        programme_id=booking.programme_id,
        station=announced.station.code,
        title=booking.title,
        priority=booking.priority,
        airs_at=announced.airs_at,
        ends_at=announced.ends_at,
        clusters=announced.clusters,
        zones=booking.zones,
        duration_s=announced.asset.duration_s,
        audio=asset_out(announced.asset, base_url),
        displaced=announced.displaced,
        notified_stations=announced.notified,
    )


def split_codes(value: str) -> list[str]:
    """Codes sent as one form field, separated by commas or spaces."""
    return [code for code in value.replace(",", " ").split() if code]


_FORM = multipart_body(
    ["file", "title"],
    {
        "file": {"type": "string", "format": "binary", "description": "the recording"},
        "title": {"type": "string", "maxLength": 300},
        "priority": {
            "type": "string",
            "enum": ["normal", "priority", "emergency"],
            "default": "normal",
            "description": "normal: next free place in the station's windows; priority: "
            "first in the next session; emergency: interrupts now",
        },
        "clusters": {"type": "string", "description": "cluster codes, comma-separated"},
        "zones": {"type": "string", "description": "cluster zone tags, comma-separated"},
    },
)


@router.post(
    "/stations/{code}/announcements",
    status_code=201,
    summary="Air a recorded announcement (multipart: file, title, priority, clusters or zones)",
    openapi_extra=_FORM,
)
async def post_announcement(
    code: str,
    request: Request,
    response: Response,
    principal: AnnouncementWriter,
    session: SessionDep,
    settings: SettingsDep,
    base: LinkBase,
    store: StoreDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=64,
            description="the same key again (a retry) gives the first answer, never a "
            "second booking",
        ),
    ] = None,
) -> AnnouncementOut:
    """Validate and normalise the recording (refused with the reason when silent, too short
    or not audio, nothing kept), store it, book it and say when it airs; an emergency
    interrupts now and devices are told at once."""
    station = get_station(session, code=code)
    temp, _filename, fields = await receive_upload(
        request, store=store, limit=settings.max_upload_mb << 20
    )
    try:
        priority = fields.get("priority") or "normal"
        may_announce(session, principal, station, priority)
        require_audio(temp)
        announced = announce(
            session,
            store=store,
            station=station,
            upload=temp,
            title=fields.get("title", ""),
            priority=priority,
            clusters=split_codes(fields.get("clusters", "")),
            zones=split_codes(fields.get("zones", "")),
            author=principal.name,
            base_url=settings.public_base_url,
            key=idempotency_key,
        )
        session.commit()
    finally:
        temp.unlink(missing_ok=True)
    if announced.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return announcement_out(announced, base)
