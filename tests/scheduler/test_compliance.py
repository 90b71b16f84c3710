"""Planned against aired: periods, outcomes per cluster, corrections, requirements judged."""

import io
import random
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from audio.service import process_queue
from content.models import ContentItem, Plan, PlanRequirement
from core.clock import utcnow
from core.db import session_scope
from core.errors import InvalidError
from scheduler.airings import ingest_airings, rebuild_tallies
from scheduler.compliance import (
    Period,
    Scope,
    compliance,
    counts_of,
    parse_period,
    recount,
    tally_of,
)
from scheduler.models import AiringIn, Station
from scheduler.service import subtree_ids

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
WINDOWS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"}]


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026", date(2026, 1, 1), date(2026, 12, 31)),
        ("2026-H1", date(2026, 1, 1), date(2026, 6, 30)),
        ("2026-H2", date(2026, 7, 1), date(2026, 12, 31)),
        ("2026-Q3", date(2026, 7, 1), date(2026, 9, 30)),
        ("2028-02", date(2028, 2, 1), date(2028, 2, 29)),
        ("2026-W01", date(2025, 12, 29), date(2026, 1, 4)),
        ("2026-07-03..2026-07-05", date(2026, 7, 3), date(2026, 7, 5)),
    ],
)
def test_periods_are_named_as_the_plans_name_them(text, first, last) -> None:
    period = parse_period(text)
    assert (period.first, period.last) == (first, last)


@pytest.mark.parametrize(
    "text",
    ["2026-Q5", "2026-13", "26", "1900", "2000-01-01..2099-12-31", "2026-07-05..2026-07-01", "x"],
)
def test_bad_periods_are_refused(text) -> None:
    with pytest.raises(InvalidError):
        parse_period(text)


def _today() -> date:
    return utcnow().astimezone(ZONE).date()


@pytest.fixture
def scheduled(client, newsroom, engine) -> dict:
    """XA-A (clusters BAN-A, BAN-B) and XA-B (none) air a 10-minute relay daily at 05:30."""
    bookings = {}
    for code in ("XA-A", "XA-B"):
        client.patch(
            f"/api/v1/stations/{code}", headers=newsroom.planner, json={"windows": WINDOWS}
        )
        bookings[code] = client.post(
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
        ).json()["id"]
    for cluster in ("BAN-A", "BAN-B"):
        client.post(
            "/api/v1/stations/XA-A/clusters",
            headers=newsroom.planner,
            json={"code": cluster, "name": f"Cụm {cluster}"},
        )

    class Entries(dict):
        # Past playlists are made on first request and never change after: a test that
        # books more for those days must do so before it asks for them.
        def __missing__(self, key: tuple[str, int]) -> dict:
            code, back = key
            day = _today() - timedelta(back)
            playlist = client.get(
                f"/api/v1/stations/{code}/playlists/{day}", headers=newsroom.planner
            ).json()
            self[key] = next(e for e in playlist["entries"] if e["title"] == "Tiếp sóng VOV1")
            return self[key]

        def all(self) -> "Entries":
            for key in [(c, b) for c in ("XA-A", "XA-B") for b in (1, 2, 3)]:
                self[key]
            return self

    return {"entries": Entries(), "bookings": bookings}


def _send(engine, code: str, *records: dict, source: str = "device") -> list[str]:
    with session_scope(engine, write=True) as session:
        station = session.exec(select(Station).where(Station.code == code)).one()
        report = ingest_airings(
            session,
            station=station,
            records=[AiringIn(**r) for r in records],
            source=source,
            recorded_by="test",
        )
    assert not report.rejected, report.rejected
    return report.accepted


def _record(entry: dict, cluster: str | None, status: str = "aired", minutes: float = 10, **kw):
    start = datetime.fromisoformat(entry["start"])
    timed = status in ("aired", "partial")
    return {
        "id": kw.pop("id", str(uuid.uuid4())),
        "entry_id": entry["id"],
        "cluster": cluster,
        "status": status,
        "started_at": start.isoformat() if timed else None,
        "ended_at": (start + timedelta(minutes=minutes)).isoformat() if timed else None,
        "reason": None if timed else "mất điện",
        **kw,
    }


def _report(engine, code: str = "TINH-P", **scope) -> object:
    period = Period(_today() - timedelta(3), _today() - timedelta(1), "ba ngày")
    with Session(engine) as session:
        root = session.exec(select(Station).where(Station.code == code)).one()
        ids = frozenset(subtree_ids(session, root_id=root.id))
        return compliance(session, scope=Scope(station_ids=ids, **scope), period=period)


def test_each_cluster_counts_once_with_its_best_and_newest_report(scheduled, engine) -> None:
    e = scheduled["entries"].all()
    _send(
        engine,
        "XA-A",
        _record(e[("XA-A", 1)], "BAN-A"),
        _record(e[("XA-A", 1)], "BAN-A"),  # two receivers of one cluster
        _record(e[("XA-A", 1)], "BAN-B", "partial", minutes=5),
        _record(e[("XA-A", 2)], None),  # the operator confirms for the whole station
        _record(e[("XA-A", 3)], "BAN-A", "failed", id="wrong"),
    )
    _send(
        engine,
        "XA-A",
        _record(e[("XA-A", 3)], "BAN-A", corrects="wrong"),
        source="operator",
    )
    _send(engine, "XA-B", _record(e[("XA-B", 1)], None))
    report = _report(engine, booking_id=None)
    a, b = report.by_station["XA-A"], report.by_station["XA-B"]
    assert (a.planned, a.aired, a.partial, a.failed, a.missing) == (6, 4, 1, 0, 1)
    assert (b.planned, b.aired, b.missing) == (3, 1, 2)
    # Minutes weigh clusters: day 1 = (10 + 5) / 2, day 2 = 10, day 3 = 10 / 2.
    assert a.planned_minutes == pytest.approx(30)
    assert a.aired_minutes == pytest.approx(7.5 + 10 + 5)
    assert report.totals.planned == 9 and report.totals.aired == 5
    assert list(report.by_month) == sorted({f"{_today() - timedelta(d):%Y-%m}" for d in (1, 2, 3)})
    assert set(report.by_language) == {"—"}


def test_a_report_narrowed_to_a_booking_or_station(scheduled, engine) -> None:
    e = scheduled["entries"].all()
    _send(engine, "XA-B", _record(e[("XA-B", 1)], None))
    only_b = _report(engine, booking_id=scheduled["bookings"]["XA-B"])
    assert set(only_b.by_station) == {"XA-B"}
    assert only_b.totals.aired == 1
    station = _report(engine, code="XA-A")
    assert set(station.by_station) == {"XA-A"} and station.totals.aired == 0


def test_the_report_agrees_with_a_cluster_by_cluster_count_of_the_raw_log(
    scheduled, engine
) -> None:
    rng = random.Random(7)
    sent: dict[str, list[dict]] = {"XA-A": [], "XA-B": []}
    for (code, _back), entry in scheduled["entries"].all().items():
        clusters = ["BAN-A", "BAN-B", None] if code == "XA-A" else [None]
        for _ in range(rng.randint(0, 4)):
            status = rng.choice(["aired", "partial", "skipped", "failed"])
            record = _record(entry, rng.choice(clusters), status, minutes=rng.randint(1, 10))
            sent[code].append(record)
    for code, records in sent.items():
        if records:
            _send(engine, code, *records)
    report = _report(engine)
    # The reference: for each entry and cluster, its best report, else a station-wide one.
    order = ["aired", "partial", "skipped", "failed"]
    expected = {"aired": 0, "partial": 0, "skipped": 0, "failed": 0, "missing": 0}
    for (code, _back), entry in scheduled["entries"].items():
        records = [r for r in sent[code] if r["entry_id"] == entry["id"]]
        wide = [r["status"] for r in records if r["cluster"] is None]
        for cluster in ["BAN-A", "BAN-B"] if code == "XA-A" else [None]:
            own = [r["status"] for r in records if r["cluster"] == cluster and cluster]
            best = min(
                own or wide or ["missing"], key=lambda s: order.index(s) if s in order else 9
            )
            expected[best] += 1
    totals = report.totals
    assert {k: getattr(totals, k) for k in expected} == expected


def _per_entry(session: Session, period: Period, *, recounted: bool) -> dict:
    # Each entry's outcome as the report gives it, from the tallies or from the raw log.
    ids = frozenset(session.exec(select(Station.id)))
    entries = compliance(session, scope=Scope(station_ids=ids), period=period).entries
    if recounted:
        found = recount(session, station_ids=ids, period=period)
        for entry in entries:
            entry.counts = counts_of(found.get((entry.station_id, entry.entry_id), {}))
            entry.tally = tally_of(entry)
    return {(e.station_id, e.entry_id): e.tally.as_dict() for e in entries}


def test_the_tallies_always_equal_a_recount_of_the_raw_log(scheduled, engine) -> None:
    rng = random.Random(11)
    entries = scheduled["entries"].all()
    sent: list[tuple[str, dict]] = []
    period = Period(_today() - timedelta(3), _today() - timedelta(1), "ba ngày")
    for _round in range(6):
        batch: dict[str, list[dict]] = {"XA-A": [], "XA-B": []}
        for (code, _back), entry in entries.items():
            clusters = ["BAN-A", "BAN-B", None] if code == "XA-A" else [None]
            for _ in range(rng.randint(0, 2)):
                status = rng.choice(["aired", "partial", "skipped", "failed"])
                record = _record(entry, rng.choice(clusters), status, minutes=rng.randint(1, 9))
                mine = [r for c, r in sent if c == code and r["entry_id"] == entry["id"]]
                if mine and rng.random() < 0.3:
                    record["corrects"] = rng.choice(mine)["id"]
                batch[code].append(record)
        for code, records in batch.items():
            if records:
                _send(engine, code, *records)
                sent += [(code, r) for r in records]
        with Session(engine) as session:
            tallied = _per_entry(session, period, recounted=False)
            counted = _per_entry(session, period, recounted=True)
        assert tallied == counted, f"round {_round}"
        assert any(t["aired"] or t["partial"] for t in tallied.values())
    # A rebuild from the log (after a bulk load or a repair) lands on the same outcomes.
    with session_scope(engine) as session:
        assert rebuild_tallies(session, station_ids=set(session.exec(select(Station.id)))) > 0
    with Session(engine) as session:
        assert _per_entry(session, period, recounted=False) == counted


def test_requirements_are_judged_per_station_and_week_with_the_reason(
    client, newsroom, scheduled, engine
) -> None:
    with session_scope(engine) as session:
        plan = Plan(number="12/KH-UBND", title="Kế hoạch tuyên truyền CCHC", year=2026)
        session.add(plan)
        session.flush()
        session.add(
            PlanRequirement(
                plan_id=plan.id,
                channel="commune_loudspeaker",
                cadence="weekly",
                text="Phát trên loa truyền thanh xã mỗi tuần",
            )
        )
        session.add(
            PlanRequirement(
                plan_id=plan.id,
                channel="commune_loudspeaker",
                cadence="monthly",
                minutes_min=10,
                minutes_max=15,
                text="Chuyên mục hằng tháng 10-15 phút",
            )
        )
        session.add(PlanRequirement(plan_id=plan.id, channel="newspaper", cadence="monthly"))
        item = session.get(ContentItem, newsroom.item_id)
        item.plan_id = plan.id
        session.add(item)
        plan_id = plan.id
    client.post(f"/api/v1/content-items/{newsroom.item_id}/render", headers=newsroom.planner)
    process_queue(engine, store=newsroom.store, worker="test")
    booked = client.post(
        "/api/v1/bookings",
        headers=newsroom.planner,
        json={
            "station": "XA-A",
            "source": "item",
            "item_id": newsroom.item_id,
            "title": "Khai sinh trực tuyến",
            "at": "06:00",
            "recurrence": {"freq": "once", "start": (_today() - timedelta(2)).isoformat()},
        },
    )
    assert booked.status_code == 201, booked.text
    day = _today() - timedelta(2)
    entry = next(
        x
        for x in client.get(
            f"/api/v1/stations/XA-A/playlists/{day}", headers=newsroom.planner
        ).json()["entries"]
        if x["booking_id"] == booked.json()["id"]
    )
    scheduled["entries"].all()
    report = _report(engine, plan_id=plan_id)
    assert report.totals.planned == 2 and report.totals.missing == 2
    judged = {(j.station, j.met) for j in report.judgements}
    assert judged >= {("XA-A", False), ("XA-B", False)}
    # The week the entry aired in: two days ago is last week on a Monday or a Tuesday.
    year, week, _ = day.isocalendar()
    reasons = {j.station: j.reason for j in report.judgements if j.bucket == f"Tuần {week}/{year}"}
    assert "chưa có báo cáo" in reasons["XA-A"]
    assert "không có buổi phát nào" in reasons["XA-B"]
    assert all(j.requirement_id for j in report.judgements)

    seconds = (
        datetime.fromisoformat(entry["end"]) - datetime.fromisoformat(entry["start"])
    ).total_seconds()
    _send(
        engine,
        "XA-A",
        *[_record(entry, c, minutes=seconds / 60) for c in ("BAN-A", "BAN-B")],
    )
    after = _report(engine, plan_id=plan_id)
    weekly = [j for j in after.judgements if j.station == "XA-A" and "mỗi tuần" in j.requirement]
    assert any(j.met and "đã phát trọn 1 buổi" in j.reason for j in weekly), weekly
    monthly = [j for j in after.judgements if j.station == "XA-A" and "10-15" in j.requirement]
    assert monthly and not any(j.met for j in monthly)
    assert any("(yêu cầu 10–15 phút)" in j.reason and "nhưng dài" in j.reason for j in monthly)


def _range() -> str:
    return f"{_today() - timedelta(3)}..{_today() - timedelta(1)}"


def test_the_report_api_answers_in_json_csv_and_xlsx(client, newsroom, scheduled, engine) -> None:
    e = scheduled["entries"].all()
    _send(engine, "XA-B", _record(e[("XA-B", 1)], None))
    with session_scope(engine) as session:
        plan = Plan(number="=2+3", title="@SUM(A1)", year=2026)
        session.add(plan)
        session.flush()
        session.add(
            PlanRequirement(
                plan_id=plan.id, channel="commune_loudspeaker", cadence="monthly", text="-1+1"
            )
        )
        plan_id = plan.id
    params = {"station": "TINH-P", "period": _range()}
    response = client.get("/api/v1/reports/compliance", headers=newsroom.planner, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["totals"]["planned"] == 9 and body["totals"]["aired"] == 1
    assert [s["station"] for s in body["by_station"]] == ["XA-A", "XA-B"]
    assert body["by_station"][1]["name"] == "Đài xã B"
    assert body["period"]["first"] == (_today() - timedelta(3)).isoformat()

    csv = client.get("/api/v1/reports/compliance.csv", headers=newsroom.planner, params=params)
    assert csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    raw = csv.content
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert lines[0].startswith("Mã đài,Tên đài,Lượt phát theo kế hoạch")
    assert lines[2].startswith("XA-B,Đài xã B,3,1,")
    assert lines[3].startswith(",Tổng cộng,9,1,")

    judged = client.get(
        "/api/v1/reports/compliance.csv",
        headers=newsroom.planner,
        params={**params, "plan": plan_id, "table": "requirements"},
    ).content.decode("utf-8-sig")
    assert "'=2+3" in judged and "'-1+1" in judged and "Chưa đạt" in judged

    xlsx = client.get(
        "/api/v1/reports/compliance.xlsx",
        headers=newsroom.planner,
        params={**params, "plan": plan_id},
    )
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["Theo đài", "Theo tháng", "Theo ngôn ngữ", "Yêu cầu kế hoạch"]
    cell = book["Yêu cầu kế hoạch"]["A2"]
    assert (cell.value, cell.data_type) == ("=2+3", "s")


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"period": "2026-Q9"}, 422),
        ({"period": "2000-01-01..2099-12-31"}, 422),
        ({"period": "2026-Q3", "plan": 99999}, 404),
        ({"period": "2026-Q3", "language": "xyz"}, 422),
        ({"period": "2026-Q3", "station": "KHONG-CO"}, 404),
        ({}, 422),
    ],
)
def test_bad_report_requests_are_problem_reports(client, newsroom, params, status) -> None:
    response = client.get(
        "/api/v1/reports/compliance",
        headers=newsroom.planner,
        params={"station": "TINH-P", **params},
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_only_readers_of_reports_within_their_scope_get_them(client, newsroom) -> None:
    params = {"station": "TINH-P", "period": "2026-Q3"}
    operator = client.get("/api/v1/reports/compliance", headers=newsroom.operator, params=params)
    assert operator.status_code == 403
