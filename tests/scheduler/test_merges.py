"""Merging, moving and renaming stations: what moves, what stays, and reports that agree
before and after (both backends, through the real app)."""

import json
import re
from datetime import date, timedelta

from sqlmodel import Session, col, select

from core.db import session_scope
from core.models import AuditEvent, DeviceToken, User
from scheduler.models import AiringRecord, Booking, Cluster, Playlist, Station, StationMerge
from tests.faults.world import local_today, relay
from tests.processes import cli_env, run_cli
from tests.scheduler.merge_world import (
    PASSWORD,
    PROVINCE,
    SOURCE,
    TARGET,
    aired,
    build_merge_world,
    snapshot,
)

BASE = "http://127.0.0.1:8000"


def _bearer(client, username: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _report(client, headers, station: str, first: date, last: date) -> dict:
    answer = client.get(
        "/api/v1/reports/compliance",
        params={"station": station, "period": f"{first}..{last}"},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _playlists(engine, code: str) -> dict[date, tuple]:
    with Session(engine) as session:
        station = session.exec(select(Station).where(Station.code == code)).one()
        return {
            p.day: (p.version, p.etag, p.body)
            for p in session.exec(select(Playlist).where(Playlist.station_id == station.id))
        }


def _times(body: dict, cluster: str | None = None) -> list[tuple[str, list[str]]]:
    return [
        (e["start"][11:16], e["clusters"])
        for e in body["entries"]
        if cluster is None or cluster in e["clusters"] or "*" in e["clusters"]
    ]


def test_a_merge_moves_what_goes_on_and_history_reads_the_same(client, engine) -> None:
    world = build_merge_world(engine, base_url=BASE)
    admin, planner = _bearer(client, "quantri"), _bearer(client, "kh_tinh")
    first, last = world.days[0], world.days[-1]

    before = snapshot(engine)
    preview = client.post(
        f"/api/v1/stations/{SOURCE}/merge", json={"into": TARGET, "dry_run": True}, headers=admin
    )
    assert preview.status_code == 200, preview.text
    plan = preview.json()
    assert snapshot(engine) == before, "a preview changes nothing"
    assert plan["done"] is False and plan["clashes"] == []
    assert [(c["from"], c["to"]) for c in plan["clusters"]] == [
        ("BAN-A", "BAN-A"),
        ("BAN-B", "BAN-B"),
    ]
    assert len(plan["bookings"]) == 2 and len(plan["devices"]) == 2
    assert plan["users"] == ["kh_nguon", "vh_nguon"] and len(plan["content_items"]) == 1
    effective = date.fromisoformat(plan["effective_day"])
    assert local_today() <= effective <= local_today() + timedelta(days=2)
    history = (first, effective - timedelta(days=1))
    province_history = _report(client, admin, PROVINCE, *history)
    province_whole = _report(client, admin, PROVINCE, first, last)
    parts = [_report(client, admin, code, *history)["totals"] for code in (SOURCE, TARGET)]
    source_days, target_days = _playlists(engine, SOURCE), _playlists(engine, TARGET)

    merged = client.post(f"/api/v1/stations/{SOURCE}/merge", json={"into": TARGET}, headers=planner)
    assert merged.status_code == 200, merged.text
    assert merged.json() | {"done": False} == plan, "the merge did what the preview said"

    # History: the province's totals for the days before the merge are the same, and the
    # target's report now counts the source's planned and aired units.
    assert _report(client, admin, PROVINCE, *history)["totals"] == province_history["totals"]
    assert (
        _report(client, admin, PROVINCE, *history)["by_station"] == province_history["by_station"]
    )
    target_now = _report(client, admin, TARGET, *history)["totals"]
    for name in ("planned", "aired", "missing"):
        assert target_now[name] == parts[0][name] + parts[1][name], name
    assert target_now["planned"] > 0 and target_now["aired"] > 0
    # The whole period: the same, except the target's station-wide 20:00 relay now reaches
    # the two clusters that joined it, on each day from the merge on.
    whole = _report(client, admin, PROVINCE, first, last)["totals"]
    joined_days = len([d for d in world.days if d >= effective])
    assert whole["planned"] == province_whole["totals"]["planned"] + 2 * joined_days
    assert whole["missing"] == province_whole["totals"]["missing"] + 2 * joined_days
    assert whole["aired"] == province_whole["totals"]["aired"]

    # Days before the effective day, frozen or past, are not rewritten; the source's later
    # days are gone and the target's carry the moved bookings on the moved clusters.
    after_source, after_target = _playlists(engine, SOURCE), _playlists(engine, TARGET)
    assert after_source == {d: v for d, v in source_days.items() if d < effective}
    for day, value in target_days.items():
        if day < effective:
            assert after_target[day] == value
        else:
            assert _times(after_target[day][2]) == [
                ("05:30", ["BAN-A", "BAN-B"]),
                ("06:00", ["*"]),
                ("11:00", ["BAN-A"]),
                ("17:00", ["BAN-C"]),
                ("20:00", ["*"]),
            ]

    with Session(engine) as session:
        source = session.exec(select(Station).where(Station.code == SOURCE)).one()
        target = session.exec(select(Station).where(Station.code == TARGET)).one()
        assert source.merged_into_id == target.id
        assert session.exec(select(StationMerge)).one().effective_day == effective
        assert sorted(
            session.exec(select(Cluster.code).where(Cluster.station_id == target.id))
        ) == ["BAN-A", "BAN-B", "BAN-C"]
        assert not session.exec(select(Booking).where(Booking.station_id == source.id)).all()
        assert {d.station_id for d in session.exec(select(DeviceToken))} == {target.id}
        assert {
            u.username for u in session.exec(select(User).where(User.station_id == target.id))
        } == {"kh_nguon", "vh_nguon"}
        # Every move is in the audit trail, signed by the planner.
        moves = session.exec(select(AuditEvent).where(AuditEvent.actor_name == "kh_tinh")).all()
        moved = {(e.object_type, e.action) for e in moves}
        assert {
            ("cluster", "update"),
            ("booking", "update"),
            ("device_token", "update"),
            ("user", "update"),
            ("content_item", "update"),
            ("station", "update"),
            ("station_merge", "create"),
        } <= moved
        cluster_moves = [e for e in moves if e.object_type == "cluster"]
        assert all(e.change["station_id"] == [source.id, target.id] for e in cluster_moves)

    # The source stays, read-only, and its log still verifies.
    assert client.get(f"/api/v1/stations/{SOURCE}", headers=admin).status_code == 200
    for code in (SOURCE, TARGET):
        check = client.get(f"/api/v1/stations/{code}/airings/verify", headers=admin).json()
        assert check["ok"] and check["records"] > 0, check
    for method, path, body in (
        ("PATCH", f"/api/v1/stations/{SOURCE}", {"name": "Xã khác"}),
        ("POST", f"/api/v1/stations/{SOURCE}/clusters", {"code": "BAN-Z", "name": "Cụm Z"}),
        ("POST", f"/api/v1/stations/{SOURCE}/merge", {"into": TARGET}),
        (
            "POST",
            "/api/v1/bookings",
            {
                "station": SOURCE,
                "source": "relay",
                "relay_url": "http://vov.example/vov1",
                "title": "Tiếp sóng",
                "duration_s": 600,
                "at": "13:00",
                "recurrence": {"freq": "daily", "start": str(local_today() + timedelta(days=3))},
            },
        ),
    ):
        refused = client.request(method, path, json=body, headers=admin)
        assert refused.status_code == 409, refused.text
        assert TARGET in refused.json()["detail"] and "sáp nhập" in refused.json()["detail"]


def test_a_clash_is_refused_with_nothing_changed_and_a_rename_resolves_it(client, engine) -> None:
    world = build_merge_world(engine, base_url=BASE, clash=True)
    admin = _bearer(client, "quantri")
    before = snapshot(engine)
    refused = client.post(f"/api/v1/stations/{SOURCE}/merge", json={"into": TARGET}, headers=admin)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert [e["value"] for e in problem["errors"]] == ["BAN-A"]
    assert "BAN-A" in problem["detail"] and "đổi mã" in problem["detail"]
    assert snapshot(engine) == before, "a refused merge changes nothing"

    bad = client.post(
        f"/api/v1/stations/{SOURCE}/merge",
        json={"into": TARGET, "rename": {"BAN-Q": "BAN-Q2"}},
        headers=admin,
    )
    assert bad.status_code == 422 and snapshot(engine) == before

    merged = client.post(
        f"/api/v1/stations/{SOURCE}/merge",
        json={"into": TARGET, "rename": {"BAN-A": "BAN-A-NGUON"}},
        headers=admin,
    )
    assert merged.status_code == 200, merged.text
    effective = date.fromisoformat(merged.json()["effective_day"])
    later = _playlists(engine, TARGET)[effective + timedelta(days=1)][2]
    assert ("11:00", ["BAN-A-NGUON"]) in _times(later), "the Thái-zone booking follows its cluster"

    # The device of the renamed cluster: the source's kept days under the old code, the
    # target's days under the new one.
    device = {"Authorization": f"Bearer {world.tokens['nguon-ban-a']}"}
    yesterday = local_today() - timedelta(days=1)
    old = client.get(f"/api/v1/stations/{SOURCE}/playlists/{yesterday}", headers=device)
    assert old.status_code == 200, old.text
    assert old.json()["station"] == SOURCE
    assert [e["start"][11:16] for e in old.json()["entries"]] == ["05:30", "06:00", "11:00"]
    new = client.get(
        f"/api/v1/stations/{SOURCE}/playlists/{effective + timedelta(days=1)}", headers=device
    )
    assert new.json()["station"] == TARGET
    assert [e["start"][11:16] for e in new.json()["entries"]] == [
        "05:30",
        "06:00",
        "11:00",
        "20:00",
    ]
    # A running agent still asks for its cluster by the old code.
    asked = client.get(
        f"/api/v1/stations/{SOURCE}/playlists/{effective + timedelta(days=1)}",
        params={"cluster": "BAN-A"},
        headers=device,
    )
    assert asked.status_code == 200 and asked.json()["entries"] == new.json()["entries"]
    # Reports of a kept day land in the source's log under the old code, whichever code
    # the agent names the station and the cluster by.
    for n, (code, cluster) in enumerate(((SOURCE, "BAN-A"), (TARGET, "BAN-A-NGUON"))):
        entry = old.json()["entries"][n]
        record = aired(entry, cluster, tag=f"sau{n}").model_dump(mode="json")
        posted = client.post(
            f"/api/v1/stations/{code}/airings", json={"records": [record]}, headers=device
        )
        assert posted.json()["accepted"] == [record["id"]], posted.text
    with Session(engine) as session:
        kept = session.exec(
            select(AiringRecord).where(col(AiringRecord.client_id).startswith("rsau"))
        ).all()
        source = session.exec(select(Station).where(Station.code == SOURCE)).one()
        assert {(r.station_id, r.cluster) for r in kept} == {(source.id, "BAN-A")}


def test_moving_and_renaming_a_station_keeps_its_old_code_working(client, engine) -> None:
    world = build_merge_world(engine, base_url=BASE)
    admin = _bearer(client, "quantri")
    made = client.post(
        "/api/v1/stations",
        json={"code": "HUYEN-X", "name": "Khu vực X", "kind": "district", "parent": PROVINCE},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    with session_scope(engine, write=True) as session:
        district = session.exec(select(Station).where(Station.code == "HUYEN-X")).one()
        session.add(Booking(**relay(district.id, "08:00", start=local_today(), subtree=True)))
    before = _playlists(engine, SOURCE)

    moved = client.patch(f"/api/v1/stations/{SOURCE}", json={"parent": "HUYEN-X"}, headers=admin)
    assert moved.status_code == 200 and moved.json()["parent"] == "HUYEN-X", moved.text
    after = _playlists(engine, SOURCE)
    with Session(engine) as session:
        station = session.exec(select(Station).where(Station.code == SOURCE)).one()
        unfrozen = {
            p.day
            for p in session.exec(select(Playlist).where(Playlist.station_id == station.id))
            if p.frozen_at is None
        }
    assert unfrozen, "the coming days are not frozen yet"
    for day in unfrozen:
        assert "08:00" in [t for t, _ in _times(after[day][2])], day
    for day in set(before) - unfrozen:
        assert after[day] == before[day], f"past or frozen {day} is not rewritten"

    for moving, parent in ((SOURCE, TARGET), ("HUYEN-X", "HUYEN-X"), (PROVINCE, "HUYEN-X")):
        refused = client.patch(f"/api/v1/stations/{moving}", json={"parent": parent}, headers=admin)
        assert refused.status_code == 422, refused.text

    renamed = client.patch(
        f"/api/v1/stations/{SOURCE}", json={"code": "XA-NGUON-MOI"}, headers=admin
    )
    assert renamed.status_code == 200 and renamed.json()["code"] == "XA-NGUON-MOI", renamed.text
    old = client.get(f"/api/v1/stations/{SOURCE}", headers=admin)
    assert old.status_code == 200 and old.json()["code"] == "XA-NGUON-MOI"
    device = {"Authorization": f"Bearer {world.tokens['nguon-ban-a']}"}
    day = max(unfrozen)
    pulled = client.get(f"/api/v1/stations/{SOURCE}/playlists/{day}", headers=device)
    assert pulled.status_code == 200 and pulled.json()["station"] == "XA-NGUON-MOI", pulled.text
    taken = client.post(
        "/api/v1/stations",
        json={"code": SOURCE, "name": "Xã trùng", "kind": "commune", "parent": PROVINCE},
        headers=admin,
    )
    assert taken.status_code == 409, taken.text


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_merge_page_previews_then_merges(client, engine) -> None:
    build_merge_world(engine, base_url=BASE, clash=True)
    token = _csrf(client.get("/login").text)
    client.post("/login", data={"username": "quantri", "password": PASSWORD, "csrf_token": token})
    before = snapshot(engine)
    page = client.get(f"/stations/{SOURCE}/merge", params={"into": TARGET})
    assert page.status_code == 200
    assert "Trùng mã cụm loa" in page.text and "BAN-A" in page.text
    assert "Sáp nhập</button>" not in page.text, "no merge button while codes clash"
    page = client.get(
        f"/stations/{SOURCE}/merge", params={"into": TARGET, "rename": "BAN-A=BAN-A-NGUON"}
    )
    assert "Những gì sẽ chuyển sang đài XA-DICH" in page.text
    assert "BAN-A → BAN-A-NGUON" in page.text and "vh_nguon" in page.text
    assert snapshot(engine) == before, "a preview changes nothing"
    done = client.post(
        f"/stations/{SOURCE}/merge",
        data={"into": TARGET, "rename": "BAN-A=BAN-A-NGUON", "csrf_token": _csrf(page.text)},
    )
    assert done.status_code == 200, done.text
    assert "Đã sáp nhập đài XA-NGUON vào đài XA-DICH" in done.text
    again = client.post(
        f"/stations/{SOURCE}/merge",
        data={"into": TARGET, "rename": "", "csrf_token": _csrf(page.text)},
    )
    assert again.status_code == 409 and "đã sáp nhập vào đài XA-DICH" in again.text
    # The airing-log browser shows the merged station's log with the target's tree.
    log = client.get("/airings", params={"station": TARGET, "subtree": "1"})
    assert log.status_code == 200, log.text
    assert "Xã Nguồn (XA-NGUON): <strong>Nhật ký nguyên vẹn" in log.text
    assert '<td data-label="Đài">XA-NGUON</td>' in log.text


def test_the_command_line_previews_refuses_a_clash_and_merges_with_renames(
    tmp_path, engine, database_url
) -> None:
    build_merge_world(engine, base_url=BASE, clash=True)
    env = cli_env(database_url=database_url, data_dir=tmp_path / "data")
    before = snapshot(engine)
    preview = run_cli("stations", "merge", SOURCE, TARGET, "--dry-run", env=env)
    assert preview.returncode == 1, preview.stdout + preview.stderr
    assert "TRÙNG MÃ cụm loa: BAN-A" in preview.stdout and "chạy thử" in preview.stdout
    refused = run_cli("stations", "merge", SOURCE, TARGET, env=env)
    assert refused.returncode == 2 and "BAN-A" in refused.stderr, refused.stderr
    assert snapshot(engine) == before
    done = run_cli(
        "stations", "merge", SOURCE, TARGET, "--rename", "BAN-A=BAN-A-NGUON", "--json", env=env
    )
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert (
        plan["done"]
        and {"id": plan["clusters"][0]["id"], "from": "BAN-A", "to": "BAN-A-NGUON"}
        in plan["clusters"]
    )
    with Session(engine) as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.object_type == "station_merge")
        ).one()
        assert event.actor_name.startswith("cli:")
