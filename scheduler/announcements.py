"""Recorded announcements: a commune's recording aired now, first in the next session, or in
the next free place of the station's windows.

`announce` is the one workflow: check the request, validate and normalise the audio like
any recording (refused with the reason when silent, too short or not audio, before
anything is stored), keep it content-addressed, book it through `scheduler.flows` (an
emergency through `send_emergency`, so devices are told at once) and say when it airs.
The caller commits; on a refusal it rolls back and no row was kept.

An announcement is kept as a one-part programme whose audio is the recording: bookings
already play programmes, devices may fetch their files, and the programme can be booked
again later like any other.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast
from sqlmodel import Session, col, select

from audio.models import AssetOrigin, AudioAsset, Programme
from audio.service import store_upload
from audio.store import MediaStore
from content.models import Priority
from core.clock import utcnow
from core.errors import ConflictError, InvalidError, ProblemError, refuse_fields
from core.limits import TITLE_MAX
from scheduler import flows
from scheduler.bookings import cap_problem
from scheduler.models import Booking, Cluster, Playlist, Station
from scheduler.planner import plan_day, plan_stations
from scheduler.playlists import freeze_time
from scheduler.recurrence import Recurrence, rule_to_json
from scheduler.service import render_settings, station_now
from scheduler.windows import parse_windows, windows_on

PART = "announcement"
HORIZON_DAYS = 14  # how far ahead a normal announcement looks for a free place
# A booking's time is a whole minute: the next one at least this far off, so a device
# that pulls at once still has it before it starts.
LEAD = timedelta(seconds=30)
PROBE_ID = -1  # the announcement tried on a day before it is kept
KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass
class Announced:
    """What was booked for an announcement and when it airs (None: not in a playlist yet)."""

    booking: Booking
    station: Station
    asset: AudioAsset
    airs_at: datetime | None
    ends_at: datetime | None
    clusters: list[str]
    displaced: list[dict[str, Any]] = field(default_factory=list)
    notified: int = 0
    replayed: bool = False


def check_request(
    session: Session,
    *,
    station: Station,
    title: str,
    priority: str,
    clusters: list[str],
    zones: list[str],
    key: str | None = None,
) -> None:
    """Refuse a bad title, priority, target or idempotency key before the audio is decoded."""
    problems = []
    if not title.strip() or len(title) > TITLE_MAX:
        problems.append(("title", f"từ 1 đến {TITLE_MAX} ký tự"))
    if priority not in Priority.__members__:
        problems.append(("priority", "là normal, priority hoặc emergency"))
    if clusters and zones:
        problems.append(("zones", "chọn cụm loa hoặc vùng, không chọn cả hai"))
    known = session.exec(select(Cluster).where(Cluster.station_id == station.id)).all()
    unknown = sorted(set(clusters) - {c.code for c in known})
    if unknown:
        problems.append(("clusters", f"đài {station.code} không có cụm loa {', '.join(unknown)}"))
    tags = {tag for c in known for tag in c.zone_tags}
    if zones and not set(zones) & tags:
        problems.append(("zones", f"không cụm loa nào của đài {station.code} thuộc vùng này"))
    if key is not None and not KEY.match(key):
        problems.append(("Idempotency-Key", "1 đến 64 ký tự chữ, số hoặc _ . : -"))
    refuse_fields("Thông báo không hợp lệ", problems)


def upload_digest(upload: Path) -> str:
    """The SHA-256 of an upload as it arrived, which tells a retry from another recording."""
    digest = hashlib.sha256()
    with upload.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            digest.update(chunk)
    return digest.hexdigest()


def announce(
    session: Session,
    *,
    store: MediaStore,
    station: Station,
    upload: Path,
    title: str,
    priority: str,
    author: str,
    base_url: str,
    clusters: list[str] | None = None,
    zones: list[str] | None = None,
    key: str | None = None,
) -> Announced:
    """Validate, store and book a recording on the station; say when it airs.

    `key`: the caller's idempotency key; the same key from the same author for the same
    recording gives the booking made the first time, never a second one."""
    clusters, zones, title = sorted(set(clusters or [])), sorted(set(zones or [])), title.strip()
    check_request(
        session,
        station=station,
        title=title,
        priority=priority,
        clusters=clusters,
        zones=zones,
        key=key,
    )
    request = {
        "upload_sha256": upload_digest(upload),
        "title": title,
        "priority": priority,
        "clusters": clusters,
        "zones": zones,
    }
    if key is not None:
        earlier = _by_key(session, station=station, author=author, key=key)
        if earlier is not None:
            return _replay(session, programme=earlier, request=request, station=station)
    started = utcnow()
    original, copy = store_upload(
        session,
        store=store,
        upload=upload,
        origin=AssetOrigin.recording,
        settings=render_settings(station),
    )
    try:
        return _book(
            session,
            station=station,
            copy=copy,
            request=request,
            key=key,
            author=author,
            base_url=base_url,
        )
    except ProblemError:
        # Refused after all (no room, a clash): the caller rolls back the rows, and the
        # files this request added go too, so a refusal leaves nothing behind.
        for asset in (original, copy):
            if asset.created_at >= started:
                store.path(asset.sha256, asset.format).unlink(missing_ok=True)
        raise


def _book(
    session: Session,
    *,
    station: Station,
    copy: AudioAsset,
    request: dict[str, Any],
    key: str | None,
    author: str,
    base_url: str,
) -> Announced:
    title, priority = request["title"], request["priority"]
    clusters, zones = request["clusters"], request["zones"]
    programme = Programme(
        station_id=station.id,
        title=programme_title(session, station=station, title=title),
        parts=[{"kind": PART, "sha256": copy.sha256, "idempotency_key": key, **request}],
        asset_sha256=copy.sha256,
        created_by=author,
        assembled_at=utcnow(),
    )
    session.add(programme)
    session.flush()
    source = {"source": "programme", "programme_id": programme.id, "title": title}
    if priority == Priority.emergency:
        booked = flows.send_emergency(
            session,
            station=station,
            source=source,
            subtree=False,
            clusters=clusters,
            zones=zones,
            author=author,
            base_url=base_url,
        )
    else:
        booking = Booking(
            station_id=station.id,
            clusters=clusters,
            zones=zones,
            created_by=author,
            priority=priority,
            recurrence={},
            **source,
        )
        day, booking.at = _slot(
            session,
            station=station,
            booking=booking,
            seconds=copy.duration_s,
            targets=target_clusters(session, station=station, clusters=clusters, zones=zones),
            base_url=base_url,
        )
        booking.recurrence = rule_to_json(Recurrence(freq="once", start=day))
        booked = flows.book(session, booking=booking, base_url=base_url)
    return _announced(
        session,
        booking=booked.booking,
        station=station,
        asset=copy,
        displaced=booked.displaced,
        notified=booked.notified,
    )


def programme_title(
    session: Session, *, station: Station, title: str, what: str = "thông báo"
) -> str:
    """A programme title unique on the station that says what it was and when it was made."""
    stamp = f" · {what} {station_now(station):%d/%m/%Y %H:%M:%S}"
    base = title[: TITLE_MAX - len(stamp) - 5] + stamp
    taken = set(
        session.exec(
            select(Programme.title).where(
                Programme.station_id == station.id, col(Programme.title).startswith(base)
            )
        )
    )
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base} ({number})"
    return candidate


def _by_key(session: Session, *, station: Station, author: str, key: str) -> Programme | None:
    found = session.exec(
        select(Programme).where(
            Programme.station_id == station.id,
            Programme.created_by == author,
            cast(Programme.parts, String).contains(json.dumps(key)),
        )
    )
    return next((p for p in found if p.parts and p.parts[0].get("idempotency_key") == key), None)


def _replay(
    session: Session, *, programme: Programme, request: dict[str, Any], station: Station
) -> Announced:
    part = programme.parts[0]
    if any(part.get(name) != value for name, value in request.items()):
        raise InvalidError(
            "Khóa Idempotency-Key này đã dùng cho một thông báo khác; hãy dùng khóa mới "
            "cho mỗi thông báo.",
            errors=[{"field": "Idempotency-Key", "msg": "đã dùng cho thông báo khác"}],
        )
    booking = session.exec(
        select(Booking).where(Booking.programme_id == programme.id).order_by(col(Booking.id))
    ).first()
    if booking is None:  # the first request was refused after the programme was kept
        raise ConflictError("Thông báo với khóa này chưa được đặt lịch; hãy gửi với khóa mới.")
    asset = session.get(AudioAsset, programme.asset_sha256)
    announced = _announced(session, booking=booking, station=station, asset=asset)
    announced.replayed = True
    return announced


def target_clusters(
    session: Session, *, station: Station, clusters: list[str], zones: list[str]
) -> set[str]:
    """The cluster codes a request reaches ("*": all of the station's)."""
    if clusters:
        return set(clusters)
    if zones:
        found = session.exec(select(Cluster).where(Cluster.station_id == station.id))
        return {c.code for c in found if set(c.zone_tags) & set(zones)}
    return {"*"}


def shares_clusters(targets: set[str], clusters: list[str]) -> bool:
    """Whether two sets of cluster codes ("*": all) have a cluster in common."""
    return "*" in targets or "*" in clusters or not targets.isdisjoint(clusters)


def _ceil_minute(moment: datetime) -> datetime:
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)


def _slot(
    session: Session,
    *,
    station: Station,
    booking: Booking,
    seconds: float,
    targets: set[str],
    base_url: str,
) -> tuple[date, str | None]:
    """The day and time an announcement airs: a priority one first in the next session
    (a whole minute), a normal one in the first day not yet frozen whose windows have room
    (no time: the planner places it there, as it places every booking without one)."""
    now = station_now(station)
    earliest = _ceil_minute(now + LEAD)
    today = now.date()
    windows = parse_windows(station.windows)
    planning = plan_stations(
        session,
        stations=[station],
        base_url=base_url,
        first=today,
        last=today + timedelta(days=HORIZON_DAYS),
    )
    # A frozen day keeps what devices hold: only priority and emergency entries join it.
    frozen = set(
        session.exec(
            select(Playlist.day).where(
                Playlist.station_id == station.id,
                Playlist.day >= today,
                col(Playlist.frozen_at).is_not(None),
            )
        )
    )
    length = timedelta(seconds=round(seconds, 1))
    probe = Booking.model_validate(booking.model_dump() | {"id": PROBE_ID})
    for offset in range(HORIZON_DAYS):
        day = today + timedelta(days=offset)
        if station.weekdays_only and day.weekday() >= 5:
            continue
        if booking.priority == Priority.normal:
            freezes = freeze_time(station, day)
            if day in frozen or (freezes is not None and now >= freezes):
                continue
        probe.recurrence = rule_to_json(Recurrence(freq="once", start=day))
        plan = plan_day(
            session,
            station=station,
            day=day,
            bookings=[*planning.bookings[station.id], probe],
            base_url=base_url,
            context=planning.context,
        )
        if booking.priority == Priority.normal:
            placed = any(e.booking_id == PROBE_ID for e in plan.entries)
            if placed and cap_problem(station, plan.entries, day) is None:
                return day, None
            continue
        taken = sorted(
            (
                e
                for e in plan.entries
                if e.booking_id not in (None, PROBE_ID) and shares_clusters(targets, e.clusters)
            ),
            key=lambda e: e.start,
        )
        for window in windows_on(windows, day.weekday()):
            start = datetime.combine(day, window.start, now.tzinfo)
            end = datetime.combine(day, window.end, now.tzinfo)
            if start < earliest:
                continue
            # Other bulletins already leading the session go first.
            cursor = start
            for entry in taken:
                if entry.start <= cursor < entry.end and entry.priority != "normal":
                    cursor = _ceil_minute(entry.end)
            if cursor + length <= end:
                return day, f"{cursor:%H:%M}"
    where = "buổi phát nào" if booking.priority == Priority.priority else "ngày nào còn chỗ"
    raise ConflictError(
        f"Trong {HORIZON_DAYS} ngày tới đài {station.code} không còn {where} đủ chỗ cho "
        f"thông báo dài {round(seconds)} giây; hãy phát khẩn cấp hoặc nhờ cán bộ kế hoạch "
        "xếp lịch.",
        errors=[{"field": "priority", "msg": "không còn chỗ"}],
    )


def _announced(
    session: Session,
    *,
    booking: Booking,
    station: Station,
    asset: AudioAsset,
    displaced: list[dict[str, Any]] | None = None,
    notified: int = 0,
) -> Announced:
    """The booking with the entry its playlist holds for it (start, end, clusters)."""
    day = date.fromisoformat(booking.recurrence["start"])
    body = session.exec(
        select(Playlist.body).where(Playlist.station_id == station.id, Playlist.day == day)
    ).first()
    entry = next(
        (e for e in (body or {}).get("entries", []) if e["booking_id"] == booking.id), None
    )
    if entry is None:  # a day not generated yet, or since pushed out by an emergency
        at = time.fromisoformat(booking.at) if booking.at else None
        start = datetime.combine(day, at, station_now(station).tzinfo) if at else None
        return Announced(
            booking=booking,
            station=station,
            asset=asset,
            airs_at=start,
            ends_at=start + timedelta(seconds=asset.duration_s) if start else None,
            clusters=booking.clusters or ["*"],
            displaced=displaced or [],
            notified=notified,
        )
    return Announced(
        booking=booking,
        station=station,
        asset=asset,
        airs_at=datetime.fromisoformat(entry["start"]),
        ends_at=datetime.fromisoformat(entry["end"]),
        clusters=entry["clusters"],
        displaced=displaced or [],
        notified=notified,
    )
