"""A live session: from the first audio byte pushed to the agent starting it, on loopback.

Usage: .venv/bin/python -m bench.live_latency [--rounds 5] [--seconds 6]
       [--database-url URL]

One commune (all-day window, clusters BAN-A and BAN-B) on the real server
(`truyenthanh serve`), one real agent (`truyenthanh agent`, file output, listening to the
station's event stream) on BAN-A. Each round a planner opens an emergency live session
on BAN-A (`POST /api/v1/stations/XA-A/live`), then pushes `--seconds` of MP3 to its
`ingest` by a chunked PUT at the speed it plays (as `ffmpeg -re … -method PUT` does);
the figure is the time from the first byte of that stream leaving the client until
the agent started playing the session (the `started_at` its file output wrote). In
between, the server cuts the stream into one-second HLS segments; with the first one
out it books the session and announces it; the agent hears the event and opens the
stream. The session ends with the upload.

Baseline, in the same run, alternating with the live sessions: the archived audio of
the first session, already stored, booked as an emergency through
`POST /api/v1/bookings`: the path every emergency takes, without the stream.
"""

import argparse
import statistics
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from audio.ffmpeg import run as ffmpeg
from bench.announcement_latency import agent_on_a_server, wait_note, wait_started
from bench.pull_storm import ZONE, local_today, scratch_database

PACE_S = 0.1  # the stream leaves in tenths of a second, as an encoder sends it


def _stream(path: Path, seconds: float) -> bytes:
    tone = "0.3*sin(2*PI*220*t)*(0.6+0.4*sin(2*PI*3*t))"
    source = ["-f", "lavfi", "-i", f"aevalsrc={tone}:s=44100:d={seconds}"]
    ffmpeg(
        ["-v", "error", "-y", *source, "-ac", "1", "-c:a", "libmp3lame", "-b:a", "64k", str(path)]
    )
    return path.read_bytes()


class Pusher(threading.Thread):
    """A chunked PUT of the stream at its own pace; notes when its first byte left."""

    def __init__(self, url: str, headers: dict[str, str], data: bytes, seconds: float) -> None:
        super().__init__(daemon=True)
        self.url, self.headers, self.data = url, headers, data
        self.step = max(1, int(len(data) / seconds * PACE_S))
        self.first: float | None = None
        self.status: int | None = None

    def _chunks(self) -> Iterator[bytes]:
        began = time.monotonic()
        for number, offset in enumerate(range(0, len(self.data), self.step)):
            pause = began + number * PACE_S - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if self.first is None:
                self.first = time.time()
            yield self.data[offset : offset + self.step]

    def run(self) -> None:
        answer = httpx.put(self.url, headers=self.headers, content=self._chunks(), timeout=120)
        self.status = answer.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each session")
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    with scratch_database(options.database_url) as scratch:
        data = _stream(scratch.root / "noi.mp3", options.seconds)
        with agent_on_a_server(scratch) as (client, planner, out):
            _measure(client, planner, data, out, options)


def _measure(
    client: httpx.Client, planner: dict[str, str], data: bytes, out: Path, options: Any
) -> None:

    def go_live(title: str) -> tuple[dict, float, Pusher]:
        opened = client.post(
            "/api/v1/stations/XA-A/live",
            headers=planner,
            json={"title": title, "priority": "emergency", "clusters": ["BAN-A"], "minutes": 5},
        )
        assert opened.status_code == 201, opened.text
        live = opened.json()
        pusher = Pusher(live["ingest"], planner, data, options.seconds)
        pusher.start()
        started = wait_started(out, title)
        assert pusher.first is not None
        return live, started - pusher.first, pusher

    def book(title: str, programme_id: int) -> tuple[int, float]:
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
        assert answer.status_code == 201, answer.text
        return answer.json()["id"], wait_started(out, title) - sent

    warm, _, pusher = go_live("Khởi động")
    pusher.join()
    assert pusher.status == 204, pusher.status
    wait_note(out, "Khởi động", ended=True)
    warm = client.get(f"/api/v1/stations/XA-A/live/{warm['id']}", headers=planner).json()
    client.delete(f"/api/v1/bookings/{warm['booking_id']}", headers=planner)
    results: dict[str, list[float]] = {"live": [], "baseline": []}
    for round_ in range(options.rounds):
        title = f"live {round_}"
        live, delay, pusher = go_live(title)
        results["live"].append(delay)
        pusher.join()
        wait_note(out, title, ended=True)
        # Both start on a whole minute: the baseline must not clash with the session.
        ended = client.get(f"/api/v1/stations/XA-A/live/{live['id']}", headers=planner).json()
        client.delete(f"/api/v1/bookings/{ended['booking_id']}", headers=planner)
        title = f"baseline {round_}"
        booking_id, delay = book(title, warm["id"])
        results["baseline"].append(delay)
        wait_note(out, title, ended=True)
        client.delete(f"/api/v1/bookings/{booking_id}", headers=planner)
    print(f"{options.rounds} rounds, {options.seconds:g} s sessions, agent on loopback")
    for kind, starts in results.items():
        what = "first byte pushed" if kind == "live" else "POST sent"
        print(
            f"{kind:>9}: agent started it median {statistics.median(starts) * 1000:.0f} ms, "
            f"max {max(starts) * 1000:.0f} ms after the {what} "
            f"({', '.join(f'{s * 1000:.0f}' for s in starts)})"
        )
    ratio = statistics.median(results["live"]) / statistics.median(results["baseline"])
    goal = "met" if max(results["live"]) < 3 else "NOT met"
    print(f"live / baseline (medians) = {ratio:.2f}; goal < 3 s from the first byte: {goal}")


if __name__ == "__main__":
    main()
