"""Ethnic-language recordings: streamed, decoded whole, checked, then stored twice."""

import hashlib
from pathlib import Path

import pytest
from sqlmodel import func, select

from audio.ffmpeg import inspect_audio, measure
from audio.models import AudioAsset, Recording
from audio.service import check_upload
from core.db import session_scope
from core.errors import InvalidError
from tests.audio.sounds import silence, tone, truncated


def _upload(client, newsroom, path: Path, *, item_id=None, headers=None, **fields):
    data = {"language": "blt", "speaker": "Lò Văn Pọm", **fields}
    return client.post(
        f"/api/v1/content-items/{item_id or newsroom.item_id}/recordings",
        headers=headers or newsroom.operator,
        data=data,
        files={"file": (path.name, path.read_bytes(), "application/octet-stream")},
    )


def _stored(engine, store) -> tuple[int, int, list[Path]]:
    with session_scope(engine) as session:
        assets = session.exec(select(func.count()).select_from(AudioAsset)).one()
        recordings = session.exec(select(func.count()).select_from(Recording)).one()
    files = [p for p in store.root.rglob("*") if p.is_file()] if store.root.exists() else []
    return assets, recordings, files


def test_a_recording_keeps_its_original_and_gets_a_normalised_broadcast_copy(
    client, newsroom, tmp_path
) -> None:
    source = tone(tmp_path / "ban-tieng-thai.mp3", seconds=4, volume=0.05)
    response = _upload(client, newsroom, source)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["language"], body["speaker"], body["filename"]) == (
        "blt",
        "Lò Văn Pọm",
        "ban-tieng-thai.mp3",
    )
    original = body["original"]
    assert original["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    kept = newsroom.store.path(original["sha256"], "mp3")
    assert kept.read_bytes() == source.read_bytes()

    copy = body["broadcast"]
    path = newsroom.store.path(copy["sha256"], "mp3")
    loudness = measure(path)  # ffmpeg's ebur128 meter, not the normaliser
    assert abs(loudness.integrated_lufs - (-16.0)) <= 1.0
    assert loudness.true_peak_dbtp <= -1.0
    assert abs(loudness.duration_s - 4.0) < 0.2
    info = inspect_audio(path)
    assert (info.codec, info.channels, info.sample_rate) == ("mp3", 1, 44100)
    assert copy["loudness_lufs"] == pytest.approx(loudness.integrated_lufs, abs=0.05)


def _not_audio(folder: Path) -> Path:
    path = folder / "ghi-am.mp3"
    path.write_bytes(b"<html>not audio</html>" * 50)
    return path


def _empty(folder: Path) -> Path:
    path = folder / "rong.wav"
    path.write_bytes(b"")
    return path


def _cut_mp3(folder: Path) -> Path:
    return truncated(tone(folder / "a.mp3", seconds=6), folder / "cut.mp3")


def _cut_wav(folder: Path) -> Path:
    return truncated(tone(folder / "a.wav", seconds=6, codec="wav"), folder / "cut.wav", keep=0.6)


def _silent(folder: Path) -> Path:
    return silence(folder / "im-lang.wav")


def _too_short(folder: Path) -> Path:
    return tone(folder / "ngan.mp3", seconds=0.4)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_not_audio, "không phải âm thanh"),
        (_empty, "rỗng"),
        (_cut_mp3, "cắt cụt"),
        (_cut_wav, "cắt cụt"),
        (_silent, "im lặng"),
        (_too_short, "quá ngắn"),
    ],
)
def test_bad_files_are_refused_with_their_reason_and_nothing_is_stored(
    client, newsroom, engine, tmp_path, make, reason
) -> None:
    before = _stored(engine, newsroom.store)
    response = _upload(client, newsroom, make(tmp_path))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert reason in response.json()["detail"]
    assert _stored(engine, newsroom.store) == before


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"language": "xyz"}, "language"),
        ({"language": "vie"}, "language"),
        ({"speaker": " "}, "speaker"),
    ],
)
def test_bad_details_are_refused_and_nothing_is_stored(
    client, newsroom, engine, tmp_path, fields, field
) -> None:
    before = _stored(engine, newsroom.store)
    response = _upload(client, newsroom, tone(tmp_path / "a.mp3"), **fields)
    assert response.status_code == 422
    assert field in str(response.json()["errors"])
    assert _stored(engine, newsroom.store) == before


def test_size_cap_content_type_and_scope(client, newsroom, engine, tmp_path) -> None:
    before = _stored(engine, newsroom.store)
    state = client.app.state
    state.settings = state.settings.model_copy(update={"max_upload_mb": 1})
    big = tmp_path / "lon.wav"
    big.write_bytes(b"RIFF" + b"\0" * (1 << 20))
    assert _upload(client, newsroom, big).status_code == 413
    wrong = client.post(
        f"/api/v1/content-items/{newsroom.item_id}/recordings",
        headers=newsroom.operator,
        json={"language": "blt"},
    )
    assert wrong.status_code == 415
    other = _upload(
        client, newsroom, tone(tmp_path / "a.mp3"), headers=newsroom.other_operator, station="XA-A"
    )
    assert other.status_code == 404, "an item of another commune is not even shown"
    assert _stored(engine, newsroom.store) == before


def test_a_recording_longer_than_allowed_is_refused_without_decoding_all_of_it(tmp_path) -> None:
    # Its header tells no length (ffmpeg would estimate one): decoding stops at the limit.
    long = tone(tmp_path / "dai.mp3", seconds=8.0, codec="bare mp3")
    assert inspect_audio(long, limit_s=3).duration_s == pytest.approx(3.0, abs=0.2)
    with pytest.raises(InvalidError) as refused:
        check_upload(long, max_seconds=2)
    assert "dài quá giới hạn 2 giây" in refused.value.detail
    assert check_upload(tone(tmp_path / "vua.mp3", seconds=1.5), max_seconds=2) == "mp3"


def test_a_recording_longer_than_any_broadcast_is_refused_by_its_header(
    client, newsroom, engine, tmp_path
) -> None:
    # An hour and a minute: a meeting's recording, say. FLAC packs it under the upload
    # cap, so only its length can stop it, and its header tells it before any decoding.
    long = tone(tmp_path / "hoi-nghi.flac", seconds=61 * 60, codec="flac", rate=8000)
    before = _stored(engine, newsroom.store)
    refused = _upload(client, newsroom, long)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith("Không nhận tệp: tệp khai báo dài 1 giờ 1 phút, quá giới hạn 1 giờ")
    assert refused.json()["errors"][0]["field"] == "file"
    assert _stored(engine, newsroom.store) == before
    with pytest.raises(InvalidError) as jingle:  # a jingle's limit, in seconds
        check_upload(tone(tmp_path / "nhac-hieu.flac", seconds=5, codec="flac"), max_seconds=4)
    assert "tệp khai báo dài 5 giây, quá giới hạn 4 giây" in jingle.value.detail
