"""What devices and players pull from a real server: M3U8, signed audio links, events."""

import hashlib
import re
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from audio.ffmpeg import ffmpeg_exe
from audio.service import process_queue
from core.clock import utcnow
from core.settings import Settings
from scheduler.devices import cluster_states
from scheduler.models import Station
from tests.processes import cli_env, free_port, running_server

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = date(2030, 1, 7)
WINDOWS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"}]


@pytest.fixture
def served(tmp_path, database_url, newsroom, engine, settings):
    """A real server on loopback whose public address is its own, and an in-process client."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    local = Settings(data_dir=settings.data_dir, database_url=database_url, public_base_url=base)
    env = cli_env(database_url=database_url, data_dir=settings.data_dir, public_base_url=base)
    with TestClient(create_app(local)) as client:
        client.patch("/api/v1/stations/XA-A", headers=newsroom.planner, json={"windows": WINDOWS})
        client.post(
            "/api/v1/stations/XA-A/clusters",
            headers=newsroom.planner,
            json={"code": "BAN-A", "name": "Bản A", "zone_tags": ["blt"]},
        )
        client.post(
            "/api/v1/stations/XA-A/clusters",
            headers=newsroom.planner,
            json={"code": "BAN-B", "name": "Bản B"},
        )
        client.post(f"/api/v1/content-items/{newsroom.item_id}/render", headers=newsroom.planner)
        process_queue(engine, store=newsroom.store, worker="test")
        booked = client.post(
            "/api/v1/bookings",
            headers=newsroom.planner,
            json={
                "station": "XA-A",
                "source": "item",
                "item_id": newsroom.item_id,
                "title": "Khai sinh trực tuyến",
                "at": "05:30",
                "recurrence": {"freq": "weekly", "start": MONDAY.isoformat(), "weekdays": [0]},
            },
        )
        assert booked.status_code == 201, booked.text
        device = client.post(
            "/api/v1/stations/XA-A/device-tokens",
            headers=newsroom.planner,
            json={"name": "Máy xã A"},
        ).json()["token"]
        bound = client.post(
            "/api/v1/stations/XA-A/device-tokens",
            headers=newsroom.planner,
            json={"name": "Bộ thu bản B", "cluster": "BAN-B"},
        ).json()["token"]
        with running_server("serve", "--port", str(port), env=env, port=port) as url:
            yield {
                "url": url,
                "client": client,
                "device": {"Authorization": f"Bearer {device}"},
                "bound": {"Authorization": f"Bearer {bound}"},
                "planner": newsroom.planner,
                "operator": newsroom.operator,
            }


def test_a_player_plays_the_m3u8_as_it_is(served) -> None:
    url = f"{served['url']}/api/v1/stations/XA-A/playlists/{MONDAY}.m3u8"
    response = httpx.get(url, headers=served["operator"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("audio/x-mpegurl")
    text = response.text
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    [extinf] = [line for line in lines if line.startswith("#EXTINF:")]
    seconds, title = extinf.removeprefix("#EXTINF:").split(",", 1)
    assert title == "Khai sinh trực tuyến" and int(seconds) > 3
    [link] = [line for line in lines if line.startswith("http")]
    assert link.startswith(served["url"]) and "sig=" in link

    # No token: the signed link alone opens the file, and the bytes are the ones named.
    playlist = httpx.get(
        f"{served['url']}/api/v1/stations/XA-A/playlists/{MONDAY}", headers=served["operator"]
    ).json()
    audio = httpx.get(link)
    assert audio.status_code == 200
    assert hashlib.sha256(audio.content).hexdigest() == playlist["entries"][0]["audio"]["sha256"]

    # A player reads each non-comment line as a location and opens it as it is: ffmpeg
    # (what mpv and Liquidsoap decode with) plays the link with no token or header.
    played = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", link, "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert played.returncode == 0, played.stderr


def test_signed_links_refuse_tampering_and_expiry(served) -> None:
    text = httpx.get(
        f"{served['url']}/api/v1/stations/XA-A/playlists/{MONDAY}.m3u8", headers=served["operator"]
    ).text
    [link] = [line for line in text.splitlines() if line.startswith("http")]
    path, query = link.split("?")
    params = dict(part.split("=") for part in query.split("&"))
    forged = httpx.get(path, params={**params, "sig": "0" * 40})
    expired = httpx.get(path, params={**params, "exp": str(int(time.time()) - 10)})
    bare = httpx.get(path)
    assert (forged.status_code, expired.status_code, bare.status_code) == (403, 403, 401)
    assert forged.headers["content-type"].startswith("application/problem+json")


def test_a_cluster_receiver_sees_only_its_cluster(served) -> None:
    client = served["client"]
    client.post(
        "/api/v1/bookings",
        headers=served["planner"],
        json={
            "station": "XA-A",
            "source": "relay",
            "relay_url": "http://vov.example/thai",
            "duration_s": 300,
            "title": "Bản tin tiếng Thái",
            "zones": ["blt"],
            "at": "06:00",
            "recurrence": {"freq": "weekly", "start": MONDAY.isoformat(), "weekdays": [0]},
        },
    )
    path = f"/api/v1/stations/XA-A/playlists/{MONDAY}"
    everything = client.get(path, headers=served["device"]).json()["entries"]
    mine = client.get(path, headers=served["bound"])
    assert {e["title"] for e in everything} >= {"Bản tin tiếng Thái", "Khai sinh trực tuyến"}
    assert [e["title"] for e in mine.json()["entries"]] == ["Khai sinh trực tuyến"]
    assert mine.headers["etag"].endswith('-BAN-B"')
    other = client.get(path, headers=served["bound"], params={"cluster": "BAN-A"})
    assert other.status_code == 422


def _emergency(client, headers, *, subtree: bool = False, station: str = "XA-A") -> dict:
    now = utcnow().astimezone(ZONE)
    response = client.post(
        "/api/v1/bookings",
        headers=headers,
        json={
            "station": station,
            "subtree": subtree,
            "source": "relay",
            "relay_url": "http://vov.example/khancap",
            "duration_s": 120,
            "title": "Tin khẩn cấp: lũ quét",
            "priority": "emergency",
            "at": now.strftime("%H:%M"),
            "recurrence": {"freq": "once", "start": now.date().isoformat()},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def _read_events(url: str, headers: dict, found: list, ready: threading.Event, **kw) -> None:
    with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(20.0), **kw) as stream:
        ready.set()
        event = {}
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event["kind"] = line.split(":", 1)[1].strip()
            elif line.startswith("id:"):
                event["id"] = int(line.split(":", 1)[1])
            elif line.startswith("data:"):
                event["data"] = line.split(":", 1)[1]
            elif not line and event:
                found.append(event)
                return


def test_an_emergency_reaches_every_listening_device_at_once(served) -> None:
    stream_url = f"{served['url']}/api/v1/stations/XA-A/events/stream"
    found: list[list] = [[], []]
    readies = [threading.Event(), threading.Event()]
    threads = [
        threading.Thread(target=_read_events, args=(stream_url, served[who], found[n], readies[n]))
        for n, who in enumerate(("device", "bound"))
    ]
    for thread in threads:
        thread.start()
    for ready in readies:
        assert ready.wait(10)
    time.sleep(0.5)
    booking = _emergency(served["client"], served["planner"], subtree=True, station="TINH-P")
    for thread in threads:
        thread.join(15)
    for events in found:
        assert len(events) == 1, found
        assert events[0]["kind"] == "emergency"
        assert f'"booking_id":{booking["id"]}' in events[0]["data"]
        assert "Tin khẩn cấp: lũ quét" in events[0]["data"]

    # A device that was away asks what it missed: by stream with Last-Event-ID, or by polling.
    missed: list = []
    ready = threading.Event()
    _read_events(stream_url, {**served["device"], "Last-Event-ID": "0"}, missed, ready)
    assert missed and missed[0]["id"] == found[0][0]["id"]
    polled = httpx.get(
        f"{served['url']}/api/v1/stations/XA-A/events",
        headers=served["device"],
        params={"after": 0},
    ).json()
    assert [e["booking_id"] for e in polled] == [booking["id"]]
    assert polled[0]["entries"][0]["priority"] == "emergency"
    later = httpx.get(
        f"{served['url']}/api/v1/stations/XA-A/events",
        headers=served["device"],
        params={"after": polled[-1]["id"]},
    ).json()
    assert later == []


def test_the_emergency_is_in_todays_playlist_of_every_station_below(served) -> None:
    client = served["client"]
    booking = _emergency(client, served["planner"], subtree=True, station="TINH-P")
    today = utcnow().astimezone(ZONE).date()
    for code in ("XA-A", "XA-B"):
        entries = client.get(
            f"/api/v1/stations/{code}/playlists/{today}", headers=served["planner"]
        ).json()["entries"]
        assert [e["priority"] for e in entries if e["booking_id"] == booking["id"]] == ["emergency"]


def test_heartbeats_show_which_clusters_play_are_silent_or_offline(served, engine) -> None:
    client = served["client"]
    path = "/api/v1/stations/XA-A/clusters/status"
    before = client.get(path, headers=served["planner"]).json()
    assert [(s["cluster"], s["state"]) for s in before] == [
        ("BAN-A", "unknown"),
        ("BAN-B", "unknown"),
    ]

    beat = client.post(
        "/api/v1/stations/XA-A/heartbeats",
        headers=served["bound"],
        json={"volume": 70, "cache_fill": 1.0, "software_version": "1.0"},
    )
    assert beat.status_code == 204, beat.text
    states = {s["cluster"]: s for s in client.get(path, headers=served["planner"]).json()}
    assert states["BAN-B"]["state"] == "idle" and states["BAN-B"]["volume"] == 70
    assert states["BAN-A"]["state"] == "unknown"

    # During an emergency, a receiver that plays nothing is silent.
    _emergency(client, served["planner"])
    client.post("/api/v1/stations/XA-A/heartbeats", headers=served["bound"], json={"volume": 70})
    states = {s["cluster"]: s for s in client.get(path, headers=served["planner"]).json()}
    assert states["BAN-B"]["state"] == "silent", states["BAN-B"]
    only = client.get(path, headers=served["planner"], params={"only": "silent"}).json()
    assert [s["cluster"] for s in only] == ["BAN-B"]
    unknown = client.get(path, headers=served["planner"], params={"only": "asleep"})
    assert unknown.status_code == 422

    # Three missed beats later the receiver counts as offline.
    with Session(engine) as session:
        station = session.exec(select(Station).where(Station.code == "XA-A")).one()
        later = cluster_states(session, stations=[station], now=utcnow() + timedelta(minutes=6))
    assert {s.cluster: s.state for s in later}["BAN-B"] == "offline"

    refused = client.post(
        "/api/v1/stations/XA-A/heartbeats", headers=served["bound"], json={"cluster": "BAN-A"}
    )
    assert refused.status_code == 422
    person = client.post("/api/v1/stations/XA-A/heartbeats", headers=served["operator"], json={})
    assert person.status_code == 403
    volume = client.post(
        "/api/v1/stations/XA-A/heartbeats", headers=served["device"], json={"volume": 300}
    )
    assert volume.status_code == 422


def test_the_overview_page_puts_silent_and_offline_clusters_first(served) -> None:
    client = served["client"]
    client.post("/api/v1/stations/XA-A/heartbeats", headers=served["bound"], json={"volume": 0})
    _emergency(client, served["planner"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post(
        "/login", data={"username": "alice", "password": "mật-khẩu-đủ-dài", "csrf_token": token}
    )
    home = client.get("/").text
    assert "/stations/XA-A/clusters" in home
    page = client.get("/stations/TINH-P/clusters")
    assert page.status_code == 200
    text = page.text
    assert "im lặng trong giờ phát" in text and "(âm lượng 0)" in text
    assert text.index("Bản B") < text.index("Bản A"), "the silent cluster comes first"
    assert "XA-B" in text, "stations below are included"


def test_a_crowd_of_receivers_pulling_at_once_is_served(served) -> None:
    # More requests at once than one worker has threads or connections: without the
    # limit on requests in flight they wait for each other until the pool times out.
    url = f"{served['url']}/api/v1/stations/XA-A/playlists/{MONDAY}"

    def pull(n: int) -> int:
        headers = served["device"] if n % 2 else served["bound"]
        return httpx.get(url, headers=headers, timeout=120).status_code

    with ThreadPoolExecutor(max_workers=120) as pool:
        answers = list(pool.map(pull, range(240)))
    assert answers == [200] * 240
