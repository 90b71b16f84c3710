"""An emergency booked province-wide reaches every listening agent: how fast?

Usage: .venv/bin/python -m bench.emergency_fanout [--stations 1000] [--agents-per-station 1]
       [--workers 2] [--connect-concurrency 20] [--database-url URL]

The tree: one province of `--stations` communes (the pull storm's tree, five clusters
each, 13 daily entries), playlists for the next 7 days made beforehand as the nightly
job does. Each commune's agent (`--agents-per-station` station-wide device tokens)
holds `GET /api/v1/stations/{code}/events/stream` open against the real server
(`truyenthanh serve --workers 2`), read by one asyncio client over raw sockets (HTTP/1.1,
chunked). Streams are opened `--connect-concurrency` at a time, then left to settle.

Baseline, in the same run and against the same server with the streams open: as many
clients as agents connect and send `GET /api/v1/health` at the same moment; the time
until each has its answer is what a trivial message to that many clients costs the
server in request and response.

Then an admin books an emergency relay (`POST /api/v1/bookings`, priority emergency,
`at` = the current minute in Asia/Ho_Chi_Minh, once today, `subtree: true` on the
province). For every agent: the time from sending the POST, and from its answer,
until the agent read the `event: emergency` line; p50, p99 and max.
"""

import argparse
import asyncio
import resource
import secrets
import time
from datetime import timedelta

import httpx

from bench.pull_storm import (
    ZONE,
    Device,
    build_tree,
    generate,
    local_today,
    make_devices,
    ms,
    our_server,
    percentile,
    run,
    scratch_database,
)
from core.clock import utcnow
from core.db import session_scope
from core.identity import create_user
from core.models import Role

CONNECT_TIMEOUT_S = 60.0
DELIVERY_TIMEOUT_S = 120.0
SETTLE_S = 3.0


class Stream:
    """One agent's event stream over a bare socket."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.chunked = False
        self.received: float | None = None
        self.text = ""

    async def open(self, host: str, port: int) -> None:
        """Connect and read until the stream's first line (`retry:`)."""
        self.reader, self.writer = await asyncio.open_connection(host, port)
        self.writer.write(
            (
                f"GET /api/v1/stations/{self.device.station}/events/stream HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\nAuthorization: Bearer {self.device.token}\r\n"
                "Accept: text/event-stream\r\n\r\n"
            ).encode()
        )
        status = int((await self.reader.readuntil(b"\r\n")).split(b" ", 2)[1])
        headers = {}
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if status != 200:
            raise ConnectionError(f"stream answered {status}")
        self.chunked = headers.get("transfer-encoding") == "chunked"
        while "retry:" not in self.text:
            self.text += await self._next()

    async def _next(self) -> str:
        assert self.reader is not None
        if not self.chunked:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("stream closed")
            return data.decode()
        size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
        if size == 0:
            raise ConnectionError("stream ended")
        data = await self.reader.readexactly(size + 2)
        return data[:-2].decode()

    async def wait_for_emergency(self) -> None:
        """Read until an `event: emergency` line; note when it came."""
        self.text = ""
        while "event: emergency" not in self.text:
            self.text += await self._next()
        self.received = time.perf_counter()

    def close(self) -> None:
        """Hang up."""
        if self.writer is not None:
            self.writer.close()


async def open_streams(
    devices: list[Device], host: str, port: int, concurrency: int
) -> tuple[list[Stream], int, float]:
    """Open every agent's stream, `concurrency` at a time, retrying a refused one twice."""
    gate = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(device: Device) -> Stream | None:
        nonlocal failures
        for _ in range(3):
            stream = Stream(device)
            async with gate:
                try:
                    await asyncio.wait_for(stream.open(host, port), CONNECT_TIMEOUT_S)
                    return stream
                except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                    stream.close()
                    failures += 1
        return None

    started = time.perf_counter()
    opened = await asyncio.gather(*(one(d) for d in devices))
    return [s for s in opened if s is not None], failures, time.perf_counter() - started


BASELINES = {
    "static": "/static/app/app.css",
    "health": "/api/v1/health",
    "poll": "/api/v1/stations/{station}/events?after=0",
}


async def _get(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    device: Device,
    path: str,
) -> None:
    writer.write(
        (
            f"GET {path.format(station=device.station)} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {device.token}\r\n\r\n"
        ).encode()
    )
    status = int((await reader.readuntil(b"\r\n")).split(b" ", 2)[1])
    length = 0
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    if status != 200:
        raise ConnectionError(f"answered {status}")


async def baseline(
    devices: list[Device], host: str, port: int, path: str
) -> tuple[list[float], int]:
    """Every agent connects and GETs `path`, all at the same moment.

    Returns the seconds until each answer, and how many got none.
    """
    started = time.perf_counter()
    writers = []
    problems: dict[str, int] = {}

    async def one(device: Device) -> float | None:
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writers.append(writer)
            await asyncio.wait_for(_get(reader, writer, host, device, path), DELIVERY_TIMEOUT_S)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            kind = str(exc) or type(exc).__name__
            problems[kind] = problems.get(kind, 0) + 1
            return None
        return time.perf_counter() - started

    try:
        answers = await asyncio.gather(*(one(d) for d in devices))
    finally:
        for writer in writers:
            writer.close()
    if problems:
        print(f"baseline: unanswered {problems}")
    return [a for a in answers if a is not None], sum(1 for a in answers if a is None)


def raise_file_limit(needed: int) -> str:
    """Raise this process's open-file limit (the server inherits it); say what it is."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return f"open files: {soft} (hard {hard}), needed about {needed}"


def line(name: str, values: list[float]) -> str:
    """p50, p99 and max of some durations."""
    return (
        f"{name}: p50 {ms(percentile(values, 50))}, p99 {ms(percentile(values, 99))}, "
        f"max {ms(max(values))}"
    )


async def scenario(
    base: str, token: str, devices: list[Device], province: str, concurrency: int, which: str
) -> None:
    """Open the streams, measure the baseline, book the emergency, time its delivery."""
    address = httpx.URL(base)
    host, port = address.host, address.port
    streams, failures, took = await open_streams(devices, host, port, concurrency)
    print(
        f"{len(streams)} of {len(devices)} streams open in {took:.1f} s "
        f"({concurrency} connecting at a time; {failures} attempts refused or timed out)"
    )
    await asyncio.sleep(SETTLE_S)
    path = BASELINES[which]
    health, unanswered = await baseline([s.device for s in streams], host, port, path)
    print(
        "baseline, "
        + line(
            f"{len(streams)} clients connect and GET {path} at once, "
            f"{len(health)} answered ({unanswered} not)",
            health or [float("nan")],
        )
    )
    await asyncio.sleep(SETTLE_S)
    listening = [asyncio.ensure_future(s.wait_for_emergency()) for s in streams]
    await asyncio.sleep(0.1)
    at = utcnow().astimezone(ZONE)
    booking = {
        "station": province,
        "subtree": True,
        "source": "relay",
        "relay_url": "http://vov.example/khan-cap",
        "title": "Thông báo khẩn: bão số 5",
        "duration_s": 300,
        "recurrence": {"freq": "once", "start": at.date().isoformat()},
        "at": at.strftime("%H:%M"),
        "priority": "emergency",
    }
    async with httpx.AsyncClient(base_url=base, timeout=DELIVERY_TIMEOUT_S) as client:
        sent = time.perf_counter()
        try:
            response = await client.post(
                "/api/v1/bookings", json=booking, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            print(f"POST /api/v1/bookings got no answer: {exc!r}")
            for task in listening:
                task.cancel()
            return
        answered = time.perf_counter()
    if response.status_code != 201:
        print(f"the booking was refused: {response.status_code} {response.text[:1000]}")
    print(f"POST /api/v1/bookings answered {response.status_code} in {ms(answered - sent)}")
    _, late = await asyncio.wait(listening, timeout=DELIVERY_TIMEOUT_S)
    for task in late:
        task.cancel()
    got = [s.received for s in streams if s.received is not None]
    print(f"{len(got)} of {len(streams)} agents received the emergency")
    if got:
        from_send = [t - sent for t in got]
        from_answer = [t - answered for t in got]
        print(line("  from sending the POST", from_send))
        print(line("  from its answer", from_answer))
        worst = max(from_send)
        floor = max(health) if health else float("nan")
        print(
            f"ratio, last agent / baseline's last answer: {worst / floor:.1f} from the POST "
            f"sent, {max(from_answer) / floor:.1f} from its answer"
        )
        met = worst <= 2 and len(got) == len(devices)
        print(
            f"goal, {len(devices)} agents within 2 s of the booking: {'met' if met else 'not met'}"
        )
    for stream in streams:
        stream.close()


def main() -> None:
    """Run and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--agents-per-station", type=int, default=1)
    parser.add_argument("--clusters", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connect-concurrency", type=int, default=20)
    parser.add_argument(
        "--baseline",
        choices=sorted(BASELINES),
        default="static",
        help="what the same clients GET at once: a static file, the health check, or a "
        "poll of their events (the stream's fallback)",
    )
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    agents = args.stations * args.agents_per_station
    print(raise_file_limit(4 * agents + 1024))
    with scratch_database(args.database_url) as place:
        scratch, data_dir, url, engine = place.root, place.data_dir, place.url, place.engine
        started = time.perf_counter()
        today = local_today()
        province = build_tree(
            engine, communes=args.stations, clusters=args.clusters, start=today - timedelta(7)
        )
        generate(engine, [today + timedelta(days=d) for d in range(7)])
        devices = make_devices(engine, per_station=args.agents_per_station)
        password = secrets.token_urlsafe(16)
        with session_scope(engine) as session:
            create_user(
                session, username="bench.admin", password=password, role=Role.admin, station_id=None
            )
        engine.dispose()
        print(
            f"{args.stations} communes x {args.agents_per_station} agents = {agents} streams, "
            f"{engine.dialect.name}, {args.workers} workers; "
            f"set up in {time.perf_counter() - started:.1f} s"
        )
        with our_server(
            database_url=url, data_dir=data_dir, workers=args.workers, log=scratch / "serve.log"
        ) as base:
            login = httpx.post(
                f"{base}/api/v1/auth/token",
                data={"username": "bench.admin", "password": password},
                timeout=60,
            )
            login.raise_for_status()
            token = login.json()["access_token"]
            run(scenario(base, token, devices, province, args.connect_concurrency, args.baseline))


if __name__ == "__main__":
    main()
