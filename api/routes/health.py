"""Liveness and readiness of the service."""

import logging
from importlib.metadata import version

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import EngineDep
from api.problems import RETRY_AFTER_S
from core.db import check_connection
from core.errors import ConfigError, UnavailableError
from core.migrations import current_revision, head_revision

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


class Migration(BaseModel):
    """Where the database schema stands against the code."""

    current: str | None
    head: str
    up_to_date: bool


class Health(BaseModel):
    """The service's answer when everything it needs is reachable."""

    status: str
    version: str
    database: str
    backend: str
    migration: Migration


@router.get("/health", summary="Database reachable, schema, version")
def health(engine: EngineDep) -> Health:
    """Report whether the database answers and its schema matches the code."""
    try:
        check_connection(engine)
    except ConfigError as exc:
        # The reason names the database's host and user: it goes to the log, not to
        # whoever asks an unauthenticated health check.
        log.warning("health check: %s", exc)
        raise UnavailableError(
            "Không kết nối được cơ sở dữ liệu; dịch vụ tự hoạt động lại khi kết nối được.",
            errors=[{"component": "database", "status": "down"}],
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from None
    current = current_revision(engine)
    head = head_revision()
    return Health(
        status="ok" if current == head else "degraded",
        version=version("truyenthanh"),
        database="ok",
        backend=engine.dialect.name,
        migration=Migration(current=current, head=head, up_to_date=current == head),
    )
