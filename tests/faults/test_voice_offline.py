"""gTTS out of reach or rate-limiting: a station on the "auto" voice still gets its audio,
spoken by eSpeak NG, and the render says so.

Only the network is replaced: name resolution fails as on a machine without Internet, or
Google's answer is a 429. The render queue, the engines, ffmpeg and the store are real.
SQLite only: nothing here depends on the database.
"""

import io
import socket
import time
from http import HTTPStatus

import pytest
import requests

from audio.engines import AUTO_GTTS_ATTEMPTS
from audio.service import process_queue, shared_engine
from tests.newsroom import approved_item


@pytest.fixture(autouse=True)
def fresh_engines():
    """No engine remembers being offline from another test (they are one per process)."""
    shared_engine.cache_clear()
    yield
    shared_engine.cache_clear()


@pytest.fixture
def requests_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs of every HTTP request made through requests, well above the network."""
    sent: list[str] = []
    send = requests.Session.send

    def counting(session, request, **kwargs):
        sent.append(request.url)
        return send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", counting)
    return sent


def names_do_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names outside this machine do not resolve, as on a commune PC with no connection."""
    resolve = socket.getaddrinfo

    def offline(host, *args, **kwargs):
        if host not in ("localhost", "127.0.0.1", "::1"):
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", offline)


def too_many_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Google answers every request with 429 Too Many Requests."""

    def refuse(adapter, request, **kwargs):
        answer = requests.Response()
        answer.status_code = 429
        answer.reason = HTTPStatus(429).phrase
        answer.raw = io.BytesIO(b"")
        answer.url = request.url
        answer.request = request
        return answer

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    ("fault", "asked"),
    [(names_do_not_resolve, 1), (too_many_requests, AUTO_GTTS_ATTEMPTS)],
    ids=["unreachable", "429"],
)
def test_an_auto_station_renders_offline_and_records_the_voice_used(
    client, newsroom, engine, monkeypatch, fault, asked, requests_sent
) -> None:
    changed = client.patch(
        "/api/v1/stations/XA-A",
        headers=newsroom.planner,
        json={"voice_engine": "auto", "voice_name": "vi-vn-x-south"},
    )
    assert changed.status_code == 200, changed.text
    fault(monkeypatch)
    item_id = approved_item(engine, title="Lịch tiêm chủng")
    job = client.post(f"/api/v1/content-items/{item_id}/render", headers=newsroom.planner).json()

    started = time.monotonic()
    assert process_queue(engine, store=newsroom.store, worker="test") == 1
    seconds = time.monotonic() - started

    assert len(requests_sent) == asked, "gTTS was asked first, and not pestered"
    assert all(url.startswith("https://translate.google.com/") for url in requests_sent)
    done = client.get(f"/api/v1/jobs/{job['id']}", headers=newsroom.planner).json()
    assert (done["status"], done["attempts"], done["error"]) == ("done", 1, None)
    asset = done["asset"]
    assert (asset["origin"], asset["engine"], asset["voice"]) == ("tts", "espeak", "vi-vn-x-south")
    assert newsroom.store.verify(asset["sha256"], "mp3")
    assert asset["duration_s"] > 2
    # A bulletin must not wait long for a voice that is not coming.
    assert seconds < 10
