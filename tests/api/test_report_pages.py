"""The auditor's web pages: the compliance report with charts and downloads, the airing log."""

import html
import io
import re
import uuid
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlmodel import select

from api.charts import bar_chart
from api.pages import reports as report_pages
from audio.service import process_queue
from content.models import ContentItem, Plan, PlanRequirement
from core.clock import utcnow
from core.db import session_scope
from core.identity import create_user
from core.models import Role
from scheduler.airings import ingest_airings
from scheduler.models import AiringIn, Station

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
WINDOWS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"}]
PASSWORD = "mật-khẩu-đủ-dài"


def _today() -> date:
    return utcnow().astimezone(ZONE).date()


def _day(back: int) -> date:
    return _today() - timedelta(back)


class _Rows(HTMLParser):
    """Every table row of a page as (class, [cell texts]); enough to read a report."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr":
            self.rows.append((dict(attrs).get("class") or "", []))
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1][1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _rows(page: str) -> list[tuple[str, list[str]]]:
    parser = _Rows()
    parser.feed(page)
    return parser.rows


def _login(client, username: str) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def _send(engine, code: str, *records: dict, source: str = "device") -> None:
    with session_scope(engine, write=True) as session:
        station = session.exec(select(Station).where(Station.code == code)).one()
        report = ingest_airings(
            session,
            station=station,
            records=[AiringIn(**r) for r in records],
            source=source,
            recorded_by="thiết bị thử" if source == "device" else "vanhanh",
        )
    assert not report.rejected, report.rejected


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


@pytest.fixture
def aired(client, newsroom, engine) -> dict:
    """Three past days: a daily 10-minute relay on XA-A (two clusters) and XA-B (none),
    one plan item on XA-A the day before yesterday, and what the log says aired.

    Planned units: XA-A 3 x 2 relay + 2 item = 8, XA-B 3; aired 6 and 1.
    """
    planner = newsroom.planner
    with session_scope(engine) as session:
        province = session.exec(select(Station).where(Station.code == "TINH-P")).one()
        other = session.exec(select(Station).where(Station.code == "XA-B")).one()
        for username, station in (("thanhtra", province), ("thanhtra.b", other)):
            create_user(
                session,
                username=username,
                password=PASSWORD,
                role=Role.auditor,
                station_id=station.id,
            )
        plan = Plan(number="12/KH-UBND", title="Kế hoạch tuyên truyền CCHC năm 2026", year=2026)
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
        item = session.get(ContentItem, newsroom.item_id)
        item.plan_id = plan.id
        session.add(item)
        plan_id = plan.id
    for code in ("XA-A", "XA-B"):
        client.patch(f"/api/v1/stations/{code}", headers=planner, json={"windows": WINDOWS})
        booked = client.post(
            "/api/v1/bookings",
            headers=planner,
            json={
                "station": code,
                "source": "relay",
                "relay_url": "http://vov.example/vov1",
                "duration_s": 600,
                "title": "Tiếp sóng VOV1",
                "at": "05:30",
                "recurrence": {"freq": "daily", "start": _day(10).isoformat()},
            },
        )
        assert booked.status_code == 201, booked.text
    for cluster in ("BAN-A", "BAN-B"):
        client.post(
            "/api/v1/stations/XA-A/clusters",
            headers=planner,
            json={"code": cluster, "name": f"Cụm {cluster}"},
        )
    client.post(f"/api/v1/content-items/{newsroom.item_id}/render", headers=planner)
    process_queue(engine, store=newsroom.store, worker="test")
    booked = client.post(
        "/api/v1/bookings",
        headers=planner,
        json={
            "station": "XA-A",
            "source": "item",
            "item_id": newsroom.item_id,
            "title": "Khai sinh trực tuyến",
            "at": "06:00",
            "recurrence": {"freq": "once", "start": _day(2).isoformat()},
        },
    )
    assert booked.status_code == 201, booked.text
    entries: dict[tuple[str, int], dict] = {}
    for code in ("XA-A", "XA-B"):
        for back in (1, 2, 3):
            playlist = client.get(
                f"/api/v1/stations/{code}/playlists/{_day(back)}", headers=planner
            ).json()
            for entry in playlist["entries"]:
                kind = "relay" if entry["title"] == "Tiếp sóng VOV1" else "item"
                entries[(code, back, kind)] = entry
    item_entry = entries[("XA-A", 2, "item")]
    item_minutes = (
        datetime.fromisoformat(item_entry["end"]) - datetime.fromisoformat(item_entry["start"])
    ).total_seconds() / 60
    _send(
        engine,
        "XA-A",
        _record(entries[("XA-A", 1, "relay")], "BAN-A"),
        _record(entries[("XA-A", 1, "relay")], "BAN-B", "partial", minutes=5),
        _record(entries[("XA-A", 2, "relay")], None),
        _record(entries[("XA-A", 3, "relay")], "BAN-A", "failed", id="bao-sai"),
        *[_record(item_entry, c, minutes=item_minutes) for c in ("BAN-A", "BAN-B")],
    )
    _send(
        engine,
        "XA-A",
        _record(entries[("XA-A", 3, "relay")], "BAN-A", id="dinh-chinh", corrects="bao-sai"),
        source="operator",
    )
    _send(
        engine,
        "XA-B",
        _record(entries[("XA-B", 1, "relay")], None),
        _record(entries[("XA-B", 2, "relay")], None, "skipped"),
    )
    return {"entries": entries, "plan_id": plan_id, "period": f"{_day(3)}..{_day(1)}"}


def test_charts_are_plain_escaped_and_deterministic() -> None:
    bars = [('Xã <Mường> & "Lò"', 12, 7.5), ("Xã B", 3, 0)]
    chart = bar_chart(title="Theo đài <b>", bars=bars)
    assert chart == bar_chart(title="Theo đài <b>", bars=bars)
    assert chart.startswith('<svg class="chart" role="img"')
    assert "<Mường>" not in chart and "Xã &lt;Mường&gt; &amp; &#34;Lò&#34;" in chart
    assert "<title>Theo đài &lt;b&gt;</title>" in chart
    assert "theo kế hoạch 12 lượt, đã phát 7,5 lượt" in chart
    assert chart.count("<rect") == 2 + 2 * len(bars)  # the legend, then two bars a label
    assert "<script" not in chart and "Chưa có số liệu" in bar_chart(title="Trống", bars=[])


def _totals(page: str) -> dict[str, str]:
    return dict(re.findall(r'<strong data-total="([a-z_]+)">([^<]+)</strong>', page))


def test_the_auditor_sees_planned_against_aired_with_charts_and_verdicts(client, aired) -> None:
    _login(client, "thanhtra")
    home = client.get("/")
    assert 'href="/reports/compliance"' in home.text and 'href="/airings"' in home.text

    form = client.get("/reports/compliance")
    assert form.status_code == 200
    assert '<label for="period">' in form.text and "2026-H1" in form.text
    assert "<svg" not in form.text  # nothing computed before it is asked for
    for code in ("TINH-P", "XA-A", "XA-B"):
        assert f'<option value="{code}"' in form.text

    page = client.get(
        "/reports/compliance", params={"station": "TINH-P", "period": aired["period"]}
    )
    assert page.status_code == 200, page.text
    totals = _totals(page.text)
    outcomes = ("planned", "aired", "partial", "skipped", "failed", "missing", "share")
    assert [totals[k] for k in outcomes] == ["11", "7", "1", "1", "0", "2", "63,6%"]
    # Minutes count each entry once: six 10-minute relays and the short item.
    assert totals["planned_minutes"].startswith("60")
    assert "Chưa có báo cáo" in page.text and "Phát một phần" in page.text
    # Charts by month, by station and by language, drawn as images people can read.
    charts = re.findall(r'<svg class="chart" role="img"[^>]*aria-label="([^"]*)"', page.text)
    assert len(charts) == 3
    by_station = html.unescape(charts[1])
    assert "Đài xã A (XA-A): theo kế hoạch 8 lượt, đã phát 6 lượt" in by_station
    assert "Đài xã B (XA-B): theo kế hoạch 3 lượt, đã phát 1 lượt" in by_station
    rows = {cells[0]: cells for _, cells in _rows(page.text) if cells}
    # Planned, aired, partial, skipped, failed, missing per station.
    assert rows["Đài xã A (XA-A)"][1:7] == ["8", "6", "1", "0", "0", "1"]
    assert rows["Đài xã B (XA-B)"][1:7] == ["3", "1", "0", "1", "0", "1"]
    assert rows["Không ghi ngôn ngữ"][1:3] == ["9", "5"]  # the relays carry no language

    verdicts = [(c, cells) for c, cells in _rows(page.text) if c.startswith("verdict")]
    assert any(
        c == "verdict-met" and cells[0] == "XA-A" and "đã phát trọn 1 buổi" in cells[3]
        for c, cells in verdicts
    ), verdicts
    assert any(
        c == "verdict-unmet" and cells[0] == "XA-B" and "không có buổi phát nào" in cells[3]
        for c, cells in verdicts
    )
    assert any(
        c == "verdict-unmet" and cells[0] == "XA-A" and "(yêu cầu 10–15 phút)" in cells[3]
        for c, cells in verdicts
    )
    assert "Đạt" in page.text and "Chưa đạt" in page.text
    assert "12/KH-UBND: Chuyên mục hằng tháng 10-15 phút" in page.text

    # The printed report: its title, period, scope, date made and signatures.
    assert "Báo cáo kết quả thực hiện" in page.text
    assert f"từ {_day(3):%d/%m/%Y} đến {_day(1):%d/%m/%Y}" in page.text
    assert f"Ngày lập: {_today():%d/%m/%Y}" in page.text
    assert "Tỉnh P (TINH-P) và các đài trực thuộc" in page.text
    assert "Thủ trưởng đơn vị" in page.text and 'onclick="window.print()"' in page.text

    narrowed = client.get(
        "/reports/compliance",
        params={"station": "XA-A", "period": aired["period"], "plan": aired["plan_id"]},
    )
    assert narrowed.status_code == 200
    totals = _totals(narrowed.text)
    assert (totals["planned"], totals["aired"], totals["share"]) == ("2", "2", "100%")
    assert "kế hoạch 12/KH-UBND" in narrowed.text


def test_a_bad_period_is_shown_next_to_the_field(client, aired) -> None:
    _login(client, "thanhtra")
    page = client.get("/reports/compliance", params={"station": "TINH-P", "period": "2026-Q5"})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    error = re.search(r'<p class="error field-error" id="error-period"[^>]*>([^<]+)</p>', page.text)
    assert error and "2026-Q3" in error.group(1)
    assert 'aria-invalid="true" aria-describedby="error-period period-hint"' in page.text
    assert 'value="2026-Q5"' in page.text  # what was typed stays to be fixed
    assert "<svg" not in page.text

    wrong = client.get(
        "/reports/compliance",
        params={"station": "NO-SUCH", "period": aired["period"], "language": "xyz", "plan": "x"},
    )
    assert wrong.status_code == 422
    for field in ("station", "language", "plan"):
        assert f'id="error-{field}"' in wrong.text
    assert 'id="error-period"' not in wrong.text


def test_the_report_downloads_open_with_the_web_session(client, aired) -> None:
    _login(client, "thanhtra")
    page = client.get(
        "/reports/compliance", params={"station": "TINH-P", "period": aired["period"]}
    )
    links = [
        html.unescape(h) for h in re.findall(r'href="(/reports/compliance\.[^"]+)"', page.text)
    ]
    csv_link = next(link for link in links if "table=stations" in link)
    csv = client.get(csv_link)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    lines = csv.content.decode("utf-8-sig").split("\r\n")
    assert lines[0].startswith("Mã đài,Tên đài,Lượt phát theo kế hoạch")
    assert lines[1].startswith("XA-A,Đài xã A,8,6,1,0,0,1,")
    assert lines[3].startswith(",Tổng cộng,11,7,1,1,0,2,")
    judged = client.get(next(link for link in links if "table=requirements" in link))
    assert "12/KH-UBND" in judged.content.decode("utf-8-sig")

    workbook = client.get(next(link for link in links if ".xlsx" in link))
    assert workbook.status_code == 200
    book = load_workbook(io.BytesIO(workbook.content))
    assert book.sheetnames == ["Theo đài", "Theo tháng", "Theo ngôn ngữ", "Yêu cầu kế hoạch"]
    assert [c.value for c in book["Theo đài"][2]][:4] == ["XA-A", "Đài xã A", 8, 6]
    bad = client.get("/reports/compliance.csv", params={"station": "TINH-P", "period": "quý 3"})
    assert bad.status_code == 422 and "Kỳ báo cáo viết như" in bad.text
    # The cookie opens the web download, never the REST API.
    api = client.get(
        "/api/v1/reports/compliance.csv", params={"station": "TINH-P", "period": aired["period"]}
    )
    assert api.status_code == 401


def test_operators_and_strangers_are_refused_the_report(client, aired) -> None:
    params = {"station": "XA-A", "period": aired["period"]}
    anonymous = client.get("/reports/compliance", params=params, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=%2Freports%2Fcompliance%3F")
    assert client.get("/reports/compliance.csv", follow_redirects=False).status_code == 303

    _login(client, "vanhanh")
    refused = client.get("/reports/compliance", params=params)
    assert refused.status_code == 403
    assert "không được xem báo cáo" in refused.text
    assert client.get("/reports/compliance.csv", params=params).status_code == 403
    assert 'href="/reports/compliance"' not in client.get("/").text

    client.post(
        "/logout",
        data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', refused.text)[1]},
    )
    _login(client, "thanhtra.b")
    elsewhere = client.get("/reports/compliance", params=params)
    assert elsewhere.status_code == 403 and "ngoài phạm vi" in elsewhere.text
    assert client.get("/reports/compliance.xlsx", params=params).status_code == 403
    own = client.get("/reports/compliance", params={**params, "station": "XA-B"})
    assert own.status_code == 200 and _totals(own.text)["planned"] == "3"


def _log_rows(page: str) -> list[list[str]]:
    return [cells for c, cells in _rows(page) if c.startswith("status-")]


def test_the_log_filters_shows_corrections_and_links_to_the_entry(client, aired) -> None:
    _login(client, "thanhtra")
    page = client.get("/airings", params={"station": "XA-A"})
    assert page.status_code == 200
    rows = _log_rows(page.text)
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5", "6", "7"]

    failed = _log_rows(client.get("/airings", params={"station": "XA-A", "status": "failed"}).text)
    assert len(failed) == 1
    assert "Phát lỗi" in failed[0][4] and "Lý do: mất điện" in failed[0][4]
    assert "Đã được đính chính bởi bản ghi số 7" in failed[0][4]
    assert failed[0][3] == "—"  # nothing went out, so no actual times

    day2 = _day(2)
    params = {"station": "XA-A", "status": "aired", "from": str(day2), "to": str(day2)}
    shown = _log_rows(client.get("/airings", params=params).text)
    assert len(shown) == 3  # the station-wide relay and the item on both clusters
    assert all(r[1].startswith(f"{day2:%d/%m/%Y}") and "Đã phát" in r[4] for r in shown)
    assert "05:30–05:40" in {r[2] for r in shown}  # scheduled, in the station's time

    correction = _log_rows(client.get("/airings", params={"station": "XA-A", "after": "6"}).text)
    assert len(correction) == 1
    assert "Đính chính bản ghi số 4 (bao-sai)" in correction[0][4]
    assert correction[0][6].startswith("cán bộ") and correction[0][5] == "BAN-A"
    entry = aired["entries"][("XA-A", 3, "relay")]
    link = f'href="/stations/XA-A/day/{_day(3).isoformat()}#{entry["id"]}"'
    assert link in client.get("/airings", params={"station": "XA-A", "after": "6"}).text

    bad = client.get("/airings", params={"station": "XA-A", "from": "32/13/2026"})
    assert bad.status_code == 422 and 'id="error-day_from"' in bad.text
    assert "status-" not in bad.text


def test_the_log_pages_after_the_last_row(client, aired, engine, monkeypatch) -> None:
    entry = aired["entries"][("XA-B", 1, "relay")]
    _send(engine, "XA-B", *[_record(entry, None, minutes=n % 10 + 1) for n in range(60)])
    _login(client, "thanhtra")
    first = client.get("/airings", params={"station": "XA-B"})
    seqs = [int(r[0]) for r in _log_rows(first.text)]
    assert seqs == list(range(1, 51))
    link = html.unescape(re.search(r'href="([^"]+)" rel="next">Trang sau', first.text)[1])
    assert "after=50" in link and "station=XA-B" in link
    second = client.get(link)
    assert [int(r[0]) for r in _log_rows(second.text)] == list(range(51, 63))
    assert "Trang sau" not in second.text and "Trang đầu" in second.text

    # Across the province the log pages by arrival, each row naming its station.
    monkeypatch.setattr(report_pages, "VERIFY_CAP", 1)
    tree = client.get("/airings", params={"station": "TINH-P", "subtree": "1"})
    assert tree.status_code == 200
    page_one = {(r[1], r[0]) for r in _log_rows(tree.text)}
    assert len(page_one) == 50
    link = html.unescape(re.search(r'href="([^"]+)" rel="next">Trang sau', tree.text)[1])
    page_two = {(r[1], r[0]) for r in _log_rows(client.get(link).text)}
    assert len(page_two) == 62 + 7 - 50 and not page_one & page_two
    assert tree.text.count('class="chain-ok"') == 1
    assert "Đã kiểm tra 1 trong 3 đài" in tree.text


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


def test_the_log_shows_when_its_chain_was_broken(client, aired, engine) -> None:
    _login(client, "thanhtra")
    intact = client.get("/airings", params={"station": "XA-A"})
    assert "Nhật ký nguyên vẹn (7 bản ghi)" in intact.text
    assert 'class="chain-broken"' not in intact.text
    _tamper(
        engine,
        "UPDATE airing_record SET status = 'aired', reason = NULL WHERE client_id = :id",
        id="bao-sai",
    )
    broken = client.get("/airings", params={"station": "XA-A"})
    assert broken.status_code == 200
    state = re.search(r'<li class="chain-broken" role="alert">(.*?)</li>', broken.text, re.S)
    assert state, broken.text
    assert "Nhật ký bị sửa hoặc xoá tại bản ghi số 4" in state[1]
    assert "nội dung bản ghi đã bị sửa" in state[1] and "bao-sai" in state[1]
    # The other station's chain is untouched.
    assert (
        "Nhật ký nguyên vẹn (2 bản ghi)" in client.get("/airings", params={"station": "XA-B"}).text
    )


def test_the_log_is_limited_to_the_scope(client, aired) -> None:
    _login(client, "thanhtra.b")
    page = client.get("/airings")
    assert page.status_code == 200
    assert '<option value="XA-B" selected>' in page.text
    assert '<option value="XA-A"' not in page.text
    assert len(_log_rows(page.text)) == 2
    refused = client.get("/airings", params={"station": "XA-A"})
    assert refused.status_code == 403 and "ngoài phạm vi" in refused.text
