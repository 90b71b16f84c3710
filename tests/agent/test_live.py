"""A live session end to end: real ffmpeg pushes a stream by chunked PUT to a real server,
which cuts it to HLS; the real agent hears the `live` event, plays the stream until its
end, and reports it; the log and the booking hold its real length."""

import subprocess
from datetime import datetime
from pathlib import Path

import httpx

from audio.ffmpeg import ffmpeg_exe, inspect_audio
from tests.agent.conftest import eventually, running_agent
from tests.audio.sounds import tone

SPOKEN_S = 8


def push(source: Path, ingest: str, headers: dict[str, str]) -> subprocess.Popen:
    """`ffmpeg -re -i FILE -f mp3 -method PUT URL`: an encoder going live without a browser."""
    auth = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return subprocess.Popen(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-i",
            str(source),
            "-c:a",
            "copy",
            "-f",
            "mp3",
            "-method",
            "PUT",
            "-headers",
            auth,
            ingest,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_the_agent_plays_a_live_session_until_it_ends(commune, tmp_path) -> None:
    spoken = tone(tmp_path / "noi.mp3", seconds=SPOKEN_S)
    title = "Trực tiếp: chủ tịch xã nói về phòng chống bão"
    with (
        commune.server(),
        running_agent(commune.base, commune.token("BAN-A"), tmp_path / "a") as agent,
        running_agent(commune.base, commune.token("BAN-B"), tmp_path / "b") as other,
    ):
        eventually(lambda: "chạy cho XA-A/BAN-A" in agent.log(), timeout=30, what="the agent")
        eventually(lambda: "chạy cho XA-A/BAN-B" in other.log(), timeout=30, what="agent B")
        opened = httpx.post(
            f"{commune.base}/api/v1/stations/XA-A/live",
            headers=commune.planner,
            json={"title": title, "priority": "priority", "clusters": ["BAN-A"]},
            timeout=30,
        )
        assert opened.status_code == 201, opened.text
        live = opened.json()
        pusher = push(spoken, live["ingest"], commune.planner)
        note = eventually(
            lambda: next((n for n in agent.played() if n["title"] == title), None),
            timeout=20,
            what="the agent to start the live session",
        )
        assert note["kind"] == "relay" and note["source"] == live["listen"]
        _, errors = pusher.communicate(timeout=60)
        assert pusher.returncode == 0, errors.decode()
        done = eventually(
            lambda: agent.finished(note["entry_id"]), timeout=30, what="the live session to end"
        )
        assert done["error"] is None and not done["stopped"], done
        ended = httpx.get(
            f"{commune.base}/api/v1/stations/XA-A/live/{live['id']}",
            headers=commune.planner,
            timeout=30,
        ).json()
        assert ended["status"] == "ended", ended
        record = eventually(
            lambda: next((r for r in commune.airings() if r["entry_id"] == note["entry_id"]), None),
            timeout=20,
            what="the agent's airing record",
        )
        report = httpx.get(
            f"{commune.base}/api/v1/reports/compliance",
            headers=commune.planner,
            params={"station": "XA-A", "period": str(datetime.now().year)},
            timeout=30,
        ).json()
        entry = next(e for e in commune.playlist()["entries"] if e["id"] == note["entry_id"])
        assert "BAN-A" not in "".join(n["title"] for n in other.played())
        assert not [n for n in other.played() if n["title"] == title]

    # What the loudspeakers got is the session: a few seconds short of it at most (the
    # agent joins a segment or two in), never the slot's quarter of an hour.
    heard = inspect_audio(agent.out / done["copy"])
    assert SPOKEN_S - 4 < heard.duration_s <= SPOKEN_S + 1
    assert record["status"] == "aired", record
    length = datetime.fromisoformat(record["ended_at"]) - datetime.fromisoformat(
        record["started_at"]
    )
    assert SPOKEN_S - 4 < length.total_seconds() < SPOKEN_S + 6
    assert ended["archive"] is not None
    assert abs(ended["archive"]["duration_s"] - SPOKEN_S) < 1
    assert "PHÁT TRỰC TIẾP" in agent.log()
    # The plan side holds what was on air, not the quarter of an hour first reserved,
    # even in a playlist that had frozen.
    booked = datetime.fromisoformat(entry["end"]) - datetime.fromisoformat(entry["start"])
    assert booked.total_seconds() < SPOKEN_S + 2
    totals = report["totals"]
    assert (totals["planned"], totals["aired"]) == (1, 1)
    assert abs(totals["planned_minutes"] - SPOKEN_S / 60) <= 0.1
    assert abs(totals["aired_minutes"] - SPOKEN_S / 60) <= 0.1
