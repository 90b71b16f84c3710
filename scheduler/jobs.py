"""The single scheduler process: APScheduler with explicit zone, coalescing and grace.

Every tick first takes the database lease, so when two scheduler processes run by
mistake (or the dev server runs one inside itself) only one of them does the work.
"""

import logging
import os
import socket
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from audio.service import process_queue
from audio.store import MediaStore
from core.clock import utcnow
from core.locks import acquire_lease
from core.settings import Settings

log = logging.getLogger(__name__)

LEASE = "scheduler"
LEASE_TTL = timedelta(seconds=90)
RENDER_EVERY = timedelta(seconds=10)
RENDER_BATCH = 20


def holder_name() -> str:
    """Who this process is, as the lease records it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def render_queue(*, engine: Engine, store: MediaStore, holder: str) -> int:
    """Render due jobs if this process leads; return how many ran."""
    if not acquire_lease(engine, name=LEASE, holder=holder, ttl=LEASE_TTL):
        return 0
    count = process_queue(engine, store=store, worker=holder, limit=RENDER_BATCH)
    if count:
        log.info("rendered %s job(s)", count)
    return count


def build_scheduler(*, settings: Settings, engine: Engine) -> BackgroundScheduler:
    """Create the scheduler that owns every timed job of the system."""
    scheduler = BackgroundScheduler(
        timezone=ZoneInfo(settings.timezone),
        job_defaults={"coalesce": True, "misfire_grace_time": 300, "max_instances": 1},
    )
    now: datetime = utcnow()
    scheduler.add_job(
        render_queue,
        "interval",
        seconds=RENDER_EVERY.total_seconds(),
        id="render-queue",
        name="Render queued audio",
        next_run_time=now,
        replace_existing=True,
        kwargs={
            "engine": engine,
            "store": MediaStore(settings.media_path),
            "holder": holder_name(),
        },
    )
    return scheduler
