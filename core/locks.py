"""Leases: a lock in the database, so exactly one process runs timed jobs."""

from datetime import timedelta

from sqlalchemy import Engine, insert, or_, update
from sqlalchemy.exc import IntegrityError

from core.clock import utcnow
from core.db import session_scope
from core.models import Lease


def acquire_lease(engine: Engine, *, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease; True if `holder` has it until now + ttl."""
    now = utcnow()
    with session_scope(engine, write=True) as session:
        renewed = session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
            .values(holder=holder, expires_at=now + ttl)
        ).rowcount
        if renewed:
            return True
    try:
        with session_scope(engine, write=True) as session:
            session.execute(insert(Lease).values(name=name, holder=holder, expires_at=now + ttl))
    except IntegrityError:
        return False  # someone else holds it and it has not expired
    return True


def release_lease(engine: Engine, *, name: str, holder: str) -> None:
    """Give the lease up early, if this holder has it."""
    with session_scope(engine, write=True) as session:
        session.execute(
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
