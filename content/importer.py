"""Plan importer: reads a communication plan (kế hoạch tuyên truyền) and extracts its structure.

A pure text parser (no database, no network). Plans arrive as plain text or Markdown with
broken line wraps, page numbers and emphasis; parse_plan() cleans them and returns a ParsedPlan.

Languages are ISO 639-3 codes. Every requirement carries "vie"; a named ethnic language adds
its code (tiếng Thái -> "blt", Thái Trắng -> "twh", H'Mông -> "hnj", Khmer -> "khm", ...).
An ethnic language the text does not name ("tiếng dân tộc", "song ngữ") adds
ETHNIC_UNSPECIFIED = "und", ISO 639's code for an undetermined language: the commune decides
which one, village by village.
"""

import datetime
import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TypeVar

__all__ = [
    "CADENCES",
    "CHANNELS",
    "ETHNIC_UNSPECIFIED",
    "NotAPlanError",
    "ParsedPlan",
    "ParsedRequirement",
    "ParsedTheme",
    "parse_plan",
    "plan_to_dict",
]

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
class ParsedTheme:
    """A content theme named in the plan's content part."""

    title: str


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


@dataclass
class ParsedPlan:
    """What a plan document says about itself, its themes and its requirements."""

    number: str | None
    title: str
    issuer: str | None
    level: str | None
    date: datetime.date | None
    year: int | None
    legal_basis: list[str]
    themes: list[ParsedTheme]
    requirements: list[ParsedRequirement]


class NotAPlanError(Exception):
    """The document is not a communication plan; the message says why, in Vietnamese."""


def parse_plan(text: str) -> ParsedPlan:
    """Parse a plan document; raise NotAPlanError for a document that is not a plan."""
    lines = _clean_lines(text)
    if not any(lines):
        raise NotAPlanError("Tài liệu trống, không có nội dung để nhập.")
    title_at = _find_title_line(lines)
    if title_at is None:
        raise NotAPlanError(_refusal_without_title(lines))
    header = lines[:title_at]
    title, body_at = _title(lines, title_at)
    front = lines[:body_at]
    root = _outline(_paragraphs(_cut_closing(lines[body_at:])))
    sections = [node for node in root.children if _section_kinds(node.heading)]
    if not sections:
        raise NotAPlanError(
            "Tài liệu có tiêu đề “KẾ HOẠCH” nhưng không có các phần mục đích, nội dung, "
            "hình thức hay tổ chức thực hiện của một kế hoạch."
        )
    legal_basis, clauses = _split_preamble(root.body)
    place = _header_place(front)
    issuer = _issuer(header, clauses, title, place, "\n".join(lines))
    level = _level(issuer, title)
    themes = _themes(sections)
    requirements = _requirements(sections, level)
    if not themes and not requirements:
        raise NotAPlanError(
            "Kế hoạch không nêu nội dung tuyên truyền hay hình thức tuyên truyền nào để nhập."
        )
    date = _header_date(front)
    return ParsedPlan(
        number=_header_number(front),
        title=title,
        issuer=issuer,
        level=level,
        date=date,
        year=_year(title, date, front),
        legal_basis=legal_basis,
        themes=themes,
        requirements=requirements,
    )


def plan_to_dict(plan: ParsedPlan) -> dict:
    """JSON-ready dict of a parsed plan, with the date in ISO format."""
    data = asdict(plan)
    data["date"] = plan.date.isoformat() if plan.date else None
    return data


# Cleaning: Unicode, Markdown and page artefacts

_UPPER = "A-ZĐÁÀẢÃẠĂẮẰẲẴẶÂẤẦẨẪẬÉÈẺẼẸÊẾỀỂỄỆÍÌỈĨỊÓÒỎÕỌÔỐỒỔỖỘƠỚỜỞỠỢÚÙỦŨỤƯỨỪỬỮỰÝỲỶỸỴ"
_NAME = rf"[{_UPPER}][\w'’]*(?:[ -][{_UPPER}][\w'’]*)*"
_UNIT = r"(?:tỉnh|thành phố|huyện|quận|thị xã|xã|phường|thị trấn)"

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\ufeff\u00ad"))
_LOOKALIKES = str.maketrans({"Ð": "Đ", "ð": "đ", "\xa0": " ", "\t": "    "})
_BREAKS = re.compile(r"\r\n?|[\f\v\u2028\u2029\x85]|<br\s*/?>", re.I)


def _tone_table() -> dict[str, str]:
    """Old-style tone placements (hoá, uỷ) mapped to the modern ones (hóa, ủy)."""
    table = {}
    pairs = [(o, a) for o in "oO" for a in "aAeE"] + [(u, y) for u in "uU" for y in "yY"]
    for first, second in pairs:
        for mark in "\u0301\u0300\u0309\u0303\u0323":
            old = first + unicodedata.normalize("NFC", second + mark)
            table[old] = unicodedata.normalize("NFC", first + mark) + second
    return table


_TONES = _tone_table()
# Only at a syllable's end and never after "q": "hoạch" and "quý" are right in both styles.
_OLD_TONE = re.compile(r"(?<![qQ])(" + "|".join(_TONES) + r")(?![^\W\d_])")

_ARTEFACTS = (
    re.compile(r"^(?:trang|page)\s+\d{1,3}(?:\s*(?:/|of|trên)\s*\d{1,3})?$", re.I),
    re.compile(r"^[-–]?\s*\d{1,3}\s*[-–]?$"),
    re.compile(r"^\d{1,3}\s*/\s*\d{1,3}$"),
    re.compile(r"^(?:https?://|www\.)\S+$"),
    re.compile(r"^(?:[-_=*]\s*){3,}$"),
    re.compile(r"^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?$"),
)


def _clean_lines(text: str) -> list[str]:
    """Normalize the document and return its lines without Markdown or page artefacts."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE).translate(_LOOKALIKES)
    text = _OLD_TONE.sub(lambda m: _TONES[m.group(1)], _BREAKS.sub("\n", text))
    lines = []
    for raw in text.split("\n"):
        cells = raw.strip().strip("|").split("|") if raw.strip().startswith("|") else [raw]
        lines.extend(_clean_line(cell) for cell in cells)
    return lines


def _clean_line(line: str) -> str:
    """One line without Markdown syntax; an artefact line becomes empty."""
    line = line.strip()
    if any(pattern.match(line) for pattern in _ARTEFACTS):
        return ""
    line = re.sub(r"^(?:#{1,6}|>)\s*", "", line)
    line = re.sub(r"\\([\\`*_{}\[\]()#+\-.!|])", r"\1", line)
    line = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line)
    line = re.sub(r"^[*•●▪◦]\s+", "- ", line)
    line = line.replace("*", "").replace("__", "").strip()
    return "" if any(pattern.match(line) for pattern in _ARTEFACTS) else line


def _squash(text: str) -> str:
    """Collapse runs of whitespace into single spaces."""
    return " ".join(text.split())


# Title, header and refusal

_TITLE_LINE = re.compile(r"^KẾ HOẠCH\b(?P<rest>.*)$|^Kế hoạch(?P<mixed>(?:\s+\S.*)?)$")
_PREAMBLE_START = re.compile(
    r"^(?:Căn cứ|Thực hiện|Theo|Thi hành|Triển khai|Nhằm|Để|Ủy ban|UBND|Sở|Ban|\()"
)
_OTHER_DOCUMENTS = (
    (re.compile(r"^GIẤY MỜI\b"), "giấy mời"),
    (re.compile(r"^THÔNG BÁO\b"), "thông báo"),
    (re.compile(r"^BÁO CÁO\b"), "báo cáo"),
    (re.compile(r"^QUYẾT ĐỊNH\b"), "quyết định"),
    (re.compile(r"^TỜ TRÌNH\b"), "tờ trình"),
    (re.compile(r"^BIÊN BẢN\b"), "biên bản"),
    (re.compile(r"^CÔNG VĂN\b"), "công văn"),
    (re.compile(r"^CHỈ THỊ\b"), "chỉ thị"),
)
_ACRONYMS = re.compile(
    r"UBND|HĐND|CCHC|TTHC|CBCCVC|MTTQ|PCI|PAPI|SIPAS|PAR|INDEX|DDCI|VOV|VTV|CNTT"
)
# A mixed-case "Kế hoạch ..." line is a title only near the top, not in running text.
_TITLE_WITHIN = 15
_NAME_STOPS = {"năm", "giai", "trên", "về", "và", "của", "đến", "theo", "trong", "tại", "các"}


def _find_title_line(lines: list[str]) -> int | None:
    """Index of the "KẾ HOẠCH" heading line, if the document has one."""
    seen = 0
    for index, line in enumerate(lines):
        seen += bool(line)
        match = _TITLE_LINE.match(_squash(line))
        if not match:
            continue
        mixed = match.group("mixed")
        if not mixed or (seen <= _TITLE_WITHIN and _looks_like_title(mixed)):
            return index
    return None


def _looks_like_title(text: str) -> bool:
    """Whether the words after a mixed-case "Kế hoạch" read as a title, not a sentence."""
    sentence = text.endswith((".", ";", ",")) or re.match(r"\s*số\b", text)
    return len(text) < 200 and not sentence


def _refusal_without_title(lines: list[str]) -> str:
    """The refusal message for a document without a plan heading."""
    for line in lines[:60]:
        for pattern, name in _OTHER_DOCUMENTS:
            if pattern.match(line):
                return f"Tài liệu là {name}, không phải kế hoạch tuyên truyền."
    return "Không tìm thấy tiêu đề “KẾ HOẠCH”, nên tài liệu không được nhận là một kế hoạch."


def _title(lines: list[str], title_at: int) -> tuple[str, int]:
    """The plan's title and the index of the first body line after it."""
    match = _TITLE_LINE.match(_squash(lines[title_at]))
    first = _squash(match.group("rest") or match.group("mixed") or "")
    parts = [first] if first else []
    index = title_at + 1
    while index < len(lines) and len(parts) < 4:
        line = _squash(lines[index])
        index += 1
        if not line or _NUMBER_LINE.match(line) or _PLACE_DATE.match(line):
            continue  # the number or date line may sit under the heading
        if not _title_continues(line, parts):
            index -= 1
            break
        parts.append(line)
    title = _shorten(" ".join(parts), _TITLE_LENGTH)
    if title and title == title.upper():
        title = _sentence_case(title)
    return (title[:1].upper() + title[1:]) if title else "Kế hoạch", index


def _title_continues(line: str, parts: list[str]) -> bool:
    """Whether a line after the heading still belongs to the title."""
    if _PREAMBLE_START.match(line) or _marker(line)[0] not in ("text", "caps"):
        return False
    if not parts:
        return True
    shouting = parts[0] == parts[0].upper() and line == line.upper()
    return line[0].islower() or shouting


def _sentence_case(text: str) -> str:
    """Sentence case for an all-caps title, keeping acronyms and capitalizing place names."""
    words = []
    name_words = 0
    for word in text.split():
        core = word.strip("(),.;:“”\"'")
        if _ACRONYMS.fullmatch(core) or re.fullmatch(r"[IVX]+|.*\d.*", core):
            words.append(word)
            continue
        lower = word.lower()
        if name_words and core.lower() not in _NAME_STOPS:
            words.append(lower.title())
            name_words -= 1
            continue
        name_words = 3 if re.fullmatch(_UNIT, core.lower()) else 0
        words.append(lower)
    sentence = " ".join(words)
    return sentence[:1].upper() + sentence[1:]


def _header_cells(header: list[str]) -> list[str]:
    """Header lines split into their columns."""
    cells = []
    for line in header:
        cells.extend(_squash(cell) for cell in re.split(r"\s{2,}|\|", line) if cell.strip())
    return cells


def _header_number(lines: list[str]) -> str | None:
    """The plan's own number from its header ("Số: 36/KH-UBND")."""
    for line in lines:
        match = re.search(r"\bSố\s*:?\s*(\d+)\s*/\s*([\w./-]*[\w])", line)
        if match:
            return f"{match.group(1)}/{match.group(2)}"
    return None


_NUMBER_LINE = re.compile(r"^Số\s*:?\s*\d")
_PLACE_DATE = re.compile(rf"(?P<place>[{_UPPER}][^\W\d_]*(?: [^\W\d_]+){{0,4}}),\s*ngày\b")
_DATES = (
    re.compile(r"ngày\s*(\d{1,2})\s*tháng\s*(\d{1,2})\s*năm\s*(\d{4})"),
    re.compile(r"ngày\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})"),
)


def _header_place(header: list[str]) -> str | None:
    """The place named on the header's date line ("Long An, ngày ...")."""
    for line in header:
        match = _PLACE_DATE.search(line)
        if match:
            return match.group("place")
    return None


def _header_date(header: list[str]) -> datetime.date | None:
    """The plan's own date from the header's date line, when filled in."""
    for line in header:
        place = _PLACE_DATE.search(line)
        if not place:
            continue
        for pattern in _DATES:
            match = pattern.search(line, place.start())
            if match:
                day, month, year = (int(part) for part in match.groups())
                try:
                    return datetime.date(year, month, day)
                except ValueError:
                    return None
    return None


def _year(title: str, date: datetime.date | None, header: list[str]) -> int | None:
    """The plan's year: from its title, else its date, else its date line."""
    match = re.search(r"\bnăm\s+(\d{4})\b", title, re.I)
    if match:
        return int(match.group(1))
    if date:
        return date.year
    for line in header:
        found = re.search(r"ngày\b.*\bnăm\s+(\d{4})\b", line)
        if found:
            return int(found.group(1))
    return None


# Outline: paragraphs and their numbering

_MARKERS = (
    ("roman", re.compile(r"^(?P<label>[IVX]{1,5})[.)]\s*(?=[^\W\d_])")),
    ("dotted", re.compile(r"^(?P<label>\d{1,2}(?:\.\d{1,2})+)\.?\s*(?=[^\W\d_])")),
    ("arabic", re.compile(r"^(?P<label>\d{1,2})[.)]\s*(?=[^\W\d_])")),
    ("letter", re.compile(r"^(?P<label>[a-zđ])[.)]\s+(?=\S)")),
    ("dash", re.compile(r"^(?P<label>[-–—•])\s*(?=\S)")),
    ("plus", re.compile(r"^(?P<label>\+)\s*(?=\S)")),
)
_RANKS = {"roman": 0, "caps": 0, "arabic": 1, "letter": 10, "dash": 11, "plus": 12}
_CLOSING = re.compile(r"^(?:Nơi nhận|TM\.|T/M|KT\.|Trên đây là)", re.I)
_TERMINAL = (".", ";", ":", "!", "?", "…")
# A wrapped line fills the page, so a shorter one ends its paragraph; a line longer than any
# page is a whole paragraph (Markdown, word-processor exports).
_SHORT_LINE = 50
_LONG_LINE = 100


@dataclass
class _Node:
    """A numbered item of the plan with its text and sub-items."""

    kind: str
    rank: int
    heading: str
    body: list[str] = field(default_factory=list)
    children: list["_Node"] = field(default_factory=list)


def _marker(line: str) -> tuple[str, str, str]:
    """(kind, label, rest) of a line; kind is "text" when it is not numbered."""
    for kind, pattern in _MARKERS:
        match = pattern.match(line)
        if match:
            return kind, match.group("label"), line[match.end() :]
    if _is_caps_heading(line):
        return "caps", "", line
    return "text", "", line


def _is_caps_heading(line: str) -> bool:
    """An unnumbered all-caps heading such as "NỘI DUNG TUYÊN TRUYỀN"."""
    if line.upper() != line or " " not in line:
        return False
    return sum(ch.isalpha() for ch in line) >= 8


def _cut_closing(lines: list[str]) -> list[str]:
    """The body without its closing part (signature, recipients)."""
    for index, line in enumerate(lines):
        if _CLOSING.match(line):
            return lines[:index]
    return lines


def _paragraphs(lines: list[str]) -> list[tuple[str, str, str]]:
    """Join wrapped lines into (kind, label, text) paragraphs."""
    paragraphs: list[list[str]] = []
    previous_length = 0
    for raw in lines:
        line = _squash(raw)
        if not line:
            continue
        kind, label, rest = _marker(line)
        if paragraphs and not _starts_paragraph(kind, rest, paragraphs[-1][2], previous_length):
            paragraphs[-1][2] += " " + line
        else:
            paragraphs.append([kind, label, rest])
        previous_length = len(line)
    return [(kind, label, text) for kind, label, text in paragraphs]


def _starts_paragraph(kind: str, rest: str, previous: str, previous_length: int) -> bool:
    """Whether a line opens a new paragraph rather than continuing a wrapped one."""
    ended = previous.endswith(_TERMINAL)
    if kind in ("caps", "text") and not ended and (previous + rest).upper() == previous + rest:
        return False  # "III. HÌNH THỨC, THỜI GIAN\nTHỰC HIỆN" is one heading wrapped in two
    if kind == "dash":
        # "kinh tế\n- xã hội" is a wrap, "- Thời gian: ..." is an item.
        return ended or not rest[:1].islower()
    if kind != "text":
        return True
    if not rest[:1].isupper():
        return False
    return previous_length < _SHORT_LINE or (ended and previous_length > _LONG_LINE)


def _rank(kind: str, label: str) -> int:
    """Nesting depth of a numbering kind; 2.1. sits under 2."""
    if kind == "dotted":
        return 1 + label.count(".")
    return _RANKS[kind]


def _outline(paragraphs: list[tuple[str, str, str]]) -> _Node:
    """The tree of numbered items; unnumbered paragraphs are the body of the item above."""
    root = _Node("root", -1, "")
    stack = [root]
    for kind, label, text in paragraphs:
        if kind == "text":
            stack[-1].body.append(text)
            continue
        rank = _rank(kind, label)
        while stack[-1].rank >= rank:
            stack.pop()
        node = _Node(kind, rank, text)
        stack[-1].children.append(node)
        stack.append(node)
    return root


def _full_text(node: _Node) -> str:
    """A node's heading, body and all sub-items as one text."""
    parts = [node.heading, *node.body, *(_full_text(child) for child in node.children)]
    return " ".join(part for part in parts if part)


# Sections

_SECTION_KEYS = (
    ("organisation", re.compile(r"TỔ CHỨC THỰC HIỆN|PHÂN CÔNG", re.I)),
    ("content", re.compile(r"NỘI DUNG", re.I)),
    ("form", re.compile(r"HÌNH THỨC|THỜI GIAN|PHƯƠNG THỨC|HOẠT ĐỘNG|NHIỆM VỤ", re.I)),
    ("purpose", re.compile(r"MỤC ĐÍCH|YÊU CẦU|MỤC TIÊU", re.I)),
    ("funding", re.compile(r"KINH PHÍ", re.I)),
)
_FORM_HEADING = re.compile(
    r"^(?:nội dung|thời gian|hình thức|phương thức)\b"
    r".{0,60}?\b(?:hình thức|thời gian|phương thức)\b"
    r"|^(?:hình thức|phương thức)\b|^các hoạt động\b",
    re.I,
)


def _section_kinds(heading: str) -> set[str]:
    """What a top-level section is about, from its heading."""
    head = heading[:120]
    kinds = {kind for kind, pattern in _SECTION_KEYS if pattern.search(head)}
    if "organisation" in kinds:
        return {"organisation"}
    return kinds


# Preamble: legal basis and issuing clause

_BASIS_LEAD = re.compile(r"^(?:Căn cứ(?: vào)?|Thực hiện|Theo|Thi hành|Triển khai)\s+", re.I)
_DOCUMENT = re.compile(
    r"^(?:Hiến pháp|Bộ luật|Luật|Pháp lệnh|Nghị quyết|Nghị định|Quyết định|Chỉ thị|Thông tư"
    r"|Kế hoạch|Chương trình|Đề án|Công văn|Văn bản|Hướng dẫn|Thông báo|Kết luận)\b"
)


def _split_sentences(text: str) -> list[str]:
    """Split at ";" and at sentence ends (not after abbreviations like "TP.")."""
    parts = []
    start = 0
    for match in re.finditer(rf";\s*|[.!?]\s+(?=[{_UPPER}])", text):
        semicolon = match.group().startswith(";")
        if semicolon or not text[match.start() - 1].isupper():
            parts.append(text[start : match.start() + (0 if semicolon else 1)])
            start = match.end()
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def _split_preamble(paragraphs: list[str]) -> tuple[list[str], list[str]]:
    """Legal basis documents cited in the preamble, and its other clauses."""
    basis: list[str] = []
    clauses: list[str] = []
    for paragraph in paragraphs:
        for sentence in _split_sentences(paragraph):
            cited = _BASIS_LEAD.sub("", sentence)
            if _DOCUMENT.match(cited) and re.search(r"\bsố\b|\d+/|ngày|^(?:Bộ )?[Ll]uật", cited):
                cited, issuing = _split_issuing(cited)
                basis.append(re.sub(r"\bsố\s*:\s*", "số ", cited).rstrip(" .;,:"))
                clauses.extend(issuing)
            else:
                clauses.append(sentence)
    return basis, clauses


def _split_issuing(sentence: str) -> tuple[str, list[str]]:
    """A citation and the issuing clause joined to it by a comma ("..., UBND huyện X ban hành")."""
    for comma in re.finditer(rf",\s+(?={_AGENCY}\b)", sentence):
        if _ISSUING.match(sentence, comma.end()):
            return sentence[: comma.start()], [sentence[comma.end() :]]
    return sentence, []


# Issuer and level

_AGENCY = r"(?:Ủy ban nhân dân|UBND|Sở|Ban|Trung tâm|Đảng ủy|Phòng|Đài|Hội đồng nhân dân|HĐND)"
_ISSUING = re.compile(
    rf"(?P<agency>{_AGENCY}\b[^;]{{0,80}}?)\s+(?i:ban hành|xây dựng)\s+(?i:các\s+)?(?i:kế hoạch)"
)
_HEADER_AGENCY = re.compile(
    r"^(?:ỦY BAN NHÂN DÂN|UBND|SỞ|BAN|TRUNG TÂM|ĐẢNG ỦY|PHÒNG|ĐÀI|HỘI ĐỒNG|VĂN PHÒNG)\b"
)
_HEADER_UNIT = re.compile(r"^(?:TỈNH|THÀNH PHỐ|HUYỆN|QUẬN|THỊ XÃ|XÃ|PHƯỜNG|THỊ TRẤN)\b")
_LEVELS = (
    ("district", re.compile(r"\bthị xã\b|Huyện ủy|Thị ủy")),
    ("commune", re.compile(r"\b(?:xã|phường|thị trấn)\b|Đảng ủy xã")),
    ("district", re.compile(r"\b(?:huyện|quận)\b")),
    ("province", re.compile(r"\bthành phố (?:Hà Nội|Hồ Chí Minh|Hải Phòng|Đà Nẵng|Cần Thơ|Huế)\b")),
    ("district", re.compile(r"\bthành phố\b")),
    ("province", re.compile(r"\btỉnh\b|^Sở\b|Tỉnh ủy")),
)


def _issuer(
    header: list[str], clauses: list[str], title: str, place: str | None, document: str
) -> str | None:
    """The issuing body: the header, else the clause saying who issues the plan."""
    found = [_header_agency(header, document), _clause_agency(clauses, document)]
    agencies = [_named_unit(agency, title, place) for agency in found if agency]
    complete = [a for a in agencies if a != "Ủy ban nhân dân" and not re.search(rf"{_UNIT}$", a)]
    issuer = (complete or agencies or [None])[0]
    return _shorten(issuer, _NAME_LENGTH) if issuer else None


def _clause_agency(clauses: list[str], document: str) -> str | None:
    """The agency of a clause like "UBND xã X xây dựng kế hoạch ..."."""
    for clause in clauses:
        match = _ISSUING.search(clause)
        if match:
            return _canonical_agency(match.group("agency"), document)
    return None


def _named_unit(agency: str, title: str, place: str | None) -> str:
    """ "Ủy ban nhân dân tỉnh" completed with the province the title or date line names."""
    unit = re.search(rf"\b({_UNIT})$", agency)
    if not unit:
        return agency
    named = re.search(rf"\b{unit.group(1)}\s+({_NAME})", title)
    name = named.group(1) if named else place
    return f"{agency} {name}" if name else agency


def _header_agency(header: list[str], document: str) -> str | None:
    """The lowest agency in the header block ("UBND TỈNH X / SỞ Y" -> Sở Y)."""
    agencies: list[str] = []
    for cell in _header_cells(header):
        if cell != cell.upper() or "CỘNG HÒA" in cell:
            continue
        if _HEADER_AGENCY.match(cell):
            agencies.append(cell)
        elif _HEADER_UNIT.match(cell) and agencies:
            agencies[-1] = f"{agencies[-1]} {cell}"
    return _canonical_agency(agencies[-1], document) if agencies else None


def _canonical_agency(raw: str, document: str) -> str:
    """An agency name in its usual spelling: "UBND HUYỆN X" -> "Ủy ban nhân dân huyện X"."""
    raw = _squash(raw).strip(" ,.;:")
    people = re.match(r"^(?:Ủy ban nhân dân|UBND)\b\s*(?P<rest>.*)$", raw, re.I)
    if people:
        unit = re.match(rf"^(?P<unit>{_UNIT})\b\s*(?P<name>.*)$", people.group("rest"), re.I)
        if not unit:
            return "Ủy ban nhân dân"
        name = unit.group("name")
        name = name.title() if name == name.upper() else name
        return " ".join(["Ủy ban nhân dân", unit.group("unit").lower(), name]).strip()
    if raw == raw.upper():
        # The body usually spells the header's agency in its usual case somewhere.
        for found in re.finditer(re.escape(raw), document, re.I):
            if found.group() != raw:
                return found.group()
        return raw.capitalize()
    return raw


def _level(issuer: str | None, title: str) -> str | None:
    """province, district or commune, from the issuer or else the title."""
    for text in (issuer, title):
        for level, pattern in _LEVELS:
            if text and pattern.search(text):
                return level
    return None


# Themes

_NOT_A_THEME = re.compile(r"^(?:đối tượng|hình thức|thời gian|kinh phí|cơ quan|đơn vị)", re.I)
# Theme titles become names in a list; agencies and titles fit the plan tables.
_THEME_LENGTH = 160
_NAME_LENGTH = 200
_TITLE_LENGTH = 300


def _themes(sections: list[_Node]) -> list[ParsedTheme]:
    """Themes from the content ("NỘI DUNG") part: its items, or its sentences."""
    titles: list[str] = []
    for section in sections:
        if "content" not in _section_kinds(section.heading):
            continue
        part = next((c for c in section.children if c.heading.lower().startswith("nội dung")), None)
        part = part or section
        items = [c for c in part.children if not _field(c) and not _NOT_A_THEME.match(c.heading)]
        if items:
            titles.extend(_theme_title(item.heading) for item in items)
        else:
            titles.extend(_theme_title(s) for p in part.body for s in _split_sentences(p))
    unique = {title.lower(): title for title in titles[::-1] if title}
    return [ParsedTheme(title) for title in dict.fromkeys(unique[t.lower()] for t in titles if t)]


def _theme_title(text: str) -> str:
    """A short theme title: the first clause of an item."""
    sentences = _split_sentences(text)
    return _shorten(sentences[0] if sentences else text, _THEME_LENGTH)


def _shorten(text: str, limit: int) -> str:
    """Text without edge punctuation, cut at a word boundary to at most limit characters."""
    text = text.strip(" .,;:-")
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-") + "…"


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


def _field(node: _Node) -> _Field | None:
    """The node as a labelled field, or None when it is an item of its own."""
    label, colon, value = node.heading.partition(":")
    if not colon:
        return None
    for key, pattern in _FIELDS:
        if pattern.fullmatch(label.strip()):
            # Prose after "Nội dung:" is its value; prose after a filled-in field is not.
            value = value.strip() or " ".join(node.body)
            return _Field(key, label.strip(), value, [_full_text(c) for c in node.children])
    return None


def _fields(node: _Node) -> dict[str, _Field]:
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
    ("relay", re.compile(r"tiếp sóng|tiếp âm", re.I)),
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
            r"|sinh hoạt\s+(?:chi bộ|chuyên đề|cộng đồng)",
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


def _languages(text: str) -> list[str]:
    """ISO 639-3 codes: "vie", then each ethnic language the text says to broadcast in."""
    codes = ["vie"]
    for match in _NAMED_LANGUAGES.finditer(text):
        for name in re.finditer(_LANGUAGE, match.group(), re.I):
            codes.append(_language_code(name.group()))
    if len(codes) == 1 and _SOME_LANGUAGE.search(text):
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

    node: _Node
    context: list[str]
    strict: bool = False  # only the channels it names itself, none inherited or assumed


def _requirements(sections: list[_Node], level: str | None) -> list[ParsedRequirement]:
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


def _walk(node: _Node) -> list[_Node]:
    """A node and all nodes under it, in document order."""
    return [node, *(n for child in node.children for n in _walk(child))]


def _requirement_roots(section: _Node) -> list[_Node]:
    """The parts of a section that list forms of communication."""
    kinds = _section_kinds(section.heading)
    parts = [c for c in section.children if _FORM_HEADING.match(c.heading.strip())]
    if parts:
        return parts
    return [section] if "form" in kinds else []


def _activities(root: _Node) -> list[_Activity]:
    """The items under a root that each describe one activity."""
    items = _items(root)
    if not items:
        # A form part written as prose: only the channels it names are requirements.
        return [_Activity(root, [], strict=True)]
    return [activity for item in items for activity in _activities_under(item, [])]


def _items(node: _Node) -> list[_Node]:
    """A node's sub-items that are not labelled fields."""
    return [c for c in node.children if not _field(c) and not _NOT_AN_ACTIVITY.match(c.heading)]


def _activities_under(node: _Node, context: list[str]) -> list[_Activity]:
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
        languages = _languages(entry or "")
        languages = languages if languages[1:] else _languages(general)
        cadence = _first(_cadence, entry, time, node.heading)
        minutes = _first(_minutes, entry, duration, time, node.heading) or (None, None)
        text = _source_text(node.heading, label, entry, languages, general)
        for channel in _channels(entry or "", level) or channels:
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


def _entries(node: _Node, fields: dict[str, _Field]) -> list[tuple[str | None, str | None]]:
    """(label, text) of each time entry: the time field's items, else the activity's own."""
    time = fields.get("time")
    if time and time.items:
        return [(time.label, item) for item in time.items]
    if time:
        return [(time.label, time.value)]
    items = _items(node)
    if items:
        return [(None, _full_text(item)) for item in items]
    # Prose: each clause that names a channel or a cadence is an entry of its own.
    clauses = [clause for paragraph in node.body for clause in _split_sentences(paragraph)]
    named = [(None, c) for c in clauses if _channels(c, None) or _cadence(c)]
    return named or [(None, None)]


def _general_text(node: _Node, fields: dict[str, _Field]) -> str:
    """An activity's text, leaving out sub-items that are time entries of their own."""
    items_are_entries = "time" not in fields
    children = [c for c in node.children if _field(c) or not items_are_entries]
    return " ".join([node.heading, *node.body, *(_full_text(c) for c in children)])


def _lead(node: _Node, fields: dict[str, _Field]) -> str | None:
    """The agency in charge: the "chủ trì" field, else "thực hiện", else an inline mention."""
    for key in ("lead", "performer"):
        if key in fields and fields[key].value:
            return _shorten(fields[key].value, _NAME_LENGTH)
    text = " ".join([node.heading, *node.body])
    for pattern in _INLINE_LEAD:
        match = pattern.search(text)
        if match:
            return _shorten(match.group(1), _NAME_LENGTH)
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
    text = _squash(text).rstrip(" ;,")
    return text if text.endswith((".", "!", "?", ":", "…")) else f"{text}."
