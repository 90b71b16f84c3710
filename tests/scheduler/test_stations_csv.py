"""A province's stations and clusters from one CSV file."""

import pytest

from core.db import session_scope
from core.identity import create_user, issue_access_token
from core.models import Role
from scheduler.models import StationKind
from scheduler.service import create_station

GOOD = """\
station_code,station_name,kind,parent_code,cluster_code,cluster_name,zone_tags,languages
XA-MUONG-BU,Đài xã Mường Bú,commune,HUYEN-MUONG-LA,,,,vie;blt
XA-MUONG-BU,,commune,,BAN-NA-LOC,Cụm loa bản Nà Lốc,blt,
XA-MUONG-BU,,commune,,BAN-PA-CHIEN,Cụm loa bản Pá Chiến,hnj;blt,
HUYEN-MUONG-LA,Trung tâm huyện Mường La,district,TINH-SON-LA,,,,
XA-CHIENG-LAO,Đài xã Chiềng Lao,commune,HUYEN-MUONG-LA,,,,
XA-CHIENG-LAO,,commune,,TRUNG-TAM,Cụm loa trung tâm,vie,
"""


@pytest.fixture
def headers(engine, settings) -> dict[str, dict[str, str]]:
    out = {}
    with session_scope(engine) as session:
        son_la = create_station(
            session, code="TINH-SON-LA", name="Sơn La", kind=StationKind.province
        )
        other = create_station(
            session, code="TINH-KHAC", name="Tỉnh khác", kind=StationKind.province
        )
        for name, station in (("son_la", son_la), ("other", other)):
            user = create_user(
                session,
                username=f"kehoach.{name.replace('_', '')}",
                password="mật-khẩu-đủ-dài",
                role=Role.planner,
                station_id=station.id,
            )
            token = issue_access_token(settings=settings, user=user).token
            out[name] = {"Authorization": f"Bearer {token}"}
    return out


def _codes(client, headers) -> set[str]:
    def walk(nodes):
        for node in nodes:
            yield node["code"]
            yield from (f"{node['code']}/{c['code']}" for c in node["clusters"])
            yield from walk(node["children"])

    return set(walk(client.get("/api/v1/stations", headers=headers).json()))


def test_a_province_file_creates_parents_first_and_can_be_imported_twice(client, headers) -> None:
    response = client.post(
        "/api/v1/stations/import",
        headers={**headers["son_la"], "Content-Type": "text/csv"},
        content=GOOD.encode(),
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"stations_created": 3, "clusters_created": 3, "skipped": 0}
    assert {"HUYEN-MUONG-LA", "XA-MUONG-BU/BAN-PA-CHIEN", "XA-CHIENG-LAO/TRUNG-TAM"} <= _codes(
        client, headers["son_la"]
    )
    detail = client.get("/api/v1/stations/XA-MUONG-BU", headers=headers["son_la"]).json()
    assert detail["parent"] == "HUYEN-MUONG-LA"
    assert detail["languages"] == ["vie", "blt"]
    assert {c["code"]: c["zone_tags"] for c in detail["clusters"]}["BAN-PA-CHIEN"] == ["hnj", "blt"]

    again = client.post(
        "/api/v1/stations/import",
        headers={**headers["son_la"], "Content-Type": "text/csv"},
        content=GOOD.encode(),
    )
    assert again.json() == {"stations_created": 0, "clusters_created": 0, "skipped": 6}


@pytest.mark.parametrize(
    ("bad_line", "line"),
    [
        ("XA-MOI,Đài xã mới,village,HUYEN-MUONG-LA,,,,", 8),
        ("XA-MOI,Đài xã mới,commune,KHONG-CO,,,,", 8),
        ("XA-MOI,Đài xã mới,commune,HUYEN-MUONG-LA,,,,xyz", 8),
        ("XA-KHONG-CO,,commune,,CUM-1,Cụm 1,,", 8),
        ("xa thuong,Đài,commune,HUYEN-MUONG-LA,,,,", 8),
    ],
)
def test_one_bad_row_refuses_the_whole_file(client, headers, bad_line, line) -> None:
    before = _codes(client, headers["son_la"])
    response = client.post(
        "/api/v1/stations/import",
        headers={**headers["son_la"], "Content-Type": "text/csv"},
        content=(GOOD + bad_line + "\n").encode(),
    )
    assert response.status_code == 422, response.text
    assert any(e["line"] == line for e in response.json()["errors"])
    assert _codes(client, headers["son_la"]) == before


def test_a_planner_cannot_import_under_another_province(client, headers) -> None:
    response = client.post(
        "/api/v1/stations/import",
        headers={**headers["other"], "Content-Type": "text/csv"},
        content=GOOD.encode(),
    )
    assert response.status_code == 422
    assert "ngoài phạm vi" in str(response.json()["errors"])


def test_missing_columns_and_wrong_type_are_problem_reports(client, headers) -> None:
    missing = client.post(
        "/api/v1/stations/import",
        headers={**headers["son_la"], "Content-Type": "text/csv"},
        content=b"code,name\nA,B\n",
    )
    assert missing.status_code == 422
    assert "thiếu cột" in missing.json()["detail"]
    wrong = client.post("/api/v1/stations/import", headers=headers["son_la"], json={"a": 1})
    assert wrong.status_code == 415


def test_clusters_and_provinces_outside_scope_are_refused(client, headers) -> None:
    client.post(
        "/api/v1/stations/import",
        headers={**headers["son_la"], "Content-Type": "text/csv"},
        content=GOOD.encode(),
    )
    before = _codes(client, headers["son_la"])
    sneaky = (
        "station_code,station_name,kind,parent_code,cluster_code,cluster_name,zone_tags\n"
        "XA-MUONG-BU,x,commune,,CUM-LA,Cụm lạ,blt\n"
        "TINH-MOI,Tỉnh mới,province,,,,\n"
    )
    response = client.post(
        "/api/v1/stations/import",
        headers={**headers["other"], "Content-Type": "text/csv"},
        content=sneaky.encode(),
    )
    assert response.status_code == 422
    assert {e["line"] for e in response.json()["errors"]} == {2, 3}
    assert _codes(client, headers["son_la"]) == before
