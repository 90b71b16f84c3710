"""Fixtures: a fresh, migrated database per test on SQLite and (when configured) PostgreSQL."""

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError

from api.app import create_app
from core.db import create_db_engine
from core.migrations import upgrade
from core.settings import Settings, parse_database_url

pytest_plugins = ["tests.newsroom"]

PG_URL = os.environ.get("TEST_DATABASE_URL", "")

if os.environ.get("CI") and not PG_URL:
    raise RuntimeError("CI must test PostgreSQL too: set TEST_DATABASE_URL (see .ci/run)")

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not PG_URL, reason="TEST_DATABASE_URL is not set"),
    ),
]


class Databases:
    """Hands out new databases, copied from a template migrated once per run."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._sqlite_template: Path | None = None
        self._pg_template: str | None = None
        self._pg_admin: Engine | None = None
        self._created: list[str] = []
        self._dropper = ThreadPoolExecutor(max_workers=1)
        self._dropping: list[Future[None]] = []

    def sqlite(self, *, migrated: bool) -> str:
        """Return the URL of a new SQLite file, migrated to head if asked."""
        path = self.workdir / f"{uuid.uuid4().hex}.sqlite"
        if migrated:
            shutil.copyfile(self._sqlite_head(), path)
        return f"sqlite:///{path}"

    def postgresql(self, *, migrated: bool) -> str:
        """Return the URL of a new PostgreSQL database, migrated to head if asked."""
        name = f"tt_{uuid.uuid4().hex[:16]}"
        template = f" TEMPLATE {self._pg_head()}" if migrated else ""
        with self._admin().connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}{template}"))
        self._created.append(name)
        return parse_database_url(PG_URL).set(database=name).render_as_string(False)

    def release(self, url: str) -> None:
        """Drop a test's PostgreSQL database in the background once the test is done with it.

        Dropping one forces a checkpoint: hundreds of them, left to the end of the run,
        took a quarter of a minute of waiting.
        """
        name = parse_database_url(url).database
        if name not in self._created:
            return
        self._created.remove(name)
        self._dropping.append(self._dropper.submit(self._drop_apart, name))

    def _drop_apart(self, name: str) -> None:
        with self._admin().connect() as connection:
            self._drop(connection, name)

    def close(self) -> None:
        """Drop every PostgreSQL database this run created."""
        self._dropper.shutdown(wait=True)
        for dropping in self._dropping:
            dropping.result()
        if self._pg_admin is None:
            return
        names = [*self._created, *([self._pg_template] if self._pg_template else [])]
        with self._pg_admin.connect() as connection:
            for name in names:
                self._drop(connection, name)
        self._pg_admin.dispose()

    @staticmethod
    def _drop(connection, name: str) -> None:
        # An autovacuum worker busy in a freshly written database cannot be ended by a
        # role without superuser rights: wait for it a little, then leave the database.
        for attempt in range(10):
            try:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                return
            except ProgrammingError:
                time.sleep(0.5 * (attempt + 1))

    def _sqlite_head(self) -> Path:
        if self._sqlite_template is None:
            path = self.workdir / "template.sqlite"
            engine = create_db_engine(parse_database_url(f"sqlite:///{path}"))
            upgrade(engine)
            engine.dispose()
            self._sqlite_template = path
        return self._sqlite_template

    def _admin(self) -> Engine:
        if self._pg_admin is None:
            self._pg_admin = create_engine(parse_database_url(PG_URL), isolation_level="AUTOCOMMIT")
        return self._pg_admin

    def _pg_head(self) -> str:
        if self._pg_template is None:
            name = f"tt_template_{os.getpid()}"
            with self._admin().connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                connection.execute(text(f"CREATE DATABASE {name}"))
            url = parse_database_url(PG_URL).set(database=name)
            engine = create_db_engine(url)
            upgrade(engine)
            engine.dispose()
            self._pg_template = name
        return self._pg_template


# Tests that hold real processes to the wall clock (agents airing on the minute, browsers,
# killed servers, workers sharing a storm) run one after another on one of the two test
# processes, never beside each other; the rest are shared out between both.
ONE_AT_A_TIME = (
    "tests/agent/",
    "tests/browser/",
    "tests/faults/",
    "tests/api/test_cli.py",
    "tests/api/test_demo_relay.py",
    "tests/api/test_slow_clients.py",
    "tests/scheduler/test_process.py",
    "tests/scheduler/test_jobs.py",
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Share tests out as they finish, but every wall-clock one to the same process.

    (By index, as xdist's own load scheduling does: schemathesis gives its 71 generated
    tests one node id, which scheduling by id would run once.)"""
    from xdist.scheduler import LoadScheduling

    class WallClockTogether(LoadScheduling):
        def _send_tests(self, node: Any, num: int) -> None:
            if not getattr(self, "wall_clock_sent", False):
                self.wall_clock_sent = True
                wall = [i for i in self.pending if self.collection[i].startswith(ONE_AT_A_TIME)]
                if wall:
                    self.pending[:] = [i for i in self.pending if i not in set(wall)]
                    self.node2pending[node].extend(wall)
                    node.send_runtest_some(wall)
            super()._send_tests(node, num)

    return WallClockTogether(config, log)


# Argon2 at its cheapest: the recommended cost (0.17 s a hash here) was a quarter of the
# suite's time, in fixtures that create a newsroom's accounts for every test.
QUICK_PASSWORDS = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
QUICK_DUMMY = QUICK_PASSWORDS.hash("not-a-real-password")


@pytest.fixture(autouse=True)
def _quick_password_hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real Argon2 hashes and checks, at the lowest cost, in this process only: servers and
    CLI commands the tests start, and tests marked `strong_passwords`, keep the real cost."""
    if request.node.get_closest_marker("strong_passwords") is None:
        monkeypatch.setattr("core.identity._hasher", QUICK_PASSWORDS)
        monkeypatch.setattr("core.identity._dummy_hash", lambda: QUICK_DUMMY)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's own TRUYENTHANH_* settings out of the tests."""
    for name in list(os.environ):
        if name.startswith("TRUYENTHANH_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("databases"))
    yield dbs
    dbs.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, databases: Databases) -> Iterator[str]:
    """A new database at the newest migration."""
    url = getattr(databases, backend)(migrated=True)
    yield url
    databases.release(url)


@pytest.fixture
def empty_database_url(backend: str, databases: Databases) -> Iterator[str]:
    """A new database with no tables at all."""
    url = getattr(databases, backend)(migrated=False)
    yield url
    databases.release(url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(parse_database_url(database_url))
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client
