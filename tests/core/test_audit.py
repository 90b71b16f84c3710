import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from core import identity
from core.audit import Actor, act_as
from core.db import session_scope
from core.identity import (
    UsageLog,
    create_device_token,
    create_user,
    device_from_token,
    set_password,
)
from core.models import AuditEvent, DeviceToken, Role
from scheduler.models import Cluster, StationKind
from scheduler.service import add_cluster, create_station


def _events(engine) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(session.exec(select(AuditEvent).order_by(AuditEvent.id)))


def test_writes_are_attributed_to_the_actor_with_what_changed(engine) -> None:
    planner = Actor(kind="user", id=7, name="kehoach")
    with session_scope(engine) as session:
        create_station(session, code="TINH-P", name="Tỉnh P", kind=StationKind.province)
    with session_scope(engine) as session:
        act_as(session, planner)
        station = create_station(
            session, code="XA-A", name="Xã A", kind=StationKind.commune, parent_code="TINH-P"
        )
    with session_scope(engine) as session:
        act_as(session, planner)
        station = session.merge(station)
        station.name = "Xã A mới"
    with session_scope(engine) as session:
        cluster = add_cluster(
            session, station=session.merge(station), code="C1", name="Cụm", zone_tags=[]
        )
    _province, created, renamed, cluster_created = _events(engine)
    assert (created.actor_kind, created.actor_id, created.actor_name) == ("user", 7, "kehoach")
    assert created.action == "create"
    assert created.object_type == "station"
    assert created.object_id == str(station.id)
    assert created.station_id == station.id
    assert created.change["code"] == "XA-A"
    assert renamed.action == "update"
    assert renamed.change == {"name": ["Xã A", "Xã A mới"]}
    assert cluster_created.actor_kind == "system"
    assert cluster_created.object_id == str(cluster.id)

    with session_scope(engine) as session:
        session.delete(session.get(Cluster, cluster.id))
    deleted = _events(engine)[-1]
    assert deleted.action == "delete"
    assert deleted.change["code"] == "C1"


def test_secrets_are_redacted_and_bookkeeping_is_not_recorded(engine) -> None:
    with session_scope(engine) as session:
        station = create_station(session, code="XA-A", name="Xã A", kind=StationKind.province)
        user = create_user(
            session,
            username="kehoach",
            password="mật-khẩu-đúng-123",
            role=Role.planner,
            station_id=station.id,
        )
        _, token = create_device_token(
            session, station_id=station.id, cluster_id=None, name="Bộ thu", created_by="test"
        )
    with session_scope(engine) as session:
        set_password(session, user=session.merge(user), password="mật-khẩu-mới-456")
    count = len(_events(engine))
    with session_scope(engine) as session:
        device_from_token(session, token=token)  # records last_used_at
    events = _events(engine)
    assert len(events) == count, "a device's last use is bookkeeping, not an edit"
    text = " ".join(str(e.change) for e in events)
    assert "argon2" not in text
    assert token not in text
    changed = events[-1]
    assert changed.object_type == "user"
    assert changed.change["password_hash"] == ["***", "***"]
    assert changed.change["token_version"] == [1, 2]
    assert changed.station_id == station.id


def test_a_rolled_back_write_leaves_no_audit_event(engine) -> None:
    try:
        with session_scope(engine) as session:
            create_station(session, code="XA-A", name="Xã A", kind=StationKind.province)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert _events(engine) == []


def test_device_uses_are_written_in_batches_and_none_is_lost_on_failure(
    engine, monkeypatch
) -> None:
    monkeypatch.setattr(identity, "USES_PER_STATEMENT", 2)  # three devices, two statements
    with session_scope(engine) as session:
        station = create_station(session, code="TINH-U", name="Tỉnh U", kind=StationKind.province)
        tokens = [
            create_device_token(
                session, station_id=station.id, cluster_id=None, name=f"thu-{n}", created_by="t"
            )
            for n in range(3)
        ]
    usage = UsageLog()

    def last_used() -> list:
        with Session(engine) as session:
            ids = [device.id for device, _ in tokens]
            rows = session.exec(
                select(DeviceToken).where(col(DeviceToken.id).in_(ids)).order_by(DeviceToken.id)
            )
            return [row.last_used_at for row in rows]

    with Session(engine) as session:
        for _, token in tokens:
            device_from_token(session, token=token, usage=usage)
    assert last_used() == [None, None, None], "held for the next batch, not written mid-request"
    assert usage.flush(engine) == 3
    assert all(last_used())
    assert usage.flush(engine) == 0, "nothing twice"

    with session_scope(engine) as session:
        session.execute(update(DeviceToken).values(last_used_at=None))
    with Session(engine) as session:
        device_from_token(session, token=tokens[1][1], usage=usage)
    broken = create_engine("sqlite:///file:/nonexistent/x.db?mode=ro&uri=true")
    with pytest.raises(OperationalError):
        usage.flush(broken)
    assert len(usage.pending) == 1, "kept for the next round when the database is away"
    usage.flush(engine)
    assert last_used()[1] is not None
