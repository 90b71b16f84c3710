"""A device's plain pull is answered by the fast path exactly as the documented route would."""

from datetime import date, timedelta

import pytest
from fastapi.security import HTTPAuthorizationCredentials
from sqlmodel import Session, select

from api import fastpath
from api.routes.playlists import _pull
from core.clock import utcnow
from core.models import DeviceToken
from scheduler.models import Playlist

WINDOWS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"}]
RELAY = {"kind": "relay", "url": "http://vov.example/kenh1", "title": "Tiếp sóng VOV1"}


@pytest.fixture
def devices(client, newsroom) -> dict:
    planner = newsroom.planner
    client.patch(
        "/api/v1/stations/XA-A", headers=planner, json={"windows": WINDOWS, "fallback": RELAY}
    )
    for code in ("BAN-A", "BAN-B"):
        client.post(
            "/api/v1/stations/XA-A/clusters", headers=planner, json={"code": code, "name": code}
        )

    def token(code: str, **body) -> dict:
        made = client.post(
            f"/api/v1/stations/{code}/device-tokens", headers=planner, json={"name": "x", **body}
        )
        assert made.status_code == 201, made.text
        return {"Authorization": f"Bearer {made.json()['token']}"}

    return {
        "station": token("XA-A"),
        "bound": token("XA-A", cluster="BAN-B"),
        "other": token("XA-B"),
    }


def _today() -> date:
    return utcnow().date()


def _url(day: date) -> str:
    return f"/api/v1/stations/XA-A/playlists/{day.isoformat()}"


def _route_answer(client, token: str, day: date, cluster: str | None, if_none_match: str = ""):
    """What the documented route answers this pull."""
    return _pull(
        client.app.state,
        code="XA-A",
        day=day,
        token=token,
        device=HTTPAuthorizationCredentials(scheme="Bearer", credentials=token),
        cluster=cluster,
        if_none_match=if_none_match,
        base="http://testserver",  # where the test client reaches the app
    )


@pytest.fixture
def answered(monkeypatch) -> list[bool]:
    """Whether the fast path answered each pull (False: it left it to the route)."""
    seen: list[bool] = []
    answer = fastpath.FastPull._answer

    async def watched(*args, **kwargs):
        response = await answer(*args, **kwargs)
        seen.append(response is not None)
        return response

    monkeypatch.setattr(fastpath.FastPull, "_answer", watched)
    return seen


@pytest.mark.parametrize(
    ("who", "query"),
    [("station", ""), ("station", "?cluster=BAN-A"), ("bound", ""), ("bound", "?cluster=BAN-B")],
)
def test_a_plain_pull_is_what_the_route_answers(client, devices, who, query, answered) -> None:
    headers = devices[who]
    made = client.get(_url(_today()) + query, headers=devices["station"])  # the day exists
    assert made.status_code == 200
    first = client.get(_url(_today()) + query, headers=headers)
    again = client.get(
        _url(_today()) + query, headers={**headers, "If-None-Match": first.headers["etag"]}
    )
    cluster = query.partition("=")[2] or None
    token = headers["Authorization"].split()[1]
    for response, if_none_match in ((first, ""), (again, first.headers["etag"])):
        expected = _route_answer(client, token, _today(), cluster, if_none_match)
        assert response.status_code == expected.status_code
        assert response.headers["etag"] == expected.headers["etag"]
        assert response.content == expected.body
        assert response.headers["x-content-type-options"] == "nosniff"
    assert (first.status_code, again.status_code) == (200, 304)
    assert answered == [False, True, True], "the route made the day, the fast path the rest"
    # The layers the fast path answers before would have added these: it adds them itself.
    same = {"etag", "content-length"}
    assert {k: v for k, v in first.headers.items() if k not in same} == {
        k: v for k, v in made.headers.items() if k not in same
    }
    if who == "bound":
        assert first.headers["etag"].endswith('-BAN-B"'), "a bound device gets its cluster"


def test_what_the_fast_path_does_not_answer_the_route_does(
    client, devices, engine, newsroom
) -> None:
    today = _today()
    assert client.get(_url(today), headers=devices["other"]).status_code == 403
    assert client.get(_url(today) + "?cluster=BAN-A", headers=devices["bound"]).status_code == 422
    assert client.get(_url(today) + "?cluster=b%20x", headers=devices["station"]).status_code == 422
    assert client.get(_url(date(2000, 1, 1)), headers=devices["station"]).status_code == 422
    unknown = "/api/v1/stations/XA-Z/playlists/" + today.isoformat()
    assert client.get(unknown, headers=devices["station"]).status_code == 404
    forged = {"Authorization": "Bearer ttd_not-a-token"}
    assert client.get(_url(today), headers=forged).status_code == 401
    # A day nobody made yet is made on the spot.
    later = client.get(_url(today + timedelta(days=2)), headers=devices["station"])
    assert later.status_code == 200 and later.json()["date"] == (today + timedelta(2)).isoformat()
    # A revoked token stops at once, however recently it pulled.
    assert client.get(_url(today), headers=devices["station"]).status_code == 200
    with Session(engine) as session:
        last = session.exec(select(DeviceToken).order_by(DeviceToken.id)).first()
    revoked = client.delete(f"/api/v1/device-tokens/{last.id}", headers=newsroom.planner)
    assert revoked.status_code == 204, revoked.text
    assert client.get(_url(today), headers=devices["station"]).status_code == 401


def test_the_fast_path_is_connected_before_the_first_pull(client) -> None:
    # Connected on the first pull, the whole first burst of a morning's storm waited.
    assert client.app.state.pull_asker.connection is not None


def test_a_fast_pull_notes_the_device_s_use(client, devices, engine) -> None:
    day = _url(_today())
    assert client.get(day, headers=devices["station"]).status_code == 200
    client.app.state.device_usage.flush(engine)
    with Session(engine) as session:
        first = session.exec(select(DeviceToken).order_by(DeviceToken.id)).first()
        assert first.last_used_at is not None


def test_a_day_that_changed_since_it_was_sent_is_sent_as_it_is_now(
    client, devices, engine, answered
) -> None:
    day = _url(_today())
    assert client.get(day, headers=devices["station"]).status_code == 200  # made by the route
    kept = client.get(day, headers=devices["station"]).json()  # sent, and kept, by the fast path
    # The same entries again after a change and its undoing: the ETag is the same, the
    # version and the time of making are not.
    later = utcnow() + timedelta(minutes=5)
    with Session(engine) as session:
        playlist = session.exec(select(Playlist).where(Playlist.day == _today())).one()
        playlist.version += 2
        playlist.generated_at = later
        session.add(playlist)
        session.commit()
    now = client.get(day, headers=devices["station"]).json()
    assert now["version"] == kept["version"] + 2
    assert now["generated_at"] == later.isoformat().replace("+00:00", "Z")
    assert now["entries"] == kept["entries"]
    assert answered == [False, True, True]


def test_recent_days_forget_the_least_recently_asked() -> None:
    recent = fastpath.RecentDays(size=2)
    recent.keep(("a",), 1)
    recent.keep(("b",), 2)
    assert recent.get(("a",)) == 1  # asked again: now the most recent
    recent.keep(("c",), 3)
    assert (recent.get(("a",)), recent.get(("b",)), recent.get(("c",))) == (1, None, 3)


def test_clusters_that_play_other_entries_are_sent_their_own_body(
    client, devices, newsroom, answered
) -> None:
    day = _today() + timedelta(days=2)
    for title, clusters, at in (("Cho bản A", ["BAN-A"], "05:40"), ("Cho cả xã", [], "05:50")):
        booked = client.post(
            "/api/v1/bookings",
            headers=newsroom.planner,
            json={
                "station": "XA-A",
                "source": "relay",
                "relay_url": "http://vov.example/kenh1",
                "duration_s": 300,
                "title": title,
                "clusters": clusters,
                "at": at,
                "recurrence": {"freq": "daily", "start": day.isoformat()},
            },
        )
        assert booked.status_code == 201, booked.text
    station = devices["station"]  # the bookings made the day
    token = station["Authorization"].split()[1]
    seen = {}
    for cluster in ("BAN-B", "BAN-A", None, "BAN-B"):
        response = client.get(
            _url(day) + (f"?cluster={cluster}" if cluster else ""), headers=station
        )
        assert response.content == _route_answer(client, token, day, cluster).body
        seen[cluster] = [e["title"] for e in response.json()["entries"] if "Cho" in e["title"]]
    assert seen == {
        "BAN-A": ["Cho bản A", "Cho cả xã"],
        "BAN-B": ["Cho cả xã"],
        None: seen["BAN-A"],
    }
    assert answered == [True, True, True, True]


def test_a_fast_pull_writes_the_last_use_only_when_the_one_on_record_is_old(
    client, devices, engine, answered
) -> None:
    day = _url(_today())
    assert client.get(day, headers=devices["station"]).status_code == 200  # made by the route
    usage = client.app.state.device_usage
    usage.flush(engine)
    for age, noted in ((timedelta(seconds=30), False), (timedelta(hours=2), True)):
        with Session(engine) as session:
            device = session.exec(select(DeviceToken).order_by(DeviceToken.id)).first()
            device.last_used_at = utcnow() - age
            session.add(device)
            session.commit()
            device_id = device.id
        assert client.get(day, headers=devices["station"]).status_code == 200
        assert (device_id in usage.pending) is noted
    assert answered == [False, True, True]
