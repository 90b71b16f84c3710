"""A recorded emergency announcement, sent through the API, is played by the real agent."""

from datetime import datetime

import httpx

from tests.agent.conftest import eventually, running_agent
from tests.audio.sounds import tone


def test_the_agent_plays_an_emergency_announcement_at_once(commune, tmp_path) -> None:
    recording = tone(tmp_path / "ghi-am.ogg", seconds=3, codec="ogg").read_bytes()
    title = "Khẩn cấp: nước sông dâng cao"
    with (
        commune.server(),
        running_agent(commune.base, commune.token("BAN-A"), tmp_path / "a") as agent,
    ):
        eventually(lambda: "chạy cho XA-A/BAN-A" in agent.log(), timeout=30, what="the agent")
        sent = httpx.post(
            f"{commune.base}/api/v1/stations/XA-A/announcements",
            headers={**commune.planner, "Idempotency-Key": "lu-1"},
            data={"title": title, "priority": "emergency", "clusters": "BAN-A"},
            files={"file": ("ghi-am.ogg", recording, "audio/ogg")},
            timeout=60,
        )
        assert sent.status_code == 201, sent.text
        booked = sent.json()
        note = eventually(
            lambda: next((n for n in agent.played() if n["title"] == title), None),
            timeout=15,
            what="the agent to play the announcement",
        )
        assert note["priority"] == "emergency"
        assert note["sha256"] == booked["audio"]["sha256"]
        assert datetime.fromisoformat(note["started_at"]) >= datetime.fromisoformat(
            booked["airs_at"]
        )
        assert "TIN KHẨN CẤP" in agent.log()
