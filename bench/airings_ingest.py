"""Ingest a million airing records in batches; compare with bare inserts of the same rows.

Usage: .venv/bin/python -m bench.airings_ingest [--records 1000000] [--batch 500]
       [--communes 100] [--clusters 50] [--skipped 0.01] [--http 50000]
       [--database-url URL] [--profile FILE]

The tree is the pull storm's (one province, `--communes` communes of `--clusters`
clusters, 13 daily entries, two of them for the first ten clusters only); playlists are
generated for as many past days as the records need. Every cluster reports every entry
it played: aired a few seconds late, or (a `--skipped` share) skipped with a reason and
no times, as agents report a power cut. A batch is `--batch` records of one station, the
stations taking turns, days in order, as a commune agent catching up would send them.

Each batch goes through `ingest_airings` in its own write transaction
(`session_scope(engine, write=True)`, as `POST /api/v1/stations/{code}/airings` does).
The floor, batch by batch in turn with ingestion so both see the same table size: an
executemany `insert(AiringRecord)` of the rows ingestion would write (precomputed,
under other record ids and sequence numbers), one transaction per batch. With `--http
N` a further N records go through the real server (`truyenthanh serve`, one
connection, batches in sequence) for the cost of HTTP, JSON and authentication.
"""

import argparse
import cProfile
import json
import math
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, insert
from sqlmodel import Session, select

from bench.pull_storm import build_tree, generate, local_today, our_server, scratch_database
from core.db import session_scope
from core.identity import create_device_token
from scheduler.airings import ingest_airings
from scheduler.models import AiringIn, AiringRecord, Cluster, Playlist, Station

FLOOR_SEQ = 1_000_000_000  # the floor's rows sit beside ingestion's in the same chains
ENTRIES_PER_CLUSTER_DAY = 11  # clusters beyond the first ten hear 11 of the 13 entries


def _stream(
    bodies: dict[date, list[dict]], clusters: list[str], days: list[date], skipped: float
) -> Iterator[dict]:
    """Every record a station reports over these days, in order."""
    n = 0
    for day in days:
        for cluster in clusters:
            for entry in bodies[day]:
                if "*" not in entry["clusters"] and cluster not in entry["clusters"]:
                    continue
                n += 1
                start = datetime.fromisoformat(entry["start"])
                end = datetime.fromisoformat(entry["end"])
                if skipped and n % round(1 / skipped) == 0:
                    times = {"status": "skipped", "reason": "mất điện"}
                else:
                    times = {
                        "status": "aired",
                        "started_at": (start + timedelta(seconds=2)).isoformat(),
                        "ended_at": (end + timedelta(seconds=1)).isoformat(),
                    }
                yield {"id": uuid.uuid4().hex, "entry_id": entry["id"], "cluster": cluster, **times}


def batches(
    engine, *, days: list[date], batch: int, skipped: float
) -> Iterator[tuple[int, str, list[dict]]]:
    """Batches of one station's records, the stations taking turns."""
    # Read everything first: a read transaction left open on SQLite would keep the
    # write-ahead log from being checkpointed for the whole run.
    with Session(engine) as session:
        stations = session.exec(
            select(Station.id, Station.code).where(Station.kind == "commune").order_by(Station.id)
        ).all()
        clusters: dict[int, list[str]] = {}
        for station_id, code in session.exec(
            select(Cluster.station_id, Cluster.code).order_by(Cluster.id)
        ):
            clusters.setdefault(station_id, []).append(code)
        bodies: dict[int, dict[date, list[dict]]] = {}
        for station_id, day, body in session.exec(
            select(Playlist.station_id, Playlist.day, Playlist.body).where(Playlist.day.in_(days))
        ):
            bodies.setdefault(station_id, {})[day] = body["entries"]
    streams = [
        (sid, code, _stream(bodies[sid], clusters[sid], days, skipped)) for sid, code in stations
    ]
    while streams:
        for item in list(streams):
            station_id, code, stream = item
            chunk = [r for _, r in zip(range(batch), stream, strict=False)]
            if len(chunk) < batch:
                streams.remove(item)
            if chunk:
                yield station_id, code, chunk


def floor_rows(
    station_id: int, records: list[AiringIn], entries: dict[str, dict], seq: int
) -> list[dict]:
    """The rows ingestion writes for these records, under other ids and sequence numbers."""
    now = datetime.now(UTC)
    rows = []
    for record in records:
        entry = entries[record.entry_id]
        seq += 1
        rows.append(
            {
                "station_id": station_id,
                "seq": FLOOR_SEQ + seq,
                "client_id": "floor-" + record.id,
                "entry_id": record.entry_id,
                "day": date.fromisoformat(entry["start"][:10]),
                "cluster": record.cluster,
                "scheduled_start": datetime.fromisoformat(entry["start"]).astimezone(UTC),
                "scheduled_end": datetime.fromisoformat(entry["end"]).astimezone(UTC),
                "booking_id": entry.get("booking_id"),
                "content_item_id": entry.get("content_item_id"),
                "language": entry.get("language"),
                "kind": entry["kind"],
                "priority": entry["priority"],
                "started_at": record.started_at.astimezone(UTC) if record.started_at else None,
                "ended_at": record.ended_at.astimezone(UTC) if record.ended_at else None,
                "status": record.status,
                "reason": record.reason,
                "source": "device",
                "corrects": None,
                "recorded_by": "device:bench",
                "received_at": now,
                "prev_hash": uuid.uuid4().hex * 2,
                "hash": uuid.uuid4().hex * 2,
            }
        )
    return rows


def _entries(engine, days: list[date]) -> dict[int, dict[str, dict]]:
    found: dict[int, dict[str, dict]] = {}
    with Session(engine) as session:
        for station_id, body in session.exec(
            select(Playlist.station_id, Playlist.body).where(Playlist.day.in_(days))
        ):
            found.setdefault(station_id, {}).update({e["id"]: e for e in body["entries"]})
    return found


def main() -> None:
    """Run and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--communes", type=int, default=100)
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--skipped", type=float, default=0.01, help="share reported as skipped")
    parser.add_argument("--http", type=int, default=0, help="then this many through the server")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--profile", default="", help="write cProfile stats of ingestion here")
    args = parser.parse_args()
    per_day = args.communes * (
        min(10, args.clusters) * (ENTRIES_PER_CLUSTER_DAY + 2)
        + max(0, args.clusters - 10) * ENTRIES_PER_CLUSTER_DAY
    )
    n_days = math.ceil((args.records + args.http) / per_day) + 1
    today = local_today()
    days = [today - timedelta(days=n_days + 1 - d) for d in range(n_days)]
    with scratch_database(args.database_url) as place:
        scratch, data_dir, url, engine = place.root, place.data_dir, place.url, place.engine
        started = time.perf_counter()
        build_tree(engine, communes=args.communes, clusters=args.clusters, start=days[0])
        generate(engine, days)
        entries = _entries(engine, days)
        print(
            f"{args.communes} communes x {args.clusters} clusters, {n_days} past days "
            f"({days[0]}..{days[-1]}), {engine.dialect.name}; "
            f"set up in {time.perf_counter() - started:.1f} s"
        )
        profiler = cProfile.Profile() if args.profile else None
        ingest_s = floor_s = 0.0
        count = accepted = n_batches = 0
        rejected: list[dict] = []
        seqs: dict[int, int] = {}
        stream = batches(engine, days=days, batch=args.batch, skipped=args.skipped)
        for station_id, _code, chunk in stream:
            records = [AiringIn(**r) for r in chunk]
            rows = floor_rows(station_id, records, entries[station_id], seqs.get(station_id, 0))
            seqs[station_id] = seqs.get(station_id, 0) + len(rows)
            t0 = time.perf_counter()
            if profiler:
                profiler.enable()
            with session_scope(engine, write=True) as session:
                station = session.get(Station, station_id)
                report = ingest_airings(
                    session,
                    station=station,
                    records=records,
                    source="device",
                    recorded_by=f"device:{station.code}/agent",
                )
            if profiler:
                profiler.disable()
            t1 = time.perf_counter()
            with session_scope(engine, write=True) as session:
                session.execute(insert(AiringRecord), rows)
            t2 = time.perf_counter()
            ingest_s += t1 - t0
            floor_s += t2 - t1
            accepted += len(report.accepted)
            rejected += report.rejected
            count += len(records)
            n_batches += 1
            if count >= args.records:
                break
        if profiler:
            profiler.dump_stats(args.profile)
        with Session(engine) as session:
            total = session.exec(select(func.count()).select_from(AiringRecord)).one()
        print(
            f"{count:,} records in {n_batches:,} batches of {args.batch} "
            f"({args.skipped:.0%} skipped, no times); accepted {accepted:,}, "
            f"rejected {len(rejected):,}{' e.g. ' + str(rejected[0]) if rejected else ''}; "
            f"table now {total:,} rows"
        )
        print(
            f"ingest_airings: {ingest_s:.1f} s = {count / ingest_s:,.0f} records/s; "
            f"bare executemany insert of the same rows: {floor_s:.1f} s = "
            f"{count / floor_s:,.0f} records/s"
        )
        ratio = (count / ingest_s) / (count / floor_s)
        print(
            f"ratio ingestion / floor rate: {ratio:.2f}; goal at least 0.5: "
            f"{'met' if ratio >= 0.5 else 'not met'}"
        )
        if args.http:
            http_rate = through_http(engine, url, data_dir, scratch, stream, args.http)
            print(
                f"through HTTP (truyenthanh serve, one connection, batches in sequence): "
                f"{http_rate:,.0f} records/s = {http_rate / (count / floor_s):.2f} of the floor"
            )
        engine.dispose()


def through_http(engine, url: str, data_dir: Path, scratch: Path, stream, n: int) -> float:
    """Post the next `n` records of the stream to the real server; return records/s."""
    tokens: dict[int, str] = {}
    pending = []
    count = 0
    with session_scope(engine) as session:
        for station_id, code, chunk in stream:
            if station_id not in tokens:
                _, tokens[station_id] = create_device_token(
                    session, station_id=station_id, cluster_id=None, name="agent", created_by="b"
                )
            pending.append((code, tokens[station_id], json.dumps({"records": chunk})))
            count += len(chunk)
            if count >= n:
                break
    engine.dispose()
    with (
        our_server(
            database_url=url, data_dir=data_dir, workers=1, log=scratch / "serve.log"
        ) as base,
        httpx.Client(base_url=base, timeout=120) as client,
    ):
        started = time.perf_counter()
        for code, token, body in pending:
            response = client.post(
                f"/api/v1/stations/{code}/airings",
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            answer = response.json()
            assert response.status_code == 200 and not answer["rejected"], response.text[:500]
        elapsed = time.perf_counter() - started
    return count / elapsed


if __name__ == "__main__":
    main()
