"""A province's quarter report beside a plain GROUP BY over the same airing records.

Usage: .venv/bin/python -m bench.compliance [--communes 100] [--clusters 50] [--days 92]
       [--entries 10] [--database-url postgresql://…]

The province: communes with their clusters, each commune airing `entries` whole-station
entries a day for a quarter; each entry on each cluster has a record (about 93% aired,
3% partial, 1% skipped, 1% failed, 2% none at all), so 100 × 50 × 92 × 10 ≈ 4.5 million
records. The report is `scheduler.compliance.compliance` for the province subtree and the
quarter; the floor is one GROUP BY station, status over the same rows.
"""

import argparse
import random
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, text
from sqlmodel import Session, col, select

from core.db import create_db_engine, session_scope
from core.migrations import upgrade
from core.settings import parse_database_url
from scheduler.airings import rebuild_tallies
from scheduler.compliance import Period, Scope, compliance
from scheduler.models import AiringRecord, Cluster, Playlist, Station, StationKind
from scheduler.service import subtree_ids

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
START = date(2026, 7, 1)
OUTCOMES = ["aired"] * 93 + ["partial"] * 3 + ["skipped", "failed"] + [None] * 2


def build(engine, *, communes: int, clusters: int, days: int, entries: int) -> list[int]:
    """Insert the province, its playlists and its airing records; return the province's ids."""
    rng = random.Random(2026)
    with session_scope(engine) as session:
        province = Station(code="TINH-BENCH", name="Tỉnh bench", kind=StationKind.province)
        session.add(province)
        session.flush()
        for c in range(communes):
            session.add(
                Station(
                    code=f"XA-{c}", name=f"Xã {c}", kind=StationKind.commune, parent_id=province.id
                )
            )
        session.flush()
        ids = list(session.exec(select(Station.id).where(Station.parent_id == province.id)))
        session.execute(
            insert(Cluster),
            [
                {"station_id": sid, "code": f"CUM-{k}", "name": f"Cụm {k}", "zone_tags": []}
                for sid in ids
                for k in range(clusters)
            ],
        )
    received = datetime(2026, 10, 5, tzinfo=UTC)
    for sid in ids:
        playlists, records, seq = [], [], 0
        for d in range(days):
            day = START + timedelta(days=d)
            body = []
            for n in range(entries):
                start = datetime(day.year, day.month, day.day, 5, 30, tzinfo=ZONE) + timedelta(
                    minutes=6 * n
                )
                entry_id = f"occ_{sid:05d}{d:03d}{n:03d}"
                body.append(
                    {
                        "id": entry_id,
                        "start": start.isoformat(),
                        "end": (start + timedelta(minutes=5)).isoformat(),
                        "kind": "relay",
                        "priority": "normal",
                        "title": f"Bản tin {n}",
                        "language": "vie",
                        "clusters": ["*"],
                        "booking_id": n + 1,
                        "content_item_id": None,
                        "relay": {"url": "http://vov.example/vov1"},
                    }
                )
                for k in range(clusters):
                    status = rng.choice(OUTCOMES)
                    if status is None:
                        continue
                    seq += 1
                    aired = status in ("aired", "partial")
                    minutes = 5 if status == "aired" else 2
                    records.append(
                        {
                            "station_id": sid,
                            "seq": seq,
                            "client_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                            "entry_id": entry_id,
                            "day": day,
                            "cluster": f"CUM-{k}",
                            "scheduled_start": start,
                            "scheduled_end": start + timedelta(minutes=5),
                            "booking_id": n + 1,
                            "content_item_id": None,
                            "language": "vie",
                            "kind": "relay",
                            "priority": "normal",
                            "started_at": start if aired else None,
                            "ended_at": start + timedelta(minutes=minutes) if aired else None,
                            "status": status,
                            "reason": None if aired else "mất điện",
                            "source": "device",
                            "corrects": None,
                            "recorded_by": "bench",
                            "received_at": received,
                            "prev_hash": "0" * 64,
                            "hash": "0" * 64,
                        }
                    )
            playlists.append(
                {
                    "station_id": sid,
                    "day": day,
                    "version": 1,
                    "etag": f"{sid}-{d}",
                    "body": {
                        "station": f"XA-{sid}",
                        "date": day.isoformat(),
                        "timezone": "Asia/Ho_Chi_Minh",
                        "entries": body,
                    },
                    "gaps": [],
                    "generated_at": received,
                }
            )
        with session_scope(engine) as session:
            session.execute(insert(Playlist), playlists)
            for first in range(0, len(records), 20_000):
                session.execute(insert(AiringRecord), records[first : first + 20_000])
    with session_scope(engine) as session:
        root = session.exec(select(Station.id).where(Station.code == "TINH-BENCH")).one()
        return sorted(subtree_ids(session, root_id=root))


def main() -> None:
    """Build the province, then time the report and the plain GROUP BY."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--communes", type=int, default=100)
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--days", type=int, default=92)
    parser.add_argument("--entries", type=int, default=10)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        engine = create_db_engine(parse_database_url(url))
        upgrade(engine)
        started = time.perf_counter()
        with Session(engine) as session:
            root = session.exec(select(Station.id).where(Station.code == "TINH-BENCH")).first()
            ids = sorted(subtree_ids(session, root_id=root)) if root else None
        if ids is None:  # a kept PostgreSQL database is reused as it is
            ids = build(
                engine,
                communes=args.communes,
                clusters=args.clusters,
                days=args.days,
                entries=args.entries,
            )
        built = time.perf_counter() - started
        # Ingestion keeps the tallies as records arrive; a bulk load rebuilds them once.
        started = time.perf_counter()
        with session_scope(engine) as session:
            tallies = rebuild_tallies(session, station_ids=ids)
        rebuilt = time.perf_counter() - started
        with Session(engine) as session:
            session.execute(text("ANALYZE"))
            count = session.exec(select(func.count()).select_from(AiringRecord)).one()
        period = Period(START, START + timedelta(days=args.days - 1), "quý")
        scope = Scope(station_ids=frozenset(ids))
        report_times, floor_times = [], []
        for _ in range(args.repeat):
            with Session(engine) as session:
                started = time.perf_counter()
                report = compliance(session, scope=scope, period=period)
                report_times.append(time.perf_counter() - started)
            with Session(engine) as session:
                started = time.perf_counter()
                rows = session.exec(
                    select(AiringRecord.station_id, AiringRecord.status, func.count())
                    .where(
                        col(AiringRecord.station_id).in_(ids),
                        col(AiringRecord.day).between(period.first, period.last),
                    )
                    .group_by(AiringRecord.station_id, AiringRecord.status)
                ).all()
                floor_times.append(time.perf_counter() - started)
        best_report, best_floor = min(report_times), min(floor_times)
        print(f"{engine.dialect.name}: {count:,} airing records, built in {built:.0f} s")
        print(f"{tallies:,} entry tallies rebuilt from the log in {rebuilt:.1f} s")
        print(
            f"report: planned {report.totals.planned:,}, aired {report.totals.aired:,}, "
            f"missing {report.totals.missing:,}; group-by rows {len(rows)}"
        )
        print(
            f"report {best_report:.2f} s (best of {args.repeat}); plain GROUP BY "
            f"{best_floor:.2f} s; ratio {best_report / best_floor:.1f}"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
