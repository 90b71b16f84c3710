"""The one place that reads the wall clock, so every timestamp is aware and in UTC."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """Return the current instant as an aware UTC datetime."""
    return datetime.now(UTC)


def local_today(zone: str) -> date:
    """Return today's date on the wall clocks of a time zone."""
    return utcnow().astimezone(ZoneInfo(zone)).date()
