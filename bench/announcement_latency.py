"""A recorded emergency announcement: from the POST to the agent starting it, on loopback.

Usage: .venv/bin/python -m bench.announcement_latency [--rounds 5] [--seconds 20]
       [--database-url URL]

One commune (all-day window, clusters BAN-A and BAN-B) on the real server
(`truyenthanh serve`), one real agent (`truyenthanh agent`, file output, listening to the
station's event stream) on BAN-A. Each round a planner sends a `--seconds` long Ogg
recording to `POST /api/v1/stations/XA-A/announcements` with priority emergency: the
upload is decoded whole, checked, normalised to MP3, stored, booked through
`send_emergency` and announced; the figure is the time from sending the POST until the
agent started playing it (the `started_at` its file output wrote).

Baseline, in the same run, alternating with the announcements: the same audio, already
stored, booked as an emergency through `POST /api/v1/bookings` (the programme the first
announcement made): the path every emergency takes, without the upload and its
decoding. Each booking is cancelled after it played, so the next does not clash with it.
"""

import argparse
import json
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from audio.ffmpeg import run as ffmpeg
from bench.pull_storm import CLI, ZONE, local_today, our_server, scratch_database
from core.db import session_scope
from core.identity import create_device_token, create_user
from core.models import Role
from scheduler.models import StationKind
from scheduler.service import add_cluster, create_station, get_cluster, update_station

ALL_DAY = [{"days": list(range(7)), "start": "00:00", "end": "23:59"}]
PASSWORD = "mật-khẩu-đủ-dài-cho-bench"
WAIT_S = 120.0


def _recording(path: Path, seconds: float) -> bytes:
    tone = "0.3*sin(2*PI*220*t)*(0.6+0.4*sin(2*PI*3*t))"
    source = ["-f", "lavfi", "-i", f"aevalsrc={tone}:s=44100:d={seconds}"]
    ffmpeg(["-v", "error", "-y", *source, "-ac", "1", "-c:a", "libvorbis", str(path)])
    return path.read_bytes()


def prepare(engine: Engine) -> str:
    """The commune, its planner and a device token bound to BAN-A."""
    with session_scope(engine, write=True) as session:
        create_station(session, code="TINH-P", name="Tỉnh P", kind=StationKind.province)
        station = create_station(
            session, code="XA-A", name="Xã A", kind=StationKind.commune, parent_code="TINH-P"
        )
        update_station(
            session, station=station, changes={"windows": ALL_DAY, "two_person_approval": False}
        )
        for code in ("BAN-A", "BAN-B"):
            add_cluster(session, station=station, code=code, name=code, zone_tags=[])
        create_user(
            session, username="kehoach", password=PASSWORD, role=Role.planner, station_id=station.id
        )
        cluster = get_cluster(session, station=station, code="BAN-A")
        _, token = create_device_token(
            session, station_id=station.id, cluster_id=cluster.id, name="bench", created_by="bench"
        )
    return token


def _note(out: Path, title: str) -> dict | None:
    for path in out.glob("*.json"):
        text = path.read_text("utf-8", errors="replace")
        if title in text:
            try:
                note = json.loads(text)
            except ValueError:
                return None  # being replaced right now
            if note["title"] == title:
                return note
    return None


def wait_note(out: Path, title: str, *, ended: bool = False) -> dict:
    """The file output's note of an item once it started (or, `ended`, once it ended)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        note = _note(out, title)
        if note is not None and (note["ended_at"] or not ended):
            return note
        time.sleep(0.02)
    raise RuntimeError(f"the agent did not play «{title}» within {WAIT_S:.0f} s")


def wait_started(out: Path, title: str) -> float:
    """When the agent started an item, as a Unix time."""
    return datetime.fromisoformat(wait_note(out, title)["started_at"]).timestamp()


@contextmanager
def agent_on_a_server(scratch: Any) -> Iterator[tuple[httpx.Client, dict[str, str], Path]]:
    """The real server and a real agent for XA-A/BAN-A writing to a file output, once the
    agent has started: a client, a planner's headers, and the output folder."""
    token = prepare(scratch.engine)
    log_file = scratch.root / "server.log"
    with our_server(
        database_url=scratch.url, data_dir=scratch.data_dir, workers=1, log=log_file
    ) as base:
        out, log = scratch.root / "out", scratch.root / "agent.log"
        command = [CLI, "agent", "--server", base, "--token", token]
        command += ["--cache", str(scratch.root / "cache"), "--output", f"file:{out}"]
        command += ["--days", "1", "--sync-interval", "1", "--heartbeat-interval", "5"]
        with log.open("w") as sink:
            agent = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + WAIT_S
            while "chạy cho XA-A/BAN-A" not in log.read_text("utf-8", errors="replace"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the agent did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.1)
            client = httpx.Client(base_url=base, timeout=60)
            answer = client.post(
                "/api/v1/auth/token", data={"username": "kehoach", "password": PASSWORD}
            )
            yield client, {"Authorization": f"Bearer {answer.json()['access_token']}"}, out
        finally:
            agent.terminate()
            agent.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the recording")
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    with scratch_database(options.database_url) as scratch:
        audio = _recording(scratch.root / "ghi-am.ogg", options.seconds)
        with agent_on_a_server(scratch) as (client, planner, out):
            _measure(client, planner, audio, out, options)


def _measure(
    client: httpx.Client, planner: dict[str, str], audio: bytes, out: Path, options: Any
) -> None:

    def announce(title: str) -> tuple[dict, float, float]:
        sent = time.time()
        answer = client.post(
            "/api/v1/stations/XA-A/announcements",
            headers=planner,
            data={"title": title, "priority": "emergency", "clusters": "BAN-A"},
            files={"file": ("ghi-am.ogg", audio, "audio/ogg")},
        )
        answered = time.time()
        assert answer.status_code == 201, answer.text
        return answer.json(), sent, answered

    def book(title: str, programme_id: int) -> tuple[dict, float, float]:
        now = datetime.now(ZONE)
        sent = time.time()
        answer = client.post(
            "/api/v1/bookings",
            headers=planner,
            json={
                "station": "XA-A",
                "source": "programme",
                "programme_id": programme_id,
                "title": title,
                "clusters": ["BAN-A"],
                "at": f"{now:%H:%M}",
                "priority": "emergency",
                "recurrence": {"freq": "once", "start": local_today().isoformat()},
            },
        )
        answered = time.time()
        assert answer.status_code == 201, answer.text
        return {"booking_id": answer.json()["id"]}, sent, answered

    warm, _, _ = announce("Khởi động")
    wait_note(out, "Khởi động", ended=True)
    client.delete(f"/api/v1/bookings/{warm['booking_id']}", headers=planner)
    results: dict[str, list[tuple[float, float]]] = {"announcement": [], "baseline": []}
    for round_ in range(options.rounds):
        for kind in ("announcement", "baseline"):
            title = f"{kind} {round_}"
            if kind == "announcement":
                booked, sent, answered = announce(title)
            else:
                booked, sent, answered = book(title, warm["programme_id"])
            started = wait_started(out, title)
            results[kind].append((answered - sent, started - sent))
            # An emergency does not interrupt another: the next starts after this one.
            wait_note(out, title, ended=True)
            client.delete(f"/api/v1/bookings/{booked['booking_id']}", headers=planner)
    print(f"{options.rounds} rounds, a {options.seconds:g} s Ogg recording, agent on loopback")
    medians = {}
    for kind, rows in results.items():
        answers = [a for a, _ in rows]
        starts = [s for _, s in rows]
        medians[kind] = statistics.median(starts)
        print(
            f"{kind:>12}: POST answered in median {statistics.median(answers) * 1000:.0f} ms; "
            f"agent started it median {medians[kind] * 1000:.0f} ms, "
            f"max {max(starts) * 1000:.0f} ms after the POST was sent "
            f"({', '.join(f'{s * 1000:.0f}' for s in starts)})"
        )
    ratio = medians["announcement"] / medians["baseline"]
    goal = "met" if max(s for _, s in results["announcement"]) < 2 else "NOT met"
    print(f"announcement / baseline (medians) = {ratio:.2f}; goal < 2 s from the POST: {goal}")


if __name__ == "__main__":
    main()
