"""Tables as files people open in a spreadsheet: CSV (RFC 4180) and XLSX; files as answers."""

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# A cell starting with one of these is a formula to a spreadsheet: a title like
# "=HYPERLINK(…)" typed by someone must stay text. Full-width forms (＝, ＋, －, ＠)
# count too, as some spreadsheets in Asian locales read them as formulas, and so
# does any leading space or control character, which spreadsheets may trim away.
FORMULA_STARTS = frozenset("=+-@")

Table = tuple[str, Sequence[str], Iterable[Sequence[Any]]]
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def file_answer(media_type: str) -> dict[str, Any]:
    """A route's keywords when it answers a file of this type instead of JSON."""
    return {"response_class": Response, "responses": {200: {"content": {media_type: {}}}}}


def attachment(content: bytes, media_type: str, filename: str) -> Response:
    """A file to save under this name."""
    return Response(
        content=content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def looks_like_formula(text: str) -> bool:
    """Tell whether a spreadsheet could read the text as a formula."""
    if not text:
        return False
    first = text[0]
    if first.isspace() or unicodedata.category(first).startswith("C"):
        return True
    return unicodedata.normalize("NFKC", first)[:1] in FORMULA_STARTS


def safe_cell(value: Any) -> Any:
    """A value that spreadsheets show as typed, never run as a formula."""
    if isinstance(value, str) and looks_like_formula(value):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """RFC 4180 CSV with CRLF line ends, UTF-8 with a BOM so Excel reads Vietnamese."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else safe_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(tables: Sequence[Table]) -> bytes:
    """One worksheet per table, written row by row so memory stays flat."""
    book = Workbook(write_only=True)
    for title, header, rows in tables:
        sheet = book.create_sheet(title=title[:31])
        sheet.append(list(header))
        for row in rows:
            sheet.append([_xlsx_cell(sheet, v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    # XML cannot hold most control characters: openpyxl refuses the whole workbook.
    value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    # In a workbook the text itself can be marked as text: no apostrophe to show.
    if looks_like_formula(value):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value
