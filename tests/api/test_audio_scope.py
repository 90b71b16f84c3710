"""Audio downloads reach only what the caller may read (issue 16).

A file is the caller's to fetch when a station in their scope plays it (a playlist, an
event, its fallback), when it was made for a station whose content they may read (an
item's rendering, a recording, a programme), or when they stored it themselves. An
admin fetches everything; a device only what its own station's playlists hold. Outside
that the answer is the 404 of a file that does not exist; signed links keep working.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from audio.models import AudioAsset
from audio.service import process_queue
from core.clock import utcnow
from core.db import session_scope
from core.identity import create_device_token, create_user, issue_access_token
from core.models import Role
from scheduler.models import Station, StationKind
from scheduler.service import create_station
from tests.audio.sounds import tone
from tests.newsroom import Newsroom, approved_item

WINDOWS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"}]


@dataclass
class Library:
    """Callers by name and the files each test fetches."""

    headers: dict[str, dict[str, str]]
    files: dict[str, str]  # what → sha256
    day: date  # the day XA-A's booking airs
    ids: dict[str, int]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _more_callers(engine, settings) -> dict[str, dict[str, str]]:
    headers = {}
    with session_scope(engine) as session:
        create_station(session, code="TINH-Q", name="Tỉnh Q", kind=StationKind.province)
        stations = {s.code: s for s in session.exec(select(Station))}
        for username, role, code in (
            ("quantri", Role.admin, None),
            ("kehoach.q", Role.planner, "TINH-Q"),
            ("thanhtra", Role.auditor, "TINH-P"),
        ):
            user = create_user(
                session,
                username=username,
                password="mật-khẩu-đủ-dài",
                role=role,
                station_id=stations[code].id if code else None,
            )
            headers[username] = _bearer(issue_access_token(settings=settings, user=user).token)
        for code in ("XA-A", "XA-B"):
            _, secret = create_device_token(
                session, station_id=stations[code].id, cluster_id=None, name="Máy", created_by="t"
            )
            headers[f"device {code}"] = _bearer(secret)
    return headers


@pytest.fixture
def library(client: TestClient, newsroom: Newsroom, engine, settings, tmp_path) -> Library:
    headers = {
        "alice": newsroom.planner,
        "vanhanh": newsroom.operator,
        "vanhanh.b": newsroom.other_operator,
        **_more_callers(engine, settings),
    }
    province_item = approved_item(engine, title="Tin của tỉnh", station="TINH-P")
    for item_id in (newsroom.item_id, province_item):
        client.post(f"/api/v1/content-items/{item_id}/render", headers=newsroom.planner)
    process_queue(engine, store=newsroom.store, worker="test")
    files = {}
    for what, item_id in (("aired item", newsroom.item_id), ("province item", province_item)):
        job = client.post(f"/api/v1/content-items/{item_id}/render", headers=newsroom.planner)
        files[what] = job.json()["asset"]["sha256"]
    client.patch("/api/v1/stations/XA-A", headers=newsroom.planner, json={"windows": WINDOWS})
    day = utcnow().date() + timedelta(days=2)
    booked = client.post(
        "/api/v1/bookings",
        headers=newsroom.planner,
        json={
            "station": "XA-A",
            "source": "item",
            "item_id": newsroom.item_id,
            "title": "Khai sinh trực tuyến",
            "at": "05:30",
            "recurrence": {"freq": "once", "start": day.isoformat()},
        },
    )
    assert booked.status_code == 201, booked.text
    # The province's item, rendered a month ago, aired on XA-A ten days ago and not since.
    with session_scope(engine) as session:
        rendered = session.get(AudioAsset, files["province item"])
        rendered.created_at -= timedelta(days=30)
    aired = client.post(
        "/api/v1/bookings",
        headers=newsroom.planner,
        json={
            "station": "XA-A",
            "source": "item",
            "item_id": province_item,
            "title": "Tin của tỉnh",
            "at": "05:30",
            "recurrence": {"freq": "once", "start": (day - timedelta(days=12)).isoformat()},
        },
    )
    assert aired.status_code == 201, aired.text
    past = client.get(
        f"/api/v1/stations/XA-A/playlists/{day - timedelta(days=12)}", headers=newsroom.planner
    )
    assert files["province item"] in past.text
    sound = tone(tmp_path / "ghi-am.wav", seconds=2, codec="wav")
    recording = client.post(
        f"/api/v1/content-items/{newsroom.item_id}/recordings",
        headers=newsroom.operator,
        data={"language": "blt", "speaker": "Lò Thị Hoa"},
        files={"file": (sound.name, sound.read_bytes(), "audio/wav")},
    )
    assert recording.status_code == 201, recording.text
    files["recording"] = recording.json()["broadcast"]["sha256"]
    ident = tone(tmp_path / "nhac-hieu.wav", seconds=3, codec="wav")  # other bytes, other file
    jingle = client.post(
        "/api/v1/stations/XA-A/jingles",
        headers=newsroom.planner,
        files={"file": (ident.name, ident.read_bytes(), "audio/wav")},
    )
    assert jingle.status_code == 201, jingle.text
    files["jingle"] = jingle.json()["sha256"]
    files["nothing"] = "0" * 64
    ids = {"item": newsroom.item_id, "recording": recording.json()["id"]}
    return Library(headers=headers, files=files, day=day, ids=ids)


# Who may fetch what: every other caller gets 404.
MAY = {
    "aired item": {"quantri", "alice", "thanhtra", "vanhanh", "device XA-A"},
    # Its province's content is a commune's to air, whether it airs it yet or not. XA-A
    # aired it ten days ago: its device fetches what is coming, not what has been.
    "province item": {"quantri", "alice", "thanhtra", "vanhanh", "vanhanh.b"},
    "recording": {"quantri", "alice", "thanhtra", "vanhanh"},
    "jingle": {"quantri", "alice"},  # stored by alice, in no programme yet
    "nothing": set(),
}


def test_audio_is_served_only_within_the_callers_scope(client, library) -> None:
    # The device of XA-A has pulled the day its booking airs, as an agent does.
    playlist = f"/api/v1/stations/XA-A/playlists/{library.day}"
    entries = client.get(playlist, headers=library.headers["device XA-A"]).json()["entries"]
    assert library.files["aired item"] in {e["audio"]["sha256"] for e in entries if "audio" in e}
    outcomes, expected = {}, {}
    for what, sha256 in library.files.items():
        for who, headers in library.headers.items():
            answer = client.get(f"/api/v1/audio/{sha256}", headers=headers)
            outcomes[what, who] = answer.status_code
            expected[what, who] = 200 if who in MAY[what] else 404
            if answer.status_code == 404:
                # Exactly the answer for a file that does not exist.
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.json()["detail"] == f"Không có tệp âm thanh {sha256[:16]}…."
    assert outcomes == expected


def test_a_signed_link_plays_without_a_token(client, library) -> None:
    m3u8 = client.get(
        f"/api/v1/stations/XA-A/playlists/{library.day}.m3u8", headers=library.headers["vanhanh"]
    )
    link = next(line for line in m3u8.text.splitlines() if "/api/v1/audio/" in line)
    url = urlsplit(link)
    played = client.get(f"{url.path}?{url.query}")
    assert played.status_code == 200
    assert url.path.endswith(library.files["aired item"])


def test_a_programme_cannot_borrow_audio_from_outside_its_makers_scope(client, library) -> None:
    # Named in a programme of theirs, another province's audio would become theirs to
    # download, and be mixed into a file they may download.
    other = library.headers["kehoach.q"]
    borrowed = {
        "a recording's file as a jingle": {"kind": "jingle", "sha256": library.files["recording"]},
        "another province's item": {"kind": "item", "item_id": library.ids["item"]},
        "another province's recording": {
            "kind": "recording",
            "recording_id": library.ids["recording"],
        },
        "an item id that is no number": {"kind": "item", "item_id": [1]},
    }
    for n, (what, part) in enumerate(borrowed.items()):
        answer = client.post(
            "/api/v1/stations/TINH-Q/programmes",
            headers=other,
            json={"title": f"Mượn {n}", "parts": [{"kind": "title"}, part]},
        )
        assert answer.status_code == 422, (what, answer.text)
        assert answer.json()["errors"] == [{"field": "parts[1]"}], what
    for sha256 in (library.files["recording"], library.files["aired item"]):
        assert client.get(f"/api/v1/audio/{sha256}", headers=other).status_code == 404
    # Within scope, the same parts are taken.
    own = client.post(
        "/api/v1/stations/XA-A/programmes",
        headers=library.headers["alice"],
        json={"title": "Của mình", "parts": [{"kind": "title"}, *list(borrowed.values())[:3]]},
    )
    assert own.status_code == 201, own.text
