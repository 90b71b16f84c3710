"""iCalendar export: structure, folding, escaping, and agreement with a real iCalendar reader."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from dateutil.rrule import rruleset, rrulestr
from icalendar import Calendar

from scheduler.ical import IcalEvent, calendar, duration_text, escape_text, fold
from scheduler.recurrence import Recurrence, RecurrenceError, occurrences

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
D = date
STAMP = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
HCM = "Asia/Ho_Chi_Minh"
LONG_SUMMARY = (
    "Chuyên mục Cải cách hành chính: hướng dẫn người dân sử dụng dịch vụ công trực tuyến "
    "toàn trình, thủ tục hành chính liên thông tại bộ phận một cửa xã Chiềng Pấn"
)

RULES = (
    Recurrence(
        freq="weekly",
        start=D(2026, 1, 1),
        until=D(2026, 12, 31),
        weekdays=(MON, THU),
        exceptions=(D(2026, 2, 16), D(2026, 2, 19)),
    ),
    Recurrence(freq="weekly", start=D(2026, 12, 18), interval=2, weekdays=(FRI,), count=8),
    Recurrence(freq="monthly", start=D(2026, 1, 1), nth=-1, weekdays=(FRI,), until=D(2027, 6, 30)),
    Recurrence(freq="monthly", start=D(2026, 1, 1), month_day=31),
    Recurrence(freq="monthly", start=D(2027, 1, 1), month_day=29, interval=1, count=20),
    Recurrence(freq="daily", start=D(2026, 1, 3), weekdays=(0, 1, 2, 3, 4), until=D(2026, 4, 30)),
    Recurrence(freq="once", start=D(2026, 9, 2)),
)


def event(rule: Recurrence, **fields: object) -> IcalEvent:
    values: dict = {
        "uid": "booking-12@truyenthanh",
        "summary": "Bản tin Cải cách hành chính",
        "start_time": time(5, 30),
        "duration": timedelta(minutes=12, seconds=10),
        "tz": HCM,
        "rule": rule,
        "stamp": STAMP,
    }
    return IcalEvent(**{**values, **fields})


def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def expand(vevent: object, first: date, last: date) -> list[date]:
    """Expand a parsed VEVENT with icalendar and python-dateutil, as a calendar app would."""
    dtstart = vevent.decoded("DTSTART")
    dates = rruleset()
    if "RRULE" in vevent:
        dates.rrule(rrulestr(vevent["RRULE"].to_ical().decode(), dtstart=dtstart))
    else:
        dates.rdate(dtstart)
    exdates = vevent.get("EXDATE", [])
    for group in exdates if isinstance(exdates, list) else [exdates]:
        for item in group.dts:
            dates.exdate(item.dt)
    low = datetime.combine(first, time(0, 0), tzinfo=dtstart.tzinfo)
    high = datetime.combine(last, time(23, 59, 59), tzinfo=dtstart.tzinfo)
    return [moment.date() for moment in dates.between(low, high, inc=True)]


def test_calendar_structure() -> None:
    text = calendar([event(RULES[0], description="Phát tại 12 cụm loa")], name="Đài xã Chiềng Pấn")
    assert "\n" not in text.replace("\r\n", "")
    assert text.endswith("END:VCALENDAR\r\n")
    lines = unfold(text)
    assert lines[:6] == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Truyen thanh//Lich phat thanh//VI",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Đài xã Chiềng Pấn",
    ]
    zone = lines[lines.index("BEGIN:VTIMEZONE") : lines.index("END:VTIMEZONE") + 1]
    assert zone == [
        "BEGIN:VTIMEZONE",
        "TZID:Asia/Ho_Chi_Minh",
        "BEGIN:STANDARD",
        "DTSTART:20260101T000000",
        "TZOFFSETFROM:+0700",
        "TZOFFSETTO:+0700",
        "TZNAME:+07",
        "END:STANDARD",
        "END:VTIMEZONE",
    ]
    vevent = lines[lines.index("BEGIN:VEVENT") : lines.index("END:VEVENT") + 1]
    assert vevent == [
        "BEGIN:VEVENT",
        "UID:booking-12@truyenthanh",
        "DTSTAMP:20261122T090000Z",
        "DTSTART;TZID=Asia/Ho_Chi_Minh:20260101T053000",
        "DURATION:PT12M10S",
        "SUMMARY:Bản tin Cải cách hành chính",
        "DESCRIPTION:Phát tại 12 cụm loa",
        "RRULE:FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20261230T223000Z",
        "EXDATE;TZID=Asia/Ho_Chi_Minh:20260216T053000,20260219T053000",
        "END:VEVENT",
    ]


def test_one_vtimezone_per_zone_and_the_same_bytes_every_time() -> None:
    events = [event(rule, uid=f"b-{n}") for n, rule in enumerate(RULES)]
    events.append(event(RULES[0], uid="berlin", tz="Europe/Berlin"))
    text = calendar(events, name="Lịch")
    assert text.count("BEGIN:VTIMEZONE") == 2
    assert text.count("BEGIN:VEVENT") == len(events)
    assert calendar(events, name="Lịch") == text


def test_a_zone_with_daylight_saving_lists_its_changes() -> None:
    lines = unfold(calendar([event(RULES[0], tz="Europe/Berlin")], name="Lịch"))
    start = lines.index("BEGIN:DAYLIGHT")
    assert lines[start : start + 6] == [
        "BEGIN:DAYLIGHT",
        "DTSTART:20260329T020000",
        "TZOFFSETFROM:+0100",
        "TZOFFSETTO:+0200",
        "TZNAME:CEST",
        "END:DAYLIGHT",
    ]
    assert "DTSTART:20261025T030000" in lines


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(RecurrenceError, match="Mars/Olympus"):
        calendar([event(RULES[0], tz="Mars/Olympus")], name="Lịch")


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"uid": " "}, "UID"),
        ({"duration": timedelta(0)}, "Thời lượng"),
        ({"stamp": datetime(2026, 11, 22, 9, 0)}, "múi giờ"),
    ],
)
def test_bad_events_are_refused(fields: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        calendar([event(RULES[0], **fields)], name="Lịch")


def test_long_vietnamese_lines_fold_within_75_octets_on_character_boundaries() -> None:
    text = calendar([event(RULES[0], summary=LONG_SUMMARY)], name="Lịch")
    physical = text.split("\r\n")
    assert any(line.startswith(" ") for line in physical)
    for line in physical:
        raw = line.encode()
        assert len(raw) <= 75
        raw.decode()  # each physical line is whole UTF-8 on its own
    assert f"SUMMARY:{escape_text(LONG_SUMMARY)}" in unfold(text)


def test_fold_edges() -> None:
    assert fold("A" * 75) == "A" * 75
    assert fold("A" * 76) == "A" * 75 + "\r\n A"
    # "ệ" is three octets: 74 + 3 would pass 75, so it moves whole to the next line.
    assert fold("A" * 74 + "ệ") == "A" * 74 + "\r\n ệ"


def test_text_escaping() -> None:
    assert escape_text("a,b;c\\d\ne\r\nf") == "a\\,b\\;c\\\\d\\ne\\nf"
    assert escape_text("tab\tok\x07bell") == "tab\tokbell"
    summary = "Tin ngắn; số 3, năm 2026\\2027\nPhát lại"
    text = calendar([event(RULES[0], summary=summary)], name="Đài xã A, tỉnh B\nmới")
    parsed = Calendar.from_ical(text)
    assert str(parsed.walk("VEVENT")[0]["SUMMARY"]) == summary
    # Calendar apps read X-WR-CALNAME verbatim, so it is not escaped, only kept on one line.
    assert parsed["X-WR-CALNAME"].to_ical().decode() == "Đài xã A, tỉnh B mới"


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(minutes=12, seconds=10.4), "PT12M11S"),
        (timedelta(seconds=45), "PT45S"),
        (timedelta(hours=1), "PT1H"),
        (timedelta(hours=1, seconds=5), "PT1H0M5S"),
        (timedelta(days=1, minutes=30), "P1DT30M"),
        (timedelta(days=2), "P2D"),
    ],
)
def test_duration_text(duration: timedelta, text: str) -> None:
    assert duration_text(duration) == text


def test_icalendar_reads_it_back() -> None:
    events = [event(rule, uid=f"b-{n}", summary=LONG_SUMMARY) for n, rule in enumerate(RULES)]
    parsed = Calendar.from_ical(calendar(events, name="Lịch phát thanh"))
    vevents = parsed.walk("VEVENT")
    assert [str(item["UID"]) for item in vevents] == [f"b-{n}" for n in range(len(RULES))]
    first = vevents[0]
    assert str(first["SUMMARY"]) == LONG_SUMMARY
    assert first.decoded("DURATION") == timedelta(minutes=12, seconds=10)
    assert first.decoded("DTSTART") == datetime(
        2026, 1, 1, 5, 30, tzinfo=first.decoded("DTSTART").tzinfo
    )
    assert first.decoded("DTSTART").utcoffset() == timedelta(hours=7)


@pytest.mark.parametrize("tz", [HCM, "Europe/Berlin", "America/New_York"])
def test_parsed_rules_expand_to_the_same_dates_as_occurrences(tz: str) -> None:
    events = [event(rule, uid=f"b-{n}", tz=tz) for n, rule in enumerate(RULES)]
    parsed = Calendar.from_ical(calendar(events, name="Lịch"))
    first, last = D(2025, 12, 1), D(2029, 12, 31)
    for rule, vevent in zip(RULES, parsed.walk("VEVENT"), strict=True):
        assert expand(vevent, first, last) == occurrences(rule, start=first, end=last), rule


def test_the_vtimezone_alone_gives_the_right_offsets() -> None:
    events = [event(RULES[0], tz="Europe/Berlin"), event(RULES[0], uid="hcm")]
    parsed = Calendar.from_ical(calendar(events, name="Lịch"))
    zones = {str(item["TZID"]): item.to_tz(lookup_tzid=False) for item in parsed.walk("VTIMEZONE")}
    assert datetime(2026, 1, 15, 12, tzinfo=zones["Europe/Berlin"]).utcoffset() == timedelta(
        hours=1
    )
    assert datetime(2026, 7, 15, 12, tzinfo=zones["Europe/Berlin"]).utcoffset() == timedelta(
        hours=2
    )
    assert datetime(2026, 7, 15, 12, tzinfo=zones[HCM]).utcoffset() == timedelta(hours=7)
