"""Recurrence of airtime bookings: local dates, RFC 5545 RRULE in and out, Vietnamese wording.

Pure code, no database. A rule yields local calendar dates; the playlist generator places each
date at the booking's wall-clock time in the station's zone.

Semantics follow RFC 5545 so that exported calendars agree with `occurrences()`:

- `start` is the first *possible* date (DTSTART); it is an occurrence only if it matches the rule.
- Weeks start on Monday (WKST=MO). "Every N weeks" counts weeks from the week that contains
  `start`, so the parity is kept across year boundaries and in any query window.
- "Every N months" counts months from the month of `start`; "every N days" counts from `start`.
- "Monthly on the 31st" skips months without a 31st (RFC 5545 ignores invalid dates); use
  `month_day=-1` for "the last day of every month". Likewise `nth=5` only hits months that have a
  fifth such weekday.
- `count` counts the dates the rule generates before exception dates are removed (as EXDATE does),
  so `count=10` with one exception on a generated date airs 9 times.
"""

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FREQS = ("once", "daily", "weekly", "monthly")
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
DAY_NAMES = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
ORDINALS = ("đầu tiên", "thứ hai", "thứ ba", "thứ tư", "thứ năm")
MAX_INTERVAL = 999
# The Gregorian calendar repeats every 400 years (146097 days): a rule with no date in one cycle
# never has one.
CYCLE = timedelta(days=146097)
BYDAY_ITEM = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
RRULE_PARTS = ("FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYSETPOS", "UNTIL", "COUNT", "WKST")


@dataclass(frozen=True)
class Recurrence:
    """When a booking airs: a frequency, a date range and exception dates, all local dates."""

    freq: str
    start: date
    until: date | None = None
    interval: int = 1
    weekdays: tuple[int, ...] = ()
    month_day: int | None = None
    nth: int | None = None
    exceptions: tuple[date, ...] = ()
    count: int | None = None


class RecurrenceError(ValueError):
    """A rule that cannot be used; the message is one Vietnamese sentence for the planner."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


# --- validation -------------------------------------------------------------------------------


def validate(rule: Recurrence) -> Recurrence:
    """Return the rule in canonical form, or raise RecurrenceError if it is impossible."""
    if rule.freq not in FREQS:
        raise RecurrenceError(
            f"Kiểu lặp {rule.freq!r} không hợp lệ; chỉ nhận once, daily, weekly hoặc monthly.",
            field="freq",
        )
    _check_dates(rule)
    _check_numbers(rule)
    _check_weekdays(rule.weekdays)
    _check_freq_fields(rule)
    rule = replace(
        rule,
        weekdays=tuple(sorted(set(rule.weekdays))),
        exceptions=tuple(sorted(set(rule.exceptions))),
    )
    if rule.freq == "daily" and rule.count == 1 and not rule.weekdays:
        # One generated date, always the start: the same thing as "once", kept in one form.
        rule = Recurrence(freq="once", start=rule.start, exceptions=rule.exceptions)
    _check_produces_dates(rule)
    return rule


def _check_dates(rule: Recurrence) -> None:
    # A datetime is a date subclass, but comparing it with dates fails later and far away.
    if not _is_day(rule.start):
        raise RecurrenceError(
            "Ngày bắt đầu (start) phải là một ngày, không kèm giờ.", field="start"
        )
    if rule.until is not None and not _is_day(rule.until):
        raise RecurrenceError(
            "Ngày kết thúc (until) phải là một ngày, không kèm giờ.", field="until"
        )
    for day in rule.exceptions:
        if not _is_day(day):
            raise RecurrenceError(
                f"Ngày ngoại lệ {day!r} phải là một ngày, không kèm giờ.", field="exceptions"
            )
    if rule.until is not None and rule.until < rule.start:
        raise RecurrenceError(
            f"Ngày kết thúc {_fmt(rule.until)} trước ngày bắt đầu {_fmt(rule.start)}.",
            field="until",
        )


def _check_numbers(rule: Recurrence) -> None:
    if not _is_int(rule.interval) or not 1 <= rule.interval <= MAX_INTERVAL:
        raise RecurrenceError(
            f"Khoảng lặp (interval) phải là số nguyên từ 1 đến {MAX_INTERVAL}, "
            f"nhận được {rule.interval!r}.",
            field="interval",
        )
    if rule.count is not None and (not _is_int(rule.count) or rule.count < 1):
        raise RecurrenceError(
            f"Số lần lặp (count) phải là số nguyên từ 1 trở lên, nhận được {rule.count!r}.",
            field="count",
        )
    if rule.count is not None and rule.until is not None:
        # RFC 5545 forbids COUNT and UNTIL together.
        raise RecurrenceError(
            "Không thể đặt cùng lúc số lần lặp (count) và ngày kết thúc (until).", field="count"
        )
    if rule.month_day is not None and (
        not _is_int(rule.month_day) or not (1 <= rule.month_day <= 31 or rule.month_day == -1)
    ):
        raise RecurrenceError(
            "Ngày trong tháng (month_day) phải từ 1 đến 31 hoặc -1 (ngày cuối tháng), "
            f"nhận được {rule.month_day!r}.",
            field="month_day",
        )
    if rule.nth is not None and (
        not _is_int(rule.nth) or not (1 <= rule.nth <= 5 or rule.nth == -1)
    ):
        raise RecurrenceError(
            "Thứ tự trong tháng (nth) phải từ 1 đến 5 hoặc -1 (cuối cùng), "
            f"nhận được {rule.nth!r}.",
            field="nth",
        )


def _check_weekdays(weekdays: tuple[int, ...]) -> None:
    for day in weekdays:
        if not _is_int(day) or not 0 <= day <= 6:
            raise RecurrenceError(
                f"Thứ trong tuần phải từ 0 (thứ Hai) đến 6 (Chủ nhật), nhận được {day!r}.",
                field="weekdays",
            )


def _check_freq_fields(rule: Recurrence) -> None:
    if rule.freq == "once":
        extra = [
            name
            for name, used in [
                ("until", rule.until is not None),
                ("interval", rule.interval != 1),
                ("weekdays", bool(rule.weekdays)),
                ("month_day", rule.month_day is not None),
                ("nth", rule.nth is not None),
                ("count", rule.count is not None),
            ]
            if used
        ]
        if extra:
            raise RecurrenceError(
                f"Phát một lần (once) không dùng các trường: {', '.join(extra)}.", field=extra[0]
            )
        return
    if rule.freq != "monthly" and (rule.month_day is not None or rule.nth is not None):
        raise RecurrenceError(
            "Ngày trong tháng (month_day) và thứ N trong tháng (nth) chỉ dùng cho lặp hằng tháng.",
            field="month_day" if rule.month_day is not None else "nth",
        )
    if rule.freq == "weekly" and not rule.weekdays:
        raise RecurrenceError(
            "Lặp hằng tuần cần chọn ít nhất một thứ trong tuần (weekdays).", field="weekdays"
        )
    if rule.freq == "monthly":
        _check_monthly_fields(rule)


def _check_monthly_fields(rule: Recurrence) -> None:
    if rule.month_day is not None and rule.nth is not None:
        raise RecurrenceError(
            "Không thể lặp hằng tháng theo cả ngày trong tháng (month_day) và thứ N (nth).",
            field="nth",
        )
    if rule.month_day is None and rule.nth is None:
        raise RecurrenceError(
            "Lặp hằng tháng cần ngày trong tháng (month_day) hoặc thứ N trong tháng (nth).",
            field="month_day",
        )
    if rule.nth is not None and len(set(rule.weekdays)) != 1:
        raise RecurrenceError(
            "Lặp theo thứ N trong tháng (nth) cần đúng một thứ trong tuần, "
            f"nhận được {len(set(rule.weekdays))}.",
            field="weekdays",
        )
    if rule.month_day is not None and rule.weekdays:
        raise RecurrenceError(
            "Lặp hằng tháng theo ngày trong tháng không dùng thứ trong tuần (weekdays).",
            field="weekdays",
        )


def _check_produces_dates(rule: Recurrence) -> None:
    last = rule.until or _add_capped(rule.start, CYCLE)
    if next(_generate(rule, skip_to=rule.start, last=last), None) is not None:
        return
    if rule.until is not None:
        raise RecurrenceError(
            f"Quy tắc không sinh ra buổi phát nào từ {_fmt(rule.start)} đến {_fmt(rule.until)}.",
            field="until",
        )
    raise RecurrenceError(
        "Quy tắc không bao giờ sinh ra buổi phát nào (ví dụ ngày 31 của tháng chỉ có 30 ngày).",
        field="freq",
    )


def _is_day(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- expansion --------------------------------------------------------------------------------


def occurrences(rule: Recurrence, *, start: date, end: date) -> list[date]:
    """Return the rule's dates within [start, end], sorted, exception dates removed."""
    rule = validate(rule)
    last = min(end, rule.until) if rule.until else end
    if last < rule.start or end < start:
        return []
    # COUNT is numbered from the rule's start, so a counted rule is always walked from there.
    skip_to = rule.start if rule.count else max(start, rule.start)
    excluded = set(rule.exceptions)
    found = []
    for number, day in enumerate(_generate(rule, skip_to=skip_to, last=last), start=1):
        if rule.count and number > rule.count:
            break
        if day >= start and day not in excluded:
            found.append(day)
    return found


def occurs_on(rule: Recurrence, day: date) -> bool:
    """Tell whether the rule airs on this local date."""
    return bool(occurrences(rule, start=day, end=day))


def _generate(rule: Recurrence, *, skip_to: date, last: date) -> Iterator[date]:
    """Yield the dates the rule generates up to `last`, from the period that holds `skip_to`.

    Exceptions, COUNT and UNTIL are the caller's business; dates before `skip_to` in its period
    may be yielded too.
    """
    if rule.freq == "once":
        if rule.start <= last:
            yield rule.start
    elif rule.freq == "daily":
        yield from _daily(rule, skip_to, last)
    elif rule.freq == "weekly":
        yield from _weekly(rule, skip_to, last)
    else:
        yield from _monthly(rule, skip_to, last)


def _daily(rule: Recurrence, skip_to: date, last: date) -> Iterator[date]:
    steps = (skip_to - rule.start).days // rule.interval
    ordinal = rule.start.toordinal() + steps * rule.interval
    while ordinal <= last.toordinal():
        day = date.fromordinal(ordinal)
        if not rule.weekdays or day.weekday() in rule.weekdays:
            yield day
        ordinal += rule.interval


def _weekly(rule: Recurrence, skip_to: date, last: date) -> Iterator[date]:
    first_monday = rule.start.toordinal() - rule.start.weekday()
    weeks = (skip_to.toordinal() - first_monday) // 7 // rule.interval * rule.interval
    monday = first_monday + weeks * 7
    while monday <= last.toordinal():
        for weekday in rule.weekdays:
            ordinal = monday + weekday
            if ordinal > last.toordinal():
                return
            if ordinal >= rule.start.toordinal():
                yield date.fromordinal(ordinal)
        monday += 7 * rule.interval


def _monthly(rule: Recurrence, skip_to: date, last: date) -> Iterator[date]:
    first_month = _month_index(rule.start)
    index = first_month + (_month_index(skip_to) - first_month) // rule.interval * rule.interval
    while index <= _month_index(last):
        year, month = divmod(index, 12)
        day = _monthly_date(rule, year, month + 1)
        if day is not None and day > last:
            return
        if day is not None and day >= rule.start:
            yield day
        index += rule.interval


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _monthly_date(rule: Recurrence, year: int, month: int) -> date | None:
    """Return the rule's date in this month, or None when the month has no such date."""
    first_weekday, length = calendar.monthrange(year, month)
    if rule.month_day is not None:
        number = length if rule.month_day == -1 else rule.month_day
        return date(year, month, number) if number <= length else None
    weekday = rule.weekdays[0]
    if rule.nth == -1:
        last_weekday = (first_weekday + length - 1) % 7
        return date(year, month, length - (last_weekday - weekday) % 7)
    number = 1 + (weekday - first_weekday) % 7 + (rule.nth - 1) * 7
    return date(year, month, number) if number <= length else None


def _add_capped(day: date, delta: timedelta) -> date:
    return date.fromordinal(min(day.toordinal() + delta.days, date.max.toordinal()))


# --- RFC 5545 out -----------------------------------------------------------------------------


def to_rrule(rule: Recurrence) -> str:
    """Return the rule as an RFC 5545 RRULE value, e.g. "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20261231".

    Exception dates are not part of an RRULE: iCalendar carries them as EXDATE.
    """
    rule = validate(rule)
    until = _basic_date(rule.until) if rule.until else None
    return _rrule_value(rule, until)


def to_ical_lines(rule: Recurrence, *, tz: str, at: time) -> list[str]:
    """Return unfolded DTSTART, RRULE and EXDATE lines for a VEVENT airing at local time `at`.

    DTSTART is the first generated date (RFC 5545 wants DTSTART to match the rule) and UNTIL is
    given in UTC, as RFC 5545 requires with a zoned DTSTART.
    """
    rule = validate(rule)
    zone = _zone(tz)
    if at.tzinfo is not None:
        raise RecurrenceError("Giờ phát phải là giờ địa phương, không kèm múi giờ.", field="at")
    bare = replace(rule, exceptions=())
    first = next(_generate(rule, skip_to=rule.start, last=rule.until or date.max))
    lines = [f"DTSTART;TZID={tz}:{_local_stamp(first, at)}"]
    if rule.freq != "once":
        until = None
        if rule.until:
            local_until = datetime.combine(rule.until, at, tzinfo=zone)
            utc = local_until.astimezone(UTC)
            until = f"{_local_stamp(utc.date(), utc.time())}Z"
        lines.append("RRULE:" + _rrule_value(rule, until))
    # Dates the rule never generates change nothing; leaving them out keeps the export readable.
    excluded = [day for day in rule.exceptions if occurs_on(bare, day)]
    if excluded:
        stamps = ",".join(_local_stamp(day, at) for day in excluded)
        lines.append(f"EXDATE;TZID={tz}:{stamps}")
    return lines


def _rrule_value(rule: Recurrence, until: str | None) -> str:
    if rule.freq == "once":
        return "FREQ=DAILY;COUNT=1"
    parts = [f"FREQ={rule.freq.upper()}"]
    if rule.interval != 1:
        parts.append(f"INTERVAL={rule.interval}")
    if rule.nth is not None:
        parts.append(f"BYDAY={rule.nth}{RRULE_DAYS[rule.weekdays[0]]}")
    elif rule.weekdays:
        parts.append("BYDAY=" + ",".join(RRULE_DAYS[day] for day in rule.weekdays))
    if rule.month_day is not None:
        parts.append(f"BYMONTHDAY={rule.month_day}")
    if rule.freq == "weekly" and rule.interval != 1:
        parts.append("WKST=MO")
    if rule.count is not None:
        parts.append(f"COUNT={rule.count}")
    if until is not None:
        parts.append(f"UNTIL={until}")
    return ";".join(parts)


def _local_stamp(day: date, at: time) -> str:
    return f"{_basic_date(day)}T{at.hour:02d}{at.minute:02d}{at.second:02d}"


def _basic_date(day: date) -> str:
    # strftime("%Y") does not pad years below 1000 on every platform.
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise RecurrenceError(f"Múi giờ {tz!r} không tồn tại.", field="tz") from None


# --- RFC 5545 in ------------------------------------------------------------------------------


def from_rrule(
    text: str,
    *,
    start: date,
    exceptions: tuple[date, ...] = (),
    tz: str | None = None,
    at: time | None = None,
) -> Recurrence:
    """Read an RRULE ("RRULE:FREQ=..." or bare) into a Recurrence starting on `start`.

    A date-time UNTIL is read in `tz` when given (a UTC UNTIL from a Vietnamese calendar is
    usually the evening before the last local date); with `at`, a last day whose airing time is
    after UNTIL's time is left out, as RFC 5545 would.
    """
    parts = _split_rrule(text)
    freq = _read_freq(parts.get("FREQ"))
    interval = _read_int(parts, "INTERVAL", default=1)
    count = _read_int(parts, "COUNT", default=None)
    until = _read_until(parts["UNTIL"], tz=tz, at=at) if "UNTIL" in parts else None
    days = _read_byday(parts.get("BYDAY", ""))
    _check_wkst(parts.get("WKST"), freq=freq, interval=interval)
    fields: dict[str, object] = {"weekdays": tuple(day for _, day in days)}
    if freq == "monthly":
        fields = _read_monthly(parts, days, start=start)
    else:
        if "BYMONTHDAY" in parts or "BYSETPOS" in parts:
            name = "BYMONTHDAY" if "BYMONTHDAY" in parts else "BYSETPOS"
            raise RecurrenceError(f"Không hỗ trợ {name} khi lặp {freq}.", field="rrule")
        if any(nth is not None for nth, _ in days):
            raise RecurrenceError(
                f"BYDAY có số thứ tự chỉ dùng được khi lặp hằng tháng, không dùng khi lặp {freq}.",
                field="rrule",
            )
        if freq == "weekly" and not days:
            # RFC 5545: a weekly rule without BYDAY repeats on DTSTART's weekday.
            fields = {"weekdays": (start.weekday(),)}
    rule = Recurrence(
        freq=freq,
        start=start,
        until=until,
        interval=interval,
        exceptions=tuple(exceptions),
        count=count,
        **fields,
    )
    return validate(rule)


def _split_rrule(text: str) -> dict[str, str]:
    value = text.strip()
    if "\n" in value or "\r" in value:
        raise RecurrenceError("RRULE phải nằm trên một dòng.", field="rrule")
    if value.upper().startswith("RRULE:"):
        value = value[len("RRULE:") :]
    parts: dict[str, str] = {}
    for item in filter(None, value.split(";")):
        name, sep, content = item.partition("=")
        name = name.strip().upper()
        if not sep or not name or not content.strip():
            raise RecurrenceError(f"Phần {item!r} của RRULE không đúng dạng TÊN=GIÁ_TRỊ.")
        if name in parts:
            raise RecurrenceError(f"Phần {name} xuất hiện hai lần trong RRULE.", field="rrule")
        parts[name] = content.strip().upper()
    if "FREQ" not in parts:
        raise RecurrenceError("RRULE thiếu phần FREQ.", field="rrule")
    _read_freq(parts["FREQ"])  # an unsupported frequency is the clearest thing to report first
    for name in parts:
        if name not in RRULE_PARTS:
            raise RecurrenceError(f"Không hỗ trợ phần {name} trong RRULE.", field="rrule")
    return parts


def _read_freq(value: str | None) -> str:
    if value not in ("DAILY", "WEEKLY", "MONTHLY"):
        raise RecurrenceError(
            f"Không hỗ trợ FREQ={value}; chỉ nhận DAILY, WEEKLY hoặc MONTHLY.", field="rrule"
        )
    return value.lower()


def _read_int(parts: dict[str, str], name: str, *, default: int | None) -> int | None:
    if name not in parts:
        return default
    value = parts[name]
    if not re.fullmatch(r"[+-]?\d{1,9}", value):
        raise RecurrenceError(f"Giá trị {name}={value} không phải số nguyên.", field="rrule")
    return int(value)


def _read_until(value: str, *, tz: str | None, at: time | None) -> date:
    match = re.fullmatch(r"(\d{8})(?:T(\d{6})(Z?))?", value)
    if not match:
        raise RecurrenceError(f"Giá trị UNTIL={value} không phải ngày hợp lệ.", field="rrule")
    day_text, time_text, utc = match.groups()
    try:
        moment = datetime.strptime(day_text + (time_text or "000000"), "%Y%m%d%H%M%S")
    except ValueError:
        raise RecurrenceError(
            f"Giá trị UNTIL={value} không phải ngày hợp lệ.", field="rrule"
        ) from None
    if time_text is None:
        return moment.date()
    if utc and tz is not None:
        moment = moment.replace(tzinfo=UTC).astimezone(_zone(tz)).replace(tzinfo=None)
    if at is not None and moment.time() < at.replace(tzinfo=None):
        return moment.date() - timedelta(days=1)
    return moment.date()


def _read_byday(value: str) -> list[tuple[int | None, int]]:
    days = []
    for item in filter(None, value.split(",")):
        match = BYDAY_ITEM.match(item.strip())
        if not match:
            raise RecurrenceError(f"Giá trị BYDAY {item!r} không hợp lệ.", field="rrule")
        nth = int(match.group(1)) if match.group(1) else None
        days.append((nth, RRULE_DAYS.index(match.group(2))))
    return days


def _check_wkst(value: str | None, *, freq: str, interval: int) -> None:
    if value is None or value == "MO":
        return
    if value not in RRULE_DAYS:
        raise RecurrenceError(f"Giá trị WKST={value} không hợp lệ.", field="rrule")
    if freq == "weekly" and interval > 1:
        # The week start decides which weeks count when repeating every N weeks; ours is Monday.
        raise RecurrenceError(
            f"Không hỗ trợ WKST={value} khi lặp cách tuần; chỉ nhận tuần bắt đầu thứ Hai (MO).",
            field="rrule",
        )


def _read_monthly(
    parts: dict[str, str], days: list[tuple[int | None, int]], *, start: date
) -> dict[str, object]:
    """Return the Recurrence fields of a monthly RRULE, refusing what one rule cannot say."""
    if "BYMONTHDAY" in parts:
        if days or "BYSETPOS" in parts:
            raise RecurrenceError(
                "Không hỗ trợ BYMONTHDAY cùng với BYDAY hoặc BYSETPOS.", field="rrule"
            )
        if "," in parts["BYMONTHDAY"]:
            raise RecurrenceError(
                "Chỉ hỗ trợ một ngày trong tháng (BYMONTHDAY) cho mỗi quy tắc.", field="rrule"
            )
        return {"month_day": _read_int(parts, "BYMONTHDAY", default=None)}
    if not days:
        # RFC 5545: a monthly rule without BYxxx repeats on DTSTART's day of the month.
        return {"month_day": start.day}
    if len(days) != 1:
        raise RecurrenceError(
            "Chỉ hỗ trợ một thứ trong tuần khi lặp hằng tháng (ví dụ BYDAY=1MO).", field="rrule"
        )
    nth, weekday = days[0]
    if "BYSETPOS" in parts:
        if nth is not None or "," in parts["BYSETPOS"]:
            raise RecurrenceError(
                "Chỉ hỗ trợ BYSETPOS với một giá trị và một thứ không có số thứ tự.",
                field="rrule",
            )
        nth = _read_int(parts, "BYSETPOS", default=None)
    if nth is None:
        raise RecurrenceError(
            "Không hỗ trợ lặp vào mọi thứ X trong tháng; hãy ghi rõ thứ mấy (ví dụ BYDAY=1MO).",
            field="rrule",
        )
    return {"nth": nth, "weekdays": (weekday,)}


# --- Vietnamese wording -----------------------------------------------------------------------


def describe(rule: Recurrence) -> str:
    """Say the rule in plain Vietnamese, e.g. "Hằng tuần vào thứ Hai và thứ Năm, từ 05/01/2026"."""
    rule = validate(rule)
    if rule.freq == "once":
        text = f"Một lần vào ngày {_fmt(rule.start)}"
    else:
        text = f"{_pattern(rule)}, từ {_fmt(rule.start)}"
        if rule.until:
            text += f" đến {_fmt(rule.until)}"
        if rule.count:
            text += f", {rule.count} lần"
    if rule.exceptions:
        text += ", trừ " + _join([_fmt(day) for day in rule.exceptions])
    return text


def _pattern(rule: Recurrence) -> str:
    if rule.freq == "daily":
        head = "Hằng ngày" if rule.interval == 1 else f"Cách {rule.interval} ngày"
        skipped = [day for day in range(7) if day not in rule.weekdays]
        if not rule.weekdays or not skipped:
            return head
        # "Every day except Saturday and Sunday" reads better than listing five days.
        if len(skipped) <= 3:
            return f"{head} trừ {_join([DAY_NAMES[day] for day in skipped])}"
        return f"{head}, chỉ vào {_join([DAY_NAMES[day] for day in rule.weekdays])}"
    if rule.freq == "weekly":
        days = _join([DAY_NAMES[day] for day in rule.weekdays])
        if rule.interval == 1:
            return f"Hằng tuần vào {days}"
        return f"Cách {rule.interval} tuần, vào {days}"
    if rule.month_day is not None:
        what = "ngày cuối cùng" if rule.month_day == -1 else f"ngày {rule.month_day}"
    else:
        ordinal = "cuối cùng" if rule.nth == -1 else ORDINALS[rule.nth - 1]
        what = f"{DAY_NAMES[rule.weekdays[0]]} {ordinal}"
    if rule.interval == 1:
        return f"{what[0].upper()}{what[1:]} hằng tháng"
    return f"Cách {rule.interval} tháng, vào {what} của tháng"


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " và " + items[-1]


def _fmt(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def rule_from_json(data: dict[str, Any]) -> Recurrence:
    """A stored recurrence back as a Recurrence."""
    return Recurrence(
        freq=data["freq"],
        start=date.fromisoformat(data["start"]),
        until=date.fromisoformat(data["until"]) if data.get("until") else None,
        interval=data.get("interval", 1),
        weekdays=tuple(data.get("weekdays", ())),
        month_day=data.get("month_day"),
        nth=data.get("nth"),
        exceptions=tuple(date.fromisoformat(d) for d in data.get("exceptions", ())),
        count=data.get("count"),
    )


def rule_to_json(rule: Recurrence) -> dict[str, Any]:
    """A Recurrence as stored in a booking."""
    return {
        "freq": rule.freq,
        "start": rule.start.isoformat(),
        "until": rule.until.isoformat() if rule.until else None,
        "interval": rule.interval,
        "weekdays": list(rule.weekdays),
        "month_day": rule.month_day,
        "nth": rule.nth,
        "exceptions": [d.isoformat() for d in rule.exceptions],
        "count": rule.count,
    }
