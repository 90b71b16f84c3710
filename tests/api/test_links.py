"""Links to our own audio follow the address a device or player reached the server on.

A frozen day keeps the links it was made with in the database; two real servers on
other ports serve it from the same database, each with links that lead back to itself.
"""

import hashlib
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session, select

from audio.models import AudioAsset, JobStatus, RenderJob
from audio.service import process_queue
from core.db import session_scope
from core.identity import create_device_token
from scheduler.bookings import create_booking
from scheduler.events import publish_bulletin
from scheduler.models import Booking, Playlist
from scheduler.playlists import freeze_time, generate_playlist
from scheduler.service import add_cluster, enqueue_approved, get_station, update_station
from tests.agent.conftest import run_once
from tests.processes import cli_env, free_port, running_server

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
OLD = "http://loa-cu.example:8000"  # where the day was made for; nothing answers there
ALL_DAY = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59"}]


@pytest.fixture
def frozen_day(engine, newsroom) -> dict:
    """Today's playlist of XA-A, frozen with its links made for OLD, and a device token.

    Tomorrow's after 22:00, so its 23:00 entry is still ahead for the agent that fetches it.
    """
    now = datetime.now(ZONE)
    today = now.date() + timedelta(days=1 if now.hour >= 22 else 0)
    with session_scope(engine, write=True) as session:
        job = enqueue_approved(session, item_ids=[newsroom.item_id], created_by="test")[0]
    process_queue(engine, store=newsroom.store, worker="test")
    with session_scope(engine, write=True) as session:
        rendered = session.get(RenderJob, job.id)
        assert rendered.status == JobStatus.done, rendered.error
        sha256 = session.get(AudioAsset, rendered.asset_sha256).sha256
        station = get_station(session, code="XA-A")
        update_station(session, station=station, changes={"windows": ALL_DAY})
        cluster = add_cluster(session, station=station, code="BAN-A", name="Bản A", zone_tags=[])
        booking = Booking(
            station_id=station.id,
            source="item",
            item_id=newsroom.item_id,
            title="Bản tin đã chốt",
            at="23:00",
            recurrence={"freq": "once", "start": today.isoformat()},
            created_by="test",
        )
        create_booking(session, booking=booking, base_url=OLD, today=today)
        frozen = freeze_time(station, today) + timedelta(minutes=1)
        playlist = generate_playlist(session, station=station, day=today, base_url=OLD, now=frozen)
        assert playlist.frozen_at is not None
        [entry] = playlist.body["entries"]
        assert entry["audio"]["url"] == f"{OLD}/api/v1/audio/{sha256}"
        _, device = create_device_token(
            session, station_id=station.id, cluster_id=cluster.id, name="Máy", created_by="test"
        )
    return {"day": today, "sha256": sha256, "device": {"Authorization": f"Bearer {device}"}}


def _stored(engine, day) -> tuple:
    with Session(engine) as session:
        row = session.exec(select(Playlist).where(Playlist.day == day)).one()
        return row.version, row.etag, row.frozen_at, json.dumps(row.body, sort_keys=True)


@pytest.fixture
def servers(tmp_path, database_url, settings, frozen_day):
    """Two real servers on one database: the second trusts its proxy's forwarded headers."""
    first, second = free_port(), free_port()
    env = cli_env(database_url=database_url, data_dir=settings.data_dir, public_base_url=OLD)
    with (
        running_server("serve", "--port", str(first), env=env, port=first) as one,
        running_server(
            "serve",
            "--port",
            str(second),
            env={**env, "TRUYENTHANH_TRUST_PROXY": "true"},
            port=second,
        ) as two,
    ):
        yield one, two


def _audio_links(document: dict) -> list[str]:
    return [e["audio"]["url"] for e in document["entries"] if e.get("audio")]


def test_a_frozen_day_links_to_each_address_it_is_pulled_from(
    servers, frozen_day, newsroom, engine
) -> None:
    day, sha256, device = frozen_day["day"], frozen_day["sha256"], frozen_day["device"]
    before = _stored(engine, day)
    path = f"/api/v1/stations/XA-A/playlists/{day}"
    etags = set()
    for base in servers:
        # The device's pull (the fast path) and an operator's (the route) are the same bytes.
        pulled = httpx.get(base + path, headers=device)
        again = httpx.get(base + path, headers=device)
        read = httpx.get(base + path, headers=newsroom.operator, params={"cluster": "BAN-A"})
        assert pulled.status_code == read.status_code == 200, read.text
        assert pulled.content == again.content == read.content
        assert pulled.headers["etag"] == read.headers["etag"]
        etags.add(pulled.headers["etag"])
        assert pulled.json()["frozen"] is True
        [link] = _audio_links(pulled.json())
        assert link == f"{base}/api/v1/audio/{sha256}"
        fetched = httpx.get(link, headers=device)
        assert fetched.status_code == 200
        assert hashlib.sha256(fetched.content).hexdigest() == sha256

        # A player opens the M3U8's signed link with no token, at the same address.
        m3u8 = httpx.get(f"{base}{path}.m3u8", headers=newsroom.operator)
        assert m3u8.status_code == 200, m3u8.text
        [signed] = [line for line in m3u8.text.splitlines() if line.startswith("http")]
        assert signed.startswith(f"{base}/api/v1/audio/{sha256}?exp=")
        played = httpx.get(signed)
        assert played.status_code == 200
        assert hashlib.sha256(played.content).hexdigest() == sha256

    assert len(etags) == 1, "the ETag does not depend on the address"
    assert _stored(engine, day) == before, "a frozen day is served, never rewritten"


def test_a_name_for_the_server_and_a_trusted_proxy_lead_the_links(
    servers, frozen_day, engine
) -> None:
    one, two = servers
    day, sha256, device = frozen_day["day"], frozen_day["sha256"], frozen_day["device"]
    path = f"/api/v1/stations/XA-A/playlists/{day}"
    port = one.rsplit(":", 1)[1]

    # Reached by another name (a LAN name, a second interface), its links carry that name.
    named = httpx.get(one + path, headers={**device, "Host": f"loa-xa.local:{port}"})
    assert _audio_links(named.json()) == [f"http://loa-xa.local:{port}/api/v1/audio/{sha256}"]

    # What a client says a proxy was asked counts only where the operator trusts a proxy.
    forwarded = {"X-Forwarded-Host": "loa.chiengpan.example.vn"}
    ignored = httpx.get(one + path, headers={**device, **forwarded})
    assert _audio_links(ignored.json()) == [f"{one}/api/v1/audio/{sha256}"]
    proxy = {**forwarded, "X-Forwarded-Proto": "https"}
    proxied = httpx.get(two + path, headers={**device, **proxy})
    expected = f"https://loa.chiengpan.example.vn/api/v1/audio/{sha256}"
    assert _audio_links(proxied.json()) == [expected]
    assert proxied.headers["etag"] == ignored.headers["etag"]
    # An emergency's event carries the entries as stored: its links follow the same way.
    with session_scope(engine, write=True) as session:
        station = get_station(session, code="XA-A")
        booking_id = session.exec(select(Booking.id)).one()
        publish_bulletin(session, booking_id=booking_id, station_ids=[station.id], days=[day])
    events = httpx.get(f"{two}/api/v1/stations/XA-A/events", headers={**device, **proxy})
    assert events.status_code == 200, events.text
    assert [_audio_links(e) for e in events.json()] == [[expected]]

    # A Host that is no host name gets the configured public address, never the header.
    odd = httpx.get(one + path, headers={**device, "Host": 'x"><b>'})
    assert odd.status_code == 200
    assert _audio_links(odd.json()) == [f"{OLD}/api/v1/audio/{sha256}"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_agent_fetches_the_frozen_day_from_the_second_address(
    servers, frozen_day, tmp_path
) -> None:
    _, two = servers
    token = frozen_day["device"]["Authorization"].split()[1]
    report = run_once(two, token, tmp_path / "agent")
    assert (report["station"], report["cluster"]) == ("XA-A", "BAN-A")
    assert (report["downloaded"], report["cache_fill"]) == (1, 1.0), report
    # What it keeps for playing offline leads back to where it reached the server.
    held = json.loads((tmp_path / "agent" / "playlists" / f"{frozen_day['day']}.json").read_text())
    assert _audio_links(held["playlist"]) == [f"{two}/api/v1/audio/{frozen_day['sha256']}"]
