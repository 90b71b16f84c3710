"""Each role's main job, start to finish, in a real browser against a real server."""

import csv
import io
from datetime import timedelta

import pytest

from core.clock import utcnow
from tests.browser.conftest import log_in, screenshot

PHONE = 360


def _local_today():
    from zoneinfo import ZoneInfo

    return utcnow().astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()


@pytest.mark.parametrize("page", [PHONE], indirect=True)
def test_an_operator_confirms_yesterdays_airing_on_a_phone(page, demo) -> None:
    log_in(page, demo, "operator")
    page.get_by_role("link", name="Chương trình hôm nay").first.click()
    page.get_by_role("heading", level=1).wait_for()
    assert "Chiềng Pằn" in page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("link", name="← Ngày trước").click()
    yesterday = _local_today() - timedelta(days=1)
    page.wait_for_url(f"**/day/{yesterday.isoformat()}")
    entry = page.locator("section.entry").first
    entry.get_by_label("phát một phần").check()
    entry.get_by_label("Lý do (nếu có)").fill("mất điện lúc 05:40")
    entry.get_by_role("button", name="Ghi nhận").click()
    page.get_by_role("status").first.wait_for()
    state = page.locator("section.entry").first.locator(".state").inner_text()
    assert "phát một phần" in state and "cán bộ xác nhận" in state and "mất điện" in state
    # Nothing is wider than the phone: no sideways scrolling to reach the buttons.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE + 1
    screenshot(page, "operator-day-360")
    page.get_by_role("link", name="Bản in chương trình").click()
    page.get_by_role("heading", name="Chương trình phát thanh ngày").wait_for()
    assert f"{yesterday:%d/%m/%Y}" in page.inner_text("h1")
    screenshot(page, "operator-sheet-360")


def test_an_auditor_reports_the_month_and_checks_the_log(page, demo) -> None:
    log_in(page, demo, "auditor")
    page.get_by_role("link", name="Báo cáo kết quả phát thanh").click()
    last = _local_today() - timedelta(days=1)
    page.get_by_label("Đài (gồm các đài trực thuộc)").select_option("TINH-SON-LA")
    page.get_by_label("Hoặc ghi kỳ khác").fill(f"{last - timedelta(days=27)}..{last}")
    page.get_by_role("button", name="Lập báo cáo").click()
    page.get_by_role("heading", name="Báo cáo kết quả thực hiện kế hoạch phát thanh").wait_for()
    charts = page.locator("svg[role=img]")
    assert charts.count() >= 3
    assert "xã Chiềng Pằn (XA-CHIENG-PAN): theo kế hoạch" in charts.nth(1).get_attribute(
        "aria-label"
    )
    screenshot(page, "auditor-report")

    with page.expect_download() as download:
        page.get_by_role("link", name="Tải CSV").first.click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text("utf-8-sig"))))
    assert rows[0][:2] == ["Mã đài", "Tên đài"]
    assert any(row[0] == "XA-CHIENG-PAN" and int(row[3]) > 0 for row in rows[1:])

    page.get_by_role("link", name="Xem nhật ký phát").click()
    page.get_by_label("Đài", exact=True).select_option("XA-CHIENG-PAN")
    page.get_by_role("button", name="Xem nhật ký").click()
    page.get_by_role("heading", name="Kiểm tra tính toàn vẹn").wait_for()
    assert "Nhật ký nguyên vẹn" in page.locator(".chains").inner_text()
    assert page.locator("table tbody tr").count() > 10
    screenshot(page, "auditor-log")


def test_a_planner_books_a_weekly_relay_and_finds_it_on_the_calendar(page, demo) -> None:
    log_in(page, demo, "planner")
    page.get_by_role("link", name="Đặt lịch phát").click()
    page.get_by_label("Đài", exact=True).select_option("XA-CHIENG-PAN")
    page.get_by_label("Tiếp sóng (luồng phát)").check()
    page.get_by_label("Địa chỉ luồng tiếp sóng").fill("http://vov.example/vov1")
    page.get_by_label("Thời lượng tiếp sóng (phút)").fill("5")
    page.get_by_label("Tên buổi phát").fill("Phòng chống cháy rừng")
    page.get_by_label("Vào lúc giờ cố định").check()
    page.get_by_label("Giờ phát (giờ tại đài)").fill("17:30")
    page.get_by_label("Hằng tuần", exact=True).check()
    page.get_by_label("Thứ Tư", exact=True).check()
    monday = _local_today() + timedelta(days=7 - _local_today().weekday())
    page.get_by_label("Từ ngày").fill(f"{monday:%d/%m/%Y}")
    page.get_by_role("button", name="Kiểm tra và đặt lịch").click()
    page.get_by_role("heading", name="Phòng chống cháy rừng").wait_for()
    assert "Thứ Tư" in page.content() or "thứ Tư" in page.content()
    screenshot(page, "planner-booked")
    page.get_by_role("link", name="Xem trên lịch tuần của đài").click()
    wednesday = monday + timedelta(days=2)
    column = page.locator(f"[aria-labelledby='head-{wednesday.isoformat()}']")
    if column.count() == 0:
        column = page.locator("section, div").filter(has=page.locator(f"#head-{wednesday}"))
    assert "Phòng chống cháy rừng" in column.first.inner_text()
    assert "17:30" in column.first.inner_text()
    screenshot(page, "planner-calendar")


def test_an_operator_uploads_a_recording_and_a_bad_file_is_refused(page, demo, tmp_path) -> None:
    import subprocess

    from audio.ffmpeg import ffmpeg_exe

    voice = tmp_path / "ban-doc.wav"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=220:duration=6",
            "-af",
            "volume=0.5",
            str(voice),
        ],
        check=True,
    )
    text = tmp_path / "khong-phai-am-thanh.mp3"
    text.write_text("đây không phải âm thanh", encoding="utf-8")
    log_in(page, demo, "operator")
    page.get_by_role("link", name="Tải bản ghi tiếng dân tộc").click()
    page.get_by_label("Ngôn ngữ").select_option("blt")
    page.get_by_label("Người đọc").fill("Lò Văn Pản")
    page.get_by_label("Tệp âm thanh").set_input_files(str(text))
    page.get_by_role("button", name="Tải lên và kiểm tra").click()
    page.locator("#file-error").wait_for()
    assert page.locator("#file-error").inner_text()
    page.get_by_label("Tệp âm thanh").set_input_files(str(voice))
    page.get_by_role("button", name="Tải lên và kiểm tra").click()
    page.get_by_role("heading", name="Đã lưu bản ghi").wait_for()
    saved = page.get_by_role("status").inner_text()
    assert "Lò Văn Pản" in saved and "Tiếng Thái Đen" in saved
    screenshot(page, "operator-recording")
