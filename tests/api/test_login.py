from datetime import timedelta

import jwt
import pytest
from sqlmodel import select

from core.clock import utcnow
from core.db import session_scope
from core.identity import JWT_ALGORITHM, create_user
from core.models import LoginAttempt, Role, User

PASSWORD = "mật-khẩu-đúng-123"


def _make_user(engine, username: str = "kehoach") -> None:
    with session_scope(engine) as session:
        create_user(session, username=username, password=PASSWORD, role=Role.admin, station_id=None)


def _login(client, username: str, password: str):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def test_password_login_gives_a_bearer_token_that_expires(client, engine, settings) -> None:
    _make_user(engine)
    response = _login(client, "KeHoach ", PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert 0 < body["expires_in"] <= settings.access_token_minutes * 60
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["name"] == "kehoach"


@pytest.mark.strong_passwords
def test_passwords_are_kept_at_argon2s_recommended_cost(client, engine) -> None:
    # The other tests hash at the lowest cost to save time; this is what is stored.
    _make_user(engine)
    with session_scope(engine) as session:
        stored = session.exec(select(User)).one().password_hash
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), stored
    assert _login(client, "kehoach", PASSWORD).status_code == 200
    assert _login(client, "kehoach", PASSWORD + "x").status_code == 401


def test_wrong_password_and_unknown_user_look_the_same(client, engine) -> None:
    _make_user(engine)
    wrong = _login(client, "kehoach", "sai-mật-khẩu")
    unknown = _login(client, "khong-co", "sai-mật-khẩu")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "Tên đăng nhập hoặc mật khẩu không đúng."


def test_missing_form_fields_are_a_problem_report(client) -> None:
    response = client.post("/api/v1/auth/token", data={"username": "x"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_repeated_failures_pause_logins_even_with_the_right_password(
    client, engine, settings
) -> None:
    _make_user(engine)
    _make_user(engine, "nguoi-khac")
    for _ in range(settings.login_max_failures):
        assert _login(client, "kehoach", "đoán-mò-12345").status_code == 401
    paused = _login(client, "kehoach", PASSWORD)
    assert paused.status_code == 429
    assert paused.headers["content-type"] == "application/problem+json"
    assert 0 < int(paused.headers["retry-after"]) <= settings.login_window_minutes * 60 + 1
    assert _login(client, "nguoi-khac", PASSWORD).status_code == 200


def test_a_success_resets_the_count_and_old_failures_expire(client, engine, settings) -> None:
    _make_user(engine)
    with session_scope(engine) as session:
        long_ago = utcnow() - timedelta(minutes=settings.login_window_minutes + 1)
        for _ in range(10):
            session.add(
                LoginAttempt(username="kehoach", client="testclient", at=long_ago, success=False)
            )
    for _ in range(settings.login_max_failures - 1):
        _login(client, "kehoach", "đoán-mò-12345")
    assert _login(client, "kehoach", PASSWORD).status_code == 200
    for _ in range(settings.login_max_failures - 1):
        _login(client, "kehoach", "đoán-mò-12345")
    assert _login(client, "kehoach", PASSWORD).status_code == 200


def test_one_address_guessing_many_usernames_is_paused(client, engine, settings) -> None:
    _make_user(engine)
    for n in range(settings.login_max_failures * 4):
        assert _login(client, f"doan-{n}", "đoán-mò-12345").status_code == 401
    assert _login(client, "kehoach", PASSWORD).status_code == 429


def test_a_signed_token_naming_no_valid_account_is_a_401(client, engine, settings) -> None:
    # Signed with the server's own key, so only the claims can be wrong.
    _make_user(engine)
    later = utcnow() + timedelta(minutes=5)
    claims = [
        {"sub": "abc", "ver": 0},
        {"sub": "1.5", "ver": 0},
        {"sub": "", "ver": 0},
        {"sub": "-1", "ver": 0},
        {"sub": "١", "ver": 0},  # an Arabic-Indic digit: int() takes it
        {"sub": "9" * 30, "ver": 0},  # past any integer column
        {"sub": "9" * 5000, "ver": 0},  # past what int() converts
        {"sub": "1", "ver": "0"},
        {"sub": "1", "ver": [0]},
    ]
    for claim in claims:
        token = jwt.encode({**claim, "exp": later}, settings.signing_key, algorithm=JWT_ALGORITHM)
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401, (claim, me.status_code, me.text[:200])
        assert me.headers["content-type"] == "application/problem+json"
        assert me.headers["www-authenticate"] == "Bearer"
