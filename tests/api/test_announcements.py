"""Recorded announcements: each priority booked where it belongs, bad recordings refused with
the reason and nothing kept, who may air what where, and retries that book once."""

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from audio.models import AudioAsset, Programme
from core.clock import utcnow
from core.db import session_scope
from scheduler.models import Booking, StationEvent
from scheduler.service import add_cluster, get_station, update_station
from tests.audio.sounds import silence, tone

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
URL = "/api/v1/stations/XA-A/announcements"
EVENING = [{"days": list(range(7)), "start": "19:00", "end": "20:00"}]


def _now() -> datetime:
    return utcnow().astimezone(ZONE)


@pytest.fixture
def commune(engine, newsroom):
    """XA-A airs 19:00-20:00 with clusters BAN-A and BAN-B; its operator may announce."""
    with session_scope(engine, write=True) as session:
        station = get_station(session, code="XA-A")
        update_station(
            session, station=station, changes={"windows": EVENING, "two_person_approval": False}
        )
        for code in ("BAN-A", "BAN-B"):
            add_cluster(session, station=station, code=code, name=f"Cụm {code}", zone_tags=[])
    return newsroom


@pytest.fixture
def speech(tmp_path) -> bytes:
    return tone(tmp_path / "speech.mp3", seconds=4).read_bytes()


def _send(client, headers, audio: bytes, *, key: str | None = None, **fields):
    form = {"title": "Thông báo họp dân", **fields}
    if key:
        headers = {**headers, "Idempotency-Key": key}
    return client.post(
        URL, headers=headers, data=form, files={"file": ("ghi-am.mp3", audio, "audio/mpeg")}
    )


def _counts(engine, store_root: Path) -> tuple[int, int, int, int]:
    with session_scope(engine) as session:
        rows = tuple(
            session.exec(select(func.count()).select_from(model)).one()
            for model in (AudioAsset, Programme, Booking)
        )
    files = sum(1 for p in store_root.rglob("*") if p.is_file() and ".tmp" not in p.parts)
    return (*rows, files)


def _first_session(day: date) -> datetime:
    return datetime.combine(day, datetime.strptime("19:00", "%H:%M").time(), ZONE)


def test_each_priority_is_booked_where_it_belongs(client, commune, speech, engine) -> None:
    now = _now()
    # Normal: the first day not yet frozen (a day freezes two hours before its session).
    normal = _send(client, commune.operator, speech)
    assert normal.status_code == 201, normal.text
    body = normal.json()
    first_free = now.date() if now < _first_session(now.date()) - timedelta(hours=2) else None
    day = first_free or now.date() + timedelta(days=1)
    assert datetime.fromisoformat(body["airs_at"]) == _first_session(day)
    assert body["priority"] == "normal" and body["clusters"] == ["*"]
    assert 3.5 < body["duration_s"] < 4.5
    assert body["audio"]["format"] == "mp3"

    # A second normal one follows it; a priority one leads the next session, before both.
    second = _send(client, commune.operator, speech, title="Lịch tiêm phòng").json()
    assert datetime.fromisoformat(second["airs_at"]) >= datetime.fromisoformat(body["ends_at"])
    urgent = _send(client, commune.operator, speech, title="Mất điện", priority="priority")
    assert urgent.status_code == 201, urgent.text
    led = urgent.json()
    next_session = _first_session(now.date())
    if next_session < now + timedelta(seconds=30):
        next_session = _first_session(now.date() + timedelta(days=1))
    assert datetime.fromisoformat(led["airs_at"]) == next_session
    if day == next_session.date():
        playlist = client.get(
            f"/api/v1/stations/XA-A/playlists/{day.isoformat()}", headers=commune.operator
        ).json()
        order = [e["booking_id"] for e in playlist["entries"] if e["booking_id"]]
        assert order == [led["booking_id"], body["booking_id"], second["booking_id"]]

    # Emergency, on one cluster: now, and the devices are told at once.
    before = _now()
    alarm = _send(
        client, commune.planner, speech, title="Lũ quét", priority="emergency", clusters="BAN-A"
    )
    assert alarm.status_code == 201, alarm.text
    sent = alarm.json()
    assert sent["clusters"] == ["BAN-A"] and sent["notified_stations"] == 1
    started = datetime.fromisoformat(sent["airs_at"])
    # It airs from the minute it was sent in, which may be the minute after `before`.
    assert before.replace(second=0, microsecond=0) <= started <= _now()
    playlist = client.get(
        f"/api/v1/stations/XA-A/playlists/{started.date().isoformat()}?cluster=BAN-A",
        headers=commune.operator,
    ).json()
    entry = next(e for e in playlist["entries"] if e["booking_id"] == sent["booking_id"])
    assert entry["audio"]["sha256"] == sent["audio"]["sha256"]
    with session_scope(engine) as session:
        events = session.exec(select(StationEvent)).all()
    assert [(e.kind, e.payload["booking_id"]) for e in events] == [
        ("emergency", sent["booking_id"])
    ]
    # The file is the devices' to fetch.
    device = client.post(
        "/api/v1/stations/XA-A/device-tokens", headers=commune.planner, json={"name": "Máy xã"}
    ).json()["token"]
    audio = client.get(
        f"/api/v1/audio/{sent['audio']['sha256']}", headers={"Authorization": f"Bearer {device}"}
    )
    assert audio.status_code == 200 and audio.content[:3] in (b"ID3", b"\xff\xfb")

    schema = client.get("/openapi.json").json()["paths"][URL.replace("XA-A", "{code}")]
    assert "multipart/form-data" in schema["post"]["requestBody"]["content"]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("silent", "im lặng"),
        ("short", "quá ngắn"),
        ("text", "không phải âm thanh"),
        ("fake", "không phải âm thanh"),
    ],
)
def test_a_bad_recording_is_refused_with_the_reason_and_nothing_kept(
    client, commune, engine, settings, tmp_path, kind, reason
) -> None:
    audio = {
        "silent": lambda: silence(tmp_path / "s.wav", seconds=3).read_bytes(),
        "short": lambda: tone(tmp_path / "t.mp3", seconds=0.4).read_bytes(),
        "text": lambda: "Xin chào bà con".encode(),
        # Looks like MP3 in its first bytes, but is no audio at all.
        "fake": lambda: b"ID3" + b"\x00" * 2000,
    }[kind]()
    before = _counts(engine, settings.media_path)
    refused = _send(client, commune.operator, audio)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert reason in refused.json()["detail"]
    assert _counts(engine, settings.media_path) == before


def test_bad_fields_are_refused_before_the_audio_is_kept(client, commune, speech, engine, settings):
    before = _counts(engine, settings.media_path)
    for fields, field in (
        ({"title": " "}, "title"),
        ({"priority": "urgent"}, "priority"),
        ({"clusters": "BAN-Z"}, "clusters"),
    ):
        refused = _send(client, commune.operator, speech, **fields)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field]
    assert _counts(engine, settings.media_path) == before


def test_who_may_air_what_where(client, commune, speech, engine, settings) -> None:
    before = _counts(engine, settings.media_path)
    # Another commune's operator, an operator's emergency, a device: 403, nothing kept.
    device = client.post(
        "/api/v1/stations/XA-A/device-tokens", headers=commune.planner, json={"name": "Máy xã"}
    ).json()["token"]
    for headers, fields in (
        (commune.other_operator, {}),
        (commune.operator, {"priority": "emergency"}),
        ({"Authorization": f"Bearer {device}"}, {}),
    ):
        refused = _send(client, headers, speech, **fields)
        assert refused.status_code == 403, refused.text
    assert _send(client, {}, speech).status_code == 401
    # Where a second person must approve what airs, an operator cannot air alone.
    with session_scope(engine, write=True) as session:
        station = get_station(session, code="XA-A")
        update_station(session, station=station, changes={"two_person_approval": True})
    refused = _send(client, commune.operator, speech)
    assert refused.status_code == 403 and "duyệt" in refused.json()["detail"]
    assert _counts(engine, settings.media_path)[:3] == before[:3]
    # A planner in scope may, there too.
    assert _send(client, commune.planner, speech).status_code == 201


def test_a_retry_with_the_same_key_books_once(client, commune, speech, engine) -> None:
    first = _send(client, commune.operator, speech, key="ghi-am-1")
    again = _send(client, commune.operator, speech, key="ghi-am-1")
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(Booking)).one() == 1
    # The same key for another recording is a mistake, said as such.
    other = _send(client, commune.operator, speech, key="ghi-am-1", title="Khác")
    assert other.status_code == 422 and "Idempotency-Key" in other.text
    # Without a key, sending twice means airing twice.
    assert _send(client, commune.operator, speech).status_code == 201
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(Booking)).one() == 2


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_page_sends_a_recording_and_says_when_it_airs(
    client, commune, speech, engine, settings, tmp_path
) -> None:
    token = _csrf(client.get("/login").text)
    client.post(
        "/login",
        data={"username": "vanhanh", "password": "mật-khẩu-đủ-dài", "csrf_token": token},
    )
    page = client.get("/announcements/new")
    assert page.status_code == 200
    assert 'href="/announcements/new"' in page.text  # in the operator's menu
    assert "Bắt đầu ghi âm" in page.text and 'type="file"' in page.text
    assert 'value="emergency"' not in page.text  # not theirs to send
    form = {"csrf_token": _csrf(page.text), "station": "XA-A", "title": "Họp dân"}

    before = _counts(engine, settings.media_path)
    forged = client.post(
        "/announcements/new",
        data={**form, "csrf_token": "đoán-bừa"},
        files={"file": ("a.mp3", speech, "audio/mpeg")},
    )
    assert forged.status_code == 403 and "Biểu mẫu đã hết hạn" in forged.text
    quiet = silence(tmp_path / "quiet.wav").read_bytes()
    refused = client.post(
        "/announcements/new", data=form, files={"file": ("a.wav", quiet, "audio/wav")}
    )
    assert refused.status_code == 422 and "im lặng" in refused.text
    assert _counts(engine, settings.media_path) == before

    sent = client.post(
        "/announcements/new",
        data={**form, "cluster:BAN-B": "on"},
        files={"file": ("a.mp3", speech, "audio/mpeg")},
    )
    assert sent.status_code == 200, sent.text
    assert "Đã gửi thông báo «Họp dân»" in sent.text and "sẽ phát lúc" in sent.text
    assert "BAN-B" in sent.text
    with session_scope(engine) as session:
        [booking] = session.exec(select(Booking)).all()
    assert (booking.clusters, booking.created_by) == (["BAN-B"], "vanhanh")


def test_an_emergency_over_another_is_a_409_and_leaves_no_file(
    client, commune, engine, settings, tmp_path
) -> None:
    # Over a minute long, so it still plays whenever the second one arrives.
    first = tone(tmp_path / "long.mp3", seconds=70).read_bytes()
    sent = _send(client, commune.planner, first, title="Lũ quét", priority="emergency")
    assert sent.status_code == 201, sent.text
    before = _counts(engine, settings.media_path)
    other = tone(tmp_path / "other.mp3", seconds=5, volume=0.5).read_bytes()
    clash = _send(client, commune.planner, other, title="Sạt lở", priority="emergency")
    assert clash.status_code == 409, clash.text
    assert clash.json()["errors"][0]["with_booking_id"] == sent.json()["booking_id"]
    assert _counts(engine, settings.media_path) == before


def test_an_announcement_can_be_assembled_again_as_a_programme(client, commune, speech) -> None:
    sent = _send(client, commune.planner, speech).json()
    assembled = client.post(
        f"/api/v1/programmes/{sent['programme_id']}/assemble", headers=commune.planner
    )
    assert assembled.status_code == 200, assembled.text
    asset = assembled.json()["asset"]
    assert asset["origin"] == "programme" and asset["sha256"] != sent["audio"]["sha256"]
