"""A real browser (Debian's chromium driven by Playwright) against a real server with demo data.

Playwright's Python package brings its driver, never a browser: the browser is the
system's chromium. When it is missing and we may install it (root with apt-get), it is
installed here, so the test command alone prepares a fresh machine.
"""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import cli_env, free_port, run_cli, running_server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def _chromium() -> str:
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT, "timeout": 900}
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=False, env=env, **quiet)
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
            check=False,
            env=env,
            **quiet,
        )
        if found := shutil.which("chromium"):
            return found
    message = "Cần trình duyệt chromium (Debian: apt-get install chromium) cho kiểm thử giao diện."
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@dataclass
class Demo:
    """A served demo installation and its accounts."""

    url: str
    accounts: dict[str, dict]
    summary: dict


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    """`truyenthanh demo` prepares the data; `truyenthanh serve` serves it on loopback."""
    root = tmp_path_factory.mktemp("browser")
    port = free_port()
    env = cli_env(
        database_url=f"sqlite:///{root / 'demo.sqlite'}",
        data_dir=root / "data",
        public_base_url=f"http://127.0.0.1:{port}",
    )
    prepared = run_cli("demo", "--no-serve", "--json", env=env, timeout=600)
    assert prepared.returncode == 0, prepared.stderr
    summary = json.loads(prepared.stdout)
    accounts = {a["role"]: a for a in summary["accounts"]}
    with running_server("serve", "--port", str(port), env=env, port=port) as url:
        yield Demo(url=url, accounts=accounts, summary=summary)


@pytest.fixture
def page(browser, request) -> Iterator:
    """A fresh browser context (no cookies) with a phone-sized or desktop viewport."""
    width = getattr(request, "param", 1280)
    context = browser.new_context(
        viewport={"width": width, "height": 900}, locale="vi-VN", accept_downloads=True
    )
    opened = context.new_page()
    yield opened
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artefact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page, demo: Demo, role: str) -> None:
    """Log in through the login form as the demo account of a role."""
    account = demo.accounts[role]
    page.goto(f"{demo.url}/login")
    page.get_by_label("Tên đăng nhập").fill(account["username"])
    page.get_by_label("Mật khẩu").fill(account["password"])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{demo.url}/")
