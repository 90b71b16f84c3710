"""Daily playlists: bookings expanded for one station and one local date, deterministically.

The same bookings always give the same entries, in the same order, with the same ids
and the same ETag; the version only moves when the entries change. After a playlist
freezes, only priority and emergency entries may change it.

Generation is set-based (`generate_stations`): the stations, their bookings and the stored
playlists of the whole span are read in a few queries, each booking's recurrence and
source are worked out once, and only the playlists that changed are written: new ones in
one executemany INSERT, changed ones in an executemany UPDATE per set of changed columns.
The one-station functions are thin wrappers over it; `plan_day` is the one planner.
"""

import gc
import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, insert, update
from sqlmodel import Session, or_, select

from audio.models import AudioAsset, Programme, Recording
from audio.service import rendered_asset
from content.models import ContentItem, ContentStatus
from core.clock import utcnow
from scheduler.ical import IcalEvent
from scheduler.models import Booking, BookingStatus, Cluster, Playlist, Station
from scheduler.recurrence import Recurrence, occurrences, occurs_on
from scheduler.service import ancestor_ids
from scheduler.windows import Window, parse_windows, windows_on

RANK = {"emergency": 3, "priority": 2, "normal": 1, "fallback": 0}
DAYS_AHEAD = 7
# Stations refreshed per transaction by the nightly job: big enough for set-based queries
# to pay, small enough that the write lock is held for well under a second.
BATCH_STATIONS = 500


@dataclass(slots=True)
class Entry:
    """One occurrence on a station's day."""

    id: str
    start: datetime
    end: datetime
    kind: str  # audio | relay
    priority: str
    title: str
    clusters: list[str]
    booking_id: int | None
    language: str | None = None
    content_item_id: int | None = None
    audio: dict[str, Any] | None = None
    relay: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The public shape (DESIGN.md §4)."""
        out: dict[str, Any] = {
            "id": self.id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "kind": self.kind,
            "priority": self.priority,
            "title": self.title,
            "language": self.language,
            "clusters": self.clusters,
            "booking_id": self.booking_id,
            "content_item_id": self.content_item_id,
        }
        if self.audio:
            out["audio"] = self.audio
        if self.relay:
            out["relay"] = self.relay
        return out

    def overlaps(self, other: "Entry") -> bool:
        """Same time and at least one loudspeaker cluster in common."""
        if not (self.start < other.end and other.start < self.end):
            return False
        return (
            "*" in self.clusters
            or "*" in other.clusters
            or not set(self.clusters).isdisjoint(other.clusters)
        )


@dataclass(slots=True)
class DayPlan:
    """Entries of a day, with what did not fit and what was pushed out."""

    entries: list[Entry] = field(default_factory=list)
    unplaced: list[dict[str, Any]] = field(default_factory=list)
    displaced: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)


def rule_from_json(data: dict[str, Any]) -> Recurrence:
    """A stored recurrence back as a Recurrence."""
    return Recurrence(
        freq=data["freq"],
        start=date.fromisoformat(data["start"]),
        until=date.fromisoformat(data["until"]) if data.get("until") else None,
        interval=data.get("interval", 1),
        weekdays=tuple(data.get("weekdays", ())),
        month_day=data.get("month_day"),
        nth=data.get("nth"),
        exceptions=tuple(date.fromisoformat(d) for d in data.get("exceptions", ())),
        count=data.get("count"),
    )


def rule_to_json(rule: Recurrence) -> dict[str, Any]:
    """A Recurrence as stored in a booking."""
    return {
        "freq": rule.freq,
        "start": rule.start.isoformat(),
        "until": rule.until.isoformat() if rule.until else None,
        "interval": rule.interval,
        "weekdays": list(rule.weekdays),
        "month_day": rule.month_day,
        "nth": rule.nth,
        "exceptions": [d.isoformat() for d in rule.exceptions],
        "count": rule.count,
    }


def bookings_for(session: Session, *, station: Station) -> list[Booking]:
    """Active bookings aimed at this station, or at a station above it for its whole subtree."""
    above = ancestor_ids(session, station_id=station.id)[1:]
    query = select(Booking).where(
        Booking.status == BookingStatus.active,
        or_(Booking.station_id == station.id, Booking.station_id.in_(above) & Booking.subtree),  # type: ignore[union-attr]
    )
    return list(session.exec(query.order_by(Booking.id)))


def station_clusters(session: Session, *, station: Station) -> list[Cluster]:
    """The station's loudspeaker clusters."""
    return list(session.exec(select(Cluster).where(Cluster.station_id == station.id)))


def _occurrence_id(station: Station, day: date, booking_id: int, part: str) -> str:
    seed = f"{station.code}|{day.isoformat()}|{booking_id}|{part}"
    return "occ_" + hashlib.sha256(seed.encode()).hexdigest()[:24]


def _audio(asset: AudioAsset, base_url: str) -> dict[str, Any]:
    return {
        "url": f"{base_url}/api/v1/audio/{asset.sha256}",
        "sha256": asset.sha256,
        "size": asset.size,
        "duration_s": asset.duration_s,
        "format": asset.format,
    }


@dataclass(frozen=True)
class Source:
    """What a booking plays, once resolved."""

    kind: str
    seconds: float
    audio: dict[str, Any] | None = None
    relay: dict[str, Any] | None = None
    language: str | None = None
    item_id: int | None = None


def resolve_source(session: Session, booking: Booking, base_url: str) -> Source | str:
    """The audio or stream a booking plays, or why it cannot air yet."""
    if booking.source == "relay":
        return Source("relay", booking.duration_s or 0, relay={"url": booking.relay_url})
    if booking.source == "programme":
        programme = session.get(Programme, booking.programme_id)
        asset = (
            session.get(AudioAsset, programme.asset_sha256)
            if programme and programme.asset_sha256
            else None
        )
        if asset is None:
            return "chương trình chưa được ghép thành âm thanh"
        return Source("audio", asset.duration_s, audio=_audio(asset, base_url), language="vie")
    item = session.get(ContentItem, booking.item_id)
    if item is None or item.status == ContentStatus.archived or item.approved_version is None:
        return "nội dung chưa được duyệt hoặc đã lưu trữ"
    asset = rendered_asset(session, item=item)
    if asset is None:
        return "nội dung chưa có âm thanh"
    return Source(
        "audio",
        asset.duration_s,
        audio=_audio(asset, base_url),
        language=item.language,
        item_id=item.id,
    )


class PlanContext:
    """What planning looks up, worked out once per booking or station for a span of days."""

    def __init__(self, session: Session, *, base_url: str, first: date, last: date) -> None:
        self.session = session
        self.base_url = base_url
        self.first = first
        self.last = last
        # generate_stations fills these in bulk; otherwise they are read station by station.
        self.parents: dict[int, int | None] = {}
        self.clusters: dict[int, list[Cluster]] = {}
        self._dates: dict[int, frozenset[date]] = {}
        self._rule_dates: dict[str, frozenset[date]] = {}
        self._sources: dict[int, Source | str] = {}
        self._windows: dict[int, list[Window]] = {}
        self._parsed_windows: dict[str, list[Window]] = {}
        self._recordings: dict[int, list[Recording]] = {}

    def dates(self, booking: Booking) -> frozenset[date]:
        """The booking's dates within the span, its rule expanded once."""
        dates = self._dates.get(booking.id) if booking.id is not None else None
        if dates is None:
            # Many bookings share a rule (communes booked alike): each rule is expanded once.
            key = repr(booking.recurrence)
            dates = self._rule_dates.get(key)
            if dates is None:
                rule = rule_from_json(booking.recurrence)
                dates = frozenset(occurrences(rule, start=self.first, end=self.last))
                self._rule_dates[key] = dates
            if booking.id is not None:
                self._dates[booking.id] = dates
        return dates

    def occurs(self, booking: Booking, day: date) -> bool:
        """Tell whether a booking airs on a day."""
        if not self.first <= day <= self.last:
            return occurs_on(rule_from_json(booking.recurrence), day)
        return day in self.dates(booking)

    def source(self, booking: Booking) -> Source | str:
        """What a booking plays (or why it cannot), resolved once per booking."""
        if booking.id is None:
            return resolve_source(self.session, booking, self.base_url)
        if booking.id not in self._sources:
            self._sources[booking.id] = resolve_source(self.session, booking, self.base_url)
        return self._sources[booking.id]

    def windows(self, station: Station) -> list[Window]:
        """The station's windows, parsed once per distinct setting (most stations share one)."""
        windows = self._windows.get(station.id)
        if windows is None:
            key = repr(station.windows)
            if key not in self._parsed_windows:
                self._parsed_windows[key] = parse_windows(station.windows)
            windows = self._windows[station.id] = self._parsed_windows[key]
        return windows

    def clusters_of(self, station: Station) -> list[Cluster]:
        """The station's clusters, read only when a booking or a gap needs them."""
        if station.id not in self.clusters:
            self.clusters[station.id] = station_clusters(self.session, station=station)
        return self.clusters[station.id]

    def owners(self, station: Station) -> list[int]:
        """The station's id and those of its ancestors, nearest first."""
        if station.id not in self.parents:
            return ancestor_ids(self.session, station_id=station.id)
        chain: list[int] = []
        current: int | None = station.id
        while current is not None:
            chain.append(current)
            current = self.parents.get(current)
        return chain

    def recordings(self, item_id: int) -> list[Recording]:
        """Every recording translating an item, oldest first."""
        if item_id not in self._recordings:
            query = select(Recording).where(Recording.item_id == item_id).order_by(Recording.id)
            self._recordings[item_id] = list(self.session.exec(query))
        return self._recordings[item_id]


def _targets(booking: Booking, station: Station, context: PlanContext) -> list[str]:
    if booking.clusters:
        clusters = context.clusters_of(station)
        return sorted(c.code for c in clusters if c.code in booking.clusters)
    if booking.zones:
        clusters = context.clusters_of(station)
        return sorted(c.code for c in clusters if set(c.zone_tags) & set(booking.zones))
    return ["*"]


def plan_day(
    session: Session,
    *,
    station: Station,
    day: date,
    bookings: list[Booking],
    base_url: str,
    clusters: list[Cluster] | None = None,
    context: PlanContext | None = None,
) -> DayPlan:
    """Expand bookings into a day's entries: fixed times first, then window placement."""
    if context is None:
        context = PlanContext(session, base_url=base_url, first=day, last=day)
    if clusters is not None:
        context.clusters[station.id] = clusters
    zone = ZoneInfo(station.timezone)
    plan = DayPlan()
    if station.weekdays_only and day.weekday() >= 5:
        return plan
    windows = windows_on(context.windows(station), day.weekday())
    candidates: list[tuple[Booking, Source, list[str]]] = []
    for booking in bookings:
        if not context.occurs(booking, day):
            continue
        source = context.source(booking)
        if isinstance(source, str):
            plan.unplaced.append({"booking_id": booking.id, "reason": source})
            continue
        targets = _targets(booking, station, context)
        if not targets:
            plan.unplaced.append({"booking_id": booking.id, "reason": "không có cụm loa phù hợp"})
            continue
        candidates.append((booking, source, targets))
    # Higher priority first, then fixed times before "anywhere in the window", then id.
    candidates.sort(key=lambda c: (-RANK[c[0].priority], c[0].at is None, c[0].id))
    for booking, source, targets in candidates:
        entry = _place(station, day, zone, booking, source, targets, windows, plan.entries)
        if entry is None:
            plan.unplaced.append(
                {"booking_id": booking.id, "reason": "không còn chỗ trong khung giờ"}
            )
            continue
        for other in [e for e in plan.entries if e.overlaps(entry)]:
            if RANK[other.priority] > RANK[entry.priority]:
                # Higher priority was placed first: this occurrence is displaced by it.
                plan.displaced.append(
                    {
                        "booking_id": booking.id,
                        "by_booking_id": other.booking_id,
                        "at": entry.start.isoformat(),
                    }
                )
                break
            if RANK[other.priority] == RANK[entry.priority]:
                plan.unplaced.append(
                    {
                        "booking_id": booking.id,
                        "reason": "trùng giờ",
                        "with_booking_id": other.booking_id,
                        "at": other.start.isoformat(),
                    }
                )
                break
        else:
            plan.entries.append(entry)
            plan.entries.extend(_pairs(context, station, day, booking, entry))
    _fill(station, day, zone, windows, plan, context)
    plan.entries.sort(key=lambda e: (e.start, -RANK[e.priority], e.id))
    return plan


def _place(
    station: Station,
    day: date,
    zone: ZoneInfo,
    booking: Booking,
    source: Source,
    targets: list[str],
    windows: list[Window],
    taken: list[Entry],
) -> Entry | None:
    length = timedelta(seconds=round(source.seconds, 1))
    if booking.at is not None:
        start = datetime.combine(day, time.fromisoformat(booking.at), zone)
    else:
        found = _room(day, zone, length, windows, taken)
        if found is None:
            return None
        start = found
    return Entry(
        id=_occurrence_id(station, day, booking.id, "main"),
        start=start,
        end=start + length,
        kind=source.kind,
        priority=booking.priority,
        title=booking.title,
        clusters=targets,
        booking_id=booking.id,
        language=source.language,
        content_item_id=source.item_id,
        audio=source.audio,
        relay=source.relay,
    )


def _room(
    day: date, zone: ZoneInfo, length: timedelta, windows: list[Window], taken: list[Entry]
) -> datetime | None:
    # The earliest start in the day's windows where `length` fits between what is taken.
    for window in windows:
        cursor = datetime.combine(day, window.start, zone)
        limit = datetime.combine(day, window.end, zone)
        for other in sorted(
            (e for e in taken if cursor <= e.end and e.start < limit), key=lambda e: e.start
        ):
            if other.start - cursor >= length:
                break
            cursor = max(cursor, other.end)
        if limit - cursor >= length:
            return cursor
    return None


def _pairs(
    context: PlanContext, station: Station, day: date, booking: Booking, entry: Entry
) -> list[Entry]:
    # The ethnic-language recording follows the Vietnamese item on its villages' clusters.
    if not booking.pair_languages or entry.content_item_id is None:
        return []
    # Only recordings made for this station or one above it, the newest per language,
    # one after another.
    owners = set(context.owners(station))
    newest: dict[str, Recording] = {}
    for recording in context.recordings(entry.content_item_id):
        if recording.station_id in owners:
            newest[recording.language] = recording
    clusters = context.clusters_of(station) if newest else []
    pairs, start = [], entry.end
    for language in sorted(newest):
        recording = newest[language]
        zone_clusters = sorted(c.code for c in clusters if language in c.zone_tags)
        asset = context.session.get(AudioAsset, recording.broadcast_sha256)
        if not zone_clusters or asset is None:
            continue
        pair = Entry(
            id=_occurrence_id(station, day, booking.id, f"pair-{language}"),
            start=start,
            end=start + timedelta(seconds=round(asset.duration_s, 1)),
            kind="audio",
            priority=booking.priority,
            title=f"{booking.title} ({language})",
            clusters=zone_clusters,
            booking_id=booking.id,
            language=language,
            content_item_id=entry.content_item_id,
            audio=_audio(asset, context.base_url),
        )
        pairs.append(pair)
        start = pair.end
    return pairs


MIN_GAP = timedelta(seconds=60)  # shorter silences are the pauses between items


def _uncovered(
    start: datetime, end: datetime, entries: list[Entry]
) -> list[tuple[datetime, datetime]]:
    holes, cursor = [], start
    for entry in sorted(
        (e for e in entries if e.start < end and start < e.end), key=lambda e: e.start
    ):
        if entry.start - cursor >= MIN_GAP:
            holes.append((cursor, entry.start))
        cursor = max(cursor, entry.end)
    if end - cursor >= MIN_GAP:
        holes.append((cursor, end))
    return holes


def _silent_clusters(
    start: datetime, end: datetime, entries: list[Entry], codes: list[str]
) -> list[tuple[datetime, datetime, list[str]]]:
    # Cut the window wherever an entry starts or ends; between two cuts the same clusters
    # play, so each piece has one set of silent clusters. Neighbouring pieces with the same
    # set are one stretch.
    cuts = sorted({start, end, *(e.start for e in entries), *(e.end for e in entries)})
    stretches: list[tuple[datetime, datetime, list[str]]] = []
    for piece_start, piece_end in pairwise(c for c in cuts if start <= c <= end):
        playing = [e.clusters for e in entries if e.start < piece_end and piece_start < e.end]
        if any("*" in clusters for clusters in playing):
            continue
        heard = set().union(*playing)
        silent = [code for code in codes if code not in heard]
        if not silent:
            continue
        if stretches and stretches[-1][1] == piece_start and stretches[-1][2] == silent:
            stretches[-1] = (stretches[-1][0], piece_end, silent)
        else:
            stretches.append((piece_start, piece_end, silent))
    return [
        (a, b, silent if len(silent) < len(codes) else ["*"])
        for a, b, silent in stretches
        if b - a >= MIN_GAP
    ]


def _silences(
    start: datetime, end: datetime, entries: list[Entry], station: Station, context: PlanContext
) -> list[tuple[datetime, datetime, list[str]]]:
    """Stretches of a window where clusters play nothing, with those clusters ("*" = all)."""
    inside = [e for e in entries if e.start < end and start < e.end]
    if not inside:
        return [(start, end, ["*"])] if end - start >= MIN_GAP else []
    # The common case: everything targets the whole station, so a stretch is either heard
    # everywhere or nowhere, and the clusters need not be read.
    if any("*" not in e.clusters for e in inside):
        codes = sorted(c.code for c in context.clusters_of(station))
        if codes:
            return _silent_clusters(start, end, inside, codes)
    return [(a, b, ["*"]) for a, b in _uncovered(start, end, inside)]


def _fill(
    station: Station,
    day: date,
    zone: ZoneInfo,
    windows: list[Window],
    plan: DayPlan,
    context: PlanContext,
) -> None:
    # Never silent dead air: every stretch of a window where a cluster has nothing booked
    # gets the station's fallback relay on those clusters, or is reported as a gap.
    fallback = station.fallback if (station.fallback or {}).get("kind") == "relay" else None
    for window in windows:
        start = datetime.combine(day, window.start, zone)
        end = datetime.combine(day, window.end, zone)
        for hole_start, hole_end, silent in _silences(start, end, plan.entries, station, context):
            if fallback is None:
                plan.gaps.append(
                    {
                        "start": hole_start.isoformat(),
                        "end": hole_end.isoformat(),
                        "clusters": silent,
                        "reason": "khung giờ trống, đài chưa đặt nội dung dự phòng",
                    }
                )
                continue
            part = f"fallback-{hole_start:%H%M%S}"
            if silent != ["*"]:
                part += "-" + ",".join(silent)
            plan.entries.append(
                Entry(
                    id=_occurrence_id(station, day, 0, part),
                    start=hole_start,
                    end=hole_end,
                    kind="relay",
                    priority="normal",
                    title=fallback.get("title") or "Tiếp sóng",
                    clusters=silent,
                    booking_id=None,
                    relay={"url": fallback["url"]},
                )
            )


# Built once: json.dumps would build the same encoder again for every playlist.
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


@dataclass
class Planning:
    """What planning some stations' days from `first` to `last` reads, and the days it made.

    It holds while the bookings stand as they were read: a booking's check plans the days
    it falls on, and the playlists written right after are those same plans.
    """

    context: PlanContext
    bookings: dict[int, list[Booking]]
    plans: dict[tuple[int, date], DayPlan] = field(default_factory=dict)

    def covers(self, station_ids: Iterable[int], first: date, last: date) -> bool:
        """Tell whether these stations and days were read for."""
        span = self.context.first <= first and last <= self.context.last
        return span and all(station_id in self.bookings for station_id in station_ids)


def plan_stations(
    session: Session,
    *,
    stations: list[Station],
    base_url: str,
    first: date,
    last: date,
    every: bool = False,
) -> Planning:
    """What planning these stations' days needs, read in a few queries: the context and
    each station's bookings (`every`: the stations are all there are)."""
    context = PlanContext(session, base_url=base_url, first=first, last=last)
    context.parents = _parents(session, None if every else {s.id for s in stations})
    bookings = _bookings_by_station(session, stations, context.parents, every=every)
    _load_clusters(session, context, bookings)
    return Planning(context, bookings)


def _parents(session: Session, station_ids: set[int] | None) -> dict[int, int | None]:
    # Every station with the chain above it, in one recursive query.
    if station_ids is None:
        return dict(session.exec(select(Station.id, Station.parent_id)).all())
    chain = (
        select(Station.id, Station.parent_id)
        .where(Station.id.in_(station_ids))  # type: ignore[union-attr]
        .cte("chain", recursive=True)
    )
    chain = chain.union(
        select(Station.id, Station.parent_id).where(Station.id == chain.c.parent_id)
    )
    return dict(session.exec(select(chain.c.id, chain.c.parent_id)).all())


class PlannedBooking(NamedTuple):
    """The fields of a booking that planning reads: cheap to load and read by the ten thousand."""

    id: int
    station_id: int
    subtree: bool
    source: str
    item_id: int | None
    programme_id: int | None
    relay_url: str | None
    title: str
    duration_s: float | None
    at: str | None
    priority: str
    pair_languages: bool
    clusters: list[str]
    zones: list[str]
    recurrence: dict[str, Any]


JSON_FIELDS = ("clusters", "zones", "recurrence")


class PlannedCluster(NamedTuple):
    """The fields of a cluster that planning reads."""

    code: str
    zone_tags: list[str]


def _bookings_by_station(
    session: Session, stations: list[Station], parents: dict[int, int | None], *, every: bool
) -> dict[int, list[Booking]]:
    # The JSON fields come as text and are decoded once per distinct text: most bookings
    # share their empty cluster lists, many share their rule. Nothing here mutates them.
    plain = [name for name in PlannedBooking._fields if name not in JSON_FIELDS]
    query = select(
        *(getattr(Booking, name) for name in plain),
        *(cast(getattr(Booking, name), String) for name in JSON_FIELDS),
    ).where(Booking.status == BookingStatus.active)
    if not every:
        query = query.where(
            or_(
                Booking.station_id.in_([s.id for s in stations]),  # type: ignore[union-attr]
                Booking.station_id.in_(list(parents)) & Booking.subtree,  # type: ignore[union-attr]
            )
        )
    decoded: dict[str, Any] = {}
    own: dict[int, list[PlannedBooking]] = {}
    wide: dict[int, list[PlannedBooking]] = {}
    for row in session.exec(query):
        texts = row[len(plain) :]
        for text in texts:
            if text not in decoded:
                decoded[text] = json.loads(text)
        booking = PlannedBooking(*row[: len(plain)], *(decoded[text] for text in texts))
        own.setdefault(booking.station_id, []).append(booking)
        if booking.subtree:
            wide.setdefault(booking.station_id, []).append(booking)
    found = {}
    for station in stations:
        mine = list(own.get(station.id, []))
        above = parents.get(station.id)
        while above is not None:
            mine += wide.get(above, [])
            above = parents.get(above)
        found[station.id] = sorted(mine, key=lambda b: b.id)
    return found  # type: ignore[return-value]  # PlannedBooking reads like a Booking


def _load_clusters(
    session: Session, context: PlanContext, bookings: dict[int, list[Booking]]
) -> None:
    # Clusters matter only to bookings aimed at some of them, and to language pairs.
    needy = [
        station_id
        for station_id, mine in bookings.items()
        if any(b.clusters or b.zones or b.pair_languages for b in mine)
    ]
    if not needy:
        return
    for station_id in needy:
        context.clusters[station_id] = []
    # Codes and zone tags only, the tags decoded once per distinct text: a province's
    # communes have thousands of clusters and a handful of tag sets.
    query = select(Cluster.station_id, Cluster.code, cast(Cluster.zone_tags, String)).where(
        Cluster.station_id.in_(needy)  # type: ignore[attr-defined]
    )
    decoded: dict[str, list[str]] = {}
    for station_id, code, tags in session.exec(query):
        if tags not in decoded:
            decoded[tags] = json.loads(tags)
        context.clusters[station_id].append(PlannedCluster(code, decoded[tags]))  # type: ignore[arg-type]


def _stored(
    session: Session, station_ids: set[int] | None, first: date, last: date
) -> tuple[dict[tuple[int, date], Any], dict[int, list[dict[str, Any]]]]:
    # The stored rows of the span without their bodies, and the entries devices hold for
    # the frozen days, the only ones that keep them.
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
    stored = {(row.station_id, row.day): row for row in session.exec(query)}
    frozen_ids = [row.id for row in stored.values() if row.frozen_at is not None]
    held: dict[int, dict[str, Any]] = {}
    if frozen_ids:
        query = select(Playlist.id, Playlist.body).where(Playlist.id.in_(frozen_ids))  # type: ignore[attr-defined]
        held = dict(session.exec(query).all())
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
        for booking in bookings[station.id]:
            for day in context.dates(booking):
                if day in airing:
                    airing[day].append(booking)
        for day in span:
            plan = plans.get((station.id, day))
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
    # push out the frozen entries they overlap.
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
