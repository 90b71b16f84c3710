"""A small town for attack tests: two provinces, three communes, people of each role, a device.

The attacks here do not depend on the database: they run on SQLite only, except where a
test asks for PostgreSQL itself (NUL bytes, which only PostgreSQL refuses to store).
"""

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import func, select

from content.service import (
    approve_content_item,
    create_content_item,
    submit_content_item,
)
from core.clock import utcnow
from core.db import session_scope
from core.identity import create_device_token, hash_password, issue_access_token
from core.models import AuditEvent, Role, User
from core.settings import Settings
from scheduler.models import StationKind
from scheduler.service import add_cluster, create_station, station_facts

PASSWORD = "mật-khẩu-thử-nghiệm-123"
WINDOWS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"}]
FALLBACK = {"kind": "relay", "url": "http://vov.example/vov1", "title": "Tiếp sóng VOV1"}
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# (code, kind, parent)
STATIONS = [
    ("TINH-P", StationKind.province, None),
    ("XA-A", StationKind.commune, "TINH-P"),
    ("XA-B", StationKind.commune, "TINH-P"),
    ("TINH-Q", StationKind.province, None),
    ("XA-Q", StationKind.commune, "TINH-Q"),
]
# (username, role, station)
PEOPLE = [
    ("admin", Role.admin, None),
    ("planner_p", Role.planner, "TINH-P"),
    ("planner_q", Role.planner, "TINH-Q"),
    ("operator_a", Role.operator, "XA-A"),
    ("operator_b", Role.operator, "XA-B"),
    ("auditor_p", Role.auditor, "TINH-P"),
]


@pytest.fixture
def backend() -> str:
    """SQLite only: nothing here depends on the database but the NUL tests, which ask."""
    return "sqlite"


@cache
def _password_hash() -> str:
    # Argon2 takes a third of a second a password; everyone here shares one.
    return hash_password(PASSWORD)


@dataclass
class Town:
    """Bearer headers of each caller and the ids tests refer to."""

    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def town(engine: Engine, settings: Settings) -> Town:
    town = Town()
    with session_scope(engine) as session:
        stations = {}
        for code, kind, parent in STATIONS:
            station = create_station(
                session, code=code, name=f"Đài {code}", kind=kind, parent_code=parent
            )
            station.windows = WINDOWS
            if kind == StationKind.commune:
                add_cluster(session, station=station, code=f"{code}-1", name="Cụm 1", zone_tags=[])
                station.fallback = FALLBACK
            stations[code] = station
            town.ids[code] = station.id
        for username, role, code in PEOPLE:
            user = User(
                username=username,
                role=role,
                station_id=stations[code].id if code else None,
                password_hash=_password_hash(),
            )
            session.add(user)
            session.flush()
            town.ids[username] = user.id
            token = issue_access_token(settings=settings, user=user).token
            town.headers[username] = {"Authorization": f"Bearer {token}"}
        device, secret = create_device_token(
            session,
            station_id=stations["XA-A"].id,
            cluster_id=None,
            name="Bộ thu A",
            created_by="t",
        )
        town.ids["device_a"] = device.id
        town.headers["device_a"] = {"Authorization": f"Bearer {secret}"}
        for code in ("XA-A", "XA-B"):
            facts = station_facts(stations[code])
            item, _, _ = create_content_item(
                session, station=facts, title=f"Tin của {code}", body="Nội dung thử.", author="bien"
            )
            submit_content_item(session, item=item)
            approve_content_item(session, item=item, station=facts, approver="duyet")
            town.ids[f"item_{code}"] = item.id
        # Written by someone else, waiting for a planner's decision.
        waiting, _, _ = create_content_item(
            session,
            station=station_facts(stations["XA-A"]),
            title="Tin chờ duyệt",
            body="Nội dung chờ duyệt.",
            author="bien",
        )
        submit_content_item(session, item=waiting)
        town.ids["item_waiting"] = waiting.id
    return town


def today() -> date:
    """Today in Vietnam."""
    return utcnow().astimezone(ZONE).date()


def csrf_of(page: str) -> str:
    """The CSRF token a page's forms carry."""
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def web_login(client: TestClient, username: str) -> str:
    """Log in through the login form; return the session's CSRF token."""
    answer = client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": csrf_of(client.get("/login").text),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/").text)


def last_event_id(engine: Engine) -> int:
    """The id of the newest audit event (0 when there is none)."""
    with session_scope(engine) as session:
        return session.exec(select(func.coalesce(func.max(AuditEvent.id), 0))).one()


def events_after(engine: Engine, event_id: int) -> list[AuditEvent]:
    """The audit events recorded after the given one, oldest first."""
    with session_scope(engine) as session:
        query = select(AuditEvent).where(AuditEvent.id > event_id).order_by(AuditEvent.id)
        return list(session.exec(query))
