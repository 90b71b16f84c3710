"""Plan files as text: a PDF with a text layer, a Word .docx, or UTF-8 plain text / Markdown.

The format is told from the file's first bytes, never from its name. PDF pages are read in
pypdf's layout mode, which keeps the two columns of an official header apart (the importer
splits header cells at runs of spaces), and are joined with form feeds so that the repair
step can find running headers and page numbers. Word lists numbered by Word itself carry no
number in their text: it is rebuilt from the document's numbering definitions.
"""

import io
import logging
import re
from collections.abc import Iterator

from docx import Document
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from pypdf import PdfReader

from core.errors import InvalidError

__all__ = [
    "DOCX_MEDIA_TYPE",
    "PDF_MEDIA_TYPE",
    "PLAN_EXTENSIONS",
    "UnreadableDocumentError",
    "document_text",
]

PDF_MEDIA_TYPE = "application/pdf"
DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PLAN_EXTENSIONS = (".txt", ".md", ".markdown", ".pdf", ".docx")
PAGE_BREAK = "\f"
# Plans run to a few dozen pages; the cap bounds the work a hostile file can ask for.
MAX_PAGES = 200
# A page with a text layer has hundreds of letters; a scan has none, or a stamp's few.
_LETTERS_PER_PAGE = 20

_OLE = bytes.fromhex("d0cf11e0a1b11ae1")  # the container of .doc, .xls and other old Office files


class UnreadableDocumentError(InvalidError):
    """The file cannot be read as a plan; the detail says why, in one Vietnamese sentence."""

    title = "Không đọc được tệp"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, errors=[{"field": "file", "msg": detail}])


def document_text(raw: bytes) -> str:
    """The text of a plan file: PDF, Word .docx or UTF-8 text, told apart by their first bytes."""
    if b"%PDF-" in raw[:1024]:
        return _pdf_text(raw)
    if raw.startswith(b"PK\x03\x04"):
        return _docx_text(raw)
    if raw.startswith(_OLE):
        raise UnreadableDocumentError(
            "Tệp Word định dạng cũ (.doc) chưa đọc được: hãy mở bằng Word, lưu lại thành .docx "
            "hoặc PDF rồi gửi lại."
        )
    if b"\x00" in raw:
        # PostgreSQL cannot store NUL in text; no text document contains one.
        raise UnreadableDocumentError(
            "Tệp chứa ký tự NUL: đây không phải PDF, Word .docx hay văn bản UTF-8 nên không đọc"
            " được."
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableDocumentError(
            "Tệp văn bản phải mã hóa UTF-8 (khi lưu, chọn “UTF-8”), hoặc gửi tệp PDF, Word .docx."
        ) from None


# PDF


def _pdf_text(raw: bytes) -> str:
    """The text layer of a PDF, page by page; a scan or a locked file is refused."""
    # pypdf logs every repair it makes to a damaged file; the refusal below says enough.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not _unlocked(reader):
            raise UnreadableDocumentError(
                "Tệp PDF được khóa bằng mật khẩu nên không đọc được: hãy gửi bản không khóa."
            )
        if len(reader.pages) > MAX_PAGES:
            raise UnreadableDocumentError(
                f"Tệp PDF dài hơn {MAX_PAGES} trang, không phải một kế hoạch tuyên truyền."
            )
        pages = [page.extract_text(extraction_mode="layout") for page in reader.pages]
    except UnreadableDocumentError:
        raise
    except Exception:
        # A damaged file can fail anywhere inside the PDF parser, with any exception.
        raise UnreadableDocumentError(
            "Tệp PDF bị hỏng hoặc không đúng định dạng nên không đọc được nội dung."
        ) from None
    letters = sum(ch.isalpha() for page in pages for ch in page)
    if letters < _LETTERS_PER_PAGE * max(1, len(pages)):
        raise UnreadableDocumentError(
            "Tệp PDF là bản quét (chỉ có hình ảnh, không có lớp chữ) nên chưa đọc được: hãy gửi "
            "bản PDF xuất từ Word hoặc tệp .docx (nhận dạng chữ từ ảnh chưa được hỗ trợ)."
        )
    return PAGE_BREAK.join(_tidy_page(page) for page in pages)


def _unlocked(reader: PdfReader) -> bool:
    """Open a PDF locked with an empty user password, as viewers do without asking."""
    try:
        return bool(reader.decrypt(""))
    except Exception:
        # An encryption pypdf cannot undo here (e.g. AES without a crypto library) is locked.
        return False


def _unjustified(line: str) -> str:
    """A justified line with single spaces; a header's wide gap between columns is kept.

    Layout mode spreads the words of a justified line with runs of two or three spaces, which
    would read as the cells of a header and split words that lost a letter ("h  a").
    """
    gaps = [len(gap) for gap in re.findall(r"(?<=\S) {2,}(?=\S)", line)]
    if len(gaps) < 3 or max(gaps) > 4:
        return line
    indent = len(line) - len(line.lstrip())
    return " " * indent + " ".join(line.split())


_DASH_LINE = re.compile(r"^\s*[-–]\s+(?![^\W\d_][^:.;]{1,38}:)")
_SENTENCE_END = (".", ";", ":", "!", "?", "…")


def _tidy_page(text: str) -> str:
    """A page without trailing spaces, blank runs, or lines broken before a joining dash.

    A justified line that fills the text block and ends mid-sentence was wrapped: when the
    next line starts with a dash it is not a list item but "Truyền thanh - Truyền hình" cut
    before its dash. An item that is a field ("- Thời gian: ...") always stays an item.
    """
    lines = [_unjustified(line.rstrip()) for line in text.split("\n")]
    lengths = sorted(len(line) for line in lines if line)
    # The text block's width: most full lines reach it; a footer set further right does not.
    right = lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0
    joined: list[str] = []
    for line in lines:
        previous = joined[-1] if joined else ""
        # Layout mode places characters by position, so full lines differ by a few columns.
        wrapped = len(previous) >= 0.85 * right and not previous.endswith(_SENTENCE_END)
        if wrapped and len(previous.strip()) >= 40 and _DASH_LINE.match(line):
            joined[-1] = f"{previous} {line.strip()}"
        else:
            joined.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(joined)).strip("\n")


# Word .docx


def _docx_text(raw: bytes) -> str:
    """The paragraphs and table cells of a Word document, in reading order."""
    try:
        document = Document(io.BytesIO(raw))
        numbering = _Numbering(document)
        lines = list(_blocks(document.iter_inner_content(), numbering))
    except Exception:
        # python-docx raises KeyError, ValueError, zip and XML errors for a bad package.
        raise UnreadableDocumentError(
            "Tệp .docx bị hỏng hoặc không phải văn bản Word nên không đọc được."
        ) from None
    return "\n".join(lines)


def _blocks(blocks: Iterator[Paragraph | Table], numbering: "_Numbering") -> Iterator[str]:
    """Lines of paragraphs and tables; a table cell's paragraphs each make a line."""
    for block in blocks:
        if isinstance(block, Paragraph):
            yield numbering.label(block) + block.text
            continue
        seen: list[object] = []  # the cells' elements: lxml keeps one proxy while referenced
        for row in block.rows:
            for cell in row.cells:
                if any(cell._tc is element for element in seen):
                    continue  # a merged cell is listed once per column it spans
                seen.append(cell._tc)
                yield from _blocks(cell.iter_inner_content(), numbering)
                yield ""


class _Numbering:
    """Numbers that Word draws before list paragraphs, rebuilt from numbering.xml."""

    def __init__(self, document: object) -> None:
        self._formats: dict[str, dict[int, tuple[str, str, int]]] = {}
        self._counters: dict[str, list[int]] = {}
        try:
            root = document.part.numbering_part.element  # type: ignore[attr-defined]
        except (KeyError, NotImplementedError):
            return  # a document without lists
        abstract = {
            node.get(qn("w:abstractNumId")): self._levels(node)
            for node in root.findall(qn("w:abstractNum"))
        }
        for num in root.findall(qn("w:num")):
            link = num.find(qn("w:abstractNumId"))
            if link is not None:
                self._formats[num.get(qn("w:numId"))] = abstract.get(link.get(qn("w:val")), {})

    @staticmethod
    def _levels(node: object) -> dict[int, tuple[str, str, int]]:
        """(format, level text, start) of each level of an abstract numbering."""
        levels = {}
        for lvl in node.findall(qn("w:lvl")):  # type: ignore[attr-defined]
            values = {}
            for name in ("numFmt", "lvlText", "start"):
                child = lvl.find(qn(f"w:{name}"))
                values[name] = child.get(qn("w:val")) if child is not None else None
            levels[int(lvl.get(qn("w:ilvl")))] = (
                values["numFmt"] or "decimal",
                values["lvlText"] or "",
                int(values["start"] or 1),
            )
        return levels

    def label(self, paragraph: Paragraph) -> str:
        """The number or bullet Word shows before a paragraph, with a space, or ""."""
        found = self._num_pr(paragraph)
        if found is None:
            return ""
        num_id, level = found
        levels = self._formats.get(num_id)
        if not levels or level not in levels:
            return ""
        counters = self._counters.setdefault(num_id, [0] * 10)
        counters[level] += 1
        for deeper in range(level + 1, len(counters)):
            counters[deeper] = 0
        fmt, text, _ = levels[level]
        if fmt == "bullet":
            return "- "
        if fmt == "none":
            return ""

        def number(match: re.Match[str]) -> str:
            at = int(match.group(1)) - 1
            at_fmt, _, start = levels.get(at, ("decimal", "", 1))
            return _format(counters[at] + start - 1, at_fmt)

        label = re.sub(r"%(\d)", number, text).strip()
        return f"{label} " if label else ""

    @staticmethod
    def _num_pr(paragraph: Paragraph) -> tuple[str, int] | None:
        """(numId, level) from the paragraph, else from its style."""
        for holder in (paragraph._p, paragraph.style.element if paragraph.style else None):
            ppr = holder.pPr if holder is not None else None
            num_pr = ppr.numPr if ppr is not None else None
            if num_pr is not None and num_pr.numId is not None:
                level = num_pr.ilvl.val if num_pr.ilvl is not None else 0
                num_id = str(num_pr.numId.val)
                return None if num_id == "0" else (num_id, level)  # 0 switches numbering off
        return None


_ROMAN = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"))
_ROMAN += ((50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))


def _format(value: int, fmt: str) -> str:
    """A list counter in one of Word's number formats."""
    if fmt in ("lowerLetter", "upperLetter"):
        letter = "abcdefghijklmnopqrstuvwxyz"[(value - 1) % 26]
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt in ("lowerRoman", "upperRoman"):
        roman = ""
        for amount, numeral in _ROMAN:
            while value >= amount:
                roman += numeral
                value -= amount
        return roman.upper() if fmt == "upperRoman" else roman
    return str(value)
