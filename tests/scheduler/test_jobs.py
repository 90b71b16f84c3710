"""The timed jobs: playlists generated days ahead, frozen before air, stored jobs in the process."""

import signal
import subprocess
import time
from datetime import timedelta

from sqlalchemy import text
from sqlmodel import select

from core.clock import utcnow
from core.db import session_scope
from scheduler.jobs import DAYS_AHEAD, freeze_due, generate_ahead
from scheduler.models import Playlist, Station
from scheduler.playlists import freeze_time
from tests.processes import CLI, cli_env

WINDOWS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"}]


def _windows(engine, lead_minutes: int) -> None:
    with session_scope(engine) as session:
        for station in session.exec(select(Station)):
            station.windows, station.freeze_lead_minutes = WINDOWS, lead_minutes


def test_generation_covers_every_station_for_the_days_ahead(engine, newsroom, database_url) -> None:
    _windows(engine, lead_minutes=120)
    assert generate_ahead(database_url) == 3 * DAYS_AHEAD
    with session_scope(engine) as session:
        playlists = session.exec(select(Playlist)).all()
        assert len(playlists) == 3 * DAYS_AHEAD
        # Nothing changed, so a second run leaves every version where it was.
    generate_ahead(database_url)
    with session_scope(engine) as session:
        assert {p.version for p in session.exec(select(Playlist))} == {1}


def test_freezing_happens_once_the_lead_time_is_reached(engine, newsroom, database_url) -> None:
    _windows(engine, lead_minutes=0)
    generate_ahead(database_url, days=2)
    before = utcnow()
    freeze_due(database_url)  # generation already froze what was due when it ran
    with session_scope(engine) as session:
        stations = {s.id: s for s in session.exec(select(Station))}
        playlists = session.exec(select(Playlist)).all()
        due = [p for p in playlists if freeze_time(stations[p.station_id], p.day) <= before]
        assert all((p.frozen_at is not None) == (p in due) for p in playlists)
        station = next(s for s in stations.values() if s.code == "XA-A")
        station.freeze_lead_minutes = 3 * 24 * 60  # everything within three days is due
        open_here = sum(1 for p in playlists if p.station_id == station.id and p not in due)
    assert freeze_due(database_url) == open_here
    with session_scope(engine) as session:
        mine = session.exec(select(Playlist).where(Playlist.station_id == station.id)).all()
        assert all(p.frozen_at is not None for p in mine)
    assert freeze_due(database_url) == 0, "frozen playlists are not frozen again"


def test_the_process_keeps_its_daily_jobs_in_the_database(
    engine, newsroom, database_url, settings
) -> None:
    env = cli_env(database_url=database_url, data_dir=settings.data_dir)
    process = subprocess.Popen(
        [CLI, "scheduler"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert "Bộ lập lịch đang chạy" in process.stdout.readline()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                rows = dict(
                    connection.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all()
                )
            if {"generate-playlists", "freeze-playlists"} <= set(rows):
                break
            time.sleep(0.2)
        assert {"generate-playlists", "freeze-playlists"} <= set(rows)
        next_generation = rows["generate-playlists"]
        soon = (utcnow() + timedelta(days=1, hours=1)).timestamp()
        assert utcnow().timestamp() < next_generation <= soon
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=40)
    assert process.returncode == 0
