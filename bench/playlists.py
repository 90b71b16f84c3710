"""Generate 7 days of playlists for a national-size tree; compare with bulk-inserting the rows.

Usage: .venv/bin/python -m bench.playlists [--communes 3300] [--clusters 50] [--days 7]

The tree: one province per 100 communes, each commune with its clusters, ten relay
bookings of its own (weekly and monthly, morning and evening) and three province-wide
bookings. The floor is an executemany of the same playlist rows into the same database.
"""

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import Session, select

from core.db import create_db_engine, session_scope
from core.migrations import upgrade
from core.settings import parse_database_url
from scheduler.models import Booking, Cluster, Playlist, Station, StationKind
from scheduler.playlists import generate_playlists, rule_to_json
from scheduler.recurrence import Recurrence

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


def main() -> None:
    """Run and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--communes", type=int, default=3300)
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        engine = create_db_engine(parse_database_url(url))
        upgrade(engine)
        build_tree(engine, args.communes, args.clusters)
        with Session(engine) as session:
            station_ids = session.exec(select(Station.id).order_by(Station.id)).all()
        days = [START + timedelta(days=d) for d in range(args.days)]
        started = time.perf_counter()
        for station_id in station_ids:
            with session_scope(engine, write=True) as session:
                station = session.get(Station, station_id)
                generate_playlists(
                    session, station=station, days=days, base_url="http://127.0.0.1:8000"
                )
        generation = time.perf_counter() - started
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
        started = time.perf_counter()
        with session_scope(engine) as session:
            session.execute(insert(Playlist), rows)
        floor = time.perf_counter() - started
        print(
            f"stations {len(station_ids)}, playlists {len(rows)}, "
            f"entries {sum(len(r['body']['entries']) for r in rows)}"
        )
        print(
            f"generation {generation:.1f} s; bulk insert of the same rows {floor:.2f} s; "
            f"ratio {generation / floor:.1f}"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
