"""Airing records: idempotent, checked against the schedule, late and out of order, chained."""

import hashlib
import json
import re
import threading
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, func, select

from audio.models import Recording
from core.clock import utcnow
from core.db import session_scope
from scheduler.airings import (
    HASHED,
    flag_missed,
    hash_template,
    ingest_airings,
    record_hash,
    verify_chain,
)
from scheduler.models import AiringIn, AiringRecord, AiringStatus, Station
from scheduler.playlists import generate_playlist
from tests.processes import cli_env, run_cli

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
WINDOWS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"}]


def _today() -> date:
    return utcnow().astimezone(ZONE).date()


@pytest.fixture
def aired(client, newsroom) -> dict:
    """XA-A and XA-B air a daily relay at 05:30; XA-A has two clusters and a device."""
    for code in ("XA-A", "XA-B"):
        client.patch(
            f"/api/v1/stations/{code}", headers=newsroom.planner, json={"windows": WINDOWS}
        )
        response = client.post(
            "/api/v1/bookings",
            headers=newsroom.planner,
            json={
                "station": code,
                "source": "relay",
                "relay_url": "http://vov.example/vov1",
                "duration_s": 600,
                "title": "Tiếp sóng VOV1",
                "at": "05:30",
                "recurrence": {"freq": "daily", "start": (_today() - timedelta(10)).isoformat()},
            },
        )
        assert response.status_code == 201, response.text
    for cluster in ("BAN-A", "BAN-B"):
        client.post(
            "/api/v1/stations/XA-A/clusters",
            headers=newsroom.planner,
            json={"code": cluster, "name": f"Cụm {cluster}"},
        )
    device = client.post(
        "/api/v1/stations/XA-A/device-tokens", headers=newsroom.planner, json={"name": "Máy xã A"}
    ).json()["token"]
    bound = client.post(
        "/api/v1/stations/XA-A/device-tokens",
        headers=newsroom.planner,
        json={"name": "Bộ thu bản A", "cluster": "BAN-A"},
    ).json()["token"]
    entries = {}
    for code, back in (("XA-A", 1), ("XA-A", 3), ("XA-B", 1)):
        day = _today() - timedelta(back)
        playlist = client.get(
            f"/api/v1/stations/{code}/playlists/{day.isoformat()}", headers=newsroom.planner
        ).json()
        entries[(code, back)] = playlist["entries"][0]
    return {
        "reader": newsroom.planner,  # the log is for people: devices only post to it
        "device": {"Authorization": f"Bearer {device}"},
        "bound": {"Authorization": f"Bearer {bound}"},
        "yesterday": entries[("XA-A", 1)],
        "three_days_ago": entries[("XA-A", 3)],
        "other_station": entries[("XA-B", 1)],
    }


def _record(entry: dict, *, delay: int = 2, length: int = 600, **extra) -> dict:
    start = datetime.fromisoformat(entry["start"]) + timedelta(seconds=delay)
    return {
        "id": str(uuid.uuid4()),
        "entry_id": entry["id"],
        "cluster": "BAN-A",
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(seconds=length)).isoformat(),
        "status": "aired",
        **extra,
    }


def _post(client, headers, *records, station: str = "XA-A"):
    return client.post(
        f"/api/v1/stations/{station}/airings", headers=headers, json={"records": list(records)}
    )


def _count(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(AiringRecord)).one()


def test_a_record_is_kept_once_however_often_it_is_sent(client, aired, engine) -> None:
    record = _record(aired["yesterday"])
    first = _post(client, aired["device"], record)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": [record["id"]], "duplicates": [], "rejected": []}
    again = _post(client, aired["device"], record, record)
    assert again.json() == {"accepted": [], "duplicates": [record["id"]] * 2, "rejected": []}
    assert _count(engine) == 1

    [row] = client.get("/api/v1/stations/XA-A/airings", headers=aired["reader"]).json()
    # Scheduled and actual side by side, with the plan's ids echoed back.
    assert row["id"] == record["id"]
    assert row["scheduled_start"] == datetime.fromisoformat(aired["yesterday"]["start"]).astimezone(
        ZoneInfo("UTC")
    ).isoformat().replace("+00:00", "Z")
    assert row["booking_id"] == aired["yesterday"]["booking_id"]
    assert (row["source"], row["recorded_by"], row["cluster"], row["seq"]) == (
        "device",
        "device:Máy xã A",
        "BAN-A",
        1,
    )
    assert row["day"] == (_today() - timedelta(1)).isoformat()


def test_bad_records_are_refused_one_by_one_and_the_rest_kept(client, aired, engine) -> None:
    good = _record(aired["yesterday"])
    late = _record(aired["three_days_ago"])
    now = utcnow()
    bad = {
        "unknown": _record(aired["yesterday"], entry_id="occ_000000000000000000000000"),
        "other": _record(aired["other_station"]),
        "backwards": _record(aired["yesterday"], length=-60),
        "far": _record(aired["yesterday"], delay=9 * 3600),
        "future": {
            **_record(aired["yesterday"]),
            "started_at": (now + timedelta(hours=1)).isoformat(),
            "ended_at": (now + timedelta(hours=2)).isoformat(),
        },
        "no_reason": _record(aired["yesterday"], status="skipped"),
        "cluster": _record(aired["yesterday"], cluster="BAN-Z"),
        "corrects": _record(aired["yesterday"], corrects="never-sent"),
        "naive": _record(aired["yesterday"], started_at="2026-11-20T05:30:00"),
        "source": _record(aired["yesterday"], source="operator"),
    }
    response = _post(client, aired["device"], good, *bad.values(), late)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == [good["id"], late["id"]]
    reasons = {r["id"]: r["reason"] for r in body["rejected"]}
    assert set(reasons) == {r["id"] for r in bad.values()}
    expected = {
        "unknown": "không có trong lịch của đài XA-A",
        "other": "không có trong lịch của đài XA-A",
        "backwards": "giờ kết thúc trước giờ bắt đầu",
        "far": "cách giờ trong lịch",
        "future": "tương lai",
        "no_reason": "cần ghi lý do",
        "cluster": "không có cụm loa BAN-Z",
        "corrects": "để đính chính",
        "naive": "múi giờ",
        "source": "nguồn bản ghi",
    }
    for name, fragment in expected.items():
        assert fragment in reasons[bad[name]["id"]], (name, reasons[bad[name]["id"]])
    assert _count(engine) == 2


def test_late_and_out_of_order_records_are_accepted_in_arrival_order(client, aired) -> None:
    newer = _record(aired["yesterday"])
    older = _record(aired["three_days_ago"], status="partial", length=120, reason="mất điện")
    assert _post(client, aired["device"], newer).json()["accepted"] == [newer["id"]]
    assert _post(client, aired["device"], older).json()["accepted"] == [older["id"]]
    rows = client.get("/api/v1/stations/XA-A/airings", headers=aired["reader"]).json()
    assert [(r["id"], r["seq"]) for r in rows] == [(newer["id"], 1), (older["id"], 2)]
    by_day = client.get(
        "/api/v1/stations/XA-A/airings",
        headers=aired["reader"],
        params={"to": (_today() - timedelta(2)).isoformat()},
    ).json()
    assert [r["id"] for r in by_day] == [older["id"]]


def test_a_reused_id_with_other_content_is_refused_and_changes_nothing(client, aired) -> None:
    record = _record(aired["yesterday"])
    _post(client, aired["device"], record)
    changed = {**record, "status": "failed", "reason": "hỏng loa"}
    body = _post(client, aired["device"], changed).json()
    assert body["accepted"] == [] and "đã dùng" in body["rejected"][0]["reason"]
    [row] = client.get("/api/v1/stations/XA-A/airings", headers=aired["reader"]).json()
    assert row["status"] == "aired"


def test_an_operator_correction_is_a_new_record_referring_to_the_old(
    client, aired, newsroom
) -> None:
    record = _record(aired["yesterday"])
    _post(client, aired["device"], record)
    correction = _record(
        aired["yesterday"], status="partial", length=300, reason="cụm loa tắt giữa chừng"
    )
    correction["corrects"] = record["id"]
    body = _post(client, newsroom.operator, correction).json()
    assert body["accepted"] == [correction["id"]], body
    rows = client.get("/api/v1/stations/XA-A/airings", headers=newsroom.operator).json()
    assert [(r["status"], r["corrects"], r["source"]) for r in rows] == [
        ("aired", None, "device"),
        ("partial", record["id"], "operator"),
    ]


def test_a_cluster_device_reports_for_its_own_cluster_only(client, aired) -> None:
    mine = {**_record(aired["yesterday"]), "cluster": None}
    other = _record(aired["yesterday"], cluster="BAN-B")
    body = _post(client, aired["bound"], mine, other).json()
    assert body["accepted"] == [mine["id"]]
    assert "BAN-A" in body["rejected"][0]["reason"]
    [row] = client.get("/api/v1/stations/XA-A/airings", headers=aired["reader"]).json()
    assert row["cluster"] == "BAN-A"


def test_a_malformed_batch_is_a_problem_report_and_stores_nothing(client, aired, engine) -> None:
    good = _record(aired["yesterday"])
    broken = {**_record(aired["yesterday"]), "status": "played loudly"}
    response = _post(client, aired["device"], good, broken)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    bad_id = _post(client, aired["device"], {**good, "id": "../../etc/passwd"})
    assert bad_id.status_code == 422
    too_many = _post(client, aired["device"], *[_record(aired["yesterday"])] * 1001)
    assert too_many.status_code == 422
    assert _count(engine) == 0


def test_only_those_responsible_for_the_station_may_report(client, aired, newsroom) -> None:
    record = _record(aired["yesterday"])
    assert _post(client, newsroom.other_operator, record).status_code == 403
    assert _post(client, {}, record).status_code == 401


def _tamper(engine, sql: str, **params) -> None:
    # Whoever edits the log directly must first remove the database's own guard.
    with session_scope(engine) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ALTER TABLE airing_record DISABLE TRIGGER USER"))
            session.execute(text(sql), params)
            session.execute(text("ALTER TABLE airing_record ENABLE TRIGGER USER"))
        else:
            session.execute(text("DROP TRIGGER airing_record_no_update"))
            session.execute(text("DROP TRIGGER airing_record_no_delete"))
            session.execute(text(sql), params)


def _verify(client, headers) -> dict:
    response = client.get("/api/v1/stations/XA-A/airings/verify", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _three_records(client, aired) -> list[dict]:
    records = [_record(aired["yesterday"], delay=d) for d in (1, 2, 3)]
    for record in records:
        _post(client, aired["device"], record)
    return records


def test_the_database_refuses_to_rewrite_the_log(client, aired, engine) -> None:
    _three_records(client, aired)
    for statement in ("UPDATE airing_record SET status = 'skipped'", "DELETE FROM airing_record"):
        with pytest.raises(DBAPIError), session_scope(engine) as session:
            session.execute(text(statement))
    assert _count(engine) == 3


def test_an_altered_record_breaks_the_chain_where_it_was_altered(client, aired, newsroom, engine):
    records = _three_records(client, aired)
    assert _verify(client, newsroom.planner) == {
        "station": "XA-A",
        "records": 3,
        "ok": True,
        "first_broken": None,
        "purged": 0,
    }
    _tamper(
        engine,
        "UPDATE airing_record SET status = 'skipped' WHERE client_id = :id",
        id=records[1]["id"],
    )
    report = _verify(client, newsroom.planner)
    assert report["ok"] is False
    assert report["first_broken"]["seq"] == 2
    assert report["first_broken"]["id"] == records[1]["id"]
    assert "sửa" in report["first_broken"]["problem"]


def test_a_deleted_record_is_reported_as_missing(client, aired, newsroom, engine) -> None:
    records = _three_records(client, aired)
    _tamper(engine, "DELETE FROM airing_record WHERE client_id = :id", id=records[1]["id"])
    report = _verify(client, newsroom.planner)
    assert (report["ok"], report["first_broken"]["seq"]) == (False, 2)
    assert "xoá" in report["first_broken"]["problem"]


def test_removing_the_newest_record_is_noticed_too(client, aired, newsroom, engine) -> None:
    records = _three_records(client, aired)
    _tamper(engine, "DELETE FROM airing_record WHERE client_id = :id", id=records[2]["id"])
    report = _verify(client, newsroom.planner)
    assert report["ok"] is False and report["first_broken"]["seq"] == 3


def test_a_rewritten_record_with_a_fresh_hash_breaks_the_next_link(
    client, aired, newsroom, engine
) -> None:
    records = _three_records(client, aired)
    with Session(engine) as session:
        row = session.exec(
            select(AiringRecord).where(AiringRecord.client_id == records[0]["id"])
        ).one()
        forged = row.model_dump()
    forged["status"] = "skipped"
    _tamper(
        engine,
        "UPDATE airing_record SET status = 'skipped', hash = :hash WHERE client_id = :id",
        hash=record_hash(forged),
        id=records[0]["id"],
    )
    report = _verify(client, newsroom.planner)
    assert report["first_broken"]["seq"] == 2
    assert "liên kết" in report["first_broken"]["problem"]


def test_concurrent_batches_for_one_station_keep_one_unbroken_chain(client, aired, engine):
    entry = aired["yesterday"]
    batches = [[AiringIn(**_record(entry, delay=n)) for n in range(20)] for _ in range(4)]
    errors = []

    def send(batch: list[AiringIn]) -> None:
        try:
            with session_scope(engine, write=True) as session:
                station = session.exec(select(Station).where(Station.code == "XA-A")).one()
                ingest_airings(
                    session, station=station, records=batch, source="device", recorded_by="t"
                )
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(engine) as session:
        station = session.exec(select(Station).where(Station.code == "XA-A")).one()
        check = verify_chain(session, station=station, batch=7)
        seqs = session.exec(select(AiringRecord.seq).order_by(AiringRecord.seq)).all()
    assert check.ok and check.records == 80
    assert list(seqs) == list(range(1, 81))


def test_entries_nobody_reported_are_flagged_until_a_late_report_arrives(
    client, aired, newsroom, engine
) -> None:
    with session_scope(engine) as session:
        first = flag_missed(session)
    with session_scope(engine) as session:
        again = flag_missed(session)
    assert first >= 2 and again == 0, "each entry is flagged once"
    path = "/api/v1/stations/XA-A/airings/missed"
    flagged = client.get(path, headers=newsroom.operator).json()
    assert aired["yesterday"]["id"] in [m["entry_id"] for m in flagged]
    assert all(m["station"] == "XA-A" for m in flagged)
    province = client.get(
        "/api/v1/stations/TINH-P/airings/missed",
        headers=newsroom.planner,
        params={"subtree": True},
    ).json()
    assert {m["station"] for m in province} == {"XA-A", "XA-B"}

    _post(client, aired["device"], _record(aired["yesterday"]))
    cleared = client.get(path, headers=newsroom.operator).json()
    assert aired["yesterday"]["id"] not in [m["entry_id"] for m in cleared]
    assert len(cleared) == len(flagged) - 1
    too_long = client.get(
        path, headers=newsroom.operator, params={"from": "2020-01-01", "to": "2026-01-01"}
    )
    assert too_long.status_code == 422


def test_the_command_line_reports_the_first_broken_link(
    client, aired, engine, database_url, tmp_path
) -> None:
    records = _three_records(client, aired)
    env = cli_env(database_url=database_url, data_dir=tmp_path / "cli")
    intact = run_cli("airings", "verify", "XA-A", env=env)
    assert intact.returncode == 0, intact.stderr
    assert "XA-A: nguyên vẹn, 3 bản ghi." in intact.stdout
    _tamper(engine, "DELETE FROM airing_record WHERE client_id = :id", id=records[0]["id"])
    broken = run_cli("airings", "verify", "--json", env=env)
    assert broken.returncode == 1
    report = {s["station"]: s for s in json.loads(broken.stdout)["stations"]}
    assert report["XA-A"]["first_broken"]["seq"] == 1
    assert report["XA-B"]["ok"] is True


def test_the_operator_prints_the_days_programme_sheet(client, aired) -> None:
    day = _today() - timedelta(1)
    path = f"/stations/XA-A/sheet/{day.isoformat()}"
    location = client.get(path, follow_redirects=False).headers["location"]
    assert location == "/login?next=" + path.replace("/", "%2F")
    _web_login(client)
    sheet = client.get(path)
    assert sheet.status_code == 200
    html = sheet.text
    assert f"Chương trình phát thanh ngày {day:%d/%m/%Y}" in html
    assert "05:30–05:40" in html and "10 phút" in html and "Tiếp sóng VOV1" in html
    assert "Người trực phát thanh" in html
    other = client.get(f"/stations/XA-B/sheet/{day.isoformat()}")
    assert other.status_code == 403 and "ngoài phạm vi" in other.text


def _web_login(client) -> str:
    login = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    client.post(
        "/login",
        data={"username": "vanhanh", "password": "mật-khẩu-đủ-dài", "csrf_token": token},
    )
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)


def test_the_operator_confirms_and_corrects_airings_on_the_day_page(client, aired, engine):
    token = _web_login(client)
    day = (_today() - timedelta(1)).isoformat()
    page = client.get(f"/stations/XA-A/day/{day}")
    assert page.status_code == 200
    assert "Tiếp sóng VOV1" in page.text and "chưa có báo cáo, đã quá giờ" in page.text
    form = {"csrf_token": token, "entry_id": aired["yesterday"]["id"]}
    url = f"/stations/XA-A/day/{day}/airings"

    refused = client.post(url, data={**form, "status": "skipped", "started": "", "ended": ""})
    assert refused.status_code == 422 and "cần ghi lý do" in refused.text
    assert _count(engine) == 0
    assert client.post(url, data={**form, "csrf_token": "x", "status": "aired"}).status_code == 403

    done = client.post(
        url,
        data={**form, "status": "aired", "started": "05:30", "ended": "05:40"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "đã phát lúc 05:30 (cán bộ xác nhận)" in client.get(done.headers["location"]).text
    fixed = client.post(
        url,
        data={
            **form,
            "status": "partial",
            "started": "05:30",
            "ended": "05:35",
            "reason": "mất điện",
        },
    )
    assert fixed.status_code == 200 and "phát một phần lúc 05:30" in fixed.text
    rows = client.get("/api/v1/stations/XA-A/airings", headers=aired["reader"]).json()
    assert [(r["status"], r["source"], r["recorded_by"]) for r in rows] == [
        ("aired", "operator", "vanhanh"),
        ("partial", "operator", "vanhanh"),
    ]
    assert rows[1]["corrects"] == rows[0]["id"]


def test_a_recording_upload_needs_the_forms_token_and_real_audio(client, newsroom, engine) -> None:
    token = _web_login(client)
    form = {"item": str(newsroom.item_id), "language": "blt", "speaker": "Lò Văn Pản"}
    noise = {"file": ("ghi-am.mp3", b"not audio at all", "audio/mpeg")}
    forged = client.post("/recordings/new", data={**form, "csrf_token": "x"}, files=noise)
    assert forged.status_code == 403
    refused = client.post("/recordings/new", data={**form, "csrf_token": token}, files=noise)
    assert refused.status_code == 422 and 'id="file-error"' in refused.text
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Recording)).one() == 0


def test_an_entry_a_bulletin_pushed_out_can_still_be_reported(client, aired, newsroom, engine):
    yesterday = _today() - timedelta(1)
    relay = aired["yesterday"]
    bulletin = client.post(
        "/api/v1/bookings",
        headers=newsroom.planner,
        json={
            "station": "XA-A",
            "source": "relay",
            "relay_url": "http://vov.example/khancap",
            "duration_s": 120,
            "title": "Tin khẩn cấp",
            "priority": "emergency",
            "at": "05:32",
            "recurrence": {"freq": "once", "start": yesterday.isoformat()},
        },
    )
    assert bulletin.status_code == 201, bulletin.text
    base = client.app.state.settings.public_base_url
    with session_scope(engine) as session:
        station = session.exec(select(Station).where(Station.code == "XA-A")).one()
        playlist = generate_playlist(session, station=station, day=yesterday, base_url=base)
        assert playlist.frozen_at is not None
        assert relay["id"] not in [e["id"] for e in playlist.body["entries"]]
        assert [e["id"] for e in playlist.body["displaced"]] == [relay["id"]]
    cut = _record(relay, length=120, status="partial", reason="ngắt bởi tin khẩn cấp")
    assert _post(client, aired["device"], cut).json()["accepted"] == [cut["id"]]


def _hash_as_first_written(row: dict) -> str:
    # The chain's canonical form as it was first defined: every stored hash depends on it.
    def canonical(value):
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        if isinstance(value, date):
            return value.isoformat()
        return str(value) if hasattr(value, "value") else value

    text = json.dumps(
        {name: canonical(row[name]) for name in HASHED},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()


_moments = st.datetimes(
    min_value=datetime(2000, 1, 1), timezones=st.sampled_from([UTC, timezone(timedelta(hours=7))])
)
_values = st.one_of(
    st.none(),
    st.integers(),
    st.text(),
    _moments,
    st.dates(),
    st.sampled_from(list(AiringStatus)),
)


@examples(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({name: _values for name in HASHED}))
def test_the_chain_hash_is_the_one_every_stored_record_was_hashed_with(row) -> None:
    assert record_hash(row) == _hash_as_first_written(row)
    # Ingestion hashes a batch's records about one entry from the first one's template.
    assert record_hash(row, hash_template(row)) == _hash_as_first_written(row)
