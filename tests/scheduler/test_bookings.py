"""Bookings become daily playlists: windows, conflicts, priorities, fallback, freezing."""

import threading
import time
from datetime import date, datetime, timedelta

import icalendar
import pytest
from dateutil.rrule import rrulestr
from sqlalchemy import text
from sqlmodel import select

from api.links import with_links
from audio.service import process_queue
from core.db import session_scope
from scheduler.models import Booking, Station
from scheduler.playlists import generate_playlist, generate_stations
from tests.conftest import BACKENDS
from tests.newsroom import approved_item

MONDAY = date(2030, 1, 7)  # far enough ahead that nothing is frozen yet
WINDOWS = [
    {"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"},
    {"days": [0, 1, 2, 3, 4], "start": "17:00", "end": "17:45"},
]

ASKED_AT = "http://testserver"  # the test client's address: answers make links from it


@pytest.fixture
def booked(client, newsroom, engine) -> dict:
    client.patch(
        "/api/v1/stations/XA-A",
        headers=newsroom.planner,
        json={"windows": WINDOWS, "max_sessions_per_day": 2, "max_minutes_per_session": 60},
    )
    client.post(f"/api/v1/content-items/{newsroom.item_id}/render", headers=newsroom.planner)
    process_queue(engine, store=newsroom.store, worker="test")
    return {
        "station": "XA-A",
        "source": "item",
        "item_id": newsroom.item_id,
        "title": "Chuyên mục CCHC",
        "at": "05:30",
        "recurrence": {"freq": "weekly", "start": MONDAY.isoformat(), "weekdays": [0, 3]},
    }


def _playlist(client, headers, day: date, **params):
    return client.get(
        f"/api/v1/stations/XA-A/playlists/{day.isoformat()}", headers=headers, params=params
    )


def test_a_weekly_booking_fills_the_right_days_deterministically(
    client, newsroom, booked, engine
) -> None:
    response = client.post("/api/v1/bookings", headers=newsroom.planner, json=booked)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["rrule"].startswith("FREQ=WEEKLY")
    assert "thứ Hai" in body["description"]

    monday = _playlist(client, newsroom.operator, MONDAY)
    assert monday.status_code == 200
    doc = monday.json()
    assert (doc["station"], doc["date"], doc["timezone"], doc["version"]) == (
        "XA-A",
        MONDAY.isoformat(),
        "Asia/Ho_Chi_Minh",
        1,
    )
    entry = doc["entries"][0]
    assert entry["start"] == f"{MONDAY.isoformat()}T05:30:00+07:00"
    assert entry["audio"]["url"].endswith(entry["audio"]["sha256"])
    assert entry["booking_id"] == body["id"]
    assert entry["content_item_id"] == newsroom.item_id
    tuesday = _playlist(client, newsroom.operator, MONDAY + timedelta(days=1)).json()
    assert [e["booking_id"] for e in tuesday["entries"]] == []

    with session_scope(engine) as session:
        station = session.exec(select(Station).where(Station.code == "XA-A")).one()
        again = generate_playlist(
            session, station=station, day=MONDAY, base_url=client.app.state.settings.public_base_url
        )
        # Links are made from where the answer was asked: the test client's address.
        assert (again.version, with_links(again.body, ASKED_AT)["entries"]) == (1, doc["entries"])
    same = (
        _playlist(
            client,
            newsroom.operator,
            MONDAY,
        )
        if False
        else client.get(
            f"/api/v1/stations/XA-A/playlists/{MONDAY.isoformat()}",
            headers={**newsroom.operator, "If-None-Match": monday.headers["etag"]},
        )
    )
    assert same.status_code == 304


def test_clashes_outside_windows_and_unready_content_are_refused(
    client, newsroom, booked, engine
) -> None:
    assert client.post("/api/v1/bookings", headers=newsroom.planner, json=booked).status_code == 201
    clash = client.post(
        "/api/v1/bookings", headers=newsroom.planner, json={**booked, "title": "Trùng giờ"}
    )
    assert clash.status_code == 409
    errors = clash.json()["errors"]
    assert errors and all(e["reason"] == "trùng giờ" for e in errors)
    assert {e["date"] for e in errors} >= {MONDAY.isoformat(), (MONDAY + timedelta(3)).isoformat()}

    outside = client.post(
        "/api/v1/bookings", headers=newsroom.planner, json={**booked, "at": "12:00"}
    )
    assert outside.status_code == 409
    assert "ngoài khung giờ" in outside.json()["errors"][0]["reason"]

    draft = approved_item(engine, title="Chưa có âm thanh")
    unready = client.post(
        "/api/v1/bookings",
        headers=newsroom.planner,
        json={**booked, "item_id": draft, "at": "17:00"},
    )
    assert unready.status_code == 409
    assert "chưa có âm thanh" in unready.json()["detail"]
    with session_scope(engine) as session:
        assert len(session.exec(select(Booking)).all()) == 1


def test_a_priority_bulletin_displaces_a_normal_booking(client, newsroom, booked) -> None:
    normal = client.post("/api/v1/bookings", headers=newsroom.planner, json=booked).json()
    urgent = client.post(
        "/api/v1/bookings",
        headers=newsroom.planner,
        json={
            **booked,
            "title": "Tin ưu tiên",
            "priority": "priority",
            "recurrence": {"freq": "once", "start": MONDAY.isoformat()},
        },
    )
    assert urgent.status_code == 201, urgent.text
    displaced = urgent.json()["displaced"]
    assert displaced == [
        {
            "station": "XA-A",
            "date": MONDAY.isoformat(),
            "booking_id": normal["id"],
            "by_booking_id": urgent.json()["id"],
            "at": f"{MONDAY.isoformat()}T05:30:00+07:00",
        }
    ]
    entries = _playlist(client, newsroom.operator, MONDAY).json()["entries"]
    assert [e["title"] for e in entries][:1] == ["Tin ưu tiên"]


def test_an_empty_window_gets_the_fallback_relay(client, newsroom, booked) -> None:
    client.patch(
        "/api/v1/stations/XA-A",
        headers=newsroom.planner,
        json={
            "fallback": {
                "kind": "relay",
                "url": "http://vov.example/vov1",
                "title": "Tiếp sóng VOV1",
            }
        },
    )
    client.post("/api/v1/bookings", headers=newsroom.planner, json=booked)
    entries = _playlist(client, newsroom.operator, MONDAY).json()["entries"]
    relay = [e for e in entries if e["kind"] == "relay"]
    item = next(e for e in entries if e["kind"] == "audio")
    # The rest of the morning after the item, and the whole unbooked evening.
    assert [(e["start"], e["end"][11:16]) for e in relay] == [
        (item["end"], "06:30"),
        (f"{MONDAY.isoformat()}T17:00:00+07:00", "17:45"),
    ]
    assert relay[0]["relay"] == {"url": "http://vov.example/vov1"}


def test_a_frozen_playlist_keeps_what_devices_hold(client, newsroom, booked, engine) -> None:
    client.post("/api/v1/bookings", headers=newsroom.planner, json=booked)
    base = client.app.state.settings.public_base_url
    with session_scope(engine) as session:
        station = session.exec(select(Station).where(Station.code == "XA-A")).one()
        frozen = generate_playlist(
            session,
            station=station,
            day=MONDAY,
            base_url=base,
            now=datetime(2030, 1, 7, 0, 0, tzinfo=None).astimezone(),
        )
        assert frozen.frozen_at is not None
        held = with_links(frozen.body, ASKED_AT)["entries"]
    evening = client.post(
        "/api/v1/bookings",
        headers=newsroom.planner,
        json={**booked, "at": "17:00", "title": "Buổi chiều"},
    )
    assert evening.status_code == 201
    doc = _playlist(client, newsroom.operator, MONDAY).json()
    assert doc["frozen"] is True
    assert doc["entries"] == held, "a normal booking after the freeze waits for the next day"


def test_days_written_from_a_bookings_check_are_what_generation_makes_of_them(
    client, newsroom, booked, engine
) -> None:
    # The check's day plans are written as they are: planning those days afresh must
    # find nothing to change, in the entries or in the version devices compare.
    days = [MONDAY, MONDAY + timedelta(days=3)]
    for day in days:
        assert _playlist(client, newsroom.operator, day).status_code == 200
    made = [
        client.post("/api/v1/bookings", headers=newsroom.planner, json=body).json()
        for body in (booked, {**booked, "title": "Trong khung", "at": None})
    ]
    written = {day: _playlist(client, newsroom.operator, day).json() for day in days}
    for doc in written.values():
        assert {e["booking_id"] for e in doc["entries"]} >= {b["id"] for b in made}
    with session_scope(engine) as session:
        station = session.exec(select(Station).where(Station.code == "XA-A")).one()
        base_url = client.app.state.settings.public_base_url
        generate_stations(session, station_ids=[station.id], days=days, base_url=base_url)
    assert {day: _playlist(client, newsroom.operator, day).json() for day in days} == written


def test_two_planners_booking_the_same_slot_at_once_exactly_one_wins(
    client, newsroom, booked
) -> None:
    results: list[tuple[int, str]] = []

    def attempt(title: str) -> None:
        response = client.post(
            "/api/v1/bookings", headers=newsroom.planner, json={**booked, "title": title}
        )
        results.append((response.status_code, response.text))

    threads = [threading.Thread(target=attempt, args=(f"Người {n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(code for code, _ in results) == [201, 409], results


@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_a_booking_lost_to_a_deadlock_is_a_409_to_send_again_and_writes_nothing(
    client, newsroom, booked, engine
) -> None:
    # Another transaction holds Monday's playlist and then wants the station the booking
    # holds: PostgreSQL breaks the cycle by rolling one back, here the booking.
    assert _playlist(client, newsroom.operator, MONDAY).status_code == 200
    answers: list = []
    with engine.connect() as other:
        other.execute(
            text(
                "SELECT 1 FROM playlist p JOIN station s ON s.id = p.station_id "
                "WHERE s.code = 'XA-A' AND p.day = :day FOR UPDATE OF p"
            ),
            {"day": MONDAY},
        )
        booking = threading.Thread(
            target=lambda: answers.append(
                client.post("/api/v1/bookings", headers=newsroom.planner, json=booked)
            )
        )
        booking.start()
        with engine.connect() as watcher:
            waiting = text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            deadline = time.monotonic() + 30
            while not watcher.execute(waiting).scalar() and booking.is_alive():
                assert time.monotonic() < deadline, "the booking never waited for the playlist"
                time.sleep(0.01)
        try:
            other.execute(text("SELECT 1 FROM station WHERE code = 'XA-A' FOR UPDATE"))
        finally:
            other.rollback()
            booking.join()
    [answer] = answers
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "1"
    assert "gửi lại" in answer.json()["detail"]
    listed = client.get("/api/v1/stations/XA-A/bookings", headers=newsroom.planner).json()
    assert listed == [], "the booking rolled back whole"
    again = client.post("/api/v1/bookings", headers=newsroom.planner, json=booked)
    assert again.status_code == 201, again.text


def test_the_schedule_exports_as_icalendar(client, newsroom, booked) -> None:
    client.post("/api/v1/bookings", headers=newsroom.planner, json=booked)
    monthly = {
        **booked,
        "title": "Phát thanh hằng tháng (thứ Sáu cuối tháng)",
        "at": "17:00",
        "recurrence": {
            "freq": "monthly",
            "start": MONDAY.isoformat(),
            "nth": -1,
            "weekdays": [4],
            "exceptions": ["2030-01-25"],
        },
    }
    assert (
        client.post("/api/v1/bookings", headers=newsroom.planner, json=monthly).status_code == 201
    )
    listed = client.get("/api/v1/stations/XA-A/bookings", headers=newsroom.operator).json()
    assert [b["rrule"].split(";")[0] for b in listed] == ["FREQ=WEEKLY", "FREQ=MONTHLY"]
    response = client.get("/api/v1/stations/XA-A/schedule.ics", headers=newsroom.operator)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    events = {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}
    last_friday = events["Phát thanh hằng tháng (thứ Sáu cuối tháng)"]
    assert last_friday["RRULE"]["BYDAY"] == ["-1FR"]
    rule = rrulestr(last_friday["RRULE"].to_ical().decode(), dtstart=last_friday["DTSTART"].dt)
    excluded = {d.dt.date() for ex in [last_friday["EXDATE"]] for d in ex.dts}
    dates = [d.date() for d in rule[:3] if d.date() not in excluded]
    assert dates == [date(2030, 2, 22), date(2030, 3, 29)], "25/01 is an exception date"

    ended = client.get(
        f"/api/v1/stations/XA-A/playlists/{date(2030, 2, 22).isoformat()}",
        headers=newsroom.operator,
    ).json()
    assert [e["start"][11:16] for e in ended["entries"]] == ["17:00"]
    skipped = client.get(
        f"/api/v1/stations/XA-A/playlists/{date(2030, 1, 25).isoformat()}",
        headers=newsroom.operator,
    ).json()
    assert skipped["entries"] == []


def test_a_normal_booking_under_a_priority_one_is_a_clash_not_a_crash(
    client, newsroom, booked
) -> None:
    urgent = {**booked, "title": "Tin ưu tiên", "priority": "priority"}
    assert client.post("/api/v1/bookings", headers=newsroom.planner, json=urgent).status_code == 201
    later = client.post("/api/v1/bookings", headers=newsroom.planner, json=booked)
    assert later.status_code == 409
    assert later.json()["errors"][0]["reason"] == "trùng giờ tin ưu tiên hơn"


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"item_id": 999_999}, 422),
        ({"source": "relay", "relay_url": "http://vov.example/a", "duration_s": 1e12}, 422),
        ({"at": "06:10:00"}, 422),
        ({"recurrence": {"freq": "weekly", "start": "9999-12-27", "weekdays": [0]}}, 422),
        ({"recurrence": {"freq": "weekly", "start": "2030-01-07"}}, 422),
        ({"recurrence": {"freq": "yearly", "start": "2030-01-07"}}, 422),
    ],
)
def test_bad_bookings_are_problem_reports_and_keep_nothing(
    client, newsroom, booked, engine, changes, status
) -> None:
    response = client.post("/api/v1/bookings", headers=newsroom.planner, json={**booked, **changes})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    with session_scope(engine) as session:
        assert session.exec(select(Booking)).all() == []


def test_another_stations_item_cannot_be_booked(client, newsroom, booked) -> None:
    response = client.post(
        "/api/v1/bookings", headers=newsroom.planner, json={**booked, "station": "XA-B"}
    )
    assert response.status_code == 422, "the item belongs to XA-A, not to XA-B or above it"
    assert "item_id" in str(response.json()["errors"])


def test_an_edited_booking_moves_in_every_playlist_it_touches(client, newsroom, booked) -> None:
    made = client.post("/api/v1/bookings", headers=newsroom.planner, json=booked).json()
    before = _playlist(client, newsroom.operator, MONDAY).json()["entries"][0]
    moved = client.patch(
        f"/api/v1/bookings/{made['id']}",
        headers=newsroom.planner,
        json={"at": "17:00", "title": "Chuyên mục CCHC (buổi chiều)"},
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["at"], moved.json()["title"]) == ("17:00", "Chuyên mục CCHC (buổi chiều)")
    after = _playlist(client, newsroom.operator, MONDAY).json()
    [entry] = [e for e in after["entries"] if e["booking_id"] == made["id"]]
    assert entry["start"] == f"{MONDAY.isoformat()}T17:00:00+07:00"
    assert entry["id"] == before["id"], "an occurrence keeps its id when it moves"
    assert after["version"] == 2


def test_an_edit_to_the_days_leaves_the_old_days_and_fills_the_new(
    client, newsroom, booked
) -> None:
    made = client.post("/api/v1/bookings", headers=newsroom.planner, json=booked).json()
    tuesday = MONDAY + timedelta(days=1)
    for day in (MONDAY, tuesday):  # both already pulled by devices
        _playlist(client, newsroom.operator, day)
    rule = {"freq": "weekly", "start": MONDAY.isoformat(), "weekdays": [1]}
    moved = client.patch(
        f"/api/v1/bookings/{made['id']}", headers=newsroom.planner, json={"recurrence": rule}
    )
    assert moved.status_code == 200, moved.text

    def booked_on(day: date) -> bool:
        entries = _playlist(client, newsroom.operator, day).json()["entries"]
        return any(e["booking_id"] == made["id"] for e in entries)

    assert not booked_on(MONDAY), "the day it left no longer has it"
    assert booked_on(tuesday), "the day it moved to has it"


def test_an_edit_into_a_clash_is_refused_and_changes_nothing(client, newsroom, booked) -> None:
    first = client.post("/api/v1/bookings", headers=newsroom.planner, json=booked).json()
    evening = client.post(
        "/api/v1/bookings",
        headers=newsroom.planner,
        json={**booked, "at": "17:00", "title": "Buổi chiều"},
    ).json()
    before = _playlist(client, newsroom.operator, MONDAY).json()
    clash = client.patch(
        f"/api/v1/bookings/{evening['id']}", headers=newsroom.planner, json={"at": "05:30"}
    )
    assert clash.status_code == 409, clash.text
    assert clash.json()["errors"][0]["with_booking_id"] == first["id"]
    outside = client.patch(
        f"/api/v1/bookings/{evening['id']}", headers=newsroom.planner, json={"at": "12:00"}
    )
    assert outside.status_code == 409
    assert "ngoài khung giờ" in outside.json()["errors"][0]["reason"]
    after = _playlist(client, newsroom.operator, MONDAY).json()
    assert (after["version"], after["entries"]) == (before["version"], before["entries"])
    kept = client.get("/api/v1/stations/XA-A/bookings", headers=newsroom.planner).json()
    assert {b["id"]: b["at"] for b in kept} == {first["id"]: "05:30", evening["id"]: "17:00"}


def test_bad_edits_are_problem_reports(client, newsroom, booked) -> None:
    made = client.post("/api/v1/bookings", headers=newsroom.planner, json=booked).json()
    path = f"/api/v1/bookings/{made['id']}"
    assert client.patch(path, headers=newsroom.planner, json={"station": "XA-B"}).status_code == 422
    assert client.patch(path, headers=newsroom.planner, json={"title": None}).status_code == 422
    assert client.patch(path, headers=newsroom.planner, json={"at": "25:00"}).status_code == 422
    assert client.patch(path, headers=newsroom.operator, json={"title": "x"}).status_code == 403
    assert (
        client.patch("/api/v1/bookings/999999", headers=newsroom.planner, json={}).status_code
        == 404
    )
    client.delete(path, headers=newsroom.planner)
    assert client.patch(path, headers=newsroom.planner, json={"title": "x"}).status_code == 409


def test_a_booking_edited_after_its_playlist_froze_waits_for_the_next_day(
    client, newsroom, booked, engine
) -> None:
    made = client.post("/api/v1/bookings", headers=newsroom.planner, json=booked).json()
    base = client.app.state.settings.public_base_url
    with session_scope(engine) as session:
        station = session.exec(select(Station).where(Station.code == "XA-A")).one()
        frozen = generate_playlist(
            session,
            station=station,
            day=MONDAY,
            base_url=base,
            now=datetime(2030, 1, 7, 0, 0).astimezone(),
        )
        held = with_links(frozen.body, ASKED_AT)["entries"]
    edited = client.patch(
        f"/api/v1/bookings/{made['id']}", headers=newsroom.planner, json={"at": "17:00"}
    )
    assert edited.status_code == 200, edited.text
    assert _playlist(client, newsroom.operator, MONDAY).json()["entries"] == held
    thursday = _playlist(client, newsroom.operator, MONDAY + timedelta(days=3)).json()
    assert [e["start"][11:16] for e in thursday["entries"] if e["booking_id"] == made["id"]] == [
        "17:00"
    ]


def test_a_weekdays_only_station_skips_weekends_and_emergencies_ignore_the_cap(
    client, newsroom, booked
) -> None:
    patched = client.patch(
        "/api/v1/stations/XA-A",
        headers=newsroom.planner,
        json={
            "weekdays_only": True,
            "max_minutes_per_session": 1,
            "windows": [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "05:31"}],
        },
    )
    assert patched.status_code == 200, patched.text
    relay = {
        "station": "XA-A",
        "source": "relay",
        "relay_url": "http://vov.example/vov1",
        "duration_s": 50,
        "title": "Tin sáng",
        "at": "05:30",
        "recurrence": {"freq": "daily", "start": MONDAY.isoformat()},
    }
    daily = client.post("/api/v1/bookings", headers=newsroom.planner, json=relay)
    assert daily.status_code == 201, daily.text
    saturday = _playlist(client, newsroom.operator, MONDAY + timedelta(days=5)).json()
    assert saturday["entries"] == []
    emergency = client.post(
        "/api/v1/bookings",
        headers=newsroom.planner,
        json={
            **relay,
            "title": "Khẩn cấp",
            "priority": "emergency",
            "duration_s": 120,
            "at": "05:30",
            "recurrence": {"freq": "once", "start": MONDAY.isoformat()},
        },
    )
    assert emergency.status_code == 201, emergency.text
    monday = _playlist(client, newsroom.operator, MONDAY).json()["entries"]
    assert [e["title"] for e in monday] == ["Khẩn cấp"], "the emergency displaced the relay"
