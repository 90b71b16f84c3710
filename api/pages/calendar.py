"""A station's calendar for planners: a week or a month of windows, entries, gaps and bookings."""

import calendar as month_calendar
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from api.auth import Permission, Principal, StationGrant
from api.deps import SessionDep, SettingsDep
from api.pages.bookings import REFUSAL
from api.pages.formats import PRIORITY_NAMES, WEEKDAYS, day_text
from api.pages.forms import DATE_ISO, FLASH, default_station, parse_day
from api.web import Page, PageOnStation, render
from core.errors import InvalidError
from scheduler.models import Playlist, Station
from scheduler.planner import bookings_for
from scheduler.playlists import playlists_of_days
from scheduler.recurrence import DAY_NAMES, describe, rule_from_json
from scheduler.service import CODE_PATTERN, station_today
from scheduler.windows import parse_windows, windows_on

router = APIRouter(include_in_schema=False)

HEADING = "Không mở được lịch phát"


def _clock_text(value: str, zone: ZoneInfo) -> str:
    return f"{datetime.fromisoformat(value).astimezone(zone):%H:%M}"


def _day_view(station: Station, day: date, playlist: Playlist | None, today: date) -> dict:
    zone = ZoneInfo(station.timezone)
    windows = windows_on(parse_windows(station.windows), day.weekday())
    closed = station.weekdays_only and day.weekday() >= 5
    entries = []
    for entry in playlist.body["entries"] if playlist else []:
        entries.append(
            {
                "start_text": _clock_text(entry["start"], zone),
                "end_text": _clock_text(entry["end"], zone),
                "title": entry["title"],
                "priority": entry["priority"],
                "priority_name": PRIORITY_NAMES.get(entry["priority"], entry["priority"]),
                "kind": entry["kind"],
                "fallback": entry.get("booking_id") is None,
                "link": f"/bookings/{entry['booking_id']}" if entry.get("booking_id") else None,
                "clusters": "" if "*" in entry["clusters"] else ", ".join(entry["clusters"]),
                "gap": False,
            }
        )
    gaps = [
        {
            "start_text": _clock_text(gap["start"], zone),
            "end_text": _clock_text(gap["end"], zone),
            # Playlists made before gaps were told per cluster name no clusters.
            "clusters": ", ".join(c for c in gap.get("clusters", ["*"]) if c != "*"),
            "gap": True,
        }
        for gap in (playlist.gaps if playlist else [])
    ]
    return {
        "day": day,
        "iso": day.isoformat(),
        "weekday": WEEKDAYS[day.weekday()],
        "date_text": day_text(day),
        "short_text": f"{day.day:02d}/{day.month:02d}",
        "today": day == today,
        "past": day < today,
        "missing": playlist is None,
        # A past day is always frozen; the marker matters for the days still to come.
        "frozen": bool(playlist and playlist.frozen_at is not None and day >= today),
        "windows": [] if closed else [f"{w.start:%H:%M}–{w.end:%H:%M}" for w in windows],
        "closed": closed,
        "entries": entries,
        "booked": [e for e in entries if not e["fallback"]],
        "gaps": gaps,
        # Entries and silent stretches in time order, as the day will sound.
        "timeline": sorted(entries + gaps, key=lambda e: (e["start_text"], e["gap"])),
        "emergency": any(e["priority"] == "emergency" for e in entries),
        "link": f"/stations/{station.code}/day/{day.isoformat()}",
    }


def _window_summary(station: Station) -> list[str]:
    lines = []
    for window in parse_windows(station.windows):
        if len(window.days) == 7:
            days = "hằng ngày"
        elif window.days == (0, 1, 2, 3, 4):
            days = "thứ Hai đến thứ Sáu"
        else:
            days = ", ".join(DAY_NAMES[d] for d in window.days)
        lines.append(f"{window.start:%H:%M}–{window.end:%H:%M} ({days})")
    return lines


def _month_shift(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _station_bookings(session: Session, station: Station) -> list[dict[str, Any]]:
    rows = []
    codes: dict[int, str] = {}
    for booking in bookings_for(session, station=station):
        rule = rule_from_json(booking.recurrence)
        if booking.station_id not in codes:
            owner = session.get(Station, booking.station_id)
            codes[booking.station_id] = owner.code if owner else ""
        rows.append(
            {
                "id": booking.id,
                "title": booking.title,
                "time": booking.at or "trong khung giờ",
                "priority": booking.priority,
                "priority_name": PRIORITY_NAMES.get(booking.priority, booking.priority),
                "rule_text": describe(rule),
                "owner": codes[booking.station_id],
                "inherited": booking.station_id != station.id,
            }
        )
    return rows


@router.get("/calendar")
def calendar_chooser(
    principal: Annotated[Principal, Depends(Page(heading=HEADING))],
    session: SessionDep,
    station: str = "",
    view: str = "week",
    day: Annotated[str, Query(alias="date", max_length=20)] = "",
) -> Response:
    """Open the calendar of the station picked on the home page (or of one's own station)."""
    station = default_station(session, principal, asked=station)
    if len(station) > 64 or not CODE_PATTERN.match(station):
        raise InvalidError("Hãy chọn một đài trong danh sách.")
    view = view if view in ("week", "month") else "week"
    suffix = f"&date={day}" if DATE_ISO.match(day) else ""
    return RedirectResponse(f"/stations/{station}/calendar?view={view}{suffix}", status_code=303)


@router.get("/stations/{code}/calendar")
def station_calendar(
    request: Request,
    grant: Annotated[
        StationGrant,
        Depends(PageOnStation(Permission.content_write, heading=HEADING, refusal=REFUSAL)),
    ],
    session: SessionDep,
    settings: SettingsDep,
    view: str = "week",
    day: Annotated[str, Query(alias="date", max_length=20)] = "",
) -> Response:
    """A station's week (seven columns) or month (a grid) with windows, gaps and bookings."""
    station = grant.station
    today = station_today(station)
    if view not in ("week", "month"):
        view = "week"
    try:
        chosen = parse_day(day) if day.strip() else today
    except ValueError:
        raise InvalidError("Ngày ghi theo dạng YYYY-MM-DD hoặc dd/mm/yyyy.") from None
    if view == "week":
        first = chosen - timedelta(days=chosen.weekday())
        days = [first + timedelta(days=n) for n in range(7)]
        previous, following = first - timedelta(days=7), first + timedelta(days=7)
        title = f"Tuần từ {day_text(days[0])} đến {day_text(days[-1])}"
    else:
        first = chosen.replace(day=1)
        length = month_calendar.monthrange(first.year, first.month)[1]
        days = [first + timedelta(days=n) for n in range(length)]
        previous, following = _month_shift(first, -1), _month_shift(first, 1)
        title = f"Tháng {first.month:02d}/{first.year}"
    playlists = playlists_of_days(
        session, station=station, days=days, base_url=settings.public_base_url, today=today
    )
    views = [_day_view(station, day, playlists.get(day), today) for day in days]
    weeks: list[list[dict[str, Any] | None]] = []
    if view == "month":
        cells: list[dict[str, Any] | None] = [None] * days[0].weekday() + list(views)
        cells += [None] * (-len(cells) % 7)
        weeks = [cells[n : n + 7] for n in range(0, len(cells), 7)]
    flash = request.session.pop(FLASH, None)
    base = f"/stations/{station.code}/calendar"
    return render(
        request,
        "calendar.html",
        grant.principal,
        station=station,
        view=view,
        chosen=chosen,
        chosen_text=day_text(chosen),
        title=title,
        days=views,
        weeks=weeks,
        weekday_names=WEEKDAYS,
        windows=_window_summary(station),
        bookings=_station_bookings(session, station),
        cancelled=flash if flash and flash.get("action") == "cancelled" else None,
        links={
            "previous": f"{base}?view={view}&date={previous.isoformat()}",
            "next": f"{base}?view={view}&date={following.isoformat()}",
            "today": f"{base}?view={view}&date={today.isoformat()}",
            "week": f"{base}?view=week&date={chosen.isoformat()}",
            "month": f"{base}?view=month&date={chosen.isoformat()}",
            "book": f"/bookings/new?station={station.code}",
        },
        previous_label="← Tuần trước" if view == "week" else "← Tháng trước",
        next_label="Tuần sau →" if view == "week" else "Tháng sau →",
    )
