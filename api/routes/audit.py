"""The audit trail of writes."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlmodel import select

from api.auth import Allowed, Permission, Principal, visible_station_ids
from api.deps import SessionDep
from api.limits import PageLimit
from core.models import AuditEvent

router = APIRouter(prefix="/audit-events", tags=["audit"])


class AuditEventOut(BaseModel):
    """One recorded write."""

    id: int
    at: datetime
    actor_kind: str
    actor_name: str
    action: str
    object_type: str
    object_id: str
    change: dict[str, Any]


@router.get("", summary="Who changed what, newest first")
def list_events(
    principal: Annotated[Principal, Depends(Allowed(Permission.audit_read))],
    session: SessionDep,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = Query(None, description="actor name, e.g. a username"),
    before: int | None = Query(None, description="only events with a smaller id (paging)"),
    limit: PageLimit = 100,
) -> list[AuditEventOut]:
    """Return audit events about stations within the caller's scope."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    ids = visible_station_ids(session, principal)
    if ids is not None:
        query = query.where(AuditEvent.station_id.in_(ids))
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    if actor:
        query = query.where(AuditEvent.actor_name == actor)
    if before:
        query = query.where(AuditEvent.id < before)
    return [
        AuditEventOut.model_validate(event, from_attributes=True) for event in session.exec(query)
    ]
