"""Limits on bodies, pages, date ranges and logins; what is refused changes nothing."""

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import select

from api.app import create_app
from api.limits import MAX_PAGE, MAX_RANGE_DAYS, PUBLIC_BODIES, SPOOL_BYTES
from content.models import ContentItem, Plan, Theme
from core.db import session_scope
from core.identity import create_user, issue_access_token
from core.models import LoginAttempt, Role, User
from core.settings import Settings
from scheduler.models import StationKind
from scheduler.service import add_cluster, create_station
from tests.audio.sounds import tone

PROBLEM = "application/problem+json"
PASSWORD = "mật-khẩu-đúng-123"
WRONG = "đoán-mò-12345"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # Two failures pause a login here: each one costs a password hash, and the rule is
    # the same at two as at five.
    return Settings(data_dir=tmp_path / "data", database_url=database_url, login_max_failures=2)


@pytest.fixture
def admin(engine: Engine, settings: Settings) -> dict[str, str]:
    """A province with one commune and cluster, and an admin's bearer header."""
    with session_scope(engine) as session:
        create_station(session, code="TINH-P", name="Đài tỉnh", kind=StationKind.province)
        commune = create_station(
            session, code="XA-A", name="Đài xã A", kind=StationKind.commune, parent_code="TINH-P"
        )
        add_cluster(session, station=commune, code="XA-A-1", name="Cụm 1", zone_tags=[])
        user = create_user(
            session, username="quantri", password=PASSWORD, role=Role.admin, station_id=None
        )
        token = issue_access_token(settings=settings, user=user).token
    return {"Authorization": f"Bearer {token}"}


def _count(engine: Engine, model: type) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    return body


# Request bodies


@pytest.fixture
def small_body_client(settings: Settings) -> Iterator[TestClient]:
    """The app with a 1 KB cap on JSON bodies and 1 MB on uploads."""
    small = settings.model_copy(update={"max_body_kb": 1, "max_upload_mb": 1})
    with TestClient(create_app(small)) as client:
        yield client


def _item(body: str) -> dict[str, str]:
    return {"title": "Tin ngắn", "body": body, "station": "XA-A"}


def test_a_json_body_over_the_cap_is_refused_before_it_is_read(
    small_body_client: TestClient, engine: Engine, admin: dict[str, str]
) -> None:
    response = small_body_client.post(
        "/api/v1/content-items", json=_item("Nội dung. " * 200), headers=admin
    )
    body = _problem(response, 413)
    assert body["detail"] == "Dữ liệu gửi lên vượt quá 1 KB."
    assert _count(engine, ContentItem) == 0
    fits = small_body_client.post("/api/v1/content-items", json=_item("Ngắn."), headers=admin)
    assert fits.status_code == 201
    assert _count(engine, ContentItem) == 1


def test_a_body_without_a_length_is_counted_as_it_arrives(
    small_body_client: TestClient, engine: Engine, admin: dict[str, str]
) -> None:
    document = b'{"title": "T", "station": "XA-A", "body": "' + b"x" * 2000 + b'"}'
    chunks = (document[i : i + 256] for i in range(0, len(document), 256))
    response = small_body_client.post(
        "/api/v1/content-items",
        content=chunks,
        headers={**admin, "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    _problem(response, 413)
    assert _count(engine, ContentItem) == 0


def test_a_body_longer_than_it_declared_is_refused_too(
    small_body_client: TestClient, engine: Engine, admin: dict[str, str]
) -> None:
    # A client may lie in Content-Length; the bytes are what is counted.
    themes = _count(engine, Theme)
    response = small_body_client.post(
        "/api/v1/themes",
        content=b'{"name": "' + b"x" * 2000 + b'"}',
        headers={**admin, "Content-Type": "application/json", "Content-Length": "20"},
    )
    _problem(response, 413)
    assert _count(engine, Theme) == themes


def test_a_length_that_is_no_number_is_a_bad_request(
    client: TestClient, engine: Engine, admin: dict[str, str]
) -> None:
    themes = _count(engine, Theme)
    response = client.post(
        "/api/v1/themes",
        content='{"name": "Chủ đề mới"}'.encode(),
        headers={**admin, "Content-Type": "application/json", "Content-Length": "ten"},
    )
    assert "Content-Length" in _problem(response, 400)["detail"]
    assert _count(engine, Theme) == themes


def test_the_default_cap_takes_a_long_article_and_refuses_megabytes(
    client: TestClient, engine: Engine, admin: dict[str, str], settings: Settings
) -> None:
    article = "Cải cách hành chính là nhiệm vụ trọng tâm. " * 2200  # near the body's 100,000
    fits = client.post("/api/v1/content-items", json=_item(article), headers=admin)
    assert fits.status_code == 201
    huge = b"x" * ((settings.max_body_kb << 10) + 1)
    response = client.post(
        "/api/v1/themes", content=huge, headers={**admin, "Content-Type": "application/json"}
    )
    assert _problem(response, 413)["detail"] == "Dữ liệu gửi lên vượt quá 1 MB."


def test_documents_and_uploads_have_their_own_caps(
    small_body_client: TestClient, engine: Engine, admin: dict[str, str]
) -> None:
    plans = _count(engine, Plan)
    document = small_body_client.post(
        "/api/v1/plans/import",
        content=b"x" * 2_000_001,
        headers={**admin, "Content-Type": "text/plain"},
    )
    assert _problem(document, 413)["detail"] == "Văn bản gửi lên vượt quá 2 MB."
    assert _count(engine, Plan) == plans
    upload = small_body_client.post(
        "/api/v1/stations/XA-A/jingles",
        files={"file": ("nhac-hieu.mp3", b"\xff" * (1 << 20))},
        headers=admin,
    )
    assert _problem(upload, 413)["detail"] == "Tệp tải lên vượt quá 1 MB."


def test_web_forms_are_capped_too(small_body_client: TestClient) -> None:
    # A form fit for the login page is read; one over the cap is refused unread.
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', small_body_client.get("/login").text)[1]
    form = {"username": "quantri", "password": WRONG, "csrf_token": csrf}
    assert small_body_client.post("/login", data=form).status_code == 401
    huge = small_body_client.post("/login", data={**form, "password": "x" * 2000})
    assert _problem(huge, 413)["detail"] == "Dữ liệu gửi lên vượt quá 1 KB."


def test_only_the_login_takes_an_api_body_from_anyone(client: TestClient) -> None:
    # The body of any other write is refused unread without a bearer token: every such
    # route must say in the schema that it needs one, or the refusal would be wrong.
    paths = client.get("/openapi.json").json()["paths"]
    public = {
        path
        for path, operations in paths.items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch", "delete") and not operation.get("security")
    }
    assert public == PUBLIC_BODIES


def test_an_upload_larger_than_memory_waits_in_a_file_and_arrives_whole(
    client: TestClient, admin: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    # Larger than what waits in memory for its request to be let in: it waits in a file
    # in the media store's file system, is replayed byte for byte, and is deleted after.
    source = tone(tmp_path / "ban-tieng-thai.wav", seconds=15, codec="wav")
    audio = source.read_bytes()
    assert len(audio) > SPOOL_BYTES
    item = client.post("/api/v1/content-items", json=_item("Tin."), headers=admin).json()["id"]
    body = (
        b'--b\r\nContent-Disposition: form-data; name="language"\r\n\r\nblt\r\n'
        b'--b\r\nContent-Disposition: form-data; name="speaker"\r\n\r\nLo Van Pom\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="ban.wav"\r\n\r\n'
        + audio
        + b"\r\n--b--\r\n"
    )
    response = client.post(
        f"/api/v1/content-items/{item}/recordings",
        content=body,
        headers={**admin, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["original"]["sha256"] == hashlib.sha256(audio).hexdigest()
    spool = settings.media_path / ".tmp"
    assert not spool.exists() or not any(spool.iterdir())


# Page sizes

LISTS = [
    "/api/v1/content-items",
    "/api/v1/content-items/{item}/versions",
    "/api/v1/plans",
    "/api/v1/themes",
    "/api/v1/users",
    "/api/v1/audit-events",
    "/api/v1/stations/XA-A/airings",
    "/api/v1/stations/XA-A/airings/missed",
    "/api/v1/stations/XA-A/clusters/status",
    "/api/v1/stations/XA-A/events",
    "/api/v1/stations/XA-A/bookings",
    "/api/v1/stations/XA-A/device-tokens",
    "/api/v1/stations/XA-A/script-templates",
]


def test_every_list_refuses_a_page_above_the_cap(client: TestClient, admin: dict[str, str]) -> None:
    created = client.post("/api/v1/content-items", json=_item("Một tin."), headers=admin)
    item = created.json()["id"]
    for path in LISTS:
        url = path.format(item=item)
        assert client.get(url, params={"limit": MAX_PAGE}, headers=admin).status_code == 200, url
        refused = client.get(url, params={"limit": MAX_PAGE + 1}, headers=admin)
        body = _problem(refused, 422)
        assert body["errors"][0]["loc"] == ["query", "limit"], url
        assert _problem(client.get(url, params={"limit": 0}, headers=admin), 422)


def test_the_cap_is_in_the_documented_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in LISTS:
        template = re.sub(r"XA-A", "{code}", path).replace("{item}", "{item_id}")
        parameters = paths[template]["get"]["parameters"]
        limit = next(p for p in parameters if p["name"] == "limit")
        assert limit["schema"]["maximum"] == MAX_PAGE, path


def test_pages_walk_the_whole_list_without_gaps_or_repeats(
    client: TestClient, admin: dict[str, str]
) -> None:
    made = [
        client.post("/api/v1/content-items", json=_item(f"Tin số {n}."), headers=admin).json()["id"]
        for n in range(5)
    ]
    seen, after = [], 0
    while page := client.get(
        "/api/v1/content-items", params={"limit": 2, "after": after}, headers=admin
    ).json():
        assert len(page) <= 2
        seen += [item["id"] for item in page]
        after = page[-1]["id"]
    assert seen == made


def test_users_page_by_username(client: TestClient, engine: Engine, admin: dict[str, str]) -> None:
    with session_scope(engine) as session:
        for name in ("bich", "anh", "cuong"):
            create_user(session, username=name, password=PASSWORD, role=Role.admin, station_id=None)
    first = client.get("/api/v1/users", params={"limit": 2}, headers=admin).json()
    rest = client.get(
        "/api/v1/users", params={"after": first[-1]["username"]}, headers=admin
    ).json()
    assert [u["username"] for u in first + rest] == ["anh", "bich", "cuong", "quantri"]


# Date ranges


def test_an_airing_log_query_over_a_century_is_refused_in_words(
    client: TestClient, admin: dict[str, str]
) -> None:
    url = "/api/v1/stations/XA-A/airings"
    century = client.get(url, params={"from": "1926-01-01", "to": "2026-01-01"}, headers=admin)
    detail = _problem(century, 422)["detail"]
    assert "01/01/1926" in detail
    assert f"tối đa {MAX_RANGE_DAYS} ngày" in detail
    backwards = client.get(url, params={"from": "2026-02-01", "to": "2026-01-01"}, headers=admin)
    assert "đứng trước ngày bắt đầu" in _problem(backwards, 422)["detail"]
    leap_year = {"from": "2028-01-01", "to": "2028-12-31"}
    assert client.get(url, params=leap_year, headers=admin).status_code == 200


@pytest.mark.parametrize("period", ["1926-01-01..2026-12-31", "1926", "2026-01-01..2019-01-01"])
def test_a_compliance_report_for_a_century_is_refused(
    client: TestClient, admin: dict[str, str], period: str
) -> None:
    for suffix in ("", ".csv", ".xlsx"):
        response = client.get(
            f"/api/v1/reports/compliance{suffix}",
            params={"period": period, "station": "TINH-P"},
            headers=admin,
        )
        body = _problem(response, 422)
        assert "Kỳ báo cáo" in body["detail"]
        assert body["errors"][0]["field"] == "period"


def test_a_missed_airings_query_over_its_range_is_refused(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.get(
        "/api/v1/stations/XA-A/airings/missed",
        params={"from": "2000-01-01", "to": "2026-01-01"},
        headers=admin,
    )
    _problem(response, 422)


# Values a database cannot store


def test_numbers_past_a_column_and_nul_characters_are_refused_not_crashed(
    client: TestClient, engine: Engine, admin: dict[str, str]
) -> None:
    # PostgreSQL refuses both where SQLite takes them; either way the answer is a 4xx
    # problem report and nothing is written.
    themes = _count(engine, Theme)
    for body in (
        {"name": "Chủ đề", "parent_id": 2**40},
        {"name": "Chủ đề", "parent_id": 2**70},
    ):
        response = client.post("/api/v1/themes", json=body, headers=admin)
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"] == PROBLEM
    assert _count(engine, Theme) == themes
    for url in ("/api/v1/content-items/1099511627776", "/api/v1/jobs/1099511627776"):
        assert 400 <= client.get(url, headers=admin).status_code < 500
    nul = client.get("/api/v1/stations/XA%00A", headers=admin)
    assert nul.status_code in (404, 422)
    assert nul.headers["content-type"] == PROBLEM


# Login throttling


def _login(client: TestClient, username: str, password: str):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def _attempts(engine: Engine) -> int:
    return _count(engine, LoginAttempt)


def test_a_paused_login_changes_nothing_and_others_log_in(
    client: TestClient, engine: Engine, settings: Settings, admin: dict[str, str]
) -> None:
    with session_scope(engine) as session:
        create_user(
            session, username="kehoach", password=PASSWORD, role=Role.admin, station_id=None
        )
    for _ in range(settings.login_max_failures):
        assert _login(client, "kehoach", WRONG).status_code == 401
    before = _attempts(engine)
    paused = _login(client, "kehoach", PASSWORD)
    body = _problem(paused, 429)
    assert body["detail"].startswith("Đăng nhập sai quá nhiều lần")
    assert 0 < int(paused.headers["retry-after"]) <= settings.login_window_minutes * 60 + 1
    assert "access_token" not in body
    assert _attempts(engine) == before  # the refused attempt is not even counted
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.username == "kehoach")).one()
        assert user.last_login_at is None
    assert _login(client, "quantri", PASSWORD).status_code == 200


def test_one_address_guessing_is_paused_and_other_addresses_are_not(
    client: TestClient, engine: Engine, settings: Settings, admin: dict[str, str]
) -> None:
    for n in range(settings.login_max_failures * 4):
        assert _login(client, f"doan-{n}", WRONG).status_code == 401
    _problem(_login(client, "quantri", PASSWORD), 429)
    with TestClient(client.app, client=("203.0.113.7", 40000)) as elsewhere:
        assert _login(elsewhere, "quantri", PASSWORD).status_code == 200


def test_the_token_route_documents_its_pause(client: TestClient) -> None:
    responses = client.get("/openapi.json").json()["paths"]["/api/v1/auth/token"]["post"][
        "responses"
    ]
    assert "Retry-After" in responses["429"]["headers"]
    assert PROBLEM in responses["429"]["content"]


def test_the_web_login_page_says_to_wait_in_vietnamese(
    client: TestClient, engine: Engine, settings: Settings, admin: dict[str, str]
) -> None:
    def post(password: str):
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)[1]
        return client.post(
            "/login",
            data={"username": "quantri", "password": password, "csrf_token": token},
            follow_redirects=False,
        )

    for _ in range(settings.login_max_failures):
        assert post(WRONG).status_code == 401
    paused = post(PASSWORD)
    assert paused.status_code == 429
    assert paused.headers["content-type"].startswith("text/html")
    assert "Đăng nhập sai quá nhiều lần; hãy thử lại sau" in paused.text
    assert int(paused.headers["retry-after"]) > 0
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
