"""One home per workflow: the emergency endpoint, limits defined once, the page guard, the
role menus and the report's period picker."""

import re
from datetime import date
from zoneinfo import ZoneInfo

from core.clock import utcnow
from core.limits import URL_MAX

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PASSWORD = "mật-khẩu-đủ-dài"
RELAY = "http://radio.example.vn/canh-bao"
ROMAN = ("I", "II", "III", "IV")


def _today() -> date:
    return utcnow().astimezone(ZONE).date()


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _login(client, username: str, next_page: str | None = None):
    data = {
        "username": username,
        "password": PASSWORD,
        "csrf_token": _csrf(client.get("/login").text),
    }
    if next_page is not None:
        data["next"] = next_page
    return client.post("/login", data=data, follow_redirects=False)


def _bookings(client, newsroom) -> list[dict]:
    answer = client.get("/api/v1/stations/XA-A/bookings", headers=newsroom.planner)
    assert answer.status_code == 200
    return answer.json()


def test_the_emergency_endpoint_interrupts_now_and_tells_the_devices(client, newsroom) -> None:
    cluster = client.post(
        "/api/v1/stations/XA-A/clusters",
        headers=newsroom.planner,
        json={"code": "BAN-A", "name": "Cụm loa bản A"},
    )
    assert cluster.status_code == 201, cluster.text
    device = client.post(
        "/api/v1/stations/XA-A/device-tokens", headers=newsroom.planner, json={"name": "Máy xã A"}
    ).json()["token"]
    bearer = {"Authorization": f"Bearer {device}"}
    body = {"source": "relay", "relay_url": RELAY, "duration_s": 300, "title": "Cảnh báo lũ quét"}

    # Who may not send one, and what is wrong with a bad one: each refused, nothing booked.
    assert client.post("/api/v1/stations/TINH-P/emergencies", json=body).status_code == 401
    for headers in (newsroom.operator, bearer):
        refused = client.post("/api/v1/stations/TINH-P/emergencies", headers=headers, json=body)
        assert refused.status_code == 403, refused.text
    missing = client.post(
        "/api/v1/stations/TINH-P/emergencies",
        headers=newsroom.planner,
        json={**body, "relay_url": None},
    )
    assert missing.status_code == 422
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert any(e.get("field") == "relay_url" for e in missing.json()["errors"])
    assert _bookings(client, newsroom) == []

    sent = client.post("/api/v1/stations/TINH-P/emergencies", headers=newsroom.planner, json=body)
    assert sent.status_code == 201, sent.text
    booking = sent.json()
    assert (booking["priority"], booking["subtree"], booking["station"]) == (
        "emergency",
        True,
        "TINH-P",
    )
    assert booking["notified_stations"] == 3  # the province and its two communes
    today = _today().isoformat()
    playlist = client.get(f"/api/v1/stations/XA-A/playlists/{today}", headers=bearer).json()
    urgent = [e for e in playlist["entries"] if e["booking_id"] == booking["id"]]
    assert [(e["priority"], e["relay"]["url"]) for e in urgent] == [("emergency", RELAY)]
    events = client.get("/api/v1/stations/XA-A/events?after=0", headers=bearer).json()
    assert [(e["kind"], e["booking_id"]) for e in events] == [("emergency", booking["id"])]

    schema = client.get("/openapi.json").json()["paths"]
    assert "post" in schema["/api/v1/stations/{code}/emergencies"]


def test_a_relay_address_over_the_limit_is_the_same_422_on_post_patch_and_the_page(
    client, newsroom
) -> None:
    windows = [{"days": list(range(7)), "start": "05:30", "end": "06:30"}]
    assert (
        client.patch(
            "/api/v1/stations/XA-A", headers=newsroom.planner, json={"windows": windows}
        ).status_code
        == 200
    )
    long_url = "http://radio.example.vn/" + "a" * (URL_MAX - 23)
    assert len(long_url) == URL_MAX + 1
    booking = {
        "station": "XA-A",
        "source": "relay",
        "relay_url": long_url,
        "duration_s": 600,
        "title": "Tiếp sóng VOV1",
        "recurrence": {"freq": "once", "start": "2030-01-07"},
        "at": "05:30",
    }
    posted = client.post("/api/v1/bookings", headers=newsroom.planner, json=booking)
    assert posted.status_code == 422, posted.text
    assert "relay_url" in posted.text
    assert _bookings(client, newsroom) == []

    kept = client.post(
        "/api/v1/bookings", headers=newsroom.planner, json={**booking, "relay_url": RELAY}
    )
    assert kept.status_code == 201, kept.text
    patched = client.patch(
        f"/api/v1/bookings/{kept.json()['id']}",
        headers=newsroom.planner,
        json={"relay_url": long_url},
    )
    assert patched.status_code == 422 and "relay_url" in patched.text
    assert [b["id"] for b in _bookings(client, newsroom)] == [kept.json()["id"]]

    assert _login(client, "alice").status_code == 303
    token = _csrf(client.get("/bookings/new").text)
    page = client.post(
        "/bookings/new",
        data={
            "csrf_token": token,
            "station": "XA-A",
            "source": "relay",
            "relay_url": long_url,
            "length": "10",
            "title": "Tiếp sóng VOV1",
            "timing": "at",
            "at": "05:30",
            "priority": "normal",
            "freq": "once",
            "start": "07/01/2030",
        },
    )
    assert page.status_code == 422
    assert f"dài không quá {URL_MAX} ký tự" in page.text
    assert len(_bookings(client, newsroom)) == 1


def test_a_page_asked_for_before_logging_in_opens_after_the_login(client, newsroom) -> None:
    asked = client.get("/bookings/new?station=XA-A", follow_redirects=False)
    assert asked.status_code == 303
    assert asked.headers["location"] == "/login?next=%2Fbookings%2Fnew%3Fstation%3DXA-A"
    login = client.get(asked.headers["location"]).text
    assert 'name="next" value="/bookings/new?station=XA-A"' in login
    # Only pages of this site: a login never leads elsewhere.
    assert 'name="next" value="/"' in client.get("/login?next=//evil.example/x").text
    done = _login(client, "alice", next_page="/bookings/new?station=XA-A")
    assert done.headers["location"] == "/bookings/new?station=XA-A"
    assert client.get(done.headers["location"]).status_code == 200


def test_every_page_shows_the_menu_of_its_role(client, newsroom) -> None:
    assert _login(client, "alice").status_code == 303
    for path in ("/", "/plans", "/items", "/jobs", "/stations/XA-A/calendar"):
        menu = re.search(r'<nav class="menu".*?</nav>', client.get(path).text, re.S).group(0)
        for link in ("/plans", "/calendar", "/jobs", "/reports/compliance", "/emergency/new"):
            assert f'href="{link}"' in menu, (path, link)
        assert 'href="/today"' not in menu  # planners have no one day of their own
    calendar = client.get("/calendar", follow_redirects=False)
    assert calendar.headers["location"].startswith("/stations/TINH-P/calendar")
    client.post("/logout", data={"csrf_token": _csrf(client.get("/").text)})

    assert _login(client, "vanhanh").status_code == 303
    menu = re.search(r'<nav class="menu".*?</nav>', client.get("/").text, re.S).group(0)
    assert 'href="/today"' in menu and 'href="/recordings/new"' in menu
    assert 'href="/plans"' not in menu and 'href="/reports/compliance"' not in menu
    today = client.get("/today", follow_redirects=False)
    assert today.headers["location"] == f"/stations/XA-A/day/{_today().isoformat()}"
    assert client.get(today.headers["location"]).status_code == 200


def test_the_report_period_is_picked_by_name_and_can_still_be_typed(client, newsroom) -> None:
    assert _login(client, "alice").status_code == 303
    today = _today()
    quarter = (today.month - 1) // 3 + 1
    form = client.get("/reports/compliance").text
    label = f"Quý {ROMAN[quarter - 1]}/{today.year}"
    assert f'<option value="{today.year}-Q{quarter}" selected>{label}</option>' in form
    assert f">6 tháng đầu năm {today.year}<" in form and f">Năm {today.year - 1}<" in form
    assert (
        f'<option value="{today.year}-{today.month:02d}">Tháng {today.month:02d}/{today.year}'
        in form
    )

    picked = client.get(
        "/reports/compliance", params={"station": "TINH-P", "period": f"{today.year}"}
    )
    assert picked.status_code == 200 and f"01/01/{today.year}" in picked.text
    typed = client.get(
        "/reports/compliance",
        params={
            "station": "TINH-P",
            "period": f"{today.year}",
            "period_other": "2025-07-01..2025-07-31",
        },
    )
    assert typed.status_code == 200 and "01/07/2025" in typed.text and "31/07/2025" in typed.text
    wrong = client.get(
        "/reports/compliance",
        params={"station": "TINH-P", "period_other": "2026-Q5", "period": "2026"},
    )
    assert wrong.status_code == 422 and 'id="error-period"' in wrong.text
    assert 'name="period_other" value="2026-Q5"' in wrong.text
