"""A small country for access tests: two provinces, a district, four communes, people, devices."""

from dataclasses import dataclass, field
from datetime import timedelta

import jwt
from sqlalchemy import Engine

from content.service import create_content_item
from core.clock import utcnow
from core.db import session_scope
from core.identity import (
    JWT_ALGORITHM,
    create_device_token,
    create_user,
    issue_access_token,
    revoke_device_token,
)
from core.models import Role
from core.settings import Settings
from scheduler.models import StationKind
from scheduler.service import add_cluster, create_station, station_facts

PASSWORD = "mật-khẩu-thử-nghiệm-123"

# (code, kind, parent)
STATIONS = [
    ("TINH-P", StationKind.province, None),
    ("XA-A", StationKind.commune, "TINH-P"),
    ("XA-B", StationKind.commune, "TINH-P"),
    ("HUYEN-D", StationKind.district, "TINH-P"),
    ("XA-C", StationKind.commune, "HUYEN-D"),
    ("TINH-Q", StationKind.province, None),
    ("XA-Q", StationKind.commune, "TINH-Q"),
]
# (username, role, station)
USERS = [
    ("admin", Role.admin, None),
    ("planner_p", Role.planner, "TINH-P"),
    ("planner_d", Role.planner, "HUYEN-D"),
    ("planner_q", Role.planner, "TINH-Q"),
    ("operator_a", Role.operator, "XA-A"),
    ("operator_b", Role.operator, "XA-B"),
    ("auditor_p", Role.auditor, "TINH-P"),
    ("operator_c", Role.operator, "XA-C"),
]


@dataclass
class World:
    """Bearer headers for every caller, and the ids tests refer to."""

    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)


def build_world(engine: Engine, settings: Settings) -> World:
    """Create the stations, people, devices and content, and tokens for each caller."""
    world = World()
    with session_scope(engine) as session:
        stations = {}
        for code, kind, parent in STATIONS:
            stations[code] = create_station(
                session, code=code, name=f"Đài {code}", kind=kind, parent_code=parent
            )
        for code in ("XA-A", "XA-B", "XA-C", "XA-Q"):
            add_cluster(
                session, station=stations[code], code=f"{code}-1", name="Cụm 1", zone_tags=[]
            )
        for username, role, station in USERS:
            user = create_user(
                session,
                username=username,
                password=PASSWORD,
                role=role,
                station_id=stations[station].id if station else None,
            )
            world.headers[username] = _bearer(
                issue_access_token(settings=settings, user=user).token
            )
            if username == "operator_a":
                expired = jwt.encode(
                    {
                        "sub": str(user.id),
                        "ver": user.token_version,
                        "exp": utcnow() - timedelta(minutes=1),
                    },
                    settings.signing_key,
                    algorithm=JWT_ALGORITHM,
                )
                world.headers["expired"] = _bearer(expired)
        device, secret = create_device_token(
            session,
            station_id=stations["XA-A"].id,
            cluster_id=None,
            name="Bộ thu A",
            created_by="test",
        )
        world.headers["device_a"] = _bearer(secret)
        world.ids["device_a"] = device.id
        spare, _ = create_device_token(
            session,
            station_id=stations["XA-A"].id,
            cluster_id=None,
            name="Bộ thu dự phòng",
            created_by="test",
        )
        world.ids["device_spare"] = spare.id
        revoked, secret = create_device_token(
            session,
            station_id=stations["XA-A"].id,
            cluster_id=None,
            name="Bộ thu cũ",
            created_by="test",
        )
        revoke_device_token(session, device=revoked)
        world.headers["revoked"] = _bearer(secret)
        for code in ("TINH-P", "TINH-Q", "XA-A"):
            item, _, _ = create_content_item(
                session,
                station=station_facts(stations[code]),
                title=f"Tin của {code}",
                body="Nội dung thử.",
                author="test",
            )
            world.ids[f"item_{code}"] = item.id
    world.headers["anonymous"] = {}
    world.headers["garbage"] = _bearer("not-a-token")
    return world


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
