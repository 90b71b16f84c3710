"""Render and assemble a 15-minute programme with the offline voice; compare with bare ffmpeg.

Usage: .venv/bin/python -m bench.audio_render [--minutes 15]

Reports the end-to-end speed as a multiple of real time and the peak memory of this
process, next to one bare ffmpeg MP3 encode (LAME defaults) of the same audio measured
in the same run.
"""

import argparse
import resource
import tempfile
import time
from pathlib import Path

from sqlmodel import Session

from audio.ffmpeg import measure, run
from audio.models import Programme
from audio.service import assemble_programme, process_queue
from audio.store import MediaStore
from content.service import approve_content_item, create_content_item, submit_content_item
from core.db import create_db_engine, session_scope
from core.migrations import upgrade
from core.settings import parse_database_url
from scheduler.models import StationKind
from scheduler.service import create_station, enqueue_approved, render_settings, station_facts

PARAGRAPH = (
    "Thực hiện Kế hoạch số 36/KH-UBND ngày 26/01/2021 của UBND tỉnh, Ủy ban nhân dân xã "
    "đẩy mạnh cải cách thủ tục hành chính. Bà con có thể nộp hồ sơ trực tuyến mức độ 3, 4 "
    "trên Cổng dịch vụ công, hoặc đến Bộ phận một cửa từ 7h30 đến 17h các ngày làm việc. "
    "Mọi khoản phí, lệ phí đều được niêm yết công khai; năm 2026 có 95% hồ sơ được giải "
    "quyết đúng hạn. Khi cần hỗ trợ, bà con gọi số 0212.3851.234.\n"
)


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def main() -> None:
    """Run the benchmark and print a table row."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=15.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        engine = create_db_engine(parse_database_url(f"sqlite:///{root / 'bench.db'}"))
        upgrade(engine)
        store = MediaStore(root / "media")
        # About 37 s of speech per paragraph at the default rate.
        body = PARAGRAPH * max(1, round(args.minutes * 60 / 37))
        with session_scope(engine) as session:
            station = create_station(
                session, code="XA-BENCH", name="Đài xã đo đạc", kind=StationKind.province
            )
            station.two_person_approval = False
            facts = station_facts(station)
            item, _, _ = create_content_item(
                session, station=facts, title="Bài dài", body=body, author="bench"
            )
            submit_content_item(session, item=item)
            approve_content_item(session, item=item, station=facts, approver="bench")
            enqueue_approved(session, item_ids=[item.id], created_by="bench")
            settings = render_settings(station)
            item_id, station_id = item.id, station.id

        started = time.perf_counter()
        process_queue(engine, store=store, worker="bench")
        rendered = time.perf_counter()
        with Session(engine) as session:
            programme = Programme(
                station_id=station_id,
                title="Chuyên mục đo đạc",
                parts=[{"kind": "title"}, {"kind": "item", "item_id": item_id}],
            )
            session.add(programme)
            asset = assemble_programme(session, store=store, programme=programme, settings=settings)
            session.commit()
            path = store.path(asset.sha256, "mp3")
        finished = time.perf_counter()

        # Baseline: one plain encode of the same programme's audio, nothing else.
        wav = root / "baseline.wav"
        run(["-v", "error", "-y", "-i", str(path), "-c:a", "pcm_s16le", str(wav)])
        base_start = time.perf_counter()
        run(
            [
                "-v",
                "error",
                "-y",
                "-i",
                str(wav),
                "-c:a",
                "libmp3lame",
                "-b:a",
                "64k",
                str(root / "baseline.mp3"),
            ]
        )
        baseline = time.perf_counter() - base_start

        seconds = measure(path).duration_s
        total = finished - started
        print(f"audio length            {seconds / 60:.1f} min")
        print(f"render (speak+normalise) {rendered - started:.1f} s")
        print(f"assemble (+normalise)    {finished - rendered:.1f} s")
        print(f"end to end               {total:.1f} s = {seconds / total:.1f}x real time")
        print(f"bare ffmpeg encode       {baseline:.2f} s = {seconds / baseline:.0f}x real time")
        print(f"ratio pipeline / bare    {total / baseline:.1f}")
        # ffmpeg children stream their audio; the kernel's figure for them counts the
        # pages they share with this process right after fork, so it is not shown.
        print(f"peak memory (this process) {_rss_mb(resource.RUSAGE_SELF):.0f} MB")
        engine.dispose()


if __name__ == "__main__":
    main()
