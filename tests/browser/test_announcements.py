"""An operator records an announcement on a phone, with chromium's fake microphone, listens
back and sends it; the station's approval rule decides whether they may."""

from collections.abc import Iterator

import httpx
import pytest

from tests.audio.sounds import tone
from tests.browser.conftest import _chromium, log_in, screenshot

PHONE = 360
STATION = "XA-CHIENG-PAN"


@pytest.fixture(scope="module")
def microphone(tmp_path_factory) -> str:
    """What the fake microphone hears: a speech-like tone, looped."""
    return str(tone(tmp_path_factory.mktemp("mic") / "mic.wav", seconds=6, codec="wav"))


@pytest.fixture(scope="module")
def phone(microphone) -> Iterator:
    """Chromium with a fake microphone fed from a file, permission granted without asking."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=_chromium(),
            args=[
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone}",
            ],
        )
        context = launched.new_context(viewport={"width": PHONE, "height": 900}, locale="vi-VN")
        yield context.new_page()
        context.close()
        launched.close()


def _record_and_send(page, title: str) -> None:
    page.get_by_label("Tiêu đề").fill(title)
    page.get_by_role("button", name="Bắt đầu ghi âm").click()
    page.get_by_text("Đang ghi âm").wait_for()
    page.wait_for_timeout(3000)  # three seconds of speech
    page.get_by_role("button", name="Dừng ghi").click()
    page.get_by_text("Nghe lại, rồi bấm").wait_for()
    assert page.locator("#record-playback").is_visible()
    # What was recorded plays back, and is what the form will send.
    duration = page.evaluate(
        """() => new Promise(done => {
             const audio = document.getElementById('record-playback');
             if (audio.readyState >= 1) { done(audio.duration); }
             audio.addEventListener('loadedmetadata', () => done(audio.duration));
             audio.load();
           })"""
    )
    assert duration > 0
    assert page.evaluate("document.getElementById('file').files.length") == 1
    page.get_by_role("button", name="Gửi thông báo").click()


def test_an_operator_records_and_sends_an_announcement_on_a_phone(phone, demo) -> None:
    page = phone
    log_in(page, demo, "operator")
    page.get_by_role("link", name="Gửi thông báo").first.click()
    page.get_by_role("heading", name="Gửi thông báo", level=1).wait_for()
    assert page.locator("input[value=emergency]").count() == 0  # not an operator's to send
    assert "yêu cầu người thứ hai duyệt" in page.locator(".notice").inner_text()

    # The demo commune wants a second person to approve what airs: refused, said plainly.
    _record_and_send(page, "Họp dân bản Nà Viềng")
    page.get_by_role("heading", name="Chưa gửi").wait_for()
    assert "người thứ hai duyệt" in page.locator(".error-summary").inner_text()

    # The planner lets the commune air its own announcements; the operator sends again.
    planner = demo.accounts["planner"]
    token = httpx.post(
        f"{demo.url}/api/v1/auth/token",
        data={"username": planner["username"], "password": planner["password"]},
        timeout=30,
    ).json()["access_token"]
    changed = httpx.patch(
        f"{demo.url}/api/v1/stations/{STATION}",
        headers={"Authorization": f"Bearer {token}"},
        json={"two_person_approval": False},
        timeout=30,
    )
    assert changed.status_code == 200, changed.text
    page.goto(f"{demo.url}/announcements/new")
    _record_and_send(page, "Họp dân bản Nà Viềng")
    sent = page.locator(".announcement-sent")
    sent.wait_for()
    text = sent.inner_text()
    assert "Đã gửi thông báo «Họp dân bản Nà Viềng»" in text and "sẽ phát lúc" in text
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE + 1
    screenshot(page, "operator-announcement-360")

    bookings = httpx.get(
        f"{demo.url}/api/v1/stations/{STATION}/bookings",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    [booking] = [b for b in bookings if b["title"] == "Họp dân bản Nà Viềng"]
    assert booking["created_by"] == demo.accounts["operator"]["username"]
