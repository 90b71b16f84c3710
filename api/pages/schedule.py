"""The planner's pages: booking airtime, a station's calendar, emergency bulletins.

Every page reads and writes through the scheduler's services, exactly as the REST routes
do: a booking is checked by `create_booking` / `update_booking`, playlists are refreshed
and emergencies announced by the same `_refresh` the REST routes call.
"""

import calendar as month_calendar
import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlmodel import Session, col, func, select

from api.auth import Permission, Principal, reaches, readable_station_ids, visible_station_ids
from api.deps import SessionDep, SettingsDep
from api.pages.operator import PRIORITY_NAMES, WEEKDAYS
from api.routes.bookings import _refresh as refresh_after_booking
from api.routes.playlists import current_playlist
from api.web import WebPrincipal, check_csrf, problem_page, render
from audio.models import AudioAsset, JobStatus, Programme, RenderJob
from content.languages import LANGUAGES
from content.models import ContentItem, ContentStatus
from core.clock import utcnow
from core.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError, ProblemError
from core.settings import Settings
from scheduler.bookings import create_booking, update_booking
from scheduler.events import last_event_id
from scheduler.models import Booking, BookingStatus, Cluster, Playlist, Station, StationEvent
from scheduler.playlists import (
    Source,
    bookings_for,
    resolve_source,
    rule_from_json,
    rule_to_json,
)
from scheduler.recurrence import (
    DAY_NAMES,
    Recurrence,
    RecurrenceError,
    describe,
    occurrences,
    to_rrule,
    validate,
)
from scheduler.service import (
    CODE_PATTERN,
    RELAY_SCHEMES,
    clusters_by_station,
    get_station,
    list_stations,
    subtree_ids,
)
from scheduler.windows import parse_windows, windows_on

router = APIRouter(include_in_schema=False)

STATION_SELECT_LIMIT = 500  # more stations than this (a national admin): type the code
CHOICE_LIMIT = 300  # newest items and programmes offered in a form
CONFLICTS_SHOWN = 100
DISPLACED_KEPT = 20  # the session cookie carries them to the next page
UPCOMING_SHOWN = 8
TITLE_LIMIT = 300
URL_LIMIT = 500
FLASH = "schedule_flash"

SOURCE_NAMES = {
    "relay": "Tiếp sóng (luồng phát)",
    "item": "Nội dung đã duyệt",
    "programme": "Chương trình đã ghép",
}
FREQ_NAMES = {
    "once": "Một lần",
    "daily": "Hằng ngày",
    "weekly": "Hằng tuần",
    "monthly": "Hằng tháng",
}
NTH_NAMES = {
    "1": "đầu tiên",
    "2": "thứ hai",
    "3": "thứ ba",
    "4": "thứ tư",
    "5": "thứ năm",
    "-1": "cuối cùng",
}
PRIORITY_HINTS = {
    "normal": "đài xếp vào khung giờ, có thể dời nếu có tin quan trọng hơn",
    "priority": "phát đầu buổi kế tiếp, đẩy lùi tin thường trùng giờ",
    "emergency": "ngắt mọi nội dung đang phát, đến mọi cụm loa cùng lúc",
}
# Where a service's complaint about a field is shown on the form.
SERVICE_FIELDS = {
    "source": "source",
    "item": "item_id",
    "item_id": "item_id",
    "programme": "programme_id",
    "programme_id": "programme_id",
    "relay": "relay_url",
    "relay_url": "relay_url",
    "duration_s": "length",
    "priority": "priority",
    "at": "at",
    "title": "title",
    "recurrence": "freq",
    "recurrence.start": "start",
    "clusters": "clusters",
    "zones": "zones",
}
RULE_FIELDS = {
    "freq": "freq",
    "start": "start",
    "until": "until",
    "interval": "interval",
    "weekdays": "weekdays",
    "month_day": "month_day",
    "nth": "nth",
    "exceptions": "exceptions",
    "count": "count",
}
# Between the dates, cluster codes or zone tags typed in one field.
LIST_SEPARATORS = re.compile(r"[\s,;]+")
DATE_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
CLOCK_TEXT = re.compile(r"^(\d{1,2})\s*[:hH.]\s*(\d{2})$")
API_FIELD_NAME = re.compile(r" \((?:interval|count|until|start|weekdays|month_day|nth|freq)\)")


# ----------------------------------------------------------------- forms as typed


class BookingForm(BaseModel):
    """What the booking form sent, as typed."""

    station: str = ""
    subtree: bool = False
    clusters: str = ""
    zones: str = ""
    pair_languages: bool = False
    source: str = "relay"
    item_id: str = ""
    programme_id: str = ""
    relay_url: str = ""
    length: str = ""
    title: str = ""
    timing: str = "at"
    at: str = ""
    priority: str = "normal"
    freq: str = "weekly"
    weekdays: list[str] = []
    interval: str = "1"
    monthly_by: str = "day"
    month_day: str = ""
    nth: str = "-1"
    nth_weekday: str = "4"
    start: str = ""
    until: str = ""
    count: str = ""
    exceptions: str = ""


class EmergencyForm(BaseModel):
    """What the emergency form sent, as typed."""

    station: str = ""
    subtree: bool = False
    source: str = "relay"
    item_id: str = ""
    relay_url: str = ""
    length: str = ""
    title: str = ""
    step: str = ""


# ----------------------------------------------------------------- small readers


def _fmt(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def _minutes_text(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} phút {rest:02d} giây" if rest else f"{minutes} phút"


def _length_text(seconds: float | None) -> str:
    if not seconds:
        return ""
    minutes = seconds / 60
    return f"{minutes:g}" if minutes == round(minutes, 2) else f"{minutes:.2f}"


def parse_day(text: str) -> date:
    """A date typed as dd/mm/yyyy (or yyyy-mm-dd); ValueError otherwise."""
    text = text.strip()
    match = DATE_DMY.match(text)
    if match:
        day, month, year = (int(part) for part in match.groups())
        return date(year, month, day)
    match = DATE_ISO.match(text)
    if match:
        year, month, day = (int(part) for part in match.groups())
        return date(year, month, day)
    raise ValueError(text)


def parse_clock(text: str) -> str:
    """A time typed as HH:MM (5:30, 05h30 too) in its stored form; ValueError otherwise."""
    match = CLOCK_TEXT.match(text.strip())
    if not match:
        raise ValueError(text)
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        raise ValueError(text)
    return f"{hour:02d}:{minute:02d}"


def _whole(text: str) -> int:
    text = text.strip()
    if not re.fullmatch(r"-?\d{1,6}", text):
        raise ValueError(text)
    return int(text)


def _local_now(station: Station) -> datetime:
    return utcnow().astimezone(ZoneInfo(station.timezone))


def _local_today(station: Station) -> date:
    return _local_now(station).date()


def _rule_words(message: str) -> str:
    # The recurrence service names its API fields in brackets; the form has labels instead.
    return API_FIELD_NAME.sub("", message)


# ----------------------------------------------------------------- access


def _message(
    request: Request,
    principal: Principal | None,
    exc: ProblemError,
    heading: str,
    link: str = "/",
    link_text: str = "Về trang chính",
) -> Response:
    return problem_page(request, principal, exc, heading=heading, link=link, link_text=link_text)


def _require_planner(principal: Principal) -> None:
    if not principal.may(Permission.content_write):
        raise ForbiddenError(
            "Chỉ cán bộ kế hoạch và quản trị được đặt lịch phát, xem lịch đài và phát tin khẩn cấp."
        )


def _scope_stations(session: Session, principal: Principal) -> list[Station]:
    return list_stations(session, ids=visible_station_ids(session, principal))


def _station_in_scope(session: Session, principal: Principal, code: str) -> Station:
    station = get_station(session, code=code)
    if not reaches(session, principal, station.id):
        raise ForbiddenError(f"Đài {station.code} nằm ngoài phạm vi được giao.")
    return station


def _chosen_station(
    session: Session, principal: Principal, code: str
) -> tuple[Station | None, str | None]:
    """The station named in a form, or why not; a station out of scope is refused (403)."""
    code = code.strip()
    if not code:
        return None, "Hãy chọn đài."
    if len(code) > 64 or not CODE_PATTERN.match(code):
        return None, "Mã đài không hợp lệ."
    station = session.exec(select(Station).where(Station.code == code)).first()
    if station is None:
        return None, f"Không có đài mã {code}."
    if not reaches(session, principal, station.id):
        raise ForbiddenError(f"Đài {code} nằm ngoài phạm vi được giao.")
    return station, None


def _booking_in_scope(session: Session, principal: Principal, booking_id: int) -> Booking:
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise NotFoundError(f"Không có lịch đặt số {booking_id}.")
    if not reaches(session, principal, booking.station_id):
        raise ForbiddenError(f"Lịch đặt số {booking_id} thuộc đài nằm ngoài phạm vi được giao.")
    return booking


# ----------------------------------------------------------------- choices


def _items(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Approved items the planner may air, newest first, with their audio length if rendered."""
    ids = readable_station_ids(session, principal)
    query = (
        select(ContentItem, Station.code)
        .join(Station, Station.id == ContentItem.station_id)
        .where(
            col(ContentItem.approved_version).is_not(None),
            ContentItem.status != ContentStatus.archived,
        )
        .order_by(col(ContentItem.id).desc())
        .limit(CHOICE_LIMIT)
    )
    if ids is not None:
        query = query.where(col(ContentItem.station_id).in_(ids))
    rows = list(session.exec(query))
    lengths: dict[int, float] = {}
    if rows:
        rendered = session.exec(
            select(RenderJob.item_id, AudioAsset.duration_s)
            .join(ContentItem, col(ContentItem.id) == RenderJob.item_id)
            .join(AudioAsset, col(AudioAsset.sha256) == RenderJob.asset_sha256)
            .where(
                RenderJob.version == ContentItem.approved_version,
                RenderJob.status == JobStatus.done,
                col(RenderJob.item_id).in_([item.id for item, _ in rows]),
            )
        )
        lengths = dict(rendered.all())
    return [
        {
            "id": item.id,
            "title": item.title,
            "station": code,
            "language": LANGUAGES.get(item.language, item.language),
            "length": _minutes_text(lengths[item.id]) if item.id in lengths else None,
        }
        for item, code in rows
    ]


def _programmes(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Assembled programmes the planner may air, newest first."""
    ids = readable_station_ids(session, principal)
    query = (
        select(Programme, Station.code, AudioAsset.duration_s)
        .join(Station, Station.id == Programme.station_id)
        .join(AudioAsset, col(AudioAsset.sha256) == Programme.asset_sha256)
        .order_by(col(Programme.id).desc())
        .limit(CHOICE_LIMIT)
    )
    if ids is not None:
        query = query.where(col(Programme.station_id).in_(ids))
    return [
        {"id": p.id, "title": p.title, "station": code, "length": _minutes_text(seconds)}
        for p, code, seconds in session.exec(query)
    ]


# ----------------------------------------------------------------- reading a booking form


def _read_source(
    form: BookingForm | EmergencyForm, source: str, errors: dict[str, str]
) -> dict[str, Any]:
    """The booking fields of what plays, each problem noted against its field."""
    values: dict[str, Any] = {"source": source}
    if source == "relay":
        url = form.relay_url.strip()
        if not url:
            errors["relay_url"] = "Hãy ghi địa chỉ luồng tiếp sóng."
        elif len(url) > URL_LIMIT or not url.startswith(RELAY_SCHEMES):
            errors["relay_url"] = (
                "Địa chỉ luồng bắt đầu bằng http://, https://, rtmp:// hoặc rtsp:// "
                f"và dài không quá {URL_LIMIT} ký tự."
            )
        values["relay_url"] = url
        try:
            minutes = float(form.length.strip().replace(",", "."))
            if not 0 < minutes <= 24 * 60:
                raise ValueError(minutes)
            values["duration_s"] = float(round(minutes * 60))
        except ValueError:
            errors["length"] = "Thời lượng tiếp sóng tính bằng phút, ví dụ 30 hoặc 12,5."
    elif source in ("item", "programme"):
        name = f"{source}_id"
        what = "nội dung" if source == "item" else "chương trình"
        try:
            values[name] = _whole(getattr(form, name))
            if values[name] <= 0:
                raise ValueError(values[name])
        except ValueError:
            errors[name] = f"Hãy chọn {what} trong danh sách."
    else:
        errors["source"] = "Hãy chọn phát gì: tiếp sóng, nội dung đã duyệt hoặc chương trình."
    return values


def _read_title(
    session: Session, form: BookingForm | EmergencyForm, values: dict[str, Any], errors: dict
) -> str:
    title = " ".join(form.title.split())
    if not title and values.get("item_id"):
        item = session.get(ContentItem, values["item_id"])
        title = item.title if item else ""
    if not title and values.get("programme_id"):
        programme = session.get(Programme, values["programme_id"])
        title = programme.title if programme else ""
    if not title:
        errors["title"] = "Hãy ghi tên buổi phát (người nghe và cán bộ xã sẽ thấy tên này)."
    elif len(title) > TITLE_LIMIT:
        errors["title"] = f"Tên buổi phát dài không quá {TITLE_LIMIT} ký tự."
    return title


def _read_rule(form: BookingForm, errors: dict[str, str]) -> Recurrence | None:
    """The recurrence the form describes, checked by the recurrence service."""
    # "Once" uses only the start date: the fields it hides are not read.
    repeats = form.freq != "once"
    dates: dict[str, date | None] = {"until": None}
    for name, label in (("start", "bắt đầu"), ("until", "kết thúc"))[: 1 + repeats]:
        text = getattr(form, name).strip()
        if not text:
            dates[name] = None
            continue
        try:
            dates[name] = parse_day(text)
        except ValueError:
            errors[name] = f"Ngày {label} ghi theo dạng dd/mm/yyyy, ví dụ 05/01/2027."
    if "start" not in errors and dates.get("start") is None:
        errors["start"] = "Hãy ghi ngày bắt đầu (dd/mm/yyyy)."
    exceptions: list[date] = []
    for text in filter(None, LIST_SEPARATORS.split(form.exceptions)):
        try:
            exceptions.append(parse_day(text))
        except ValueError:
            errors["exceptions"] = (
                f"Không hiểu ngày nghỉ “{text[:20]}”: ghi dd/mm/yyyy, cách nhau bằng dấu phẩy."
            )
            break
    numbers: dict[str, int | None] = {"interval": 1, "count": None}
    for name, text in (("interval", form.interval), ("count", form.count)):
        if not repeats or not text.strip():
            continue
        try:
            numbers[name] = _whole(text)
        except ValueError:
            errors[name] = "Hãy ghi một số nguyên."
    freq = form.freq
    fields: dict[str, Any] = {}
    if freq not in FREQ_NAMES:
        errors["freq"] = "Hãy chọn phát một lần, hằng ngày, hằng tuần hoặc hằng tháng."
    elif freq == "weekly":
        try:
            fields["weekdays"] = tuple(sorted({_whole(day) for day in form.weekdays}))
        except ValueError:
            errors["weekdays"] = "Hãy chọn thứ trong tuần trong danh sách."
        if not form.weekdays:
            errors["weekdays"] = "Hãy chọn ít nhất một thứ trong tuần."
    elif freq == "monthly":
        if form.monthly_by == "weekday":
            try:
                fields["nth"] = _whole(form.nth)
                fields["weekdays"] = (_whole(form.nth_weekday),)
            except ValueError:
                errors["nth"] = "Hãy chọn thứ mấy trong tháng, ví dụ thứ Sáu cuối cùng."
        else:
            try:
                fields["month_day"] = _whole(form.month_day)
            except ValueError:
                errors["month_day"] = "Hãy chọn ngày trong tháng (1–31) hoặc ngày cuối tháng."
    if errors.keys() & {"start", "until", "exceptions", "interval", "count", "freq"} or any(
        name in errors for name in ("weekdays", "nth", "month_day")
    ):
        return None
    start = dates["start"]
    assert start is not None
    if freq == "once":
        rule = Recurrence(freq="once", start=start, exceptions=tuple(exceptions))
    else:
        rule = Recurrence(
            freq=freq,
            start=start,
            until=dates["until"],
            interval=numbers["interval"] or 1,
            count=numbers["count"],
            exceptions=tuple(exceptions),
            **fields,
        )
    try:
        return validate(rule)
    except RecurrenceError as exc:
        name = RULE_FIELDS.get(exc.field, "freq")
        if name == "weekdays" and freq == "monthly":
            name = "nth"
        errors[name] = _rule_words(str(exc))
        return None


def _read_booking(
    session: Session, form: BookingForm, *, source: str
) -> tuple[dict[str, Any], Recurrence | None, dict[str, str]]:
    """The booking's fields from the form, its rule, and each field's problem in words."""
    errors: dict[str, str] = {}
    values = _read_source(form, source, errors)
    values["title"] = _read_title(session, form, values, errors)
    if form.priority not in PRIORITY_NAMES:
        errors["priority"] = "Hãy chọn mức ưu tiên: thường, ưu tiên hoặc khẩn cấp."
    values["priority"] = form.priority
    if form.timing == "window":
        values["at"] = None
        if form.priority != "normal":
            errors["at"] = (
                "Tin ưu tiên và khẩn cấp phải có giờ phát cụ thể; "
                "chỉ tin thường mới xếp bất kỳ lúc nào trong khung giờ."
            )
    else:
        try:
            values["at"] = parse_clock(form.at)
        except ValueError:
            errors["at"] = "Giờ phát ghi theo dạng HH:MM trong ngày, ví dụ 05:30."
    rule = _read_rule(form, errors)
    if rule is not None:
        values["recurrence"] = rule_to_json(rule)
    return values, rule, errors


def _listed(text: str) -> list[str]:
    """What was typed as a list (commas, semicolons or spaces between), each once."""
    return list(dict.fromkeys(part for part in LIST_SEPARATORS.split(text) if part))


def _read_targets(
    session: Session, form: BookingForm, station: Station | None, errors: dict[str, str]
) -> dict[str, Any]:
    """The clusters or zones a booking plays on (none: every cluster), checked against
    what the station (and, for a subtree booking, the stations below) really has."""
    clusters = [code.upper() for code in _listed(form.clusters)]
    zones = _listed(form.zones)
    if clusters and zones:
        errors["zones"] = "Chọn cụm loa hoặc vùng, không chọn cả hai."
    elif station is not None and (clusters or zones):
        ids = subtree_ids(session, root_id=station.id) if form.subtree else {station.id}
        known = [
            c for group in clusters_by_station(session, station_ids=ids).values() for c in group
        ]
        missing = [code for code in clusters if code not in {c.code for c in known}]
        if missing:
            where = "Đài này và các đài cấp dưới" if form.subtree else "Đài này"
            errors["clusters"] = f"{where} không có cụm loa {', '.join(missing)}."
        tags = {tag for c in known for tag in c.zone_tags}
        untagged = [zone for zone in zones if zone not in tags]
        if untagged:
            errors["zones"] = f"Không cụm loa nào ở đây mang nhãn vùng {', '.join(untagged)}."
    return {"clusters": clusters, "zones": zones, "pair_languages": form.pair_languages}


def _service_errors(exc: ProblemError) -> dict[str, str]:
    """A service's refusal as the form's field errors (the whole form when no field fits)."""
    errors: dict[str, str] = {}
    for problem in exc.errors:
        name = SERVICE_FIELDS.get(str(problem.get("field", "")))
        if name and name not in errors:
            errors[name] = str(problem.get("msg") or exc.detail)
    errors.setdefault("form", exc.detail)
    return errors


def _conflicts(
    session: Session, principal: Principal, exc: ConflictError
) -> list[dict[str, Any]] | None:
    """Each clashing occurrence in words, or None when the conflict is not about occurrences."""
    found = [e for e in exc.errors if "date" in e and "station" in e]
    if not found:
        return None
    other_ids = {e["with_booking_id"] for e in found if e.get("with_booking_id")}
    others = {b.id: b for b in session.exec(select(Booking).where(col(Booking.id).in_(other_ids)))}
    zones = {
        s.code: s.timezone
        for s in session.exec(
            select(Station).where(col(Station.code).in_({e["station"] for e in found}))
        )
    }
    rows = []
    for conflict in found[:CONFLICTS_SHOWN]:
        day = date.fromisoformat(conflict["date"])
        zone = ZoneInfo(zones.get(conflict["station"], "Asia/Ho_Chi_Minh"))
        other = others.get(conflict.get("with_booking_id"))
        other_at = (
            f"{datetime.fromisoformat(conflict['at']).astimezone(zone):%H:%M}"
            if conflict.get("at")
            else None
        )
        rows.append(
            {
                "station": conflict["station"],
                "date": day,
                "date_text": _fmt(day),
                "weekday": WEEKDAYS[day.weekday()],
                "time": conflict.get("time") or "trong khung giờ",
                "reason": str(conflict["reason"]),
                "other": {
                    "id": other.id,
                    "title": other.title,
                    "at": other_at,
                    "link": f"/bookings/{other.id}"
                    if reaches(session, principal, other.station_id)
                    else None,
                }
                if other is not None
                else None,
                "day_link": f"/stations/{conflict['station']}/day/{day.isoformat()}",
            }
        )
    return rows


def _flash(request: Request, **data: Any) -> None:
    request.session[FLASH] = data


def _displaced_for_flash(displaced: list[dict[str, Any]], zone: ZoneInfo) -> list[list[Any]]:
    return [
        [
            d["station"],
            d["date"],
            f"{datetime.fromisoformat(d['at']).astimezone(zone):%H:%M}",
            d["booking_id"],
        ]
        for d in displaced[:DISPLACED_KEPT]
    ]


# ----------------------------------------------------------------- the booking form


def _form_context(
    session: Session, principal: Principal, form: BookingForm, *, booking: Booking | None
) -> dict[str, Any]:
    stations = _scope_stations(session, principal)
    return {
        "form": form,
        "booking": booking,
        "booking_station": session.get(Station, booking.station_id) if booking else None,
        "stations": stations if len(stations) <= STATION_SELECT_LIMIT else None,
        "items": _items(session, principal),
        "programmes": _programmes(session, principal),
        "source_names": SOURCE_NAMES,
        "freq_names": FREQ_NAMES,
        "priority_names": PRIORITY_NAMES,
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
        length=_length_text(booking.duration_s),
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
        start=_fmt(rule.start),
        until=_fmt(rule.until) if rule.until else "",
        count=str(rule.count or ""),
        exceptions=", ".join(_fmt(day) for day in rule.exceptions),
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
    session.rollback()
    rule_text = f"{describe(rule)}, {f'lúc {at}' if at else 'trong khung giờ'}" if rule else None
    conflicts = _conflicts(session, principal, exc) if isinstance(exc, ConflictError) else None
    return _form_page(
        request,
        session,
        principal,
        form,
        booking=session.get(Booking, booking.id) if booking else None,
        status=exc.status,
        errors={} if conflicts else _service_errors(exc),
        conflicts=conflicts,
        conflict_total=len([e for e in exc.errors if "date" in e]),
        rule_text=rule_text,
    )


@router.get("/bookings/new")
def new_booking_form(
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    station: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The booking form, for a station in scope (`?station=` preselects one)."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    try:
        _require_planner(principal)
    except ProblemError as exc:
        return _message(request, principal, exc, "Không mở được trang đặt lịch")
    default = station
    if not default and principal.station_id is not None:
        own = session.get(Station, principal.station_id)
        default = own.code if own else ""
    # Airtime is booked from tomorrow on by default: today's playlist may be frozen.
    today = utcnow().astimezone(ZoneInfo(settings.timezone)).date()
    form = BookingForm(station=default, start=_fmt(today + timedelta(days=1)))
    return _form_page(request, session, principal, form)


@router.post("/bookings/new", dependencies=[Depends(check_csrf)])
def new_booking(
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[BookingForm, Form()],
) -> Response:
    """Keep the booking if every occurrence fits; otherwise show each clash next to the form."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    try:
        _require_planner(principal)
        station, problem = _chosen_station(session, principal, form.station)
    except ProblemError as exc:
        return _message(request, principal, exc, "Không đặt được lịch", "/bookings/new")
    values, rule, errors = _read_booking(session, form, source=form.source)
    values |= _read_targets(session, form, station, errors)
    if problem:
        errors["station"] = problem
    if errors:
        return _form_page(request, session, principal, form, status=422, errors=errors)
    assert station is not None and rule is not None
    booking = Booking(
        station_id=station.id, subtree=form.subtree, created_by=principal.name, **values
    )
    today = _local_today(station)
    try:
        report = create_booking(
            session, booking=booking, base_url=settings.public_base_url, today=today
        )
        refresh_after_booking(
            session,
            booking=booking,
            station=station,
            settings=settings,
            today=today,
            planning=report.planning,
        )
    except ProblemError as exc:
        return _refused_booking(request, session, principal, form, exc, rule, values["at"], None)
    session.commit()
    zone = ZoneInfo(station.timezone)
    _flash(
        request,
        action="created",
        booking=booking.id,
        displaced=_displaced_for_flash(report.displaced, zone),
        displaced_total=len(report.displaced),
    )
    return RedirectResponse(f"/bookings/{booking.id}", status_code=303)


@router.get("/bookings/{booking_id}/edit")
def edit_booking_form(
    booking_id: int, request: Request, principal: WebPrincipal, session: SessionDep
) -> Response:
    """The booking form filled in with a booking's current settings."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    try:
        _require_planner(principal)
        booking = _booking_in_scope(session, principal, booking_id)
        if booking.status != BookingStatus.active:
            raise ConflictError(f"Lịch đặt số {booking_id} đã huỷ; hãy đặt lịch mới.")
    except ProblemError as exc:
        return _message(request, principal, exc, "Không sửa được lịch đặt")
    form = _form_from_booking(session, booking)
    return _form_page(request, session, principal, form, booking=booking)


@router.post("/bookings/{booking_id}/edit", dependencies=[Depends(check_csrf)])
def edit_booking(
    booking_id: int,
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[BookingForm, Form()],
) -> Response:
    """Change a booking if every occurrence still fits; the station and source stay."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    try:
        _require_planner(principal)
        booking = _booking_in_scope(session, principal, booking_id)
        if booking.status != BookingStatus.active:
            raise ConflictError(f"Lịch đặt số {booking_id} đã huỷ; hãy đặt lịch mới.")
    except ProblemError as exc:
        return _message(request, principal, exc, "Không sửa được lịch đặt")
    station = session.get(Station, booking.station_id)
    # What cannot change is shown, not posted: the booking's own values count.
    form = form.model_copy(
        update={"station": station.code, "subtree": booking.subtree, "source": booking.source}
    )
    values, rule, errors = _read_booking(session, form, source=booking.source)
    values |= _read_targets(session, form, station, errors)
    if errors:
        return _form_page(
            request, session, principal, form, booking=booking, status=422, errors=errors
        )
    changes = {k: v for k, v in values.items() if k != "source"}
    today = _local_today(station)
    before = booking.recurrence
    try:
        report = update_booking(
            session,
            booking=booking,
            changes=changes,
            base_url=settings.public_base_url,
            today=today,
        )
        refresh_after_booking(
            session,
            booking=booking,
            station=station,
            settings=settings,
            today=today,
            before=before,
            planning=report.planning,
        )
    except ProblemError as exc:
        return _refused_booking(request, session, principal, form, exc, rule, values["at"], booking)
    session.commit()
    _flash(
        request,
        action="updated",
        booking=booking.id,
        displaced=_displaced_for_flash(report.displaced, ZoneInfo(station.timezone)),
        displaced_total=len(report.displaced),
    )
    return RedirectResponse(f"/bookings/{booking.id}", status_code=303)


# ----------------------------------------------------------------- one booking, cancelling


def _source_text(session: Session, booking: Booking) -> str:
    if booking.source == "relay":
        length = _minutes_text(booking.duration_s or 0)
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
    today = _local_today(station)
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
                "text": f"{WEEKDAYS[day.weekday()]}, {_fmt(day)}",
                "link": f"/stations/{station.code}/day/{day.isoformat()}",
            }
            for day in upcoming
        ],
        "calendar_link": f"/stations/{station.code}/calendar?view=week&date="
        + (upcoming[0] if upcoming else today).isoformat(),
        "priority_names": PRIORITY_NAMES,
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
                "date_text": _fmt(date.fromisoformat(day)),
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
    booking_id: int, request: Request, principal: WebPrincipal, session: SessionDep
) -> Response:
    """A booking in words: when it airs, its next dates, and what saving it displaced."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    try:
        _require_planner(principal)
        booking = _booking_in_scope(session, principal, booking_id)
    except ProblemError as exc:
        return _message(request, principal, exc, "Không mở được lịch đặt")
    station = session.get(Station, booking.station_id)
    flash = _flash_view(session, request.session.pop(FLASH, None), booking.id)
    return render(
        request,
        "booking.html",
        principal,
        mode="show",
        flash=flash,
        **_booking_view(session, booking, station),
    )


@router.get("/bookings/{booking_id}/cancel")
def cancel_booking_form(
    booking_id: int, request: Request, principal: WebPrincipal, session: SessionDep
) -> Response:
    """Ask before cancelling a booking."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    try:
        _require_planner(principal)
        booking = _booking_in_scope(session, principal, booking_id)
        if booking.status != BookingStatus.active:
            raise ConflictError(f"Lịch đặt số {booking_id} đã huỷ trước đó.")
    except ProblemError as exc:
        return _message(request, principal, exc, "Không huỷ được lịch đặt")
    station = session.get(Station, booking.station_id)
    return render(
        request,
        "booking.html",
        principal,
        mode="cancel",
        flash=None,
        **_booking_view(session, booking, station),
    )


def cancel_booking(
    session: Session, *, booking: Booking, station: Station, settings: Settings
) -> None:
    """Stop a booking from producing airtime, as DELETE /api/v1/bookings/{id} does."""
    booking.status = BookingStatus.cancelled
    session.add(booking)
    refresh_after_booking(
        session, booking=booking, station=station, settings=settings, today=_local_today(station)
    )


@router.post("/bookings/{booking_id}/cancel", dependencies=[Depends(check_csrf)])
def cancel_booking_page(
    booking_id: int,
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Cancel a booking; frozen playlists keep what devices already hold."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    try:
        _require_planner(principal)
        booking = _booking_in_scope(session, principal, booking_id)
        if booking.status != BookingStatus.active:
            raise ConflictError(f"Lịch đặt số {booking_id} đã huỷ trước đó.")
    except ProblemError as exc:
        return _message(request, principal, exc, "Không huỷ được lịch đặt")
    station = session.get(Station, booking.station_id)
    cancel_booking(session, booking=booking, station=station, settings=settings)
    session.commit()
    _flash(request, action="cancelled", title=booking.title, station=station.code)
    return RedirectResponse(
        f"/stations/{station.code}/calendar?view=week&date={_local_today(station).isoformat()}",
        status_code=303,
    )


# ----------------------------------------------------------------- the station calendar


def _playlists(
    session: Session, station: Station, days: list[date], settings: Settings
) -> dict[date, Playlist]:
    """The stored playlists of these days, the missing ones from today on made first.

    A past day nobody generated stays empty: making it now would invent a plan that
    never reached the devices, and compliance reports count planned airings from playlists.
    """
    today = _local_today(station)
    stored = set(
        session.exec(
            select(Playlist.day).where(
                Playlist.station_id == station.id, col(Playlist.day).in_(days)
            )
        )
    )
    for day in days:
        if day not in stored and day >= today:
            current_playlist(session, station_id=station.id, day=day, settings=settings)
    return {
        p.day: p
        for p in session.exec(
            select(Playlist).where(Playlist.station_id == station.id, col(Playlist.day).in_(days))
        )
    }


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
        "date_text": _fmt(day),
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
    request: Request,
    principal: WebPrincipal,
    station: str = "",
    view: str = "week",
    day: Annotated[str, Query(alias="date", max_length=20)] = "",
) -> Response:
    """Open the calendar of the station picked on the home page."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if len(station) > 64 or not CODE_PATTERN.match(station):
        exc = InvalidError("Hãy chọn một đài trong danh sách.")
        return _message(request, principal, exc, "Không mở được lịch phát")
    view = view if view in ("week", "month") else "week"
    suffix = f"&date={day}" if DATE_ISO.match(day) else ""
    return RedirectResponse(f"/stations/{station}/calendar?view={view}{suffix}", status_code=303)


@router.get("/stations/{code}/calendar")
def station_calendar(
    code: str,
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    view: str = "week",
    day: Annotated[str, Query(alias="date", max_length=20)] = "",
) -> Response:
    """A station's week (seven columns) or month (a grid) with windows, gaps and bookings."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    heading = "Không mở được lịch phát"
    try:
        _require_planner(principal)
        station = _station_in_scope(session, principal, code)
    except ProblemError as exc:
        return _message(request, principal, exc, heading)
    today = _local_today(station)
    if view not in ("week", "month"):
        view = "week"
    try:
        chosen = parse_day(day) if day.strip() else today
    except ValueError:
        exc = InvalidError("Ngày ghi theo dạng YYYY-MM-DD hoặc dd/mm/yyyy.")
        return _message(request, principal, exc, heading, f"/stations/{station.code}/calendar")
    if view == "week":
        first = chosen - timedelta(days=chosen.weekday())
        days = [first + timedelta(days=n) for n in range(7)]
        previous, following = first - timedelta(days=7), first + timedelta(days=7)
        title = f"Tuần từ {_fmt(days[0])} đến {_fmt(days[-1])}"
    else:
        first = chosen.replace(day=1)
        length = month_calendar.monthrange(first.year, first.month)[1]
        days = [first + timedelta(days=n) for n in range(length)]
        previous, following = _month_shift(first, -1), _month_shift(first, 1)
        title = f"Tháng {first.month:02d}/{first.year}"
    try:
        playlists = _playlists(session, station, days, settings)
    except ProblemError as exc:
        return _message(request, principal, exc, heading, f"/stations/{station.code}/calendar")
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
        principal,
        station=station,
        view=view,
        chosen=chosen,
        chosen_text=_fmt(chosen),
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


# ----------------------------------------------------------------- emergency bulletins


def _emergency_context(
    session: Session, principal: Principal, form: EmergencyForm
) -> dict[str, Any]:
    stations = _scope_stations(session, principal)
    return {
        "form": form,
        "stations": stations if len(stations) <= STATION_SELECT_LIMIT else None,
        "items": _items(session, principal),
        "errors": {},
        "conflicts": None,
        "conflict_total": 0,
        "step": "form",
    }


def _emergency_page(
    request: Request,
    session: Session,
    principal: Principal,
    form: EmergencyForm,
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    context = _emergency_context(session, principal, form)
    context.update(extra)
    return render(request, "emergency.html", principal, status=status, **context)


def _read_emergency(
    session: Session, principal: Principal, form: EmergencyForm, settings: Settings
) -> tuple[Station | None, dict[str, Any], Source | None, dict[str, str]]:
    """The target, the booking's source fields and what will air, or each field's problem."""
    errors: dict[str, str] = {}
    station, problem = _chosen_station(session, principal, form.station)
    if problem:
        errors["station"] = problem
    if form.source not in ("relay", "item"):
        errors["source"] = "Hãy chọn tiếp sóng một luồng hoặc một nội dung đã duyệt."
        return station, {}, None, errors
    values = _read_source(form, form.source, errors)
    values["title"] = _read_title(session, form, values, errors)
    source = None
    if not errors:
        found = resolve_source(
            session,
            Booking(recurrence={}, created_by="", **values),
            settings.public_base_url,
        )
        if isinstance(found, str):
            errors["item_id"] = f"Chưa phát được: {found}."
        else:
            source = found
    return station, values, source, errors


def _reach_counts(session: Session, station: Station, subtree: bool) -> dict[str, Any]:
    ids = subtree_ids(session, root_id=station.id) if subtree else {station.id}
    stations = list(session.exec(select(Station).where(col(Station.id).in_(ids))))
    clusters = session.exec(
        select(func.count()).select_from(Cluster).where(col(Cluster.station_id).in_(ids))
    ).one()
    return {
        "stations": len(stations),
        "communes": sum(1 for s in stations if s.kind == "commune"),
        "clusters": clusters,
        "names": [s.name for s in sorted(stations, key=lambda s: s.code)][:20],
    }


@router.get("/emergency/new")
def emergency_form(
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    station: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The emergency bulletin form: where and what to air at once."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    try:
        _require_planner(principal)
    except ProblemError as exc:
        return _message(request, principal, exc, "Không mở được trang tin khẩn cấp")
    default = station
    if not default and principal.station_id is not None:
        own = session.get(Station, principal.station_id)
        default = own.code if own else ""
    form = EmergencyForm(station=default, subtree=True, length="5", title="Thông báo khẩn cấp")
    return _emergency_page(request, session, principal, form)


@router.post("/emergency/new", dependencies=[Depends(check_csrf)])
def emergency_check(
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[EmergencyForm, Form()],
) -> Response:
    """Say plainly how many stations and clusters will be interrupted, and when, before booking."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    heading = "Không phát được tin khẩn cấp"
    try:
        _require_planner(principal)
        if form.step == "edit":
            return _emergency_page(request, session, principal, form)
        station, _values, source, errors = _read_emergency(session, principal, form, settings)
    except ProblemError as exc:
        return _message(request, principal, exc, heading, "/emergency/new")
    if errors:
        return _emergency_page(request, session, principal, form, status=422, errors=errors)
    assert station is not None and source is not None
    now = _local_now(station)
    return _emergency_page(
        request,
        session,
        principal,
        form,
        step="confirm",
        station=station,
        reach=_reach_counts(session, station, form.subtree),
        now_text=f"{now:%H:%M}",
        today_text=_fmt(now.date()),
        length_text=_minutes_text(source.seconds),
    )


@router.post("/emergency", dependencies=[Depends(check_csrf)])
def emergency_send(
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[EmergencyForm, Form()],
) -> Response:
    """Book the bulletin now, once, as an emergency, and tell the devices at once."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    heading = "Không phát được tin khẩn cấp"
    try:
        _require_planner(principal)
        station, values, _source, errors = _read_emergency(session, principal, form, settings)
    except ProblemError as exc:
        return _message(request, principal, exc, heading, "/emergency/new")
    if errors:
        return _emergency_page(request, session, principal, form, status=422, errors=errors)
    assert station is not None
    now = _local_now(station)
    booking = Booking(
        station_id=station.id,
        subtree=form.subtree,
        created_by=principal.name,
        priority="emergency",
        at=f"{now:%H:%M}",
        recurrence=rule_to_json(Recurrence(freq="once", start=now.date())),
        **values,
    )
    before = last_event_id(session)
    try:
        report = create_booking(
            session, booking=booking, base_url=settings.public_base_url, today=now.date()
        )
        refresh_after_booking(
            session,
            booking=booking,
            station=station,
            settings=settings,
            today=now.date(),
            planning=report.planning,
        )
    except ProblemError as exc:
        session.rollback()
        conflicts = _conflicts(session, principal, exc) if isinstance(exc, ConflictError) else None
        return _emergency_page(
            request,
            session,
            principal,
            form,
            status=exc.status,
            errors={} if conflicts else _service_errors(exc),
            conflicts=conflicts,
            conflict_total=len([e for e in exc.errors if "date" in e]),
        )
    notified = session.exec(
        select(func.count(func.distinct(StationEvent.station_id))).where(
            StationEvent.id > before, StationEvent.kind == "emergency"
        )
    ).one()
    session.commit()
    _flash(
        request,
        action="emergency",
        booking=booking.id,
        notified=notified,
        at=booking.at,
        displaced=[],
        displaced_total=0,
    )
    return RedirectResponse(f"/bookings/{booking.id}", status_code=303)
