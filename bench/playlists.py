"""Generate 7 days of playlists for a national-size tree; compare with bulk-inserting the rows.

Usage: .venv/bin/python -m bench.playlists [--communes 3300] [--clusters 50] [--days 7]
       [--batch 500] [--repeat 3] [--database-url URL] [--profile FILE]

The tree: one province per 100 communes, each commune with its clusters, ten relay
bookings of its own (weekly and monthly, morning and evening) and three province-wide
bookings. Generation is `generate_stations`, the scheduler's bulk entry point, called
for `--batch` stations at a time, each batch in its own write transaction (as the
nightly job does). The floor is an executemany of the same playlist rows into the same
database. A second generation, with nothing changed, must write nothing. Each run starts
from an empty playlist table; the medians of `--repeat` runs are reported.
"""

import argparse
import cProfile
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import delete, insert
from sqlmodel import Session, select

from core.db import create_db_engine, session_scope
from core.migrations import upgrade
from core.settings import parse_database_url
from scheduler.models import Booking, Cluster, Playlist, Station, StationKind
from scheduler.playlists import BATCH_STATIONS, generate_stations
from scheduler.recurrence import Recurrence, rule_to_json

WINDOWS = [
    {"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"},
    {"days": [0, 1, 2, 3, 4, 5, 6], "start": "17:00", "end": "18:00"},
]
START = date(2030, 1, 7)


def _relay(station_id: int, title: str, at: str, rule: Recurrence, *, subtree: bool) -> dict:
    return {
        "station_id": station_id,
        "subtree": subtree,
        "clusters": [],
        "zones": [],
        "source": "relay",
        "relay_url": "http://vov.example/vov1",
        "title": title,
        "duration_s": 240.0,
        "recurrence": rule_to_json(rule),
        "at": at,
        "priority": "normal",
        "pair_languages": False,
        "status": "active",
        "created_by": "bench",
    }


def build_tree(engine, communes: int, clusters: int) -> None:
    """Insert provinces, communes, clusters and bookings in bulk."""
    with session_scope(engine) as session:
        provinces = []
        for p in range(max(1, communes // 100)):
            station = Station(
                code=f"TINH-{p}", name=f"Tỉnh {p}", kind=StationKind.province, windows=WINDOWS
            )
            session.add(station)
            provinces.append(station)
        session.flush()
        weekly = Recurrence(freq="weekly", start=START, weekdays=(0, 3))
        monthly = Recurrence(freq="monthly", start=START, nth=1, weekdays=(0,))
        for province in provinces:
            for hour, title in (
                ("05:30", "Thời sự tỉnh"),
                ("17:00", "Tin tỉnh"),
                ("17:40", "Pháp luật"),
            ):
                session.add(Booking(**_relay(province.id, title, hour, weekly, subtree=True)))
        session.flush()
        for c in range(communes):
            parent = provinces[c % len(provinces)]
            session.add(
                Station(
                    code=f"XA-{c}",
                    name=f"Xã {c}",
                    kind=StationKind.commune,
                    parent_id=parent.id,
                    windows=WINDOWS,
                )
            )
        session.flush()
        commune_ids = session.exec(select(Station.id).where(Station.kind == "commune")).all()
        session.execute(
            insert(Cluster),
            [
                {"station_id": sid, "code": f"CUM-{k}", "name": f"Cụm {k}", "zone_tags": []}
                for sid in commune_ids
                for k in range(clusters)
            ],
        )
        times = [
            "05:35",
            "05:40",
            "05:45",
            "05:50",
            "05:55",
            "17:05",
            "17:10",
            "17:15",
            "17:20",
            "17:25",
        ]
        session.execute(
            insert(Booking),
            [
                _relay(sid, f"Tin xã {n}", at, weekly if n % 2 else monthly, subtree=False)
                for sid in commune_ids
                for n, at in enumerate(times)
            ],
        )


def generate(engine, station_ids: list[int], days: list[date], batch: int) -> None:
    """Every station, `batch` at a time, each batch in its own transaction."""
    for first in range(0, len(station_ids), batch):
        with session_scope(engine, write=True) as session:
            generate_stations(
                session,
                station_ids=station_ids[first : first + batch],
                days=days,
                base_url="http://127.0.0.1:8000",
            )


def measure(engine, station_ids: list[int], days: list[date], batch: int, profile: str) -> dict:
    """One run on an empty playlist table: generation, again unchanged, and the floor."""
    with session_scope(engine) as session:
        session.execute(delete(Playlist))
    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    generate(engine, station_ids, days, batch)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    generation, generation_cpu = time.perf_counter() - started, time.process_time() - cpu
    with Session(engine) as session:
        stamps = dict(session.exec(select(Playlist.id, Playlist.generated_at)).all())
    started = time.perf_counter()
    generate(engine, station_ids, days, batch)
    again = time.perf_counter() - started
    with Session(engine) as session:
        rows = [
            {
                "station_id": p.station_id,
                "day": p.day + timedelta(days=400),
                "version": 1,
                "etag": p.etag,
                "body": p.body,
                "gaps": p.gaps,
                "generated_at": p.generated_at,
            }
            for p in session.exec(select(Playlist))
        ]
        untouched = dict(session.exec(select(Playlist.id, Playlist.generated_at)).all())
    assert untouched == stamps, "the run with nothing changed rewrote playlists"
    started, cpu = time.perf_counter(), time.process_time()
    with session_scope(engine) as session:
        session.execute(insert(Playlist), rows)
    floor, floor_cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "playlists": len(rows),
        "entries": sum(len(r["body"]["entries"]) for r in rows),
        "generation": generation,
        "generation_cpu": generation_cpu,
        "again": again,
        "floor": floor,
        "floor_cpu": floor_cpu,
    }


def main() -> None:
    """Run and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--communes", type=int, default=3300)
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--batch", type=int, default=BATCH_STATIONS)
    parser.add_argument("--repeat", type=int, default=3, help="runs; medians are reported")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--profile", default="", help="write cProfile stats of the first run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        engine = create_db_engine(parse_database_url(url))
        upgrade(engine)
        build_tree(engine, args.communes, args.clusters)
        with Session(engine) as session:
            station_ids = list(session.exec(select(Station.id).order_by(Station.id)).all())
        days = [START + timedelta(days=d) for d in range(args.days)]
        runs = []
        for number in range(args.repeat):
            run = measure(engine, station_ids, days, args.batch, "" if number else args.profile)
            runs.append(run)
            print(
                f"run {number + 1}: generation {run['generation']:.2f} s "
                f"(cpu {run['generation_cpu']:.2f}), floor {run['floor']:.2f} s "
                f"(cpu {run['floor_cpu']:.2f}), ratio {run['generation'] / run['floor']:.2f}, "
                f"again unchanged {run['again']:.2f} s (nothing written)"
            )
        generation = statistics.median(r["generation"] for r in runs)
        floor = statistics.median(r["floor"] for r in runs)
        again = statistics.median(r["again"] for r in runs)
        # CPU time of this process: SQLite works inside it, so on a busy machine this is
        # the steadier figure (a PostgreSQL server's own work is not in it).
        cpu = statistics.median(r["generation_cpu"] for r in runs)
        floor_cpu = statistics.median(r["floor_cpu"] for r in runs)
        print(
            f"stations {len(station_ids)}, playlists {runs[0]['playlists']}, "
            f"entries {runs[0]['entries']}, batches of {args.batch}"
        )
        print(
            f"median of {len(runs)}: generation {generation:.2f} s; bulk insert of the same "
            f"rows {floor:.2f} s; ratio {generation / floor:.2f}; "
            f"again unchanged {again:.2f} s"
        )
        print(
            f"cpu time, median: generation {cpu:.2f} s; floor {floor_cpu:.2f} s; "
            f"ratio {cpu / floor_cpu:.2f}"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
