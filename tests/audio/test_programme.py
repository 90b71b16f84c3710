"""Programme assembly: jingles, an announced title, items with gaps, one loud-enough MP3."""

from audio.ffmpeg import measure
from audio.service import process_queue
from tests.audio.sounds import tone
from tests.newsroom import approved_item


def _jingle(client, newsroom, tmp_path) -> dict:
    path = tone(tmp_path / "nhac-hieu.wav", seconds=3, volume=0.5, codec="wav")
    response = client.post(
        "/api/v1/stations/XA-A/jingles",
        headers=newsroom.planner,
        files={"file": (path.name, path.read_bytes(), "audio/wav")},
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_programme_is_assembled_normalised_and_checked_against_its_length(
    client, newsroom, engine, tmp_path
) -> None:
    jingle = _jingle(client, newsroom, tmp_path)
    assert jingle["origin"] == "jingle" and abs(jingle["loudness_lufs"] + 16) <= 1
    second = approved_item(
        engine,
        title="Bưu chính công ích",
        body="Bà con có thể nhận kết quả thủ tục tại nhà qua bưu điện.",
    )
    for item_id in (newsroom.item_id, second):
        client.post(f"/api/v1/content-items/{item_id}/render", headers=newsroom.planner)
    process_queue(engine, store=newsroom.store, worker="test")
    items = [
        client.get(f"/api/v1/content-items/{i}", headers=newsroom.planner).json()
        for i in (newsroom.item_id, second)
    ]
    assert all(i["status"] == "approved" for i in items)

    parts = [
        {"kind": "jingle", "sha256": jingle["sha256"]},
        {"kind": "title"},
        {"kind": "item", "item_id": newsroom.item_id},
        {"kind": "item", "item_id": second},
        {"kind": "jingle", "sha256": jingle["sha256"]},
    ]
    created = client.post(
        "/api/v1/stations/XA-A/programmes",
        headers=newsroom.planner,
        json={
            "title": "Chuyên mục Cải cách hành chính",
            "parts": parts,
            "gap_ms": 500,
            "target_min_seconds": 600,
            "target_max_seconds": 900,
        },
    )
    assert created.status_code == 201, created.text
    assembled = client.post(
        f"/api/v1/programmes/{created.json()['id']}/assemble", headers=newsroom.planner
    )
    assert assembled.status_code == 200, assembled.text
    programme = assembled.json()
    asset = programme["asset"]
    path = newsroom.store.path(asset["sha256"], "mp3")
    loudness = measure(path)
    assert abs(loudness.integrated_lufs + 16.0) <= 1.0
    assert loudness.true_peak_dbtp <= -1.0

    pieces = [jingle["duration_s"] * 2]
    for item_id in (newsroom.item_id, second):
        jobs = client.post(f"/api/v1/content-items/{item_id}/render", headers=newsroom.planner)
        pieces.append(jobs.json()["asset"]["duration_s"])
    # Title announcement (a second or two) plus four 0.5 s gaps on top of the parts.
    assert sum(pieces) + 2.0 < loudness.duration_s < sum(pieces) + 8.0
    assert programme["warnings"] and "ngắn hơn mục tiêu 10 phút" in programme["warnings"][0]


def test_assembly_refuses_items_without_audio_and_unknown_parts(client, newsroom) -> None:
    unrendered = client.post(
        "/api/v1/stations/XA-A/programmes",
        headers=newsroom.planner,
        json={"title": "Thiếu âm thanh", "parts": [{"kind": "item", "item_id": newsroom.item_id}]},
    ).json()
    response = client.post(
        f"/api/v1/programmes/{unrendered['id']}/assemble", headers=newsroom.planner
    )
    assert response.status_code == 409
    assert "chưa có âm thanh" in response.json()["detail"]
    bad = client.post(
        "/api/v1/stations/XA-A/programmes",
        headers=newsroom.planner,
        json={"title": "Sai", "parts": [{"kind": "video"}]},
    )
    assert bad.status_code == 422
    assert (
        client.post("/api/v1/programmes/999/assemble", headers=newsroom.planner).status_code == 404
    )
