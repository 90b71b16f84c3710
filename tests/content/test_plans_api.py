"""Importing plan documents through the API, and the theme list."""

import json
from pathlib import Path

import pytest
from sqlmodel import func, select

from content.models import Plan
from core.db import session_scope
from core.identity import create_user, issue_access_token
from core.models import Role
from scheduler.models import StationKind
from scheduler.service import create_station
from tests.content.plan_files import (
    damaged_docx,
    damaged_pdf,
    drop_letters,
    locked_pdf,
    plan_docx,
    plan_pdf,
    read_plan,
    scanned_pdf,
)
from tests.processes import cli_env, run_cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "api" / "samples" / "ke-hoach-mau.md"
SEEDS = ROOT.parent / "shared" / "seeds"
NOT_A_PLAN = "Chiều qua, đội bóng xã thắng 3-1 trong trận giao hữu với xã bạn. Khán giả rất đông."


@pytest.fixture
def planner(engine, settings) -> dict[str, str]:
    with session_scope(engine) as session:
        province = create_station(session, code="TINH-P", name="Tỉnh P", kind=StationKind.province)
        create_station(session, code="TINH-Q", name="Tỉnh Q", kind=StationKind.province)
        create_station(
            session, code="XA-A", name="Xã A", kind=StationKind.commune, parent_code="TINH-P"
        )
        user = create_user(
            session,
            username="kehoach",
            password="mật-khẩu-đủ-dài",
            role=Role.planner,
            station_id=province.id,
        )
        token = issue_access_token(settings=settings, user=user).token
    return {"Authorization": f"Bearer {token}"}


def _plans(engine) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(Plan)).one()


def test_importing_a_markdown_plan_creates_a_draft_with_requirements(client, planner) -> None:
    response = client.post(
        "/api/v1/plans/import?station=XA-A",
        content=SAMPLE.read_bytes(),
        headers={**planner, "Content-Type": "text/markdown; charset=utf-8"},
    )
    assert response.status_code == 201, response.text
    plan = response.json()
    assert plan["number"] == "12/KH-UBND"
    assert plan["year"] == 2026
    assert plan["status"] == "draft"
    assert plan["station"] == "XA-A"
    assert plan["created_by"] == "kehoach"
    assert any("trực tuyến" in topic for topic in plan["topics"])
    weekly = [
        r
        for r in plan["requirements"]
        if r["channel"] == "commune_loudspeaker" and r["cadence"] == "weekly"
    ]
    assert weekly and (weekly[0]["minutes_min"], weekly[0]["minutes_max"]) == (10, 15)
    assert client.get(f"/api/v1/plans/{plan['id']}", headers=planner).json() == plan


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is not beside the checkout")
def test_the_yen_chau_seed_plan_through_a_multipart_upload(client, planner) -> None:
    seed = SEEDS / "ke-hoach-yen-chau-2021.md"
    response = client.post(
        "/api/v1/plans/import?station=TINH-P",
        headers=planner,
        files={"file": (seed.name, seed.read_bytes(), "text/markdown")},
    )
    assert response.status_code == 201, response.text
    requirements = response.json()["requirements"]
    assert any(
        r["channel"] == "district_station"
        and r["cadence"] == "weekly"
        and (r["minutes_min"], r["minutes_max"]) == (10, 15)
        for r in requirements
    )
    assert any(
        r["channel"] == "commune_loudspeaker" and r["cadence"] == "monthly" for r in requirements
    )


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (NOT_A_PLAN.encode(), "text/plain", 422),
        (b"", "text/plain", 422),
        ("KẾ HOẠCH".encode("utf-16"), "text/plain", 422),
        (b'{"title": "x"}', "application/json", 415),
        (b"x" * 2_000_001, "text/plain", 413),
    ],
)
def test_bad_documents_are_refused_and_nothing_is_created(
    client, planner, engine, content, content_type, status
) -> None:
    response = client.post(
        "/api/v1/plans/import?station=XA-A",
        content=content,
        headers={**planner, "Content-Type": content_type},
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert _plans(engine) == 0


def test_plans_belong_to_a_station_in_scope(client, planner, engine) -> None:
    text = SAMPLE.read_bytes()
    headers = {**planner, "Content-Type": "text/plain"}
    assert client.post("/api/v1/plans/import", content=text, headers=headers).status_code == 422
    outside = client.post("/api/v1/plans/import?station=TINH-Q", content=text, headers=headers)
    assert outside.status_code == 403
    assert _plans(engine) == 0


def test_themes_start_with_the_reform_taxonomy_and_stay_unique(client, planner) -> None:
    themes = client.get("/api/v1/themes", headers=planner).json()
    names = [t["name"] for t in themes]
    assert "Dịch vụ công trực tuyến mức độ 3, 4" in names
    assert "Chỉ số PAR INDEX, PCI, PAPI, SIPAS" in names
    assert len(names) >= 10
    added = client.post(
        "/api/v1/themes",
        headers=planner,
        json={"name": "Chuyển đổi số", "parent_id": themes[0]["id"]},
    )
    assert added.status_code == 201
    again = client.post("/api/v1/themes", headers=planner, json={"name": "Chuyển đổi  số"})
    assert again.status_code == 409
    renamed = client.put(
        f"/api/v1/themes/{added.json()['id']}",
        headers=planner,
        json={"name": "Chuyển đổi số cấp xã"},
    )
    assert renamed.json()["name"] == "Chuyển đổi số cấp xã"


def test_cli_reads_text_and_imports_plans(tmp_path, database_url) -> None:
    env = cli_env(database_url=database_url, data_dir=tmp_path / "data")
    spoken = run_cli("reading", "Kế hoạch số 36/KH-UBND của UBND tỉnh", "--json", env=env)
    assert spoken.returncode == 0, spoken.stderr
    reading = json.loads(spoken.stdout)["reading"]
    assert "Ủy ban nhân dân tỉnh" in reading and "KH-UBND" not in reading

    dry = run_cli("import-plan", str(SAMPLE), "--dry-run", "--json", env=env)
    assert dry.returncode == 0, dry.stderr
    parsed = json.loads(dry.stdout)
    assert set(parsed) >= {"number", "title", "issuer", "date", "year", "themes", "requirements"}
    assert "id" not in parsed

    saved = run_cli("import-plan", str(SAMPLE), "--json", env=env)
    assert saved.returncode == 0, saved.stderr
    assert json.loads(saved.stdout)["id"] >= 1

    junk = tmp_path / "tin-the-thao.txt"
    junk.write_text(NOT_A_PLAN, encoding="utf-8")
    refused = run_cli("import-plan", str(junk), env=env)
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


# PDF and Word files


def test_pdf_and_word_plans_are_imported_through_the_api(client, planner, engine) -> None:
    text = read_plan("ke-hoach-huyen-da-bac-2025.txt")
    as_pdf = client.post(
        "/api/v1/plans/import?station=XA-A",
        content=plan_pdf(text),
        headers={**planner, "Content-Type": "application/pdf"},
    )
    assert as_pdf.status_code == 201, as_pdf.text
    as_word = client.post(
        "/api/v1/plans/import?station=XA-A",
        headers=planner,
        files={"file": ("ke-hoach.docx", plan_docx(text), "application/octet-stream")},
    )
    assert as_word.status_code == 201, as_word.text
    for plan in (as_pdf.json(), as_word.json()):
        assert (plan["number"], plan["issuer"], plan["year"]) == (
            "45/KH-UBND",
            "Ủy ban nhân dân huyện Đà Bắc",
            2025,
        )
        assert [r["channel"] for r in plan["requirements"]] == [
            "district_station",
            "relay",
            "commune_loudspeaker",
        ]
        assert "Tiếp phát sóng đầy đủ" in plan["requirements"][1]["text"]
    assert _plans(engine) == 2


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (scanned_pdf(), "bản quét"),
        (locked_pdf(), "mật khẩu"),
        (damaged_pdf(), "PDF bị hỏng"),
        (damaged_docx(), ".docx bị hỏng"),
    ],
    ids=["scanned", "locked", "damaged-pdf", "damaged-docx"],
)
def test_unreadable_files_are_a_422_and_nothing_is_stored(
    client, planner, engine, content, words
) -> None:
    response = client.post(
        "/api/v1/plans/import?station=XA-A",
        headers=planner,
        files={"file": ("ke-hoach.pdf", content, "application/pdf")},
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert words in problem["detail"] and problem["title"] == "Không đọc được tệp"
    assert _plans(engine) == 0


def test_cli_imports_pdf_and_word_files_and_refuses_a_scan(tmp_path, database_url) -> None:
    env = cli_env(database_url=database_url, data_dir=tmp_path / "data")
    text = read_plan("ke-hoach-phong-vhtt-krong-ana-2024.txt")
    for name, content in (("kh.pdf", plan_pdf(text)), ("kh.docx", plan_docx(text))):
        path = tmp_path / name
        path.write_bytes(content)
        dry = run_cli("import-plan", str(path), "--dry-run", "--json", env=env)
        assert dry.returncode == 0, dry.stderr
        parsed = json.loads(dry.stdout)
        assert (parsed["number"], parsed["level"]) == ("09/KH-VHTT", "district")
        assert parsed["requirements"][2]["languages"] == ["vie", "rad"]
    damaged = tmp_path / "hong.txt"
    damaged.write_text(drop_letters(text), encoding="utf-8")
    repaired = run_cli("import-plan", str(damaged), "--dry-run", "--json", env=env)
    assert repaired.returncode == 0, repaired.stderr
    parsed = json.loads(repaired.stdout)
    assert {"original": "PH NG", "repaired": "PHÒNG"} in parsed["repairs"]
    assert parsed["issuer"] == "Phòng Văn hóa và Thông tin"
    scan = tmp_path / "ban-quet.pdf"
    scan.write_bytes(scanned_pdf())
    refused = run_cli("import-plan", str(scan), env=env)
    assert refused.returncode == 2
    assert refused.stderr.startswith("Lỗi: Tệp PDF là bản quét")
    assert len(refused.stderr.strip().splitlines()) == 1
    missing = run_cli("import-plan", str(tmp_path / "khong-co.pdf"), env=env)
    assert missing.returncode == 2 and "Không có tệp" in missing.stderr
