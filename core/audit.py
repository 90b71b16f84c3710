"""The audit trail: every flushed insert, update and delete becomes an AuditEvent row.

Recording happens in one session hook rather than in each route, so no write can
forget it. Routes put who is acting into `session.info["actor"]` (see api.auth);
writes with no actor (the demo, scheduled jobs) are attributed to the system.
"""

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session, UOWTransaction

from core.clock import utcnow
from core.models import AuditEvent

REDACTED = "***"


@dataclass(frozen=True)
class Actor:
    """Who a write is attributed to."""

    kind: str  # user, device or system
    id: int | None
    name: str


SYSTEM = Actor(kind="system", id=None, name="system")


def act_as(session: Session, actor: Actor) -> None:
    """Attribute the session's following writes to `actor`."""
    session.info["actor"] = actor


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)


def _change(obj: Any, action: str) -> dict[str, Any] | None:
    cls = type(obj)
    redact = getattr(cls, "__audit_redact__", set())
    ignore = getattr(cls, "__audit_ignore__", set())
    state = inspect(obj)
    change: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if action == "update":
            history = state.attrs[key].history
            if not history.has_changes() or key in ignore:
                continue
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old == new:
                continue
            change[key] = [REDACTED, REDACTED] if key in redact else [_plain(old), _plain(new)]
        else:
            change[key] = REDACTED if key in redact else _plain(getattr(obj, key))
    if action == "update" and not change:
        return None
    return change


def _station_of(obj: Any) -> int | None:
    if type(obj).__tablename__ == "station":
        return obj.id
    return getattr(obj, "station_id", None)


def _record(session: Session, _context: UOWTransaction) -> None:
    actor: Actor = session.info.get("actor", SYSTEM)
    now = utcnow()
    rows = []
    for action, objects in (
        ("create", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objects:
            if not getattr(type(obj), "__audit__", True) or not hasattr(obj, "__table__"):
                continue
            change = _change(obj, action)
            if change is None:
                continue
            rows.append(
                {
                    "at": now,
                    "actor_kind": actor.kind,
                    "actor_id": actor.id,
                    "actor_name": actor.name,
                    "action": action,
                    "object_type": type(obj).__tablename__,
                    "object_id": ",".join(
                        str(v) for v in inspect(obj).mapper.primary_key_from_instance(obj)
                    ),
                    "station_id": _station_of(obj),
                    "change": change,
                }
            )
    if rows:
        session.connection().execute(insert(AuditEvent), rows)


event.listen(Session, "after_flush", _record)
