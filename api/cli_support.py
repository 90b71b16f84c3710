"""What every `truyenthanh` command shares: opening the database, stopping with one
sentence, printing for people or for scripts."""

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from core.audit import Actor, act_as
from core.db import check_connection, create_db_engine, session_scope
from core.errors import ConfigError, ProblemError
from core.migrations import require_current, upgrade
from core.settings import Settings, load_settings, prepare_directories
from scheduler.models import Station
from scheduler.service import get_station

JsonOption = Annotated[bool, typer.Option("--json", help="In kết quả dạng JSON cho script.")]


@contextmanager
def stops_cleanly() -> Iterator[None]:
    """Turn a configuration or input problem into one sentence on stderr and exit status 2."""
    try:
        yield
    except ConfigError as exc:
        typer.echo(f"Lỗi: {exc}", err=True)
        raise typer.Exit(2) from None
    except ProblemError as exc:
        typer.echo(f"Lỗi: {exc.detail}", err=True)
        raise typer.Exit(2) from None


def cli_actor() -> Actor:
    return Actor(kind="system", id=None, name=f"cli:{getpass.getuser()}")


@contextmanager
def database(*, write: bool = False) -> Iterator[Session]:
    """A session on the configured database; what it writes is signed by the CLI's user."""
    _, engine = open_database(migrate=False)
    try:
        with session_scope(engine, write=write) as session:
            if write:
                act_as(session, cli_actor())
            yield session
    finally:
        engine.dispose()


def open_database(*, migrate: bool) -> tuple[Settings, Engine]:
    settings = load_settings()
    prepare_directories(settings)
    engine = create_db_engine(settings.database)
    check_connection(engine)
    if migrate:
        upgrade(engine)
    else:
        require_current(engine)
    return settings, engine


def database_where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def print_result(data: dict[str, Any], *, as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
    else:
        for line in lines:
            typer.echo(line)


def chosen_stations(
    session: Session, *, codes: list[str] | None, provinces_only: bool
) -> list[Station]:
    """The stations named on the command line, or every (top-level) station when none is."""
    if codes:
        return [get_station(session, code=code) for code in codes]
    query = select(Station).order_by(Station.code)
    if provinces_only:
        query = query.where(col(Station.parent_id).is_(None))
    return list(session.exec(query))
