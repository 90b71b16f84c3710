"""The single scheduler process: APScheduler with explicit zone, coalescing and grace.

Every run first takes the database lease, so when two scheduler processes run by
mistake only one of them does the work. Daily jobs live in a persistent job store, so
a run missed while the process was down still happens (within its grace time).
"""

import logging
import os
import socket
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from audio.service import process_queue
from audio.store import MediaStore
from core.clock import utcnow
from core.db import create_db_engine, session_scope
from core.locks import acquire_lease, release_lease
from core.settings import Settings, load_settings
from scheduler.airings import flag_missed
from scheduler.models import Playlist, Station
from scheduler.playlists import (
    BATCH_STATIONS,
    freeze_time,
    generate_playlist,
    generate_stations,
)
from scheduler.retention import purge_expired

log = logging.getLogger(__name__)

LEASE = "scheduler"
# The leader renews its lease every few seconds, whatever job runs, so a leader that
# died is replaced within a minute; one that stops cleanly hands over at once.
LEASE_TTL = timedelta(seconds=60)
KEEP_LEASE_EVERY = timedelta(seconds=5)
RENDER_EVERY = timedelta(seconds=10)
RENDER_BATCH = 20
DAYS_AHEAD = 7


def holder_name() -> str:
    """Who this process is, as the lease records it."""
    return f"{socket.gethostname()}:{os.getpid()}"


@cache
def _runtime(database_url: str | None) -> tuple[Settings, Engine]:
    # Persistent jobs are stored pickled, so they carry no engine (and no password):
    # the process reads its settings from the environment.
    settings = load_settings(database_url=database_url) if database_url else load_settings()
    return settings, create_db_engine(settings.database)


def _leads(engine: Engine) -> bool:
    return acquire_lease(engine, name=LEASE, holder=holder_name(), ttl=LEASE_TTL)


def keep_lease(*, engine: Engine) -> bool:
    """Renew the lease if this process leads, or take it if it has lapsed."""
    return _leads(engine)


def give_up_lease(engine: Engine) -> None:
    """Hand the lease over on a clean stop: another scheduler takes it at its next try."""
    try:
        release_lease(engine, name=LEASE, holder=holder_name())
    except OperationalError:  # the database is away or busy: the lease runs out instead
        log.warning("could not give the scheduler lease up; it lapses in %s", LEASE_TTL)


def render_queue(*, engine: Engine, store: MediaStore) -> int:
    """Render due jobs if this process leads; return how many ran."""
    if not _leads(engine):
        return 0
    count = process_queue(engine, store=store, worker=holder_name(), limit=RENDER_BATCH)
    if count:
        log.info("rendered %s job(s)", count)
    return count


def generate_ahead(database_url: str | None = None, days: int = DAYS_AHEAD) -> int:
    """Refresh every station's playlists from its local today for `days` days."""
    settings, engine = _runtime(database_url)
    if not _leads(engine):
        return 0
    with session_scope(engine) as session:
        station_ids = list(session.exec(select(Station.id).order_by(Station.id)))
    count = 0
    for first in range(0, len(station_ids), BATCH_STATIONS):
        # One short transaction per batch: the lock is never held for the whole country.
        with session_scope(engine, write=True) as session:
            count += generate_stations(
                session,
                station_ids=station_ids[first : first + BATCH_STATIONS],
                days_ahead=days,
                base_url=settings.public_base_url,
            )
    log.info("generated %s playlist(s)", count)
    return count


def freeze_due(database_url: str | None = None) -> int:
    """Freeze the playlists whose first session is within the station's lead time."""
    settings, engine = _runtime(database_url)
    if not _leads(engine):
        return 0
    now, count = utcnow(), 0
    with session_scope(engine) as session:
        open_days = session.exec(
            select(Playlist.station_id, Playlist.day).where(
                Playlist.frozen_at.is_(None),  # type: ignore[union-attr]
                Playlist.day <= (now + timedelta(days=2)).date(),
            )
        ).all()
    for station_id, day in open_days:
        with session_scope(engine, write=True) as session:
            station = session.get(Station, station_id)
            due = freeze_time(station, day)
            if due is not None and due <= now:
                generate_playlist(
                    session, station=station, day=day, base_url=settings.public_base_url, now=now
                )
                count += 1
    return count


def flag_missed_airings(database_url: str | None = None) -> int:
    """Flag scheduled entries that nobody reported some minutes after they ended."""
    _, engine = _runtime(database_url)
    if not _leads(engine):
        return 0
    with session_scope(engine, write=True) as session:
        count = flag_missed(session)
    if count:
        log.warning("%s buổi phát không có báo cáo phát sóng", count)
    return count


def purge_retention(database_url: str | None = None) -> int:
    """Apply each province's retention policy to airing logs and recordings."""
    settings, engine = _runtime(database_url)
    if not _leads(engine):
        return 0
    report = purge_expired(engine, key=settings.signing_key, store=MediaStore(settings.media_path))
    for station in report.stations:
        if station.refused:
            log.error("không xoá nhật ký của đài %s: %s", station.station, station.refused)
    return report.records


def build_scheduler(*, settings: Settings, engine: Engine) -> BackgroundScheduler:
    """Create the scheduler that owns every timed job of the system."""
    zone = ZoneInfo(settings.timezone)
    scheduler = BackgroundScheduler(
        timezone=zone,
        jobstores={"default": MemoryJobStore(), "persistent": SQLAlchemyJobStore(engine=engine)},
        job_defaults={"coalesce": True, "misfire_grace_time": 300, "max_instances": 1},
    )
    now: datetime = utcnow()
    scheduler.add_job(
        keep_lease,
        "interval",
        seconds=KEEP_LEASE_EVERY.total_seconds(),
        id="keep-lease",
        name="Keep or take the scheduler lease",
        next_run_time=now,
        replace_existing=True,
        kwargs={"engine": engine},
    )
    scheduler.add_job(
        render_queue,
        "interval",
        seconds=RENDER_EVERY.total_seconds(),
        id="render-queue",
        name="Render queued audio",
        next_run_time=now,
        replace_existing=True,
        kwargs={"engine": engine, "store": MediaStore(settings.media_path)},
    )
    scheduler.add_job(
        generate_ahead,
        "cron",
        hour=1,
        minute=0,
        timezone=zone,
        id="generate-playlists",
        name="Generate playlists days ahead",
        jobstore="persistent",
        replace_existing=True,
        misfire_grace_time=6 * 3600,
    )
    scheduler.add_job(
        freeze_due,
        "interval",
        minutes=5,
        id="freeze-playlists",
        name="Freeze playlists",
        jobstore="persistent",
        replace_existing=True,
        next_run_time=now,
    )
    scheduler.add_job(
        flag_missed_airings,
        "interval",
        minutes=5,
        id="flag-missed-airings",
        name="Flag missed airings",
        jobstore="persistent",
        replace_existing=True,
        next_run_time=now,
    )
    scheduler.add_job(
        purge_retention,
        "cron",
        hour=2,
        minute=30,
        timezone=zone,
        id="purge-retention",
        name="Purge airing logs and recordings past the retention policy",
        jobstore="persistent",
        replace_existing=True,
        misfire_grace_time=12 * 3600,
    )
    return scheduler
