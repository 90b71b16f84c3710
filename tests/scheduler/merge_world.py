"""Two communes of one province about to merge: bookings, playlists, devices, accounts and
airings on both sides."""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, text
from sqlmodel import Session, select

from content.models import ContentItem
from core.db import session_scope
from core.identity import create_device_token, create_user
from core.models import Role
from scheduler.airings import ingest_airings
from scheduler.models import AiringIn, Booking, Cluster, Station, StationKind
from scheduler.playlists import generate_stations
from tests.faults.world import ALL_DAY, local_today, relay

PASSWORD = "mật-khẩu-sáp-nhập-123"
SOURCE, TARGET, PROVINCE = "XA-NGUON", "XA-DICH", "TINH-M"
PAST_DAYS = 3
AHEAD_DAYS = 6


@dataclass
class MergeWorld:
    """Device tokens and ids tests refer to."""

    tokens: dict[str, str] = field(default_factory=dict)
    days: list[date] = field(default_factory=list)


def build_merge_world(
    engine: Engine,
    *,
    base_url: str,
    clash: bool = False,
    filler_communes: int = 0,
    big_source: int = 0,
) -> MergeWorld:
    """Province TINH-M with XA-NGUON (clusters BAN-A in the Thái zone, BAN-B) and XA-DICH
    (BAN-C, and BAN-A too when `clash`), playlists from three days ago to six ahead and
    every past entry reported aired on every cluster.

    `big_source`: that many more clusters at the source, each with a noon relay of its own.
    """
    today = local_today()
    world = MergeWorld(days=[today + timedelta(days=d) for d in range(-PAST_DAYS, AHEAD_DAYS + 1)])
    start = today - timedelta(days=PAST_DAYS + 2)
    with session_scope(engine, write=True) as session:
        province = Station(code=PROVINCE, name="Tỉnh Mới", kind=StationKind.province)
        session.add(province)
        session.flush()
        stations = {}
        for code, name in (
            (SOURCE, "Xã Nguồn"),
            (TARGET, "Xã Đích"),
            *((f"XA-{n:04d}", f"Xã {n}") for n in range(filler_communes)),
        ):
            stations[code] = Station(
                code=code, name=name, kind=StationKind.commune, parent_id=province.id
            )
            stations[code].windows = ALL_DAY
            session.add(stations[code])
        session.flush()
        source, target = stations[SOURCE], stations[TARGET]
        clusters = [
            (source, "BAN-A", ["tha"]),
            (source, "BAN-B", []),
            (target, "BAN-C", []),
            *([(target, "BAN-A", [])] if clash else []),
            *(
                (s, f"CUM-{k}", [])
                for s in stations.values()
                if s not in (source, target)
                for k in range(3)
            ),
            *((source, f"LOA-{k:04d}", []) for k in range(big_source)),
        ]
        session.add_all(
            Cluster(station_id=s.id, code=code, name=f"Cụm {code}", zone_tags=tags)
            for s, code, tags in clusters
        )
        session.flush()
        rows = [
            relay(source.id, "05:30", start=start),
            relay(source.id, "11:00", start=start, zones=["tha"]),
            relay(target.id, "17:00", start=start, clusters=["BAN-C"]),
            relay(target.id, "20:00", start=start),
            relay(province.id, "06:00", start=start, subtree=True),
            *(
                relay(s.id, at, start=start)
                for s in stations.values()
                if s not in (source, target)
                for at in ("05:30", "11:00", "17:00", "20:00")
            ),
            *(
                relay(source.id, "12:00", start=start, clusters=[f"LOA-{k:04d}"])
                for k in range(big_source)
            ),
        ]
        session.execute(insert(Booking), rows)
        generate_stations(session, station_ids=None, days=world.days, base_url=base_url)
        session.add(ContentItem(title="Tin xã Nguồn", station_id=source.id, created_by="test"))
        for username, role, station_id in (
            ("quantri", Role.admin, None),
            ("kh_tinh", Role.planner, province.id),
            ("kh_nguon", Role.planner, source.id),
            ("vh_nguon", Role.operator, source.id),
        ):
            create_user(
                session, username=username, password=PASSWORD, role=role, station_id=station_id
            )
        by_code = {(c.station_id, c.code): c.id for c in session.exec(select(Cluster))}
        for name, station, cluster in (
            ("nguon-ban-a", source, "BAN-A"),
            ("nguon-ca-xa", source, None),
            ("dich-ban-c", target, "BAN-C"),
        ):
            _, world.tokens[name] = create_device_token(
                session,
                station_id=station.id,
                cluster_id=by_code[(station.id, cluster)] if cluster else None,
                name=name,
                created_by="test",
            )
    for code in (SOURCE, TARGET):
        report_past(engine, code=code)
    return world


def report_past(engine: Engine, *, code: str) -> int:
    """Report every entry of the station's past days as aired on each of its clusters."""
    today = local_today()
    with session_scope(engine, write=True) as session:
        station = session.exec(select(Station).where(Station.code == code)).one()
        codes = sorted(session.exec(select(Cluster.code).where(Cluster.station_id == station.id)))
        bodies = session.execute(
            text("SELECT body FROM playlist WHERE station_id = :s AND day < :d ORDER BY day"),
            {"s": station.id, "d": today},
        ).all()
        records = []
        for (body,) in bodies:
            body = body if isinstance(body, dict) else json.loads(body)
            for entry in body["entries"]:
                for cluster in codes if "*" in entry["clusters"] else entry["clusters"]:
                    records.append(aired(entry, cluster))
        report = ingest_airings(
            session, station=station, records=records, source="device", recorded_by="test"
        )
        assert not report.rejected, report.rejected[:3]
        return len(report.accepted)


def aired(entry: dict[str, Any], cluster: str, *, tag: str = "") -> AiringIn:
    """An airing of an entry on a cluster, in full, two seconds late."""
    begin = datetime.fromisoformat(entry["start"]) + timedelta(seconds=2)
    end = datetime.fromisoformat(entry["end"])
    return AiringIn(
        id=f"r{tag}-{cluster}-{entry['id']}"[:64],
        entry_id=entry["id"],
        cluster=cluster,
        started_at=begin,
        ended_at=end,
        status="aired",
    )


def snapshot(engine: Engine) -> dict[str, list]:
    """Every row of the tables a merge touches, to compare before and after."""
    tables = (
        "station",
        "cluster",
        "booking",
        "playlist",
        "device_token",
        '"user"',
        "content_item",
        "airing_record",
        "airing_chain",
        "station_alias",
        "station_merge",
    )
    with Session(engine) as session:
        return {
            table: sorted(
                (
                    tuple(str(v) for v in row)
                    for row in session.execute(text(f"SELECT * FROM {table}"))
                ),
            )
            for table in tables
        }
