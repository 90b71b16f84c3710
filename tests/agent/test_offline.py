"""The server goes away mid-day: the agent keeps the schedule from its cache and reports later."""

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from tests.agent.conftest import eventually, item_at, local_now, relay_at, running_agent

LEAD_S = 15  # time for the agent to start and air the first entry before the server stops


def _waiting(cache: Path) -> int:
    """Records in the agent's outbox not yet taken by the server (read-only look)."""
    with sqlite3.connect(f"file:{cache / 'outbox.sqlite'}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM airing WHERE state = 'pending'").fetchone()[0]


def test_the_schedule_holds_while_the_server_is_down_and_records_sync_once(
    commune, radios, tmp_path
) -> None:
    token = commune.token("BAN-A")
    vov = radios(440)
    server = commune.start_server()
    try:
        # From the top of this minute: a bulletin (already due, within the grace), a relay
        # (joined in its slot) and, right after the relay, a bulletin due LEAD_S seconds
        # from now, when the server will be gone. Bookings without a time follow one
        # another from the window's start, which puts the last one to the second.
        now = local_now()
        top = now.replace(second=0, microsecond=0)
        commune.open_windows_at(top)
        relay_s = (now - top).total_seconds() + LEAD_S - round(commune.duration_s, 1)
        first, relay, second = commune.book(
            item_at(commune.item_id, top, "Bản tin buổi sáng"),
            relay_at(None, round(relay_s, 1), "Tiếp sóng VOV1", vov.url),
            {**item_at(commune.item_id, top, "Bản tin buổi trưa"), "at": None},
        )
        entries = {e["booking_id"]: e for e in commune.playlist()["entries"]}
        noon = datetime.fromisoformat(entries[second]["start"])
        assert entries[relay]["end"] == entries[second]["start"]
        assert timedelta(seconds=LEAD_S - 2) < noon - now < timedelta(seconds=LEAD_S + 2)

        with running_agent(
            commune.base, token, tmp_path / "agent", "--start-grace", "120"
        ) as agent:
            aired = eventually(
                lambda: [r for r in commune.airings() if r["booking_id"] == first],
                timeout=LEAD_S,
                what="the first airing on the server",
            )
            assert aired[0]["status"] == "aired", agent.log()
            server.stop()
            assert local_now() < noon, "the server stopped too late for this test"

            note = eventually(
                lambda: next(
                    (n for n in agent.played() if n["ended_at"] and n["title"].endswith("trưa")),
                    None,
                ),
                timeout=(noon - local_now()).total_seconds() + commune.duration_s + 15,
                what="the noon entry to play from the cache",
            )
            late = (datetime.fromisoformat(note["started_at"]) - noon).total_seconds()
            assert 0 <= late < 1.0, f"started {late:.2f} s after its time"
            assert note["stopped"] is False
            assert note["sha256"] == commune.sha256
            assert (agent.out / note["copy"]).stat().st_size > 0
            # The note is written as playback ends, the record a moment later.
            eventually(
                lambda: _waiting(agent.cache) == 2,
                timeout=5,
                what="the relay and noon records waiting for the server",
            )

            server = commune.start_server()
            eventually(lambda: _waiting(agent.cache) == 0, timeout=30, what="an empty outbox")
            records = commune.airings()
            assert [(r["booking_id"], r["cluster"]) for r in records] == [
                (first, "BAN-A"),
                (relay, "BAN-A"),
                (second, "BAN-A"),
            ]
            assert [r["status"] for r in records][::2] == ["aired", "aired"]
            # Joined in its slot: aired, or partial when joined later than the grace.
            assert records[1]["status"] in ("aired", "partial"), records[1]
            assert len({r["id"] for r in records}) == 3
            assert agent.stop() == 0, agent.log()
        assert len(commune.airings()) == 3, "nothing was sent twice"
    finally:
        server.stop()
    log = agent.log()
    assert "Mất kết nối máy chủ" in log and "Đã kết nối lại máy chủ" in log, log
