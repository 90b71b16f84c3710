"""Database engines and sessions for SQLite (embedded default) and PostgreSQL."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

import core.audit  # noqa: F401 - installs the audit hook on every session
from core.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 10_000
POOL_SIZE = 10
MAX_OVERFLOW = 10
POOL_CAPACITY = POOL_SIZE + MAX_OVERFLOW  # connections one process may hold at once
# Without it a database host that swallows packets keeps every request waiting for ever;
# a database that answers at all does so in milliseconds.
PG_CONNECT_TIMEOUT_S = 5


def dialect_insert(dialect: str, model: Any) -> Any:
    """An INSERT that can say ON CONFLICT, in the words of the database in use."""
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(model)


def create_db_engine(url: URL) -> Engine:
    """Create an engine with the connection settings each backend needs."""
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    # A connect_timeout written in the URL is the operator's choice and stays.
    connect_args = (
        {} if "connect_timeout" in url.query else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    )
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        connect_args=connect_args,
    )


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Asking is free; setting it wants a lock, which a process opening the database
        # beside a busy one could wait for, or be refused.
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred transaction that reads and then writes fails at once with
        # SQLITE_BUSY when another writer got in between; writers ask for the
        # lock up front instead and wait their turn under busy_timeout.
        if connection.get_execution_options().get("sqlite_immediate"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on error.

    `write=True` takes SQLite's write lock at the start of the transaction.
    """
    with Session(engine, expire_on_commit=False) as session:
        if write:
            session.connection(execution_options={"sqlite_immediate": True})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def check_connection(engine: Engine) -> None:
    """Open a connection and run a trivial query, or raise ConfigError naming the database."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        where = engine.url.render_as_string(hide_password=True)
        raise ConfigError(f"Không kết nối được cơ sở dữ liệu {where}: {reason}.") from None
