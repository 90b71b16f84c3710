"""Bookings of airtime and the daily playlists they produce."""

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api.auth import Allowed, OnStation, Permission, Principal, StationGrant, require_reach
from api.deps import SessionDep, SettingsDep
from api.limits import PageLimit
from content.models import Priority
from core.clock import utcnow
from core.errors import ConflictError, NotFoundError, refuse_fields
from core.settings import Settings
from scheduler.bookings import create_booking, regenerate, update_booking
from scheduler.events import publish_bulletin
from scheduler.ical import calendar
from scheduler.models import Booking, BookingStatus, Station
from scheduler.playlists import (
    Planning,
    bookings_for,
    rule_from_json,
    schedule_events,
)
from scheduler.recurrence import describe, occurrences, to_rrule
from scheduler.service import get_station, subtree_ids

router = APIRouter(tags=["bookings"])


class RecurrenceIn(BaseModel):
    """When a booking airs (local dates)."""

    freq: str = Field(description="once, daily, weekly or monthly", examples=["weekly"])
    start: date
    until: date | None = None
    interval: int = 1
    weekdays: list[int] = Field(default_factory=list, description="0 = Monday … 6 = Sunday")
    month_day: int | None = Field(None, description="1..31, or -1 for the last day")
    nth: int | None = Field(None, description="Nth weekday of the month: 1..5 or -1 (last)")
    exceptions: list[date] = Field(default_factory=list, description="dates it does not air")
    count: int | None = None


class BookingIn(BaseModel):
    """Airtime for an item, a programme or a relay on a station (or its subtree)."""

    station: str
    subtree: bool = False
    clusters: list[str] = Field(default_factory=list)
    zones: list[str] = Field(default_factory=list, description="cluster zone tags, e.g. blt")
    source: str = Field(description="item, programme or relay")
    item_id: int | None = None
    programme_id: int | None = None
    relay_url: str | None = None
    title: str = Field(min_length=1, max_length=300)
    duration_s: float | None = Field(
        None, gt=0, le=86_400, allow_inf_nan=False, description="relay length in seconds"
    )
    recurrence: RecurrenceIn
    at: str | None = Field(
        None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local HH:MM; empty = in a window"
    )
    priority: Priority = Priority.normal
    pair_languages: bool = False


class BookingOut(BaseModel):
    """A kept booking, its rule in words and as RFC 5545, and what it displaced."""

    id: int
    station: str
    subtree: bool
    clusters: list[str]
    zones: list[str]
    pair_languages: bool
    source: str
    title: str
    at: str | None
    priority: str
    status: BookingStatus
    rrule: str
    description: str
    recurrence: dict[str, Any]
    created_by: str
    created_at: datetime
    displaced: list[dict[str, Any]] = Field(default_factory=list)


def _out(booking: Booking, station: str, displaced: list | None = None) -> BookingOut:
    rule = rule_from_json(booking.recurrence)
    return BookingOut(
        id=booking.id,
        station=station,
        subtree=booking.subtree,
        clusters=booking.clusters,
        zones=booking.zones,
        pair_languages=booking.pair_languages,
        source=booking.source,
        title=booking.title,
        at=booking.at,
        priority=booking.priority,
        status=booking.status,
        rrule=to_rrule(rule),
        description=describe(rule),
        recurrence=booking.recurrence,
        created_by=booking.created_by,
        created_at=booking.created_at,
        displaced=displaced or [],
    )


@router.post("/bookings", response_model=BookingOut, status_code=201, summary="Book airtime")
def book(
    body: BookingIn,
    principal: Annotated[Principal, Depends(Allowed(Permission.content_write))],
    session: SessionDep,
    settings: SettingsDep,
) -> BookingOut:
    """Keep a booking if every occurrence fits (409 lists each clash) and refresh playlists."""
    station = get_station(session, code=body.station)
    require_reach(session, principal, station)
    recurrence = body.recurrence.model_dump(mode="json")
    booking = Booking(
        station_id=station.id,
        created_by=principal.name,
        recurrence=recurrence,
        **body.model_dump(exclude={"station", "recurrence"}),
    )
    # Planners think in the station's own calendar, whatever the server's clock says.
    today = utcnow().astimezone(ZoneInfo(station.timezone)).date()
    report = create_booking(
        session, booking=booking, base_url=settings.public_base_url, today=today
    )
    _refresh(
        session,
        booking=booking,
        station=station,
        settings=settings,
        today=today,
        planning=report.planning,
    )
    session.commit()
    return _out(booking, station.code, report.displaced)


def _refresh(
    session: Session,
    *,
    booking: Booking,
    station: Station,
    settings: Settings,
    today: date,
    before: dict | None = None,
    planning: Planning | None = None,
) -> None:
    # `before`: the recurrence an edit replaced, whose days must lose the booking.
    # `planning`: what the booking's check read and planned, true until commit.
    ids = subtree_ids(session, root_id=station.id) if booking.subtree else {station.id}
    rules = [booking.recurrence] + ([before] if before and before != booking.recurrence else [])
    regenerate(
        session,
        station_ids=ids,
        today=today,
        base_url=settings.public_base_url,
        rules=rules,
        planning=planning,
    )
    if booking.priority == Priority.emergency and booking.status == BookingStatus.active:
        # Devices hear of it at once instead of at their next pull.
        soon = occurrences(
            rule_from_json(booking.recurrence), start=today, end=today + timedelta(1)
        )
        publish_bulletin(session, booking_id=booking.id, station_ids=ids, days=soon)


class BookingPatch(BaseModel):
    """Changes to a booking; fields left out stay as they are. `at: null` = anywhere in a window."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=300)
    at: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    recurrence: RecurrenceIn | None = None
    priority: Priority | None = None
    clusters: list[str] | None = None
    zones: list[str] | None = None
    pair_languages: bool | None = None
    duration_s: float | None = Field(None, gt=0, le=86_400, allow_inf_nan=False)
    relay_url: str | None = Field(None, max_length=500)


NULLABLE = frozenset({"at", "duration_s", "relay_url"})


@router.patch("/bookings/{booking_id}", response_model=BookingOut, summary="Change a booking")
def edit(
    booking_id: int,
    body: BookingPatch,
    principal: Annotated[Principal, Depends(Allowed(Permission.content_write))],
    session: SessionDep,
    settings: SettingsDep,
) -> BookingOut:
    """Change a booking if every occurrence still fits; frozen playlists keep what they hold."""
    booking = session.get(Booking, booking_id)
    station = session.get(Station, booking.station_id) if booking else None
    if booking is None:
        raise NotFoundError(f"Không có lịch đặt số {booking_id}.")
    require_reach(session, principal, station)
    if booking.status != BookingStatus.active:
        raise ConflictError(f"Lịch đặt số {booking_id} đã huỷ; hãy đặt lịch mới.")
    changes = body.model_dump(mode="json", exclude_unset=True)
    refuse_fields(
        "Không sửa được lịch đặt",
        [
            (name, "không được để trống")
            for name, v in changes.items()
            if v is None and name not in NULLABLE
        ],
    )
    today = utcnow().astimezone(ZoneInfo(station.timezone)).date()
    before = booking.recurrence
    report = update_booking(
        session, booking=booking, changes=changes, base_url=settings.public_base_url, today=today
    )
    _refresh(
        session,
        booking=booking,
        station=station,
        settings=settings,
        today=today,
        before=before,
        planning=report.planning,
    )
    session.commit()
    return _out(booking, station.code, report.displaced)


@router.get(
    "/stations/{code}/schedule.ics",
    summary="The station's bookings as an iCalendar file",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
def schedule_ics(
    grant: Annotated[StationGrant, Depends(OnStation(Permission.playlists_read))],
    session: SessionDep,
) -> Response:
    """Export every active booking of the station as recurring events calendar programs import."""
    text = calendar(
        schedule_events(session, station=grant.station), name=f"Lịch phát {grant.station.name}"
    )
    return Response(
        content=text.encode(),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{grant.station.code}.ics"'},
    )


@router.get(
    "/stations/{code}/bookings", response_model=list[BookingOut], summary="Bookings of a station"
)
def list_bookings(
    grant: Annotated[StationGrant, Depends(OnStation(Permission.playlists_read))],
    session: SessionDep,
    after: Annotated[int, Query(ge=0, description="continue after this id (paging)")] = 0,
    limit: PageLimit = 200,
) -> list[BookingOut]:
    """Active bookings that reach the station, its own and those of stations above, by id."""
    page = [b for b in bookings_for(session, station=grant.station) if b.id > after][:limit]
    return [_out(b, session.get(Station, b.station_id).code) for b in page]


@router.delete("/bookings/{booking_id}", status_code=204, summary="Cancel a booking")
def cancel(
    booking_id: int,
    principal: Annotated[Principal, Depends(Allowed(Permission.content_write))],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Stop a booking from producing airtime; frozen playlists keep what devices hold."""
    booking = session.get(Booking, booking_id)
    station = session.get(Station, booking.station_id) if booking else None
    if booking is None:
        raise NotFoundError(f"Không có lịch đặt số {booking_id}.")
    require_reach(session, principal, station)
    booking.status = BookingStatus.cancelled
    session.add(booking)
    today = utcnow().astimezone(ZoneInfo(station.timezone)).date()
    _refresh(session, booking=booking, station=station, settings=settings, today=today)
    session.commit()
    return Response(status_code=204)
