"""The nightly generation SIGKILLed half-way: every playlist is the old or the new one, whole.

The scheduler's job (`scheduler.jobs.generate_ahead`) runs in a process of its own with
small batches, so a few hundred stations make several transactions. Both backends: the
kill lands inside a transaction, and undoing it is each database's own machinery.
On PostgreSQL the test holds one row of a later batch locked, so the kill comes while
that batch's UPDATE has already rewritten part of its rows; on SQLite it comes as soon as
the first batch is committed, while the next holds the write lock.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, text
from sqlmodel import Session, func, select

from core.db import session_scope
from scheduler.models import Booking, Playlist, Station
from scheduler.playlists import generate_stations
from tests.faults.world import build_communes, local_today, relay
from tests.processes import cli_env

COMMUNES = 160
BATCH = 5
DAYS = 7
BASE_URL = "http://127.0.0.1:8000"
ROOT = Path(__file__).resolve().parents[2]
GENERATE = (
    "import sys\n"
    "import scheduler.jobs as jobs\n"
    "jobs.BATCH_STATIONS = int(sys.argv[1])\n"
    "print(jobs.generate_ahead(sys.argv[2], days=int(sys.argv[3])))\n"
)


def _rows(engine: Engine) -> dict[tuple[int, object], tuple]:
    with Session(engine) as session:
        return {
            (p.station_id, p.day): (p.version, p.etag, p.body, p.gaps, p.frozen_at)
            for p in session.exec(select(Playlist))
        }


def _generate_all(engine: Engine) -> None:
    with session_scope(engine, write=True) as session:
        generate_stations(session, station_ids=None, days_ahead=DAYS, base_url=BASE_URL)


def _lock_a_row_of_the_third_batch(engine: Engine):
    """Hold one playlist row of the third batch locked, in a transaction left open."""
    with Session(engine) as session:
        ids = list(session.exec(select(Station.id).order_by(Station.id)))
    station_id = ids[2 * BATCH + BATCH // 2]
    connection = engine.connect()
    connection.execute(
        text("SELECT id FROM playlist WHERE station_id = :s AND day = :d FOR UPDATE"),
        {"s": station_id, "d": local_today() + timedelta(days=DAYS - 1)},
    ).one()
    return connection


def _highest_version(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.max(Playlist.version))).one()


def _kill_mid_write(engine: Engine, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    if engine.dialect.name == "postgresql":
        # Autocommit: the statistics views keep one snapshot for a whole transaction.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
            while not watcher.execute(
                text(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE 'UPDATE playlist%'"
                )
            ).first():
                assert process.poll() is None and time.monotonic() < deadline, "never blocked"
                time.sleep(0.01)
    else:
        while _highest_version(engine) < 2:
            assert process.poll() is None and time.monotonic() < deadline, "never committed"
            time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_a_killed_generation_leaves_each_playlist_old_or_new(
    tmp_path, engine, database_url
) -> None:
    build_communes(engine, communes=COMMUNES, clusters=0, past_days=0, base_url=BASE_URL)
    _generate_all(engine)
    old = _rows(engine)
    assert len(old) == (COMMUNES + 1) * DAYS
    # A province-wide relay at 06:00 from tomorrow changes every commune's coming days.
    with session_scope(engine, write=True) as session:
        province = session.exec(select(Station.id).where(Station.code == "TINH-T")).one()
        tomorrow = local_today() + timedelta(days=1)
        session.execute(insert(Booking), [relay(province, "06:00", start=tomorrow, subtree=True)])

    locked = _lock_a_row_of_the_third_batch(engine) if engine.dialect.name != "sqlite" else None
    env = cli_env(database_url=database_url, data_dir=tmp_path / "data", public_base_url=BASE_URL)
    process = subprocess.Popen(
        [sys.executable, "-c", GENERATE, str(BATCH), database_url, str(DAYS)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _kill_mid_write(engine, process)
    finally:
        if locked is not None:
            locked.rollback()
            locked.close()
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()
    after_kill = _rows(engine)

    _generate_all(engine)  # the next run finishes the job
    new = _rows(engine)
    assert after_kill.keys() == old.keys() == new.keys(), "every day of every station is there"
    changed = {key for key in old if new[key] != old[key]}
    assert len(changed) >= COMMUNES * (DAYS - 1), "the new relay reached the coming days"
    done = {key for key in changed if after_kill[key] == new[key]}
    assert 0 < len(done) < len(changed), "the kill came half-way"
    for key in changed - done:
        assert after_kill[key] == old[key], f"playlist {key} is neither old nor new"
    for key in old.keys() - changed:
        assert after_kill[key] == old[key]
    # Batches are whole stations: no station has some coming days new and others old.
    stations_done = {station for station, _ in done}
    assert not {station for station, _ in changed - done} & stations_done
    for key in changed:
        version, _, body, _, _ = new[key]
        assert version == old[key][0] + 1
        assert body["date"] == key[1].isoformat()
        added = [e for e in body["entries"] if e not in old[key][2]["entries"]]
        assert [e["start"][11:16] for e in added] == ["06:00"], "the day is whole, plus one"
