"""The playlist store: daily playlists generated, frozen, written and read by devices.

The same bookings always give the same entries, in the same order, with the same ids
and the same ETag; the version only moves when the entries change. After a playlist
freezes, only priority and emergency entries may change it.

Generation is set-based (`generate_stations`): the stations, their bookings and the stored
playlists of the whole span are read in a few queries (`scheduler.planner`), and only the
playlists that changed are written: new ones in one executemany INSERT, changed ones in an
executemany UPDATE per set of changed columns. The one-station functions are thin wrappers
over it.
"""

import gc
import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.clock import utcnow
from core.db import session_scope
from core.errors import InvalidError
from scheduler.models import Booking, Playlist, Station
from scheduler.planner import RANK, DayPlan, Planning, plan_day, plan_stations
from scheduler.windows import Window, parse_windows, windows_on

DAYS_AHEAD = 7
# Stations refreshed per transaction by the nightly job: big enough for set-based queries
# to pay, small enough that the write lock is held for well under a second.
BATCH_STATIONS = 500
PLAYLIST_RANGE_DAYS = 1200  # about three years either side: enough to plan, no year 9999

# Built once, as devices ask for them all the time: building a statement costs more than
# running it.
_OF_DAY = (Playlist.station_id == bindparam("station_id"), Playlist.day == bindparam("day"))
PLAYLIST_OF_DAY = select(Playlist).where(*_OF_DAY)
ETAG_OF_DAY = select(Playlist.etag).where(*_OF_DAY)


CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def device_fallback(station: Station) -> dict[str, Any] | None:
    """What devices play when a source fails or a file cannot be played, in an entry's shape."""
    fallback = station.fallback or {}
    if fallback.get("kind") != "relay":
        return None
    return {
        "kind": "relay",
        "title": fallback.get("title") or "Tiếp sóng",
        "relay": {"url": fallback["url"]},
    }


def _etag(
    station: Station,
    day: date,
    entries: list[dict[str, Any]],
    *,
    frozen: bool,
    fallback: dict[str, Any] | None,
) -> str:
    canonical = CANONICAL.encode(
        {"station": station.code, "date": day.isoformat(), "entries": entries, "frozen": frozen}
        | ({"fallback": fallback} if fallback else {})  # absent: ETags stay as they were
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _freeze_time(station: Station, day: date, windows: list[Window]) -> datetime | None:
    today = windows_on(windows, day.weekday())
    if not today:
        return None
    first = datetime.combine(day, today[0].start, ZoneInfo(station.timezone))
    return first - timedelta(minutes=station.freeze_lead_minutes)


def freeze_time(station: Station, day: date) -> datetime | None:
    """When a day's playlist freezes: the lead time before its first session."""
    return _freeze_time(station, day, parse_windows(station.windows))


def _changes(
    station: Station,
    day: date,
    plan: DayPlan,
    stored: Any,
    held: dict[str, Any] | None,
    *,
    freezes: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """The columns of a playlist row that must change (all of them for a new row)."""
    entries = [e.as_dict() for e in plan.entries]
    displaced: list[dict[str, Any]] = []
    frozen_at = stored.frozen_at if stored is not None else None
    if frozen_at is not None:
        held = held or {"entries": []}
        entries, pushed = _merge_frozen(held["entries"], entries)
        # Devices held what a bulletin pushed out and may have aired part of it: it stays
        # on record, so their reports of it are still accepted.
        known = {e["id"] for e in held.get("displaced", [])}
        displaced = held.get("displaced", []) + [e for e in pushed if e["id"] not in known]
    elif freezes is not None and now >= freezes:
        frozen_at = now
    # The ETag covers everything a device reads except the version and the time it was
    # made, which only move when it does: same bookings, same bytes.
    fallback = device_fallback(station)
    etag = _etag(station, day, entries, frozen=frozen_at is not None, fallback=fallback)
    values: dict[str, Any] = {}
    if stored is None or stored.etag != etag:
        values = {
            "version": (stored.version if stored is not None else 0) + 1,
            "etag": etag,
            "generated_at": now,
            "body": {
                "station": station.code,
                "date": day.isoformat(),
                "timezone": station.timezone,
                "entries": entries,
                **({"displaced": displaced} if displaced else {}),
                **({"fallback": fallback} if fallback else {}),
            },
        }
    if stored is None or stored.frozen_at != frozen_at:
        values["frozen_at"] = frozen_at
    if stored is None or stored.gaps != plan.gaps:
        values["gaps"] = plan.gaps
    return values


def _local_days(station: Station, now: datetime, days_ahead: int) -> list[date]:
    today = now.astimezone(ZoneInfo(station.timezone)).date()
    return [today + timedelta(days=offset) for offset in range(days_ahead)]


def _stored(
    session: Session, station_ids: set[int] | None, first: date, last: date
) -> tuple[dict[tuple[int, date], Any], dict[int, list[dict[str, Any]]]]:
    # The stored rows of the span without their bodies, and the entries devices hold for
    # the frozen days, the only ones that keep them.
    session.flush()  # read through the connection below, which would not see it
    query = select(
        Playlist.id,
        Playlist.station_id,
        Playlist.day,
        Playlist.version,
        Playlist.etag,
        Playlist.gaps,
        Playlist.frozen_at,
    ).where(Playlist.day >= first, Playlist.day <= last)
    if station_ids is not None:
        query = query.where(Playlist.station_id.in_(station_ids))  # type: ignore[attr-defined]
    rows = session.connection().execute(query)  # past the ORM's row handling
    stored = {(row.station_id, row.day): row for row in rows}
    frozen_ids = [row.id for row in stored.values() if row.frozen_at is not None]
    held: dict[int, dict[str, Any]] = {}
    if frozen_ids:
        query = select(Playlist.id, Playlist.body).where(Playlist.id.in_(frozen_ids))  # type: ignore[attr-defined]
        held = dict(session.connection().execute(query).all())
    return stored, held


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    # Generation builds hundreds of thousands of short-lived dicts and lists and no
    # reference cycles, so reference counting frees them all; the cycle collector would
    # only walk the whole heap again and again (a fifth of the time of a national run).
    # Whatever cycles others make meanwhile are collected once it runs again.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def generate_stations(
    session: Session,
    *,
    station_ids: Iterable[int] | None,
    base_url: str,
    days: Iterable[date] | None = None,
    days_ahead: int = DAYS_AHEAD,
    now: datetime | None = None,
    planning: Planning | None = None,
) -> int:
    """Refresh stations' playlists (all when None) for `days` or their next local days.

    `planning`: what was read and planned for these stations as the bookings stand now
    (a booking's check), used instead of reading and planning again where it covers.
    """
    with _cycle_collector_paused():
        return _generate(
            session,
            station_ids=station_ids,
            base_url=base_url,
            days=days,
            days_ahead=days_ahead,
            now=now,
            planning=planning,
        )


def _generate(
    session: Session,
    *,
    station_ids: Iterable[int] | None,
    base_url: str,
    days: Iterable[date] | None,
    days_ahead: int,
    now: datetime | None,
    planning: Planning | None,
) -> int:
    now = now or utcnow()
    ids = None if station_ids is None else set(station_ids)
    query = select(Station).order_by(Station.id)
    if ids is not None:
        query = query.where(Station.id.in_(ids))  # type: ignore[union-attr]
    else:
        query = query.where(col(Station.merged_into_id).is_(None))
    stations = list(session.exec(query))
    fixed = sorted(set(days)) if days is not None else None
    spans = {
        s.id: fixed if fixed is not None else _local_days(s, now, days_ahead) for s in stations
    }
    every_day = [day for span in spans.values() for day in span]
    if not every_day:
        return 0
    first, last = min(every_day), max(every_day)
    if planning is None or ids is None or not planning.covers(ids, first, last):
        planning = plan_stations(
            session, stations=stations, base_url=base_url, first=first, last=last, every=ids is None
        )
    context, bookings, plans = planning.context, planning.bookings, planning.plans
    stored, held = _stored(session, ids, first, last)
    new_rows, changed_rows = [], []
    for station in stations:
        windows = context.windows(station)
        span = spans[station.id]
        # Each booking's dates are known for the whole span: hand each day only the
        # bookings that air on it, still in id order.
        airing: dict[date, list[Booking]] = {day: [] for day in span}
        # A merged station plans nothing new: its clusters play at the station it joined.
        merged = station.merged_into_id is not None
        for booking in [] if merged else bookings[station.id]:
            for day in context.dates(booking):
                if day in airing:
                    airing[day].append(booking)
        for day in span:
            plan = None if merged else plans.get((station.id, day))
            if plan is None:
                plan = plan_day(
                    session,
                    station=station,
                    day=day,
                    bookings=airing[day],
                    base_url=base_url,
                    context=context,
                )
            row = stored.get((station.id, day))
            values = _changes(
                station,
                day,
                plan,
                row,
                held.get(row.id) if row is not None else None,
                freezes=_freeze_time(station, day, windows),
                now=now,
            )
            if row is None:
                new_rows.append({"station_id": station.id, "day": day, **values})
            elif values:
                changed_rows.append({"id": row.id, **values})
    _write(session, new_rows, changed_rows)
    return len(every_day)


def _write(
    session: Session, new_rows: list[dict[str, Any]], changed_rows: list[dict[str, Any]]
) -> None:
    if new_rows:
        session.execute(insert(Playlist), new_rows)
    # One executemany per set of changed columns: a day that only froze or only had its
    # gaps change does not rewrite its body.
    batches: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in changed_rows:
        batches.setdefault(tuple(sorted(row)), []).append(row)
    for batch in batches.values():
        # An UPDATE by primary key also refreshes the copies loaded in the session.
        session.execute(update(Playlist), batch)


def generate_playlists(
    session: Session,
    *,
    station: Station,
    days: list[date],
    base_url: str,
    now: datetime | None = None,
) -> list[Playlist]:
    """Create or refresh one station's playlists for several dates, in the order given."""
    generate_stations(session, station_ids=[station.id], days=days, base_url=base_url, now=now)
    query = select(Playlist).where(Playlist.station_id == station.id, Playlist.day.in_(days))  # type: ignore[attr-defined]
    found = {playlist.day: playlist for playlist in session.exec(query)}
    return [found[day] for day in days]


def generate_playlist(
    session: Session,
    *,
    station: Station,
    day: date,
    base_url: str,
    now: datetime | None = None,
) -> Playlist:
    """Create or refresh one station's playlist for one date; frozen days keep normal entries."""
    return generate_playlists(session, station=station, days=[day], base_url=base_url, now=now)[0]


def _merge_frozen(
    frozen: list[dict[str, Any]], fresh: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    # What devices hold stays; only priority and emergency entries come in, and they
    # push out the frozen entries they overlap. A live session's entry takes its real
    # end once the session is over (devices were told by `live_end`).
    ended = {e["id"]: e for e in fresh if (e.get("relay") or {}).get("live")}
    frozen = [ended.get(f["id"], f) for f in frozen]
    urgent = [
        e
        for e in fresh
        if e["priority"] in ("priority", "emergency") and e["id"] not in {f["id"] for f in frozen}
    ]
    kept, pushed = [], []
    for f in frozen:
        overlapped = any(
            u["start"] < f["end"]
            and f["start"] < u["end"]
            and RANK[u["priority"]] > RANK[f["priority"]]
            for u in urgent
        )
        (pushed if overlapped else kept).append(f)
    merged = sorted(kept + urgent, key=lambda e: (e["start"], -RANK[e["priority"]], e["id"]))
    return merged, pushed


def plays_on(entry: dict[str, Any], cluster: str) -> bool:
    """Whether a playlist entry plays on a cluster."""
    return "*" in entry["clusters"] or cluster in entry["clusters"]


def playlist_document(playlist: Playlist, *, cluster: str | None = None) -> dict[str, Any]:
    """The playlist as devices read it, optionally only what one cluster plays."""
    entries = playlist.body["entries"]
    if cluster:
        entries = [e for e in entries if plays_on(e, cluster)]
    return {
        **{k: playlist.body[k] for k in ("station", "date", "timezone")},
        "version": playlist.version,
        "frozen": playlist.frozen_at is not None,
        "generated_at": playlist.generated_at.isoformat().replace("+00:00", "Z"),
        "entries": entries,
        **({"fallback": playlist.body["fallback"]} if "fallback" in playlist.body else {}),
    }


def stored_playlist(session: Session, *, station_id: int, day: date) -> Playlist | None:
    """The stored playlist of a station's day, if it was made."""
    return session.exec(PLAYLIST_OF_DAY, params={"station_id": station_id, "day": day}).first()


def current_playlist(session: Session, *, station_id: int, day: date, base_url: str) -> Playlist:
    """The stored playlist of a day, generated on first request if the scheduler has not yet."""
    if abs((day - utcnow().date()).days) > PLAYLIST_RANGE_DAYS:
        raise InvalidError(
            f"Chỉ xem được danh sách phát trong {PLAYLIST_RANGE_DAYS} ngày quanh hôm nay.",
            errors=[{"field": "day", "value": day.isoformat()}],
        )
    current = stored_playlist(session, station_id=station_id, day=day)
    if current is not None:
        return current
    # A pull is a read; making a missing day is a write of its own, taking the write lock
    # first and looking again, so two devices asking at once both get it.
    try:
        with session_scope(session.get_bind(), write=True) as writer:
            if stored_playlist(writer, station_id=station_id, day=day) is None:
                station = writer.get(Station, station_id)
                generate_playlist(writer, station=station, day=day, base_url=base_url)
    except IntegrityError:
        pass  # another request made it first
    session.rollback()
    return stored_playlist(session, station_id=station_id, day=day)


def playlists_of_days(
    session: Session, *, station: Station, days: list[date], base_url: str, today: date
) -> dict[date, Playlist]:
    """The stored playlists of these days, the missing ones from `today` on made first.

    A past day nobody generated stays empty: making it now would invent a plan that
    never reached the devices, and compliance reports count planned airings from playlists.
    """
    query = select(Playlist).where(Playlist.station_id == station.id, Playlist.day.in_(days))  # type: ignore[attr-defined]
    stored = {p.day for p in session.exec(query)}
    for day in days:
        if day not in stored and day >= today:
            current_playlist(session, station_id=station.id, day=day, base_url=base_url)
    return {p.day: p for p in session.exec(query)}
