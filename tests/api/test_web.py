import re

from core.db import session_scope
from core.identity import create_user
from core.models import Role
from scheduler.models import StationKind
from scheduler.service import create_station

PASSWORD = "mật-khẩu-đúng-123"


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries no CSRF token"
    return match.group(1)


def _operator(engine) -> None:
    with session_scope(engine) as session:
        station = create_station(
            session, code="XA-A", name="Đài truyền thanh xã A", kind=StationKind.province
        )
        create_user(
            session,
            username="vanhanh",
            password=PASSWORD,
            role=Role.operator,
            station_id=station.id,
            full_name="Lò Văn Minh",
        )


def _log_in(client) -> None:
    token = _csrf(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": "vanhanh", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_login_sets_a_safe_session_cookie_and_shows_home(client, engine) -> None:
    _operator(engine)
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    page = client.get("/login")
    assert page.status_code == 200
    assert '<html lang="vi">' in page.text
    token = _csrf(page.text)
    response = client.post(
        "/login",
        data={"username": "vanhanh", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "tt_session=" in cookie
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    home = client.get("/")
    assert "Xin chào, Lò Văn Minh" in home.text
    assert "Cán bộ vận hành xã" in home.text
    assert "Đài truyền thanh xã A" in home.text


def test_wrong_password_says_so_on_the_form(client, engine) -> None:
    _operator(engine)
    token = _csrf(client.get("/login").text)
    response = client.post(
        "/login", data={"username": "vanhanh", "password": "sai", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.text
    assert 'value="vanhanh"' in response.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_form_posts_without_the_csrf_token_are_refused(client, engine) -> None:
    _operator(engine)
    client.get("/login")
    forged = client.post(
        "/login", data={"username": "vanhanh", "password": PASSWORD}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert "Biểu mẫu đã hết hạn" in forged.text
    assert client.get("/", follow_redirects=False).status_code == 303

    _log_in(client)
    forged_logout = client.post("/logout", data={"csrf_token": "đoán"}, follow_redirects=False)
    assert forged_logout.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200


def test_logout_ends_the_session(client, engine) -> None:
    _operator(engine)
    _log_in(client)
    token = _csrf(client.get("/").text)
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_web_session_does_not_open_the_rest_api(client, engine) -> None:
    _operator(engine)
    _log_in(client)
    assert client.get("/api/v1/auth/me").status_code == 401
