"""How pages write dates, lengths and names for people, in Vietnamese.

Registered once as Jinja filters and globals (`api.web`), so a template writes
`{{ day|day_text }}` instead of each page preparing its own text.
"""

from datetime import date, datetime

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
PRIORITY_NAMES = {"normal": "thường", "priority": "ưu tiên", "emergency": "khẩn cấp"}


def day_text(day: date | datetime | None) -> str:
    """A date as dd/mm/yyyy (empty for none)."""
    if day is None:
        return ""
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def minutes_text(seconds: float) -> str:
    """A length in minutes and seconds: "12 phút 05 giây", "15 phút"."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} phút {rest:02d} giây" if rest else f"{minutes} phút"


def length_text(seconds: float | None) -> str:
    """A length as minutes typed in a form: "12.5", "" for none."""
    if not seconds:
        return ""
    minutes = seconds / 60
    return f"{minutes:g}" if minutes == round(minutes, 2) else f"{minutes:.2f}"


def duration_text(seconds: float | None) -> str:
    """A length in words: "1 phút 05 giây", "45 giây"."""
    if seconds is None:
        return "—"
    minutes, rest = divmod(round(seconds), 60)
    if not minutes:
        return f"{rest} giây"
    return f"{minutes} phút {rest:02d} giây" if rest else f"{minutes} phút"


def weekday_text(day: date) -> str:
    """The day of the week, e.g. "Thứ Hai"."""
    return WEEKDAYS[day.weekday()]


FILTERS = {
    "day_text": day_text,
    "dmy": day_text,
    "minutes_text": minutes_text,
    "weekday_text": weekday_text,
}
GLOBALS = {"priority_names": PRIORITY_NAMES, "weekday_names": WEEKDAYS}
