"""What scoping audio downloads costs: a device fetching a file, with and without the check.

Usage: .venv/bin/python -m bench.audio_download [--communes 20] [--days 730]
       [--requests 300] [--kib 64] [--database-url URL]

The data: one province of `--communes` communes, each airing eight programmes a day
(each its own file) for `--days` days up to a week ahead, every playlist generated, so
a commune holds a playlist per day and the scope check has history to read. Commune
XA-0 also has a file made `--days` ago and booked only from today, and an orphan file
nobody uses, made as long ago.

Each case sends `--requests` downloads in turn through the app in process (TestClient):
a device of XA-0 for a programme it has aired every day (the check matches at once),
for the old file booked only today (the check reads every day since the file was
made), for another commune's file (a 404 after reading them all); the province's
auditor for XA-0's programme (found by the programme, before any playlist) and for the
orphan (a 404 after reading every playlist of the province since it was made). The
baseline, in the same run: the same file through a signed M3U8 link, which reads no
token and checks no scope; and through an admin's token (a token, no scope check).
"""

import argparse
import os
import statistics
import time
from datetime import datetime, timedelta
from datetime import time as day_time

from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlmodel import select

from api.access import reads_audio
from api.app import create_app
from api.auth import audio_query, principal_for_device
from audio.models import AssetOrigin, AudioAsset, Programme
from audio.store import MediaStore
from bench.pull_storm import COMMUNE_TIMES, _relay, build_tree, local_today, scratch_database
from core.db import session_scope
from core.identity import create_device_token, create_user, issue_access_token
from core.models import DeviceToken, Role
from core.settings import Settings
from scheduler.models import Booking, Station
from scheduler.playlists import BATCH_STATIONS, generate_stations
from scheduler.recurrence import Recurrence, rule_to_json


def _asset(store: MediaStore, *, kib: int, made: datetime) -> AudioAsset:
    sha256, size = store.write_bytes(os.urandom(kib * 1024), ext="mp3")
    return AudioAsset(
        sha256=sha256,
        origin=AssetOrigin.programme,
        format="mp3",
        size=size,
        duration_s=240.0,
        created_at=made,
    )


def _booking(station_id: int, programme_id: int, at: str, start) -> dict:
    return {
        **_relay(station_id, f"Chương trình {at}", at, start),
        "source": "programme",
        "relay_url": None,
        "duration_s": None,
        "programme_id": programme_id,
        "recurrence": rule_to_json(Recurrence(freq="daily", start=start)),
    }


def build(engine, store: MediaStore, *, communes: int, days: int, kib: int) -> dict[str, str]:
    """The province, its programmes, files and bookings; return the files each case asks for."""
    today = local_today()
    start = today - timedelta(days=days)
    made = datetime.combine(start, day_time(0)).astimezone()
    build_tree(engine, communes=communes, clusters=1, start=today + timedelta(days=3650))
    files = {}
    with session_scope(engine) as session:
        ids = session.exec(select(Station.id, Station.code).where(Station.kind == "commune")).all()
        bookings = []
        for station_id, code in ids:
            for n, at in enumerate(COMMUNE_TIMES):
                asset = _asset(store, kib=kib, made=made)
                programme = Programme(
                    station_id=station_id, title=f"CT {n}", asset_sha256=asset.sha256
                )
                session.add_all([asset, programme])
                session.flush()
                bookings.append(_booking(station_id, programme.id, at, start))
                files.setdefault(code, asset.sha256)
        xa0 = next(station_id for station_id, code in ids if code == "XA-0")
        late = _asset(store, kib=kib, made=made)
        late_programme = Programme(station_id=xa0, title="Muộn", asset_sha256=late.sha256)
        orphan = _asset(store, kib=kib, made=made)
        session.add_all([late, late_programme, orphan])
        session.flush()
        bookings.append(_booking(xa0, late_programme.id, "17:20", today))
        session.execute(insert(Booking), bookings)
        files["late"], files["orphan"] = late.sha256, orphan.sha256
    station_ids = [station_id for station_id, _ in ids]
    every_day = [start + timedelta(days=n) for n in range(days + 8)]
    for first in range(0, len(station_ids), BATCH_STATIONS):
        with session_scope(engine, write=True) as session:
            generate_stations(
                session,
                station_ids=station_ids[first : first + BATCH_STATIONS],
                days=every_day,
                base_url="http://127.0.0.1:8000",
            )
    return files


def callers(engine, settings: Settings) -> dict[str, dict[str, str]]:
    """Bearer headers of XA-0's device, the province's auditor and an admin."""
    with session_scope(engine) as session:
        stations = dict(session.exec(select(Station.code, Station.id)).all())
        _, device = create_device_token(
            session, station_id=stations["XA-0"], cluster_id=None, name="agent", created_by="b"
        )
        headers = {"device": {"Authorization": f"Bearer {device}"}}
        for username, role, station in (
            ("thanhtra", Role.auditor, stations["TINH-BENCH"]),
            ("quantri", Role.admin, None),
        ):
            user = create_user(
                session,
                username=username,
                password="mật-khẩu-đủ-dài",
                role=role,
                station_id=station,
            )
            token = issue_access_token(settings=settings, user=user).token
            headers[username] = {"Authorization": f"Bearer {token}"}
    return headers


def timed(
    client: TestClient, cases: list[tuple[str, str, dict, int]], *, requests: int
) -> dict[str, list[float]]:
    """Seconds per request of each case, the cases taken in turn so that the machine's
    load weighs on all alike; each answer is checked for the status expected."""
    took: dict[str, list[float]] = {name: [] for name, _, _, _ in cases}
    for _ in range(requests):
        for name, url, headers, status in cases:
            began = time.perf_counter()
            answer = client.get(url, headers=headers)
            took[name].append(time.perf_counter() - began)
            assert answer.status_code == status, (url, answer.status_code, answer.text[:200])
    return took


def check_alone(engine, files: dict[str, str], *, requests: int) -> dict[str, list[float]]:
    """Seconds per scope check of XA-0's device, and per read of a file's row (the floor)."""
    with session_scope(engine) as session:
        device = session.exec(select(DeviceToken)).first()
        principal = principal_for_device(device)
        took: dict[str, list[float]] = {}
        for name, sha256 in (
            ("a file it airs daily", files["XA-0"]),
            ("old file booked from today", files["late"]),
            ("another commune's file", files["XA-1"]),
        ):
            asset = session.get(AudioAsset, sha256)
            took[name] = []
            for _ in range(requests):
                began = time.perf_counter()
                reads_audio(session, principal, asset)
                took[name].append(time.perf_counter() - began)
        took["row"] = []
        for _ in range(requests):
            session.expunge_all()
            began = time.perf_counter()
            session.get(AudioAsset, files["XA-0"])
            took["row"].append(time.perf_counter() - began)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communes", type=int, default=20)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--kib", type=int, default=64, help="size of each file")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with scratch_database(args.database_url) as scratch:
        settings = Settings(data_dir=scratch.data_dir, database_url=scratch.url)
        began = time.perf_counter()
        files = build(
            scratch.engine,
            MediaStore(settings.media_path),
            communes=args.communes,
            days=args.days,
            kib=args.kib,
        )
        headers = callers(scratch.engine, settings)
        print(
            f"{args.communes} communes × {args.days + 8} days of playlists, "
            f"{args.kib} KiB files: built in {time.perf_counter() - began:.1f} s"
        )
        own, other = files["XA-0"], files["XA-1"]
        expires = int(time.time()) + 3600
        signed = f"/api/v1/audio/{own}?" + audio_query(
            settings=settings, sha256=own, expires=expires
        )
        cases = [
            ("signed link (baseline: no token, no scope)", signed, "nobody", 200),
            ("admin token (baseline: token, no scope)", f"/api/v1/audio/{own}", "quantri", 200),
            ("device, a file it airs daily", f"/api/v1/audio/{own}", "device", 200),
            ("device, old file booked from today", f"/api/v1/audio/{files['late']}", "device", 200),
            ("device, another commune's file (404)", f"/api/v1/audio/{other}", "device", 404),
            ("province auditor, a commune's programme", f"/api/v1/audio/{own}", "thanhtra", 200),
            (
                "province auditor, a file nobody uses (404)",
                f"/api/v1/audio/{files['orphan']}",
                "thanhtra",
                404,
            ),
        ]
        cases = [(name, url, headers.get(who, {}), status) for name, url, who, status in cases]
        with TestClient(create_app(settings)) as client:
            timed(client, cases, requests=10)  # warm up
            results = timed(client, cases, requests=args.requests)
            checks = check_alone(scratch.engine, files, requests=args.requests)
        base = statistics.median(results[cases[0][0]])
        print(f"{'case':<46} {'median':>9} {'p99':>9} {'/ signed':>9}")
        for name, took in results.items():
            p99 = sorted(took)[max(0, int(len(took) * 0.99) - 1)]
            median = statistics.median(took)
            print(f"{name:<46} {median * 1000:>7.2f}ms {p99 * 1000:>7.2f}ms {median / base:>8.2f}x")
        print("the device's scope check alone (reads_audio), against reading the file's row:")
        floor = statistics.median(checks.pop("row"))
        for name, took in checks.items():
            median = statistics.median(took)
            print(f"  {name:<44} {median * 1e6:>7.0f}µs {median / floor:>8.2f}x the row")
        print(f"  {'session.get(AudioAsset) (floor)':<44} {floor * 1e6:>7.0f}µs")


if __name__ == "__main__":
    main()
