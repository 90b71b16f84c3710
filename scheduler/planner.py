"""The planner: bookings expanded into one station's day, deterministically.

`plan_day` is the one planner: fixed times first, then placement in the station's windows,
language pairs, and the silences left per cluster. `plan_stations` reads in a few queries
what planning many stations' days needs (their bookings, parents and clusters), so a
booking's check and the nightly generation plan a province as cheaply as one commune.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from itertools import pairwise
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast
from sqlmodel import Session, or_, select

from audio.models import AudioAsset, Programme, Recording
from audio.service import rendered_asset
from content.models import ContentItem, ContentStatus
from scheduler.models import Booking, BookingStatus, Cluster, Station
from scheduler.recurrence import occurrences, occurs_on, rule_from_json
from scheduler.service import ancestor_ids
from scheduler.windows import Window, parse_windows, windows_on

RANK = {"emergency": 3, "priority": 2, "normal": 1, "fallback": 0}


def moment_text(moment: datetime) -> str:
    """A moment as entries carry it (ISO 8601 with its offset).

    A nation's communes air at the same few minutes: each is written out once, not
    hundreds of thousands of times (a tenth of a national night's planning).
    """
    # The same instant reads differently in another zone, and compares equal.
    return _moment_text(moment, moment.tzinfo)


# The planner makes its moments here, so that the communes that air at the same minute
# share one object, whose hash is then computed once.
@lru_cache(maxsize=4096)
def _moment(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, zone)


@lru_cache(maxsize=4096)
def _after(moment: datetime, length: timedelta) -> datetime:
    return moment + length


# Bookings share their few lengths and times of day: each is read once.
@lru_cache(maxsize=4096)
def _length(seconds: float) -> timedelta:
    return timedelta(seconds=round(seconds, 1))


@lru_cache(maxsize=4096)
def _clock(text: str) -> time:
    return time.fromisoformat(text)


@lru_cache(maxsize=4096)
def _moment_text(moment: datetime, _zone: tzinfo | None) -> str:
    return moment.isoformat()


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
            "start": moment_text(self.start),
            "end": moment_text(self.end),
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
    if booking.source == "live":
        # Played like a relay; `live` tells a player the stream's own end is the end.
        relay = {"url": booking.relay_url, "live": True}
        return Source("relay", booking.duration_s or 0, relay=relay)
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


def _both_live(entry: Entry, other: Entry) -> bool:
    # Live sessions sharing a cluster never run at once (a second one is refused while
    # the first is open), but both start on a whole minute: one that ended and the next
    # within the same minute overlap only on paper.
    return bool((entry.relay or {}).get("live") and (other.relay or {}).get("live"))


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
            if RANK[other.priority] == RANK[entry.priority] and not _both_live(entry, other):
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
    length = _length(source.seconds)
    if booking.at is not None:
        start = _moment(day, _clock(booking.at), zone)
    else:
        found = _room(day, zone, length, windows, taken)
        if found is None:
            return None
        start = found
    return Entry(
        id=_occurrence_id(station, day, booking.id, "main"),
        start=start,
        end=_after(start, length),
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
        start = _moment(day, window.start, zone)
        end = _moment(day, window.end, zone)
        for hole_start, hole_end, silent in _silences(start, end, plan.entries, station, context):
            if fallback is None:
                plan.gaps.append(
                    {
                        "start": moment_text(hole_start),
                        "end": moment_text(hole_end),
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
    # Read below through the connection, past the ORM's row handling (a tenth of a
    # national run); what the session holds unwritten is written first, as it would be.
    session.flush()
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
    for row in session.connection().execute(query):
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
    for station_id, code, tags in session.connection().execute(query):
        if tags not in decoded:
            decoded[tags] = json.loads(tags)
        context.clusters[station_id].append(PlannedCluster(code, decoded[tags]))  # type: ignore[arg-type]
