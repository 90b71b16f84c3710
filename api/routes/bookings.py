"""Bookings of airtime and the daily playlists they produce.

The workflows (check, write, regenerate the affected days, announce) are
`scheduler.flows`; these routes translate to and from them.
"""

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from api.access import Planner, ScheduleReader, StationPlanner, writable_booking
from api.auth import require_reach
from api.deps import SessionDep, SettingsDep
from api.exports import attachment, file_answer
from api.paging import Paging
from content.models import Priority
from core.errors import refuse_fields
from core.limits import TITLE_MAX, URL_MAX
from scheduler import flows
from scheduler.ical import calendar, schedule_events
from scheduler.models import Booking, BookingStatus, Station
from scheduler.planner import bookings_for
from scheduler.recurrence import describe, rule_from_json, to_rrule
from scheduler.service import get_station

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
    relay_url: str | None = Field(None, max_length=URL_MAX)
    title: str = Field(min_length=1, max_length=TITLE_MAX)
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


# What a booking answer repeats of the stored row as it is.
_STORED = set(BookingOut.model_fields) - {"station", "rrule", "description", "displaced"}


def _out(booking: Booking, station: str, displaced: list | None = None) -> BookingOut:
    rule = rule_from_json(booking.recurrence)
    return BookingOut(
        **booking.model_dump(include=_STORED),
        station=station,
        rrule=to_rrule(rule),
        description=describe(rule),
        displaced=displaced or [],
    )


@router.post("/bookings", status_code=201, summary="Book airtime")
def book(
    body: BookingIn, principal: Planner, session: SessionDep, settings: SettingsDep
) -> BookingOut:
    """Keep a booking if every occurrence fits (409 lists each clash) and refresh playlists."""
    station = get_station(session, code=body.station)
    require_reach(session, principal, station)
    booking = Booking(
        station_id=station.id,
        created_by=principal.name,
        recurrence=body.recurrence.model_dump(mode="json"),
        **body.model_dump(exclude={"station", "recurrence"}),
    )
    booked = flows.book(session, booking=booking, base_url=settings.public_base_url)
    session.commit()
    return _out(booking, station.code, booked.displaced)


class BookingPatch(BaseModel):
    """Changes to a booking; fields left out stay as they are. `at: null` = anywhere in a window."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=TITLE_MAX)
    at: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    recurrence: RecurrenceIn | None = None
    priority: Priority | None = None
    clusters: list[str] | None = None
    zones: list[str] | None = None
    pair_languages: bool | None = None
    duration_s: float | None = Field(None, gt=0, le=86_400, allow_inf_nan=False)
    relay_url: str | None = Field(None, max_length=URL_MAX)


NULLABLE = frozenset({"at", "duration_s", "relay_url"})


@router.patch("/bookings/{booking_id}", summary="Change a booking")
def edit(
    booking_id: int,
    body: BookingPatch,
    principal: Planner,
    session: SessionDep,
    settings: SettingsDep,
) -> BookingOut:
    """Change a booking if every occurrence still fits; frozen playlists keep what they hold."""
    booking = writable_booking(session, principal, booking_id)
    changes = body.model_dump(mode="json", exclude_unset=True)
    refuse_fields(
        "Không sửa được lịch đặt",
        [
            (name, "không được để trống")
            for name, v in changes.items()
            if v is None and name not in NULLABLE
        ],
    )
    booked = flows.change_booking(
        session, booking=booking, changes=changes, base_url=settings.public_base_url
    )
    session.commit()
    return _out(booking, booked.station.code, booked.displaced)


@router.get(
    "/stations/{code}/schedule.ics",
    summary="The station's bookings as an iCalendar file",
    **file_answer("text/calendar"),
)
def schedule_ics(grant: ScheduleReader, session: SessionDep) -> Response:
    """Export every active booking of the station as recurring events calendar programs import."""
    text = calendar(
        schedule_events(session, station=grant.station), name=f"Lịch phát {grant.station.name}"
    )
    return attachment(text.encode(), "text/calendar; charset=utf-8", f"{grant.station.code}.ics")


@router.get("/stations/{code}/bookings", summary="Bookings of a station")
def list_bookings(grant: ScheduleReader, session: SessionDep, paging: Paging) -> list[BookingOut]:
    """Active bookings that reach the station, its own and those of stations above, by id."""
    found = [b for b in bookings_for(session, station=grant.station) if b.id > paging.after]
    return [_out(b, session.get(Station, b.station_id).code) for b in found[: paging.limit]]


@router.delete("/bookings/{booking_id}", status_code=204, summary="Cancel a booking")
def cancel(
    booking_id: int, principal: Planner, session: SessionDep, settings: SettingsDep
) -> Response:
    """Stop a booking from producing airtime; frozen playlists keep what devices hold."""
    booking = writable_booking(session, principal, booking_id)
    flows.cancel_booking(session, booking=booking, base_url=settings.public_base_url)
    session.commit()
    return Response(status_code=204)


class EmergencyIn(BaseModel):
    """A bulletin to air now: a relayed stream or an approved, rendered item."""

    source: Literal["relay", "item"] = Field(description="relay or item")
    item_id: int | None = None
    relay_url: str | None = Field(None, max_length=URL_MAX)
    duration_s: float | None = Field(
        None, gt=0, le=86_400, allow_inf_nan=False, description="relay length in seconds"
    )
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    subtree: bool = Field(True, description="every station below too")
    clusters: list[str] = Field(default_factory=list)
    zones: list[str] = Field(default_factory=list, description="cluster zone tags, e.g. blt")


class EmergencyOut(BookingOut):
    """The emergency booking, and how many stations' devices were told at once."""

    notified_stations: int


@router.post(
    "/stations/{code}/emergencies", status_code=201, summary="Send an emergency bulletin now"
)
def send_emergency(
    body: EmergencyIn,
    grant: StationPlanner,
    session: SessionDep,
    settings: SettingsDep,
) -> EmergencyOut:
    """Interrupt whatever plays on the station (and, with `subtree`, every station below)
    and tell their devices at once, as the emergency page does; 409 lists what blocks it."""
    booked = flows.send_emergency(
        session,
        station=grant.station,
        source=body.model_dump(exclude={"subtree", "clusters", "zones"}, exclude_none=True),
        subtree=body.subtree,
        clusters=body.clusters,
        zones=body.zones,
        author=grant.principal.name,
        base_url=settings.public_base_url,
    )
    session.commit()
    out = _out(booked.booking, grant.station.code, booked.displaced)
    return EmergencyOut(**out.model_dump(), notified_stations=booked.notified)
