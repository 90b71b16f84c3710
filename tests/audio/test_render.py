"""Render jobs with the real offline voice, the media store and audio downloads."""

from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from sqlmodel import Session, select

from audio.ffmpeg import inspect_audio, measure
from audio.models import JobStatus, RenderJob
from audio.service import RenderSettings, claim_next_job, process_queue, render_reading
from content.models import ContentVersion
from core.clock import utcnow
from core.db import session_scope
from scheduler.models import Station
from scheduler.service import render_settings
from tests.newsroom import approved_item


def _render(client, newsroom, item_id: int | None = None) -> dict:
    response = client.post(
        f"/api/v1/content-items/{item_id or newsroom.item_id}/render", headers=newsroom.planner
    )
    assert response.status_code == 202, response.text
    return response.json()


def _job(client, newsroom, job_id: int) -> dict:
    return client.get(f"/api/v1/jobs/{job_id}", headers=newsroom.planner).json()


def test_an_approved_item_renders_offline_to_normalised_mp3(client, newsroom, engine) -> None:
    job = _render(client, newsroom)
    assert (job["status"], job["progress"], job["asset"]) == ("queued", 0, None)
    assert _render(client, newsroom)["id"] == job["id"], "asking twice queues one job"

    assert process_queue(engine, store=newsroom.store, worker="test") == 1
    done = _job(client, newsroom, job["id"])
    assert (done["status"], done["stage"], done["progress"], done["attempts"]) == (
        "done",
        "done",
        100,
        1,
    )
    asset = done["asset"]
    assert (asset["origin"], asset["engine"], asset["voice"], asset["format"]) == (
        "tts",
        "espeak",
        "vi",
        "mp3",
    )
    path = newsroom.store.path(asset["sha256"], "mp3")
    assert newsroom.store.verify(asset["sha256"], "mp3")
    loudness = measure(path)
    assert abs(loudness.integrated_lufs + 16.0) <= 1.0
    assert loudness.true_peak_dbtp <= -1.0
    assert 3.0 < loudness.duration_s < 15.0, "about 20 syllables of speech"
    info = inspect_audio(path)
    assert (info.channels, info.sample_rate) == (1, 44100)
    assert asset["reading_sha256"] and asset["size"] == path.stat().st_size


def test_the_same_reading_with_the_same_voice_is_rendered_once(client, newsroom, engine) -> None:
    job = _render(client, newsroom)
    process_queue(engine, store=newsroom.store, worker="test")
    files = sorted(newsroom.store.root.glob("??/*.mp3"))
    with session_scope(engine) as session:
        done = session.get(RenderJob, job["id"])
        version = session.exec(
            select(ContentVersion).where(ContentVersion.item_id == newsroom.item_id)
        ).one()
        station = session.exec(select(Station).where(Station.code == "XA-A")).one()
        again = render_reading(
            session,
            store=newsroom.store,
            reading=version.reading,
            settings=render_settings(station),
        )
        assert again.sha256 == done.asset_sha256
        slower = replace(render_settings(station).voice, rate=120)
        other = render_reading(
            session,
            store=newsroom.store,
            reading=version.reading,
            settings=RenderSettings(voice=slower),
        )
        assert other.sha256 != done.asset_sha256
    assert len(sorted(newsroom.store.root.glob("??/*.mp3"))) == len(files) + 1


def test_downloads_have_a_strong_etag_and_ranges(client, newsroom, engine) -> None:
    job = _render(client, newsroom)
    process_queue(engine, store=newsroom.store, worker="test")
    asset = _job(client, newsroom, job["id"])["asset"]
    url = f"/api/v1/audio/{asset['sha256']}"
    whole = client.get(url, headers=newsroom.operator)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "audio/mpeg"
    assert whole.headers["etag"] == f'"{asset["sha256"]}"'
    assert len(whole.content) == asset["size"]
    part = client.get(url, headers={**newsroom.operator, "Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == whole.content[100:200]
    again = client.get(url, headers={**newsroom.operator, "If-None-Match": whole.headers["etag"]})
    assert again.status_code == 304
    assert client.get(url).status_code == 401
    missing = client.get("/api/v1/audio/" + "0" * 64, headers=newsroom.operator)
    assert missing.status_code == 404
    assert (
        client.get("/api/v1/audio/..%2F..%2Fetc%2Fpasswd", headers=newsroom.operator).status_code
        == 404
    )


def test_only_approved_content_is_rendered(client, newsroom) -> None:
    draft = client.post(
        "/api/v1/content-items",
        headers=newsroom.planner,
        json={"title": "Nháp", "body": "Chưa duyệt.", "station": "XA-A"},
    ).json()
    response = client.post(f"/api/v1/content-items/{draft['id']}/render", headers=newsroom.planner)
    assert response.status_code == 409
    assert "chưa được duyệt" in response.json()["detail"]


def test_a_job_interrupted_mid_way_is_picked_up_again(client, newsroom, engine) -> None:
    job = _render(client, newsroom)
    with session_scope(engine) as session:
        stuck = session.get(RenderJob, job["id"])
        stuck.status, stuck.stage, stuck.progress, stuck.attempts = (
            JobStatus.running,
            "speaking",
            10,
            1,
        )
        stuck.heartbeat_at = utcnow() - timedelta(hours=1)
    assert process_queue(engine, store=newsroom.store, worker="after-restart") == 1
    done = _job(client, newsroom, job["id"])
    assert (done["status"], done["attempts"]) == ("done", 2)


def test_a_failing_item_waits_for_a_retry_and_does_not_block_others(
    client, newsroom, engine, monkeypatch
) -> None:
    def offline(*_args, **_kwargs):
        raise requests.ConnectionError("no route to host")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", offline)
    with session_scope(engine) as session:
        online_only = session.exec(select(Station).where(Station.code == "XA-B")).one()
        online_only.voice_engine = "gtts"
    online_item = approved_item(engine, title="Tin giọng trực tuyến", station="XA-B")
    failing = _render(client, newsroom, online_item)
    working = _render(client, newsroom)
    assert process_queue(engine, store=newsroom.store, worker="test") == 2
    retry = _job(client, newsroom, failing["id"])
    assert (retry["status"], retry["stage"], retry["attempts"]) == ("queued", "waiting", 1)
    assert retry["error"]
    assert _job(client, newsroom, working["id"])["status"] == "done"
    with session_scope(engine) as session:
        assert session.get(RenderJob, failing["id"]).not_before > utcnow()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_two_workers_never_take_the_same_job(client, newsroom, engine) -> None:

    _render(client, newsroom)
    with Session(engine) as one, Session(engine) as two:
        first = claim_next_job(one, worker="a")
        second = claim_next_job(two, worker="b")
    assert first is not None and second is None
