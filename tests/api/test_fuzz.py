"""Schema-driven fuzzing of the whole REST API with schemathesis, against the app in process.

Every operation of the OpenAPI document gets the boundary and invalid values of its
schema (schemathesis' coverage phase), its examples and a few generated requests, sent
by an admin or a device so they reach past 401 and, with real station codes and ids,
past 404. Properties: no 5xx; the status code, content type, headers and body match
what the document says; an undeclared method gets 405 with a true Allow; every error
is an RFC 9457 problem report. Generation is derandomized from a fixed seed, so a run
is repeatable, and bounded to keep the suite short.

It runs on SQLite only, to stay within the suite's time budget: what it checks is the
HTTP layer (validation, documentation, problem shapes), which is the same on both
databases. The one place they differ, values PostgreSQL cannot store (integers past a
column's range, NUL characters), has its own tests on both in test_limits.py.
"""

import itertools
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from sqlalchemy import Engine

from api.app import create_app
from api.problems import PROBLEM_MEDIA_TYPE
from core.db import create_db_engine
from core.settings import Settings, parse_database_url
from tests.api.world import World, build_world
from tests.conftest import Databases

MAX_EXAMPLES = 6
SEED = 20_261_123
STATIONS = ("XA-A", "TINH-P", "XA-Q")
# An event stream stays open for days: there is no response to check.
NOT_FUZZED = ("/api/v1/stations/{code}/events/stream",)


class Deferred:
    """An ASGI app that forwards to the app a fixture builds later.

    Schemathesis needs an app when the tests are collected; the real one needs a
    database that only exists once the fixture runs. The app's own lifespan (which
    would dispose its engine after every request) is left to the fixture.
    """

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert self.app is not None, "the fuzz_target fixture sets the app"
        await self.app(scope, receive, send)


DEFERRED = Deferred()


class FuzzTarget:
    """The app under test and the tokens of its callers."""

    def __init__(self, app: FastAPI, world: World) -> None:
        self.app = app
        self.world = world


@pytest.fixture(scope="module")
def fuzz_target(
    databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzTarget]:
    url = databases.sqlite(migrated=True)
    settings = Settings(data_dir=tmp_path_factory.mktemp("fuzz") / "data", database_url=url)
    engine: Engine = create_db_engine(parse_database_url(url))
    world = build_world(engine, settings)
    engine.dispose()
    app = create_app(settings)
    DEFERRED.app = app
    yield FuzzTarget(app, world)
    DEFERRED.app = None
    app.state.engine.dispose()


def _schema() -> schemathesis.BaseSchema:
    # Collection needs the operations before any fixture exists; the document does not
    # depend on the database, so a throwaway app in a temporary directory provides it.
    with tempfile.TemporaryDirectory() as tmp:
        document = create_app(Settings(data_dir=Path(tmp))).openapi()
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "base-url": "http://testserver",
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {
                "stateful": {"enabled": False},
                # Enough undeclared methods to see every path answer them (405 and Allow).
                "coverage": {"unexpected-methods": ["get", "post", "delete", "options"]},
            },
            "checks": {
                # Valid by the schema is not valid by the rules (an unknown station, a
                # period that is no period): refusing it with a 4xx is right.
                "positive_data_acceptance": {"enabled": False},
                # Pydantic's lax mode takes `false` as 0 and `0` as 1970-01-01 on purpose.
                "negative_data_rejection": {"enabled": False},
            },
        }
    )
    schema = schemathesis.openapi.from_dict(document, config=config)
    schema.app = DEFERRED
    return schema.exclude(path=list(NOT_FUZZED))


def errors_are_problem_reports(ctx, response, case) -> bool | None:
    """Every 4xx and 5xx answer is application/problem+json with its own status."""
    if response.status_code < 400:
        return None
    media_type = response.headers.get("content-type", [""])[0].split(";")[0]
    assert media_type == PROBLEM_MEDIA_TYPE, f"error answered as {media_type!r}"
    body = response.json()
    assert body["status"] == response.status_code, body
    assert body["title"] and isinstance(body["type"], str), body
    return True


schema = _schema()


_calls: dict[str, Iterator[int]] = {}


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_api_keeps_its_documented_promises(case, fuzz_target: FuzzTarget) -> None:
    # Callers and known names take turns per operation, so a run stays repeatable. The
    # admin reaches everything; one turn in four is a device, for what only devices do.
    turn = next(_calls.setdefault(case.operation.label, itertools.count()))
    device = turn % 4 == 3
    # Random station codes and ids only ever meet 404: two turns in three use real ones.
    params = case.path_parameters or {}
    if turn % 3:
        for name in params:
            if name == "code":
                params[name] = "XA-A" if device else STATIONS[turn // 3 % len(STATIONS)]
            elif name.endswith("_id"):
                params[name] = 1 + turn % 3
    if turn % 2 and "day" in params:
        params["day"] = date.today().isoformat()
    case.call_and_validate(
        headers=fuzz_target.world.headers["device_a" if device else "admin"],
        additional_checks=[errors_are_problem_reports],
    )


def test_errors_are_documented_as_problem_reports_only() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        document = create_app(Settings(data_dir=Path(tmp))).openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status[0] in "45":
                    content = response["content"]
                    assert list(content) == [PROBLEM_MEDIA_TYPE], (method, path, status)
                    assert content[PROBLEM_MEDIA_TYPE]["schema"]["title"] == "Problem"
