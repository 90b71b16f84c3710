"""Daily playlists: bookings expanded for one station and one local date, deterministically.

The same bookings always give the same entries, in the same order, with the same ids
and the same ETag; the version only moves when the entries change. After a playlist
freezes, only priority and emergency entries may change it.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, or_, select

from audio.models import AudioAsset, Programme, Recording
from audio.service import rendered_asset
from content.models import ContentItem, ContentStatus
from core.clock import utcnow
from scheduler.ical import IcalEvent
from scheduler.models import Booking, BookingStatus, Cluster, Playlist, Station
from scheduler.recurrence import Recurrence, occurs_on
from scheduler.service import ancestor_ids
from scheduler.windows import Window, parse_windows, windows_on

RANK = {"emergency": 3, "priority": 2, "normal": 1, "fallback": 0}


@dataclass
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
        shared = (
            "*" in self.clusters
            or "*" in other.clusters
            or set(self.clusters) & set(other.clusters)
        )
        return bool(shared) and self.start < other.end and other.start < self.end


@dataclass
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


def _clusters(booking: Booking, clusters: list[Cluster]) -> list[str]:
    if booking.clusters:
        return sorted(c.code for c in clusters if c.code in booking.clusters)
    if booking.zones:
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
) -> DayPlan:
    """Expand bookings into a day's entries: fixed times first, then window placement."""
    zone = ZoneInfo(station.timezone)
    plan = DayPlan()
    if station.weekdays_only and day.weekday() >= 5:
        return plan
    windows = windows_on(parse_windows(station.windows), day.weekday())
    if clusters is None:
        clusters = station_clusters(session, station=station)
    candidates: list[tuple[Booking, Source, list[str]]] = []
    for booking in bookings:
        if not occurs_on(rule_from_json(booking.recurrence), day):
            continue
        source = resolve_source(session, booking, base_url)
        if isinstance(source, str):
            plan.unplaced.append({"booking_id": booking.id, "reason": source})
            continue
        targets = _clusters(booking, clusters)
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
            plan.entries.extend(_pairs(session, station, day, booking, entry, clusters, base_url))
    _fill(station, day, zone, windows, plan)
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
    base = dict(
        id=_occurrence_id(station, day, booking.id, "main"),
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
    if booking.at is not None:
        start = datetime.combine(day, time.fromisoformat(booking.at), zone)
        return Entry(start=start, end=start + length, **base)
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
            return Entry(start=cursor, end=cursor + length, **base)
    return None


def _pairs(
    session: Session,
    station: Station,
    day: date,
    booking: Booking,
    entry: Entry,
    clusters: list[Cluster],
    base_url: str,
) -> list[Entry]:
    # The ethnic-language recording follows the Vietnamese item on its villages' clusters.
    if not booking.pair_languages or entry.content_item_id is None:
        return []
    # Only recordings made for this station or one above it, the newest per language,
    # one after another.
    owners = ancestor_ids(session, station_id=station.id)
    newest: dict[str, Recording] = {}
    for recording in session.exec(
        select(Recording)
        .where(Recording.item_id == entry.content_item_id, Recording.station_id.in_(owners))
        .order_by(Recording.id)
    ):
        newest[recording.language] = recording
    pairs, start = [], entry.end
    for language in sorted(newest):
        recording = newest[language]
        zone_clusters = sorted(c.code for c in clusters if language in c.zone_tags)
        asset = session.get(AudioAsset, recording.broadcast_sha256)
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
            audio=_audio(asset, base_url),
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


def _fill(
    station: Station, day: date, zone: ZoneInfo, windows: list[Window], plan: DayPlan
) -> None:
    # Never silent dead air: every stretch of a window nobody booked gets the station's
    # fallback relay, or is reported as a gap.
    fallback = station.fallback if (station.fallback or {}).get("kind") == "relay" else None
    for window in windows:
        start = datetime.combine(day, window.start, zone)
        end = datetime.combine(day, window.end, zone)
        for hole_start, hole_end in _uncovered(start, end, plan.entries):
            if fallback is None:
                plan.gaps.append(
                    {
                        "start": hole_start.isoformat(),
                        "end": hole_end.isoformat(),
                        "reason": "khung giờ trống, đài chưa đặt nội dung dự phòng",
                    }
                )
                continue
            plan.entries.append(
                Entry(
                    id=_occurrence_id(station, day, 0, f"fallback-{hole_start:%H%M%S}"),
                    start=hole_start,
                    end=hole_end,
                    kind="relay",
                    priority="normal",
                    title=fallback.get("title") or "Tiếp sóng",
                    clusters=["*"],
                    booking_id=None,
                    relay={"url": fallback["url"]},
                )
            )


def _etag(station: Station, day: date, entries: list[dict[str, Any]], *, frozen: bool) -> str:
    canonical = json.dumps(
        {"station": station.code, "date": day.isoformat(), "entries": entries, "frozen": frozen},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def freeze_time(station: Station, day: date) -> datetime | None:
    """When a day's playlist freezes: the lead time before its first session."""
    windows = windows_on(parse_windows(station.windows), day.weekday())
    if not windows:
        return None
    first = datetime.combine(day, windows[0].start, ZoneInfo(station.timezone))
    return first - timedelta(minutes=station.freeze_lead_minutes)


def generate_playlist(
    session: Session,
    *,
    station: Station,
    day: date,
    base_url: str,
    now: datetime | None = None,
    bookings: list[Booking] | None = None,
    clusters: list[Cluster] | None = None,
) -> Playlist:
    """Create or refresh one station's playlist for one date; frozen days keep normal entries."""
    now = now or utcnow()
    if bookings is None:
        bookings = bookings_for(session, station=station)
    plan = plan_day(
        session, station=station, day=day, bookings=bookings, base_url=base_url, clusters=clusters
    )
    entries = [e.as_dict() for e in plan.entries]
    playlist = session.exec(
        select(Playlist).where(Playlist.station_id == station.id, Playlist.day == day)
    ).first()
    freezes = freeze_time(station, day)
    if playlist is not None and playlist.frozen_at is not None:
        entries = _merge_frozen(playlist.body["entries"], entries)
    if playlist is None:
        playlist = Playlist(station_id=station.id, day=day, etag="", version=0, body={})
    if playlist.frozen_at is None and freezes is not None and now >= freezes:
        playlist.frozen_at = now
    # The ETag covers everything a device reads except the version and the time it was
    # made, which only move when it does: same bookings, same bytes.
    etag = _etag(station, day, entries, frozen=playlist.frozen_at is not None)
    if playlist.etag != etag:
        playlist.version += 1
        playlist.etag = etag
        playlist.generated_at = now
        playlist.body = {
            "station": station.code,
            "date": day.isoformat(),
            "timezone": station.timezone,
            "entries": entries,
        }
    playlist.gaps = plan.gaps
    session.add(playlist)
    session.flush()
    return playlist


def _merge_frozen(
    frozen: list[dict[str, Any]], fresh: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    # What devices hold stays; only priority and emergency entries come in, and they
    # push out the frozen entries they overlap.
    urgent = [
        e
        for e in fresh
        if e["priority"] in ("priority", "emergency") and e["id"] not in {f["id"] for f in frozen}
    ]
    kept = [
        f
        for f in frozen
        if not any(
            u["start"] < f["end"]
            and f["start"] < u["end"]
            and RANK[u["priority"]] > RANK[f["priority"]]
            for u in urgent
        )
    ]
    return sorted(kept + urgent, key=lambda e: (e["start"], -RANK[e["priority"]], e["id"]))


def playlist_document(playlist: Playlist, *, cluster: str | None = None) -> dict[str, Any]:
    """The playlist as devices read it, optionally only what one cluster plays."""
    entries = playlist.body["entries"]
    if cluster:
        entries = [e for e in entries if "*" in e["clusters"] or cluster in e["clusters"]]
    return {
        **{k: playlist.body[k] for k in ("station", "date", "timezone")},
        "version": playlist.version,
        "frozen": playlist.frozen_at is not None,
        "generated_at": playlist.generated_at.isoformat().replace("+00:00", "Z"),
        "entries": entries,
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


def generate_playlists(
    session: Session,
    *,
    station: Station,
    days: list[date],
    base_url: str,
    now: datetime | None = None,
) -> list[Playlist]:
    """Refresh several days of one station, reading its bookings and clusters once."""
    bookings = bookings_for(session, station=station)
    clusters = station_clusters(session, station=station)
    return [
        generate_playlist(
            session,
            station=station,
            day=day,
            base_url=base_url,
            now=now,
            bookings=bookings,
            clusters=clusters,
        )
        for day in days
    ]
