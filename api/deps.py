"""FastAPI dependencies shared by the routes."""

from collections.abc import Iterator
from typing import Annotated, Protocol

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from audio.store import MediaStore
from core.identity import UsageLog, authenticate
from core.models import User
from core.settings import Settings

# The plain attribute reads here are async: a sync dependency costs every request a
# hop to the thread pool and back.


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


async def get_engine(request: Request) -> Engine:
    """The app's database engine."""
    return request.app.state.engine


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(
    request: Request, engine: Annotated[Engine, Depends(get_engine)]
) -> Iterator[Session]:
    """A session per request; routes commit what they write.

    A request that may write takes SQLite's write lock when it starts: reading first
    and writing later fails at once if another process wrote in between.
    """
    with Session(engine, expire_on_commit=False) as session:
        if request.method not in SAFE_METHODS:
            session.connection(execution_options={"sqlite_immediate": True})
        yield session


async def get_store(request: Request) -> MediaStore:
    """The content-addressed media store."""
    return request.app.state.store


async def get_usage(request: Request) -> UsageLog:
    """Where this process keeps device tokens' last uses until they are written."""
    return request.app.state.device_usage


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[MediaStore, Depends(get_store)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
UsageDep = Annotated[UsageLog, Depends(get_usage)]


class Credentials(Protocol):
    """A username and password as a login form sent them."""

    username: str
    password: str


def log_in(session: Session, settings: Settings, request: Request, form: Credentials) -> User:
    """The user the form's username and password name; failures are throttled by
    username and by the caller's address."""
    client = request.client.host if request.client else "unknown"
    return authenticate(
        session, settings=settings, username=form.username, password=form.password, client=client
    )
