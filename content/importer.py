"""Plan importer: reads a communication plan (kế hoạch tuyên truyền) and extracts its structure.

A pure text parser (no database, no network). Plans arrive as plain text or Markdown with
broken line wraps, page numbers and emphasis; parse_plan() cleans them and returns a ParsedPlan.
Its requirements are found by content.requirements, which documents their languages.
"""

import datetime
import re
from dataclasses import asdict, dataclass

from content.duties import found_requirements
from content.outline import (
    _NAME,
    _UNIT,
    _UPPER,
    NAME_LENGTH,
    OutlineNode,
    _clean_lines,
    _cut_closing,
    _marker,
    _outline,
    _paragraphs,
    _split_sentences,
    section_kinds,
    shorten,
    squash,
)
from content.repair import repair_text
from content.requirements import (
    CADENCES,
    CHANNELS,
    ETHNIC_UNSPECIFIED,
    ParsedRequirement,
    _field,
)

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


@dataclass
class ParsedTheme:
    """A content theme named in the plan's content part."""

    title: str


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
    lines = _clean_lines(repair_text(text).text)
    if not any(lines):
        raise NotAPlanError("Tài liệu trống, không có nội dung để nhập.")
    title_at = _find_title_line(lines)
    if title_at is None:
        raise NotAPlanError(_refusal_without_title(lines))
    header = lines[:title_at]
    title, body_at = _title(lines, title_at)
    front = lines[:body_at]
    root = _outline(_paragraphs(_cut_closing(lines[body_at:])))
    sections = [node for node in root.children if section_kinds(node.heading)]
    if not sections:
        raise NotAPlanError(
            "Tài liệu có tiêu đề “KẾ HOẠCH” nhưng không có các phần mục đích, nội dung, "
            "hình thức hay tổ chức thực hiện của một kế hoạch."
        )
    legal_basis, clauses = _split_preamble(root.body)
    place = _header_place(front)
    issuer = _issuer(header, clauses, title, place, "\n".join(lines))
    level = _level(issuer, title) or _header_level(header)
    themes = _themes(sections)
    requirements = found_requirements(sections, level)
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
        match = _TITLE_LINE.match(squash(line))
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
    match = _TITLE_LINE.match(squash(lines[title_at]))
    first = squash(match.group("rest") or match.group("mixed") or "")
    parts = [first] if first else []
    index = title_at + 1
    while index < len(lines) and len(parts) < 4:
        line = squash(lines[index])
        index += 1
        if not line or _NUMBER_LINE.match(line) or _PLACE_DATE.match(line):
            continue  # the number or date line may sit under the heading
        if not _title_continues(line, parts):
            index -= 1
            break
        parts.append(line)
    title = shorten(" ".join(parts), _TITLE_LENGTH)
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
        cells.extend(squash(cell) for cell in re.split(r"\s{2,}|\|", line) if cell.strip())
    return cells


def _header_number(lines: list[str]) -> str | None:
    """The plan's own number from its header ("Số: 36/KH-UBND"; "S: 36/..." lost its "ố")."""
    for line in lines:
        match = re.search(r"\b(?:Số\s*:?|S\s*:)\s*(\d+)\s*/\s*([\w./-]*[\w])", line)
        if match:
            return f"{match.group(1)}/{match.group(2)}"
    return None


_NUMBER_LINE = re.compile(r"^(?:Số\s*:?|S\s*:)\s*\d")
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


# Preamble: legal basis and issuing clause

_BASIS_LEAD = re.compile(r"^(?:Căn cứ(?: vào)?|Thực hiện|Theo|Thi hành|Triển khai)\s+", re.I)
_DOCUMENT = re.compile(
    r"^(?:Hiến pháp|Bộ luật|Luật|Pháp lệnh|Nghị quyết|Nghị định|Quyết định|Chỉ thị|Thông tư"
    r"|Kế hoạch|Chương trình|Đề án|Công văn|Văn bản|Hướng dẫn|Thông báo|Kết luận)\b"
)


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
    return shorten(issuer, NAME_LENGTH) if issuer else None


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
        if cell != cell.upper() or re.search("CỘNG HÒA|ĐỘC LẬP|HẠNH PHÚC", cell):
            continue
        if _HEADER_AGENCY.match(cell):
            agencies.append(cell)
        elif agencies and re.fullmatch(r"[^\W\d_]+(?:[ -]+[^\W\d_]+)*", cell):
            # A unit ("HUYỆN X") or the rest of a name wrapped in its narrow column ("THÔNG").
            agencies[-1] = f"{agencies[-1]} {cell}"
    return _canonical_agency(agencies[-1], document) if agencies else None


def _header_level(header: list[str]) -> str | None:
    """The level of the header's units, for an issuer like "Phòng Văn hóa" that names none."""
    for cell in _header_cells(header):
        if "CỘNG HÒA" not in cell and (_HEADER_AGENCY.match(cell) or _HEADER_UNIT.match(cell)):
            level = _level(cell.lower(), "")
            if level:
                return level
    return None


def _canonical_agency(raw: str, document: str) -> str:
    """An agency name in its usual spelling: "UBND HUYỆN X" -> "Ủy ban nhân dân huyện X"."""
    raw = squash(raw).strip(" ,.;:")
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
_TITLE_LENGTH = 300


def _themes(sections: list[OutlineNode]) -> list[ParsedTheme]:
    """Themes from the content ("NỘI DUNG") part: its items, or its sentences."""
    titles: list[str] = []
    for section in sections:
        if "content" not in section_kinds(section.heading):
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
    return shorten(sentences[0] if sentences else text, _THEME_LENGTH)
