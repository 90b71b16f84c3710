"""The real `truyenthanh scheduler` process works the render queue, one leader at a time."""

import signal
import subprocess
import time

import pytest

from audio.models import JobStatus, RenderJob
from core.clock import utcnow
from core.db import session_scope
from core.models import Lease
from scheduler.jobs import KEEP_LEASE_EVERY, LEASE
from scheduler.service import enqueue_approved
from tests.conftest import BACKENDS
from tests.newsroom import approved_item
from tests.processes import CLI, cli_env


def test_the_scheduler_process_renders_queued_jobs(
    engine, newsroom, database_url, tmp_path, settings
) -> None:
    item_id = approved_item(engine, title="Tin cho bộ lập lịch")
    with session_scope(engine) as session:
        job_id = enqueue_approved(session, item_ids=[item_id], created_by="test")[0].id
    env = cli_env(database_url=database_url, data_dir=settings.data_dir)
    leader = subprocess.Popen([CLI, "scheduler"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    follower = subprocess.Popen([CLI, "scheduler"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with session_scope(engine) as session:
                job = session.get(RenderJob, job_id)
                if job.status == JobStatus.done:
                    break
            time.sleep(0.3)
        assert job.status == JobStatus.done, job.error
        assert job.attempts == 1, "exactly one process took the job"
        assert newsroom.store.path(job.asset_sha256, "mp3").exists()
    finally:
        said = []
        for process in (leader, follower):
            process.send_signal(signal.SIGTERM)
            said.append(process.communicate(timeout=40)[1])
    assert leader.returncode == follower.returncode == 0, said


def _holder(engine) -> str | None:
    with session_scope(engine) as session:
        lease = session.get(Lease, LEASE)
        return lease.holder if lease is not None and lease.expires_at > utcnow() else None


def _until(condition, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


# Several scheduler processes are a PostgreSQL deployment's affair (a standby beside the
# leader); the lease's SQL is the same on SQLite, tested in tests/core/test_locks.py.
@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_a_scheduler_that_stops_hands_over_to_the_one_waiting(
    engine, database_url, settings
) -> None:
    env = cli_env(database_url=database_url, data_dir=settings.data_dir)
    run = {"env": env, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    leader = subprocess.Popen([CLI, "scheduler"], **run)
    follower = None
    try:
        assert _until(lambda: _holder(engine) is not None, seconds=30), "nobody took the lease"
        assert _holder(engine).endswith(f":{leader.pid}")
        follower = subprocess.Popen([CLI, "scheduler"], **run)
        time.sleep(KEEP_LEASE_EVERY.total_seconds())
        assert _holder(engine).endswith(f":{leader.pid}"), "the leader keeps its lease"
        leader.send_signal(signal.SIGTERM)
        leader.communicate(timeout=40)
        # Within one round of the follower's tries, not after the lease ran out.
        took_over = _until(
            lambda: (_holder(engine) or "").endswith(f":{follower.pid}"),
            seconds=KEEP_LEASE_EVERY.total_seconds() * 2,
        )
        assert took_over, f"still held by {_holder(engine)}"
    finally:
        for process in (leader, follower):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.communicate(timeout=40)
    assert leader.returncode == follower.returncode == 0
    assert _holder(engine) is None, "the last one out gives the lease up too"
