"""Booking workflows, each in one place: book, change, cancel, send an emergency.

Each one checks (windows, caps, slots, other bookings), writes, regenerates exactly the
days the booking falls on (before and after a change) and announces an emergency to the
devices at once, then says what happened. The caller commits; on a refusal it rolls back
and nothing was kept. REST routes, web pages and the CLI call these and only translate.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session

from content.models import Priority
from core.errors import ConflictError
from scheduler.bookings import BookingReport, create_booking, regenerate, update_booking
from scheduler.events import publish_bulletin
from scheduler.merges import refuse_merged
from scheduler.models import Booking, BookingStatus, Station
from scheduler.planner import Planning
from scheduler.recurrence import Recurrence, occurrences, rule_from_json, rule_to_json
from scheduler.service import station_now, station_today, subtree_ids


@dataclass
class Booked:
    """A booking kept, what it displaced, and how many stations' devices were told at once."""

    booking: Booking
    station: Station
    displaced: list[dict[str, Any]]
    notified: int = 0


def book(session: Session, *, booking: Booking, base_url: str) -> Booked:
    """Keep a new booking if every occurrence fits (ConflictError lists each clash)."""
    station = session.get(Station, booking.station_id)
    refuse_merged(session, station=station)
    # Planners think in the station's own calendar, whatever the server's clock says.
    today = station_today(station)
    report = create_booking(session, booking=booking, base_url=base_url, today=today)
    return _refresh(session, report=report, station=station, base_url=base_url, today=today)


def change_booking(
    session: Session, *, booking: Booking, changes: dict[str, Any], base_url: str
) -> Booked:
    """Change an active booking if every occurrence still fits; frozen days keep theirs."""
    _require_active(booking)
    station = session.get(Station, booking.station_id)
    today = station_today(station)
    before = booking.recurrence
    report = update_booking(
        session, booking=booking, changes=changes, base_url=base_url, today=today
    )
    return _refresh(
        session, report=report, station=station, base_url=base_url, today=today, before=before
    )


def cancel_booking(session: Session, *, booking: Booking, base_url: str) -> Booked:
    """Stop a booking from producing airtime; frozen playlists keep what devices hold.

    Cancelling a cancelled booking changes nothing, so a retried request is harmless."""
    station = session.get(Station, booking.station_id)
    report = BookingReport(booking)
    if booking.status == BookingStatus.cancelled:
        return Booked(booking=booking, station=station, displaced=[])
    booking.status = BookingStatus.cancelled
    session.add(booking)
    return _refresh(
        session, report=report, station=station, base_url=base_url, today=station_today(station)
    )


def send_emergency(
    session: Session,
    *,
    station: Station,
    source: dict[str, Any],
    subtree: bool,
    author: str,
    base_url: str,
    clusters: list[str] | None = None,
    zones: list[str] | None = None,
) -> Booked:
    """Book a bulletin once, now, as an emergency that interrupts whatever plays, and tell
    the devices of every station it reaches at once.

    `source`: the booking's source fields and title (`source`, `item_id` or `relay_url`
    and `duration_s`, `title`).
    """
    now = station_now(station)
    booking = Booking(
        station_id=station.id,
        subtree=subtree,
        clusters=clusters or [],
        zones=zones or [],
        created_by=author,
        priority=Priority.emergency,
        at=f"{now:%H:%M}",
        recurrence=rule_to_json(Recurrence(freq="once", start=now.date())),
        **source,
    )
    return book(session, booking=booking, base_url=base_url)


def _require_active(booking: Booking) -> None:
    if booking.status != BookingStatus.active:
        raise ConflictError(f"Lịch đặt số {booking.id} đã huỷ; hãy đặt lịch mới.")


def _refresh(
    session: Session,
    *,
    report: BookingReport,
    station: Station,
    base_url: str,
    today: date,
    before: dict[str, Any] | None = None,
) -> Booked:
    # `before`: the recurrence a change replaced, whose days must lose the booking.
    # `report.planning`: what the booking's check read and planned, true until commit.
    booking = report.booking
    ids = subtree_ids(session, root_id=station.id) if booking.subtree else {station.id}
    rules = [booking.recurrence] + ([before] if before and before != booking.recurrence else [])
    planning: Planning | None = report.planning
    regenerate(
        session, station_ids=ids, today=today, base_url=base_url, rules=rules, planning=planning
    )
    notified = 0
    if booking.priority == Priority.emergency and booking.status == BookingStatus.active:
        # Devices hear of it at once instead of at their next pull.
        soon = occurrences(
            rule_from_json(booking.recurrence), start=today, end=today + timedelta(1)
        )
        notified = publish_bulletin(session, booking_id=booking.id, station_ids=ids, days=soon)
    return Booked(booking=booking, station=station, displaced=report.displaced, notified=notified)
