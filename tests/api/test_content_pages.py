"""The planner's web pages: importing plans, writing and approving content, rendering audio."""

import html
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlmodel import func, select

from audio.models import RenderJob
from audio.service import process_queue
from content.models import ContentItem, ContentStatus, Plan
from core.db import session_scope
from core.identity import create_user
from core.models import Role
from scheduler.models import Station

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT.parent / "shared" / "seeds"
SAMPLE = ROOT / "api" / "samples" / "ke-hoach-mau.md"
PASSWORD = "mật-khẩu-đủ-dài"
NOT_A_PLAN = "Chiều qua, đội bóng xã thắng 3-1 trong trận giao hữu với xã bạn."
BODY = "Từ ngày 01/7/2026, UBND xã nhận hồ sơ TTHC trực tuyến mức độ 3, 4 qua Cổng dịch vụ công."


def _login(client, username: str) -> str:
    """Log in through the login form as a browser would; return the session's CSRF token."""
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


def _count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def _textarea(page: str, name: str) -> str:
    """A textarea's value as a browser submits it: first newline dropped, CRLF line ends."""
    found = re.search(rf'<textarea id="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    value = html.unescape(found.group(1))
    value = value[1:] if value.startswith("\n") else value
    return value.replace("\n", "\r\n")


def _hidden(page: str, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', page).group(1))


def _field_error(page: str, name: str) -> str:
    """The error printed next to a field; the field points at it for screen readers."""
    assert re.search(
        rf'id="{name}"[^>]*aria-invalid="true"[^>]*aria-describedby="error-{name}', page
    )
    return html.unescape(re.search(rf'id="error-{name}"[^>]*>([^<]*)<', page).group(1))


def _row_texts(page: str) -> list[str]:
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split()) for row in rows]


@pytest.fixture
def second_planner(engine, newsroom) -> str:
    with session_scope(engine) as session:
        province = session.exec(select(Station).where(Station.code == "TINH-P")).one()
        create_user(
            session, username="binh", password=PASSWORD, role=Role.planner, station_id=province.id
        )
    return "binh"


# ----------------------------------------------------------------- plans


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is not beside the checkout")
def test_a_seed_plan_is_read_first_then_saved_on_confirmation(client, newsroom, engine) -> None:
    token = _login(client, "alice")
    form = client.get("/plans/import")
    assert form.status_code == 200
    assert '<label for="text">' in form.text and '<label for="file">' in form.text
    text = (SEEDS / "ke-hoach-yen-chau-2021.md").read_text(encoding="utf-8")

    preview = client.post(
        "/plans/import",
        data={"csrf_token": token, "station": "TINH-P", "text": text, "action": "preview"},
    )
    assert preview.status_code == 200, preview.text
    page = preview.text
    assert "Kết quả đọc thử (chưa lưu)" in page
    assert "Tuyên truyền cải cách hành chính năm 2021" in page
    rows = _row_texts(page)
    assert any(
        "đài huyện / trung tâm truyền thông" in r and "hằng tuần" in r and "10 đến 15 phút" in r
        for r in rows
    ), rows
    assert any(
        "loa truyền thanh xã" in r
        and "hằng tháng" in r
        and "tiếng dân tộc (kế hoạch không nêu tên)" in r
        for r in rows
    ), rows
    assert 'value="save"' in page, "the save button appears once the reading is shown"
    assert _count(engine, Plan) == 0, "reading a plan saves nothing"

    # What the browser sends back is the textarea as shown, with CRLF line ends.
    shown = _textarea(page, "text")
    changed = client.post(
        "/plans/import",
        data={
            "csrf_token": token,
            "station": "TINH-P",
            "text": shown + "\r\nThêm một dòng chưa đọc thử.",
            "previewed": _hidden(page, "previewed"),
            "action": "save",
        },
    )
    assert changed.status_code == 409 and "Văn bản đã thay đổi" in changed.text
    assert _count(engine, Plan) == 0

    saved = client.post(
        "/plans/import",
        data={
            "csrf_token": token,
            "station": "TINH-P",
            "text": shown,
            "previewed": _hidden(page, "previewed"),
            "action": "save",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    assert _count(engine, Plan) == 1
    plan_page = client.get(saved.headers["location"])
    assert plan_page.status_code == 200
    assert "Đã lưu kế hoạch" in plan_page.text
    assert "Ủy ban nhân dân huyện Yên Châu" in plan_page.text and "cấp huyện" in plan_page.text
    assert any(
        "đài huyện / trung tâm truyền thông" in r and "10 đến 15 phút" in r
        for r in _row_texts(plan_page.text)
    )
    with session_scope(engine) as session:
        plan = session.exec(select(Plan)).one()
        plan_id = plan.id
        assert plan.created_by == "alice" and "\r" not in plan.source_text
        assert plan.source_text.strip() == text.strip()
        station = session.get(Station, plan.station_id)
        assert station.code == "TINH-P"
    listing = client.get("/plans")
    assert listing.status_code == 200
    assert f'href="/plans/{plan_id}">Tuyên truyền cải cách hành chính năm 2021</a>' in listing.text


def test_a_plan_file_is_uploaded_and_bad_documents_are_refused_next_to_their_field(
    client, newsroom, engine
) -> None:
    token = _login(client, "alice")
    uploaded = client.post(
        "/plans/import",
        data={"csrf_token": token, "station": "XA-A", "action": "preview"},
        files={"file": (SAMPLE.name, SAMPLE.read_bytes(), "text/markdown")},
    )
    assert uploaded.status_code == 200, uploaded.text
    assert "12/KH-UBND" in uploaded.text
    assert any(
        "loa truyền thanh xã" in r and "hằng tuần" in r and "10 đến 15 phút" in r
        for r in _row_texts(uploaded.text)
    )
    assert "Chiềng Pằn" in _textarea(uploaded.text, "text"), "the file's text is kept for saving"
    # A browser sends an empty file part when no file is chosen: the pasted text counts.
    pasted = client.post(
        "/plans/import",
        data={"csrf_token": token, "station": "XA-A", "text": SAMPLE.read_text()},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert pasted.status_code == 200 and "12/KH-UBND" in pasted.text

    refusals = [
        ({"text": NOT_A_PLAN}, None, "text", "KẾ HOẠCH"),
        ({"text": "   "}, None, "text", "Hãy dán văn bản"),
        ({"text": ""}, ("ke-hoach.pdf", b"%PDF-1.4", "application/pdf"), "file", "PDF bị hỏng"),
        ({"text": ""}, ("ke-hoach.odt", b"PK\x03\x04", "text/plain"), "file", ".docx"),
        (
            {"text": ""},
            ("ke-hoach.txt", "KẾ HOẠCH".encode("utf-16"), "text/plain"),
            "file",
            "UTF-8",
        ),
        ({"text": SAMPLE.read_text(), "station": "TINH-KHAC"}, None, "station", "trong danh sách"),
    ]
    for fields, file, field, words in refusals:
        data = {"csrf_token": token, "station": "XA-A", "action": "save", **fields}
        answer = client.post("/plans/import", data=data, files={"file": file} if file else None)
        assert answer.status_code == 422, (fields, answer.text)
        assert words in _field_error(answer.text, field), field
    assert _count(engine, Plan) == 0

    forged = client.post("/plans/import", data={"text": SAMPLE.read_text(), "action": "save"})
    assert forged.status_code == 403 and "Biểu mẫu đã hết hạn" in forged.text
    assert _count(engine, Plan) == 0


# ----------------------------------------------------------------- content items


def test_an_item_is_written_previewed_submitted_and_approved_by_someone_else(
    client, newsroom, engine, second_planner
) -> None:
    token = _login(client, "alice")
    before = _count(engine, ContentItem)
    form = client.get("/items/new")
    assert form.status_code == 200
    for name in ("title", "body", "station", "plan", "theme", "programme", "language"):
        assert f'<label for="{name}">' in form.text and f'id="{name}"' in form.text
    fields = {
        "csrf_token": token,
        "station": "XA-A",
        "title": "Nộp hồ sơ trực tuyến",
        "body": BODY,
        "language": "vie",
        "programme": "Chuyên mục Cải cách hành chính",
        "valid_from": "01/07/2026",
        "valid_until": "31/12/2026",
        "priority": "normal",
    }
    preview = client.post("/items/new", data={**fields, "action": "preview"})
    assert preview.status_code == 200, preview.text
    reading = html.unescape(re.search(r'<div class="reading">(.*?)</div>', preview.text, re.S)[1])
    assert "ủy ban nhân dân xã" in reading.lower() and "hồ sơ thủ tục hành chính" in reading
    assert "UBND" not in reading and "TTHC" not in reading
    assert "ngày một tháng bảy năm hai nghìn không trăm hai mươi sáu" in reading
    assert "Thời lượng ước tính" in preview.text
    assert _count(engine, ContentItem) == before, "a preview saves nothing"

    saved = client.post("/items/new", data={**fields, "action": "save"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    item_url = saved.headers["location"].split("?")[0]
    item_id = int(item_url.rsplit("/", 1)[1])
    page = client.get(saved.headers["location"]).text
    assert "Đã lưu nội dung." in page and "Bản nháp" in page
    assert "Ủy ban nhân dân xã" in page and "01/07/2026 – 31/12/2026" in page
    assert "Nội dung cần được duyệt trước khi tạo âm thanh" in page

    drafts = client.get("/items?status=draft&language=vie").text
    assert f'href="/items/{item_id}">Nộp hồ sơ trực tuyến</a>' in drafts
    assert "bản nháp" in drafts
    assert "Nộp hồ sơ trực tuyến" not in client.get("/items?status=approved").text

    submitted = client.post(f"{item_url}/submit", data={"csrf_token": token})
    assert submitted.status_code == 200 and "Đã gửi duyệt." in submitted.text
    refused = client.post(f"{item_url}/approve", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "yêu cầu người duyệt khác người viết" in refused.text
    assert "Chờ duyệt" in refused.text
    with session_scope(engine) as session:
        item = session.get(ContentItem, item_id)
        assert (item.status, item.approved_version) == (ContentStatus.submitted, None)

    token = _login(client, second_planner)
    approved = client.post(
        f"{item_url}/approve", data={"csrf_token": token}, follow_redirects=False
    )
    assert approved.status_code == 303
    page = client.get(approved.headers["location"]).text
    assert "Đã duyệt: phiên bản này được phép phát." in page and "Đã duyệt" in page
    history = [r for r in _row_texts(page) if r.startswith("1 (đang phát)")]
    assert history and "alice" in history[0] and "binh" in history[0], _row_texts(page)
    assert f'action="/items/{item_id}/render"' in page

    # New words make a second version; the approved one still airs meanwhile.
    edited = client.post(
        f"{item_url}/edit",
        data={"csrf_token": token, "title": "Nộp hồ sơ trực tuyến", "body": BODY + " Xin cảm ơn."},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    page = client.get(edited.headers["location"]).text
    assert "phiên bản được phát: <strong>1</strong>" in page and "Lịch sử phiên bản" in page
    assert any(r.startswith("2 ") and "binh" in r for r in _row_texts(page))
    with session_scope(engine) as session:
        item = session.get(ContentItem, item_id)
        assert (item.status, item.version, item.approved_version) == ("draft", 2, 1)


def test_bad_item_input_is_shown_next_to_the_field_and_saves_nothing(
    client, newsroom, engine
) -> None:
    token = _login(client, "alice")
    before = _count(engine, ContentItem)
    good = {"csrf_token": token, "station": "XA-A", "title": "Tiêu đề", "body": BODY}
    cases = [
        ({"title": "  "}, "title", "Hãy ghi tiêu đề"),
        ({"body": ""}, "body", "Hãy ghi nội dung"),
        ({"valid_from": "31/02/2026"}, "valid_from", "dd/mm/yyyy"),
        ({"valid_from": "02/07/2026", "valid_until": "01/07/2026"}, "valid_until", "sau ngày"),
        ({"language": "xyz"}, "language", "trong danh sách"),
        ({"plan": "999"}, "plan", "trong danh sách"),
        ({"theme": "abc"}, "theme", "trong danh sách"),
        ({"translates": str(newsroom.item_id)}, "translates", "tiếng Việt"),
        ({"station": "TINH-Q"}, "station", "trong danh sách"),
    ]
    for change, field, words in cases:
        answer = client.post("/items/new", data={**good, **change, "action": "save"})
        assert answer.status_code == 422, (change, answer.text[:300])
        assert words in _field_error(answer.text, field), (change, answer.text)
        assert 'value="Tiêu đề"' in answer.text or field == "title", "what was typed is kept"
    assert _count(engine, ContentItem) == before

    edit = client.post(
        f"/items/{newsroom.item_id}/edit", data={"csrf_token": token, "title": "Mới", "body": " "}
    )
    assert edit.status_code == 422 and "Hãy ghi nội dung" in _field_error(edit.text, "body")
    back = client.post(f"/items/{newsroom.item_id}/return", data={"csrf_token": token, "note": "x"})
    assert back.status_code == 409 and "Chỉ trả lại được" in back.text
    with session_scope(engine) as session:
        assert session.get(ContentItem, newsroom.item_id).version == 1

    filtered = client.get("/items?status=bogus&plan=x")
    assert filtered.status_code == 422
    assert "trong danh sách" in _field_error(filtered.text, "status")
    assert "trong danh sách" in _field_error(filtered.text, "plan")


# ----------------------------------------------------------------- rendering


def test_a_render_is_queued_followed_to_done_and_played_from_the_item_page(
    client, newsroom, engine
) -> None:
    token = _login(client, "alice")
    item_url = f"/items/{newsroom.item_id}"
    queued = client.post(f"{item_url}/render", data={"csrf_token": token}, follow_redirects=False)
    assert queued.status_code == 303 and queued.headers["location"].endswith("#am-thanh")
    with session_scope(engine) as session:
        job = session.exec(select(RenderJob)).one()
    page = client.get(item_url).text
    assert f'data-job="{job.id}"' in page and 'data-reload="1"' in page
    assert "<audio" not in page and "/static/app/progress.js" in page

    jobs = client.get("/jobs")
    assert jobs.status_code == 200
    row = next(r for r in _row_texts(jobs.text) if r.startswith(f"{job.id} "))
    assert "Khai sinh trực tuyến" in row and "đang chờ" in row
    assert re.search(rf'<progress id="job-bar-{job.id}" max="100" value="0"', jobs.text)
    polled = client.get(f"/jobs/progress?ids={job.id}")
    assert polled.status_code == 200 and polled.headers["cache-control"] == "no-store"
    assert polled.json()["jobs"] == [
        {
            "id": job.id,
            "status": "queued",
            "status_text": "đang chờ",
            "stage": "queued",
            "stage_text": "đang chờ",
            "progress": 0,
            "attempts": 0,
            "error": None,
            "finished": False,
        }
    ]

    assert process_queue(engine, store=newsroom.store, worker="test") == 1
    done = client.get(f"/jobs/progress?ids={job.id},999999").json()["jobs"]
    assert [(j["status"], j["stage_text"], j["progress"], j["finished"]) for j in done] == [
        ("done", "xong", 100, True)
    ]
    jobs = client.get("/jobs").text
    row = next(r for r in _row_texts(jobs) if r.startswith(f"{job.id} "))
    assert "xong" in row and "Nghe âm thanh" in row
    assert re.search(rf'<progress id="job-bar-{job.id}" max="100" value="100"', jobs)

    page = client.get(item_url).text
    src = html.unescape(re.search(r'<audio controls preload="none" src="([^"]+)"', page)[1])
    assert src.startswith("/api/v1/audio/") and "sig=" in src
    assert re.search(r"thời lượng <strong>\d+ giây</strong>", page), "the rendered duration"
    with session_scope(engine) as session:
        sha256 = session.get(RenderJob, job.id).asset_sha256
    assert sha256 in src
    client.cookies.clear()  # the signed link opens without any session or token
    audio = client.get(src)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    assert audio.content == newsroom.store.path(sha256, "mp3").read_bytes()
    forged = client.get(src.replace("sig=", "sig=0"))
    assert forged.status_code == 403


def test_rendering_needs_an_approved_item(client, newsroom, engine) -> None:
    token = _login(client, "alice")
    fields = {"csrf_token": token, "station": "XA-A", "title": "Chưa duyệt", "body": BODY}
    saved = client.post("/items/new", data=fields, follow_redirects=False)
    item_url = saved.headers["location"].split("?")[0]
    refused = client.post(f"{item_url}/render", data={"csrf_token": token})
    assert refused.status_code == 409 and "chưa được duyệt" in refused.text
    assert _count(engine, RenderJob) == 0


# ----------------------------------------------------------------- who may use the pages


def test_an_operator_and_a_stranger_are_kept_out(client, newsroom, engine) -> None:
    for path in ("/plans", "/plans/import", "/items", "/items/new", "/jobs"):
        anonymous = client.get(path, follow_redirects=False)
        # Not logged in: to the login page, which brings them back to what they asked for.
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == f"/login?next={quote(path, safe='')}"
    assert client.get("/jobs/progress?ids=1").status_code == 401

    token = _login(client, "vanhanh")
    assert "/plans/import" not in client.get("/").text, "no planner links on an operator's home"
    for path in (
        "/plans",
        "/plans/import",
        "/items",
        "/items/new",
        "/jobs",
        f"/items/{newsroom.item_id}",
    ):
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert "dành cho cán bộ kế hoạch" in refused.text
    posted = client.post(
        "/plans/import",
        data={"csrf_token": token, "station": "XA-A", "text": SAMPLE.read_text(), "action": "save"},
    )
    assert posted.status_code == 403 and _count(engine, Plan) == 0
    render = client.post(f"/items/{newsroom.item_id}/render", data={"csrf_token": token})
    assert render.status_code == 403 and _count(engine, RenderJob) == 0
    assert client.get("/jobs/progress?ids=1").status_code == 403
