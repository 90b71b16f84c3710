"""A merge through the real command line and a real server: devices of the merged commune
carry on, and a merge SIGKILLed half-way leaves the old state whole.

On PostgreSQL the test holds one account row of the source locked, so the kill comes
while the merge waits to move the accounts, its last step: clusters, bookings, devices
and playlists already moved inside the open transaction. On SQLite one writer holds the
database's lock for the whole merge; the kill comes half-way through that span, measured
on a copy of the same database in the same run.
"""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, text

from tests.faults.world import Server, local_today
from tests.processes import CLI, cli_env, free_port, run_cli
from tests.scheduler.merge_world import (
    PASSWORD,
    SOURCE,
    TARGET,
    aired,
    build_merge_world,
    snapshot,
)

BASE_URL = "http://127.0.0.1:8000"
BIG = 400  # clusters and bookings more at the source: a merge that takes a while


def test_a_device_of_the_merged_commune_pulls_and_reports_after_the_merge(
    tmp_path, engine, database_url, servers
) -> None:
    world = build_merge_world(engine, base_url=BASE_URL)
    env = cli_env(database_url=database_url, data_dir=tmp_path / "data")
    server = Server(env, free_port())
    servers.append(server)
    device = {"Authorization": f"Bearer {world.tokens['nguon-ban-a']}"}
    today, yesterday = local_today(), local_today() - timedelta(days=1)
    pull = f"{server.base}/api/v1/stations/{SOURCE}/playlists"
    held = httpx.get(f"{pull}/{today}", headers=device)
    assert held.status_code == 200, held.text

    merged = run_cli("stations", "merge", SOURCE, TARGET, "--json", env=env)
    assert merged.returncode == 0, merged.stderr
    effective = date.fromisoformat(json.loads(merged.stdout)["effective_day"])

    me = httpx.get(f"{server.base}/api/v1/devices/me", headers=device).json()
    assert me["station"] == TARGET and me["cluster"] == "BAN-A", me
    if today < effective:  # the day it holds was frozen: not rewritten, not even its ETag
        again = httpx.get(
            f"{pull}/{today}", headers={**device, "If-None-Match": held.headers["ETag"]}
        )
        assert again.status_code == 304, again.text
    coming = httpx.get(f"{pull}/{effective + timedelta(days=1)}", headers=device)
    assert coming.status_code == 200, coming.text
    assert coming.json()["station"] == TARGET
    assert [e["start"][11:16] for e in coming.json()["entries"]] == [
        "05:30",
        "06:00",
        "11:00",
        "20:00",
    ], "its own bookings followed it, and the target's station-wide relay reaches it"
    # Reports of a day it played before the merge land in the source's log, by the old code
    # and by the new one alike.
    old_day = httpx.get(f"{pull}/{yesterday}", headers=device).json()
    assert old_day["station"] == SOURCE
    for n, code in enumerate((SOURCE, TARGET)):
        entry = old_day["entries"][n]
        answer = httpx.post(
            f"{server.base}/api/v1/stations/{code}/airings",
            json={"records": [aired(entry, "BAN-A", tag=f"sau{n}").model_dump(mode="json")]},
            headers=device,
        )
        assert answer.status_code == 200 and len(answer.json()["accepted"]) == 1, answer.text
    beat = httpx.post(
        f"{server.base}/api/v1/stations/{SOURCE}/heartbeats",
        json={"volume": 70, "cache_fill": 1.0},
        headers=device,
    )
    assert beat.status_code < 300, beat.text
    token = httpx.post(
        f"{server.base}/api/v1/auth/token", data={"username": "quantri", "password": PASSWORD}
    ).json()["access_token"]
    log = httpx.get(
        f"{server.base}/api/v1/stations/{SOURCE}/airings",
        params={"day_from": str(yesterday), "cluster": "BAN-A"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert {r["id"] for r in log} >= {f"rsau0-BAN-A-{old_day['entries'][0]['id']}"[:64]}
    verified = run_cli("airings", "verify", "--json", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    stations = {s["station"]: s for s in json.loads(verified.stdout)["stations"]}
    assert stations[SOURCE]["ok"] and stations[SOURCE]["records"] > 0


def _merge(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [CLI, "stations", "merge", SOURCE, TARGET, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _locked(path: Path) -> bool:
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def _held_span(path: Path, process: subprocess.Popen) -> tuple[float, float]:
    """When the merge took the write lock, and when it let it go."""
    while not _locked(path):
        assert process.poll() is None, process.stdout.read().decode()
        time.sleep(0.002)
    taken = time.monotonic()
    while _locked(path) and process.poll() is None:
        time.sleep(0.002)
    return taken, time.monotonic()


def _kill_sqlite(engine: Engine, database_url: str, env: dict[str, str], tmp_path: Path) -> None:
    path = _sqlite_path(database_url)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(path, copy)
    rehearsal = _merge({**env, "TRUYENTHANH_DATABASE_URL": f"sqlite:///{copy}"})
    taken, released = _held_span(copy, rehearsal)
    assert rehearsal.wait() == 0, rehearsal.stdout.read().decode()
    rehearsal.stdout.close()
    process = _merge(env)
    try:
        while not _locked(path):
            assert process.poll() is None, process.stdout.read().decode()
            time.sleep(0.002)
        time.sleep((released - taken) / 2)
        assert process.poll() is None, "the merge finished before the kill"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def _kill_postgresql(engine: Engine, env: dict[str, str]) -> None:
    holder = engine.connect()
    holder.execute(text("SELECT id FROM \"user\" WHERE username = 'vh_nguon' FOR UPDATE")).one()
    process = _merge(env)
    try:
        deadline = time.monotonic() + 120
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
            while not watcher.execute(
                text(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE 'UPDATE \"user\"%'"
                )
            ).first():
                assert process.poll() is None and time.monotonic() < deadline, "never blocked"
                time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        holder.rollback()
        holder.close()
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def test_a_killed_merge_leaves_the_old_state_whole(tmp_path, engine, database_url) -> None:
    build_merge_world(engine, base_url=BASE_URL, big_source=BIG)
    env = cli_env(database_url=database_url, data_dir=tmp_path / "data")
    before = snapshot(engine)
    if engine.dialect.name == "postgresql":
        _kill_postgresql(engine, env)
    else:
        _kill_sqlite(engine, database_url, env, tmp_path)
    assert snapshot(engine) == before, "nothing of the killed merge remains"

    done = run_cli("stations", "merge", SOURCE, TARGET, "--json", env=env)
    assert done.returncode == 0, done.stderr
    after = snapshot(engine)
    assert after != before and len(after["station_merge"]) == 1, "the merge runs again whole"
