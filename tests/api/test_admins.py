"""The last active admin cannot be deactivated, by anyone, through any door (issue 16)."""

import threading
import time

from sqlmodel import select

from core.db import session_scope
from core.errors import ConflictError
from core.identity import create_user, deactivate_user, issue_access_token
from core.models import AuditEvent, Role, User
from scheduler.models import StationKind
from scheduler.service import create_station

PASSWORD = "mật-khẩu-thử-nghiệm-123"


def _people(engine, settings, *names: tuple[str, Role]) -> dict[str, dict[str, str]]:
    headers = {}
    with session_scope(engine) as session:
        station = create_station(session, code="TINH-P", name="Tỉnh P", kind=StationKind.province)
        for username, role in names:
            user = create_user(
                session,
                username=username,
                password=PASSWORD,
                role=role,
                station_id=None if role == Role.admin else station.id,
            )
            token = issue_access_token(settings=settings, user=user).token
            headers[username] = {"Authorization": f"Bearer {token}"}
    return headers


def _active(engine) -> dict[str, bool]:
    with session_scope(engine) as session:
        return {u.username: u.active for u in session.exec(select(User))}


def _events(engine) -> int:
    with session_scope(engine) as session:
        return len(session.exec(select(AuditEvent.id)).all())


def test_the_only_admin_cannot_deactivate_itself(client, engine, settings) -> None:
    headers = _people(engine, settings, ("quantri", Role.admin), ("kehoach", Role.planner))
    before = _events(engine)
    answer = client.post("/api/v1/users/quantri/deactivate", headers=headers["quantri"])
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "quản trị viên cuối cùng" in answer.json()["detail"]
    assert _active(engine) == {"quantri": True, "kehoach": True}
    assert _events(engine) == before
    assert client.get("/api/v1/auth/me", headers=headers["quantri"]).status_code == 200


def test_an_admin_may_go_while_another_stays(client, engine, settings) -> None:
    headers = _people(
        engine,
        settings,
        ("quantri", Role.admin),
        ("quantri2", Role.admin),
        ("quantri.cu", Role.admin),
    )
    with session_scope(engine) as session:  # an admin already disabled does not count
        old = session.exec(select(User).where(User.username == "quantri.cu")).one()
        deactivate_user(session, user=old)
    gone = client.post("/api/v1/users/quantri2/deactivate", headers=headers["quantri"])
    assert gone.status_code == 204
    last = client.post("/api/v1/users/quantri/deactivate", headers=headers["quantri"])
    assert last.status_code == 409
    assert _active(engine) == {"quantri": True, "quantri2": False, "quantri.cu": False}
    # Disabling an account already disabled changes nothing and is no reason to refuse.
    again = client.post("/api/v1/users/quantri.cu/deactivate", headers=headers["quantri"])
    assert again.status_code == 204


def test_two_admins_disabling_each_other_at_once_leave_one(engine, settings) -> None:
    _people(engine, settings, ("quantri", Role.admin), ("quantri2", Role.admin))
    outcome: list[str] = []

    def disable(username: str) -> None:
        try:
            with session_scope(engine, write=True) as session:
                user = session.exec(select(User).where(User.username == username)).one()
                deactivate_user(session, user=user)
            outcome.append("done")
        except ConflictError:
            outcome.append("refused")

    with session_scope(engine, write=True) as first:
        user = first.exec(select(User).where(User.username == "quantri2")).one()
        deactivate_user(first, user=user)
        # The other admin's request starts before this one commits and waits for it.
        other = threading.Thread(target=disable, args=("quantri",))
        other.start()
        time.sleep(0.5)
    other.join()
    assert outcome == ["refused"]
    assert _active(engine) == {"quantri": True, "quantri2": False}
