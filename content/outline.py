"""Plan text as an outline: cleaned lines, paragraphs, numbered items and their sections.

Shared by the importer (title, header, themes) and the requirement finder.
"""

import re
import unicodedata
from dataclasses import dataclass, field

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


def squash(text: str) -> str:
    """Collapse runs of whitespace into single spaces."""
    return " ".join(text.split())


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
_FIELD_LABEL = re.compile(r"^[^\W\d_][^:.;]{1,38}:\s*\S")
_LONG_LINE = 100


@dataclass
class OutlineNode:
    """A numbered item of the plan with its text and sub-items."""

    kind: str
    rank: int
    heading: str
    body: list[str] = field(default_factory=list)
    children: list["OutlineNode"] = field(default_factory=list)


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
        line = squash(raw)
        if not line:
            continue
        kind, label, rest = _marker(line)
        if paragraphs and not _starts_paragraph(kind, rest, paragraphs[-1], previous_length):
            paragraphs[-1][2] += " " + line
        else:
            paragraphs.append([kind, label, rest])
        previous_length = len(line)
    return [(kind, label, text) for kind, label, text in paragraphs]


def _starts_paragraph(kind: str, rest: str, last: list[str], previous_length: int) -> bool:
    """Whether a line opens a new paragraph rather than continuing a wrapped one."""
    previous = last[2]
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
    if ended and last[0] in ("dash", "plus") and _FIELD_LABEL.match(previous):
        return True  # a sentence after "- Cơ quan thực hiện: UBND các xã." is not its value
    return previous_length < _SHORT_LINE or (ended and previous_length > _LONG_LINE)


def _rank(kind: str, label: str) -> int:
    """Nesting depth of a numbering kind; 2.1. sits under 2."""
    if kind == "dotted":
        return 1 + label.count(".")
    return _RANKS[kind]


def _outline(paragraphs: list[tuple[str, str, str]]) -> OutlineNode:
    """The tree of numbered items; unnumbered paragraphs are the body of the item above."""
    root = OutlineNode("root", -1, "")
    stack = [root]
    for kind, label, text in paragraphs:
        if kind == "text":
            stack[-1].body.append(text)
            continue
        rank = _rank(kind, label)
        while stack[-1].rank >= rank:
            stack.pop()
        node = OutlineNode(kind, rank, text)
        stack[-1].children.append(node)
        stack.append(node)
    return root


def full_text(node: OutlineNode) -> str:
    """A node's heading, body and all sub-items as one text."""
    parts = [node.heading, *node.body, *(full_text(child) for child in node.children)]
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


def section_kinds(heading: str) -> set[str]:
    """What a top-level section is about, from its heading."""
    head = heading[:120]
    kinds = {kind for kind, pattern in _SECTION_KEYS if pattern.search(head)}
    if "organisation" in kinds:
        return {"organisation"}
    return kinds


# Sentences and lengths


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


# Theme titles become names in a list; agencies and titles fit the plan tables.
NAME_LENGTH = 200


def shorten(text: str, limit: int) -> str:
    """Text without edge punctuation, cut at a word boundary to at most limit characters."""
    text = text.strip(" .,;:-")
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-") + "…"


def _walk(node: OutlineNode) -> list[OutlineNode]:
    """A node and all nodes under it, in document order."""
    return [node, *(n for child in node.children for n in _walk(child))]
