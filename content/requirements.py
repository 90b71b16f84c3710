"""Broadcasting and communication requirements of a plan: channels, cadences, minutes, languages.

Languages are ISO 639-3 codes. Every requirement carries "vie"; a named ethnic language adds
its code (tiếng Thái -> "blt", Thái Trắng -> "twh", H'Mông -> "hnj", Khmer -> "khm", ...).
An ethnic language the text does not name ("tiếng dân tộc", "song ngữ") adds
ETHNIC_UNSPECIFIED = "und", ISO 639's code for an undetermined language: the commune decides
which one, village by village.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from content.outline import (
    _FORM_HEADING,
    _UPPER,
    NAME_LENGTH,
    OutlineNode,
    _split_sentences,
    _walk,
    full_text,
    section_kinds,
    shorten,
    squash,
)

CHANNELS = (
    "provincial_station",
    "district_station",
    "commune_loudspeaker",
    "relay",
    "newspaper",
    "web_portal",
    "meeting",
    "training",
    "print",
    "other",
)
CADENCES = ("daily", "weekly", "monthly", "quarterly", "yearly", "continuous", "once")
ETHNIC_UNSPECIFIED = "und"


@dataclass
class ParsedRequirement:
    """One broadcasting or communication requirement the plan states."""

    channel: str
    cadence: str | None
    minutes_min: int | None
    minutes_max: int | None
    languages: list[str]
    lead_agency: str | None
    text: str


# Requirements: fields of an activity

_FIELDS = (
    ("time", re.compile(r"thời gian(?: thực hiện)?|thời điểm|tiến độ", re.I)),
    ("duration", re.compile(r"thời lượng", re.I)),
    ("lead", re.compile(r"(?:cơ quan|đơn vị)\s+chủ trì(?: thực hiện)?|chủ trì", re.I)),
    ("performer", re.compile(r"(?:cơ quan|đơn vị)\s+thực hiện(?: chính)?", re.I)),
    ("partner", re.compile(r"(?:cơ quan|đơn vị)\s+phối hợp(?: thực hiện)?|phối hợp", re.I)),
    ("content", re.compile(r"nội dung(?: tuyên truyền)?", re.I)),
    ("form", re.compile(r"hình thức(?: tuyên truyền)?|kênh(?: tuyên truyền)?", re.I)),
    ("language", re.compile(r"ngôn ngữ", re.I)),
    ("other", re.compile(r"kinh phí|đối tượng|địa điểm|sản phẩm|yêu cầu", re.I)),
)


@dataclass
class _Field:
    """A labelled line of an activity, such as "- Thời gian thực hiện: Hàng tháng"."""

    key: str
    label: str
    value: str
    items: list[str]


def _field(node: OutlineNode) -> _Field | None:
    """The node as a labelled field, or None when it is an item of its own."""
    label, colon, value = node.heading.partition(":")
    if not colon:
        return None
    for key, pattern in _FIELDS:
        if pattern.fullmatch(label.strip()):
            # Prose after "Nội dung:" is its value; prose after a filled-in field is not.
            value = value.strip() or " ".join(node.body)
            return _Field(key, label.strip(), value, [full_text(c) for c in node.children])
    return None


def _fields(node: OutlineNode) -> dict[str, _Field]:
    """An activity's filled-in fields by key; the first of each key wins."""
    found: dict[str, _Field] = {}
    for child in node.children:
        parsed = _field(child)
        if parsed and (parsed.value or parsed.items) and parsed.key not in found:
            found[parsed.key] = parsed
    return found


# Requirements: channels, cadences, minutes, languages

_STATION = re.compile(
    r"\bĐài\s+(?:Phát thanh|Truyền thanh|Truyền hình|PT|TT|PTTH|PT-TH|TT-TH|TTTH)\b"
    r"|\bTrung tâm\s+(?:Truyền thông|Văn hóa|VH)",
    re.I,
)
_CHANNEL_PATTERNS = (
    ("relay", re.compile(r"tiếp\s+(?:phát\s+)?sóng|tiếp\s+âm|tiếp\s+phát", re.I)),
    ("commune_loudspeaker", re.compile(r"\bloa\b|truyền thanh\s+(?:c[ơở]\s*sở|cấp xã)", re.I)),
    (
        "web_portal",
        re.compile(
            r"cổng\s*(?:/\s*trang\s*)?thông tin điện tử|trang thông tin điện tử|cổng TTĐT"
            r"|trang TTĐT|website|trang web|mạng xã hội|zalo|facebook|fanpage",
            re.I,
        ),
    ),
    ("newspaper", re.compile(rf"\bBáo\s+(?:[{_UPPER}]|điện tử|in\b)|tạp chí|đặc san")),
    (
        "meeting",
        re.compile(
            r"hội nghị|hội thảo|tọa đàm|đối thoại|cuộc họp|buổi họp|phiên họp"
            r"|họp\s+(?:thôn|bản|ấp|tổ|khu|dân|giao ban|định kỳ)|ngày pháp luật"
            r"|sinh hoạt\s+(?:chi bộ|chuyên đề|cộng đồng|tổ dân phố|khu dân cư|thôn|bản|tổ)"
            r"|nói chuyện",
            re.I,
        ),
    ),
    ("training", re.compile(r"tập huấn|bồi dưỡng|đào tạo|lớp học", re.I)),
    (
        "print",
        re.compile(
            r"pa\s*-?\s*nô|pano|áp phích|tờ rơi|tờ gấp|băng\s*[rz]ôn|khẩu hiệu|sổ tay|ấn phẩm"
            r"|tranh cổ động|bảng tin|tài liệu (?:tuyên truyền|hỏi đáp)"
            r"|(?:thông qua|bằng|qua|phát hành|in)\s+(?:các\s+)?tài liệu",
            re.I,
        ),
    ),
)
_UNIT_STATIONS = (
    (re.compile(r"\b(?:thị xã|huyện|quận|thành phố)\b", re.I), "district_station"),
    (re.compile(r"\b(?:xã|phường|thị trấn|cơ sở)\b", re.I), "commune_loudspeaker"),
    (re.compile(r"\btỉnh\b", re.I), "provincial_station"),
)
_LEVEL_STATIONS = {
    "province": "provincial_station",
    "district": "district_station",
    "commune": "commune_loudspeaker",
}
_NATIONAL = re.compile(r"Việt Nam|Trung ương|Tiếng nói", re.I)


def _station(text: str, start: int, level: str | None) -> str | None:
    """The station channel a mention like "Đài Truyền thanh huyện" refers to."""
    window = re.split(r"[,;.():]", text[start : start + 70])[0]
    if _NATIONAL.search(window):
        return None
    for pattern, channel in _UNIT_STATIONS:
        if pattern.search(window):
            return channel
    if window.lower().startswith("trung tâm"):
        # A commune has no centre of its own: an unqualified centre is the district's.
        return "provincial_station" if level == "province" else "district_station"
    return _LEVEL_STATIONS.get(level or "district")


def _channels(text: str, level: str | None) -> list[str]:
    """Channels a text names, in order of appearance."""
    found = [(m.start(), name) for name, p in _CHANNEL_PATTERNS for m in p.finditer(text)]
    for match in _STATION.finditer(text):
        channel = _station(text, match.start(), level)
        if channel:
            found.append((match.start(), channel))
    channels = [name for _, name in sorted(found)]
    if "relay" in channels:
        # Relaying is done by the loudspeakers from some station: that is one channel.
        broadcast = {"provincial_station", "district_station", "commune_loudspeaker"}
        channels = [name for name in channels if name not in broadcast]
    return list(dict.fromkeys(channels))


_NUMBER = r"(?:một|1|01|hai|2|02|ba|3|03|\d+)"
_CADENCE_PATTERNS = (
    (
        "daily",
        re.compile(
            rf"h[àằ]ng ngày|mỗi ngày|ngày\s+{_NUMBER}\s+(?:lần|buổi)"
            r"|(?:lần|buổi)\s*/\s*ngày",
            re.I,
        ),
    ),
    (
        "weekly",
        re.compile(
            rf"h[àằ]ng tuần|mỗi tuần|{_NUMBER}\s+tuần\s+{_NUMBER}\s+lần|tuần\s+{_NUMBER}\s+lần"
            r"|lần\s*/\s*tuần|số\s*/\s*tuần",
            re.I,
        ),
    ),
    (
        "quarterly",
        re.compile(
            r"h[àằ]ng quý|mỗi quý|(?:3|03|ba)\s+tháng\s*/\s*lần"
            r"|(?:3|03|ba)\s+tháng\s+(?:một|1)\s+lần|lần\s*/\s*quý",
            re.I,
        ),
    ),
    (
        "monthly",
        re.compile(
            rf"h[àằ]ng tháng|mỗi tháng|(?:một|1|01)\s+tháng\s+{_NUMBER}\s+lần"
            rf"|tháng\s+{_NUMBER}\s+lần|lần\s*/\s*tháng|số\s*/\s*tháng",
            re.I,
        ),
    ),
    (
        "yearly",
        re.compile(r"h[àằ]ng năm|mỗi năm|(?:một|1)\s+năm\s+(?:một|1)\s+lần|lần\s*/\s*năm", re.I),
    ),
    ("continuous", re.compile(r"thường xuyên|liên tục|suốt năm|cả năm|quanh năm", re.I)),
    (
        "once",
        re.compile(
            r"(?:trong|vào)\s+(?:quý\s+[IV]+\s+)?năm\s+\d{4}|quý\s+[IV]+\s*(?:/|năm)\s*\d{4}"
            r"|tháng\s+\d{1,2}\s*/\s*\d{4}|trước ngày|\b(?:một|01)\s+lần\b|\bnăm\s+\d{4}$",
            re.I,
        ),
    ),
)


def _cadence(text: str) -> str | None:
    """The cadence a text states, the most specific first."""
    for cadence, pattern in _CADENCE_PATTERNS:
        if pattern.search(text.strip(" .;")):
            return cadence
    return None


_MINUTES = (
    (re.compile(r"(\d{1,3})\s*(?:đến|tới|-|–|~)\s*(\d{1,3})\s*phút", re.I), "range"),
    (re.compile(r"(?:tối thiểu|ít nhất|không dưới)\s*(\d{1,3})\s*phút", re.I), "min"),
    (re.compile(r"(?:tối đa|không quá)\s*(\d{1,3})\s*phút", re.I), "max"),
    (re.compile(r"(\d{1,3})\s*phút", re.I), "exact"),
)


def _minutes(text: str) -> tuple[int | None, int | None] | None:
    """(minimum, maximum) airtime minutes a text states, or None."""
    for pattern, kind in _MINUTES:
        match = pattern.search(text)
        if not match:
            continue
        first = int(match.group(1))
        if kind == "range":
            return first, int(match.group(2))
        return {"min": (first, None), "max": (None, first), "exact": (first, first)}[kind]
    return None


_LANGUAGE_NAMES = (
    (r"Thái\s+Trắng", "twh"),
    (r"Thái\s+Đen", "blt"),
    (r"Thái", "blt"),
    (r"H['’]?\s?Mông|Hmông|Mông", "hnj"),
    (r"Dao", "ium"),
    (r"Khmer|Khơ\s*-?\s*me", "khm"),
    (r"Gia\s*-?\s*rai|J['’]?rai", "jra"),
    (r"Ba\s*-?\s*na|Bahnar", "bdq"),
    (r"Ê\s*-?\s*đê|Rhade", "rad"),
    (r"Tày", "tyz"),
    (r"Nùng", "nut"),
    (r"Xơ\s*-?\s*đăng", "sed"),
    (r"Chăm", "cjm"),
    (r"Mường", "mtq"),
    (r"Cơ\s*-?\s*ho|K['’]?ho", "kpm"),
    (r"Hrê", "hre"),
)
_LANGUAGE = "(?:" + "|".join(f"(?:{p})" for p, _ in _LANGUAGE_NAMES) + r")(?![^\W\d_])"
_NAMED_LANGUAGES = re.compile(
    rf"(?:tiếng|ngôn ngữ)\s+(?:(?:dân tộc|đồng bào)\s+)?{_LANGUAGE}"
    rf"(?:\s*(?:,|và|-|–|/|hoặc)\s*(?:tiếng\s+)?{_LANGUAGE})*"
    rf"|song ngữ\s+(?:tiếng\s+)?Việt\s*(?:-|–|/|và)\s*(?:tiếng\s+)?{_LANGUAGE}",
    re.I,
)
_SOME_LANGUAGE = re.compile(
    r"(?:tiếng|ngôn ngữ)\s+(?:các\s+)?(?:dân tộc|đồng bào|địa phương)|song ngữ", re.I
)


# A language named but not in the table ("tiếng Vân Kiều"): still an ethnic language.
_OTHER_LANGUAGE = re.compile(
    rf"\b[Tt]iếng\s+(?!(?:Việt|Anh|Pháp|Trung|Hoa|Nhật|Hàn|Nga|Đức)\b)[{_UPPER}]"
)


def _languages(text: str) -> list[str]:
    """ISO 639-3 codes: "vie", then each ethnic language the text says to broadcast in."""
    codes = ["vie"]
    for match in _NAMED_LANGUAGES.finditer(text):
        for name in re.finditer(_LANGUAGE, match.group(), re.I):
            codes.append(_language_code(name.group()))
    if len(codes) == 1 and (_SOME_LANGUAGE.search(text) or _OTHER_LANGUAGE.search(text)):
        codes.append(ETHNIC_UNSPECIFIED)
    return list(dict.fromkeys(codes))


def _language_code(name: str) -> str:
    """The ISO 639-3 code of a language name."""
    for pattern, code in _LANGUAGE_NAMES:
        if re.fullmatch(pattern, name, re.I):
            return code
    return ETHNIC_UNSPECIFIED


def _language_clause(text: str) -> str | None:
    """The clause of a text that asks for ethnic languages, for the requirement's source."""
    for clause in re.split(r"[;()]|(?<=[.!?])\s", text):
        if _NAMED_LANGUAGES.search(clause) or _SOME_LANGUAGE.search(clause):
            return clause.strip(" ,.")
    return None


# Requirements: activities

_NOT_AN_ACTIVITY = re.compile(r"^(?:đối tượng|kinh phí|nội dung tuyên truyền\s*$)", re.I)
_INLINE_LEAD = (
    re.compile(r"(?:cơ quan|đơn vị)\s+chủ trì\s*:\s*([^;.\n]+)", re.I),
    re.compile(r"\bdo\s+([^,;.()]{3,80}?)\s+chủ trì\b", re.I),
)


@dataclass
class _Activity:
    """A plan item that carries requirements, with the headings of the items above it."""

    node: OutlineNode
    context: list[str]
    strict: bool = False  # only the channels it names itself, none inherited or assumed


def _requirements(sections: list[OutlineNode], level: str | None) -> list[ParsedRequirement]:
    """Requirements from the form parts of the plan and its stated targets (chỉ tiêu)."""
    found: list[ParsedRequirement] = []
    for section in sections:
        for root in _requirement_roots(section):
            found.extend(r for a in _activities(root) for r in _activity_requirements(a, level))
        for node in _walk(section):
            if node.heading.lower().startswith("chỉ tiêu"):
                # Targets mix communication with other aims: keep those that name a channel.
                activities = [replace(a, strict=True) for a in _activities(node)]
                found.extend(r for a in activities for r in _activity_requirements(a, level))
    return found


def _requirement_roots(section: OutlineNode) -> list[OutlineNode]:
    """The parts of a section that list forms of communication."""
    kinds = section_kinds(section.heading)
    parts = [c for c in section.children if _FORM_HEADING.match(c.heading.strip())]
    if parts:
        return parts
    return [section] if "form" in kinds else []


def _activities(root: OutlineNode) -> list[_Activity]:
    """The items under a root that each describe one activity."""
    items = _items(root)
    if not items:
        # A form part written as prose: only the channels it names are requirements.
        return [_Activity(root, [], strict=True)]
    return [activity for item in items for activity in _activities_under(item, [])]


def _items(node: OutlineNode) -> list[OutlineNode]:
    """A node's sub-items that are not labelled fields."""
    return [c for c in node.children if not _field(c) and not _NOT_AN_ACTIVITY.match(c.heading)]


def _activities_under(node: OutlineNode, context: list[str]) -> list[_Activity]:
    """The node itself when it has fields or no sub-items, else its sub-items' activities."""
    items = _items(node)
    if _fields(node) or not items:
        return [_Activity(node, context)]
    return [a for item in items for a in _activities_under(item, [node.heading, *context])]


def _activity_requirements(activity: _Activity, level: str | None) -> list[ParsedRequirement]:
    """One requirement per channel and per time entry of an activity."""
    node = activity.node
    fields = _fields(node)
    channels = _activity_channels(activity, fields, level)
    lead = _lead(node, fields)
    general = _general_text(node, fields)
    time, duration = _value(fields, "time"), _value(fields, "duration")
    requirements = []
    for label, entry in _entries(node, fields) if channels else []:
        own = _languages(entry or "")
        cadence = _first(_cadence, entry, time, node.heading)
        minutes = _first(_minutes, entry, duration, time, node.heading) or (None, None)
        for channel in _channels(entry or "", level) or channels:
            # A relayed programme is in its station's language, not in the activity's others.
            languages = own if own[1:] or channel == "relay" else _languages(general)
            text = _source_text(node.heading, label, entry, languages, general)
            requirements.append(
                ParsedRequirement(channel, cadence, *minutes, list(languages), lead, text)
            )
    return requirements


def _activity_channels(
    activity: _Activity, fields: dict[str, _Field], level: str | None
) -> list[str]:
    """Channels an activity names, else those of the items above it, else "other"."""
    node = activity.node
    named = _channels(f"{node.heading} {_value(fields, 'form') or ''}", level)
    channels = named or _channels(" ".join(node.body), level)
    if channels or activity.strict:
        return channels
    inherited = (_channels(heading, level) for heading in activity.context)
    return next((found for found in inherited if found), ["other"])


_T = TypeVar("_T")


def _value(fields: dict[str, _Field], key: str) -> str | None:
    """The value of a field, or None when the activity does not have it."""
    return fields[key].value if key in fields else None


def _first(parse: Callable[[str], _T | None], *texts: str | None) -> _T | None:
    """The first result a parser finds in the texts, tried in order."""
    for text in texts:
        found = parse(text) if text else None
        if found is not None:
            return found
    return None


def _entries(node: OutlineNode, fields: dict[str, _Field]) -> list[tuple[str | None, str | None]]:
    """(label, text) of each time entry: the time field's items, else the activity's own."""
    time = fields.get("time")
    if time and time.items:
        return [(time.label, item) for item in time.items]
    if time:
        return [(time.label, time.value)]
    items = _items(node)
    if items:
        return [(None, full_text(item)) for item in items]
    # Prose: each clause that names a channel or a cadence is an entry of its own.
    clauses = [clause for paragraph in node.body for clause in _split_sentences(paragraph)]
    named = [(None, c) for c in clauses if _channels(c, None) or _cadence(c)]
    return named or [(None, None)]


def _general_text(node: OutlineNode, fields: dict[str, _Field]) -> str:
    """An activity's text, leaving out sub-items that are time entries of their own."""
    items_are_entries = "time" not in fields
    children = [c for c in node.children if _field(c) or not items_are_entries]
    return " ".join([node.heading, *node.body, *(full_text(c) for c in children)])


def _lead(node: OutlineNode, fields: dict[str, _Field]) -> str | None:
    """The agency in charge: the "chủ trì" field, else "thực hiện", else an inline mention."""
    for key in ("lead", "performer"):
        if key in fields and fields[key].value:
            return shorten(fields[key].value, NAME_LENGTH)
    text = " ".join([node.heading, *node.body])
    for pattern in _INLINE_LEAD:
        match = pattern.search(text)
        if match:
            return shorten(match.group(1), NAME_LENGTH)
    return None


def _source_text(
    heading: str, label: str | None, entry: str | None, languages: list[str], general: str
) -> str:
    """The sentences a requirement came from, joined and cleaned."""
    parts = [heading]
    if entry:
        parts.append(f"{label}: {entry}" if label else entry)
    joined = " ".join(_as_sentence(part) for part in parts)
    if languages != ["vie"] and not _languages(joined)[1:]:
        clause = _language_clause(general)
        if clause:
            joined = f"{joined} {_as_sentence(clause[:1].upper() + clause[1:])}"
    return joined


def _as_sentence(text: str) -> str:
    """Text ending with a full stop."""
    text = squash(text).rstrip(" ;,")
    return text if text.endswith((".", "!", "?", ":", "…")) else f"{text}."
