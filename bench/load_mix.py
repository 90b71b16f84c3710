"""A minute of ordinary traffic from 500 devices at once: pulls, heartbeats and airing logs.

Usage: .venv/bin/python -m bench.load_mix [--clients 500] [--seconds 60] [--think 1.0]
       [--workers 2] [--database-url URL]

The tree is the pull storm's: one province of `--clients / 5` communes with 5 clusters
each, 13 daily relays per commune and 3 province-wide; playlists are made for the past
week and today, and every cluster has its own device token. The real server
(`truyenthanh serve --workers 2`) runs on 127.0.0.1; each client is one device on its own
keep-alive HTTP/1.1 connection doing what an agent does, one request at a time with a
random pause of 0 to 2 × `--think` seconds between them:

- 60 %: pull today's playlist (`If-None-Match` with the ETag it holds: mostly 304);
- 30 %: a heartbeat (204);
- 10 %: a batch of 5 airing records of past days' entries; one batch in five is sent
  again, as after a lost answer, and must come back as duplicates and add nothing.

Every answer is checked: a status other than the expected one, a refused record, a
replay that added rows or a request that got no answer within 30 s counts as an error.
Afterwards the log is counted: rows must equal the records acknowledged, and every
station's chain must verify. The baseline is the same clients, connections and pacing
against nginx serving a static file (the pull's body), which says how much of the
latency is the client and the machine.
"""

import argparse
import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import func
from sqlmodel import Session, select

from bench.pull_storm import (
    RawConnection,
    build_tree,
    generate,
    local_today,
    make_devices,
    ms,
    nginx_binary,
    nginx_serving,
    our_server,
    percentile,
    scratch_database,
)
from core.db import create_db_engine
from core.settings import parse_database_url
from scheduler.airings import verify_chain
from scheduler.models import AiringRecord, Playlist, Station

REQUEST_TIMEOUT_S = 30.0
PAST_DAYS = 7
BATCH = 5


@dataclass
class Tally:
    """What one kind of request met."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, why: str) -> None:
        """Count an error by its reason."""
        self.errors[why] = self.errors.get(why, 0) + 1

    def line(self, name: str, seconds: float) -> str:
        """A report line."""
        n = len(self.latencies)
        if not n:
            return f"  {name}: none"
        return (
            f"  {name}: {n} requests = {n / seconds:,.0f}/s; p50 "
            f"{ms(percentile(self.latencies, 50))}, p99 {ms(percentile(self.latencies, 99))}, "
            f"max {ms(max(self.latencies))}; errors {sum(self.errors.values())}"
            + (f" {self.errors}" if self.errors else "")
        )


@dataclass
class Device:
    """One client: its token, station, cluster and the entries it may report."""

    token: str
    station: str
    cluster: str
    entries: list[dict]
    etag: str | None = None
    sent: list[bytes] = field(default_factory=list)
    acknowledged: int = 0


def past_entries(engine, today) -> dict[str, list[dict]]:
    """Each station's entries of the past days, as devices would have played them."""
    found: dict[str, list[dict]] = {}
    with Session(engine) as session:
        rows = session.exec(
            select(Station.code, Playlist.body).where(
                Playlist.station_id == Station.id,
                Playlist.day >= today - timedelta(days=PAST_DAYS),
                Playlist.day < today,
            )
        )
        for code, body in rows:
            found.setdefault(code, []).extend(body["entries"])
    return found


async def client(
    device: Device, host: str, port: int, until: float, think: float, tallies: dict, rng
) -> None:
    """Act as one device until the minute is up."""
    connection = RawConnection(host, port)
    auth = {"Authorization": f"Bearer {device.token}"}
    today = local_today().isoformat()
    await asyncio.sleep(rng.uniform(0, 2 * think))
    while time.perf_counter() < until:
        roll = rng.random()
        kind = "pull" if roll < 0.6 else "heartbeat" if roll < 0.9 else "airings"
        if kind == "pull":
            headers = {**auth, **({"If-None-Match": device.etag} if device.etag else {})}
            request = ("GET", f"/api/v1/stations/{device.station}/playlists/{today}", headers, b"")
            expected = {200, 304}
        elif kind == "heartbeat":
            body = json.dumps({"online": True, "volume": 80, "cache_fill": 1.0}).encode()
            headers = {**auth, "Content-Type": "application/json"}
            request = ("POST", f"/api/v1/stations/{device.station}/heartbeats", headers, body)
            expected = {204}
        else:
            if device.sent and rng.random() < 0.2:
                body, kind = rng.choice(device.sent), "airings (replay)"
            else:
                body = json.dumps({"records": _records(device, rng)}).encode()
            headers = {**auth, "Content-Type": "application/json"}
            request = ("POST", f"/api/v1/stations/{device.station}/airings", headers, body)
            expected = {200}
        tally = tallies.setdefault(kind, Tally())
        sent = time.perf_counter()
        try:
            status, answer, content = await asyncio.wait_for(
                connection.request(*request), REQUEST_TIMEOUT_S
            )
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            tally.error(type(exc).__name__)
            connection.close()
            continue
        tally.latencies.append(time.perf_counter() - sent)
        if status not in expected:
            tally.error(f"status {status}")
        elif kind == "pull" and status == 200:
            device.etag = answer.get("etag")
        elif kind.startswith("airings"):
            report = json.loads(content)
            if report.get("rejected"):
                tally.error("record rejected")
            if kind == "airings":
                device.sent.append(request[3])
                device.acknowledged += len(report.get("accepted", []))
            elif report.get("accepted"):
                tally.error("a replay added records")
        await asyncio.sleep(rng.uniform(0, 2 * think))
    connection.close()


def _records(device: Device, rng) -> list[dict]:
    chosen = rng.sample(device.entries, min(BATCH, len(device.entries)))
    return [
        {
            "id": uuid.uuid4().hex,
            "entry_id": entry["id"],
            "started_at": entry["start"],
            "ended_at": entry["end"],
            "status": "aired",
        }
        for entry in chosen
    ]


async def drive(devices: list[Device], base: str, seconds: float, think: float) -> tuple:
    """All clients at once for `seconds`; return the tallies and how long it took."""
    address = httpx.URL(base)
    tallies: dict[str, Tally] = {}
    seeds = [random.Random(2026 + n).random() for n in range(len(devices))]
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(
            client(d, address.host, address.port, until, think, tallies, random.Random(seed))
            for d, seed in zip(devices, seeds, strict=True)
        )
    )
    return tallies, time.perf_counter() - started


async def static_baseline(
    clients: int, base: str, seconds: float, think: float, target: str
) -> Tally:
    """The same clients and pacing, each GETting a static file."""
    address = httpx.URL(base)
    tally = Tally()
    until = time.perf_counter() + seconds

    async def one(rng) -> None:
        connection = RawConnection(address.host, address.port)
        await asyncio.sleep(rng.uniform(0, 2 * think))
        while time.perf_counter() < until:
            sent = time.perf_counter()
            try:
                status, _, _ = await asyncio.wait_for(connection.get(target, {}), REQUEST_TIMEOUT_S)
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                tally.error(type(exc).__name__)
                connection.close()
                continue
            tally.latencies.append(time.perf_counter() - sent)
            if status != 200:
                tally.error(f"status {status}")
            await asyncio.sleep(rng.uniform(0, 2 * think))
        connection.close()

    rng = random.Random(7)
    await asyncio.gather(*(one(random.Random(rng.random())) for _ in range(clients)))
    return tally


def nginx_baseline(scratch: Path, body: bytes, args) -> Tally | None:
    """Serve the pull's body from nginx and drive the same clients at it."""
    if nginx_binary() is None:
        return None
    with nginx_serving(scratch / "nginx", {"/playlist.json": body}) as base:
        return asyncio.run(
            static_baseline(args.clients, base, args.seconds, args.think, "/playlist.json")
        )


def main() -> None:
    """Run and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between requests")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with scratch_database(args.database_url) as place:
        scratch, data_dir, url, engine = place.root, place.data_dir, place.url, place.engine
        started = time.perf_counter()
        today = local_today()
        build_tree(
            engine, communes=max(1, args.clients // 5), clusters=5, start=today - timedelta(30)
        )
        generate(engine, [today - timedelta(days=d) for d in range(PAST_DAYS + 1)])
        entries = past_entries(engine, today)
        devices = [
            Device(d.token, d.station, d.cluster, entries[d.station])
            for d in make_devices(engine, per_station=None)[: args.clients]
        ]
        engine.dispose()
        print(
            f"{len(devices)} devices ({len(devices) // 5} communes x 5 clusters), "
            f"{engine.dialect.name}; set up in {time.perf_counter() - started:.1f} s"
        )
        log = scratch / "serve.log"
        with our_server(database_url=url, data_dir=data_dir, workers=args.workers, log=log) as base:
            tallies, took = asyncio.run(drive(devices, base, args.seconds, args.think))
            sample = httpx.get(
                f"{base}/api/v1/stations/{devices[0].station}/playlists/{today}",
                headers={"Authorization": f"Bearer {devices[0].token}"},
            ).content
        total = sum(len(t.latencies) for t in tallies.values())
        errors = sum(sum(t.errors.values()) for t in tallies.values())
        print(
            f"truyenthanh serve --workers {args.workers}: {len(devices)} clients for "
            f"{took:.1f} s, {total} requests = {total / took:,.0f}/s, errors {errors}"
        )
        for name in sorted(tallies):
            print(tallies[name].line(name, took))
        every = sorted(lat for t in tallies.values() for lat in t.latencies)
        print(f"  all: p50 {ms(percentile(every, 50))}, p99 {ms(percentile(every, 99))}")
        engine = create_db_engine(parse_database_url(url))
        with Session(engine) as session:
            rows = session.exec(select(func.count()).select_from(AiringRecord)).one()
            acknowledged = sum(d.acknowledged for d in devices)
            broken = [
                s.code
                for s in session.exec(select(Station))
                if not verify_chain(session, station=s).ok
            ]
        print(
            f"log: {rows} rows for {acknowledged} records acknowledged "
            f"({'equal' if rows == acknowledged else 'NOT EQUAL'}); "
            f"chains broken: {broken or 'none'}"
        )
        baseline = nginx_baseline(scratch, sample, args)
        if baseline is None:
            print("nginx not installed (apt-get install -y nginx-light): no baseline")
        else:
            n = len(baseline.latencies)
            print(
                f"nginx, the pull's body as a static file, same clients and pacing: {n} requests, "
                f"p50 {ms(percentile(baseline.latencies, 50))}, "
                f"p99 {ms(percentile(baseline.latencies, 99))}, "
                f"errors {sum(baseline.errors.values())}"
            )
            print(
                f"ratio p99 ours (all requests) / nginx: "
                f"{percentile(every, 99) / percentile(baseline.latencies, 99):.1f}"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
