"""Forged forms, cookies, device tokens and other stations' data.

- Every state-changing web form needs the session's CSRF token.
- The session cookie is HttpOnly, SameSite=Lax, and Secure behind HTTPS.
- A device token reaches only what a receiver needs; every other operation is a 403.
- A commune operator can neither read nor change another commune's data (spot checks of
  the main resources; tests/api/test_access.py holds the full role × scope matrix).
"""

import re
from datetime import timedelta

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import func, select

from api.app import create_app
from audio.models import RenderJob
from core.db import session_scope
from core.models import AuditEvent
from core.settings import Settings
from scheduler.models import AiringRecord, Booking
from tests.security.conftest import PASSWORD, csrf_of, last_event_id, today, web_login

# What a receiver or playout agent calls (README: roles): everything else refuses a device.
DEVICE_OPERATIONS = {
    ("GET", "/api/v1/devices/me"),
    ("GET", "/api/v1/audio/{sha256}"),
    ("GET", "/api/v1/stations/{code}/playlists/{day}"),
    ("GET", "/api/v1/stations/{code}/playlists/{day}.m3u8"),
    ("GET", "/api/v1/stations/{code}/events"),
    ("GET", "/api/v1/stations/{code}/events/stream"),
    ("POST", "/api/v1/stations/{code}/airings"),
    ("POST", "/api/v1/stations/{code}/heartbeats"),
}
# Read no token at all.
PUBLIC_OPERATIONS = {
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/auth/token"),
    # A live stream: players open it without a token, its random key is the secret.
    ("GET", "/api/v1/live/{key}/{name}"),
}


def _count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def _web_forms(app) -> list[str]:
    """The paths of every state-changing web form (the pages, not the REST API)."""
    paths = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if "POST" in (getattr(route, "methods", None) or ()) and not route.include_in_schema:
            paths.append(context.path)
    return sorted(paths)


def test_every_web_form_refuses_a_post_without_the_sessions_token(client, town, engine) -> None:
    forms = _web_forms(client.app)
    assert "/login" in forms and "/recordings/new" in forms and len(forms) >= 13
    web_login(client, "planner_p")
    filled = {
        "code": "XA-A",
        "day": today().isoformat(),
        "item_id:int": str(town.ids["item_XA-A"]),
        "booking_id": "1",
        "step": "approve",
        "live_id": "1",
    }
    before = last_event_id(engine)
    for path in forms:
        url = re.sub(r"\{([^}]+)\}", lambda m: filled[m.group(1)], path)
        for token in (None, "đoán-bừa", ""):
            data = {"station": "XA-A", "title": "Giả mạo", "entry_id": "x", "status": "aired"}
            if token is not None:
                data["csrf_token"] = token
            # An upload form is read by the upload streamer: give it a file to get that far.
            audio = {"file": ("a.mp3", b"ID3\x04" + b"\0" * 64, "audio/mpeg")}
            uploads = path in ("/recordings/new", "/announcements/new")
            answer = client.post(url, data=data, files=audio if uploads else None)
            assert answer.status_code == 403, (path, token, answer.status_code)
            assert "Biểu mẫu đã hết hạn" in answer.text, path
    assert last_event_id(engine) == before, "a refused form changed something"
    assert _count(engine, AiringRecord) == 0


def _cookie(response) -> str:
    return next(v for k, v in response.headers.multi_items() if k == "set-cookie")


@pytest.mark.parametrize(
    ("base_url", "secure"), [("http://127.0.0.1:8000", False), ("https://loa.example.vn", True)]
)
def test_the_session_cookie_cannot_be_read_by_scripts_or_sent_cross_site(
    town, tmp_path, database_url, base_url, secure
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, public_base_url=base_url
    )
    with TestClient(create_app(settings), base_url=base_url) as client:
        token = csrf_of(client.get("/login").text)
        answer = client.post(
            "/login",
            data={"username": "operator_a", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
    assert answer.status_code == 303
    cookie = _cookie(answer).lower()
    assert cookie.startswith("tt_session=")
    assert "; httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert ("; secure" in cookie) is secure
    if secure:
        assert answer.headers["strict-transport-security"].startswith("max-age=")


def _api_operations(app) -> set[tuple[str, str]]:
    """Every method and path of the REST API, documented in the schema or not."""
    return {
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if context.path.startswith("/api/")
        for method in getattr(context.original_route, "methods", None) or ()
        if method != "HEAD"
    }


def test_a_device_token_reaches_nothing_but_what_a_device_needs(client, town, engine) -> None:
    operations = _api_operations(client.app)
    assert operations >= DEVICE_OPERATIONS | PUBLIC_OPERATIONS
    refused = operations - DEVICE_OPERATIONS - PUBLIC_OPERATIONS
    # What a device once read: its station's whole log, bookings and calendar.
    assert ("GET", "/api/v1/stations/{code}/airings") in refused and len(refused) > 50
    filled = {"code": "XA-A", "day": today().isoformat(), "sha256": "a" * 64, "username": "admin"}
    before = last_event_id(engine)
    for method, path in sorted(refused):
        # Its own station and real ids: only the kind of caller can stop it.
        url = re.sub(r"\{([a-z_0-9]+)(:[a-z]+)?\}", lambda m: filled.get(m.group(1), "1"), path)
        answer = client.request(method, url, headers=town.headers["device_a"], json={})
        assert answer.status_code == 403, (method, path, answer.status_code, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "thiết bị" in answer.json()["detail"], (method, path, answer.text)
    assert last_event_id(engine) == before


def test_a_device_token_does_what_a_device_needs(client, town) -> None:
    device, station = town.headers["device_a"], "/api/v1/stations/XA-A"
    day = today().isoformat()
    answers = {
        ("GET", "/api/v1/devices/me"): client.get("/api/v1/devices/me", headers=device),
        ("GET", "/api/v1/stations/{code}/playlists/{day}"): client.get(
            f"{station}/playlists/{day}", headers=device
        ),
        ("GET", "/api/v1/stations/{code}/playlists/{day}.m3u8"): client.get(
            f"{station}/playlists/{day}.m3u8", headers=device
        ),
        ("GET", "/api/v1/stations/{code}/events"): client.get(f"{station}/events", headers=device),
        ("POST", "/api/v1/stations/{code}/airings"): client.post(
            f"{station}/airings", headers=device, json={"records": []}
        ),
        ("POST", "/api/v1/stations/{code}/heartbeats"): client.post(
            f"{station}/heartbeats", headers=device, json={"online": True}
        ),
    }
    # Audio: tests/api/test_audio_scope.py; the event stream, which never ends:
    # tests/api/test_pull.py on a real server.
    assert set(answers) == DEVICE_OPERATIONS - {
        ("GET", "/api/v1/audio/{sha256}"),
        ("GET", "/api/v1/stations/{code}/events/stream"),
    }
    for operation, answer in answers.items():
        assert answer.status_code in (200, 204), (operation, answer.text)


def test_an_operator_cannot_read_or_write_another_communes_data(client, town, engine) -> None:
    other, own = town.headers["operator_b"], town.ids["item_XA-A"]
    day = today().isoformat()
    planner = town.headers["planner_p"]
    booking = client.post(
        "/api/v1/bookings",
        headers=planner,
        json={
            "station": "XA-A",
            "source": "relay",
            "relay_url": "http://vov.example/vov1",
            "duration_s": 600,
            "title": "Tiếp sóng",
            "at": "05:40",
            "recurrence": {"freq": "daily", "start": (today() + timedelta(days=7)).isoformat()},
        },
    ).json()["id"]
    job = client.post(f"/api/v1/content-items/{own}/render", headers=planner).json()["id"]
    entry = client.get(f"/api/v1/stations/XA-A/playlists/{day}", headers=planner).json()
    entry_id = entry["entries"][0]["id"]
    before = last_event_id(engine)
    refusals = [
        ("GET", "/api/v1/stations/XA-A", None, 403),
        ("PATCH", "/api/v1/stations/XA-A", {"name": "Đã chiếm"}, 403),
        ("POST", "/api/v1/stations/XA-A/clusters", {"code": "C9", "name": "Cụm lạ"}, 403),
        ("GET", f"/api/v1/stations/XA-A/playlists/{day}", None, 403),
        ("GET", f"/api/v1/stations/XA-A/playlists/{day}.m3u8", None, 403),
        ("GET", "/api/v1/stations/XA-A/airings", None, 403),
        (
            "POST",
            "/api/v1/stations/XA-A/airings",
            {
                "records": [
                    {"id": "gia-1", "entry_id": entry_id, "status": "skipped", "reason": "x"}
                ]
            },
            403,
        ),
        ("GET", "/api/v1/stations/XA-A/clusters/status", None, 403),
        ("GET", "/api/v1/stations/XA-A/script-templates", None, 403),
        ("GET", f"/api/v1/content-items/{own}", None, 404),
        ("GET", f"/api/v1/content-items/{own}/versions", None, 404),
        ("GET", f"/api/v1/jobs/{job}", None, 404),
        ("GET", "/api/v1/stations/XA-A/bookings", None, 403),
        ("GET", "/api/v1/reports/compliance?station=XA-A&period=2026", None, 403),
    ]
    for method, path, body, status in refusals:
        answer = client.request(method, path, headers=other, json=body)
        assert answer.status_code == status, (method, path, answer.status_code, answer.text)
    # A recording for XA-B's item filed under XA-A is refused before the file is decoded.
    filed = client.post(
        f"/api/v1/content-items/{town.ids['item_XA-B']}/recordings",
        headers=town.headers["operator_b"],
        data={"language": "blt", "speaker": "A", "station": "XA-A"},
        files={"file": ("a.mp3", b"ID3\x04" + b"\0" * 64, "audio/mpeg")},
    )
    assert filed.status_code == 403, filed.text
    # A planner of another province cannot touch this one's booking.
    stranger = town.headers["planner_q"]
    assert (
        client.patch(
            f"/api/v1/bookings/{booking}", headers=stranger, json={"title": "x"}
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/bookings/{booking}", headers=stranger).status_code == 403
    assert client.get(f"/api/v1/content-items/{own}", headers=stranger).status_code == 404

    csrf = web_login(client, "operator_b")
    pages = [f"/stations/XA-A/day/{day}", f"/stations/XA-A/sheet/{day}", "/stations/XA-A/clusters"]
    for path in pages:
        assert client.get(path).status_code == 403, path
    forged = client.post(
        f"/stations/XA-A/day/{day}/airings",
        data={"csrf_token": csrf, "entry_id": entry_id, "status": "skipped", "reason": "x"},
    )
    assert forged.status_code == 403
    assert client.get("/airings?station=XA-A").status_code == 403

    assert last_event_id(engine) == before
    assert _count(engine, AiringRecord) == 0
    with session_scope(engine) as session:
        assert session.get(Booking, booking).title == "Tiếp sóng"
        assert session.get(RenderJob, job) is not None
        assert session.exec(select(func.count()).select_from(AuditEvent)).one() > 0
