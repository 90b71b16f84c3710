"""The import page with PDF and Word files: read, previewed with each requirement's sentence."""

import html
import re

from sqlmodel import func, select

from content.models import Plan
from core.db import session_scope
from tests.content.plan_files import drop_letters, plan_docx, plan_pdf, read_plan, scanned_pdf

PASSWORD = "mật-khẩu-đủ-dài"


def _login(client, username: str) -> str:
    client.cookies.clear()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)


def _plans(engine) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(Plan)).one()


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _form_value(page: str, name: str) -> str:
    if name == "text":
        found = re.search(r'<textarea id="text"[^>]*>\n?(.*?)</textarea>', page, re.S)
    else:
        found = re.search(rf'name="{name}" value="([^"]*)"', page)
    return html.unescape(found.group(1))


def test_a_pdf_is_read_into_the_form_and_saved_on_confirmation(client, newsroom, engine) -> None:
    token = _login(client, "alice")
    text = read_plan("ke-hoach-huyen-da-bac-2025.txt")
    previewed = client.post(
        "/plans/import",
        data={"csrf_token": token, "station": "XA-A", "action": "preview"},
        files={"file": ("ke-hoach.pdf", plan_pdf(text), "application/pdf")},
    )
    assert previewed.status_code == 200, previewed.text
    words = _words(previewed.text)
    assert "45/KH-UBND" in words and "Ủy ban nhân dân huyện Đà Bắc" in words
    # Each requirement is shown with the duty sentence it came from, open to read.
    assert "<details open>" in previewed.text
    assert "Tiếp phát sóng đầy đủ các chương trình thời sự" in words
    read = _form_value(previewed.text, "text")
    assert "Trung tâm Văn hóa - Thông tin - Thể thao huyện" in read, "the PDF's text is editable"
    saved = client.post(
        "/plans/import",
        data={
            "csrf_token": token,
            "station": "XA-A",
            "action": "save",
            "text": read,
            "previewed": _form_value(previewed.text, "previewed"),
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    with session_scope(engine) as session:
        plan = session.exec(select(Plan)).one()
        assert plan.number == "45/KH-UBND"


def test_a_word_file_previews_and_a_scan_is_refused_next_to_the_file_field(
    client, newsroom, engine
) -> None:
    token = _login(client, "alice")
    text = read_plan("ke-hoach-phong-vhtt-krong-ana-2024.txt")
    word = client.post(
        "/plans/import",
        data={"csrf_token": token, "station": "XA-A"},
        files={"file": ("ke-hoach.docx", plan_docx(text), "application/octet-stream")},
    )
    assert word.status_code == 200, word.text
    assert "tiếng Ê Đê" in _words(word.text)
    scan = client.post(
        "/plans/import",
        data={"csrf_token": token, "station": "XA-A", "action": "save"},
        files={"file": ("ban-quet.pdf", scanned_pdf(), "application/pdf")},
    )
    assert scan.status_code == 422
    error = re.search(r'id="error-file"[^>]*>([^<]*)<', scan.text).group(1)
    assert "bản quét" in html.unescape(error)
    assert _plans(engine) == 0


def test_the_preview_lists_the_repairs_of_a_damaged_text(client, newsroom, engine) -> None:
    token = _login(client, "alice")
    damaged = drop_letters(read_plan("ke-hoach-phong-vhtt-krong-ana-2024.txt"))
    previewed = client.post(
        "/plans/import", data={"csrf_token": token, "station": "XA-A", "text": damaged}
    )
    assert previewed.status_code == 200, previewed.text
    words = _words(previewed.text)
    assert "chỗ chữ hỏng khi trích xuất" in words
    assert "“PH NG” → “PHÒNG”" in words
    assert "Phòng Văn hóa và Thông tin (cấp huyện)" in words
    # The form keeps the text as it came: what is saved is the original beside the repairs.
    assert "PH NG VĂN H A" in _form_value(previewed.text, "text")
