"""The disk holding the media store fills up: a clear Vietnamese error, no half-written file,
and everything works again once there is room.

The store sits on a real 1 MiB tmpfs, so ffmpeg and Python meet a real ENOSPC wherever
they happen to be writing; mounting needs root (as in CI), and without it those tests are
skipped. A disk that reports itself full only when the file is flushed (delayed allocation
on ext4 or XFS) is simulated everywhere by failing the fsync system call. SQLite only:
nothing here depends on the database.
"""

import errno
import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import func, select

from audio.models import AudioAsset, Recording, RenderJob
from audio.service import process_queue
from audio.store import FULL_DETAIL
from core.clock import utcnow
from core.db import session_scope
from tests.audio.sounds import tone

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

FILLER = ".filler"


@pytest.fixture
def disk(newsroom) -> Iterator[Path]:
    """The media store on a 1 MiB file system of its own."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    root = newsroom.store.root
    root.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here: {mounted.stderr.strip()}")
    try:
        yield root
    finally:
        subprocess.run(["umount", "--lazy", str(root)], check=True)


def fill(disk: Path, *, room: int) -> None:
    """Leave only about `room` bytes free."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    with (disk / FILLER).open("ab") as filler:
        filler.write(b"\0" * (free - room))


def free_up(disk: Path) -> None:
    """An operator deletes what filled the disk."""
    (disk / FILLER).unlink()


def left_behind(store) -> list[Path]:
    """Every file in the store but the filler."""
    return [p for p in store.root.rglob("*") if p.is_file() and p.name != FILLER]


def counts(engine) -> tuple[int, int]:
    with session_scope(engine) as session:
        assets = session.exec(select(func.count()).select_from(AudioAsset)).one()
        recordings = session.exec(select(func.count()).select_from(Recording)).one()
    return assets, recordings


def render_now(engine, store) -> None:
    """Run the queue as if the retry delay had passed."""
    with session_scope(engine, write=True) as session:
        for job in session.exec(select(RenderJob)):
            job.not_before = utcnow() - timedelta(seconds=1)
    process_queue(engine, store=store, worker="test")


def assert_waits_for_room(client, newsroom, job_id: int) -> None:
    """The job failed for want of room, says so in Vietnamese, and will be tried again."""
    job = client.get(f"/api/v1/jobs/{job_id}", headers=newsroom.planner).json()
    assert (job["status"], job["stage"], job["asset"]) == ("queued", "waiting", None)
    assert job["error"] == FULL_DETAIL


def test_a_render_on_a_full_disk_waits_for_room(client, newsroom, engine, disk) -> None:
    fill(disk, room=0)
    job = client.post(f"/api/v1/content-items/{newsroom.item_id}/render", headers=newsroom.planner)
    process_queue(engine, store=newsroom.store, worker="test")

    assert_waits_for_room(client, newsroom, job.json()["id"])
    assert left_behind(newsroom.store) == []
    assert counts(engine) == (0, 0)

    free_up(disk)
    render_now(engine, newsroom.store)
    done = client.get(f"/api/v1/jobs/{job.json()['id']}", headers=newsroom.planner).json()
    assert done["status"] == "done", done["error"]
    assert newsroom.store.verify(done["asset"]["sha256"], "mp3")


def test_an_upload_to_a_full_disk_is_refused_clearly_and_leaves_nothing(
    client, newsroom, engine, disk, tmp_path
) -> None:
    source = tone(tmp_path / "ban-tieng-thai.wav", seconds=3, codec="wav")

    def upload():
        return client.post(
            f"/api/v1/content-items/{newsroom.item_id}/recordings",
            headers=newsroom.operator,
            data={"language": "blt", "speaker": "Lò Văn Pọm"},
            files={"file": (source.name, source.read_bytes(), "audio/wav")},
        )

    # No room even for the upload; then room for it but not for its broadcast copy.
    for room in (0, source.stat().st_size + 16_384):
        fill(disk, room=room)
        refused = upload()
        assert refused.status_code == 507, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["detail"] == FULL_DETAIL
        assert left_behind(newsroom.store) == []
        assert counts(engine) == (0, 0)
        free_up(disk)

    assert upload().status_code == 201
    assert counts(engine) == (2, 1)


def test_a_disk_full_only_at_flush_leaves_no_file(client, newsroom, engine, monkeypatch) -> None:
    # Delayed allocation: write() lands in the page cache and fsync() finds no room.
    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    job = client.post(f"/api/v1/content-items/{newsroom.item_id}/render", headers=newsroom.planner)
    with monkeypatch.context() as patched:
        patched.setattr(os, "fsync", full)
        process_queue(engine, store=newsroom.store, worker="test")

    assert_waits_for_room(client, newsroom, job.json()["id"])
    assert left_behind(newsroom.store) == []
    render_now(engine, newsroom.store)
    done = client.get(f"/api/v1/jobs/{job.json()['id']}", headers=newsroom.planner).json()
    assert done["status"] == "done", done["error"]
