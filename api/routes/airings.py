"""Airing logs, device heartbeats and the state of loudspeaker clusters."""

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select
from starlette.datastructures import State

from api.access import ScheduleReader, StationReader
from api.auth import (
    DEVICE,
    DeviceBearer,
    Permission,
    StationGrant,
    UserBearer,
    bound_cluster,
    grant_from_bearer,
)
from api.deps import SessionDep, SettingsDep
from api.limits import DayFrom, DayTo, PageLimit, PageOffset, check_range
from core.audit import act_as
from core.clock import utcnow
from core.db import session_scope
from core.errors import ForbiddenError, InvalidError
from scheduler.airings import (
    ChainCheck,
    IngestReport,
    ingest_airings,
    missed_airings,
    verify_chain,
)
from scheduler.devices import STATES, ClusterState, cluster_states, record_heartbeat
from scheduler.merges import AiringGroup, moved_from, split_airings
from scheduler.models import AiringIn, AiringRecord, AiringStatus, Cluster, Station
from scheduler.service import subtree_ids

router = APIRouter(tags=["airings"])

T = TypeVar("T")

MAX_BATCH = 1000


class AiringBatch(BaseModel):
    """Airing records to append, in any order, possibly sent before."""

    records: list[AiringIn] = Field(max_length=MAX_BATCH)


class AiringAnswer(BaseModel):
    """What became of each record: everything not rejected is safely kept."""

    accepted: list[str]
    duplicates: list[str]
    rejected: list[dict[str, str]]


class AiringOut(BaseModel):
    """An airing record beside the entry it was scheduled as."""

    id: str
    seq: int
    entry_id: str
    day: date
    cluster: str | None
    scheduled_start: datetime
    scheduled_end: datetime
    booking_id: int | None
    content_item_id: int | None
    language: str | None
    kind: str
    priority: str
    started_at: datetime | None
    ended_at: datetime | None
    status: AiringStatus
    reason: str | None
    source: str
    corrects: str | None
    recorded_by: str
    received_at: datetime
    hash: str


@router.post(
    "/stations/{code}/airings", summary="Report a batch of airings (idempotent by record id)"
)
async def post_airings(
    code: str, batch: AiringBatch, request: Request, token: UserBearer, device: DeviceBearer
) -> AiringAnswer:
    """Append what aired; a record is acknowledged only once it is committed."""
    work = partial(_post_airings, batch=batch)
    return await _as_device(request, code, token, device, Permission.airings_write, work)


def _post_airings(
    state: State, grant: StationGrant, cluster: str | None, *, batch: AiringBatch
) -> AiringAnswer:
    principal = grant.principal
    with session_scope(state.engine, write=True) as session:
        act_as(session, principal.actor)
        groups = [AiringGroup(grant.station, batch.records, cluster, set())]
        named = grant.named
        if named is None and principal.kind == DEVICE:
            # An agent that learned its new station still sends what it played before.
            named = moved_from(session, device_id=principal.id, station_id=grant.station.id)
        if named is not None:
            groups = split_airings(
                session,
                named=named,
                target=grant.station,
                cluster_id=principal.cluster_id,
                cluster=cluster,
                records=batch.records,
            )
        report = IngestReport()
        for group in groups:
            part = ingest_airings(
                session,
                station=group.station,
                records=group.records,
                source="device" if principal.kind == DEVICE else "operator",
                recorded_by=principal.name,
                device_cluster=group.cluster,
                former_clusters=group.former_clusters,
            )
            report.accepted += part.accepted
            report.duplicates += part.duplicates
            report.rejected += part.rejected
    return AiringAnswer(
        accepted=report.accepted, duplicates=report.duplicates, rejected=report.rejected
    )


async def _as_device(
    request: Request,
    code: str,
    token: str | None,
    device: HTTPAuthorizationCredentials | None,
    permission: Permission,
    work: Callable[[State, StationGrant, str | None], T],
) -> T:
    """Do `work` for the station's caller and the cluster a receiver is bound to, in one
    trip to the thread pool."""
    state = request.app.state

    def run() -> T:
        # Who asks is read before the write lock is taken. Held while this process serves
        # others, the lock would keep every other writer waiting (devices post all day long).
        with Session(state.engine, expire_on_commit=False) as session:
            grant = grant_from_bearer(
                session, state, code=code, token=token, device=device, permission=permission
            )
            cluster = bound_cluster(session, grant.principal)
        return work(state, grant, cluster)

    return await run_in_threadpool(run)


@router.get("/stations/{code}/airings", summary="Airing records of a station, oldest first")
def list_airings(
    grant: ScheduleReader,
    session: SessionDep,
    day_from: DayFrom = None,
    day_to: DayTo = None,
    cluster: str | None = None,
    status: AiringStatus | None = None,
    after_seq: Annotated[int, Query(ge=0, description="continue after this seq")] = 0,
    limit: PageLimit = 200,
) -> list[AiringOut]:
    """Page through the log by chain position; filters narrow it by date, cluster and status."""
    check_range(day_from, day_to)
    query = select(AiringRecord).where(
        AiringRecord.station_id == grant.station.id, AiringRecord.seq > after_seq
    )
    if day_from is not None:
        query = query.where(AiringRecord.day >= day_from)
    if day_to is not None:
        query = query.where(AiringRecord.day <= day_to)
    if cluster is not None:
        query = query.where(AiringRecord.cluster == cluster)
    if status is not None:
        query = query.where(AiringRecord.status == status)
    rows = session.exec(query.order_by(col(AiringRecord.seq)).limit(limit))
    return [AiringOut(id=r.client_id, **r.model_dump(exclude={"id", "client_id"})) for r in rows]


class ChainOut(BaseModel):
    """Whether a station's airing log is intact, and where it first breaks if not."""

    station: str
    records: int
    ok: bool
    first_broken: dict | None
    purged: int = 0


@router.get(
    "/stations/{code}/airings/verify",
    response_model=ChainOut,
    summary="Check the station's airing log against its hash chain",
)
def verify(grant: ScheduleReader, session: SessionDep, settings: SettingsDep) -> ChainCheck:
    """Recompute every link; report the first altered, removed or missing record."""
    return verify_chain(session, station=grant.station, key=settings.signing_key)


class MissedOut(BaseModel):
    """A scheduled entry nobody has reported as aired, skipped or failed."""

    station: str
    day: date
    entry_id: str
    title: str
    booking_id: int | None
    scheduled_start: datetime
    scheduled_end: datetime
    flagged_at: datetime


MISSED_RANGE_DAYS = 92


@router.get(
    "/stations/{code}/airings/missed",
    summary="Entries with no airing record some minutes after their end",
)
def missed(
    grant: ScheduleReader,
    session: SessionDep,
    day_from: DayFrom = None,
    day_to: DayTo = None,
    subtree: bool = False,
    offset: PageOffset = 0,
    limit: PageLimit = 200,
) -> list[MissedOut]:
    """What the scheduler flagged as missed and no late report has cleared yet."""
    last = day_to or utcnow().date() + timedelta(days=1)
    first = day_from or last - timedelta(days=7)
    if not timedelta(0) <= last - first <= timedelta(days=MISSED_RANGE_DAYS):
        raise InvalidError(
            f"Khoảng ngày phải từ 0 đến {MISSED_RANGE_DAYS} ngày.",
            errors=[{"field": "from"}, {"field": "to"}],
        )
    ids = subtree_ids(session, root_id=grant.station.id) if subtree else {grant.station.id}
    codes = dict(
        session.exec(select(Station.id, Station.code).where(col(Station.id).in_(ids))).all()
    )
    flagged = missed_airings(session, station_ids=ids, first=first, last=last)
    return [
        MissedOut(station=codes[m.station_id], **m.model_dump(exclude={"id", "station_id"}))
        for m in flagged[offset : offset + limit]
    ]


class HeartbeatIn(BaseModel):
    """What a device tells about itself every minute or so."""

    cluster: str | None = Field(None, description="for a device not bound to one cluster")
    online: bool = True
    volume: int | None = Field(None, ge=0, le=100)
    playing_entry_id: str | None = Field(None, max_length=64)
    cache_fill: float | None = Field(None, ge=0, le=1, description="share of upcoming audio held")
    cached_days: int | None = Field(None, ge=0, le=366)
    software_version: str | None = Field(None, max_length=64)


@router.post("/stations/{code}/heartbeats", status_code=204, summary="A device reports its state")
async def heartbeat(
    code: str, body: HeartbeatIn, request: Request, token: UserBearer, device: DeviceBearer
) -> None:
    """Keep the device's latest state for the clusters overview."""
    work = partial(_heartbeat, body=body)
    await _as_device(request, code, token, device, Permission.heartbeats_write, work)


def _heartbeat(state: State, grant: StationGrant, bound: str | None, *, body: HeartbeatIn) -> None:
    principal = grant.principal
    if principal.kind != DEVICE:
        raise ForbiddenError("Chỉ thiết bị mới gửi tín hiệu trạng thái.")
    state_now = body.model_dump()
    if bound is not None:
        if body.cluster not in (None, bound):
            raise InvalidError(
                f"Thiết bị này thuộc cụm loa {bound}.", errors=[{"field": "cluster"}]
            )
        state_now["cluster"] = bound
    with session_scope(state.engine, write=True) as session:
        act_as(session, principal.actor)
        if bound is None and body.cluster is not None:
            known = session.exec(
                select(Cluster.id).where(
                    Cluster.station_id == grant.station.id, Cluster.code == body.cluster
                )
            ).first()
            if known is None:
                raise InvalidError(
                    f"Đài {grant.station.code} không có cụm loa {body.cluster}.",
                    errors=[{"field": "cluster"}],
                )
        record_heartbeat(
            session, device_id=principal.id, station_id=grant.station.id, state=state_now
        )


class ClusterStateOut(BaseModel):
    """One cluster now: playing, idle, silent when it should play, offline or unknown."""

    station: str
    cluster: str | None
    name: str
    state: str
    reason: str
    seen_at: datetime | None
    volume: int | None
    playing_entry_id: str | None
    cache_fill: float | None
    software_version: str | None


@router.get(
    "/stations/{code}/clusters/status",
    response_model=list[ClusterStateOut],
    summary="Which clusters are playing, silent or offline",
)
def clusters_status(
    grant: StationReader,
    session: SessionDep,
    subtree: bool = False,
    only: Annotated[
        str | None, Query(description="comma-separated states to keep, e.g. silent,offline")
    ] = None,
    offset: PageOffset = 0,
    limit: PageLimit = 200,
) -> list[ClusterState]:
    """The latest heartbeat of each cluster judged against what the schedule has on air."""
    ids = subtree_ids(session, root_id=grant.station.id) if subtree else {grant.station.id}
    stations = list(session.exec(select(Station).where(col(Station.id).in_(ids))))
    states = cluster_states(session, stations=sorted(stations, key=lambda s: s.code))
    if only:
        wanted = {s.strip() for s in only.split(",")}
        if not wanted <= STATES:
            raise InvalidError(
                f"Trạng thái lọc là một trong: {', '.join(sorted(STATES))}.",
                errors=[{"field": "only", "value": only}],
            )
        states = [s for s in states if s.state in wanted]
    return states[offset : offset + limit]
