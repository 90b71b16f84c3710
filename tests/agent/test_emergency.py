"""Emergency bulletins reach every connected agent at once and interrupt what plays."""

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from tests.agent.conftest import (
    eventually,
    item_at,
    local_now,
    relay_at,
    running_agent,
    today,
)
from tests.processes import free_port

INTERRUPTED = "ngắt bởi tin khẩn cấp"


def _emergency(commune, title: str) -> tuple[dict, float]:
    """Book an emergency for now through the API; return the booking and when it was made."""
    now = local_now()
    made = time.time()
    response = httpx.post(
        f"{commune.base}/api/v1/bookings",
        headers=commune.planner,
        json={
            "station": "XA-A",
            "source": "item",
            "item_id": commune.item_id,
            "title": title,
            "at": f"{now:%H:%M}",
            "priority": "emergency",
            "recurrence": {"freq": "once", "start": today().isoformat()},
        },
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json(), made


def _outbox_rows(cache, state: str) -> list[dict]:
    """The agent's outbox records in one state (read-only look)."""
    with sqlite3.connect(f"file:{cache / 'outbox.sqlite'}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM airing WHERE state = ?", (state,))]


def _note(agent, title: str, *, ended: bool = False) -> dict | None:
    return next(
        (n for n in agent.played() if n["title"] == title and (n["ended_at"] or not ended)),
        None,
    )


def test_an_emergency_reaches_every_agent_and_interrupts_the_relay(
    commune, radios, tmp_path
) -> None:
    relay_title, alarm = "Tiếp sóng VOV1", "Khẩn cấp: lũ quét"
    tokens = {cluster: commune.token(cluster) for cluster in ("BAN-A", "BAN-B", None)}
    vov = radios(440)
    with commune.server(), ExitStack() as agents_up:
        # A relay is on air when the agents start: they join it in its slot.
        [relay_id] = commune.book(relay_at(local_now(), 180, relay_title, vov.url))
        agents = {
            cluster: agents_up.enter_context(
                running_agent(commune.base, token, tmp_path / (cluster or "all"))
            )
            for cluster, token in tokens.items()
        }
        for agent in agents.values():
            eventually(lambda a=agent: _note(a, relay_title), timeout=30, what="the relay")

        booking, made = _emergency(commune, alarm)
        for cluster, agent in agents.items():
            note = eventually(
                lambda a=agent: _note(a, alarm), timeout=15, what=f"the alarm on {cluster}"
            )
            heard = datetime.fromisoformat(note["started_at"]).timestamp() - made
            assert heard < 5, f"{cluster}: the emergency started {heard:.1f} s after booking"
            assert note["priority"] == "emergency" and note["sha256"] == commune.sha256
            relay = _note(agent, relay_title, ended=True)
            assert relay and relay["stopped"] is True, agent.log()
            assert relay["ended_at"] <= note["started_at"]

        def reported() -> list[dict]:
            return [r for r in commune.airings() if r["booking_id"] == booking["id"]]

        records = eventually(
            lambda: len(reported()) == 3 and reported(), timeout=30, what="three alarm airings"
        )
        assert sorted((r["cluster"] or "", r["status"]) for r in records) == [
            ("", "aired"),
            ("BAN-A", "aired"),
            ("BAN-B", "aired"),
        ]
        # Heartbeats tell the station what each cluster's agent holds and runs.
        status = httpx.get(
            f"{commune.base}/api/v1/stations/XA-A/clusters/status",
            headers=commune.operator,
            timeout=10,
        ).json()
        for cluster in ("BAN-A", "BAN-B"):
            state = next(s for s in status if s["cluster"] == cluster)
            assert state["software_version"].startswith("truyenthanh-agent/"), state
            assert state["cache_fill"] == 1.0, state
        for agent in agents.values():
            eventually(
                lambda a=agent: not _outbox_rows(a.cache, "pending"),
                timeout=15,
                what="the outbox to drain",
            )
        relay_records = [r for r in commune.airings() if r["booking_id"] == relay_id]
        for cluster, agent in agents.items():
            assert agent.stop() == 0, agent.log()
            assert "TIN KHẨN CẤP (qua luồng sự kiện)" in agent.log()
            assert f"{relay_title}»: partial ({INTERRUPTED})" in agent.log()
            # The interrupted relay is recorded as partial. The server now refuses that
            # record, because the emergency removed the relay from the frozen playlist (a
            # server gap); the agent then keeps it, with the server's reason, for the
            # operator. Either way it is not lost.
            on_server = [
                (r["status"], r["reason"]) for r in relay_records if r["cluster"] == cluster
            ]
            kept = [(r["status"], r["reason"]) for r in _outbox_rows(agent.cache, "rejected")]
            assert on_server + kept == [("partial", INTERRUPTED)]


class _Proxy(BaseHTTPRequestHandler):
    """Forwards to the server, except the event stream, which fails with 503."""

    upstream: str
    seen: list[str]

    def log_message(self, *args) -> None:
        pass

    def _forward(self) -> None:
        self.seen.append(self.path)
        if "/events/stream" in self.path:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        headers["Accept-Encoding"] = "identity"
        answer = httpx.request(
            self.command, self.upstream + self.path, headers=headers, content=body, timeout=30
        )
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_HEAD = _forward


@contextmanager
def _stream_breaking_proxy(upstream: str) -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (_Proxy,), {"upstream": upstream, "seen": seen})
    port = free_port()
    proxy = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_when_the_stream_fails_the_agent_polls_for_bulletins(commune, tmp_path) -> None:
    alarm = "Khẩn cấp: sạt lở đất"
    token = commune.token(None)
    with commune.server(), _stream_breaking_proxy(commune.base) as (front, seen):
        # An entry that was due before the agent ran is not played late but reported.
        past = local_now().replace(second=0, microsecond=0) - timedelta(minutes=2)
        [missed] = commune.book(item_at(commune.item_id, past, "Bản tin đã qua giờ"))
        with running_agent(front, token, tmp_path / "agent") as agent:
            eventually(
                lambda: any("/events?after=" in path for path in seen),
                timeout=30,
                what="the agent to fall back to polling",
            )
            booking, made = _emergency(commune, alarm)
            note = eventually(lambda: _note(agent, alarm), timeout=15, what="the polled alarm")
            heard = datetime.fromisoformat(note["started_at"]).timestamp() - made
            assert heard < 5, f"the emergency started {heard:.1f} s after booking"
            eventually(
                lambda: [r for r in commune.airings() if r["booking_id"] == booking["id"]],
                timeout=30,
                what="the alarm airing on the server",
            )
            assert agent.stop() == 0, agent.log()
        [skipped] = [r for r in commune.airings() if r["booking_id"] == missed]
        assert skipped["status"] == "skipped"
        assert skipped["reason"].startswith("thiết bị chưa chạy lúc đến giờ phát"), skipped
        assert not _note(agent, "Bản tin đã qua giờ")
        assert "TIN KHẨN CẤP (qua hỏi định kỳ)" in agent.log()
        assert any("/events/stream" in path for path in seen)
