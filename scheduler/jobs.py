"""The single scheduler process: APScheduler with explicit zone, coalescing and grace."""

import logging
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from core.settings import Settings

log = logging.getLogger(__name__)


def build_scheduler(*, settings: Settings, engine: Engine) -> BackgroundScheduler:
    """Create the scheduler that owns every timed job of the system."""
    scheduler = BackgroundScheduler(
        timezone=ZoneInfo(settings.timezone),
        job_defaults={"coalesce": True, "misfire_grace_time": 300, "max_instances": 1},
    )
    # Jobs (playlist generation, freezing, missed-airing checks, the render queue)
    # are added here by the packages that own them; `engine` is what they will use.
    scheduler._truyenthanh_engine = engine  # type: ignore[attr-defined]
    return scheduler
