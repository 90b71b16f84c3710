"""Plan documents written for the tests, and their PDF and Word forms made the way offices do.

Each text in plans/ has a header of two columns (agency | national motto) separated by runs of
spaces, as text exports show them. The PDF puts the columns side by side in a Unicode font,
wraps and justifies the body, numbers pages from the second on and may repeat a running
footer on every page; the Word file puts the header in a two-column table and lets Word draw
the bullets of "- " items itself.
"""

import io
import re
from collections.abc import Callable
from pathlib import Path

import docx
import fontpkg_be_vietnam_pro
from docx.enum.text import WD_ALIGN_PARAGRAPH
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader, PdfWriter

PLANS = Path(__file__).parent / "plans"
FONTS = Path(fontpkg_be_vietnam_pro.ROOT) / "files"

_TITLE = re.compile(r"^(?:KẾ HOẠCH|Kế hoạch)\b")
_HEADING = re.compile(r"^(?:[IVX]+\.\s|[A-ZĐ ]{6,}$)")
_SIGNATURE = re.compile(r"^\s{8,}\S")


def read_plan(name: str) -> str:
    return (PLANS / name).read_text(encoding="utf-8")


def _parts(text: str) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(header rows as (left, right), title lines, body lines) of a plan text."""
    lines = text.split("\n")
    title_at = next(i for i, line in enumerate(lines) if _TITLE.match(line.strip()))
    rows = []
    for line in lines[:title_at]:
        if not line.strip():
            continue
        cells = re.split(r"\s{2,}", line.strip())
        right_only = len(cells) == 1 and _SIGNATURE.match(line)
        rows.append(("", cells[0]) if right_only else tuple([*cells, ""][:2]))
    end = next(i for i in range(title_at + 1, len(lines)) if not lines[i].strip())
    return rows, [line.strip() for line in lines[title_at:end]], lines[end:]


class _Pdf(FPDF):
    footer_text = ""

    def header(self) -> None:
        if self.page_no() > 1:
            self.set_font("vn", size=10)
            self.cell(0, 8, str(self.page_no()), align="C", new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        if self.footer_text:
            self.set_y(-15)
            self.set_font("vn", size=9)
            self.cell(0, 8, self.footer_text, align="R")


def plan_pdf(text: str, *, footer: str = "") -> bytes:
    """The plan as a PDF with a text layer, as a word processor exports it."""
    pdf = _Pdf(format="A4")
    pdf.footer_text = footer
    pdf.add_font("vn", "", FONTS / "BeVietnamPro-Regular.ttf")
    pdf.add_font("vn", "B", FONTS / "BeVietnamPro-Bold.ttf")
    pdf.set_margins(25, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    rows, title, body = _parts(text)
    for left, right in rows:
        top, bottom = pdf.get_y(), pdf.get_y()
        for x, width, cell in ((25, 70, left), (95, 95, right)):
            pdf.set_xy(x, top)
            pdf.set_font("vn", "B" if cell.isupper() else "", 11)
            pdf.multi_cell(width, 6, cell, align="C", new_x="LMARGIN", new_y="NEXT")
            bottom = max(bottom, pdf.get_y())
        pdf.set_y(bottom)
    pdf.ln(6)
    pdf.set_font("vn", "B", 13)
    for line in title:
        pdf.multi_cell(0, 7, line, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for line in body:
        if not line.strip():
            pdf.ln(2)
        elif _SIGNATURE.match(line):
            pdf.set_font("vn", "B", 12)
            pdf.multi_cell(0, 6, line.strip(), align="R", new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("vn", "B" if _HEADING.match(line) else "", 12)
            pdf.multi_cell(0, 6, line, align="J", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def plan_docx(text: str) -> bytes:
    """The plan as a Word document: a header table, and bullets that Word numbers itself."""
    document = docx.Document()
    rows, title, body = _parts(text)
    table = document.add_table(rows=len(rows), cols=2)
    for row, (left, right) in zip(table.rows, rows, strict=True):
        row.cells[0].text = left
        row.cells[1].text = right
    for line in title:
        paragraph = document.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.add_run(line).bold = True
    for line in body:
        if not line.strip():
            continue
        if line.startswith("- "):
            document.add_paragraph(line[2:], style="List Bullet")
        elif _SIGNATURE.match(line):
            paragraph = document.add_paragraph(line.strip())
            paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        else:
            paragraph = document.add_paragraph()
            paragraph.add_run(line).bold = bool(_HEADING.match(line))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# Files that cannot be read


def scanned_pdf() -> bytes:
    """A page with only a picture on it, as a scanner makes."""
    picture = io.BytesIO()
    Image.new("RGB", (200, 280), "white").save(picture, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(picture, x=10, y=10, w=190)
    return bytes(pdf.output())


def locked_pdf() -> bytes:
    reader = PdfReader(io.BytesIO(plan_pdf(read_plan("ke-hoach-xa-tan-phong-2025.txt"))))
    writer = PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.encrypt(user_password="mat-khau", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def damaged_pdf() -> bytes:
    whole = plan_pdf(read_plan("ke-hoach-xa-tan-phong-2025.txt"))
    return whole[:200] + bytes(range(256)) * 4


def damaged_docx() -> bytes:
    whole = plan_docx(read_plan("ke-hoach-xa-tan-phong-2025.txt"))
    return whole[:1000]


# Text damaged the way PDF extraction damages it

# Letters a PDF's font did not map back to Unicode: "o" with a tone mark, as in "Ph ng Văn h a".
_DROPPED = set("òóỏõọốồổỗộớờởỡợ")
_DROPPED |= {letter.upper() for letter in _DROPPED}
_WRAP = 60


def drop_letters(text: str) -> str:
    """The text without the dropped letters: a gap inside a word, nothing at its ends."""
    out = []
    for at, letter in enumerate(text):
        if letter not in _DROPPED:
            out.append(letter)
            continue
        inside = 0 < at < len(text) - 1 and text[at - 1].isalpha() and text[at + 1].isalpha()
        out.append(" " if inside else "")
    return "".join(out)


def break_lines(text: str, *, syllable: Callable[[str], bool]) -> str:
    """Long lines wrapped at 60 columns, cutting the word there in two when its halves are not
    both words of their own ("truy" / "ền"); the cut never starts a line with numbering."""
    out = []
    for line in text.split("\n"):
        while len(line) > _WRAP + 10 and "  " not in line:
            cut = _WRAP
            start = line.rfind(" ", 0, cut) + 1
            end = (line.find(" ", cut) + 1 or len(line) + 1) - 1
            word = line[start:end]
            head, tail = line[start:cut], line[cut:end]
            whole = word.isalpha() and head and tail
            if not (whole and not (syllable(head.lower()) and syllable(tail.lower()))):
                cut = start  # cut before the word
            if re.match(r"[-–+•]|[IVX]+\.|\d+[.)]|[a-zđ]\)", line[cut:].lstrip()) or cut == 0:
                break
            out.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        out.append(line)
    return "\n".join(out)
