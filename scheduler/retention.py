"""Retention: how long airing logs and recordings are kept, and the nightly purge.

A province sets one policy for its whole tree (two years unless it says otherwise).
Each night the purge removes, station by station, the oldest prefix of the airing
chain whose records are all past the policy: the local day they aired and the
moment they arrived both older than the horizon. A late record blocks the prefix
behind it until it too expires, so the chain is only ever cut at its start.

The chain stays verifiable. Before a prefix goes, the purge checks it link by link
(a tampered prefix is left alone for people to look at, never purged out of sight)
and stores a checkpoint: the last purged record's seq and hash, how many records and
which days and arrival times went, signed with an HMAC of the server's key and
chained to the checkpoint before. Verification starts after the newest checkpoint.

The log's delete trigger lets a row go only while a purge permit names a checkpoint
that covers the row and a horizon its day is older than. The purge writes the
permit, deletes and removes the permit in one transaction, so no ordinary DELETE
passes and a crash leaves all of it done or none.

Tallies: an entry's tally goes with its records (it is derived from the log and
could no longer be checked against it); an entry some of whose records remain is
recounted from what remains. Compliance reports count the planned units of days
before a station's purge horizon as purged, never as missing. Missed-airing flags
of those days go too. Playlists stay: they are the plan that reports compare with.

Recordings: one uploaded before the horizon is deleted, with its files, once
nothing needs it: no active booking of its item, no programme part, no playlist
since the horizon (past or future) holding its audio. Files go after the commit; a
crash in between leaves a file without a row, never a row without a file.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, String, cast, delete, func, insert, or_
from sqlmodel import Session, col, select

from audio.models import AudioAsset, Programme, Recording, RenderJob
from audio.store import MediaStore
from core.audit import SYSTEM, Actor, act_as
from core.clock import utcnow
from core.db import session_scope
from core.errors import InvalidError
from core.models import AuditEvent
from scheduler.airings import GENESIS, checkpoint_signature, rebuild_tallies, record_hash
from scheduler.models import (
    AiringCheckpoint,
    AiringPurgePermit,
    AiringRecord,
    Booking,
    BookingStatus,
    MissedAiring,
    Playlist,
    RetentionPolicy,
    Station,
)
from scheduler.service import ancestor_ids, subtree_ids

log = logging.getLogger(__name__)

DEFAULT_DAYS = 730
MIN_DAYS = 365  # a province must still be able to report on its last whole year
MAX_DAYS = 36_500
BATCH = 20_000  # records per checkpoint and per transaction: short write locks


@dataclass(frozen=True)
class Policy:
    """The retention that applies to a station: its province's, or the default."""

    province: str
    days: int
    default: bool
    updated_by: str | None = None
    updated_at: datetime | None = None


def horizon(*, days: int, now: datetime, timezone: str) -> tuple[datetime, date]:
    """The instant and the local day before which records are past the policy."""
    before_at = now - timedelta(days=days)
    return before_at, before_at.astimezone(ZoneInfo(timezone)).date()


def province_of(session: Session, *, station: Station) -> Station:
    """The root of the station's tree (its province), whose policy it follows."""
    assert station.id is not None
    root = session.get(Station, ancestor_ids(session, station_id=station.id)[-1])
    assert root is not None
    return root


def get_policy(session: Session, *, station: Station) -> Policy:
    """The policy of the station's province, or the two-year default."""
    root = province_of(session, station=station)
    row = session.get(RetentionPolicy, root.id)
    if row is None:
        return Policy(province=root.code, days=DEFAULT_DAYS, default=True)
    return Policy(root.code, row.days, False, row.updated_by, row.updated_at)


def set_policy(session: Session, *, station: Station, days: int, by: str) -> Policy:
    """Set how long the province keeps airing logs and recordings; the caller commits."""
    if station.parent_id is not None:
        root = province_of(session, station=station)
        raise InvalidError(
            f"Thời hạn lưu trữ đặt cho cả tỉnh, ở đài {root.code}; "
            f"đài {station.code} theo thời hạn của tỉnh.",
            errors=[{"field": "station", "msg": "không phải đài cấp tỉnh", "value": station.code}],
        )
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise InvalidError(
            f"Thời hạn lưu trữ phải từ {MIN_DAYS} đến {MAX_DAYS} ngày "
            "(ít nhất một năm, để còn lập được báo cáo năm).",
            errors=[{"field": "days", "msg": "ngoài khoảng cho phép", "value": days}],
        )
    row = session.get(RetentionPolicy, station.id) or RetentionPolicy(
        station_id=station.id, days=days, updated_by=by
    )
    row.days, row.updated_by, row.updated_at = days, by, utcnow()
    session.add(row)
    session.flush()
    return get_policy(session, station=station)


def purge_horizons(session: Session, *, station_ids: set[int] | frozenset[int]) -> dict[int, date]:
    """Per station, the local day before which its airing log was purged."""
    return dict(
        session.exec(
            select(AiringCheckpoint.station_id, func.max(AiringCheckpoint.purged_before))
            .where(col(AiringCheckpoint.station_id).in_(station_ids))
            .group_by(AiringCheckpoint.station_id)
        ).all()
    )


@dataclass
class StationPurge:
    """What one purge did to one station's log, or why it left the log alone."""

    station: str
    records: int = 0
    checkpoints: int = 0
    missed: int = 0
    first_day: date | None = None
    last_day: date | None = None
    refused: str | None = None

    def add(self, other: "StationPurge") -> None:
        """Fold a later batch of the same station in."""
        self.records += other.records
        self.checkpoints += other.checkpoints
        self.missed += other.missed
        days = [d for d in (self.first_day, other.first_day) if d]
        self.first_day = min(days) if days else None
        days = [d for d in (self.last_day, other.last_day) if d]
        self.last_day = max(days) if days else None
        self.refused = other.refused or self.refused


@dataclass
class PurgeReport:
    """What a purge run removed, per province and station."""

    horizons: dict[str, str] = field(default_factory=dict)  # province -> first day kept
    stations: list[StationPurge] = field(default_factory=list)
    recordings: int = 0
    files: int = 0

    @property
    def records(self) -> int:
        """Airing records removed in all."""
        return sum(s.records for s in self.stations)


def _segment_problem(rows: list[AiringRecord], *, after: int, previous: str) -> str | None:
    expected = after + 1
    for row in rows:
        if row.seq != expected or row.prev_hash != previous:
            return f"chuỗi nhật ký đứt ở bản ghi số {expected}"
        if record_hash(row.model_dump()) != row.hash:
            return f"bản ghi số {row.seq} đã bị sửa"
        previous, expected = row.hash, expected + 1
    return None


def purge_station(
    session: Session, *, station: Station, days: int, key: str, now: datetime, limit: int = BATCH
) -> StationPurge:
    """Cut up to `limit` expired records off the start of a station's chain; the caller commits."""
    assert station.id is not None
    before_at, before_day = horizon(days=days, now=now, timezone=station.timezone)
    result = StationPurge(station=station.code)
    # The lock ingest takes: no batch is appended to this chain while its start is cut.
    session.exec(select(Station.id).where(Station.id == station.id).with_for_update()).one()
    result.missed = session.execute(
        delete(MissedAiring.__table__).where(
            MissedAiring.__table__.c.station_id == station.id,
            MissedAiring.__table__.c.day < before_day,
        )
    ).rowcount
    last = session.exec(
        select(AiringCheckpoint)
        .where(AiringCheckpoint.station_id == station.id)
        .order_by(col(AiringCheckpoint.last_seq).desc())
        .limit(1)
    ).first()
    after = last.last_seq if last else 0
    kept = session.exec(
        select(AiringRecord.seq)
        .where(
            AiringRecord.station_id == station.id,
            AiringRecord.seq > after,
            or_(col(AiringRecord.day) >= before_day, col(AiringRecord.received_at) >= before_at),
        )
        .order_by(col(AiringRecord.seq))
        .limit(1)
    ).first()
    through = after + limit if kept is None else min(kept - 1, after + limit)
    rows = list(
        session.exec(
            select(AiringRecord)
            .where(
                AiringRecord.station_id == station.id,
                AiringRecord.seq > after,
                AiringRecord.seq <= through,
            )
            .order_by(col(AiringRecord.seq))
        )
    )
    if not rows:
        return result
    problem = _segment_problem(rows, after=after, previous=last.last_hash if last else GENESIS)
    if problem is not None:
        result.refused = f"{problem}; không xoá gì, hãy kiểm tra bằng `truyenthanh airings verify`"
        log.error("retention purge refused for %s: %s", station.code, problem)
        return result
    values: dict[str, Any] = {
        "station_id": station.id,
        "first_seq": rows[0].seq,
        "last_seq": rows[-1].seq,
        "count": len(rows),
        "last_hash": rows[-1].hash,
        "first_day": min(r.day for r in rows),
        "last_day": max(r.day for r in rows),
        "first_received_at": min(r.received_at for r in rows),
        "last_received_at": max(r.received_at for r in rows),
        "purged_before": before_day,
        "retention_days": days,
        "created_at": utcnow(),
        "previous": last.signature if last else "",
    }
    checkpoint = AiringCheckpoint(**values, signature=checkpoint_signature(values, key=key))
    session.add(checkpoint)
    session.flush()
    table = AiringRecord.__table__
    session.execute(
        insert(AiringPurgePermit).values(
            station_id=station.id, checkpoint_id=checkpoint.id, before_day=before_day
        )
    )
    deleted = session.execute(
        delete(table).where(
            table.c.station_id == station.id,
            table.c.seq.between(values["first_seq"], values["last_seq"]),
        )
    ).rowcount
    session.execute(
        delete(AiringPurgePermit.__table__).where(
            AiringPurgePermit.__table__.c.station_id == station.id
        )
    )
    if deleted != len(rows):
        raise RuntimeError(f"purge of {station.code} deleted {deleted} of {len(rows)} records")
    rebuild_tallies(session, station_ids=[station.id], entry_ids={r.entry_id for r in rows})
    for row in rows:
        session.expunge(row)
    _audit(
        session,
        station_id=station.id,
        object_type="airing_record",
        object_id=f"{values['first_seq']}-{values['last_seq']}",
        change={
            "reason": "retention",
            "count": len(rows),
            "first_seq": values["first_seq"],
            "last_seq": values["last_seq"],
            "first_day": values["first_day"].isoformat(),
            "last_day": values["last_day"].isoformat(),
            "purged_before": before_day.isoformat(),
            "retention_days": days,
            "checkpoint_id": checkpoint.id,
        },
    )
    result.records, result.checkpoints = len(rows), 1
    result.first_day, result.last_day = values["first_day"], values["last_day"]
    return result


def _audit(
    session: Session, *, station_id: int | None, object_type: str, object_id: str, change: dict
) -> None:
    # Bulk deletes bypass the ORM hook of core.audit, so the purge writes its own event.
    actor: Actor = session.info.get("actor", SYSTEM)
    session.execute(
        insert(AuditEvent).values(
            at=utcnow(),
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_name=actor.name,
            action="delete",
            object_type=object_type,
            object_id=object_id,
            station_id=station_id,
            change=change,
        )
    )


def _in_playlists(session: Session, sha256: str, *, since: date) -> bool:
    # Entries name their audio by hash inside the JSON body; only candidates are looked up.
    return (
        session.exec(
            select(Playlist.id)
            .where(col(Playlist.day) >= since, cast(Playlist.body, String).contains(sha256))
            .limit(1)
        ).first()
        is not None
    )


def _asset_needed(session: Session, sha256: str, *, since: date) -> bool:
    holders = (
        select(Recording.id).where(
            or_(Recording.original_sha256 == sha256, Recording.broadcast_sha256 == sha256)
        ),
        select(RenderJob.id).where(RenderJob.asset_sha256 == sha256),
        select(Programme.id).where(Programme.asset_sha256 == sha256),
        select(Station.id).where(cast(Station.fallback, String).contains(sha256)),
    )
    if any(session.exec(query.limit(1)).first() is not None for query in holders):
        return True
    return _in_playlists(session, sha256, since=since)


def purge_recordings(
    session: Session, *, station_ids: set[int], before_at: datetime, since: date, store: MediaStore
) -> tuple[int, list[Path]]:
    """Delete recordings made before `before_at` that nothing needs; return them and their files."""
    candidates = list(
        session.exec(
            select(Recording).where(
                col(Recording.station_id).in_(station_ids), Recording.created_at < before_at
            )
        )
    )
    if not candidates:
        return 0, []
    in_programmes = {
        part.get("recording_id")
        for parts in session.exec(select(Programme.parts))
        for part in parts
        if part.get("kind") == "recording"
    }
    booked = set(
        session.exec(
            select(Booking.item_id).where(
                Booking.status == BookingStatus.active, col(Booking.item_id).is_not(None)
            )
        )
    )
    gone = []
    for recording in candidates:
        if recording.id in in_programmes or recording.item_id in booked:
            continue
        shas = (recording.original_sha256, recording.broadcast_sha256)
        if any(_in_playlists(session, sha, since=since) for sha in shas):
            continue
        session.delete(recording)
        gone.append(recording)
    session.flush()
    files = []
    for sha256 in sorted({sha for r in gone for sha in (r.original_sha256, r.broadcast_sha256)}):
        asset = session.get(AudioAsset, sha256)
        if asset is None or _asset_needed(session, sha256, since=since):
            continue
        files.append(store.path(sha256, asset.format))
        session.delete(asset)
    session.flush()
    return len(gone), files


def purge_expired(
    engine: Engine,
    *,
    key: str,
    store: MediaStore,
    now: datetime | None = None,
    actor: Actor | None = None,
    batch: int = BATCH,
) -> PurgeReport:
    """Apply every province's policy: cut expired airing records, delete unneeded recordings."""
    now = now or utcnow()
    report = PurgeReport()
    with session_scope(engine) as session:
        provinces = []
        for root in session.exec(
            select(Station).where(col(Station.parent_id).is_(None)).order_by(Station.code)
        ):
            assert root.id is not None
            days = get_policy(session, station=root).days
            provinces.append((root, days, subtree_ids(session, root_id=root.id)))
    for root, days, station_ids in provinces:
        before_at, before_day = horizon(days=days, now=now, timezone=root.timezone)
        report.horizons[root.code] = before_day.isoformat()
        for station_id in sorted(station_ids):
            done: StationPurge | None = None
            while True:
                with session_scope(engine, write=True) as session:
                    if actor is not None:
                        act_as(session, actor)
                    station = session.get(Station, station_id)
                    assert station is not None
                    step = purge_station(
                        session, station=station, days=days, key=key, now=now, limit=batch
                    )
                if done is None:
                    done = step
                else:
                    done.add(step)
                if step.refused or step.records < batch:
                    break
            if done.records or done.missed or done.refused:
                report.stations.append(done)
        with session_scope(engine, write=True) as session:
            if actor is not None:
                act_as(session, actor)
            recordings, files = purge_recordings(
                session, station_ids=station_ids, before_at=before_at, since=before_day, store=store
            )
        report.recordings += recordings
        for path in files:
            path.unlink(missing_ok=True)
        report.files += len(files)
    if report.records or report.recordings:
        log.info(
            "retention purge: %s airing record(s), %s recording(s), %s file(s)",
            report.records,
            report.recordings,
            report.files,
        )
    return report
