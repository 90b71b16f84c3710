"""The real `truyenthanh scheduler` process works the render queue, one leader at a time."""

import signal
import subprocess
import time

from audio.models import JobStatus, RenderJob
from core.db import session_scope
from scheduler.service import enqueue_approved
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
        for process in (leader, follower):
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=40)
    assert leader.returncode == follower.returncode == 0
