"""The morning pull storm: every cluster fetches its playlist, then checks it again (304).

Usage: .venv/bin/python -m bench.pull_storm [--communes 100] [--clusters 50]
       [--concurrency 200] [--workers 2] [--database-url URL]

The tree: one province of `--communes` communes, each with `--clusters` clusters, eight
daily relays for the whole commune, two for its first ten clusters only, and three
province-wide relays; today's playlists are generated beforehand, as the nightly job
does. Each cluster has its own device token (never used before, so each first pull
also notes the token's use, as a morning pull after a night's silence does).

The real server (`truyenthanh serve --workers 2`) is started on 127.0.0.1 and driven by
one asyncio httpx client (HTTP/1.1, keep-alive, `--concurrency` connections shared by
all clusters): first every cluster's `GET /api/v1/stations/{code}/playlists/{today}
?cluster=CODE` (200), then the same again with `If-None-Match` (304). The baseline
serves the same response bodies as static files from nginx (`worker_processes 2`,
`etag on`, access log on as uvicorn's is) to the same client with the same requests and
concurrency. nginx is the Debian package: `apt-get install -y nginx-light`; without it
only our figures are printed.

The helpers here (the tree, device tokens, the server process) serve the other
benchmarks too.
"""

import argparse
import asyncio
import gc
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine, insert, update
from sqlmodel import select

from api.serving import LISTENERS
from core.clock import utcnow
from core.db import create_db_engine, session_scope
from core.identity import create_device_token
from core.migrations import upgrade
from core.models import DeviceToken
from core.settings import parse_database_url
from scheduler.models import Booking, Cluster, Station, StationKind
from scheduler.playlists import BATCH_STATIONS, generate_stations
from scheduler.recurrence import Recurrence, rule_to_json

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
WINDOWS = [
    {"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"},
    {"days": [0, 1, 2, 3, 4, 5, 6], "start": "17:00", "end": "18:00"},
]
COMMUNE_TIMES = ["05:35", "05:40", "05:45", "05:50", "05:55", "17:05", "17:10", "17:15"]
CLUSTER_TIMES = ["17:20", "17:25"]  # for a commune's first ten clusters only
PROVINCE_TIMES = ["05:30", "17:00", "17:40"]
CLI = str(Path(sys.executable).with_name("truyenthanh"))
REQUEST_TIMEOUT_S = 30.0
PHASE_TIMEOUT_S = 240.0


@dataclass
class Scratch:
    """A bench's temporary directory, its data directory and its migrated database."""

    root: Path
    data_dir: Path
    url: str
    engine: Engine


@contextmanager
def scratch_database(database_url: str) -> Iterator[Scratch]:
    """A temporary directory and the given database (or a new SQLite file), migrated."""
    with tempfile.TemporaryDirectory() as scratch_dir:
        root = Path(scratch_dir)
        data_dir = root / "data"
        data_dir.mkdir()
        url = database_url or f"sqlite:///{data_dir / 'truyenthanh.db'}"
        engine = create_db_engine(parse_database_url(url))
        upgrade(engine)
        yield Scratch(root, data_dir, url, engine)


def local_today() -> date:
    """Today's date in Vietnam."""
    return utcnow().astimezone(ZONE).date()


def _relay(station_id: int, title: str, at: str, start: date, **extra: object) -> dict:
    return {
        "station_id": station_id,
        "subtree": False,
        "clusters": [],
        "zones": [],
        "source": "relay",
        "relay_url": "http://vov.example/vov1",
        "title": title,
        "duration_s": 240.0,
        "recurrence": rule_to_json(Recurrence(freq="daily", start=start)),
        "at": at,
        "priority": "normal",
        "pair_languages": False,
        "status": "active",
        "created_by": "bench",
        **extra,
    }


def build_tree(engine: Engine, *, communes: int, clusters: int, start: date) -> str:
    """One province with its communes, clusters and daily relays; return the province code."""
    with session_scope(engine) as session:
        province = Station(
            code="TINH-BENCH", name="Tỉnh thử", kind=StationKind.province, windows=WINDOWS
        )
        session.add(province)
        session.flush()
        session.execute(
            insert(Booking),
            [
                _relay(province.id, f"Tin tỉnh {at}", at, start, subtree=True)
                for at in PROVINCE_TIMES
            ],
        )
        for c in range(communes):
            session.add(
                Station(
                    code=f"XA-{c}",
                    name=f"Xã {c}",
                    kind=StationKind.commune,
                    parent_id=province.id,
                    windows=WINDOWS,
                )
            )
        session.flush()
        ids = session.exec(select(Station.id).where(Station.kind == "commune")).all()
        session.execute(
            insert(Cluster),
            [
                {"station_id": sid, "code": f"CUM-{k}", "name": f"Cụm {k}", "zone_tags": []}
                for sid in ids
                for k in range(clusters)
            ],
        )
        first_ten = [f"CUM-{k}" for k in range(min(10, clusters))]
        session.execute(
            insert(Booking),
            [_relay(sid, f"Tin xã {at}", at, start) for sid in ids for at in COMMUNE_TIMES]
            + [
                _relay(sid, f"Tin cụm {at}", at, start, clusters=first_ten)
                for sid in ids
                for at in CLUSTER_TIMES
            ],
        )
    return "TINH-BENCH"


def generate(engine: Engine, days: list[date], *, now: datetime | None = None) -> None:
    """Every station's playlists for these days, as the nightly job makes them."""
    with session_scope(engine) as session:
        ids = list(session.exec(select(Station.id).order_by(Station.id)).all())
    for first in range(0, len(ids), BATCH_STATIONS):
        with session_scope(engine, write=True) as session:
            generate_stations(
                session,
                station_ids=ids[first : first + BATCH_STATIONS],
                days=days,
                base_url="http://127.0.0.1:8000",
                now=now,
            )


@dataclass(frozen=True)
class Device:
    """A device token and what it pulls."""

    station: str
    cluster: str | None
    token: str


def make_devices(engine: Engine, *, per_station: int | None) -> list[Device]:
    """A token per cluster (`per_station` None) or that many station-wide tokens per commune."""
    devices = []
    with session_scope(engine) as session:
        stations = session.exec(
            select(Station).where(Station.kind == "commune").order_by(Station.id)
        ).all()
        if per_station is None:
            rows = session.exec(
                select(Cluster, Station.code)
                .join(Station, Station.id == Cluster.station_id)
                .order_by(Cluster.id)
            ).all()
            for cluster, code in rows:
                _, token = create_device_token(
                    session,
                    station_id=cluster.station_id,
                    cluster_id=cluster.id,
                    name=f"{code}/{cluster.code}",
                    created_by="bench",
                )
                devices.append(Device(code, cluster.code, token))
        else:
            for station in stations:
                for n in range(per_station):
                    _, token = create_device_token(
                        session,
                        station_id=station.id,
                        cluster_id=None,
                        name=f"{station.code}/agent-{n}",
                        created_by="bench",
                    )
                    devices.append(Device(station.code, None, token))
    return devices


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(
    *, database_url: str, data_dir: Path, base_url: str, **settings: str
) -> dict[str, str]:
    """The environment of our server: this run's database and data directory, and
    `settings` (`body_timeout_s="20"` is TRUYENTHANH_BODY_TIMEOUT_S), nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUYENTHANH_")}
    env.update(
        TRUYENTHANH_DATABASE_URL=database_url,
        TRUYENTHANH_DATA_DIR=str(data_dir),
        TRUYENTHANH_PUBLIC_BASE_URL=base_url,
        **{f"TRUYENTHANH_{name.upper()}": value for name, value in settings.items()},
    )
    return env


@contextmanager
def running(
    command: list[str], *, health: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    """Start a server process (output to `log`), wait until `health` answers, stop it after."""
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited early:\n{log.read_text()[-3000:]}")
                try:
                    if httpx.get(health, timeout=1).status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not answer within 60 s")
                time.sleep(0.1)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def our_server(
    *, database_url: str, data_dir: Path, workers: int, log: Path, **settings: str
) -> Iterator[str]:
    """`truyenthanh serve` on a free loopback port, with these settings; yield its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = server_env(database_url=database_url, data_dir=data_dir, base_url=base, **settings)
    command = [CLI, "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers)]
    with running(command, health=f"{base}/api/v1/health", log=log, env=env):
        # The first worker answers the health check while the others may still be
        # starting: a storm sent then would all go to it, as on no server that has been
        # up since the night before.
        deadline = time.monotonic() + 60
        while listening_sockets(port) < workers * LISTENERS and time.monotonic() < deadline:
            time.sleep(0.1)
        yield base


def listening_sockets(port: int) -> int:
    """How many sockets listen on this TCP port (Linux's /proc; elsewhere, as if all)."""
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        return sys.maxsize
    count = 0
    for table in tables:
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            count += int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A"
    return count


def server_troubles(log: Path) -> str:
    """What went wrong in a server's log: errors by kind, workers restarted."""
    counts: dict[str, int] = {}
    for text in log.read_text(errors="replace").splitlines():
        if "Child process" in text and "died" in text:
            counts["worker restarted by uvicorn (no answer to its health ping in 5 s)"] = (
                counts.get("worker restarted by uvicorn (no answer to its health ping in 5 s)", 0)
                + 1
            )
        elif text.startswith(("sqlalchemy.exc.", "sqlite3.", "psycopg.")) or (
            text.split(":", 1)[0].endswith(("Error", "Exception")) and " " not in text.split(":")[0]
        ):
            kind = text[:110]
            counts[kind] = counts.get(kind, 0) + 1
    if not counts:
        return "server log: no errors"
    return "server log: " + "; ".join(f"{n} x {kind}" for kind, n in counts.items())


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    """Seconds as milliseconds for a report."""
    return f"{seconds * 1000:.1f} ms"


@dataclass
class Phase:
    """One round of requests: how long, how fast, what came back."""

    elapsed: float
    latencies: list[float]
    statuses: dict[int, int]
    etags: list[str | None]
    bodies: list[bytes]

    def line(self, name: str) -> str:
        """A report line."""
        n = len(self.latencies)
        return (
            f"{name}: {n} requests in {self.elapsed:.2f} s = {n / self.elapsed:,.0f} req/s; "
            f"p50 {ms(percentile(self.latencies, 50))}, p99 {ms(percentile(self.latencies, 99))}, "
            f"max {ms(max(self.latencies))}; statuses {dict(sorted(self.statuses.items()))}"
        )


@dataclass
class Cpu:
    """CPU time spent while a storm ran: the machine's, and the client's share of it."""

    machine: float
    client: float

    @classmethod
    def around(cls, storm_run: Any) -> tuple[Any, "Cpu"]:
        """Run `storm_run()`; its result and the CPU time it took."""
        busy, own = busy_cpu_seconds(), time.process_time()
        result = storm_run()
        return result, cls(busy_cpu_seconds() - busy, time.process_time() - own)

    def line(self, requests: int) -> str:
        server = self.machine - self.client
        return (
            f"CPU: server and kernel {server:.2f} s = {server / requests * 1e6:.0f} µs a "
            f"request; client {self.client:.2f} s (machine busy time from /proc/stat, "
            "less the client's own)"
        )


def busy_cpu_seconds() -> float:
    """CPU time the machine has spent busy since boot (user, nice, system, irq, softirq).

    Time stolen by the host is not in it: on a shared virtual machine this moves less
    than the wall clock does.
    """
    user, nice, system, _idle, _iowait, irq, softirq = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    )
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


class RawConnection:
    """A bare HTTP/1.1 keep-alive connection: Content-Length bodies only.

    Far cheaper per request than httpx, so the server, not the load generator, is what
    is measured; answers without a length (chunked) are refused.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        """Close the socket."""
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def get(self, target: str, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        """Send one GET and read its answer; reconnect once if the server closed."""
        return await self.request("GET", target, headers)

    async def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, dict, bytes]:
        """Send one request and read its answer; reconnect once if the server closed."""
        for attempt in (1, 2):
            if self.writer is None:
                await self._open()
            try:
                return await self._exchange(method, target, headers, body)
            except (asyncio.IncompleteReadError, ConnectionError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict, bytes]:
        assert self.reader is not None and self.writer is not None
        if body:
            headers = {**headers, "Content-Length": str(len(body))}
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(
            f"{method} {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{lines}\r\n".encode()
            + body
        )
        status_line = await self.reader.readuntil(b"\r\n")
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split(b" ", 2)[1])
        answer: dict[str, str] = {}
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            answer[name.strip().lower()] = value.strip()
        if status in (204, 304) or status < 200:
            body = b""
        elif "content-length" in answer:
            body = await self.reader.readexactly(int(answer["content-length"]))
        else:
            raise RuntimeError(f"an answer without Content-Length: {answer}")
        if answer.get("connection", "").lower() == "close":
            self.close()
        return status, answer, body


async def _round(
    client: "Client",
    urls: list[str],
    headers: list[dict[str, str]],
    *,
    keep_bodies: bool,
) -> Phase:
    n = len(urls)
    latencies = [0.0] * n
    statuses: dict[int, int] = {}
    etags: list[str | None] = [None] * n
    bodies: list[bytes] = [b""] * n if keep_bodies else []
    next_index = iter(range(n))

    async def worker(slot: int) -> None:
        for i in next_index:
            sent = time.perf_counter()
            try:
                status, answer, body = await client.get(slot, urls[i], headers[i])
            except (TimeoutError, OSError, asyncio.IncompleteReadError, httpx.HTTPError):
                status, answer, body = 0, {}, b""  # no answer: counted as status 0
                client.reset(slot)
            latencies[i] = time.perf_counter() - sent
            statuses[status] = statuses.get(status, 0) + 1
            etags[i] = answer.get("etag")
            if keep_bodies:
                bodies[i] = body

    started = time.perf_counter()
    workers = [asyncio.ensure_future(worker(slot)) for slot in range(min(client.concurrency, n))]
    _, late = await asyncio.wait(workers, timeout=PHASE_TIMEOUT_S)
    for task in late:  # a server that stopped answering: give up, count what is left
        task.cancel()
    elapsed = time.perf_counter() - started
    unanswered = sum(1 for latency in latencies if latency == 0.0)
    if unanswered:
        statuses[0] = statuses.get(0, 0) + unanswered
        latencies = [latency or elapsed for latency in latencies]
    return Phase(elapsed, latencies, statuses, etags, bodies)


class Client:
    """`concurrency` keep-alive connections to one server, bare or through httpx."""

    def __init__(self, base: str, *, concurrency: int, kind: str) -> None:
        self.concurrency, self.kind = concurrency, kind
        address = httpx.URL(base)
        if kind == "httpx":
            try:
                import sniffio  # noqa: F401
            except ImportError:
                # httpcore tries `import sniffio` on every request; without the package
                # each failed import walks sys.path (~0.2 ms). Make it fail at once.
                sys.modules["sniffio"] = None  # type: ignore[assignment]
            limits = httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency
            )
            self.http = httpx.AsyncClient(base_url=base, limits=limits, timeout=REQUEST_TIMEOUT_S)
        else:
            self.raw = [RawConnection(address.host, address.port) for _ in range(concurrency)]

    async def get(self, slot: int, target: str, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        """One GET on connection `slot` (httpx picks its own): status, headers, body."""
        if self.kind == "httpx":
            response = await self.http.get(target, headers=headers)
            return response.status_code, response.headers, response.content
        return await asyncio.wait_for(self.raw[slot].get(target, headers), REQUEST_TIMEOUT_S)

    def reset(self, slot: int) -> None:
        """Drop a connection that failed; the next request opens a new one."""
        if self.kind == "raw":
            self.raw[slot].close()

    async def close(self) -> None:
        """Close every connection."""
        if self.kind == "httpx":
            await self.http.aclose()
        else:
            for connection in self.raw:
                connection.close()


def run(coroutine: Any) -> Any:
    """Run a storm on uvloop when installed (as uvicorn does), else asyncio's loop.

    The client's garbage collector is held off meanwhile: a full collection of what it
    keeps (5,000 bodies, every request's headers) stopped it for 130 ms in one run, and
    each of the 200 requests in flight counted that pause as the server's (nginx's p99
    went from 25 ms to 140 ms). A storm makes no cycles that need collecting.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        try:
            import uvloop
        except ImportError:
            return asyncio.run(coroutine)
        return uvloop.run(coroutine)
    finally:
        gc.enable()
        gc.unfreeze()


async def storm(
    base: str,
    paths: list[str],
    auth: list[dict[str, str]],
    *,
    concurrency: int,
    client: str,
    keep_bodies: bool,
) -> tuple[Phase, Phase]:
    """Every path once (200), then again with If-None-Match (304), `concurrency` at a time."""
    session = Client(base, concurrency=concurrency, kind=client)
    try:
        first = await _round(session, paths, auth, keep_bodies=keep_bodies)
        again = [
            {**headers, "If-None-Match": etag or ""}
            for headers, etag in zip(auth, first.etags, strict=True)
        ]
        second = await _round(session, paths, again, keep_bodies=False)
    finally:
        await session.close()
    return first, second


NGINX_CONF = """\
worker_processes 2;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    default_type application/json;
    sendfile on;
    etag on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
    }}
}}
"""


def nginx_binary() -> str | None:
    """nginx from PATH or where Debian puts it."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None
    )


@contextmanager
def nginx_serving(root: Path, files: dict[str, bytes]) -> Iterator[str]:
    """nginx serving `files` (path → bytes) from `root`; yield its base URL."""
    binary = nginx_binary()
    assert binary is not None
    www = root / "www"
    for path, content in files.items():
        target = www / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    (root / "tmp").mkdir(exist_ok=True)
    # Workers run as an unprivileged user when the master is root: let them read.
    for folder in [root.parent, root, *(p for p in root.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, port=port))
    base = f"http://127.0.0.1:{port}"
    command = [binary, "-p", str(root), "-c", str(conf)]
    with running(command, health=f"{base}/", log=root / "nginx.out"):
        yield base


def goals(first: "Phase", second: "Phase", *, devices: int, troubles: str) -> str:
    """The goals (issue 21), met or not: a province's morning, and a nation's first pulls."""
    whole = first.elapsed + second.elapsed
    p99 = percentile(first.latencies + second.latencies, 99)
    answered = first.statuses == {200: devices} and second.statuses == {304: devices}
    clean = answered and troubles == "server log: no errors"
    morning = whole <= 3 and p99 < 0.1
    national = first.elapsed <= 60 and clean
    return (
        f"goals: whole pull within 3 s with p99 < 100 ms: {'met' if morning else 'not met'} "
        f"({whole:.2f} s, p99 {ms(p99)}); "
        f"all {devices} first pulls within 60 s, no errors: {'met' if national else 'not met'} "
        f"({first.elapsed:.1f} s)"
    )


def main() -> None:
    """Run and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--communes", type=int, default=100)
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument(
        "--recently-used",
        action="store_true",
        help="mark every token used a moment ago, so no pull writes its last use (diagnosis)",
    )
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with scratch_database(args.database_url) as place:
        scratch, data_dir, url, engine = place.root, place.data_dir, place.url, place.engine
        today = local_today()
        started = time.perf_counter()
        build_tree(engine, communes=args.communes, clusters=args.clusters, start=today)
        generate(engine, [today])
        devices = make_devices(engine, per_station=None)
        if args.recently_used:
            with session_scope(engine) as session:
                session.execute(update(DeviceToken).values(last_used_at=utcnow()))
        engine.dispose()
        print(
            f"{args.communes} communes x {args.clusters} clusters = {len(devices)} devices, "
            f"{engine.dialect.name}; set up in {time.perf_counter() - started:.1f} s"
            + ("; tokens marked as just used" if args.recently_used else "")
        )
        day = today.isoformat()
        paths = [
            f"/api/v1/stations/{d.station}/playlists/{day}?cluster={d.cluster}" for d in devices
        ]
        auth = [{"Authorization": f"Bearer {d.token}"} for d in devices]
        log = scratch / "serve.log"
        with our_server(database_url=url, data_dir=data_dir, workers=args.workers, log=log) as base:
            (first, second), cpu = Cpu.around(
                lambda: run(
                    storm(
                        base,
                        paths,
                        auth,
                        concurrency=args.concurrency,
                        client=args.client,
                        keep_bodies=True,
                    )
                )
            )
        print(
            f"truyenthanh serve --workers {args.workers}; one {args.client} asyncio client, "
            f"{args.concurrency} keep-alive HTTP/1.1 connections"
        )
        ours = first.elapsed + second.elapsed
        print("  " + first.line("first pull (200)"))
        print("  " + second.line("repeat with If-None-Match (304)"))
        both = first.latencies + second.latencies
        print(
            f"  whole morning pull: {len(both)} requests in {ours:.2f} s = "
            f"{len(both) / ours:,.0f} req/s; p50 {ms(percentile(both, 50))}, "
            f"p99 {ms(percentile(both, 99))}"
        )
        print("  " + cpu.line(len(both)))
        print("  " + server_troubles(log))
        sizes = [len(b) for b in first.bodies]
        print(f"  bodies {min(sizes)}-{max(sizes)} bytes, mean {sum(sizes) / len(sizes):.0f}")
        if first.statuses != {200: len(devices)} or second.statuses != {304: len(devices)}:
            print("  WARNING: not every request answered as expected")
        if nginx_binary() is None:
            print(
                "nginx is not installed: no baseline. Install it with "
                "`apt-get update && apt-get install -y nginx-light` and run again."
            )
            return
        files = {
            f"/{d.station}/{day}/{d.cluster}.json": b
            for d, b in zip(devices, first.bodies, strict=True)
        }
        with nginx_serving(scratch / "nginx", files) as base:
            static = [f"/{d.station}/{day}/{d.cluster}.json" for d in devices]
            (n_first, n_second), n_cpu = Cpu.around(
                lambda: run(
                    storm(
                        base,
                        static,
                        auth,
                        concurrency=args.concurrency,
                        client=args.client,
                        keep_bodies=False,
                    )
                )
            )
        theirs = n_first.elapsed + n_second.elapsed
        if n_first.statuses != {200: len(devices)} or n_second.statuses != {304: len(devices)}:
            print("  WARNING: nginx did not answer every request as expected")
        print("nginx, the same bytes as static files, the same client and concurrency")
        print("  " + n_first.line("first pull (200)"))
        print("  " + n_second.line("repeat with If-None-Match (304)"))
        n_both = n_first.latencies + n_second.latencies
        print(
            f"  whole morning pull: {len(n_both)} requests in {theirs:.2f} s = "
            f"{len(n_both) / theirs:,.0f} req/s; p50 {ms(percentile(n_both, 50))}, "
            f"p99 {ms(percentile(n_both, 99))}"
        )
        print("  " + n_cpu.line(len(n_both)))
        ours_cpu = cpu.machine - cpu.client
        theirs_cpu = n_cpu.machine - n_cpu.client
        print(
            f"ratio (time, ours / nginx): {ours / theirs:.1f}; "
            f"(server CPU, ours / nginx): {ours_cpu / theirs_cpu:.1f}"
        )
        print(goals(first, second, devices=len(devices), troubles=server_troubles(log)))


if __name__ == "__main__":
    main()
