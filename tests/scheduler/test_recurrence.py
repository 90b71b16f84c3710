"""Recurrence rules: expansion to local dates, validation, RRULE in and out, Vietnamese wording."""

from datetime import date, datetime, time, timedelta

import pytest
from dateutil.rrule import rruleset, rrulestr
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scheduler.recurrence import (
    Recurrence,
    RecurrenceError,
    describe,
    from_rrule,
    occurrences,
    occurs_on,
    to_ical_lines,
    to_rrule,
    validate,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
D = date


def dates_of(rule: Recurrence, first: date, last: date) -> list[date]:
    return occurrences(rule, start=first, end=last)


# --- semantics --------------------------------------------------------------------------------


def test_once_is_just_the_start_date() -> None:
    rule = Recurrence(freq="once", start=D(2026, 3, 8))
    assert dates_of(rule, D(2026, 1, 1), D(2026, 12, 31)) == [D(2026, 3, 8)]
    assert dates_of(rule, D(2026, 3, 9), D(2026, 12, 31)) == []


def test_weekly_on_monday_and_thursday() -> None:
    rule = Recurrence(freq="weekly", start=D(2026, 1, 5), weekdays=(THU, MON))
    assert dates_of(rule, D(2026, 1, 1), D(2026, 1, 18)) == [
        D(2026, 1, 5),
        D(2026, 1, 8),
        D(2026, 1, 12),
        D(2026, 1, 15),
    ]


def test_weekly_crosses_the_year_boundary() -> None:
    rule = Recurrence(freq="weekly", start=D(2026, 12, 1), weekdays=(WED, FRI))
    assert dates_of(rule, D(2026, 12, 28), D(2027, 1, 8)) == [
        D(2026, 12, 30),
        D(2027, 1, 1),
        D(2027, 1, 6),
        D(2027, 1, 8),
    ]


def test_every_two_weeks_keeps_its_parity_across_the_year_boundary() -> None:
    # 2026-12-18 is a Friday; every other Friday: 18/12, 01/01, 15/01 (not 25/12 or 08/01).
    rule = Recurrence(freq="weekly", start=D(2026, 12, 18), interval=2, weekdays=(FRI,))
    assert dates_of(rule, D(2026, 12, 1), D(2027, 1, 31)) == [
        D(2026, 12, 18),
        D(2027, 1, 1),
        D(2027, 1, 15),
        D(2027, 1, 29),
    ]


def test_every_two_weeks_is_anchored_on_the_monday_week_of_the_start() -> None:
    # Start on Wednesday 07/01/2026: Monday 05/01 of that week is before the start, Thursday
    # 08/01 is in it; the next active week is the one of 19/01 (WKST=MO, as RFC 5545).
    rule = Recurrence(freq="weekly", start=D(2026, 1, 7), interval=2, weekdays=(MON, THU))
    assert dates_of(rule, D(2026, 1, 1), D(2026, 2, 5)) == [
        D(2026, 1, 8),
        D(2026, 1, 19),
        D(2026, 1, 22),
        D(2026, 2, 2),
        D(2026, 2, 5),
    ]


def test_a_sunday_start_belongs_to_the_week_that_began_on_monday() -> None:
    # Sunday 11/01/2026 is in the week of Monday 05/01, so Monday 12/01 is the *next* week and is
    # skipped by "every 2 weeks"; a Sunday-based week would have made it the first occurrence.
    rule = Recurrence(freq="weekly", start=D(2026, 1, 11), interval=2, weekdays=(MON, SUN))
    assert dates_of(rule, D(2026, 1, 1), D(2026, 1, 31)) == [
        D(2026, 1, 11),
        D(2026, 1, 19),
        D(2026, 1, 25),
    ]


@pytest.mark.parametrize(
    ("rule", "window_start"),
    [
        (Recurrence(freq="daily", start=D(2026, 1, 1), interval=3), D(2026, 6, 2)),
        (
            Recurrence(freq="weekly", start=D(2026, 1, 2), interval=3, weekdays=(FRI,)),
            D(2026, 9, 1),
        ),
        (Recurrence(freq="monthly", start=D(2026, 1, 15), interval=5, month_day=15), D(2027, 1, 1)),
    ],
)
def test_a_window_after_the_start_keeps_the_interval_parity(
    rule: Recurrence, window_start: date
) -> None:
    window_end = window_start + timedelta(days=400)
    everything = dates_of(rule, rule.start, window_end)
    assert dates_of(rule, window_start, window_end) == [d for d in everything if d >= window_start]


def test_daily_interval_counts_from_the_start() -> None:
    rule = Recurrence(freq="daily", start=D(2026, 2, 26), interval=2)
    assert dates_of(rule, D(2026, 3, 1), D(2026, 3, 6)) == [
        D(2026, 3, 2),
        D(2026, 3, 4),
        D(2026, 3, 6),
    ]


def test_daily_on_weekdays_only() -> None:
    rule = Recurrence(freq="daily", start=D(2026, 1, 1), weekdays=(MON, TUE, WED, THU, FRI))
    days = dates_of(rule, D(2026, 1, 1), D(2026, 1, 31))
    assert len(days) == 22
    assert all(day.weekday() < SAT for day in days)


def test_monthly_interval_counts_months_from_the_start() -> None:
    rule = Recurrence(freq="monthly", start=D(2026, 11, 20), interval=3, month_day=15)
    # 15/11 is before the start; then every third month: February, May, August.
    assert dates_of(rule, D(2026, 1, 1), D(2027, 8, 31)) == [
        D(2027, 2, 15),
        D(2027, 5, 15),
        D(2027, 8, 15),
    ]


def test_monthly_on_the_31st_skips_shorter_months() -> None:
    rule = Recurrence(freq="monthly", start=D(2026, 1, 1), month_day=31)
    assert dates_of(rule, D(2026, 1, 1), D(2026, 12, 31)) == [
        D(2026, 1, 31),
        D(2026, 3, 31),
        D(2026, 5, 31),
        D(2026, 7, 31),
        D(2026, 8, 31),
        D(2026, 10, 31),
        D(2026, 12, 31),
    ]


def test_monthly_on_the_last_day_includes_february() -> None:
    rule = Recurrence(freq="monthly", start=D(2027, 1, 1), month_day=-1)
    days = dates_of(rule, D(2027, 1, 1), D(2028, 12, 31))
    assert D(2027, 2, 28) in days
    assert D(2028, 2, 29) in days
    assert D(2027, 4, 30) in days
    assert len(days) == 24


def test_monthly_on_the_29th_hits_february_only_in_leap_years() -> None:
    rule = Recurrence(freq="monthly", start=D(2027, 1, 1), month_day=29)
    days = dates_of(rule, D(2027, 1, 1), D(2028, 12, 31))
    assert D(2028, 2, 29) in days
    assert not any(day.month == 2 and day.year == 2027 for day in days)
    assert len(days) == 23


def test_fifth_monday_only_in_months_that_have_one() -> None:
    rule = Recurrence(freq="monthly", start=D(2026, 1, 1), nth=5, weekdays=(MON,))
    assert dates_of(rule, D(2026, 1, 1), D(2026, 12, 31)) == [
        D(2026, 3, 30),
        D(2026, 6, 29),
        D(2026, 8, 31),
        D(2026, 11, 30),
    ]


def test_first_monday_and_last_friday() -> None:
    first_monday = Recurrence(freq="monthly", start=D(2026, 1, 1), nth=1, weekdays=(MON,))
    last_friday = Recurrence(freq="monthly", start=D(2026, 1, 1), nth=-1, weekdays=(FRI,))
    assert dates_of(first_monday, D(2026, 1, 1), D(2026, 3, 31)) == [
        D(2026, 1, 5),
        D(2026, 2, 2),
        D(2026, 3, 2),
    ]
    assert dates_of(last_friday, D(2026, 1, 1), D(2026, 5, 31)) == [
        D(2026, 1, 30),
        D(2026, 2, 27),
        D(2026, 3, 27),
        D(2026, 4, 24),
        D(2026, 5, 29),
    ]


def test_exception_dates_are_removed() -> None:
    tet = (D(2026, 2, 16), D(2026, 2, 17), D(2026, 2, 18))
    rule = Recurrence(freq="daily", start=D(2026, 2, 14), until=D(2026, 2, 20), exceptions=tet)
    assert dates_of(rule, D(2026, 2, 1), D(2026, 2, 28)) == [
        D(2026, 2, 14),
        D(2026, 2, 15),
        D(2026, 2, 19),
        D(2026, 2, 20),
    ]
    assert not occurs_on(rule, D(2026, 2, 17))
    assert occurs_on(rule, D(2026, 2, 19))


def test_until_is_inclusive() -> None:
    rule = Recurrence(freq="weekly", start=D(2026, 1, 5), until=D(2026, 1, 19), weekdays=(MON,))
    assert dates_of(rule, D(2026, 1, 1), D(2026, 12, 31)) == [
        D(2026, 1, 5),
        D(2026, 1, 12),
        D(2026, 1, 19),
    ]


def test_count_is_numbered_from_the_start_and_includes_exception_dates() -> None:
    # As EXDATE in RFC 5545: COUNT picks the generated dates, the exception then removes one.
    rule = Recurrence(
        freq="weekly", start=D(2026, 1, 5), weekdays=(MON,), count=4, exceptions=(D(2026, 1, 12),)
    )
    assert dates_of(rule, D(2026, 1, 1), D(2026, 12, 31)) == [
        D(2026, 1, 5),
        D(2026, 1, 19),
        D(2026, 1, 26),
    ]
    assert dates_of(rule, D(2026, 1, 20), D(2026, 12, 31)) == [D(2026, 1, 26)]


def test_start_that_does_not_match_is_not_an_occurrence() -> None:
    rule = Recurrence(freq="weekly", start=D(2026, 1, 6), weekdays=(MON,))
    assert dates_of(rule, D(2026, 1, 1), D(2026, 1, 13)) == [D(2026, 1, 12)]


def test_occurs_on() -> None:
    rule = Recurrence(freq="monthly", start=D(2026, 1, 1), nth=-1, weekdays=(FRI,))
    assert occurs_on(rule, D(2026, 1, 30))
    assert not occurs_on(rule, D(2026, 1, 23))


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"freq": "yearly"}, "freq", "yearly"),
        ({"interval": 0}, "interval", "interval"),
        ({"until": D(2025, 12, 31)}, "until", "31/12/2025"),
        ({"weekdays": ()}, "weekdays", "ít nhất một thứ"),
        ({"weekdays": (7,)}, "weekdays", "nhận được 7"),
        ({"count": 0}, "count", "count"),
        ({"count": 3, "until": D(2026, 6, 1)}, "count", "until"),
        ({"month_day": 15}, "month_day", "hằng tháng"),
        ({"start": datetime(2026, 1, 5, 5, 30)}, "start", "không kèm giờ"),
        ({"start": None}, "start", "start"),
        ({"exceptions": ("2026-02-17",)}, "exceptions", "2026-02-17"),
    ],
)
def test_weekly_rules_that_are_refused(fields: dict, field: str, words: str) -> None:
    rule = Recurrence(**{"freq": "weekly", "start": D(2026, 1, 5), "weekdays": (MON,), **fields})
    with pytest.raises(RecurrenceError, match=words) as error:
        validate(rule)
    assert error.value.field == field


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"nth": 1, "weekdays": (MON, FRI)}, "weekdays", "đúng một thứ"),
        ({"nth": 1}, "weekdays", "đúng một thứ"),
        ({"nth": 0, "weekdays": (MON,)}, "nth", "nhận được 0"),
        ({"nth": 6, "weekdays": (MON,)}, "nth", "nhận được 6"),
        ({"nth": -2, "weekdays": (MON,)}, "nth", "nhận được -2"),
        ({"month_day": 0}, "month_day", "nhận được 0"),
        ({"month_day": 32}, "month_day", "nhận được 32"),
        ({"month_day": 15, "nth": 1, "weekdays": (MON,)}, "nth", "cả ngày trong tháng"),
        ({}, "month_day", "month_day"),
        ({"month_day": 15, "weekdays": (MON,)}, "weekdays", "không dùng thứ"),
    ],
)
def test_monthly_rules_that_are_refused(fields: dict, field: str, words: str) -> None:
    rule = Recurrence(**{"freq": "monthly", "start": D(2026, 1, 5), **fields})
    with pytest.raises(RecurrenceError, match=words) as error:
        validate(rule)
    assert error.value.field == field


def test_once_refuses_fields_that_do_not_apply() -> None:
    with pytest.raises(RecurrenceError, match="weekdays, count"):
        validate(Recurrence(freq="once", start=D(2026, 1, 5), weekdays=(MON,), count=2))


def test_a_rule_that_never_airs_in_its_range_is_refused() -> None:
    rule = Recurrence(freq="monthly", start=D(2026, 2, 1), until=D(2026, 2, 28), month_day=30)
    with pytest.raises(RecurrenceError, match="không sinh ra buổi phát nào từ 01/02/2026"):
        validate(rule)


def test_a_rule_that_can_never_air_is_refused() -> None:
    # Every 12 months from February is every February, which never has a 30th.
    rule = Recurrence(freq="monthly", start=D(2026, 2, 1), interval=12, month_day=30)
    with pytest.raises(RecurrenceError, match="không bao giờ"):
        validate(rule)


def test_validate_sorts_days_and_exceptions_and_makes_single_days_once() -> None:
    rule = Recurrence(
        freq="weekly",
        start=D(2026, 1, 5),
        weekdays=(THU, MON, THU),
        exceptions=(D(2026, 3, 2), D(2026, 2, 2), D(2026, 3, 2)),
    )
    assert validate(rule).weekdays == (MON, THU)
    assert validate(rule).exceptions == (D(2026, 2, 2), D(2026, 3, 2))
    single = Recurrence(freq="daily", start=D(2026, 1, 5), count=1)
    assert validate(single) == Recurrence(freq="once", start=D(2026, 1, 5))


def test_error_messages_are_one_vietnamese_sentence() -> None:
    with pytest.raises(RecurrenceError) as error:
        validate(Recurrence(freq="weekly", start=D(2026, 1, 5)))
    message = str(error.value)
    assert message == "Lặp hằng tuần cần chọn ít nhất một thứ trong tuần (weekdays)."
    assert isinstance(error.value, ValueError)


# --- RRULE out and in -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        (Recurrence(freq="once", start=D(2026, 1, 5)), "FREQ=DAILY;COUNT=1"),
        (
            Recurrence(freq="daily", start=D(2026, 1, 5), weekdays=(0, 1, 2, 3, 4)),
            "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
        ),
        (
            Recurrence(freq="weekly", start=D(2026, 1, 5), weekdays=(THU, MON), count=10),
            "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=10",
        ),
        (
            Recurrence(freq="weekly", start=D(2026, 1, 2), interval=2, weekdays=(FRI,)),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR;WKST=MO",
        ),
        (
            Recurrence(freq="monthly", start=D(2026, 1, 1), month_day=15),
            "FREQ=MONTHLY;BYMONTHDAY=15",
        ),
        (
            Recurrence(
                freq="monthly", start=D(2026, 1, 1), until=D(2026, 12, 31), nth=-1, weekdays=(FRI,)
            ),
            "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20261231",
        ),
        (
            Recurrence(freq="monthly", start=D(2026, 1, 1), interval=3, nth=1, weekdays=(MON,)),
            "FREQ=MONTHLY;INTERVAL=3;BYDAY=1MO",
        ),
    ],
)
def test_to_rrule_and_back(rule: Recurrence, text: str) -> None:
    assert to_rrule(rule) == text
    assert from_rrule(text, start=rule.start) == validate(rule)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "RRULE:FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20261231",
            {"freq": "weekly", "weekdays": (MON, THU), "until": D(2026, 12, 31)},
        ),
        ("rrule:freq=monthly;byday=2we", {"freq": "monthly", "nth": 2, "weekdays": (WED,)}),
        ("FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1", {"freq": "monthly", "nth": -1, "weekdays": (FRI,)}),
        ("FREQ=MONTHLY;BYMONTHDAY=-1;", {"freq": "monthly", "month_day": -1}),
        ("FREQ=WEEKLY", {"freq": "weekly", "weekdays": (MON,)}),
        ("FREQ=MONTHLY", {"freq": "monthly", "month_day": 5}),
        ("FREQ=DAILY;INTERVAL=2;COUNT=5", {"freq": "daily", "interval": 2, "count": 5}),
        ("FREQ=WEEKLY;BYDAY=SU;WKST=SU", {"freq": "weekly", "weekdays": (SUN,)}),
        (
            "FREQ=DAILY;UNTIL=20261231T053000",
            {"freq": "daily", "until": D(2026, 12, 31)},
        ),
        ("FREQ=DAILY;UNTIL=20261230T223000Z", {"freq": "daily", "until": D(2026, 12, 30)}),
    ],
)
def test_from_rrule_reads(text: str, expected: dict) -> None:
    assert from_rrule(text, start=D(2026, 1, 5)) == Recurrence(start=D(2026, 1, 5), **expected)


def test_from_rrule_reads_a_utc_until_in_the_station_zone() -> None:
    # 22:30 UTC on 30/12 is 05:30 on 31/12 in Vietnam: the 31st is the last airing.
    rule = from_rrule(
        "FREQ=DAILY;UNTIL=20261230T223000Z",
        start=D(2026, 12, 1),
        tz="Asia/Ho_Chi_Minh",
        at=time(5, 30),
    )
    assert rule.until == D(2026, 12, 31)
    earlier = from_rrule(
        "FREQ=DAILY;UNTIL=20261230T220000Z",
        start=D(2026, 12, 1),
        tz="Asia/Ho_Chi_Minh",
        at=time(5, 30),
    )
    assert earlier.until == D(2026, 12, 30)


def test_from_rrule_keeps_exceptions() -> None:
    rule = from_rrule("FREQ=DAILY", start=D(2026, 2, 1), exceptions=(D(2026, 2, 17),))
    assert rule.exceptions == (D(2026, 2, 17),)
    assert not occurs_on(rule, D(2026, 2, 17))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("FREQ=YEARLY;BYMONTH=1", "FREQ=YEARLY"),
        ("FREQ=HOURLY", "FREQ=HOURLY"),
        ("FREQ=DAILY;BYHOUR=5", "BYHOUR"),
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "một thứ"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1,3", "BYSETPOS"),
        ("FREQ=MONTHLY;BYDAY=1MO,3MO", "một thứ"),
        ("FREQ=MONTHLY;BYDAY=MO", "thứ mấy"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15", "một ngày"),
        ("FREQ=MONTHLY;BYMONTHDAY=-2", "month_day"),
        ("FREQ=MONTHLY;BYMONTHDAY=15;BYDAY=FR", "BYMONTHDAY cùng với BYDAY"),
        ("FREQ=WEEKLY;BYDAY=1MO", "số thứ tự"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=SU;WKST=SU", "WKST=SU"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20261231", "count"),
        ("FREQ=DAILY;INTERVAL=two", "INTERVAL=TWO"),
        ("FREQ=DAILY;UNTIL=20261332", "UNTIL"),
        ("FREQ=DAILY;FREQ=WEEKLY", "hai lần"),
        ("INTERVAL=2", "thiếu phần FREQ"),
        ("FREQ", "TÊN=GIÁ_TRỊ"),
        ("DTSTART:20260105\nRRULE:FREQ=DAILY", "một dòng"),
    ],
)
def test_from_rrule_refuses_what_it_cannot_represent(text: str, words: str) -> None:
    with pytest.raises(RecurrenceError, match=words):
        from_rrule(text, start=D(2026, 1, 5))


# --- iCalendar lines --------------------------------------------------------------------------


def test_ical_lines_use_the_first_date_utc_until_and_only_real_exceptions() -> None:
    rule = Recurrence(
        freq="weekly",
        start=D(2026, 1, 1),  # a Thursday: the first Monday is 05/01
        until=D(2026, 12, 28),
        weekdays=(MON,),
        exceptions=(D(2026, 2, 16), D(2026, 2, 17)),  # 17/02 is a Tuesday: nothing to remove
    )
    assert to_ical_lines(rule, tz="Asia/Ho_Chi_Minh", at=time(5, 30)) == [
        "DTSTART;TZID=Asia/Ho_Chi_Minh:20260105T053000",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20261227T223000Z",
        "EXDATE;TZID=Asia/Ho_Chi_Minh:20260216T053000",
    ]


def test_ical_lines_for_once_have_no_rrule() -> None:
    rule = Recurrence(freq="once", start=D(2026, 9, 2))
    assert to_ical_lines(rule, tz="Asia/Ho_Chi_Minh", at=time(6, 0)) == [
        "DTSTART;TZID=Asia/Ho_Chi_Minh:20260902T060000"
    ]


def test_ical_lines_refuse_an_unknown_zone() -> None:
    rule = Recurrence(freq="once", start=D(2026, 9, 2))
    with pytest.raises(RecurrenceError, match="Mars/Olympus"):
        to_ical_lines(rule, tz="Mars/Olympus", at=time(6, 0))


def test_ical_rrule_reads_back_to_the_same_dates() -> None:
    rule = Recurrence(freq="daily", start=D(2026, 1, 1), until=D(2026, 3, 31), interval=3)
    lines = to_ical_lines(rule, tz="Asia/Ho_Chi_Minh", at=time(5, 30))
    back = from_rrule(lines[1], start=D(2026, 1, 1), tz="Asia/Ho_Chi_Minh", at=time(5, 30))
    assert back == rule


# --- Vietnamese wording -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        (
            Recurrence(
                freq="weekly",
                start=D(2026, 1, 5),
                until=D(2026, 12, 31),
                weekdays=(MON, THU),
                exceptions=(D(2026, 2, 17),),
            ),
            "Hằng tuần vào thứ Hai và thứ Năm, từ 05/01/2026 đến 31/12/2026, trừ 17/02/2026",
        ),
        (
            Recurrence(freq="monthly", start=D(2026, 1, 2), nth=-1, weekdays=(FRI,)),
            "Thứ Sáu cuối cùng hằng tháng, từ 02/01/2026",
        ),
        (
            Recurrence(freq="monthly", start=D(2026, 1, 2), month_day=15),
            "Ngày 15 hằng tháng, từ 02/01/2026",
        ),
        (
            Recurrence(freq="monthly", start=D(2026, 1, 2), month_day=-1, count=6),
            "Ngày cuối cùng hằng tháng, từ 02/01/2026, 6 lần",
        ),
        (
            Recurrence(freq="monthly", start=D(2026, 1, 2), nth=1, weekdays=(MON,), interval=3),
            "Cách 3 tháng, vào thứ Hai đầu tiên của tháng, từ 02/01/2026",
        ),
        (
            Recurrence(freq="weekly", start=D(2026, 1, 2), interval=2, weekdays=(FRI,)),
            "Cách 2 tuần, vào thứ Sáu, từ 02/01/2026",
        ),
        (
            Recurrence(freq="daily", start=D(2026, 1, 2), weekdays=(0, 1, 2, 3, 4)),
            "Hằng ngày trừ thứ Bảy và Chủ nhật, từ 02/01/2026",
        ),
        (
            Recurrence(freq="daily", start=D(2026, 1, 2), weekdays=(MON, WED)),
            "Hằng ngày, chỉ vào thứ Hai và thứ Tư, từ 02/01/2026",
        ),
        (Recurrence(freq="daily", start=D(2026, 1, 2), interval=2), "Cách 2 ngày, từ 02/01/2026"),
        (
            Recurrence(freq="once", start=D(2026, 9, 2), exceptions=(D(2026, 9, 3), D(2026, 9, 4))),
            "Một lần vào ngày 02/09/2026, trừ 03/09/2026 và 04/09/2026",
        ),
    ],
)
def test_describe(rule: Recurrence, text: str) -> None:
    assert describe(rule) == text


# --- properties -------------------------------------------------------------------------------

DAYS = st.dates(min_value=D(2024, 1, 1), max_value=D(2029, 12, 31))
WEEKDAY_SETS = st.lists(st.integers(0, 6), max_size=7, unique=True).map(tuple)


@st.composite
def rules(draw: st.DrawFn) -> Recurrence:
    """Any supported shape; invalid combinations are discarded by the tests."""
    freq = draw(st.sampled_from(["once", "daily", "weekly", "monthly"]))
    start = draw(DAYS)
    exceptions = tuple(
        start + timedelta(days=n) for n in draw(st.lists(st.integers(0, 120), max_size=4))
    )
    if freq == "once":
        return Recurrence(freq="once", start=start, exceptions=exceptions)
    end = draw(st.sampled_from(["open", "until", "count"]))
    until = start + timedelta(days=draw(st.integers(0, 900))) if end == "until" else None
    count = draw(st.integers(1, 40)) if end == "count" else None
    fields: dict = {"weekdays": draw(WEEKDAY_SETS)}
    if freq == "monthly":
        if draw(st.booleans()):
            fields = {"month_day": draw(st.sampled_from([*range(1, 32), -1]))}
        else:
            fields = {
                "nth": draw(st.sampled_from([1, 2, 3, 4, 5, -1])),
                "weekdays": (draw(st.integers(0, 6)),),
            }
    interval = draw(st.integers(1, {"daily": 10, "weekly": 5, "monthly": 14}[freq]))
    return Recurrence(
        freq=freq,
        start=start,
        until=until,
        interval=interval,
        exceptions=exceptions,
        count=count,
        **fields,
    )


def valid(rule: Recurrence) -> Recurrence:
    try:
        return validate(rule)
    except RecurrenceError:
        assume(False)
        raise


def reference_dates(rule: Recurrence, first: date, last: date) -> list[date]:
    """Expand with python-dateutil, an independent RFC 5545 implementation."""
    dates = rruleset()
    dates.rrule(rrulestr(to_rrule(rule), dtstart=datetime.combine(rule.start, time())))
    for day in rule.exceptions:
        dates.exdate(datetime.combine(day, time()))
    found = dates.between(datetime.combine(first, time()), datetime.combine(last, time()), inc=True)
    return [moment.date() for moment in found]


PROPERTY = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


@PROPERTY
@given(rules())
def test_rrule_round_trip(rule: Recurrence) -> None:
    rule = valid(rule)
    assert from_rrule(to_rrule(rule), start=rule.start, exceptions=rule.exceptions) == rule


@PROPERTY
@given(rules(), st.integers(-30, 700), st.integers(0, 500))
def test_dates_agree_with_dateutil(rule: Recurrence, offset: int, length: int) -> None:
    rule = valid(rule)
    first = rule.start + timedelta(days=offset)
    last = first + timedelta(days=length)
    assert occurrences(rule, start=first, end=last) == reference_dates(rule, first, last)


@PROPERTY
@given(rules(), st.integers(0, 700), st.integers(0, 300))
def test_a_window_is_a_slice_of_the_whole(rule: Recurrence, offset: int, length: int) -> None:
    rule = valid(rule)
    first = rule.start + timedelta(days=offset)
    last = first + timedelta(days=length)
    whole = occurrences(rule, start=rule.start, end=last)
    assert occurrences(rule, start=first, end=last) == [day for day in whole if day >= first]


@PROPERTY
@given(rules())
def test_describe_always_reads(rule: Recurrence) -> None:
    text = describe(valid(rule))
    assert text[0].isupper()
    assert f"{rule.start.day:02d}/{rule.start.month:02d}/{rule.start.year}" in text
