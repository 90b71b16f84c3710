"""A province of communes that relay programmes, and real server processes, for fault tests."""

import subprocess
import tempfile
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine, insert
from sqlmodel import select

from core.clock import utcnow
from core.db import session_scope
from core.identity import create_device_token
from scheduler.models import Booking, Cluster, Station, StationKind
from scheduler.playlists import generate_stations
from tests.processes import CLI

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
ALL_DAY = [{"days": list(range(7)), "start": "05:00", "end": "21:00"}]
RELAY_TIMES = ("05:30", "11:00", "17:00", "20:00")


def local_today() -> date:
    """Today on the stations' clock."""
    return utcnow().astimezone(ZONE).date()


def build_communes(
    engine: Engine, *, communes: int, clusters: int, past_days: int, base_url: str
) -> None:
    """A province with communes XA-0000… that relay four programmes a day.

    Playlists are made for the `past_days` days before today, so airings can be reported.
    """
    today = local_today()
    with session_scope(engine, write=True) as session:
        province = Station(code="TINH-T", name="Tỉnh thử", kind=StationKind.province)
        session.add(province)
        session.flush()
        codes = [f"XA-{n:04d}" for n in range(communes)]
        session.add_all(
            Station(
                code=code,
                name=f"Xã {code}",
                kind=StationKind.commune,
                parent_id=province.id,
                windows=ALL_DAY,
            )
            for code in codes
        )
        session.flush()
        ids = list(session.exec(select(Station.id).where(Station.kind == StationKind.commune)))
        if clusters:
            session.execute(
                insert(Cluster),
                [
                    {"station_id": sid, "code": f"CUM-{k}", "name": f"Cụm {k}", "zone_tags": []}
                    for sid in ids
                    for k in range(clusters)
                ],
            )
        # Rows straight in, as a bulk import would: booking checks are tested elsewhere.
        session.execute(
            insert(Booking),
            [
                relay(sid, at, start=today - timedelta(days=past_days + 1))
                for sid in ids
                for at in RELAY_TIMES
            ],
        )
        days = [today - timedelta(days=back) for back in range(past_days, 0, -1)]
        if days:
            generate_stations(session, station_ids=ids, days=days, base_url=base_url)


def relay(station_id: int, at: str, *, start: date, **extra: object) -> dict:
    """A daily ten-minute relay booking row."""
    return {
        "station_id": station_id,
        "source": "relay",
        "relay_url": "http://vov.example/vov1",
        "title": f"Tiếp sóng VOV1 lúc {at}",
        "duration_s": 600.0,
        "at": at,
        "recurrence": {"freq": "daily", "start": start.isoformat()},
        "clusters": [],
        "zones": [],
        "created_by": "test",
        **extra,
    }


def device_token(engine: Engine, *, station: str) -> dict[str, str]:
    """Bearer headers of a new station-wide device token."""
    with session_scope(engine, write=True) as session:
        station_id = session.exec(select(Station.id).where(Station.code == station)).one()
        _, token = create_device_token(
            session, station_id=station_id, cluster_id=None, name="máy xã", created_by="test"
        )
    return {"Authorization": f"Bearer {token}"}


def record(entry: dict, cluster: str, n: int) -> dict:
    """An airing report of an entry on a cluster, a few seconds late."""
    start = datetime.fromisoformat(entry["start"]) + timedelta(seconds=2 + n % 7)
    return {
        "id": f"rec-{cluster}-{entry['id']}",
        "entry_id": entry["id"],
        "cluster": cluster,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(seconds=598)).isoformat(),
        "status": "aired",
    }


class Server:
    """A real `truyenthanh serve` process on loopback that a test may kill."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.output = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop)
        self.process = subprocess.Popen(
            [CLI, "serve", "--port", str(port)],
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while not self._healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.log()
                self.stop()
                raise AssertionError(f"the server did not start:\n{log}")
            time.sleep(0.05)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base}/api/v1/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        """Everything the server printed so far."""
        self.output.seek(0)
        return self.output.read().decode(errors="replace")

    def stop(self) -> None:
        """Stop the server if it still runs (a second call does nothing)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()
