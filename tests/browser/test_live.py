"""A planner speaks live from a phone, with chromium's fake microphone: the page opens the
session, sends the microphone's stream in small chunks, it goes on air, ends, and what
was said is archived."""

import httpx

from tests.browser.conftest import log_in, screenshot
from tests.browser.test_announcements import PHONE, STATION, microphone, phone  # noqa: F401


def test_a_planner_goes_live_from_a_phone(phone, demo) -> None:  # noqa: F811
    page = phone
    log_in(page, demo, "planner")
    page.goto(f"{demo.url}/live/new?station={STATION}")
    page.get_by_role("heading", name="Phát trực tiếp", level=1).wait_for()
    page.get_by_label("Tiêu đề").fill("Trực tiếp: lịch tiêm phòng")
    # Now, whatever the hour: the demo commune's windows may be closed.
    page.locator("input[value=emergency]").check()
    page.get_by_role("button", name="Bắt đầu phát trực tiếp").click()
    page.get_by_text("Đang phát trực tiếp «Trực tiếp: lịch tiêm phòng»").wait_for(timeout=15000)
    page.wait_for_timeout(3000)  # three seconds of speech on air
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE + 1
    screenshot(page, "planner-live-360")
    page.get_by_role("button", name="Kết thúc").click()
    page.get_by_text("Đã kết thúc phát trực tiếp").wait_for(timeout=30000)
    live_id = page.locator("#live-form").get_attribute("data-live")

    planner = demo.accounts["planner"]
    token = httpx.post(
        f"{demo.url}/api/v1/auth/token",
        data={"username": planner["username"], "password": planner["password"]},
        timeout=30,
    ).json()["access_token"]
    live = httpx.get(
        f"{demo.url}/api/v1/stations/{STATION}/live/{live_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    assert live["status"] == "ended" and live["booking_id"], live
    assert live["archive"] is not None, live
    assert live["archive"]["duration_s"] > 3
