"""How pages write dates, lengths and names for people, in Vietnamese.

Registered once as Jinja filters and globals (`api.web`), so a template writes
`{{ day|day_text }}` instead of each page preparing its own text.
"""

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, pass_environment
from jinja2.filters import do_truncate

from content.labels import STATUS_NAMES
from content.languages import LANGUAGES

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
PRIORITY_NAMES = {"normal": "thường", "priority": "ưu tiên", "emergency": "khẩn cấp"}
LEVEL_NAMES = {"province": "cấp tỉnh", "district": "cấp huyện", "commune": "cấp xã"}
KIND_NAMES = {"province": "Tỉnh", "district": "Huyện / khu vực", "commune": "Xã"}
ACTION_NAMES = {"create": "Tạo", "update": "Sửa", "delete": "Xóa"}
AIRING_NAMES = {
    "aired": "đã phát",
    "partial": "phát một phần",
    "skipped": "không phát",
    "failed": "phát lỗi",
}
STATE_NAMES = {
    "playing": "đang phát",
    "idle": "trực tuyến",
    "silent": "im lặng trong giờ phát",
    "offline": "mất liên lạc",
    "unknown": "chưa có thiết bị báo",
}
PLAN_STATUS_NAMES = {
    "draft": "mới nhập, chưa rà soát",
    "active": "đang thực hiện",
    "archived": "đã lưu trữ",
}
ROLE_NAMES = {
    "admin": "Quản trị hệ thống",
    "planner": "Cán bộ kế hoạch",
    "operator": "Cán bộ vận hành xã",
    "auditor": "Kiểm tra, thanh tra",
}
OBJECT_NAMES = {
    "station": "Đài",
    "cluster": "Cụm loa",
    "content_item": "Nội dung",
    "user": "Tài khoản",
    "device_token": "Mã thiết bị",
}


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


Choice = tuple[Any, str]


def station_choices(stations: Iterable[Any]) -> list[Choice]:
    """A station list's options: its code, shown as "name (code)"."""
    return [(s.code, f"{s.name} ({s.code})") for s in stations]


@pass_environment
def plan_choices(env: Environment, plans: Iterable[Any], width: int = 70) -> list[Choice]:
    """A plan list's options: its id, shown as "number — title" cut to `width`."""
    return [(p.id, f"{p.number or 'Không số'} — {do_truncate(env, p.title, width)}") for p in plans]


def named_choices(
    names: Mapping[str, str], *, with_code: bool = False, capital: bool = False
) -> list[Choice]:
    """A code → name table's options, e.g. languages ("Tiếng Việt (vi)") or statuses."""
    return [
        (code, f"{name} ({code})" if with_code else name.capitalize() if capital else name)
        for code, name in names.items()
    ]


def id_choices(rows: Iterable[Any]) -> list[Choice]:
    """Options of rows that have an id and a name, e.g. themes."""
    return [(row.id, row.name) for row in rows]


FILTERS = {
    "station_choices": station_choices,
    "plan_choices": plan_choices,
    "named_choices": named_choices,
    "id_choices": id_choices,
    "day_text": day_text,
    "dmy": day_text,
    "minutes_text": minutes_text,
    "weekday_text": weekday_text,
}
GLOBALS = {
    "priority_names": PRIORITY_NAMES,
    "weekday_names": WEEKDAYS,
    "level_names": LEVEL_NAMES,
    "state_names": STATE_NAMES,
    "plan_status_names": PLAN_STATUS_NAMES,
    "role_names": ROLE_NAMES,
    "kind_names": KIND_NAMES,
    "action_names": ACTION_NAMES,
    "object_names": OBJECT_NAMES,
    "item_status_names": STATUS_NAMES,
    "languages": LANGUAGES,
}
