"""Every write is attributed: a walk over every state-changing route of the app.

The rule applied to each route, checked on a real call:

- ATTRIBUTED: the call leaves at least one AuditEvent, and every event it leaves names
  the caller (kind, id and name). Most routes are this.
- SELF_RECORDED: airing reports (REST batch and the operator's confirmation form) are
  not in the audit trail; each AiringRecord is its own append-only, hash-chained record
  and carries who sent it (`recorded_by`, `source`). Heartbeats keep one DeviceStatus
  row per device, keyed by the device: a beat a minute from every cluster would drown
  the trail. The call must leave that record, naming the caller, and no event naming
  anyone else.
- NO_WRITE: the call changes no data (logging in and out, readings and previews, the
  emergency form's confirmation step); it must leave no event at all.

The walk fails if the app has a write route this table does not cover, so a new route
needs a decision here.
"""

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi.routing import iter_route_contexts
from sqlmodel import select

from audio.models import AudioAsset
from core.db import session_scope
from core.models import AuditEvent
from scheduler.models import AiringRecord, DeviceStatus
from scheduler.service import create_station, get_station, update_station
from tests.audio.sounds import tone
from tests.security.conftest import PASSWORD, csrf_of, events_after, last_event_id, today

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAMPLE_PLAN = Path(__file__).parents[2] / "api" / "samples" / "ke-hoach-mau.md"
STATIONS_CSV = (
    "station_code,station_name,kind,parent_code,cluster_code,cluster_name,zone_tags,"
    "languages,timezone\nXA-CSV,Xã nhập từ tệp,commune,TINH-P,,,,vie,Asia/Ho_Chi_Minh\n"
)


def write_routes(app) -> set[tuple[str, str]]:
    """Every (method, path) of the app that may change data."""
    found = set()
    for context in iter_route_contexts(app.routes):
        for method in getattr(context.original_route, "methods", None) or ():
            if method in WRITE_METHODS:
                found.add((method, context.path))
    return found


class Walk:
    """Calls routes and checks the rule for each; remembers which routes it covered."""

    def __init__(self, client, engine, town) -> None:
        self.client, self.engine, self.town = client, engine, town
        self.covered: set[tuple[str, str]] = set()

    def actor(self, who: str) -> tuple[str, int, str]:
        if who == "device_a":
            return ("device", self.town.ids["device_a"], "device:Bộ thu A")
        return ("user", self.town.ids[who], who)

    def _call(
        self, route: tuple[str, str], send: Callable[[], httpx.Response], status: int
    ) -> tuple[httpx.Response, list[AuditEvent]]:
        before = last_event_id(self.engine)
        response = send()
        assert response.status_code == status, (route, response.status_code, response.text)
        self.covered.add(route)
        return response, events_after(self.engine, before)

    def attributed(self, route, who, send, status=200) -> httpx.Response:
        response, events = self._call(route, send, status)
        assert events, f"{route}: no audit event"
        actors = {(e.actor_kind, e.actor_id, e.actor_name) for e in events}
        assert actors == {self.actor(who)}, (route, actors)
        return response

    def self_recorded(self, route, who, send, check, status=200) -> httpx.Response:
        response, events = self._call(route, send, status)
        actors = {(e.actor_kind, e.actor_id, e.actor_name) for e in events}
        assert actors <= {self.actor(who)}, (route, actors)
        check(response)
        return response

    def no_write(self, route, send, status=200) -> httpx.Response:
        response, events = self._call(route, send, status)
        assert events == [], (route, [(e.action, e.object_type, e.actor_name) for e in events])
        return response


def _airing_check(engine, client_id: str, recorded_by: str, source: str):
    def check(_response: httpx.Response) -> None:
        with session_scope(engine) as session:
            record = session.exec(
                select(AiringRecord).where(AiringRecord.client_id.like(client_id))
            ).one()
        assert (record.recorded_by, record.source) == (recorded_by, source)

    return check


ALL_DAY = [{"days": list(range(7)), "start": "00:00", "end": "23:59"}]


def test_every_write_route_is_attributed_to_its_caller(client, town, engine, tmp_path) -> None:
    walk = Walk(client, engine, town)
    h = town.headers
    day = today().isoformat()

    # ------------------------------------------------------------ REST, people
    walk.no_write(
        ("POST", "/api/v1/auth/token"),
        lambda: client.post(
            "/api/v1/auth/token", data={"username": "planner_p", "password": PASSWORD}
        ),
    )
    walk.attributed(
        ("POST", "/api/v1/stations"),
        "planner_p",
        lambda: client.post(
            "/api/v1/stations",
            headers=h["planner_p"],
            json={"code": "XA-MOI", "name": "Xã mới", "kind": "commune", "parent": "TINH-P"},
        ),
        201,
    )
    walk.attributed(
        ("POST", "/api/v1/stations/import"),
        "planner_p",
        lambda: client.post(
            "/api/v1/stations/import",
            headers={**h["planner_p"], "Content-Type": "text/csv"},
            content=STATIONS_CSV.encode(),
        ),
        201,
    )
    walk.attributed(
        ("PATCH", "/api/v1/stations/{code}"),
        "planner_p",
        lambda: client.patch(
            "/api/v1/stations/XA-MOI", headers=h["planner_p"], json={"name": "Xã mới đổi tên"}
        ),
    )
    walk.attributed(  # a province's policy: admins only
        ("PUT", "/api/v1/stations/{code}/retention"),
        "admin",
        lambda: client.put(
            "/api/v1/stations/TINH-P/retention", headers=h["admin"], json={"days": 800}
        ),
    )
    walk.attributed(
        ("POST", "/api/v1/stations/{code}/clusters"),
        "planner_p",
        lambda: client.post(
            "/api/v1/stations/XA-MOI/clusters",
            headers=h["planner_p"],
            json={"code": "CUM-MOI", "name": "Cụm mới", "zone_tags": []},
        ),
        201,
    )
    item = walk.attributed(
        ("POST", "/api/v1/content-items"),
        "planner_p",
        lambda: client.post(
            "/api/v1/content-items",
            headers=h["planner_p"],
            json={"station": "XA-A", "title": "Tin qua API", "body": "Nội dung."},
        ),
        201,
    ).json()["id"]
    walk.attributed(
        ("PATCH", "/api/v1/content-items/{item_id}"),
        "planner_p",
        lambda: client.patch(
            f"/api/v1/content-items/{item}", headers=h["planner_p"], json={"body": "Nội dung mới."}
        ),
    )
    walk.attributed(
        ("POST", "/api/v1/content-items/{item_id}/submit"),
        "planner_p",
        lambda: client.post(f"/api/v1/content-items/{item}/submit", headers=h["planner_p"]),
    )
    walk.attributed(  # the author may not approve their own words
        ("POST", "/api/v1/content-items/{item_id}/approve"),
        "admin",
        lambda: client.post(f"/api/v1/content-items/{item}/approve", headers=h["admin"]),
    )
    waiting = town.ids["item_waiting"]
    walk.attributed(
        ("POST", "/api/v1/content-items/{item_id}/return"),
        "planner_p",
        lambda: client.post(
            f"/api/v1/content-items/{waiting}/return",
            headers=h["planner_p"],
            json={"note": "Viết ngắn lại."},
        ),
    )
    walk.attributed(
        ("PUT", "/api/v1/stations/{code}/script-templates"),
        "planner_p",
        lambda: client.put(
            "/api/v1/stations/XA-A/script-templates",
            headers=h["planner_p"],
            json={"programme": "Chuyên mục CCHC", "text": "{{ title }}.\n{{ body }}"},
        ),
    )
    walk.no_write(
        ("POST", "/api/v1/reading"),
        lambda: client.post("/api/v1/reading", headers=h["operator_a"], json={"text": "UBND xã"}),
    )
    walk.no_write(
        ("POST", "/api/v1/script-preview"),
        lambda: client.post(
            "/api/v1/script-preview",
            headers=h["planner_p"],
            json={"station": "XA-A", "title": "Tin", "body": "Nội dung."},
        ),
    )
    walk.attributed(
        ("POST", "/api/v1/plans/import"),
        "planner_p",
        lambda: client.post(
            "/api/v1/plans/import?station=XA-A",
            headers={**h["planner_p"], "Content-Type": "text/markdown"},
            content=SAMPLE_PLAN.read_bytes(),
        ),
        201,
    )
    theme = walk.attributed(
        ("POST", "/api/v1/themes"),
        "planner_p",
        lambda: client.post("/api/v1/themes", headers=h["planner_p"], json={"name": "Chủ đề thử"}),
        201,
    ).json()["id"]
    walk.attributed(
        ("PUT", "/api/v1/themes/{theme_id}"),
        "planner_p",
        lambda: client.put(
            f"/api/v1/themes/{theme}", headers=h["planner_p"], json={"name": "Chủ đề đổi tên"}
        ),
    )
    walk.attributed(
        ("POST", "/api/v1/content-items/{item_id}/render"),
        "planner_p",
        lambda: client.post(f"/api/v1/content-items/{item}/render", headers=h["planner_p"]),
        202,
    )
    walk.attributed(
        ("POST", "/api/v1/content-items/{item_id}/archive"),
        "planner_p",
        lambda: client.post(f"/api/v1/content-items/{item}/archive", headers=h["planner_p"]),
    )
    sound = tone(tmp_path / "tieng-thai.mp3", seconds=1.2).read_bytes()
    walk.attributed(
        ("POST", "/api/v1/content-items/{item_id}/recordings"),
        "operator_a",
        lambda: client.post(
            f"/api/v1/content-items/{town.ids['item_XA-A']}/recordings",
            headers=h["operator_a"],
            data={"language": "blt", "speaker": "Lò Văn Pọm"},
            files={"file": ("tieng-thai.mp3", sound, "audio/mpeg")},
        ),
        201,
    )
    jingle = walk.attributed(
        ("POST", "/api/v1/stations/{code}/jingles"),
        "planner_p",
        lambda: client.post(
            "/api/v1/stations/XA-A/jingles",
            headers=h["planner_p"],
            files={"file": ("nhac-hieu.mp3", tone(tmp_path / "j.mp3", seconds=1.5).read_bytes())},
        ),
        201,
    ).json()["sha256"]
    programme = walk.attributed(
        ("POST", "/api/v1/stations/{code}/programmes"),
        "planner_p",
        lambda: client.post(
            "/api/v1/stations/XA-A/programmes",
            headers=h["planner_p"],
            json={"title": "Chương trình thử", "parts": [{"kind": "jingle", "sha256": jingle}]},
        ),
        201,
    ).json()["id"]
    walk.attributed(
        ("POST", "/api/v1/programmes/{programme_id}/assemble"),
        "planner_p",
        lambda: client.post(f"/api/v1/programmes/{programme}/assemble", headers=h["planner_p"]),
    )
    booking = walk.attributed(
        ("POST", "/api/v1/bookings"),
        "planner_p",
        lambda: client.post(
            "/api/v1/bookings",
            headers=h["planner_p"],
            json={
                "station": "XA-A",
                "source": "relay",
                "relay_url": "http://vov.example/vov1",
                "duration_s": 600,
                "title": "Tiếp sóng VOV1",
                "at": "05:40",
                "recurrence": {"freq": "weekly", "start": day, "weekdays": [0, 3]},
            },
        ),
        201,
    ).json()["id"]
    walk.attributed(
        ("PATCH", "/api/v1/bookings/{booking_id}"),
        "planner_p",
        lambda: client.patch(
            f"/api/v1/bookings/{booking}", headers=h["planner_p"], json={"title": "VOV1 sáng"}
        ),
    )
    walk.attributed(
        ("DELETE", "/api/v1/bookings/{booking_id}"),
        "planner_p",
        lambda: client.delete(f"/api/v1/bookings/{booking}", headers=h["planner_p"]),
        204,
    )
    walk.attributed(
        ("POST", "/api/v1/stations/{code}/emergencies"),
        "planner_p",
        lambda: client.post(
            "/api/v1/stations/XA-B/emergencies",
            headers=h["planner_p"],
            json={
                "source": "relay",
                "relay_url": "http://vov.example/canh-bao",
                "duration_s": 120,
                "title": "Cảnh báo lũ",
                "subtree": False,
            },
        ),
        201,
    )
    walk.attributed(
        ("POST", "/api/v1/users"),
        "planner_p",
        lambda: client.post(
            "/api/v1/users",
            headers=h["planner_p"],
            json={
                "username": "van.hanh.moi",
                "password": "mật-khẩu-đủ-dài-123",
                "role": "operator",
                "station": "XA-A",
            },
        ),
        201,
    )
    walk.attributed(
        ("POST", "/api/v1/users/{username}/deactivate"),
        "planner_p",
        lambda: client.post("/api/v1/users/van.hanh.moi/deactivate", headers=h["planner_p"]),
        204,
    )
    device = walk.attributed(
        ("POST", "/api/v1/stations/{code}/device-tokens"),
        "planner_p",
        lambda: client.post(
            "/api/v1/stations/XA-A/device-tokens", headers=h["planner_p"], json={"name": "Bộ thu"}
        ),
        201,
    ).json()["id"]
    walk.attributed(
        ("DELETE", "/api/v1/device-tokens/{token_id}"),
        "planner_p",
        lambda: client.delete(f"/api/v1/device-tokens/{device}", headers=h["planner_p"]),
        204,
    )

    # ------------------------------------------------------------ REST, devices
    pulled = client.get(f"/api/v1/stations/XA-A/playlists/{day}", headers=h["device_a"])
    assert pulled.status_code == 200, pulled.text
    entry = pulled.json()["entries"][0]["id"]
    walk.self_recorded(
        ("POST", "/api/v1/stations/{code}/airings"),
        "device_a",
        lambda: client.post(
            "/api/v1/stations/XA-A/airings",
            headers=h["device_a"],
            json={
                "records": [
                    {
                        "id": "thiet-bi-1",
                        "entry_id": entry,
                        "status": "failed",
                        "reason": "mất điện",
                    }
                ]
            },
        ),
        _airing_check(engine, "thiet-bi-1", "device:Bộ thu A", "device"),
    )

    def beat_kept(_response: httpx.Response) -> None:
        with session_scope(engine) as session:
            status = session.get(DeviceStatus, town.ids["device_a"])
        assert status is not None and status.volume == 70

    walk.self_recorded(
        ("POST", "/api/v1/stations/{code}/heartbeats"),
        "device_a",
        lambda: client.post(
            "/api/v1/stations/XA-A/heartbeats", headers=h["device_a"], json={"volume": 70}
        ),
        beat_kept,
        204,
    )

    # ------------------------------------------------------------ web pages, a planner
    token = csrf_of(client.get("/login").text)
    walk.no_write(
        ("POST", "/login"),
        lambda: client.post(
            "/login",
            data={"username": "planner_p", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        ),
        303,
    )
    csrf = csrf_of(client.get("/").text)
    text = SAMPLE_PLAN.read_text(encoding="utf-8").replace("2024", "2025")
    preview = client.post(
        "/plans/import", data={"csrf_token": csrf, "station": "XA-A", "text": text}
    )
    assert preview.status_code == 200, preview.text
    previewed = _hidden(preview.text, "previewed")
    walk.attributed(
        ("POST", "/plans/import"),
        "planner_p",
        lambda: client.post(
            "/plans/import",
            data={
                "csrf_token": csrf,
                "station": "XA-A",
                "text": text,
                "previewed": previewed,
                "action": "save",
            },
            follow_redirects=False,
        ),
        303,
    )
    created = walk.attributed(
        ("POST", "/items/new"),
        "planner_p",
        lambda: client.post(
            "/items/new",
            data={"csrf_token": csrf, "station": "XA-A", "title": "Tin trên trang", "body": "Lời."},
            follow_redirects=False,
        ),
        303,
    )
    web_item = int(created.headers["location"].split("/")[2].split("?")[0])
    walk.attributed(
        ("POST", "/items/{item_id:int}/edit"),
        "planner_p",
        lambda: client.post(
            f"/items/{web_item}/edit",
            data={"csrf_token": csrf, "title": "Tin trên trang", "body": "Lời mới."},
            follow_redirects=False,
        ),
        303,
    )
    walk.attributed(
        ("POST", "/items/{item_id:int}/{step}"),
        "planner_p",
        lambda: client.post(
            f"/items/{web_item}/submit", data={"csrf_token": csrf}, follow_redirects=False
        ),
        303,
    )
    walk.attributed(
        ("POST", "/items/{item_id:int}/{step}"),
        "planner_p",
        lambda: client.post(
            f"/items/{web_item}/return",
            data={"csrf_token": csrf, "note": "Thêm giờ làm việc."},
            follow_redirects=False,
        ),
        303,
    )
    resubmitted = client.post(f"/api/v1/content-items/{waiting}/submit", headers=h["planner_p"])
    assert resubmitted.status_code == 200, resubmitted.text
    walk.attributed(  # written by someone else: the planner may approve it
        ("POST", "/items/{item_id:int}/{step}"),
        "planner_p",
        lambda: client.post(
            f"/items/{waiting}/approve", data={"csrf_token": csrf}, follow_redirects=False
        ),
        303,
    )
    walk.attributed(
        ("POST", "/items/{item_id:int}/{step}"),
        "planner_p",
        lambda: client.post(
            f"/items/{waiting}/render", data={"csrf_token": csrf}, follow_redirects=False
        ),
        303,
    )
    walk.attributed(
        ("POST", "/items/{item_id:int}/{step}"),
        "planner_p",
        lambda: client.post(
            f"/items/{web_item}/archive", data={"csrf_token": csrf}, follow_redirects=False
        ),
        303,
    )
    start = (today() + timedelta(days=14)).strftime("%d/%m/%Y")
    relay = {
        "csrf_token": csrf,
        "station": "XA-A",
        "source": "relay",
        "relay_url": "http://vov.example/vov1",
        "length": "10",
        "title": "Tiếp sóng thời sự",
        "timing": "at",
        "at": "05:30",
        "priority": "normal",
        "freq": "weekly",
        "weekdays": ["2"],
        "interval": "1",
        "start": start,
    }
    booked = walk.attributed(
        ("POST", "/bookings/new"),
        "planner_p",
        lambda: client.post("/bookings/new", data=relay, follow_redirects=False),
        303,
    )
    web_booking = booked.headers["location"].rsplit("/", 1)[1]
    walk.attributed(
        ("POST", "/bookings/{booking_id}/edit"),
        "planner_p",
        lambda: client.post(
            f"/bookings/{web_booking}/edit",
            data={**relay, "title": "Tiếp sóng thời sự sáng"},
            follow_redirects=False,
        ),
        303,
    )
    walk.attributed(
        ("POST", "/bookings/{booking_id}/cancel"),
        "planner_p",
        lambda: client.post(
            f"/bookings/{web_booking}/cancel", data={"csrf_token": csrf}, follow_redirects=False
        ),
        303,
    )
    urgent = {
        "csrf_token": csrf,
        "station": "XA-A",
        "source": "relay",
        "relay_url": "http://radio.example.vn/canh-bao",
        "length": "5",
        "title": "Cảnh báo lũ quét",
    }
    walk.no_write(("POST", "/emergency/new"), lambda: client.post("/emergency/new", data=urgent))
    walk.attributed(
        ("POST", "/emergency"),
        "planner_p",
        lambda: client.post("/emergency", data=urgent, follow_redirects=False),
        303,
    )
    walk.no_write(
        ("POST", "/logout"),
        lambda: client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False),
        303,
    )

    # ------------------------------------------------------------ web pages, an operator
    token = csrf_of(client.get("/login").text)
    logged_in = client.post(
        "/login",
        data={"username": "operator_a", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert logged_in.status_code == 303
    csrf = csrf_of(client.get("/").text)
    walk.self_recorded(
        ("POST", "/stations/{code}/day/{day}/airings"),
        "operator_a",
        lambda: client.post(
            f"/stations/XA-A/day/{day}/airings",
            data={"csrf_token": csrf, "entry_id": entry, "status": "skipped", "reason": "mưa to"},
            follow_redirects=False,
        ),
        _airing_check(engine, "web-%", "operator_a", "operator"),
        303,
    )
    walk.attributed(
        ("POST", "/recordings/new"),
        "operator_a",
        lambda: client.post(
            "/recordings/new",
            data={
                "csrf_token": csrf,
                "item": str(town.ids["item_XA-A"]),
                "language": "hnj",
                "speaker": "Giàng A Páo",
            },
            files={"file": ("tieng-mong.mp3", tone(tmp_path / "m.mp3", seconds=1.4).read_bytes())},
        ),
    )

    _air_it_now_and_merge(walk, client, engine, tmp_path)

    with session_scope(engine) as session:
        assert session.exec(select(AudioAsset)).first() is not None
    assert walk.covered == write_routes(client.app), "every write route needs a rule here"


def _hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def _air_it_now_and_merge(walk: Walk, client, engine, tmp_path: Path) -> None:
    """Announcements, live sessions and merges, by the REST API and by their pages."""
    planner = walk.town.headers["planner_p"]
    with session_scope(engine, write=True) as session:
        # Live goes on air now: XA-MOI airs all day and has no emergency running.
        update_station(
            session, station=get_station(session, code="XA-MOI"), changes={"windows": ALL_DAY}
        )
        create_station(session, code="XA-GOP", name="Xã gộp", kind="commune", parent_code="TINH-P")
    walk.attributed(
        ("POST", "/api/v1/stations/{code}/announcements"),
        "planner_p",
        lambda: client.post(
            "/api/v1/stations/XA-A/announcements",
            headers=planner,
            data={"title": "Thông báo họp thôn", "priority": "normal"},
            files={"file": ("hop.mp3", tone(tmp_path / "a.mp3", seconds=3).read_bytes())},
        ),
        201,
    )
    stream = tone(tmp_path / "live.mp3", seconds=3).read_bytes()
    live = walk.attributed(
        ("POST", "/api/v1/stations/{code}/live"),
        "planner_p",
        lambda: client.post(
            "/api/v1/stations/XA-MOI/live", headers=planner, json={"title": "Họp dân khẩn"}
        ),
        201,
    ).json()
    walk.attributed(
        ("PUT", "/api/v1/stations/{code}/live/{live_id}/ingest"),
        "planner_p",
        lambda: client.put(live["ingest"], headers=planner, content=stream),
        204,
    )
    live = client.post(
        "/api/v1/stations/XA-MOI/live", headers=planner, json={"title": "Họp dân lần hai"}
    ).json()
    # A chunk writes nothing itself; going on air (a moment later) is the sender's.
    walk.self_recorded(
        ("POST", "/api/v1/stations/{code}/live/{live_id}/ingest"),
        "planner_p",
        lambda: client.post(live["ingest"], headers=planner, content=stream),
        lambda _response: None,
        204,
    )
    walk.attributed(
        ("DELETE", "/api/v1/stations/{code}/live/{live_id}"),
        "planner_p",
        lambda: client.delete(f"/api/v1/stations/XA-MOI/live/{live['id']}", headers=planner),
    )

    token = csrf_of(client.get("/login").text)
    logged_in = client.post(
        "/login",
        data={"username": "planner_p", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert logged_in.status_code == 303
    csrf = csrf_of(client.get("/").text)
    walk.attributed(
        ("POST", "/announcements/new"),
        "planner_p",
        lambda: client.post(
            "/announcements/new",
            data={"csrf_token": csrf, "station": "XA-A", "title": "Loa thôn", "priority": "normal"},
            files={"file": ("loa.mp3", tone(tmp_path / "b.mp3", seconds=2.5).read_bytes())},
        ),
    )
    opened = walk.attributed(
        ("POST", "/live/new"),
        "planner_p",
        lambda: client.post(
            "/live/new", data={"csrf_token": csrf, "station": "XA-MOI", "title": "Nói trực tiếp"}
        ),
        201,
    ).json()
    walk.self_recorded(
        ("POST", "/live/{live_id}/chunks"),
        "planner_p",
        lambda: client.post(opened["chunks"], content=stream, headers={"X-CSRF-Token": csrf}),
        lambda _response: None,
    )
    walk.attributed(
        ("POST", "/live/{live_id}/end"),
        "planner_p",
        lambda: client.post(opened["end"], headers={"X-CSRF-Token": csrf}),
    )
    walk.attributed(
        ("POST", "/stations/{code}/merge"),
        "planner_p",
        lambda: client.post("/stations/XA-GOP/merge", data={"csrf_token": csrf, "into": "XA-B"}),
    )
    walk.attributed(
        ("POST", "/api/v1/stations/{code}/merge"),
        "planner_p",
        lambda: client.post(
            "/api/v1/stations/XA-MOI/merge", headers=planner, json={"into": "XA-B"}
        ),
    )
