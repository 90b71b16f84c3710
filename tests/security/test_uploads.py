"""Attacks through audio uploads: hostile file names, files that lie about what they are.

Whatever a client says about its file (name, declared type, extension) is a label at
most; only the decoded content decides, and nothing of a refused upload is kept.
"""

import io
import zipfile
from pathlib import Path

import pytest
from sqlmodel import func, select

from api.uploads import client_filename, looks_like_audio
from audio.models import AudioAsset, Recording
from audio.store import MediaStore
from core.db import session_scope
from tests.audio.sounds import tone, truncated
from tests.conftest import BACKENDS
from tests.security.conftest import web_login

BOUNDARY = "tt-boundary-7c1f"


def _multipart(fields: dict[str, str], filename: bytes, content: bytes, media_type: str) -> bytes:
    # Built by hand: HTTP clients quote the name, and an attacker's client does not.
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f"--{BOUNDARY}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + f'"\r\nContent-Type: {media_type}\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def _post_recording(client, town, body: bytes, who: str = "operator_a"):
    return client.post(
        f"/api/v1/content-items/{town.ids['item_XA-A']}/recordings",
        headers={
            **town.headers[who],
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
        content=body,
    )


def _store_files(settings) -> list[Path]:
    root = settings.media_path
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _kept(engine) -> tuple[int, int]:
    with session_scope(engine) as session:
        assets = session.exec(select(func.count()).select_from(AudioAsset)).one()
        recordings = session.exec(select(func.count()).select_from(Recording)).one()
    return assets, recordings


@pytest.mark.parametrize(
    ("sent", "label"),
    [
        ("../../etc/passwd", "passwd"),
        ("/var/lib/truyenthanh/media/ab/x.mp3", "x.mp3"),
        ("..\\..\\Windows\\system32\\evil.mp3", "evil.mp3"),
        ("C:\\Users\\ct\\ban-ghi.mp3", "ban-ghi.mp3"),
        ("ban\x00ghi.mp3", "banghi.mp3"),
        ("..／..／etc／passwd", "passwd"),  # full-width solidus
        ("ghi-âm\u202egpj.mp3", "ghi-âmgpj.mp3"),  # right-to-left override
        ("..", "upload"),
        ("", "upload"),
        ("Bản ghi tiếng Thái.mp3", "Bản ghi tiếng Thái.mp3"),
    ],
)
def test_a_client_file_name_is_only_a_label(sent: str, label: str) -> None:
    assert client_filename(sent) == label


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_hostile_file_name_never_reaches_the_file_system(
    client, town, settings, engine, tmp_path
) -> None:
    # A WAV file sent under a traversal name ending in .mp3, with a NUL byte in it, which
    # PostgreSQL cannot store: the name stays a label, the content decides the format.
    wav = tone(tmp_path / "tone.wav", seconds=1.2, codec="wav")
    body = _multipart(
        {"language": "blt", "speaker": "Lò Văn Pọm"},
        b"..\\..\\..\\tmp\\ban\x00ghi.mp3",
        wav.read_bytes(),
        "audio/mpeg",
    )
    answer = _post_recording(client, town, body)
    assert answer.status_code == 201, answer.text
    recording = answer.json()
    assert recording["filename"] == "banghi.mp3"
    assert recording["original"]["format"] == "wav"

    root = settings.media_path.resolve()
    files = _store_files(settings)
    assert files, "the recording was stored"
    for path in files:
        relative = path.resolve().relative_to(root)  # raises if a file escaped the store
        assert relative.parts[0] == relative.name[:2]
        assert relative.stem in (recording["original"]["sha256"], recording["broadcast"]["sha256"])
    assert not [p for p in tmp_path.rglob("*") if "ghi" in p.name], "no file took the client's name"
    assert not list(Path("/tmp").glob("ban*ghi*"))

    served = client.get(
        f"/api/v1/audio/{recording['original']['sha256']}", headers=town.headers["operator_a"]
    )
    assert served.status_code == 200
    assert served.headers["content-type"] == "audio/wav"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.wav", b"\0" * 5_000_000)  # 5 MB of zeros in a few kB
    return buffer.getvalue()


def _lies(tmp_path: Path, beside_uploads: Path) -> dict[str, tuple[bytes, bytes, str]]:
    mp3 = tone(tmp_path / "that.mp3", seconds=3)
    # ffmpeg resolves a playlist's names next to the playlist: beside the upload itself.
    beside_uploads.mkdir(parents=True, exist_ok=True)
    tone(beside_uploads / "other.mp3", seconds=3)
    playlist = b"ffconcat version 1.0\nfile 'other.mp3'\n"
    return {
        # name, content, declared type
        "html": (b"bai-hat.mp3", b"<!doctype html><script>alert(1)</script>", "audio/mpeg"),
        "svg": (
            b"logo.mp3",
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            "audio/mpeg",
        ),
        "script": (b"ghi-am.mp3", b"#!/bin/sh\nrm -rf /\n", "audio/mpeg"),
        "zip": (b"ghi-am.mp3", _zip(), "audio/mpeg"),
        "png": (b"ghi-am.mp3", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "audio/mpeg"),
        # ffmpeg reads playlists that name other files: it must never be shown one.
        "ffconcat": (b"ghi-am.mp3", playlist, "audio/mpeg"),
        "hls": (b"ghi-am.m3u8", b"#EXTM3U\n#EXTINF:3,\n/etc/passwd\n", "audio/x-mpegurl"),
        # Real audio headers with nothing or too little behind them.
        "truncated": (
            b"ghi-am.mp3",
            truncated(mp3, tmp_path / "cut.mp3").read_bytes(),
            "audio/mpeg",
        ),
        "empty wav": (b"ghi-am.wav", b"RIFF\xff\xff\xff\x7fWAVEfmt ", "audio/wav"),
        "id3 only": (b"ghi-am.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\0" * 64, "audio/mpeg"),
    }


def test_content_lies_are_refused_after_decoding_and_nothing_is_kept(
    client, town, settings, engine, tmp_path
) -> None:
    planted = settings.media_path / ".tmp"
    lies = _lies(tmp_path, planted)
    planted_files = _store_files(settings)
    for name, (filename, content, media_type) in lies.items():
        body = _multipart(
            {"language": "blt", "speaker": "Lò Văn Pọm"}, filename, content, media_type
        )
        answer = _post_recording(client, town, body)
        assert answer.status_code == 422, (name, answer.text)
        problem = answer.json()
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert problem["detail"].startswith(
            ("Tệp tải lên không phải âm thanh", "Không nhận tệp")
        ), (
            name,
            problem,
        )
        assert problem["errors"][0]["field"] == "file"
        assert _kept(engine) == (0, 0), name
        assert _store_files(settings) == planted_files, name
    jingle = client.post(
        "/api/v1/stations/XA-A/jingles",
        headers=town.headers["planner_p"],
        files={"file": ("nhac-hieu.mp3", b"<svg onload=alert(1)>", "audio/mpeg")},
    )
    assert jingle.status_code == 422, jingle.text
    assert _kept(engine) == (0, 0)
    assert _store_files(settings) == planted_files


def test_the_recording_page_refuses_a_lie_in_words(client, town, settings, engine) -> None:
    csrf = web_login(client, "operator_a")
    answer = client.post(
        "/recordings/new",
        data={
            "csrf_token": csrf,
            "item": str(town.ids["item_XA-A"]),
            "language": "blt",
            "speaker": "Lò Văn Pản",
        },
        files={"file": ("bai-hat.mp3", b"<html><script>alert(1)</script></html>", "audio/mpeg")},
    )
    assert answer.status_code == 422
    assert "Tệp tải lên không phải âm thanh" in answer.text
    assert "Lò Văn Pản" in answer.text, "what was typed stays in the form"
    assert "<script>alert(1)" not in answer.text
    assert _kept(engine) == (0, 0)
    assert _store_files(settings) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_nul_bytes_in_form_fields_are_refused_not_a_server_error(client, town, engine) -> None:
    body = _multipart(
        {"language": "blt", "speaker": "Lò\x00Văn"}, b"a.mp3", b"ID3\x04" + b"\0" * 32, "audio/mpeg"
    )
    answer = _post_recording(client, town, body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [{"field": "speaker", "msg": "có ký tự NUL"}]
    plan = client.post(
        "/api/v1/plans/import?station=XA-A",
        headers={**town.headers["planner_p"], "Content-Type": "text/plain"},
        content="KẾ HOẠCH\x00 tuyên truyền".encode(),
    )
    assert plan.status_code == 422, plan.text
    assert "NUL" in plan.json()["detail"]
    assert _kept(engine) == (0, 0)


@pytest.mark.parametrize(
    ("head", "audio"),
    [
        (b"ID3\x04\x00", True),
        (b"\xff\xfb\x90\x64", True),  # an MP3 frame
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", True),
        (b"OggS\x00\x02", True),
        (b"fLaC\x00\x00", True),
        (b"\x00\x00\x00\x20ftypM4A ", True),
        (b"#!AMR\n", True),
        (b"RIFF\x24\x00\x00\x00AVI LIST", False),
        (b"<html>", False),
        (b"#EXTM3U\n", False),
        (b"ffconcat version 1.0", False),
        (b"PK\x03\x04", False),
        (b"", False),
    ],
)
def test_only_audio_containers_pass_the_first_look(head: bytes, audio: bool) -> None:
    assert looks_like_audio(head) is audio


def test_served_media_cannot_be_sniffed_as_a_page(client, town, engine, settings) -> None:
    # A stored file whose bytes are a page (as a polyglot upload would be) is still
    # served as audio, with sniffing off and a sandbox should it ever be opened as a page.
    page = b"<!doctype html><script>alert(document.cookie)</script>"
    sha256, size = MediaStore(settings.media_path).write_bytes(page, ext="mp3")
    with session_scope(engine) as session:
        session.add(
            AudioAsset(sha256=sha256, origin="recording", format="mp3", size=size, duration_s=1.0)
        )
    # No station uses it: only an admin may fetch it.
    served = client.get(f"/api/v1/audio/{sha256}", headers=town.headers["admin"])
    assert served.status_code == 200
    assert served.content == page
    assert served.headers["content-type"] == "audio/mpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    policy = served.headers["content-security-policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy


def test_a_range_that_cannot_be_read_gets_the_whole_file(client, town, engine, settings) -> None:
    data = bytes(range(256)) * 40
    sha256, size = MediaStore(settings.media_path).write_bytes(data, ext="mp3")
    with session_scope(engine) as session:
        session.add(
            AudioAsset(sha256=sha256, origin="recording", format="mp3", size=size, duration_s=1.0)
        )
    url, admin = f"/api/v1/audio/{sha256}", town.headers["admin"]
    # RFC 9110 §14.2: a server may ignore a Range header, and must one in a unit it
    # does not know; a malformed one is answered with the whole file.
    for malformed in ("bytes=abc", "bytes=", "bytes=-", "bytes=5-1", "items=0-9", "0-9", "bytes"):
        whole = client.get(url, headers={**admin, "Range": malformed})
        assert whole.status_code == 200, (malformed, whole.status_code, whole.text[:100])
        assert whole.content == data, malformed
    part = client.get(url, headers={**admin, "Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    # A range starting past the end cannot be served: 416, as a problem report.
    beyond = client.get(url, headers={**admin, "Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-type"] == "application/problem+json"
    assert beyond.headers["content-range"] == f"bytes */{size}"
