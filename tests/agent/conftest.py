"""A commune on a real server process, and real agent processes talking to it over loopback.

These tests run on SQLite only: the agent sees nothing but HTTP, and the server's
behaviour on PostgreSQL (airing ingest, event fan-out) is covered by the server's tests;
running each minute-aligned scenario twice would double the wall time for nothing.
"""

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import select

from audio.models import AudioAsset, JobStatus, RenderJob
from audio.service import process_queue
from core.db import session_scope
from core.identity import create_device_token
from scheduler.bookings import create_booking, regenerate
from scheduler.models import Booking, Cluster
from scheduler.service import add_cluster, enqueue_approved, get_station, update_station
from tests.agent.radio import Radio
from tests.newsroom import approved_item
from tests.processes import CLI, cli_env, free_port

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
ALL_DAY = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59"}]
STATION = "XA-A"
STOP_GRACE_S = 2.0
SHORT_BULLETIN = "Loa thông báo của xã."


@pytest.fixture
def backend() -> str:
    """Server-process tests of the agent run on SQLite (see the module docstring)."""
    return "sqlite"


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def local_now() -> datetime:
    """Now on the station's clock."""
    return datetime.now(ZONE)


def clear_of_midnight() -> None:
    """Wait out the minutes around midnight, where bookings would straddle two days."""
    now = local_now()
    if now.hour == 23 and now.minute >= 55:
        now += timedelta(days=1)
    elif not (now.hour == 0 and now.minute < 3):
        return
    time.sleep((now.replace(hour=0, minute=3, second=0) - local_now()).total_seconds())


def next_minute(*, lead: float) -> datetime:
    """The first whole minute at least `lead` seconds from now."""
    soonest = local_now() + timedelta(seconds=lead)
    return soonest.replace(second=0, microsecond=0) + timedelta(minutes=1)


def eventually(check: Callable[[], Any], *, timeout: float, what: str, step: float = 0.1) -> Any:
    """Poll until `check()` gives something truthy; fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


class Server:
    """A real `truyenthanh serve` process on loopback."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.output = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop)
        self.process = subprocess.Popen(
            [CLI, "serve", "--port", str(port)],
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )
        try:
            eventually(
                lambda: self.process.poll() is not None or _healthy(self.base),
                timeout=60,
                what="the server's health check",
            )
            if self.process.poll() is not None:
                self.output.seek(0)
                raise AssertionError(f"the server exited early:\n{self.output.read().decode()}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (a second call does nothing)."""
        # uvicorn waits for open event streams before it exits on SIGTERM (reported as a
        # server bug), so a stop gets a short grace, then the server is killed: for the
        # agent, that is the server going away all the same.
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()


@dataclass
class Commune:
    """Station XA-A with all-day windows, clusters BAN-A and BAN-B and a rendered item."""

    engine: Any
    env: dict[str, str]
    port: int
    planner: dict[str, str]
    operator: dict[str, str]
    item_id: int
    sha256: str
    duration_s: float

    @property
    def base(self) -> str:
        """The server's URL."""
        return f"http://127.0.0.1:{self.port}"

    def start_server(self) -> "Server":
        """Run `truyenthanh serve` on the commune's port (again, after a stop)."""
        return Server(self.env, self.port)

    @contextmanager
    def server(self) -> Iterator[str]:
        """A running server for the length of a with block."""
        server = self.start_server()
        try:
            yield self.base
        finally:
            server.stop()

    def token(self, cluster: str | None = None) -> str:
        """A new device token for XA-A, bound to a cluster or station-wide."""
        with session_scope(self.engine, write=True) as session:
            station = get_station(session, code=STATION)
            cluster_id = None
            if cluster:
                cluster_id = session.exec(
                    select(Cluster.id).where(
                        Cluster.station_id == station.id, Cluster.code == cluster
                    )
                ).one()
            _, token = create_device_token(
                session,
                station_id=station.id,
                cluster_id=cluster_id,
                name=f"agent {cluster or '*'}",
                created_by="test",
            )
        return token

    def book(self, *bookings: dict[str, Any]) -> list[int]:
        """Book normal airtime, then make the day's playlists once (they freeze at once)."""
        ids = []
        today = local_now().date()
        with session_scope(self.engine, write=True) as session:
            station = get_station(session, code=STATION)
            for spec in bookings:
                booking = Booking(station_id=station.id, created_by="test", **spec)
                create_booking(session, booking=booking, base_url=self.base, today=today)
                ids.append(booking.id)
            regenerate(session, station_ids={station.id}, today=today, base_url=self.base, days=2)
        return ids

    def set_fallback(self, url: str, title: str) -> None:
        """The station's fallback relay (the next `book` puts it in the playlists)."""
        with session_scope(self.engine, write=True) as session:
            station = get_station(session, code=STATION)
            fallback = {"kind": "relay", "url": url, "title": title}
            update_station(session, station=station, changes={"fallback": fallback})

    def open_windows_at(self, when: datetime) -> None:
        """Let the station's only window begin at `when` (HH:MM), so entries booked without
        a time are placed one after another from there."""
        with session_scope(self.engine, write=True) as session:
            station = get_station(session, code=STATION)
            window = {"days": list(range(7)), "start": f"{when:%H:%M}", "end": "23:59"}
            update_station(session, station=station, changes={"windows": [window]})

    def playlist(self, day: date | None = None) -> dict[str, Any]:
        """The station's playlist of a day (today by default), as the server serves it."""
        day = day or local_now().date()
        response = httpx.get(
            f"{self.base}/api/v1/stations/{STATION}/playlists/{day.isoformat()}",
            headers=self.operator,
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def airings(self) -> list[dict[str, Any]]:
        """The station's airing log, as the server lists it."""
        response = httpx.get(
            f"{self.base}/api/v1/stations/{STATION}/airings",
            headers=self.operator,
            params={"limit": 1000},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()


def item_at(item_id: int, when: datetime, title: str, **extra: Any) -> dict[str, Any]:
    """A one-off booking of the item at a local time."""
    return {
        "source": "item",
        "item_id": item_id,
        "title": title,
        "at": f"{when:%H:%M}",
        "recurrence": {"freq": "once", "start": when.date().isoformat()},
        **extra,
    }


def relay_at(
    when: datetime | None, seconds: float, title: str, url: str = "http://vov.example/vov1"
) -> dict[str, Any]:
    """A one-off relay of a stream at a local time, or next in the window."""
    day = (when or local_now()).date()
    return {
        "source": "relay",
        "relay_url": url,
        "duration_s": seconds,
        "title": title,
        "at": f"{when:%H:%M}" if when else None,
        "recurrence": {"freq": "once", "start": day.isoformat()},
    }


@pytest.fixture
def commune(engine, settings, newsroom, database_url) -> Commune:
    clear_of_midnight()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with session_scope(engine, write=True) as session:
        station = get_station(session, code=STATION)
        update_station(session, station=station, changes={"windows": ALL_DAY})
        for code in ("BAN-A", "BAN-B"):
            add_cluster(session, station=station, code=code, name=f"Cụm loa {code}", zone_tags=[])
    # A short bulletin keeps the scenarios short.
    item_id = approved_item(engine, title="Thông báo ngắn", body=SHORT_BULLETIN)
    with session_scope(engine, write=True) as session:
        job_id = enqueue_approved(session, item_ids=[item_id], created_by="test")[0].id
    process_queue(engine, store=newsroom.store, worker="test")
    with session_scope(engine) as session:
        job = session.get(RenderJob, job_id)
        assert job.status == JobStatus.done, job.error
        asset = session.get(AudioAsset, job.asset_sha256)
    env = cli_env(database_url=database_url, data_dir=settings.data_dir, public_base_url=base)
    return Commune(
        engine=engine,
        env=env,
        port=port,
        planner=newsroom.planner,
        operator=newsroom.operator,
        item_id=item_id,
        sha256=asset.sha256,
        duration_s=asset.duration_s,
    )


class Agent:
    """A running `truyenthanh agent` with the file output, and what it wrote."""

    def __init__(self, process: subprocess.Popen, cache: Path, out: Path, log: Path) -> None:
        self.process = process
        self.cache = cache
        self.out = out
        self.log_path = log

    def log(self) -> str:
        """Everything the agent printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def played(self) -> list[dict[str, Any]]:
        """The notes the file output wrote, in the order things started."""
        notes = []
        for path in sorted(self.out.glob("*.json")):
            try:
                notes.append(json.loads(path.read_text("utf-8")))
            except ValueError:
                continue  # being replaced right now
        return notes

    def finished(self, entry_id: str) -> dict[str, Any] | None:
        """The note of an entry once it has stopped playing."""
        for note in self.played():
            if note["entry_id"] == entry_id and note["ended_at"]:
                return note
        return None

    def crash(self) -> None:
        """SIGKILL the agent and the players it started, as a power cut or the OOM killer
        (with systemd, its whole control group) would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> int:
        """SIGTERM, and the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"agent did not stop on SIGTERM:\n{self.log()}") from None
        return self.process.returncode


def agent_env() -> dict[str, str]:
    """The test's environment without any TRUYENTHANH_* setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TRUYENTHANH_")}


@contextmanager
def running_agent(server: str, token: str, folder: Path, *extra: str) -> Iterator[Agent]:
    """Start an agent with quick intervals and the file output; stop it with SIGTERM."""
    folder.mkdir(parents=True, exist_ok=True)
    cache, out, log = folder / "cache", folder / "out", folder / "agent.log"
    args = [
        CLI,
        "agent",
        "--server",
        server,
        "--token",
        token,
        "--cache",
        str(cache),
        "--output",
        f"file:{out}",
        "--days",
        "1",
        "--sync-interval",
        "1",
        "--heartbeat-interval",
        "1",
        "--events-poll",
        "0.5",
        *extra,
    ]
    with log.open("w") as sink:
        process = subprocess.Popen(
            args, env=agent_env(), stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    agent = Agent(process, cache, out, log)
    try:
        yield agent
    finally:
        agent.stop()


@pytest.fixture
def radios(tmp_path) -> Iterator[Callable[[int], Radio]]:
    """Live MP3 streams on loopback, one tone each, closed after the test."""
    made: list[Radio] = []

    def radio(tone_hz: int) -> Radio:
        made.append(Radio(tmp_path / "radio", tone_hz=tone_hz))
        return made[-1]

    yield radio
    for radio in made:
        radio.close()


def run_once(server: str, token: str, cache: Path) -> dict[str, Any]:
    """`truyenthanh agent --once --json`, and what it printed."""
    result = subprocess.run(
        [
            CLI,
            "agent",
            "--server",
            server,
            "--token",
            token,
            "--cache",
            str(cache),
            "--output",
            "null",
            "--days",
            "1",
            "--once",
            "--json",
        ],
        env=agent_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def today() -> date:
    """The station's date."""
    return local_now().date()
