"""Roles × scopes × endpoints: who may do what, where (DESIGN.md §3, issue 3)."""

import itertools
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends

from api.auth import OnStation, Permission, StationGrant
from tests.api.world import build_world

ALL = [
    "admin",
    "planner_p",
    "planner_d",
    "planner_q",
    "operator_a",
    "operator_b",
    "auditor_p",
    "device_a",
    "revoked",
    "expired",
    "garbage",
    "anonymous",
]
UNAUTHENTICATED = {"revoked": 401, "expired": 401, "garbage": 401, "anonymous": 401}
_serial = itertools.count()


def outcomes(default: int, **overrides: int) -> dict[str, int]:
    """Expected status for every caller: overrides, the 401s, then the default."""
    return {who: overrides.get(who, UNAUTHENTICATED.get(who, default)) for who in ALL}


def new_station(parent: str | None) -> dict:
    n = next(_serial)
    return {
        "code": f"MOI-{n}",
        "name": f"Đài mới {n}",
        "kind": "commune" if parent else "province",
        "parent": parent,
    }


def new_cluster() -> dict:
    return {"code": f"CUM-{next(_serial)}", "name": "Cụm loa mới", "zone_tags": ["blt"]}


def new_user(role: str, station: str | None) -> dict:
    return {
        "username": f"nguoi.{next(_serial)}",
        "password": "mật-khẩu-đủ-dài",
        "role": role,
        "station": station,
    }


def new_item(station: str) -> dict:
    return {"title": "Tin mới", "body": "Nội dung.", "language": "vie", "station": station}


XA_A_READERS = {"admin": 200, "planner_p": 200, "operator_a": 200, "auditor_p": 200}

# (method, path, body factory or None, expected statuses)
MATRIX = [
    ("GET", "/api/v1/auth/me", None, outcomes(200, device_a=403)),
    ("GET", "/api/v1/devices/me", None, outcomes(403, device_a=200)),
    ("GET", "/api/v1/stations", None, outcomes(200, device_a=403)),
    (
        "GET",
        "/api/v1/stations/XA-A",
        None,
        outcomes(403, admin=200, planner_p=200, operator_a=200, auditor_p=200),
    ),
    (
        "GET",
        "/api/v1/stations/XA-C",
        None,
        outcomes(403, admin=200, planner_p=200, planner_d=200, auditor_p=200),
    ),
    ("GET", "/api/v1/stations/XA-Q", None, outcomes(403, admin=200, planner_q=200)),
    ("GET", "/api/v1/stations/NO-SUCH", None, outcomes(404, device_a=403)),
    (
        "POST",
        "/api/v1/stations",
        lambda: new_station("TINH-P"),
        outcomes(403, admin=201, planner_p=201),
    ),
    (
        "POST",
        "/api/v1/stations",
        lambda: new_station("HUYEN-D"),
        outcomes(403, admin=201, planner_p=201, planner_d=201),
    ),
    ("POST", "/api/v1/stations", lambda: new_station(None), outcomes(403, admin=201)),
    (
        "POST",
        "/api/v1/stations/XA-A/clusters",
        new_cluster,
        outcomes(403, admin=201, planner_p=201),
    ),
    (
        "POST",
        "/api/v1/stations/XA-Q/clusters",
        new_cluster,
        outcomes(403, admin=201, planner_q=201),
    ),
    (
        "GET",
        "/api/v1/content-items/{item_TINH-P}",
        None,
        outcomes(
            404,
            admin=200,
            planner_p=200,
            planner_d=200,
            operator_a=200,
            operator_b=200,
            auditor_p=200,
            device_a=403,
        ),
    ),
    (
        "GET",
        "/api/v1/content-items/{item_XA-A}",
        None,
        outcomes(404, admin=200, planner_p=200, operator_a=200, auditor_p=200, device_a=403),
    ),
    (
        "GET",
        "/api/v1/content-items/{item_TINH-Q}",
        None,
        outcomes(404, admin=200, planner_q=200, device_a=403),
    ),
    (
        "POST",
        "/api/v1/content-items",
        lambda: new_item("XA-A"),
        outcomes(403, admin=201, planner_p=201),
    ),
    (
        "POST",
        "/api/v1/content-items",
        lambda: new_item("TINH-Q"),
        outcomes(403, admin=201, planner_q=201),
    ),
    (
        "GET",
        "/api/v1/users",
        None,
        outcomes(403, admin=200, planner_p=200, planner_d=200, planner_q=200),
    ),
    (
        "POST",
        "/api/v1/users",
        lambda: new_user("operator", "XA-A"),
        outcomes(403, admin=201, planner_p=201),
    ),
    (
        "POST",
        "/api/v1/users",
        lambda: new_user("operator", "XA-Q"),
        outcomes(403, admin=201, planner_q=201),
    ),
    ("POST", "/api/v1/users", lambda: new_user("planner", "TINH-P"), outcomes(403, admin=201)),
    ("POST", "/api/v1/users", lambda: new_user("admin", None), outcomes(403, admin=201)),
    (
        "POST",
        "/api/v1/users/operator_c/deactivate",
        None,
        outcomes(403, admin=204, planner_p=204, planner_d=204, planner_q=404, operator_c=401),
    ),
    ("GET", "/api/v1/stations/XA-A/device-tokens", None, outcomes(403, admin=200, planner_p=200)),
    (
        "POST",
        "/api/v1/stations/XA-A/device-tokens",
        lambda: {"name": "Bộ thu", "cluster": "XA-A-1"},
        outcomes(403, admin=201, planner_p=201),
    ),
    (
        "DELETE",
        "/api/v1/device-tokens/{device_spare}",
        None,
        outcomes(403, admin=204, planner_p=204, planner_q=404, planner_d=404),
    ),
    (
        "GET",
        "/api/v1/audit-events",
        None,
        outcomes(403, admin=200, planner_p=200, planner_d=200, planner_q=200, auditor_p=200),
    ),
    # A station's log and schedule: its people read them, its devices do not (issue 16).
    *(
        ("GET", f"/api/v1/stations/XA-A/{tail}", None, outcomes(403, **XA_A_READERS))
        for tail in ("airings", "airings/verify", "airings/missed", "bookings", "schedule.ics")
    ),
    # Station-scoped device rights, through the same dependency playlists will use.
    (
        "GET",
        "/probe/stations/XA-A/playlists",
        None,
        outcomes(403, **XA_A_READERS, device_a=200),
    ),
    (
        "GET",
        "/probe/stations/XA-B/playlists",
        None,
        outcomes(403, admin=200, planner_p=200, operator_b=200, auditor_p=200),
    ),
    # A route added later refuses devices unless it says otherwise.
    ("GET", "/probe/stations/XA-A/later", None, outcomes(403, **XA_A_READERS)),
]


def _probe_router() -> APIRouter:
    router = APIRouter()

    @router.get("/probe/stations/{code}/playlists")
    def probe(
        grant: Annotated[StationGrant, Depends(OnStation(Permission.playlists_read, devices=True))],
    ) -> dict[str, str]:
        return {"station": grant.station.code}

    @router.get("/probe/stations/{code}/later")
    def later(
        grant: Annotated[StationGrant, Depends(OnStation(Permission.playlists_read))],
    ) -> dict[str, str]:
        return {"station": grant.station.code}

    return router


def _locks_out(case: tuple) -> bool:
    return case[0] == "DELETE" or case[1].endswith("/deactivate")


def test_roles_and_scopes_matrix(client, engine, settings) -> None:
    world = build_world(engine, settings)
    client.app.include_router(_probe_router())
    mismatches = []
    # Cases that lock someone out run last, so they do not disturb the others.
    for method, path, body, expected in sorted(MATRIX, key=_locks_out):
        url = path.format(**world.ids)
        for who, status in expected.items():
            response = client.request(
                method, url, headers=world.headers[who], json=body() if body else None
            )
            if response.status_code != status:
                mismatches.append(
                    f"{who:<11} {method} {url} → {response.status_code}, "
                    f"expected {status}: {response.text[:120]}"
                )
            elif status >= 400:
                assert response.headers["content-type"] == "application/problem+json"
                if status == 401:
                    assert response.headers["www-authenticate"] == "Bearer"
    assert mismatches == []


def test_refusals_change_nothing(client, engine, settings) -> None:
    world = build_world(engine, settings)
    before = client.get("/api/v1/stations", headers=world.headers["admin"]).json()
    events = client.get("/api/v1/audit-events", headers=world.headers["admin"]).json()
    for who in ("auditor_p", "operator_a", "planner_q", "device_a", "revoked"):
        client.post(
            "/api/v1/stations/XA-A/clusters", headers=world.headers[who], json=new_cluster()
        )
        client.post("/api/v1/stations", headers=world.headers[who], json=new_station("TINH-P"))
    assert client.get("/api/v1/stations", headers=world.headers["admin"]).json() == before
    assert client.get("/api/v1/audit-events", headers=world.headers["admin"]).json() == events


def test_lists_show_only_what_is_in_scope(client, engine, settings) -> None:
    world = build_world(engine, settings)

    def codes(tree: list[dict]) -> set[str]:
        return {n["code"] for n in tree} | {c for n in tree for c in codes(n["children"])}

    def stations(who: str) -> set[str]:
        return codes(client.get("/api/v1/stations", headers=world.headers[who]).json())

    assert stations("admin") == {"TINH-P", "XA-A", "XA-B", "HUYEN-D", "XA-C", "TINH-Q", "XA-Q"}
    assert stations("planner_p") == {"TINH-P", "XA-A", "XA-B", "HUYEN-D", "XA-C"}
    assert stations("planner_d") == {"HUYEN-D", "XA-C"}
    assert stations("operator_a") == {"XA-A"}

    def titles(who: str) -> set[str]:
        items = client.get("/api/v1/content-items", headers=world.headers[who]).json()
        return {item["title"] for item in items}

    assert titles("operator_a") == {"Tin của TINH-P", "Tin của XA-A"}
    assert titles("operator_b") == {"Tin của TINH-P"}
    assert titles("planner_q") == {"Tin của TINH-Q"}

    users = client.get("/api/v1/users", headers=world.headers["planner_d"]).json()
    assert [u["username"] for u in users] == ["operator_c", "planner_d"]

    audit = client.get("/api/v1/audit-events", headers=world.headers["auditor_p"]).json()
    assert audit, "the auditor should see the writes made in their province"
    assert not any("TINH-Q" in str(e["change"]) or "XA-Q" in str(e["change"]) for e in audit)


def test_deactivation_and_password_change_end_existing_tokens(client, engine, settings) -> None:
    world = build_world(engine, settings)
    me = client.get("/api/v1/auth/me", headers=world.headers["operator_b"])
    assert me.status_code == 200
    done = client.post("/api/v1/users/operator_b/deactivate", headers=world.headers["planner_p"])
    assert done.status_code == 204
    assert client.get("/api/v1/auth/me", headers=world.headers["operator_b"]).status_code == 401
    login = client.post(
        "/api/v1/auth/token", data={"username": "operator_b", "password": "mật-khẩu-thử-nghiệm-123"}
    )
    assert login.status_code == 401

    revoke = client.delete(
        f"/api/v1/device-tokens/{world.ids['device_a']}", headers=world.headers["planner_p"]
    )
    assert revoke.status_code == 204
    assert client.get("/api/v1/auth/me", headers=world.headers["device_a"]).status_code == 401
    tokens = client.get(
        "/api/v1/stations/XA-A/device-tokens", headers=world.headers["planner_p"]
    ).json()
    revoked = {t["id"] for t in tokens if t["revoked_at"]}
    assert world.ids["device_a"] in revoked
    assert world.ids["device_spare"] not in revoked
    assert not any("token" in t for t in tokens)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_openapi_declares_both_security_schemes(client) -> None:
    schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["UserToken"]["type"] == "oauth2"
    assert schemes["UserToken"]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert schemes["DeviceToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["DeviceToken"]["description"],
    }
