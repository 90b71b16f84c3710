"""The database out of reach: 503 problem reports with Retry-After, then recovery unaided.

PostgreSQL is reached through a proxy the test controls: cut (the database stopped) and
stalled (packets swallowed), then restored, while the same server process keeps running.
SQLite has no network to lose: its outage is another writer holding the write lock for
longer than the busy timeout (a stuck process, someone in the sqlite3 shell), and it runs
on SQLite only, in-process, as the proxy test runs on PostgreSQL only.
"""

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest

from core.db import PG_CONNECT_TIMEOUT_S, SQLITE_BUSY_TIMEOUT_MS
from core.settings import parse_database_url
from tests.conftest import BACKENDS
from tests.faults.proxy import proxying
from tests.faults.world import Server, build_communes, device_token, local_today, record
from tests.processes import cli_env, free_port

STATION = "XA-0000"
PROBLEM = "application/problem+json"
TIMEOUT_S = 60  # a request still unanswered by then is hanging


class Commune:
    """A device of the test commune, and a person at a browser, talking to one server."""

    def __init__(self, engine, http: httpx.Client) -> None:
        self.http = http
        self.headers = device_token(engine, station=STATION)
        self.day = local_today() - timedelta(days=1)
        self.entries = self.pull().json()["entries"]
        self.sent = 0

    def pull(self) -> httpx.Response:
        """Yesterday's playlist."""
        return self.http.get(
            f"/api/v1/stations/{STATION}/playlists/{self.day}", headers=self.headers
        )

    def report(self) -> httpx.Response:
        """A new airing of yesterday's first entry."""
        self.sent += 1
        airing = record(self.entries[0], "CUM-0", 0) | {"id": f"down-{self.sent}"}
        return self.http.post(
            f"/api/v1/stations/{STATION}/airings",
            headers=self.headers,
            json={"records": [airing]},
        )

    def health(self) -> httpx.Response:
        """The health check, as a load balancer asks it."""
        return self.http.get("/api/v1/health")

    def login(self) -> httpx.Response:
        """A person signing in."""
        return self.http.post(
            "/api/v1/auth/token", data={"username": "vanhanh", "password": "mật-khẩu-đủ-dài"}
        )


def assert_unavailable(response: httpx.Response) -> None:
    """A 503 problem report telling the client when to come back."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    assert int(response.headers["retry-after"]) > 0
    problem = response.json()
    assert problem["status"] == 503
    assert "cơ sở dữ liệu" in problem["detail"]


def assert_database_down(response: httpx.Response) -> None:
    """The health check says which part is down, and not where it lives."""
    assert_unavailable(response)
    assert response.json()["errors"] == [{"component": "database", "status": "down"}]
    assert "127.0.0.1" not in response.text and "tt_" not in response.text


def assert_back(commune: Commune) -> None:
    """Everything works again."""
    health = commune.health()
    assert health.status_code == 200, health.text
    assert health.json()["database"] == "ok"
    assert commune.pull().status_code == 200
    report = commune.report()
    assert report.status_code == 200, report.text
    assert report.json()["accepted"] == [f"down-{commune.sent}"]


def _timed(call) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    return call(), time.monotonic() - started


def _at_once(*calls) -> list[tuple[httpx.Response, float]]:
    """Make the calls in parallel; each answer with the seconds it took, in call order."""
    answers: dict[int, tuple[httpx.Response, float]] = {}
    threads = [
        threading.Thread(target=lambda n=n, c=c: answers.update({n: _timed(c)}))
        for n, c in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == len(calls), "a call raised instead of answering"
    return [answers[n] for n in range(len(calls))]


@contextmanager
def _behind_a_proxy(tmp_path, database_url, engine, servers) -> Iterator[tuple]:
    """The test commune's server reaching PostgreSQL through a proxy: (proxy, server, commune)."""
    port = free_port()
    build_communes(engine, communes=1, clusters=1, past_days=1, base_url="http://x")
    direct = parse_database_url(database_url)
    with proxying((direct.host, direct.port or 5432)) as proxy:
        proxied = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        server = Server(cli_env(database_url=proxied, data_dir=tmp_path / "data"), port)
        servers.append(server)
        with httpx.Client(base_url=server.base, timeout=TIMEOUT_S) as http:
            yield proxy, server, Commune(engine, http)


@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_postgresql_out_of_reach_answers_503_and_recovers(
    tmp_path, database_url, engine, servers
) -> None:
    with _behind_a_proxy(tmp_path, database_url, engine, servers) as (proxy, server, commune):
        proxy.cut()
        assert_database_down(commune.health())
        for call in (commune.pull, commune.report, commune.login):
            response, seconds = _timed(call)
            assert_unavailable(response)
            assert seconds < PG_CONNECT_TIMEOUT_S, "a refused connection is known at once"

        # Packets swallowed: each request waits for the connect timeout, not for ever.
        proxy.stall()
        for response, seconds in _at_once(commune.health, commune.pull, commune.report):
            assert_unavailable(response)
            assert seconds < PG_CONNECT_TIMEOUT_S + 5

        proxy.restore()
        assert_back(commune)
        assert server.process.poll() is None, "the same process recovered"


@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_postgresql_going_silent_mid_conversation_fails_pulls_in_time_and_recovers(
    tmp_path, database_url, engine, servers
) -> None:
    # The fast path keeps a connection of its own open between pulls: a network that
    # goes quiet on it must not hold the pulls for longer than the connect timeout.
    with _behind_a_proxy(tmp_path, database_url, engine, servers) as (proxy, server, commune):
        # The commune's first pull opened the fast path's connection.
        proxy.freeze()
        for response, seconds in _at_once(commune.pull, commune.pull):
            assert_unavailable(response)
            assert seconds < PG_CONNECT_TIMEOUT_S + 5
        proxy.restore()
        pulled = commune.pull()
        assert pulled.status_code == 200, pulled.text
        assert pulled.json()["entries"] == commune.entries
        assert server.process.poll() is None, "the same process recovered"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_locked_by_another_writer_answers_503_and_recovers(
    database_url, engine, client
) -> None:
    build_communes(engine, communes=1, clusters=1, past_days=1, base_url="http://x")
    commune = Commune(engine, client)

    holder = sqlite3.connect(parse_database_url(database_url).database, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        answers = _at_once(commune.report, commune.pull)
        # Readers are not held up by a writer (write-ahead log).
        assert commune.health().status_code == 200
    finally:
        holder.rollback()
        holder.close()
    (report, report_s), (pull, pull_s) = answers
    assert_unavailable(report)
    assert report_s < SQLITE_BUSY_TIMEOUT_MS / 1000 + 5
    # A pull reads, but a device's first pull in a while also notes when it was last
    # seen, and that waits for the write lock too.
    if pull.status_code != 200:
        assert_unavailable(pull)
    assert pull_s < SQLITE_BUSY_TIMEOUT_MS / 1000 + 5
    assert_back(commune)
