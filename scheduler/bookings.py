"""Booking airtime: checked against windows, caps, slots and other bookings before it is kept."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, col, select

from audio.models import Programme
from content.models import ContentItem, Priority
from core.clock import utcnow
from core.errors import ConflictError, InvalidError, refuse_fields
from core.limits import TITLE_MAX, URL_MAX
from scheduler.models import Booking, Playlist, Station
from scheduler.planner import Planning, plan_day, plan_stations
from scheduler.playlists import generate_stations
from scheduler.recurrence import (
    Recurrence,
    RecurrenceError,
    occurrences,
    rule_from_json,
    rule_to_json,
    validate,
)
from scheduler.service import RELAY_SCHEMES, ancestor_ids, subtree_ids
from scheduler.windows import CLOCK, parse_windows, windows_on

CHECK_DAYS = 60  # how far ahead a new booking is checked, occurrence by occurrence
CHECK_DAYS_SUBTREE = 14  # a province-wide booking touches thousands of stations
GENERATE_DAYS = 7


@dataclass
class BookingReport:
    """A kept booking and the lower-priority occurrences it pushed out."""

    booking: Booking
    displaced: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    # What the check read and the days it planned with the booking in place, which
    # generation would read and plan again exactly so: for a province-wide emergency,
    # a thousand stations' worth.
    planning: Planning | None = None


def _check_shape(booking: Booking) -> Recurrence:
    problems = []
    if booking.source not in ("item", "programme", "relay", "live"):
        problems.append(("source", "là item, programme, relay hoặc live"))
    if booking.source == "item" and booking.item_id is None:
        problems.append(("item_id", "bắt buộc với source item"))
    if booking.source == "programme" and booking.programme_id is None:
        problems.append(("programme_id", "bắt buộc với source programme"))
    title = booking.title or ""
    if not title.strip() or len(title) > TITLE_MAX:
        problems.append(("title", f"từ 1 đến {TITLE_MAX} ký tự"))
    if booking.source in ("relay", "live"):
        if len(booking.relay_url or "") > URL_MAX:
            problems.append(("relay_url", f"dài không quá {URL_MAX} ký tự"))
        elif not str(booking.relay_url or "").startswith(RELAY_SCHEMES):
            problems.append(("relay_url", "cần địa chỉ luồng http(s)://, rtmp:// hoặc rtsp://"))
        if not booking.duration_s or booking.duration_s <= 0:
            problems.append(("duration_s", "tiếp sóng cần thời lượng (giây)"))
    if booking.priority not in Priority.__members__:
        problems.append(("priority", "là normal, priority hoặc emergency"))
    if booking.at is not None and not CLOCK.match(booking.at):
        problems.append(("at", "giờ dạng HH:MM trong ngày"))
    if not 0 < (booking.duration_s or 1) <= 86_400:
        problems.append(("duration_s", "từ 1 giây đến 24 giờ"))
    if booking.at is None and booking.priority != "normal":
        problems.append(("at", "tin ưu tiên, khẩn cấp phải có giờ phát cụ thể"))
    try:
        rule = validate(rule_from_json(booking.recurrence))
    except (RecurrenceError, KeyError, ValueError, TypeError) as exc:
        problems.append(("recurrence", str(exc)))
        rule = None
    if rule is not None and not 2000 <= rule.start.year <= 2199:
        problems.append(("recurrence.start", "ngoài khoảng năm 2000 đến 2199"))
    refuse_fields("Đặt lịch không hợp lệ", problems)
    assert rule is not None
    return rule


def _window_problem(station: Station, booking: Booking, day: date, seconds: float) -> str | None:
    if booking.at is None or booking.priority == "emergency":
        return None  # window placement finds its own room; emergencies interrupt anything
    windows = windows_on(parse_windows(station.windows), day.weekday())
    start = time.fromisoformat(booking.at)
    end = (datetime.combine(day, start) + timedelta(seconds=seconds)).time()
    for window in windows:
        if window.start <= start < window.end:
            if end > window.end or end < start:
                return f"dài quá khung giờ {window.start:%H:%M}-{window.end:%H:%M}"
            return None
    return "ngoài khung giờ phát của đài"


def cap_problem(station: Station, plan_entries: list, day: date) -> str | None:
    if station.max_minutes_per_session is None:
        return None
    for window in windows_on(parse_windows(station.windows), day.weekday()):
        inside = [
            e
            for e in plan_entries
            if window.start <= e.start.time() < window.end
            and e.booking_id is not None
            and e.priority != "emergency"  # an emergency interrupts; it is no session time
        ]
        minutes = sum((e.end - e.start).total_seconds() for e in inside) / 60
        if minutes > station.max_minutes_per_session:
            return (
                f"buổi {window.start:%H:%M} dài {minutes:.0f} phút, vượt giới hạn "
                f"{station.max_minutes_per_session} phút"
            )
    return None


def _check_source_owner(session: Session, booking: Booking, target: Station) -> None:
    # A station airs what it or a station above it owns: another province's item is
    # neither visible to the planner nor theirs to air.
    owners = set(ancestor_ids(session, station_id=target.id))
    if booking.source == "item":
        item = session.get(ContentItem, booking.item_id)
        found, field = item is not None and item.station_id in owners, "item_id"
    elif booking.source == "programme":
        programme = session.get(Programme, booking.programme_id)
        found, field = programme is not None and programme.station_id in owners, "programme_id"
    else:
        return
    if not found:
        raise InvalidError(
            f"Không có {'nội dung' if field == 'item_id' else 'chương trình'} số "
            f"{getattr(booking, field)} cho đài {target.code}.",
            errors=[{"field": field, "msg": "không tồn tại hoặc không thuộc đài này"}],
        )


def create_booking(
    session: Session, *, booking: Booking, base_url: str, today: date
) -> BookingReport:
    """Keep a booking if every occurrence fits; otherwise ConflictError listing each clash."""
    rule = _check_shape(booking)
    target = session.get(Station, booking.station_id)
    _check_source_owner(session, booking, target)
    station_ids = subtree_ids(session, root_id=target.id) if booking.subtree else {target.id}
    # Two planners booking the same slot at once: the second waits here for the first
    # to commit, then sees its booking (PostgreSQL row locks; SQLite's write lock).
    stations = list(
        session.exec(
            select(Station)
            .where(Station.id.in_(station_ids))
            .order_by(Station.id)
            .with_for_update()
        )
    )
    session.add(booking)
    session.flush()
    horizon = CHECK_DAYS_SUBTREE if booking.subtree else CHECK_DAYS
    first = max(today, rule.start)
    last = min(first + timedelta(days=horizon), date(2199, 12, 31))
    days = occurrences(rule, start=first, end=last)
    conflicts, report = [], BookingReport(booking)
    # A province-wide booking is checked on every station below: read what that needs
    # once for all of them, not station by station.
    planning = report.planning = plan_stations(
        session, stations=stations, base_url=base_url, first=first, last=max(first, last)
    )
    for station in stations:
        bookings = planning.bookings[station.id]
        for day in days:
            plan = plan_day(
                session,
                station=station,
                day=day,
                bookings=bookings,
                base_url=base_url,
                context=planning.context,
            )
            planning.plans[(station.id, day)] = plan
            mine = [e for e in plan.entries if e.booking_id == booking.id]
            missing = [u for u in plan.unplaced if u["booking_id"] == booking.id]
            pushed = [d for d in plan.displaced if d["booking_id"] == booking.id]
            if not mine and not missing and pushed:
                missing = [
                    {
                        "reason": "trùng giờ tin ưu tiên hơn",
                        "with_booking_id": pushed[0]["by_booking_id"],
                        "at": pushed[0]["at"],
                    }
                ]
            if missing and "chưa" in missing[0]["reason"]:
                raise ConflictError(
                    f"Chưa thể đặt lịch: {missing[0]['reason']}.",
                    errors=[{"field": booking.source, "msg": missing[0]["reason"]}],
                )
            if missing:
                problem = missing[0]["reason"]
            elif not mine or booking.priority == "emergency":
                # No entry without a reason: the station is off that day (weekdays only),
                # so the occurrence simply does not air. An emergency interrupts anything.
                problem = None
            else:
                seconds = (mine[0].end - mine[0].start).total_seconds()
                problem = _window_problem(station, booking, day, seconds) or cap_problem(
                    station, plan.entries, day
                )
            if problem:
                conflicts.append(
                    {
                        "station": station.code,
                        "date": day.isoformat(),
                        "time": booking.at,
                        "reason": problem,
                        **{
                            k: v
                            for k, v in (missing[0] if missing else {}).items()
                            if k in ("with_booking_id", "at")
                        },
                    }
                )
            report.displaced += [
                {"station": station.code, "date": day.isoformat(), **d}
                for d in plan.displaced
                if d["by_booking_id"] == booking.id
            ]
    if conflicts:
        raise ConflictError(
            f"Lịch đặt vướng {len(conflicts)} buổi phát; chưa lưu gì.", errors=conflicts[:500]
        )
    return report


EDITABLE = frozenset(
    {
        "title",
        "at",
        "recurrence",
        "priority",
        "clusters",
        "zones",
        "pair_languages",
        "duration_s",
        "relay_url",
        "item_id",
        "programme_id",
    }
)


def update_booking(
    session: Session, *, booking: Booking, changes: dict[str, Any], base_url: str, today: date
) -> BookingReport:
    """Change a booking if every occurrence still fits; the caller rolls back on a conflict."""
    unknown = sorted(set(changes) - EDITABLE)
    refuse_fields(
        "Không sửa được lịch đặt",
        [(name, "không sửa được; hãy huỷ và đặt lịch mới") for name in unknown],
    )
    for name, value in changes.items():
        setattr(booking, name, value)
    booking.updated_at = utcnow()
    # The changed booking is checked exactly like a new one, against everything else.
    return create_booking(session, booking=booking, base_url=base_url, today=today)


def regenerate(
    session: Session,
    *,
    station_ids: set[int],
    today: date,
    base_url: str,
    days: int = GENERATE_DAYS,
    rules: list[dict[str, Any]] | None = None,
    planning: Planning | None = None,
) -> int:
    """Refresh these stations' coming days and every later day already made; return how many.

    With `rules` (a booking's recurrence, before and after an edit), only the days they
    fall on are refreshed: no other day can change. `planning`: what a booking's check
    read and planned, still true.
    """
    # A day further ahead that a device already pulled must not keep the old booking.
    made = session.exec(
        select(Playlist.day)
        .where(col(Playlist.station_id).in_(station_ids), Playlist.day >= today)
        .distinct()
    ).all()
    span = {today + timedelta(days=offset) for offset in range(days)} | set(made)
    if rules is not None:
        first, last = min(span), max(span)
        touched = {
            day
            for rule in rules
            for day in occurrences(rule_from_json(rule), start=first, end=last)
        }
        span &= touched
    if not span:
        return 0
    return generate_stations(
        session, station_ids=station_ids, days=sorted(span), base_url=base_url, planning=planning
    )


__all__ = ["BookingReport", "create_booking", "regenerate", "rule_to_json", "update_booking"]
