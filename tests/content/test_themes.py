"""Themes belong to the station that made them: one province cannot rename another's.

The starting themes are shared by every province and only admins edit them; a planner
edits the themes of stations within their scope and sees those and the ones above it.
"""

import html
import re

import pytest
from sqlmodel import select

from content.models import Theme
from core.db import session_scope
from tests.api.world import PASSWORD, World, build_world

SHARED = "Cải cách thủ tục hành chính"  # one of the starting themes (migration 0002)


@pytest.fixture
def world(engine, settings) -> World:
    return build_world(engine, settings)


def _names(client, world: World, who: str) -> dict[str, str | None]:
    answer = client.get("/api/v1/themes", headers=world.headers[who])
    assert answer.status_code == 200, answer.text
    return {t["name"]: t["station"] for t in answer.json()}


def _shared_id(engine) -> int:
    with session_scope(engine) as session:
        return session.exec(select(Theme.id).where(Theme.name == SHARED)).one()


def _add(client, world: World, who: str, **body) -> dict:
    answer = client.post("/api/v1/themes", headers=world.headers[who], json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _rename(client, world: World, who: str, theme_id: int, name: str):
    return client.put(f"/api/v1/themes/{theme_id}", headers=world.headers[who], json={"name": name})


def _problem(answer, status: int) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    return answer.json()["detail"]


def test_another_province_cannot_rename_a_shared_theme_and_reports_keep_its_name(
    client, world, engine
) -> None:
    shared = _shared_id(engine)
    for planner in ("planner_q", "planner_p", "planner_d"):
        refused = _rename(client, world, planner, shared, "Chủ đề bị đổi tên")
        assert "chỉ quản trị viên sửa được" in _problem(refused, 403)
    assert _names(client, world, "planner_p")[SHARED] is None
    with session_scope(engine) as session:
        assert session.get(Theme, shared).name == SHARED
    renamed = _rename(client, world, "admin", shared, "Cải cách TTHC")
    assert renamed.status_code == 200, renamed.text
    assert renamed.json() == {
        "id": shared,
        "name": "Cải cách TTHC",
        "parent_id": None,
        "station": None,
    }


def test_themes_belong_to_their_station_and_are_edited_within_its_scope(
    client, world, engine
) -> None:
    shared = _shared_id(engine)
    own_p = _add(client, world, "planner_p", name="Chuyển đổi số", parent_id=shared)
    assert (own_p["station"], own_p["parent_id"]) == ("TINH-P", shared)
    # Each province names its own themes: the same name is no clash across provinces.
    own_q = _add(client, world, "planner_q", name="Chuyển đổi số")
    assert own_q["station"] == "TINH-Q"
    commune = _add(client, world, "planner_p", name="Tin của xã A", station="XA-A")
    assert commune["station"] == "XA-A"
    outside = client.post(
        "/api/v1/themes", headers=world.headers["planner_p"], json={"name": "X", "station": "XA-Q"}
    )
    _problem(outside, 403)
    # A shared name, or one the station already has, is taken.
    for name in (SHARED, "Chuyển  đổi số"):
        taken = client.post(
            "/api/v1/themes", headers=world.headers["planner_p"], json={"name": name}
        )
        _problem(taken, 409)

    # Listing: the shared themes, those of the caller's scope and of the stations above it.
    seen_q = _names(client, world, "planner_q")
    assert seen_q[SHARED] is None and seen_q["Chuyển đổi số"] == "TINH-Q"
    assert "Tin của xã A" not in seen_q
    seen_p = _names(client, world, "planner_p")
    assert seen_p["Chuyển đổi số"] == "TINH-P" and seen_p["Tin của xã A"] == "XA-A"
    seen_district = _names(client, world, "planner_d")
    assert seen_district["Chuyển đổi số"] == "TINH-P" and "Tin của xã A" not in seen_district
    assert len(_names(client, world, "operator_a")) == len(seen_p)

    # Another province's theme is not there to edit or to hang a theme under.
    hidden = _rename(client, world, "planner_q", own_p["id"], "Đổi tên từ tỉnh Q")
    _problem(hidden, 404)
    under = client.post(
        "/api/v1/themes",
        headers=world.headers["planner_q"],
        json={"name": "Con", "parent_id": own_p["id"]},
    )
    _problem(under, 422)
    # A district reads its province's theme but does not edit it.
    above = _rename(client, world, "planner_d", own_p["id"], "Đổi tên từ huyện")
    assert "ngoài phạm vi" in _problem(above, 403)
    with session_scope(engine) as session:
        assert session.get(Theme, own_p["id"]).name == "Chuyển đổi số"

    assert _rename(client, world, "planner_p", commune["id"], "Tin xã A").status_code == 200
    assert _rename(client, world, "planner_p", own_p["id"], "Chuyển đổi số 2026").status_code == 200
    assert _rename(client, world, "admin", own_q["id"], "Chuyển đổi số tỉnh Q").status_code == 200
    assert _names(client, world, "planner_p")["Chuyển đổi số 2026"] == "TINH-P"


def test_items_take_only_themes_their_author_can_see(client, world, engine) -> None:
    own_p = _add(client, world, "planner_p", name="Chuyển đổi số")
    item = {"station": "XA-Q", "title": "Tin tỉnh Q", "body": "Nội dung thử."}
    foreign = client.post(
        "/api/v1/content-items",
        headers=world.headers["planner_q"],
        json={**item, "theme_id": own_p["id"]},
    )
    assert "chủ đề số" in _problem(foreign, 422)
    shared = client.post(
        "/api/v1/content-items",
        headers=world.headers["planner_q"],
        json={**item, "theme_id": _shared_id(engine)},
    )
    assert shared.status_code == 201, shared.text
    ours = client.post(
        "/api/v1/content-items",
        headers=world.headers["planner_p"],
        json={**item, "station": "XA-A", "theme_id": own_p["id"]},
    )
    assert ours.status_code == 201, ours.text


def _login(client, username: str) -> None:
    client.cookies.clear()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def test_pages_offer_only_the_themes_the_planner_can_see(client, world) -> None:
    _add(client, world, "planner_p", name="Chủ đề riêng tỉnh P")
    _login(client, "planner_q")
    for path in ("/items/new", "/items", "/reports/compliance?station=TINH-Q"):
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        options = [
            html.unescape(o) for o in re.findall(r"<option [^>]*>([^<]*)</option>", page.text)
        ]
        assert SHARED in options, path
        assert "Chủ đề riêng tỉnh P" not in options, path
