"""The planner's pages: booking airtime from a form, the station calendar, emergency bulletins."""

import calendar
import html
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from audio.service import process_queue
from core.clock import utcnow
from core.db import session_scope
from scheduler.models import StationEvent

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PASSWORD = "mật-khẩu-đủ-dài"
WINDOWS = [
    {"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"},
    {"days": [0, 1, 2, 3, 4], "start": "17:00", "end": "17:45"},
]
RELAY = "http://radio.example.vn/vov1"


def _today() -> date:
    return utcnow().astimezone(ZONE).date()


def _monday_ahead() -> date:
    # A Monday more than a week away: nothing of that week is frozen yet.
    today = _today()
    return today + timedelta(days=7 - today.weekday() + 7)


def _dmy(day: date) -> str:
    return f"{day:%d/%m/%Y}"


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _login(client, username: str) -> str:
    answer = client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": _csrf(client.get("/login").text),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return _csrf(client.get("/").text)


@pytest.fixture
def planner(client, newsroom) -> str:
    """Alice, the province planner, logged in to the web pages; XA-A has two windows."""
    windows = client.patch(
        "/api/v1/stations/XA-A", headers=newsroom.planner, json={"windows": WINDOWS}
    )
    assert windows.status_code == 200, windows.text
    return _login(client, "alice")


def _weekly(token: str, start: date, **changes) -> dict:
    form = {
        "csrf_token": token,
        "station": "XA-A",
        "source": "relay",
        "relay_url": RELAY,
        "length": "10",
        "title": "Tiếp sóng Thời sự VOV1",
        "timing": "at",
        "at": "05:30",
        "priority": "normal",
        "freq": "weekly",
        "weekdays": ["0", "3"],
        "interval": "1",
        "start": _dmy(start),
        "until": "",
        "exceptions": "",
    }
    return {**form, **changes}


def _bookings(client, newsroom) -> list[dict]:
    answer = client.get("/api/v1/stations/XA-A/bookings", headers=newsroom.planner)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _book(client, form: dict) -> int:
    answer = client.post("/bookings/new", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    match = re.fullmatch(r"/bookings/(\d+)", answer.headers["location"])
    assert match, answer.headers["location"]
    return int(match.group(1))


def _days(page: str) -> dict[str, str]:
    """Each day of a calendar page (week column or month cell) as its HTML, by ISO date."""
    grid = page.split('id="bookings-title"')[0]
    parts = grid.split('id="day-')[1:]
    return {part[:10]: part for part in parts}


def _hidden(page: str) -> dict[str, str]:
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page)
    }


def test_a_weekly_relay_booked_from_the_form_shows_on_the_right_days(
    client, newsroom, planner
) -> None:
    monday = _monday_ahead()
    form = _weekly(planner, monday, exceptions=f"{_dmy(monday + timedelta(7))}")
    booking_id = _book(client, form)

    page = client.get(f"/bookings/{booking_id}")
    assert page.status_code == 200
    assert (
        f"Hằng tuần vào thứ Hai và thứ Năm, từ {_dmy(monday)}, trừ {_dmy(monday + timedelta(7))}"
        ", lúc 05:30" in page.text
    )
    assert "Đã đặt lịch." in page.text
    assert "FREQ=WEEKLY;BYDAY=MO,TH" in page.text

    week = client.get(f"/stations/XA-A/calendar?view=week&date={monday + timedelta(2)}")
    assert week.status_code == 200
    days = _days(week.text)
    assert list(days) == [(monday + timedelta(n)).isoformat() for n in range(7)]
    for offset in range(7):
        column = days[(monday + timedelta(offset)).isoformat()]
        booked = "05:30–05:40" in column and "Tiếp sóng Thời sự VOV1" in column
        assert booked == (offset in (0, 3)), (offset, column)
        assert "Khung giờ 05:30–06:30" in column
    monday_column = days[monday.isoformat()]
    assert f'href="/bookings/{booking_id}"' in monday_column
    assert "Trống 05:40–06:30" in monday_column  # the rest of the window is a gap
    assert f'href="/stations/XA-A/day/{monday.isoformat()}"' in monday_column
    assert (
        "17:00–17:45" in days[monday.isoformat()]
        and "17:00" not in days[(monday + timedelta(5)).isoformat()]
    )
    assert f"{_dmy(monday)}" in week.text and "Tuần sau" in week.text

    # The exception date is skipped: the next Monday is empty, that Thursday is not.
    after = _days(
        client.get(f"/stations/XA-A/calendar?view=week&date={monday + timedelta(7)}").text
    )
    assert "Tiếp sóng Thời sự VOV1" not in after[(monday + timedelta(7)).isoformat()]
    assert "05:30–05:40" in after[(monday + timedelta(10)).isoformat()]


def test_a_monthly_last_friday_booking_is_said_in_words_and_lands_on_the_last_friday(
    client, newsroom, planner
) -> None:
    first = (_today().replace(day=1) + timedelta(days=32)).replace(day=1)
    form = _weekly(
        planner,
        first,
        freq="monthly",
        monthly_by="weekday",
        nth="-1",
        nth_weekday="4",
        weekdays=[],
        at="17:00",
        length="15",
        title="Chuyên mục Cải cách hành chính",
        priority="priority",
    )
    booking_id = _book(client, form)
    page = client.get(f"/bookings/{booking_id}").text
    assert f"Thứ Sáu cuối cùng hằng tháng, từ {_dmy(first)}, lúc 17:00" in page
    assert "BYDAY=-1FR" in page
    assert _bookings(client, newsroom)[0]["description"].startswith("Thứ Sáu cuối cùng hằng tháng")

    month = client.get(f"/stations/XA-A/calendar?view=month&date={first.isoformat()}")
    assert month.status_code == 200
    assert f"Tháng {first.month:02d}/{first.year}" in month.text
    length = calendar.monthrange(first.year, first.month)[1]
    fridays = [d for d in (first.replace(day=n) for n in range(1, length + 1)) if d.weekday() == 4]
    cells = _days(month.text)
    assert len(cells) == length
    for friday in fridays:
        holds = "Chuyên mục Cải cách hành chính" in cells[friday.isoformat()]
        assert holds == (friday == fridays[-1]), friday
    last = cells[fridays[-1].isoformat()]
    assert "1 buổi" in last and "17:00" in last and "priority-priority" in last
    assert f'href="/stations/XA-A/day/{fridays[-1].isoformat()}"' in last


def test_a_clash_lists_each_occurrence_next_to_the_form_and_saves_nothing(
    client, newsroom, planner
) -> None:
    monday = _monday_ahead()
    first_id = _book(client, _weekly(planner, monday))
    clash = client.post(
        "/bookings/new", data=_weekly(planner, monday, title="Bản tin trùng giờ", weekdays=["3"])
    )
    assert clash.status_code == 409
    page = clash.text
    assert 'id="conflicts"' in page and "Chưa lưu" in page
    thursdays = [monday + timedelta(days=3 + 7 * n) for n in range(3)]
    for thursday in thursdays:
        line = (
            rf"Thứ Năm, {_dmy(thursday)}</strong> lúc 05:30 \(đài XA-A\):\s+trùng giờ với\s+"
            rf'<a href="/bookings/{first_id}">«Tiếp sóng Thời sự VOV1»</a> lúc 05:30'
        )
        assert re.search(line, page), thursday
    assert f"Thứ Hai, {_dmy(monday)}" not in page  # only Thursdays were asked for
    assert 'value="Bản tin trùng giờ"' in page  # the form keeps what was typed
    assert [b["id"] for b in _bookings(client, newsroom)] == [first_id]

    # A time outside the day is a field error next to the time, and saves nothing either.
    bad = client.post("/bookings/new", data=_weekly(planner, monday, at="25:00"))
    assert bad.status_code == 422
    assert re.search(r'id="at"[^>]*aria-invalid="true"', bad.text)
    assert 'id="error-at"' in bad.text and "HH:MM" in bad.text
    no_days = client.post("/bookings/new", data=_weekly(planner, monday, weekdays=[]))
    assert no_days.status_code == 422 and 'id="error-weekdays"' in no_days.text
    forged = client.post("/bookings/new", data=_weekly("not-the-token", monday, at="17:00"))
    assert forged.status_code == 403
    assert len(_bookings(client, newsroom)) == 1


def test_an_item_booking_waits_for_audio_then_fills_the_window(
    client, newsroom, planner, engine
) -> None:
    monday = _monday_ahead()
    form = _weekly(
        planner,
        monday,
        source="item",
        item_id=str(newsroom.item_id),
        title="",
        timing="window",
        at="",
        freq="once",
    )
    assert "chưa có âm thanh" in client.get("/bookings/new").text
    unready = client.post("/bookings/new", data=form)
    assert unready.status_code == 409
    assert re.search(r'id="error-item_id"[^>]*>[^<]*chưa có âm thanh', unready.text)
    assert _bookings(client, newsroom) == []

    client.post(f"/api/v1/content-items/{newsroom.item_id}/render", headers=newsroom.planner)
    process_queue(engine, store=newsroom.store, worker="test")
    booking_id = _book(client, form)
    booking = _bookings(client, newsroom)[0]
    assert (booking["id"], booking["title"], booking["at"]) == (
        booking_id,
        "Khai sinh trực tuyến",
        None,
    )
    assert (
        f"Một lần vào ngày {_dmy(monday)}, bất kỳ lúc nào trong khung giờ"
        in client.get(f"/bookings/{booking_id}").text
    )
    column = _days(client.get(f"/stations/XA-A/calendar?date={monday}").text)[monday.isoformat()]
    assert re.search(rf'05:30–05:\d\d</span>\s*<a href="/bookings/{booking_id}">', column)


def test_the_planner_edits_the_time_and_cancels_after_confirming(client, newsroom, planner) -> None:
    monday = _monday_ahead()
    booking_id = _book(client, _weekly(planner, monday))
    edit = client.get(f"/bookings/{booking_id}/edit")
    assert edit.status_code == 200
    assert 'id="at" name="at" value="05:30"' in edit.text
    assert f'value="{_dmy(monday)}"' in edit.text
    assert re.search(r'id="weekday-3" name="weekdays" value="3" checked', edit.text)

    moved = client.post(
        f"/bookings/{booking_id}/edit",
        data=_weekly(_csrf(edit.text), monday, at="05:45"),
        follow_redirects=False,
    )
    assert moved.status_code == 303, moved.text
    assert "Đã lưu thay đổi." in client.get(moved.headers["location"]).text
    assert [(b["id"], b["at"]) for b in _bookings(client, newsroom)] == [(booking_id, "05:45")]
    column = _days(client.get(f"/stations/XA-A/calendar?date={monday}").text)[monday.isoformat()]
    assert "05:45–05:55" in column and "05:30–05:40" not in column

    outside = client.post(f"/bookings/{booking_id}/edit", data=_weekly(planner, monday, at="12:00"))
    assert outside.status_code == 409 and "ngoài khung giờ phát của đài" in outside.text
    assert _bookings(client, newsroom)[0]["at"] == "05:45"

    ask = client.get(f"/bookings/{booking_id}/cancel")
    assert ask.status_code == 200 and "Huỷ lịch đặt «Tiếp sóng Thời sự VOV1»?" in ask.text
    assert _bookings(client, newsroom) != []  # asking changes nothing
    done = client.post(
        f"/bookings/{booking_id}/cancel", data={"csrf_token": planner}, follow_redirects=False
    )
    assert done.status_code == 303
    after = client.get(done.headers["location"]).text
    assert "Đã huỷ lịch đặt «Tiếp sóng Thời sự VOV1»" in after
    assert _bookings(client, newsroom) == []
    week = _days(client.get(f"/stations/XA-A/calendar?date={monday}").text)
    assert "Tiếp sóng Thời sự VOV1" not in week[monday.isoformat()]


def test_an_emergency_is_confirmed_then_interrupts_today_and_notifies_devices(
    client, newsroom, planner, engine
) -> None:
    cluster = client.post(
        "/api/v1/stations/XA-A/clusters",
        headers=newsroom.planner,
        json={"code": "BAN-A", "name": "Cụm loa bản A"},
    )
    assert cluster.status_code == 201, cluster.text
    device = client.post(
        "/api/v1/stations/XA-A/device-tokens", headers=newsroom.planner, json={"name": "Máy xã A"}
    ).json()["token"]

    form = client.get("/emergency/new")
    assert form.status_code == 200 and 'name="subtree" checked' in form.text.replace(
        'id="subtree" ', ""
    )
    before = datetime.now(ZONE).replace(second=0, microsecond=0)
    check = client.post(
        "/emergency/new",
        data={
            "csrf_token": planner,
            "station": "TINH-P",
            "subtree": "on",
            "source": "relay",
            "relay_url": "http://radio.example.vn/canh-bao",
            "length": "5",
            "title": "Cảnh báo lũ quét",
        },
    )
    assert check.status_code == 200, check.text
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", check.text)).split())
    assert "ngắt mọi nội dung đang phát tại 3 đài (trong đó 2 đài xã) với 1 cụm loa" in text
    assert "ngay bây giờ" in text and f"ngày {_dmy(before.date())}" in text
    shown = re.search(r"ngay bây giờ — lúc (\d\d:\d\d)", text).group(1)
    assert before.strftime("%H:%M") <= shown
    assert _bookings(client, newsroom) == []  # nothing is booked before the confirmation

    confirm = _hidden(check.text)
    assert confirm["station"] == "TINH-P" and confirm["subtree"] == "on"
    sent = client.post("/emergency", data=confirm, follow_redirects=False)
    after = datetime.now(ZONE)
    assert sent.status_code == 303, sent.text
    booking_id = int(sent.headers["location"].rsplit("/", 1)[1])
    result = client.get(sent.headers["location"]).text
    assert "Đã phát tin khẩn cấp «Cảnh báo lũ quét»" in result
    assert "Đã báo cho thiết bị của <strong>3 đài</strong>" in result

    booking = _bookings(client, newsroom)[0]
    assert (booking["priority"], booking["subtree"], booking["station"]) == (
        "emergency",
        True,
        "TINH-P",
    )
    assert before.strftime("%H:%M") <= booking["at"] <= after.strftime("%H:%M")
    today = after.date().isoformat()
    playlist = client.get(f"/api/v1/stations/XA-A/playlists/{today}", headers=newsroom.planner)
    entries = [e for e in playlist.json()["entries"] if e["booking_id"] == booking_id]
    assert [(e["priority"], e["start"][11:16], e["relay"]["url"]) for e in entries] == [
        ("emergency", booking["at"], "http://radio.example.vn/canh-bao")
    ]
    events = client.get(
        "/api/v1/stations/XA-A/events?after=0", headers={"Authorization": f"Bearer {device}"}
    )
    assert events.status_code == 200
    assert [(e["kind"], e["booking_id"]) for e in events.json()] == [("emergency", booking_id)]
    with session_scope(engine) as session:
        rows = session.exec(select(StationEvent).where(StationEvent.kind == "emergency")).all()
        assert len(rows) == 3 and all(r.payload["booking_id"] == booking_id for r in rows)
    day = client.get(f"/stations/XA-A/day/{today}").text
    assert "Đang có tin khẩn cấp" in day


def test_an_operator_is_refused_the_planner_pages(client, newsroom) -> None:
    token = _login(client, "vanhanh")
    for path in (
        "/bookings/new",
        "/stations/XA-A/calendar",
        "/stations/XA-A/calendar?view=month",
        "/emergency/new",
    ):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "Chỉ cán bộ kế hoạch" in answer.text
    assert "/bookings/new" not in client.get("/").text
    refused = client.post("/bookings/new", data=_weekly(token, _monday_ahead()))
    assert refused.status_code == 403
    urgent = client.post(
        "/emergency",
        data={
            "csrf_token": token,
            "station": "XA-A",
            "source": "relay",
            "relay_url": RELAY,
            "length": "5",
            "title": "Không được phép",
        },
    )
    assert urgent.status_code == 403
    assert _bookings(client, newsroom) == []


def test_a_planner_cannot_book_or_see_a_station_outside_the_province(
    client, newsroom, planner, engine
) -> None:
    from scheduler.models import StationKind
    from scheduler.service import create_station

    with session_scope(engine) as session:
        create_station(session, code="TINH-Q", name="Tỉnh Q", kind=StationKind.province)
    assert client.get("/stations/TINH-Q/calendar").status_code == 403
    assert client.get("/stations/KHONG-CO/calendar").status_code == 404
    refused = client.post("/bookings/new", data=_weekly(planner, _monday_ahead(), station="TINH-Q"))
    assert refused.status_code == 403 and "ngoài phạm vi" in refused.text
    assert "TINH-Q" not in client.get("/bookings/new").text


def test_a_booking_for_some_clusters_or_a_zone_plays_only_there(client, newsroom, planner) -> None:
    for code, tags in (("BAN-A", ["blt"]), ("BAN-B", [])):
        made = client.post(
            "/api/v1/stations/XA-A/clusters",
            headers=newsroom.planner,
            json={"code": code, "name": code, "zone_tags": tags},
        )
        assert made.status_code == 201, made.text
    monday = _monday_ahead()
    for changes, field, words in (
        ({"clusters": "ban-a, BAN-Z"}, "clusters", "Đài này không có cụm loa BAN-Z."),
        ({"zones": "xyz"}, "zones", "mang nhãn vùng xyz"),
        ({"clusters": "BAN-A", "zones": "blt"}, "zones", "không chọn cả hai"),
    ):
        refused = client.post("/bookings/new", data=_weekly(planner, monday, **changes))
        assert refused.status_code == 422, changes
        assert f'id="error-{field}"' in refused.text and words in refused.text
    assert _bookings(client, newsroom) == [], "a refused form keeps nothing"

    for_a = _book(client, _weekly(planner, monday, clusters="ban-a", title="Cho bản A"))
    thai = _book(
        client,
        _weekly(
            planner, monday, zones="blt", at="05:45", title="Cho vùng Thái", pair_languages="on"
        ),
    )
    kept = {b["id"]: b for b in _bookings(client, newsroom)}
    assert (kept[for_a]["clusters"], kept[for_a]["zones"]) == (["BAN-A"], [])
    assert (kept[thai]["zones"], kept[thai]["pair_languages"]) == (["blt"], True)
    assert "Các cụm loa BAN-A" in client.get(f"/bookings/{for_a}").text
    day = client.get(f"/api/v1/stations/XA-A/playlists/{monday}", headers=newsroom.planner)
    heard = {e["title"]: e["clusters"] for e in day.json()["entries"] if "Cho" in e["title"]}
    assert heard == {"Cho bản A": ["BAN-A"], "Cho vùng Thái": ["BAN-A"]}

    # The edit form shows the clusters; a blank field plays the booking everywhere.
    edit = client.get(f"/bookings/{for_a}/edit")
    assert 'id="clusters" name="clusters" value="BAN-A"' in edit.text
    widened = client.post(
        f"/bookings/{for_a}/edit",
        data=_weekly(_csrf(edit.text), monday, title="Cho bản A"),
        follow_redirects=False,
    )
    assert widened.status_code == 303, widened.text
    assert {b["id"]: b["clusters"] for b in _bookings(client, newsroom)}[for_a] == []
    day = client.get(f"/api/v1/stations/XA-A/playlists/{monday}", headers=newsroom.planner)
    assert ["*"] in [e["clusters"] for e in day.json()["entries"] if e["title"] == "Cho bản A"]
