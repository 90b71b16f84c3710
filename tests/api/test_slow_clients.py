"""Slow and hostile clients against a real server: stalled bodies, bodies over their cap.

Each client here is a bare socket, so the test controls exactly which bytes are sent and
when: headers and one `{`, then nothing, as a phone on a weak village link (or an
attacker) does. Answers are read with a client timeout; no test asserts a duration.
"""

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest

from api.limits import SPOOL_BYTES
from core.db import session_scope
from core.identity import create_device_token, create_user, issue_access_token
from core.models import Role
from scheduler.models import StationKind
from scheduler.service import create_station
from tests.processes import cli_env, free_port, running_server

STALLED = 100
# How long a client waits for an answer that should come at once; on today's code the
# answers never came at all.
ANSWER_TIMEOUT_S = 15.0
# The server's deadline for the next part of a body, shortened so the test can see the
# stalled requests refused; long enough that they are all still waiting while the test
# asks for health and a pull.
BODY_TIMEOUT_S = 10
PROBLEM = "application/problem+json"
AIRINGS = "/api/v1/stations/XA-A/airings"


@dataclass
class Served:
    """A real server on loopback, its port, a device token of commune XA-A and a planner's."""

    url: str
    port: int
    device: str
    planner: str


@pytest.fixture
def served(database_url, engine, settings) -> Iterator[Served]:
    with session_scope(engine) as session:
        create_station(session, code="TINH-P", name="Đài tỉnh", kind=StationKind.province)
        commune = create_station(
            session, code="XA-A", name="Đài xã A", kind=StationKind.commune, parent_code="TINH-P"
        )
        _, device = create_device_token(
            session, station_id=commune.id, cluster_id=None, name="Máy xã A", created_by="test"
        )
        user = create_user(
            session,
            username="kehoach",
            password="mật-khẩu-đủ-dài",
            role=Role.planner,
            station_id=commune.id,
        )
        # The server's data directory is the settings' own, so it signs with the same key.
        planner = issue_access_token(settings=settings, user=user).token
    port = free_port()
    env = cli_env(
        database_url=database_url,
        data_dir=settings.data_dir,
        body_timeout_s=str(BODY_TIMEOUT_S),
        max_body_kb="1",
    )
    with running_server("serve", "--port", str(port), env=env, port=port) as url:
        yield Served(url, port, device, planner)


def _send_head(port: int, method: str, path: str, headers: dict[str, str]) -> socket.socket:
    # Headers only: what follows is up to the caller.
    sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT_S)
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}\r\n".encode())
    return sock


def _stall(port: int, path: str, **headers: str) -> socket.socket:
    """A POST that declares a JSON body, sends its first byte and nothing more."""
    sock = _send_head(
        port, "POST", path, {"Content-Type": "application/json", "Content-Length": "100", **headers}
    )
    sock.sendall(b"{")
    return sock


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after answering

    def problem(self) -> dict:
        assert self.headers["content-type"] == PROBLEM, self
        document = json.loads(self.body)
        assert document["status"] == self.status
        return document


def _answer(sock: socket.socket, *, timeout: float = ANSWER_TIMEOUT_S) -> Answer:
    """Read one answer (a Content-Length body) and whether the server closed afterwards."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed without an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        assert chunk, "closed in the middle of the answer"
        body += chunk
    try:
        closed = sock.recv(1) == b""
    except ConnectionResetError:
        closed = True
    return Answer(int(status_line.split()[1]), headers, body, closed)


def _waiting(sock: socket.socket) -> bool:
    # Nothing answered yet and the connection still open.
    sock.setblocking(False)
    try:
        sock.recv(1)
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)
    return False


def _health_and_pull(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=ANSWER_TIMEOUT_S) as client:
        assert client.get("/api/v1/health").status_code == 200
        pull = f"/api/v1/stations/XA-A/playlists/{date.today()}"
        device = {"Authorization": f"Bearer {served.device}"}
        assert client.get(pull, headers=device).status_code == 200  # made by the route
        assert client.get(pull, headers=device).status_code == 200  # the fast path


# Stalled bodies


def test_unauthenticated_bodies_are_refused_before_they_are_read(served: Served) -> None:
    stalled = [_stall(served.port, AIRINGS) for _ in range(STALLED)]
    try:
        _health_and_pull(served)
        for sock in stalled:
            answer = _answer(sock)
            assert answer.status == 401
            assert "Authorization: Bearer" in answer.problem()["detail"]
            assert answer.headers["www-authenticate"] == "Bearer"
            assert answer.closed
    finally:
        for sock in stalled:
            sock.close()


def test_a_user_token_that_is_not_signed_here_is_refused_before_the_body(
    served: Served,
) -> None:
    forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIiwidmVyIjoxfQ.c2lnbmF0dXJl"
    sock = _stall(served.port, "/api/v1/themes", Authorization=f"Bearer {forged}")
    try:
        answer = _answer(sock)
        assert answer.status == 401
        assert "Mã truy cập" in answer.problem()["detail"]
    finally:
        sock.close()


def test_stalled_bodies_of_known_devices_hold_back_no_one_and_end_in_408(
    served: Served,
) -> None:
    # A device on a weak link is authenticated: its body is awaited, but without a slot.
    device = f"Bearer {served.device}"
    stalled = [_stall(served.port, AIRINGS, Authorization=device) for _ in range(STALLED)]
    try:
        _health_and_pull(served)
        assert all(_waiting(sock) for sock in stalled)
        for sock in stalled:
            answer = _answer(sock, timeout=BODY_TIMEOUT_S + ANSWER_TIMEOUT_S)
            assert answer.status == 408
            assert f"{BODY_TIMEOUT_S} giây" in answer.problem()["detail"]
            assert answer.closed
        _health_and_pull(served)
    finally:
        for sock in stalled:
            sock.close()


# Bodies over their cap, web forms included


@pytest.mark.parametrize("path", ["/login", "/api/v1/auth/token", "/items/new"])
def test_a_declared_length_over_the_cap_is_refused_before_reading(
    served: Served, path: str
) -> None:
    sock = _send_head(
        served.port,
        "POST",
        path,
        {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "2147483648"},
    )
    try:
        answer = _answer(sock)
        assert answer.status == 413
        assert answer.problem()["detail"] == "Dữ liệu gửi lên vượt quá 1 KB."
        assert answer.closed
    finally:
        sock.close()


def _login_session(served: Served) -> str:
    # What a browser holds after opening the login page: a session with a form token.
    page = httpx.get(f"{served.url}/login", timeout=ANSWER_TIMEOUT_S)
    return f"tt_session={page.cookies['tt_session']}"


@pytest.mark.parametrize("path", ["/login", "/api/v1/auth/token"])
def test_a_chunked_form_that_grows_over_the_cap_is_refused(served: Served, path: str) -> None:
    sock = _send_head(
        served.port,
        "POST",
        path,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Transfer-Encoding": "chunked",
            "Cookie": _login_session(served),
        },
    )
    try:
        piece = b"username=" + b"a" * 503
        for _ in range(3):  # 1,536 bytes, over the 1 KB cap; never the last chunk
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        answer = _answer(sock)
        assert answer.status == 413
        assert answer.problem()["detail"] == "Dữ liệu gửi lên vượt quá 1 KB."
        assert answer.closed
    finally:
        sock.close()


def test_a_form_without_a_session_is_answered_without_being_read(served: Served) -> None:
    # No session, so no form token: the page says the form expired, as it always did,
    # but before the body (which never comes) is read.
    sock = _send_head(
        served.port,
        "POST",
        "/login",
        {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "100"},
    )
    try:
        sock.sendall(b"u")
        answer = _answer(sock)
        assert answer.status == 403
        assert answer.headers["content-type"].startswith("text/html")
        assert "Biểu mẫu đã hết hạn" in answer.body.decode()
        assert answer.closed
    finally:
        sock.close()


def test_uploads_keep_their_larger_cap(served: Served) -> None:
    # Over the 1 KB cap of forms, larger than a body waits in memory, and far under the
    # uploads' 200 MB: it is read whole, and the route answers (here: it is no audio, or
    # no one is logged in).
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\n\r\n'
        + b"x" * (SPOOL_BYTES + 2048)
        + b"\r\n--b--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    with httpx.Client(base_url=served.url, timeout=ANSWER_TIMEOUT_S) as client:
        api = client.post(
            "/api/v1/stations/XA-A/jingles",
            content=body,
            headers={**headers, "Authorization": f"Bearer {served.planner}"},
        )
        assert api.status_code == 422, api.text
        assert "không phải âm thanh" in api.json()["detail"]
        page = client.post(
            "/recordings/new",
            content=body,
            headers={**headers, "Cookie": _login_session(served)},
            follow_redirects=False,
        )
        assert (page.status_code, page.headers["location"]) == (303, "/login")
