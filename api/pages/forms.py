"""The booking and emergency forms: what was typed, read into a booking's fields, and a
refusal turned back into words next to each field.

The checks that decide are the scheduler's; what is read here is only what a form needs
beyond the REST API's schemas (dates typed dd/mm/yyyy, minutes, lists in one field).
"""

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from pydantic import BaseModel
from sqlmodel import Session, col, select

from api.access import readable_station_ids
from api.auth import Principal, reaches
from api.pages.formats import PRIORITY_NAMES, WEEKDAYS, day_text, minutes_text
from audio.models import AudioAsset, JobStatus, Programme, RenderJob
from content.languages import LANGUAGES
from content.models import ContentItem, ContentStatus
from core.errors import ConflictError, ForbiddenError, ProblemError
from core.limits import TITLE_MAX, URL_MAX
from scheduler.models import Booking, Station
from scheduler.recurrence import Recurrence, RecurrenceError, rule_to_json, validate
from scheduler.service import (
    CODE_PATTERN,
    RELAY_SCHEMES,
    clusters_by_station,
    subtree_ids,
)

STATION_SELECT_LIMIT = 500  # more stations than this (a national admin): type the code
CHOICE_LIMIT = 300  # newest items and programmes offered in a form
CONFLICTS_SHOWN = 100
DISPLACED_KEPT = 20  # the session cookie carries them to the next page
UPCOMING_SHOWN = 8
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


class SourceForm(BaseModel):
    """Where and what to air, as typed: what the booking and emergency forms share."""

    station: str = ""
    subtree: bool = False
    source: str = "relay"
    item_id: str = ""
    relay_url: str = ""
    length: str = ""
    title: str = ""


class BookingForm(SourceForm):
    """What the booking form sent, as typed."""

    clusters: str = ""
    zones: str = ""
    pair_languages: bool = False
    programme_id: str = ""
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


class EmergencyForm(SourceForm):
    """What the emergency form sent, as typed."""

    step: str = ""


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


def default_station(
    session: Session, principal: Principal, *, asked: str = "", listed: Sequence[Station] = ()
) -> str:
    """The station code a form opens on: the one asked for, else the caller's own, else the
    first one listed."""
    if asked:
        return asked
    own = session.get(Station, principal.station_id) if principal.station_id is not None else None
    if own is not None:
        return own.code
    return listed[0].code if listed else ""


def optional_day(text: str) -> date | None:
    """A date typed in a filter or an optional field: None when left blank."""
    return parse_day(text) if text.strip() else None


def optional_id(text: str) -> int | None:
    """A row number typed in a filter: None when blank; ValueError unless digits."""
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 12:
        raise ValueError(text)
    return int(text)


def parse_clock(text: str) -> str:
    """A time typed as HH:MM (5:30, 05h30 too) in its stored form; ValueError otherwise."""
    match = CLOCK_TEXT.match(text.strip())
    if not match:
        raise ValueError(text)
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        raise ValueError(text)
    return f"{hour:02d}:{minute:02d}"


def whole_number(text: str) -> int:
    text = text.strip()
    if not re.fullmatch(r"-?\d{1,6}", text):
        raise ValueError(text)
    return int(text)


def _rule_words(message: str) -> str:
    # The recurrence service names its API fields in brackets; the form has labels instead.
    return API_FIELD_NAME.sub("", message)


def chosen_station(
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


def item_choices(session: Session, principal: Principal) -> list[dict[str, Any]]:
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
            "length": minutes_text(lengths[item.id]) if item.id in lengths else None,
        }
        for item, code in rows
    ]


def programme_choices(session: Session, principal: Principal) -> list[dict[str, Any]]:
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
        {"id": p.id, "title": p.title, "station": code, "length": minutes_text(seconds)}
        for p, code, seconds in session.exec(query)
    ]


def read_source(
    form: BookingForm | EmergencyForm, source: str, errors: dict[str, str]
) -> dict[str, Any]:
    """The booking fields of what plays, each problem noted against its field."""
    values: dict[str, Any] = {"source": source}
    if source == "relay":
        url = form.relay_url.strip()
        if not url:
            errors["relay_url"] = "Hãy ghi địa chỉ luồng tiếp sóng."
        elif len(url) > URL_MAX or not url.startswith(RELAY_SCHEMES):
            errors["relay_url"] = (
                "Địa chỉ luồng bắt đầu bằng http://, https://, rtmp:// hoặc rtsp:// "
                f"và dài không quá {URL_MAX} ký tự."
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
            values[name] = whole_number(getattr(form, name))
            if values[name] <= 0:
                raise ValueError(values[name])
        except ValueError:
            errors[name] = f"Hãy chọn {what} trong danh sách."
    else:
        errors["source"] = "Hãy chọn phát gì: tiếp sóng, nội dung đã duyệt hoặc chương trình."
    return values


def read_title(
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
    elif len(title) > TITLE_MAX:
        errors["title"] = f"Tên buổi phát dài không quá {TITLE_MAX} ký tự."
    return title


def read_rule(form: BookingForm, errors: dict[str, str]) -> Recurrence | None:
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
            numbers[name] = whole_number(text)
        except ValueError:
            errors[name] = "Hãy ghi một số nguyên."
    freq = form.freq
    fields: dict[str, Any] = {}
    if freq not in FREQ_NAMES:
        errors["freq"] = "Hãy chọn phát một lần, hằng ngày, hằng tuần hoặc hằng tháng."
    elif freq == "weekly":
        try:
            fields["weekdays"] = tuple(sorted({whole_number(day) for day in form.weekdays}))
        except ValueError:
            errors["weekdays"] = "Hãy chọn thứ trong tuần trong danh sách."
        if not form.weekdays:
            errors["weekdays"] = "Hãy chọn ít nhất một thứ trong tuần."
    elif freq == "monthly":
        if form.monthly_by == "weekday":
            try:
                fields["nth"] = whole_number(form.nth)
                fields["weekdays"] = (whole_number(form.nth_weekday),)
            except ValueError:
                errors["nth"] = "Hãy chọn thứ mấy trong tháng, ví dụ thứ Sáu cuối cùng."
        else:
            try:
                fields["month_day"] = whole_number(form.month_day)
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


def read_booking(
    session: Session, form: BookingForm, *, source: str
) -> tuple[dict[str, Any], Recurrence | None, dict[str, str]]:
    """The booking's fields from the form, its rule, and each field's problem in words."""
    errors: dict[str, str] = {}
    values = read_source(form, source, errors)
    values["title"] = read_title(session, form, values, errors)
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
    rule = read_rule(form, errors)
    if rule is not None:
        values["recurrence"] = rule_to_json(rule)
    return values, rule, errors


def _listed(text: str) -> list[str]:
    """What was typed as a list (commas, semicolons or spaces between), each once."""
    return list(dict.fromkeys(part for part in LIST_SEPARATORS.split(text) if part))


def read_targets(
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


def service_errors(exc: ProblemError) -> dict[str, str]:
    """A service's refusal as the form's field errors (the whole form when no field fits)."""
    errors: dict[str, str] = {}
    for problem in exc.errors:
        name = SERVICE_FIELDS.get(str(problem.get("field", "")))
        if name and name not in errors:
            errors[name] = str(problem.get("msg") or exc.detail)
    errors.setdefault("form", exc.detail)
    return errors


def refusal_view(session: Session, principal: Principal, exc: ProblemError) -> dict[str, Any]:
    """What a form page shows when the workflow refused: its status, and the clashing
    occurrences in words or else the field problems. Rolls back what was tried."""
    session.rollback()
    conflicts = (
        conflicts_in_words(session, principal, exc) if isinstance(exc, ConflictError) else None
    )
    return {
        "status": exc.status,
        "errors": {} if conflicts else service_errors(exc),
        "conflicts": conflicts,
        "conflict_total": len([e for e in exc.errors if "date" in e]),
    }


def conflicts_in_words(
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
                "date_text": day_text(day),
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


def flash(request: Request, **data: Any) -> None:
    request.session[FLASH] = data


def displaced_for_flash(displaced: list[dict[str, Any]], zone: ZoneInfo) -> list[list[Any]]:
    return [
        [
            d["station"],
            d["date"],
            f"{datetime.fromisoformat(d['at']).astimezone(zone):%H:%M}",
            d["booking_id"],
        ]
        for d in displaced[:DISPLACED_KEPT]
    ]
