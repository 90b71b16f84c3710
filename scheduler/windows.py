"""Broadcast windows and airtime caps: when a station may air, and how much."""

import re
from dataclasses import dataclass
from datetime import time
from itertools import pairwise
from typing import Any

from core.errors import InvalidError

DAY_NAMES = ["thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật"]
CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Window:
    """A daily session of a station, on some days of the week, in local time."""

    days: tuple[int, ...]
    start: time
    end: time

    @property
    def minutes(self) -> int:
        """How long the window lasts."""
        return (self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)

    def as_dict(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "days": list(self.days),
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }


def _clock(value: Any, *, field: str) -> time:
    match = CLOCK.match(str(value))
    if match is None:
        raise InvalidError(
            f"Giờ {value!r} không hợp lệ; dùng dạng HH:MM trong ngày (00:00-23:59).",
            errors=[{"field": field, "msg": "giờ không hợp lệ", "value": value}],
        )
    return time(int(match[1]), int(match[2]))


def parse_windows(raw: list[dict[str, Any]]) -> list[Window]:
    """Check stored or submitted windows and return them sorted; refuse overlaps and bad times."""
    windows = []
    for index, item in enumerate(raw):
        field = f"windows[{index}]"
        days_raw = item.get("days", list(range(7))) if isinstance(item, dict) else None
        valid = isinstance(days_raw, list) and all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days_raw
        )
        days = tuple(sorted(set(days_raw))) if valid else ()
        if not days:
            raise InvalidError(
                "Ngày trong tuần phải là số 0 (thứ Hai) đến 6 (Chủ nhật).",
                errors=[{"field": f"{field}.days", "value": item.get("days")}],
            )
        start = _clock(item.get("start"), field=f"{field}.start")
        end = _clock(item.get("end"), field=f"{field}.end")
        if end <= start:
            raise InvalidError(
                f"Khung giờ {start:%H:%M}-{end:%H:%M} phải kết thúc sau khi bắt đầu, "
                "trong cùng ngày.",
                errors=[{"field": f"{field}.end", "msg": "kết thúc trước khi bắt đầu"}],
            )
        windows.append(Window(days, start, end))
    for day in range(7):
        today = sorted((w for w in windows if day in w.days), key=lambda w: w.start)
        for earlier, later in pairwise(today):
            if later.start < earlier.end:
                raise InvalidError(
                    f"Khung giờ {earlier.start:%H:%M}-{earlier.end:%H:%M} và "
                    f"{later.start:%H:%M}-{later.end:%H:%M} chồng nhau vào {DAY_NAMES[day]}.",
                    errors=[{"field": "windows", "msg": "chồng nhau", "day": day}],
                )
    return sorted(windows, key=lambda w: (w.start, w.days))


def windows_on(windows: list[Window], weekday: int) -> list[Window]:
    """The windows open on a weekday, in time order."""
    return [w for w in windows if weekday in w.days]


def check_caps(
    windows: list[Window],
    *,
    max_sessions_per_day: int | None,
    max_minutes_per_session: int | None,
) -> None:
    """Refuse windows that already break the station's own caps."""
    for day in range(7):
        today = windows_on(windows, day)
        if max_sessions_per_day is not None and len(today) > max_sessions_per_day:
            raise InvalidError(
                f"{DAY_NAMES[day].capitalize()} có {len(today)} buổi phát, vượt giới hạn "
                f"{max_sessions_per_day} buổi mỗi ngày.",
                errors=[{"field": "max_sessions_per_day", "day": day}],
            )
    for window in windows:
        if max_minutes_per_session is not None and window.minutes > max_minutes_per_session:
            raise InvalidError(
                f"Khung giờ {window.start:%H:%M}-{window.end:%H:%M} dài {window.minutes} phút, "
                f"vượt giới hạn {max_minutes_per_session} phút mỗi buổi.",
                errors=[{"field": "max_minutes_per_session"}],
            )
