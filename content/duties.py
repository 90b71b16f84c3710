"""Requirements a plan states as agencies' duties, in its implementation part.

"Tổ chức thực hiện" gives each agency its tasks: "2. Trung tâm Văn hóa huyện" followed by
"Xây dựng chương trình ... hằng tuần để phát ...". A duty is a requirement only when it asks
for broadcasting (a station, the loudspeakers, a relay) and the agency is to do it itself or
to have it done ("chỉ đạo ... tiếp sóng"); checking, guiding and reporting on broadcasts are
not. The other forms (meetings, newspapers, web) stay with the plan's form part, where they
come with their own times and agencies.
"""

import re

from content.outline import NAME_LENGTH, OutlineNode, full_text, section_kinds, shorten, squash
from content.requirements import (
    ParsedRequirement,
    _as_sentence,
    _cadence,
    _channels,
    _languages,
    _minutes,
    _requirements,
)

BROADCAST = ("provincial_station", "district_station", "commune_loudspeaker", "relay")

_AGENCY_START = re.compile(
    r"^(?:Ủy ban|UBND|HĐND|Sở|Phòng|Trung tâm|Đài|Ban|Tổ (?!chức)|Công an|Văn phòng|Bộ phận"
    r"|Hội|Đoàn|Liên đoàn|Mặt trận|Công chức|Trưởng|Báo|Bưu điện|Trường|Các|Cơ quan|Đơn vị)\b"
)
_AGENCY_PREFIX = re.compile(r"^(?:Đối với|Đề nghị|Giao)\s+", re.I)
_BROADCAST_ACTION = re.compile(
    r"\bphát(?!\s+(?:triển|hiện|huy|hành|động|biểu|sinh|minh|ngôn|giác|tặng|khẩu|thưởng))"
    r"|tiếp\s+(?:phát\s+)?sóng|tiếp\s+âm|tiếp\s+phát|đưa tin|sản xuất"
    r"|(?:xây dựng|mở|duy trì)\s+(?:các\s+)?(?:chương trình|chuyên mục|bản tin|chuyên trang)",
    re.I,
)
# Duties about someone else's broadcasts: "kiểm tra việc tiếp sóng", "báo cáo kết quả phát".
_OVERSEEING = re.compile(
    r"^(?:phối hợp\s+(?:với\s+[^,;]{0,60}?\s+)?)?"
    r"(?:kiểm tra|giám sát|theo dõi|đôn đốc|tổng hợp|báo cáo|thẩm định|đánh giá|hướng dẫn"
    r"|tham mưu|thông báo)\b",
    re.I,
)
# Agencies that are broadcasters themselves: their "xây dựng chương trình" is on their air.
_OWN_AIR = re.compile(r"\bTổ\s+truyền thanh\b", re.I)


def found_requirements(sections: list[OutlineNode], level: str | None) -> list[ParsedRequirement]:
    """The form part's requirements, then the duties' that the form part does not state."""
    body = [s for s in sections if not _assigns_agencies(s)]
    found = _requirements(body, level)
    seen = {_key(r) for r in found}
    for section in sections:
        if "organisation" in section_kinds(section.heading) or _assigns_agencies(section):
            for duty in _duties(section, level):
                if _key(duty) not in seen:
                    seen.add(_key(duty))
                    found.append(duty)
    return found


def _key(r: ParsedRequirement) -> tuple:
    return (r.channel, r.cadence, r.minutes_min, r.minutes_max, tuple(r.languages))


def _assigns_agencies(section: OutlineNode) -> bool:
    """A form section ("NHIỆM VỤ CỤ THỂ") whose items are agencies, each with its duties."""
    items = section.children
    if "form" not in section_kinds(section.heading) or len(items) < 2:
        return False
    return all(_agency(item.heading)[0] for item in items)


def _agency(heading: str) -> tuple[str | None, str]:
    """(agency, the duty text after it) of an item heading like "Đài truyền thanh xã: ..."."""
    head, colon, rest = heading.partition(":")
    head = _AGENCY_PREFIX.sub("", head.strip())
    if colon and len(head) <= 80 and not _BROADCAST_ACTION.search(head):
        return shorten(head, NAME_LENGTH), rest.strip()
    if not colon and _AGENCY_START.match(head) and len(head) <= 120 and not head.endswith("."):
        return shorten(head, NAME_LENGTH), ""
    return None, heading


def _duties(section: OutlineNode, level: str | None) -> list[ParsedRequirement]:
    """Broadcasting requirements in the duties of the agencies a section lists."""
    found = []
    for item in section.children:
        agency, rest = _agency(item.heading)
        texts = [rest, *item.body, *(full_text(child) for child in item.children)]
        for text in texts:
            for sentence in _sentences(text):
                found.extend(_sentence_requirements(sentence, agency, level))
    return found


def _sentences(text: str) -> list[str]:
    """Sentences of a duty text; a list item is one sentence."""
    parts = re.split(r"(?<=[.!?])\s+(?=[^\W\d_])", squash(text))
    return [part.strip() for part in parts if part.strip(" .;")]


def _sentence_requirements(
    sentence: str, agency: str | None, level: str | None
) -> list[ParsedRequirement]:
    """One requirement per broadcast channel each clause of a duty sentence asks for."""
    found = []
    text = f"{agency}: {_as_sentence(_capital(sentence))}" if agency else _as_sentence(sentence)
    for clause in re.split(r";\s*", sentence):
        clause = clause.strip(" .,")
        if _OVERSEEING.match(clause) or not _BROADCAST_ACTION.search(clause):
            continue
        channels = [c for c in _channels(clause, level) if c in BROADCAST]
        if not channels and agency:
            channels = _own_air(agency, level)
        languages = _languages(clause)
        languages = languages if languages[1:] else _languages(sentence)
        minutes = _minutes(clause) or (None, None)
        for channel in channels:
            found.append(
                ParsedRequirement(
                    channel, _cadence(clause), *minutes, list(languages), agency, text
                )
            )
    return found


def _own_air(agency: str, level: str | None) -> list[str]:
    """The channel of an agency that is a broadcaster itself, else none."""
    if _OWN_AIR.search(agency):
        return ["commune_loudspeaker"]
    return [c for c in _channels(agency, level) if c in BROADCAST and c != "relay"][:1]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
