"""What the planner's content pages share: who may open them, what plans they see, and
how a form's owning station is chosen."""

from typing import Annotated, Any

from fastapi import Depends
from sqlmodel import Session, col, or_, select

from api.access import readable_station_ids
from api.auth import Permission, Principal
from api.web import Page
from content.models import Plan
from core.errors import NotFoundError
from scheduler.models import Station

LIST_LIMIT = 200
REFUSAL = (
    "Trang này dành cho cán bộ kế hoạch của trung tâm truyền thông; "
    "vai trò của bạn không được soạn nội dung."
)


def writer(heading: str, back: str = "/") -> Any:
    """The page guard of a planner's content page, with its refusal's heading and way back."""
    return Depends(Page(Permission.content_write, heading=heading, back=back, refusal=REFUSAL))


Stepper = Annotated[Principal, writer("Không thực hiện được", "/items/{item_id}")]


def readable_plan(session: Session, principal: Principal, plan_id: int) -> Plan:
    """A plan of the caller's scope, above it or national; 404 otherwise."""
    plan = session.get(Plan, plan_id)
    ids = readable_station_ids(session, principal)
    hidden = ids is not None and plan is not None and plan.station_id not in (ids | {None})
    if plan is None or hidden:
        raise NotFoundError(f"Không có kế hoạch số {plan_id}.")
    return plan


def readable_plans(session: Session, principal: Principal) -> list[Plan]:
    """Plans of the caller's scope, above it and national ones, newest first."""
    query = select(Plan).order_by(col(Plan.id).desc())
    ids = readable_station_ids(session, principal)
    if ids is not None:
        query = query.where(or_(col(Plan.station_id).in_(ids), col(Plan.station_id).is_(None)))
    return list(session.exec(query))


def owner_station(
    stations: list[Station], code: str, *, national: bool
) -> tuple[Station | None, str | None]:
    """The owning station picked in a form, or what is wrong with the choice."""
    if not code:
        return None, None if national else "Hãy chọn đài sở hữu."
    for station in stations:
        if station.code == code:
            return station, None
    return None, "Hãy chọn một đài trong danh sách (đài trong phạm vi được giao)."
