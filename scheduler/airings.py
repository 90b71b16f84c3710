"""Airing records: what actually went out, checked against the schedule, chained by hash.

Devices are often offline for days, so records arrive late, out of order and more than
once. Each is judged on its own: a bad one is rejected with its reason, the rest of the
batch is kept. A replayed record id is a duplicate and adds nothing. Every station's
records form a hash chain, so a row altered or removed behind the system's back shows.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from functools import cache, lru_cache
from json.encoder import encode_basestring
from operator import add, itemgetter
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, case, delete, func, insert
from sqlmodel import Session, col, select

from core.clock import utcnow
from core.db import dialect_insert
from scheduler.models import (
    AiringChain,
    AiringCheckpoint,
    AiringIn,
    AiringRecord,
    AiringStatus,
    AiringTally,
    Cluster,
    MissedAiring,
    Playlist,
    Station,
)

GENESIS = "0" * 64
PLAUSIBLE = timedelta(hours=6)  # an airing this far from its slot was not that slot
CLOCK_SKEW = timedelta(minutes=10)  # device clocks drift; later than this is the future
LOOKBACK_DAYS = 62  # where to look for an entry when a record carries no start time
HASHED = (
    "station_id",
    "seq",
    "client_id",
    "entry_id",
    "day",
    "cluster",
    "scheduled_start",
    "scheduled_end",
    "booking_id",
    "content_item_id",
    "language",
    "kind",
    "priority",
    "started_at",
    "ended_at",
    "status",
    "reason",
    "source",
    "corrects",
    "recorded_by",
    "received_at",
    "prev_hash",
)
COMPARED = ("entry_id", "cluster", "started_at", "ended_at", "status", "reason", "corrects")


@dataclass
class IngestReport:
    """What became of a batch: kept, already known, refused with a reason."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ChainHead:
    """Where a station's chain ends while a batch is appended."""

    seq: int
    hash: str


@dataclass(frozen=True)
class _Scheduled:
    day: date
    entry: dict[str, Any]
    start: datetime  # UTC, parsed once per entry rather than once per record
    end: datetime


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if hasattr(value, "value") else value


# The canonical text is JSON with sorted keys, no spaces and unescaped non-ASCII: written
# out field by field, as json.dumps of the sorted dict would, at half its cost per record.
_FIELDS = tuple((f"{json.dumps(name)}:", name) for name in sorted(HASHED))


@lru_cache(maxsize=4096)
def _moment_text(value: datetime) -> str:
    # A batch's records share their entries' scheduled times and their time of receipt:
    # each distinct moment is written out once. Equal moments have the same UTC text.
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return f'"{value.isoformat()}"'


def _json_value(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if value is None:
        return "null"
    if kind is int:
        return str(value)
    if kind is datetime:
        return _moment_text(value)
    if kind is date:
        return f'"{value.isoformat()}"'
    if isinstance(value, Enum):  # by its text (asking for `.value` costs a descriptor call)
        return encode_basestring(str(value))
    return json.dumps(_canonical(value), ensure_ascii=False, separators=(",", ":"))


_KEYS = tuple(key for key, _ in _FIELDS)
_VALUES = itemgetter(*(name for _, name in _FIELDS))


# What differs between the records of one batch about one entry; the rest (station,
# entry, schedule, source, time of receipt) is written out once per entry and batch.
_OWN = ("seq", "client_id", "cluster", "started_at", "ended_at", "status", "reason", "corrects")
_OWN_VALUES = itemgetter(*(name for _, name in _FIELDS if name in (*_OWN, "prev_hash")))


def record_hash(row: dict[str, Any], template: str | None = None) -> str:
    """The chain hash of a record: its content and the hash before it.

    `template`: `hash_template` of a record of the same batch and entry, which gives the
    same hash for less work.
    """
    if template is None:
        canonical = "{" + ",".join(map(add, _KEYS, map(_json_value, _VALUES(row)))) + "}"
    else:
        canonical = template % tuple(map(_json_value, _OWN_VALUES(row)))
    return hashlib.sha256(canonical.encode()).hexdigest()


def hash_template(row: dict[str, Any]) -> str:
    """The canonical text of a record with its own fields left as %s placeholders."""
    parts = [
        key + ("%s" if name in (*_OWN, "prev_hash") else _json_value(row[name]).replace("%", "%%"))
        for key, name in _FIELDS
    ]
    return "{" + ",".join(parts) + "}"


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("naive")
    return moment.astimezone(UTC)


def _schedule(
    session: Session, *, station: Station, records: list[AiringIn], now: datetime
) -> dict[str, _Scheduled]:
    # Entry ids are opaque; the playlists around each record's start hold them. A record
    # without a start (a skipped entry) may name any recent day.
    zone = ZoneInfo(station.timezone)
    days: set[date] = set()
    for record in records:
        if record.started_at is not None and record.started_at.tzinfo is not None:
            local = record.started_at.astimezone(zone).date()
            days.update(local + timedelta(days=d) for d in (-1, 0, 1))
    query = select(Playlist.day, Playlist.body).where(Playlist.station_id == station.id)
    if any(r.started_at is None for r in records):
        today = now.astimezone(zone).date()
        query = query.where(
            (col(Playlist.day).in_(days))
            | (col(Playlist.day).between(today - timedelta(days=LOOKBACK_DAYS), today))
        )
    else:
        query = query.where(col(Playlist.day).in_(days))
    wanted = {record.entry_id for record in records}
    found: dict[str, _Scheduled] = {}
    for day, body in session.exec(query):
        # An entry a priority bulletin pushed out of a frozen day was still held by the
        # devices, and may have aired in part before it was interrupted.
        for entry in [*body.get("displaced", []), *body["entries"]]:
            if entry["id"] not in wanted:
                continue
            start = _as_utc(datetime.fromisoformat(entry["start"]))
            end = _as_utc(datetime.fromisoformat(entry["end"]))
            found[entry["id"]] = _Scheduled(day, entry, start, end)
    return found


def _problem(
    record: AiringIn,
    *,
    cluster: str | None,
    scheduled: _Scheduled | None,
    station: Station,
    clusters: set[str],
    device_cluster: str | None,
    now: datetime,
) -> str | None:
    if scheduled is None:
        return f"buổi phát {record.entry_id} không có trong lịch của đài {station.code}"
    entry = scheduled.entry
    if cluster is not None:
        if cluster not in clusters:
            return f"đài {station.code} không có cụm loa {cluster}"
        if "*" not in entry["clusters"] and cluster not in entry["clusters"]:
            return f"cụm loa {cluster} không có trong buổi phát này"
    if device_cluster is not None and cluster != device_cluster:
        return f"thiết bị này chỉ báo cáo cho cụm loa {device_cluster}"
    try:
        started, ended = _as_utc(record.started_at), _as_utc(record.ended_at)
    except ValueError:
        return "thời điểm phải kèm múi giờ"
    if record.status in (AiringStatus.aired, AiringStatus.partial):
        if started is None or ended is None:
            return "buổi đã phát cần giờ bắt đầu và giờ kết thúc"
    elif not (record.reason or "").strip():
        return "buổi không phát hoặc phát lỗi cần ghi lý do"
    if started is not None and ended is not None and ended < started:
        return "giờ kết thúc trước giờ bắt đầu"
    if started is not None:
        if started > now + CLOCK_SKEW or (ended is not None and ended > now + CLOCK_SKEW):
            return "thời điểm phát nằm trong tương lai"
        if abs(started - scheduled.start) > PLAUSIBLE:
            planned = datetime.fromisoformat(entry["start"])  # the station's own clock
            return (
                f"giờ bắt đầu cách giờ trong lịch ({planned:%H:%M %d/%m/%Y}) quá "
                f"{PLAUSIBLE.total_seconds() / 3600:.0f} giờ"
            )
    return None


def _same(row: Any, record: AiringIn, cluster: str | None) -> bool:
    sent = {
        "entry_id": record.entry_id,
        "cluster": cluster,
        "started_at": _as_utc(record.started_at),
        "ended_at": _as_utc(record.ended_at),
        "status": record.status,
        "reason": record.reason,
        "corrects": record.corrects,
    }
    return all(getattr(row, name) == sent[name] for name in COMPARED)


# Built once: a device posts a batch every few minutes, and building these statements
# cost a fair share of checking the records.
_LOCK_STATION = select(Station.id).where(Station.id == bindparam("station")).with_for_update()
_LOCK_HEAD = (
    select(AiringChain).where(AiringChain.station_id == bindparam("station")).with_for_update()
)
_KNOWN = select(AiringRecord).where(
    AiringRecord.station_id == bindparam("station"),
    col(AiringRecord.client_id).in_(bindparam("ids", expanding=True)),
)
_CLUSTER_CODES = select(Cluster.code).where(Cluster.station_id == bindparam("station"))
_REPORTED = select(AiringRecord.entry_id, AiringRecord.cluster).where(
    AiringRecord.station_id == bindparam("station"),
    col(AiringRecord.entry_id).in_(bindparam("entries", expanding=True)),
)


def ingest_airings(
    session: Session,
    *,
    station: Station,
    records: list[AiringIn],
    source: str,
    recorded_by: str,
    device_cluster: str | None = None,
    now: datetime | None = None,
    former_clusters: Iterable[str] = (),
) -> IngestReport:
    """Check and append a batch of airing records to the station's chain; the caller commits.

    `former_clusters`: codes of clusters merged away, still named by the days they played here.
    """
    now = now or utcnow()
    report = IngestReport()
    # One writer per station chain at a time (a row lock on PostgreSQL; SQLite's write
    # lock is already held by the immediate transaction).
    on_station = {"station": station.id}
    session.exec(_LOCK_STATION, params=on_station).one()
    head = session.exec(_LOCK_HEAD, params=on_station).first() or ChainHead(seq=0, hash=GENESIS)
    ids = {r.id for r in records} | {r.corrects for r in records if r.corrects}
    known = {
        row.client_id: row
        for row in session.exec(_KNOWN, params={**on_station, "ids": list(ids)}).all()
    }
    schedule = _schedule(session, station=station, records=records, now=now)
    clusters = set(session.exec(_CLUSTER_CODES, params=on_station)) | set(former_clusters)
    rows: list[dict[str, Any]] = []
    templates: dict[str, str] = {}
    for record in records:
        cluster = record.cluster if record.cluster is not None else device_cluster
        if record.id in known:
            if _same(known[record.id], record, cluster):
                report.duplicates.append(record.id)
            else:
                report.rejected.append(
                    {"id": record.id, "reason": "mã bản ghi đã dùng cho một bản ghi khác"}
                )
            continue
        scheduled = schedule.get(record.entry_id)
        problem = _problem(
            record,
            cluster=cluster,
            scheduled=scheduled,
            station=station,
            clusters=clusters,
            device_cluster=device_cluster,
            now=now,
        )
        if problem is None and record.source not in (None, source):
            problem = f"nguồn bản ghi phải là {source}"
        if problem is None and record.corrects is not None:
            corrected = known.get(record.corrects)
            if corrected is None:
                problem = f"không có bản ghi {record.corrects} để đính chính"
            elif corrected.entry_id != record.entry_id:
                problem = "bản đính chính phải cùng buổi phát với bản ghi được đính chính"
        if problem is not None:
            report.rejected.append({"id": record.id, "reason": problem})
            continue
        assert scheduled is not None
        entry = scheduled.entry
        row = {
            "station_id": station.id,
            "seq": head.seq + 1,
            "client_id": record.id,
            "entry_id": record.entry_id,
            "day": scheduled.day,
            "cluster": cluster,
            "scheduled_start": scheduled.start,
            "scheduled_end": scheduled.end,
            "booking_id": entry.get("booking_id"),
            "content_item_id": entry.get("content_item_id"),
            "language": entry.get("language"),
            "kind": entry["kind"],
            "priority": entry["priority"],
            "started_at": _as_utc(record.started_at),
            "ended_at": _as_utc(record.ended_at),
            "status": record.status,
            "reason": record.reason,
            "source": source,
            "corrects": record.corrects,
            "recorded_by": recorded_by,
            "received_at": now,
            "prev_hash": head.hash,
        }
        if record.entry_id not in templates:
            templates[record.entry_id] = hash_template(row)
        row["hash"] = record_hash(row, templates[record.entry_id])
        head = ChainHead(seq=row["seq"], hash=row["hash"])
        rows.append(row)
        # A later record of the same batch may be a replay of, or a correction to, this one.
        known[record.id] = SimpleNamespace(**row)
        report.accepted.append(record.id)
    if rows:
        tally(session, station_id=station.id, rows=rows)
        session.execute(insert(AiringRecord), rows)
        session.merge(AiringChain(station_id=station.id, seq=head.seq, hash=head.hash))
        session.flush()
    return report


TALLIED = ("aired", "partial", "skipped", "failed")


def tally(session: Session, *, station_id: int, rows: list[dict[str, Any]]) -> None:
    """Add records (not yet inserted) to the per-entry tallies the reports read."""
    # A cluster reported again, or a correction, can change what counted before: such
    # an entry is marked inexact and recounted from the log when reported.
    # Everything already reported for the batch's few entries, matched here: far cheaper
    # than asking for hundreds of (entry, cluster) pairs by name.
    entries = sorted({r["entry_id"] for r in rows})
    seen: set[tuple[str, str | None]] = set()
    for first in range(0, len(entries), 400):
        chunk = {"station": station_id, "entries": entries[first : first + 400]}
        seen.update(session.exec(_REPORTED, params=chunk).all())
    sums: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = (row["entry_id"], row["cluster"])
        entry = sums.setdefault(
            row["entry_id"],
            {"station_id": station_id, "entry_id": row["entry_id"], "day": row["day"]}
            | {name: 0 for name in TALLY_COLUMNS}
            | {"exact": True},
        )
        if key in seen or row["corrects"] is not None:
            entry["exact"] = False
        seen.add(key)
        status = str(row["status"])
        prefix = "" if row["cluster"] is not None else "wide_"
        entry[prefix + status] += 1
        if status in ("aired", "partial"):
            entry[f"{prefix}{status}_s"] += (row["ended_at"] - row["started_at"]).total_seconds()
    session.execute(_tally_upsert(session.get_bind().dialect.name), list(sums.values()))


@cache
def _tally_upsert(dialect: str) -> Any:
    # Built once per dialect: each batch of records would otherwise build it anew.
    upsert = dialect_insert(dialect, AiringTally)
    table = AiringTally.__table__
    return upsert.on_conflict_do_update(
        index_elements=["station_id", "entry_id"],
        set_={
            **{name: table.c[name] + upsert.excluded[name] for name in TALLY_COLUMNS},
            "exact": table.c.exact & upsert.excluded.exact,
        },
    )


def rebuild_tallies(
    session: Session, *, station_ids: Iterable[int], entry_ids: Iterable[str] | None = None
) -> int:
    """Recompute the stations' tallies (or only these entries') from the log."""
    ids = list(station_ids)
    table = AiringTally.__table__
    record = AiringRecord.__table__.c
    length = seconds_between(session, record.started_at, record.ended_at)

    def counted(status: str, wide: bool, value: Any = 1) -> Any:
        named = record.cluster.is_(None) if wide else record.cluster.is_not(None)
        return func.coalesce(func.sum(case(((record.status == status) & named, value), else_=0)), 0)

    columns = [record.station_id, record.entry_id, func.min(record.day)]
    for wide in (False, True):
        columns += [counted(status, wide) for status in TALLIED]
        columns += [counted(status, wide, length) for status in ("aired", "partial")]
    # Exact when every cluster (and the station as a whole) was reported once, uncorrected.
    exact = (func.count() == func.count(func.distinct(func.coalesce(record.cluster, "")))) & (
        func.count(record.corrects) == 0
    )
    names = ["station_id", "entry_id", "day"]
    for prefix in ("", "wide_"):
        names += [prefix + status for status in TALLIED]
        names += [f"{prefix}aired_s", f"{prefix}partial_s"]
    chosen = None if entry_ids is None else sorted(set(entry_ids))
    chunks = [None] if chosen is None else [chosen[i : i + 400] for i in range(0, len(chosen), 400)]
    for chunk in chunks:
        tallies, records = table.c.station_id.in_(ids), record.station_id.in_(ids)
        if chunk is not None:
            tallies = tallies & table.c.entry_id.in_(chunk)
            records = records & record.entry_id.in_(chunk)
        session.execute(delete(table).where(tallies))
        query = select(*columns, exact).where(records).group_by(record.station_id, record.entry_id)
        session.execute(insert(table).from_select([*names, "exact"], query))
    return session.execute(
        select(func.count()).select_from(table).where(table.c.station_id.in_(ids))
    ).scalar_one()


def seconds_between(session: Session, start: Any, end: Any) -> Any:
    """Seconds from one stored instant to another, in each database's own words."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end) - func.extract("epoch", start)
    return (func.julianday(end) - func.julianday(start)) * 86_400.0


TALLY_COLUMNS = (
    *TALLIED,
    "aired_s",
    "partial_s",
    *(f"wide_{s}" for s in TALLIED),
    "wide_aired_s",
    "wide_partial_s",
)


@dataclass
class ChainCheck:
    """The state of one station's chain: intact, or where it first breaks."""

    station: str
    records: int
    ok: bool
    first_broken: dict[str, Any] | None = None
    purged: int = 0  # records removed by retention purges, vouched for by checkpoints


CHECKPOINT_SIGNED = (
    "station_id",
    "first_seq",
    "last_seq",
    "count",
    "last_hash",
    "first_day",
    "last_day",
    "first_received_at",
    "last_received_at",
    "purged_before",
    "retention_days",
    "created_at",
    "previous",
)


def checkpoint_signature(values: dict[str, Any], *, key: str) -> str:
    """The HMAC-SHA256 vouching for a retention checkpoint; only the server's key makes it."""
    message = json.dumps(
        {name: _canonical(values[name]) for name in CHECKPOINT_SIGNED},
        sort_keys=True,
        separators=(",", ":"),
    )
    # A key of its own, derived from the signing key, so no token can pass as a checkpoint.
    derived = hashlib.sha256(b"truyenthanh/airing-checkpoint/v1\0" + key.encode()).digest()
    return hmac.new(derived, message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class _Start:
    head: ChainHead
    purged: int
    problem: dict[str, Any] | None = None


def _chain_start(session: Session, *, station_id: int, key: str | None) -> _Start:
    # Checkpoints follow one another without a gap, each naming the one before; the
    # newest one says where the kept records begin.
    start, purged, previous = ChainHead(seq=0, hash=GENESIS), 0, ""
    checkpoints = session.exec(
        select(AiringCheckpoint)
        .where(AiringCheckpoint.station_id == station_id)
        .order_by(col(AiringCheckpoint.last_seq))
    )
    for checkpoint in checkpoints:
        problem = _checkpoint_problem(checkpoint, after=start.seq, previous=previous, key=key)
        if problem is not None:
            return _Start(
                start, purged, {"seq": checkpoint.last_seq, "id": None, "problem": problem}
            )
        start = ChainHead(seq=checkpoint.last_seq, hash=checkpoint.last_hash)
        purged += checkpoint.count
        previous = checkpoint.signature
    return _Start(start, purged)


def _checkpoint_problem(
    checkpoint: AiringCheckpoint, *, after: int, previous: str, key: str | None
) -> str | None:
    if key is None:
        return "không kiểm tra được chữ ký điểm mốc lưu trữ: thiếu khoá ký của máy chủ"
    expected = checkpoint_signature(checkpoint.model_dump(), key=key)
    if not hmac.compare_digest(expected, checkpoint.signature):
        return (
            f"điểm mốc lưu trữ đến bản ghi số {checkpoint.last_seq} có chữ ký sai "
            "(bị giả mạo hoặc bị sửa)"
        )
    if (
        checkpoint.first_seq != after + 1
        or checkpoint.count != checkpoint.last_seq - checkpoint.first_seq + 1
        or checkpoint.previous != previous
    ):
        return "điểm mốc lưu trữ không nối tiếp điểm mốc trước (thiếu hoặc thừa)"
    return None


def verify_chain(
    session: Session, *, station: Station, batch: int = 5000, key: str | None = None
) -> ChainCheck:
    """Recompute a station's chain and report the first altered, missing or extra record.

    After a retention purge the chain starts at the newest signed checkpoint; `key` (the
    server's signing key) checks the checkpoints, and without it they count as unchecked.
    """
    head = session.get(AiringChain, station.id) or AiringChain(
        station_id=station.id, seq=0, hash=GENESIS
    )
    start = _chain_start(session, station_id=station.id, key=key)
    if start.problem is not None:
        return ChainCheck(station.code, 0, False, start.problem, purged=start.purged)
    previous, expected_seq, count = start.head.hash, start.head.seq + 1, 0
    if start.head.seq:
        # A row the checkpoints say was purged cannot be there: it was put back.
        stale = session.exec(
            select(AiringRecord.seq, AiringRecord.client_id)
            .where(AiringRecord.station_id == station.id, AiringRecord.seq <= start.head.seq)
            .order_by(col(AiringRecord.seq))
            .limit(1)
        ).first()
        if stale is not None:
            problem = "bản ghi nằm trong phần đã xoá theo điểm mốc lưu trữ (bị thêm vào)"
            return ChainCheck(
                station.code,
                0,
                False,
                {"seq": stale[0], "id": stale[1], "problem": problem},
                purged=start.purged,
            )

    def broken(seq: int, client_id: str | None, problem: str) -> ChainCheck:
        return ChainCheck(
            station.code,
            count,
            False,
            {"seq": seq, "id": client_id, "problem": problem},
            purged=start.purged,
        )

    for row in _rows_in_order(session, station_id=station.id, batch=batch, after=start.head.seq):
        count += 1
        if row.seq != expected_seq:
            return broken(expected_seq, None, f"thiếu bản ghi số {expected_seq} (đã bị xoá)")
        if row.prev_hash != previous:
            return broken(row.seq, row.client_id, "liên kết với bản ghi trước bị đứt")
        if record_hash(row.model_dump()) != row.hash:
            return broken(row.seq, row.client_id, "nội dung bản ghi đã bị sửa")
        previous, expected_seq = row.hash, expected_seq + 1
    if head.seq != expected_seq - 1 or head.hash != previous:
        return broken(
            expected_seq,
            None,
            f"chuỗi dừng ở bản ghi số {expected_seq - 1} nhưng đã ghi nhận đến số {head.seq}",
        )
    return ChainCheck(station.code, count, True, purged=start.purged)


def _rows_in_order(
    session: Session, *, station_id: int, batch: int, after: int = 0
) -> Iterable[AiringRecord]:
    # Keyset pages keep memory flat for stations with millions of records.
    while True:
        page = list(
            session.exec(
                select(AiringRecord)
                .where(AiringRecord.station_id == station_id, AiringRecord.seq > after)
                .order_by(col(AiringRecord.seq))
                .limit(batch)
            )
        )
        yield from page
        if len(page) < batch:
            return
        after = page[-1].seq


MISSED_AFTER = timedelta(minutes=15)  # devices report within minutes when online


def flag_missed(
    session: Session, *, now: datetime | None = None, grace: timedelta = MISSED_AFTER
) -> int:
    """Flag entries that ended `grace` ago with no airing record; return how many are new."""
    now = now or utcnow()
    days = [(now - timedelta(days=1)).date(), now.date(), (now + timedelta(days=1)).date()]
    reported = {
        (station_id, entry_id)
        for station_id, entry_id in session.exec(
            select(AiringRecord.station_id, AiringRecord.entry_id)
            .where(col(AiringRecord.day).in_(days))
            .distinct()
        )
    }
    reported |= set(
        session.exec(
            select(MissedAiring.station_id, MissedAiring.entry_id).where(
                col(MissedAiring.day).in_(days)
            )
        )
    )
    rows = []
    for station_id, day, body in session.exec(
        select(Playlist.station_id, Playlist.day, Playlist.body).where(col(Playlist.day).in_(days))
    ):
        for entry in body["entries"]:
            end = datetime.fromisoformat(entry["end"])
            if end + grace > now or (station_id, entry["id"]) in reported:
                continue
            rows.append(
                {
                    "station_id": station_id,
                    "day": day,
                    "entry_id": entry["id"],
                    "title": entry["title"][:300],
                    "booking_id": entry.get("booking_id"),
                    "scheduled_start": _as_utc(datetime.fromisoformat(entry["start"])),
                    "scheduled_end": _as_utc(end),
                    "flagged_at": now,
                }
            )
    if rows:
        session.execute(insert(MissedAiring), rows)
    return len(rows)


def missed_airings(
    session: Session, *, station_ids: Iterable[int], first: date, last: date
) -> list[MissedAiring]:
    """Flagged entries still without any airing record (a late report clears the flag)."""
    ids = list(station_ids)
    flagged = list(
        session.exec(
            select(MissedAiring)
            .where(
                col(MissedAiring.station_id).in_(ids),
                col(MissedAiring.day).between(first, last),
            )
            .order_by(col(MissedAiring.scheduled_start), col(MissedAiring.id))
        )
    )
    reported = set(
        session.exec(
            select(AiringRecord.station_id, AiringRecord.entry_id).where(
                col(AiringRecord.station_id).in_(ids),
                col(AiringRecord.day).between(first, last),
            )
        )
    )
    return [m for m in flagged if (m.station_id, m.entry_id) not in reported]
