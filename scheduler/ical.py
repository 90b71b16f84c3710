"""iCalendar (RFC 5545) export of airtime bookings, so a station's schedule opens in any calendar.

Each booking becomes one recurring VEVENT at a local wall-clock time in its station's zone. Each
zone used gets a VTIMEZONE listing its real offset changes (from zoneinfo) over the years the
events cover; Asia/Ho_Chi_Minh therefore gets a single fixed +0700 STANDARD block. Open-ended
rules are covered for ten years past the later of their start and the export stamp; calendar apps
that know the IANA TZID use their own data beyond that anyway.
"""

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.models import Station
from scheduler.planner import Source, bookings_for, resolve_source
from scheduler.recurrence import (
    Recurrence,
    occurrences,
    rule_from_json,
    to_ical_lines,
    validate,
)
from scheduler.windows import parse_windows

PRODID = "-//Truyen thanh//Lich phat thanh//VI"
LINE_OCTETS = 75
OPEN_ENDED_YEARS = 10
# Offset changes are looked for day by day; no zone changes twice within one day.
SCAN_STEP = timedelta(days=1)


@dataclass(frozen=True, kw_only=True)
class IcalEvent:
    """One booking as a recurring calendar event at a local wall-clock time."""

    uid: str
    summary: str
    start_time: time
    duration: timedelta
    tz: str
    rule: Recurrence
    description: str = ""
    stamp: datetime


def calendar(events: Iterable[IcalEvent], *, name: str) -> str:
    """Return a VCALENDAR of these events: CRLF line endings, lines folded at 75 octets."""
    events = list(events)
    # Events first: they check each zone name before the VTIMEZONE blocks rely on it.
    event_lines = [line for event in events for line in _vevent(event)]
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_plain_text(name)}",
    ]
    for tz in sorted({event.tz for event in events}):
        in_zone = [event for event in events if event.tz == tz]
        first_year = min(validate(event.rule).start.year for event in in_zone)
        last_year = max(_last_year(event) for event in in_zone)
        lines += vtimezone(tz, first_year=first_year, last_year=last_year)
    lines += event_lines
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def _vevent(event: IcalEvent) -> list[str]:
    if not event.uid.strip():
        raise ValueError("Sự kiện lịch cần UID.")
    if event.duration <= timedelta(0):
        raise ValueError(f"Thời lượng của sự kiện {event.uid!r} phải lớn hơn 0.")
    if event.stamp.tzinfo is None:
        raise ValueError(f"DTSTAMP của sự kiện {event.uid!r} phải kèm múi giờ.")
    dtstart, *rule_lines = to_ical_lines(event.rule, tz=event.tz, at=event.start_time)
    lines = [
        "BEGIN:VEVENT",
        f"UID:{escape_text(event.uid)}",
        f"DTSTAMP:{_utc_text(event.stamp)}",
        dtstart,
        f"DURATION:{duration_text(event.duration)}",
        f"SUMMARY:{escape_text(event.summary)}",
    ]
    if event.description:
        lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    return [*lines, *rule_lines, "END:VEVENT"]


def _last_year(event: IcalEvent) -> int:
    rule = validate(event.rule)
    if rule.until is not None:
        year = rule.until.year
    elif rule.freq == "once":
        year = rule.start.year
    elif rule.count is not None:
        dates = occurrences(rule, start=rule.start, end=date.max)
        year = dates[-1].year if dates else rule.start.year
    else:
        year = max(rule.start.year, event.stamp.year) + OPEN_ENDED_YEARS
    return min(year, date.max.year - 1)


# --- text -------------------------------------------------------------------------------------


def escape_text(value: str) -> str:
    """Escape a TEXT value: backslash, semicolon, comma and line breaks."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")
    # RFC 5545 allows no control characters in values other than tab.
    return "".join(char for char in value if char == "\t" or (ord(char) >= 32 and char != "\x7f"))


def _plain_text(value: str) -> str:
    # X-WR-CALNAME has no value type of its own: readers such as icalendar take it verbatim, so
    # escaping would show backslashes; line breaks and control characters become spaces.
    return "".join(" " if ord(char) < 32 or char == "\x7f" else char for char in value)


def fold(line: str) -> str:
    """Fold a content line into pieces of at most 75 octets, never inside a UTF-8 character."""
    pieces = []
    current = ""
    size = 0
    limit = LINE_OCTETS
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append(current)
            current, size = "", 0
            limit = LINE_OCTETS - 1  # continuation lines start with a space
        current += char
        size += width
    pieces.append(current)
    return "\r\n ".join(pieces)


def duration_text(duration: timedelta) -> str:
    """Return an RFC 5545 DURATION such as "PT12M11S", rounded up to whole seconds."""
    days, rest = divmod(math.ceil(duration.total_seconds()), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    # The grammar allows H[M[S]], M[S] or S: a zero minute is written when H and S are both set.
    if hours:
        clock = f"{hours}H" + (f"{minutes}M" if minutes or seconds else "")
        clock += f"{seconds}S" if seconds else ""
    elif minutes:
        clock = f"{minutes}M" + (f"{seconds}S" if seconds else "")
    else:
        clock = f"{seconds}S" if seconds else ""
    text = "P" + (f"{days}D" if days else "")
    return text + (f"T{clock}" if clock else "")


def _utc_text(moment: datetime) -> str:
    return f"{_wall_text(moment.astimezone(UTC))}Z"


def _wall_text(moment: datetime) -> str:
    return (
        f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
        f"T{moment.hour:02d}{moment.minute:02d}{moment.second:02d}"
    )


# --- time zones -------------------------------------------------------------------------------


def vtimezone(tz: str, *, first_year: int, last_year: int) -> list[str]:
    """Return a VTIMEZONE for an IANA zone with every offset change from first to last year."""
    zone = ZoneInfo(tz)
    begin = datetime(first_year, 1, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{tz}"]
    lines += _observance(zone, begin, offset_from=_offset(zone, begin))
    for change in _offset_changes(zone, begin, end):
        lines += _observance(zone, change, offset_from=_offset(zone, change - timedelta(seconds=1)))
    lines.append("END:VTIMEZONE")
    return lines


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    return instant.astimezone(zone).utcoffset() or timedelta(0)


def _offset_changes(zone: ZoneInfo, begin: datetime, end: datetime) -> Iterator[datetime]:
    """Yield the UTC instants, to the second, at which the zone's offset changes."""
    low = begin
    while low < end:
        high = min(low + SCAN_STEP, end)
        if _offset(zone, low) != _offset(zone, high):
            yield _first_instant_after(zone, low, high)
        low = high


def _first_instant_after(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """Bisect to the first whole second in (low, high] whose offset differs from low's."""
    before = _offset(zone, low)
    low_s, high_s = int(low.timestamp()), int(high.timestamp())
    while high_s - low_s > 1:
        middle = (low_s + high_s) // 2
        if _offset(zone, datetime.fromtimestamp(middle, UTC)) == before:
            low_s = middle
        else:
            high_s = middle
    return datetime.fromtimestamp(high_s, UTC)


def _observance(zone: ZoneInfo, instant: datetime, *, offset_from: timedelta) -> list[str]:
    local = instant.astimezone(zone)
    kind = "DAYLIGHT" if local.dst() else "STANDARD"
    # RFC 5545: an observance's DTSTART is the wall-clock time in the offset it changes from.
    wall = (instant + offset_from).replace(tzinfo=None)
    return [
        f"BEGIN:{kind}",
        f"DTSTART:{_wall_text(wall)}",
        f"TZOFFSETFROM:{_offset_text(offset_from)}",
        f"TZOFFSETTO:{_offset_text(_offset(zone, instant))}",
        f"TZNAME:{escape_text(local.tzname() or '')}",
        f"END:{kind}",
    ]


def _offset_text(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{seconds:02d}" if seconds else "")


def schedule_events(session: Session, *, station: Station) -> list[IcalEvent]:
    """A station's active bookings as recurring calendar events (iCalendar export)."""
    windows = parse_windows(station.windows)
    events = []
    for booking in bookings_for(session, station=station):
        source = resolve_source(session, booking, "")
        seconds = source.seconds if isinstance(source, Source) else booking.duration_s or 900
        if booking.at is not None:
            at, note = time.fromisoformat(booking.at), ""
        else:
            at = windows[0].start if windows else time(6, 0)
            note = "Phát trong khung giờ của đài; giờ cụ thể do hệ thống xếp. "
        events.append(
            IcalEvent(
                uid=f"booking-{booking.id}@truyenthanh",
                summary=booking.title,
                start_time=at,
                duration=timedelta(seconds=max(60, round(seconds))),
                tz=station.timezone,
                rule=rule_from_json(booking.recurrence),
                stamp=booking.updated_at,
                description=f"{note}Mức ưu tiên: {booking.priority}. Lịch đặt số {booking.id}.",
            )
        )
    return events
