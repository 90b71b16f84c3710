"""A commune with a planner pair, an operator and an approved item, for audio tests."""

from dataclasses import dataclass

import pytest
from sqlmodel import select

from audio.store import MediaStore
from content.service import approve_content_item, create_content_item, submit_content_item
from core.db import session_scope
from core.identity import create_user, issue_access_token
from core.models import Role
from scheduler.models import Station, StationKind
from scheduler.service import create_station, station_facts

BODY = "Bà con thân mến, từ tháng này UBND xã nhận hồ sơ khai sinh trực tuyến."


@dataclass
class Newsroom:
    """Bearer headers and handy ids."""

    planner: dict[str, str]
    operator: dict[str, str]
    other_operator: dict[str, str]
    item_id: int
    store: MediaStore


def approved_item(engine, *, title: str, body: str = BODY, station: str = "XA-A") -> int:
    """Create, submit and approve a Vietnamese item; return its id."""
    with session_scope(engine) as session:
        owner = session.exec(select(Station).where(Station.code == station)).one()
        facts = station_facts(owner)
        item, _, _ = create_content_item(
            session, station=facts, title=title, body=body, author="alice"
        )
        submit_content_item(session, item=item)
        approve_content_item(session, item=item, station=facts, approver="bob")
        return item.id


@pytest.fixture
def newsroom(engine, settings) -> Newsroom:
    headers = {}
    with session_scope(engine) as session:
        create_station(session, code="TINH-P", name="Tỉnh P", kind=StationKind.province)
        for code in ("XA-A", "XA-B"):
            create_station(
                session,
                code=code,
                name=f"Đài xã {code[-1]}",
                kind=StationKind.commune,
                parent_code="TINH-P",
            )
        stations = {s.code: s for s in session.exec(select(Station))}
        for username, role, code in (
            ("alice", Role.planner, "TINH-P"),
            ("vanhanh", Role.operator, "XA-A"),
            ("vanhanh.b", Role.operator, "XA-B"),
        ):
            user = create_user(
                session,
                username=username,
                password="mật-khẩu-đủ-dài",
                role=role,
                station_id=stations[code].id,
            )
            token = issue_access_token(settings=settings, user=user).token
            headers[username] = {"Authorization": f"Bearer {token}"}
    item_id = approved_item(engine, title="Khai sinh trực tuyến")
    return Newsroom(
        headers["alice"],
        headers["vanhanh"],
        headers["vanhanh.b"],
        item_id,
        MediaStore(settings.media_path),
    )
