"""The planner's booking pages: book airtime, change it, see it in words, cancel it.

Every change goes through `scheduler.flows`, exactly as the REST routes do; these pages
read the form, call the flow, and show what happened or each clash next to the form.
"""

from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, col, select

from api.access import stations_in_scope, writable_booking
from api.auth import Permission, Principal
from api.deps import SessionDep, SettingsDep
from api.pages.formats import WEEKDAYS, day_text, length_text, minutes_text
from api.pages.forms import (
    FLASH,
    FREQ_NAMES,
    NTH_NAMES,
    PRIORITY_HINTS,
    SOURCE_NAMES,
    STATION_SELECT_LIMIT,
    BookingForm,
    chosen_station,
    default_station,
    displaced_for_flash,
    flash,
    item_choices,
    programme_choices,
    read_booking,
    read_targets,
    refusal_view,
)
from api.web import Page, check_csrf, render
from audio.models import Programme
from content.models import ContentItem
from core.clock import local_today
from core.errors import ConflictError, ProblemError
from scheduler import flows
from scheduler.models import Booking, BookingStatus, Station
from scheduler.recurrence import (
    DAY_NAMES,
    Recurrence,
    describe,
    occurrences,
    rule_from_json,
    to_rrule,
)
from scheduler.service import station_today, subtree_ids

router = APIRouter(include_in_schema=False)

UPCOMING_SHOWN = 8
REFUSAL = "Chỉ cán bộ kế hoạch và quản trị được đặt lịch phát, xem lịch đài và phát tin khẩn cấp."


def _planner(heading: str) -> Any:
    return Depends(Page(Permission.content_write, heading=heading, refusal=REFUSAL))


Booker = Annotated[Principal, _planner("Không đặt được lịch")]
Editor = Annotated[Principal, _planner("Không sửa được lịch đặt")]
Viewer = Annotated[Principal, _planner("Không mở được lịch đặt")]
Canceller = Annotated[Principal, _planner("Không huỷ được lịch đặt")]


def _active(session: Session, principal: Principal, booking_id: int, already: str) -> Booking:
    booking = writable_booking(session, principal, booking_id)
    if booking.status != BookingStatus.active:
        raise ConflictError(f"Lịch đặt số {booking_id} {already}.")
    return booking


def _form_context(
    session: Session, principal: Principal, form: BookingForm, *, booking: Booking | None
) -> dict[str, Any]:
    stations = stations_in_scope(session, principal)
    return {
        "form": form,
        "booking": booking,
        "booking_station": session.get(Station, booking.station_id) if booking else None,
        "stations": stations if len(stations) <= STATION_SELECT_LIMIT else None,
        "items": item_choices(session, principal),
        "programmes": programme_choices(session, principal),
        "source_names": SOURCE_NAMES,
        "freq_names": FREQ_NAMES,
        "priority_hints": PRIORITY_HINTS,
        "day_names": DAY_NAMES,
        "nth_names": NTH_NAMES,
        "action": f"/bookings/{booking.id}/edit" if booking else "/bookings/new",
        "errors": {},
        "conflicts": None,
        "conflict_total": 0,
        "rule_text": None,
    }


def _form_page(
    request: Request,
    session: Session,
    principal: Principal,
    form: BookingForm,
    *,
    booking: Booking | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    context = _form_context(session, principal, form, booking=booking)
    context.update(extra)
    return render(request, "booking_form.html", principal, status=status, **context)


def _form_from_booking(session: Session, booking: Booking) -> BookingForm:
    rule = rule_from_json(booking.recurrence)
    station = session.get(Station, booking.station_id)
    return BookingForm(
        station=station.code if station else "",
        subtree=booking.subtree,
        clusters=", ".join(booking.clusters),
        zones=", ".join(booking.zones),
        pair_languages=booking.pair_languages,
        source=booking.source,
        item_id=str(booking.item_id or ""),
        programme_id=str(booking.programme_id or ""),
        relay_url=booking.relay_url or "",
        length=length_text(booking.duration_s),
        title=booking.title,
        timing="at" if booking.at else "window",
        at=booking.at or "",
        priority=booking.priority,
        freq=rule.freq,
        weekdays=[str(day) for day in rule.weekdays] if rule.nth is None else [],
        interval=str(rule.interval),
        monthly_by="weekday" if rule.nth is not None else "day",
        month_day=str(rule.month_day or ""),
        nth=str(rule.nth) if rule.nth is not None else "-1",
        nth_weekday=str(rule.weekdays[0]) if rule.nth is not None else "4",
        start=day_text(rule.start),
        until=day_text(rule.until) if rule.until else "",
        count=str(rule.count or ""),
        exceptions=", ".join(day_text(day) for day in rule.exceptions),
    )


def _refused_booking(
    request: Request,
    session: Session,
    principal: Principal,
    form: BookingForm,
    exc: ProblemError,
    rule: Recurrence | None,
    at: str | None,
    booking: Booking | None,
) -> Response:
    """The form again, with the clashes or the field problems next to it; nothing was kept."""
    refused = refusal_view(session, principal, exc)
    rule_text = f"{describe(rule)}, {f'lúc {at}' if at else 'trong khung giờ'}" if rule else None
    return _form_page(
        request,
        session,
        principal,
        form,
        booking=session.get(Booking, booking.id) if booking else None,
        rule_text=rule_text,
        **refused,
    )


@router.get("/bookings/new")
def new_booking_form(
    request: Request,
    principal: Annotated[Principal, _planner("Không mở được trang đặt lịch")],
    session: SessionDep,
    settings: SettingsDep,
    station: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The booking form, for a station in scope (`?station=` preselects one)."""
    default = default_station(session, principal, asked=station)
    # Airtime is booked from tomorrow on by default: today's playlist may be frozen.
    today = local_today(settings.timezone)
    form = BookingForm(station=default, start=day_text(today + timedelta(days=1)))
    return _form_page(request, session, principal, form)


@router.post("/bookings/new", dependencies=[Depends(check_csrf)])
def new_booking(
    request: Request,
    principal: Booker,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[BookingForm, Form()],
) -> Response:
    """Keep the booking if every occurrence fits; otherwise show each clash next to the form."""
    station, problem = chosen_station(session, principal, form.station)
    values, rule, errors = read_booking(session, form, source=form.source)
    values |= read_targets(session, form, station, errors)
    if problem:
        errors["station"] = problem
    if errors:
        return _form_page(request, session, principal, form, status=422, errors=errors)
    assert station is not None and rule is not None
    booking = Booking(
        station_id=station.id, subtree=form.subtree, created_by=principal.name, **values
    )
    try:
        booked = flows.book(session, booking=booking, base_url=settings.public_base_url)
    except ProblemError as exc:
        return _refused_booking(request, session, principal, form, exc, rule, values["at"], None)
    session.commit()
    _flash_booked(request, "created", booked)
    return RedirectResponse(f"/bookings/{booking.id}", status_code=303)


@router.get("/bookings/{booking_id}/edit")
def edit_booking_form(
    booking_id: int, request: Request, principal: Editor, session: SessionDep
) -> Response:
    """The booking form filled in with a booking's current settings."""
    booking = _active(session, principal, booking_id, "đã huỷ; hãy đặt lịch mới")
    form = _form_from_booking(session, booking)
    return _form_page(request, session, principal, form, booking=booking)


@router.post("/bookings/{booking_id}/edit", dependencies=[Depends(check_csrf)])
def edit_booking(
    booking_id: int,
    request: Request,
    principal: Editor,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[BookingForm, Form()],
) -> Response:
    """Change a booking if every occurrence still fits; the station and source stay."""
    booking = _active(session, principal, booking_id, "đã huỷ; hãy đặt lịch mới")
    station = session.get(Station, booking.station_id)
    # What cannot change is shown, not posted: the booking's own values count.
    form = form.model_copy(
        update={"station": station.code, "subtree": booking.subtree, "source": booking.source}
    )
    values, rule, errors = read_booking(session, form, source=booking.source)
    values |= read_targets(session, form, station, errors)
    if errors:
        return _form_page(
            request, session, principal, form, booking=booking, status=422, errors=errors
        )
    changes = {k: v for k, v in values.items() if k != "source"}
    try:
        booked = flows.change_booking(
            session, booking=booking, changes=changes, base_url=settings.public_base_url
        )
    except ProblemError as exc:
        return _refused_booking(request, session, principal, form, exc, rule, values["at"], booking)
    session.commit()
    _flash_booked(request, "updated", booked)
    return RedirectResponse(f"/bookings/{booking.id}", status_code=303)


def _flash_booked(request: Request, action: str, booked: flows.Booked) -> None:
    zone = ZoneInfo(booked.station.timezone)
    flash(
        request,
        action=action,
        booking=booked.booking.id,
        displaced=displaced_for_flash(booked.displaced, zone),
        displaced_total=len(booked.displaced),
    )


def _source_text(session: Session, booking: Booking) -> str:
    if booking.source == "relay":
        length = minutes_text(booking.duration_s or 0)
        return f"Tiếp sóng {booking.relay_url}, dài {length}"
    if booking.source == "item":
        item = session.get(ContentItem, booking.item_id)
        return f"Nội dung số {booking.item_id}: {item.title if item else 'không còn'}"
    programme = session.get(Programme, booking.programme_id)
    return (
        f"Chương trình số {booking.programme_id}: {programme.title if programme else 'không còn'}"
    )


def _booking_view(session: Session, booking: Booking, station: Station) -> dict[str, Any]:
    rule = rule_from_json(booking.recurrence)
    zone = ZoneInfo(station.timezone)
    today = station_today(station)
    upcoming = occurrences(rule, start=today, end=today + timedelta(days=400))[:UPCOMING_SHOWN]
    stations = len(subtree_ids(session, root_id=station.id)) if booking.subtree else 1
    return {
        "booking": booking,
        "station": station,
        "station_count": stations,
        "source_text": _source_text(session, booking),
        "time_text": f"lúc {booking.at}" if booking.at else "bất kỳ lúc nào trong khung giờ",
        "targets_text": (
            "Các cụm loa " + ", ".join(booking.clusters)
            if booking.clusters
            else "Các cụm loa mang nhãn vùng " + ", ".join(booking.zones)
            if booking.zones
            else "Mọi cụm loa"
        ),
        "rule_text": describe(rule),
        "rrule": to_rrule(rule),
        "upcoming": [
            {
                "day": day,
                "text": f"{WEEKDAYS[day.weekday()]}, {day_text(day)}",
                "link": f"/stations/{station.code}/day/{day.isoformat()}",
            }
            for day in upcoming
        ],
        "calendar_link": f"/stations/{station.code}/calendar?view=week&date="
        + (upcoming[0] if upcoming else today).isoformat(),
        "created_text": f"{booking.created_at.astimezone(zone):%d/%m/%Y %H:%M}",
    }


def _flash_view(session: Session, flash: dict[str, Any] | None, booking_id: int) -> dict | None:
    if not flash or flash.get("booking") != booking_id:
        return None
    displaced = flash.get("displaced") or []
    titles = {
        b.id: b.title
        for b in session.exec(
            select(Booking).where(col(Booking.id).in_({row[3] for row in displaced}))
        )
    }
    return {
        **flash,
        "displaced": [
            {
                "station": station,
                "date_text": day_text(date.fromisoformat(day)),
                "time": at,
                "title": titles.get(other, f"lịch đặt số {other}"),
                "link": f"/bookings/{other}",
                "day_link": f"/stations/{station}/day/{day}",
            }
            for station, day, at, other in displaced
        ],
    }


@router.get("/bookings/{booking_id}")
def booking_page(
    booking_id: int, request: Request, principal: Viewer, session: SessionDep
) -> Response:
    """A booking in words: when it airs, its next dates, and what saving it displaced."""
    booking = writable_booking(session, principal, booking_id)
    station = session.get(Station, booking.station_id)
    shown = _flash_view(session, request.session.pop(FLASH, None), booking.id)
    return render(
        request,
        "booking.html",
        principal,
        mode="show",
        flash=shown,
        **_booking_view(session, booking, station),
    )


@router.get("/bookings/{booking_id}/cancel")
def cancel_booking_form(
    booking_id: int, request: Request, principal: Canceller, session: SessionDep
) -> Response:
    """Ask before cancelling a booking."""
    booking = _active(session, principal, booking_id, "đã huỷ trước đó")
    station = session.get(Station, booking.station_id)
    return render(
        request,
        "booking.html",
        principal,
        mode="cancel",
        flash=None,
        **_booking_view(session, booking, station),
    )


@router.post("/bookings/{booking_id}/cancel", dependencies=[Depends(check_csrf)])
def cancel_booking_page(
    booking_id: int,
    request: Request,
    principal: Canceller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Cancel a booking; frozen playlists keep what devices already hold."""
    booking = _active(session, principal, booking_id, "đã huỷ trước đó")
    booked = flows.cancel_booking(session, booking=booking, base_url=settings.public_base_url)
    session.commit()
    station = booked.station
    flash(request, action="cancelled", title=booking.title, station=station.code)
    return RedirectResponse(
        f"/stations/{station.code}/calendar?view=week&date={station_today(station).isoformat()}",
        status_code=303,
    )
