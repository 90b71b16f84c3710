"""Liveness and readiness of the service."""

from importlib.metadata import version

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import EngineDep
from core.db import check_connection
from core.errors import ConfigError, UnavailableError
from core.migrations import current_revision, head_revision

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


@router.get("/health", response_model=Health, summary="Database reachable, schema, version")
def health(engine: EngineDep) -> Health:
    """Report whether the database answers and its schema matches the code."""
    try:
        check_connection(engine)
    except ConfigError as exc:
        raise UnavailableError(str(exc)) from None
    current = current_revision(engine)
    head = head_revision()
    return Health(
        status="ok" if current == head else "degraded",
        version=version("truyenthanh"),
        database="ok",
        backend=engine.dialect.name,
        migration=Migration(current=current, head=head, up_to_date=current == head),
    )
