"""Stations and their loudspeaker clusters."""

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from api.access import StationReader, StationWriter
from api.auth import (
    Allowed,
    Permission,
    Principal,
    reaches,
    require_reach,
    visible_station_ids,
)
from api.deps import SessionDep, SettingsDep
from api.problems import problem_doc
from api.uploads import read_text_document
from core.clock import utcnow
from core.errors import ForbiddenError
from core.models import Role
from scheduler.merges import MergePlan, merge_stations, plan_merge, relocate_station
from scheduler.models import Cluster, Station, StationKind
from scheduler.retention import (
    MAX_DAYS,
    MIN_DAYS,
    get_policy,
    horizon,
    purge_horizons,
    set_policy,
)
from scheduler.service import (
    add_cluster,
    clusters_by_station,
    create_station,
    get_station,
    list_stations,
    update_station,
)
from scheduler.stations_csv import import_stations_csv

router = APIRouter(prefix="/stations", tags=["stations"])

CanRead = Annotated[Principal, Depends(Allowed(Permission.stations_read))]
CanWrite = Annotated[Principal, Depends(Allowed(Permission.stations_write))]


class ClusterIn(BaseModel):
    """A new loudspeaker cluster."""

    code: str = Field(max_length=64, examples=["BAN-NA-VIENG"])
    name: str = Field(min_length=1, max_length=200, examples=["Cụm loa bản Nà Viềng"])
    zone_tags: list[str] = Field(default_factory=list, examples=[["blt"]])


class ClusterOut(BaseModel):
    """A loudspeaker cluster."""

    code: str
    name: str
    zone_tags: list[str]


class StationIn(BaseModel):
    """A new station, placed under its parent."""

    code: str = Field(max_length=64, examples=["XA-CHIENG-PAN"])
    name: str = Field(min_length=1, max_length=200)
    kind: StationKind
    parent: str | None = Field(None, description="code of the parent station")
    timezone: str = "Asia/Ho_Chi_Minh"
    languages: list[str] = Field(default_factory=lambda: ["vie"])


class StationOut(BaseModel):
    """A station with its clusters and, in the tree, its children."""

    code: str
    name: str
    kind: StationKind
    parent: str | None
    timezone: str
    languages: list[str]
    clusters: list[ClusterOut] = Field(default_factory=list)
    children: list["StationOut"] = Field(default_factory=list)


def _out(station: Station, parent: str | None, clusters: list[Cluster]) -> StationOut:
    return StationOut(
        code=station.code,
        name=station.name,
        kind=station.kind,
        parent=parent,
        timezone=station.timezone,
        languages=station.languages,
        clusters=[ClusterOut(code=c.code, name=c.name, zone_tags=c.zone_tags) for c in clusters],
    )


@router.get("", summary="The station tree within your scope")
def station_tree(principal: CanRead, session: SessionDep) -> list[StationOut]:
    """Return the stations the caller may see, nested parent to child, with clusters."""
    stations = list_stations(session, ids=visible_station_ids(session, principal))
    by_id = {s.id: s for s in stations}
    clusters = clusters_by_station(session, station_ids=set(by_id))
    nodes = {
        s.id: _out(
            s, by_id[s.parent_id].code if s.parent_id in by_id else None, clusters.get(s.id, [])
        )
        for s in stations
    }
    roots = []
    for station in stations:
        if station.parent_id in nodes:
            nodes[station.parent_id].children.append(nodes[station.id])
        else:
            roots.append(nodes[station.id])
    return roots


@router.post("", status_code=201, summary="Add a station")
def add_station(body: StationIn, principal: CanWrite, session: SessionDep) -> StationOut:
    """Add a station under a parent within the caller's scope (a new province: admins only)."""
    if body.parent is None:
        if principal.station_id is not None:
            raise ForbiddenError("Chỉ quản trị viên mới tạo được đài không có đài cấp trên.")
    else:
        require_reach(session, principal, get_station(session, code=body.parent))
    station = create_station(
        session, **body.model_dump(exclude={"parent"}), parent_code=body.parent
    )
    session.commit()
    return _out(station, body.parent, [])


class StationSettings(BaseModel):
    """A station's settings; in a PATCH, only the fields sent change."""

    name: str | None = Field(None, min_length=1, max_length=200)
    languages: list[str] | None = None
    lexicon: dict[str, str] | None = Field(None, description="abbreviation -> reading")
    two_person_approval: bool | None = None
    voice_engine: str | None = Field(None, description="espeak, gtts or auto")
    voice_name: str | None = Field(None, description="vi, vi-vn-x-central, vi-vn-x-south")
    speech_rate: int | None = None
    speech_pitch: int | None = None
    loudness_lufs: float | None = None
    mp3_bitrate_kbps: int | None = None
    windows: list[dict[str, Any]] | None = Field(
        None, examples=[[{"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"}]]
    )
    max_sessions_per_day: int | None = None
    max_minutes_per_session: int | None = None
    weekdays_only: bool | None = None
    fallback: dict[str, Any] | None = Field(
        None, examples=[{"kind": "relay", "url": "http://vov.example/vov1", "title": "VOV1"}]
    )
    freeze_lead_minutes: int | None = None


class StationDetailOut(StationOut):
    """A station with its clusters and every setting."""

    settings: StationSettings


def _detail(session: SessionDep, station: Station) -> StationDetailOut:
    parent = session.get(Station, station.parent_id) if station.parent_id else None
    clusters = clusters_by_station(session, station_ids={station.id}).get(station.id, [])
    settings = StationSettings.model_validate(station, from_attributes=True)
    return StationDetailOut(
        **_out(station, parent.code if parent else None, clusters).model_dump(),
        settings=settings,
    )


class ImportOut(BaseModel):
    """What a CSV import created."""

    stations_created: int
    clusters_created: int
    skipped: int


@router.post(
    "/import",
    status_code=201,
    summary="Import stations and clusters from CSV",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            },
        }
    },
)
async def import_stations(request: Request, principal: CanWrite, session: SessionDep) -> ImportOut:
    """Create a province's stations and clusters from one CSV; a bad row refuses the file."""
    text = await read_text_document(
        request, media_types=("text/csv", "text/plain"), what="danh sách đài"
    )

    def may_attach(parent: Station | None) -> bool:
        if parent is None:
            return principal.station_id is None
        return reaches(session, principal, parent.id)

    result = import_stations_csv(session, text=text, may_attach=may_attach)
    session.commit()
    return ImportOut(
        stations_created=result.stations_created,
        clusters_created=result.clusters_created,
        skipped=result.skipped,
    )


@router.get("/{code}", summary="One station, clusters, settings")
def station_detail(grant: StationReader, session: SessionDep) -> StationDetailOut:
    """Return a station within the caller's scope."""
    return _detail(session, grant.station)


class StationChange(StationSettings):
    """Settings to change, and where the station moves or which code it takes."""

    parent: str | None = Field(None, description="code of the new parent station (a move)")
    code: str | None = Field(
        None, max_length=64, description="new code; the old one keeps answering"
    )


@router.patch("/{code}", summary="Change a station's settings")
def change_station(
    body: StationChange,
    grant: StationWriter,
    session: SessionDep,
    settings: SettingsDep,
) -> StationDetailOut:
    """Change windows, caps, fallback, voice and other settings (all are checked first),
    move the station under another parent, or rename its code."""
    changes = body.model_dump(exclude_unset=True)
    parent_code, new_code = changes.pop("parent", None), changes.pop("code", None)
    parent = get_station(session, code=parent_code) if parent_code else None
    if parent is not None:
        require_reach(session, grant.principal, parent)
    update_station(session, station=grant.station, changes=changes)
    relocate_station(
        session,
        station=grant.station,
        parent=parent,
        code=new_code,
        base_url=settings.public_base_url,
    )
    session.commit()
    return _detail(session, grant.station)


class MergeIn(BaseModel):
    """Which station this one merges into, and new codes for clashing clusters."""

    into: str = Field(max_length=64, examples=["XA-MUONG-BU"])
    rename: dict[str, str] = Field(
        default_factory=dict, description="cluster code -> new code", examples=[{"BAN-A": "BAN-A2"}]
    )
    dry_run: bool = Field(False, description="only tell what would move; change nothing")


class MergeOut(BaseModel):
    """What a merge moved, or would move (a dry run), and the clusters whose codes clash."""

    source: str
    target: str
    effective_day: date = Field(description="first day the moved clusters play the target's")
    clusters: list[dict[str, Any]] = Field(description="{id, from, to}")
    clashes: list[str]
    bookings: list[int]
    content_items: list[int]
    recordings: list[int]
    programmes: list[dict[str, Any]]
    script_templates: list[int]
    users: list[str]
    devices: list[int]
    playlists_dropped: list[date]
    playlists_kept: list[date]
    done: bool


@router.post(
    "/{code}/merge",
    response_model=MergeOut,
    summary="Merge a station into another (admins, or planners whose scope holds both)",
    responses={409: problem_doc("cluster codes clash, or a station was already merged")},
)
def merge_station(
    body: MergeIn,
    grant: StationWriter,
    session: SessionDep,
    settings: SettingsDep,
) -> MergePlan:
    """Move clusters, devices, accounts, future bookings and content to the target in one
    transaction; the source stays, read-only, with its playlists and airing log."""
    target = get_station(session, code=body.into)
    require_reach(session, grant.principal, target)
    if body.dry_run:
        plan = plan_merge(session, source=grant.station, target=target, rename=body.rename)
        session.rollback()
        return plan
    plan = merge_stations(
        session,
        source=grant.station,
        target=target,
        rename=body.rename,
        merged_by=grant.principal.name,
        base_url=settings.public_base_url,
    )
    session.commit()
    return plan


@router.post("/{code}/clusters", status_code=201, summary="Add a cluster")
def new_cluster(
    body: ClusterIn,
    grant: StationWriter,
    session: SessionDep,
    response: Response,
) -> ClusterOut:
    """Add a loudspeaker cluster to a commune station within the caller's scope."""
    cluster = add_cluster(
        session, station=grant.station, code=body.code, name=body.name, zone_tags=body.zone_tags
    )
    session.commit()
    response.headers["Location"] = f"/api/v1/stations/{grant.station.code}"
    return ClusterOut(code=cluster.code, name=cluster.name, zone_tags=cluster.zone_tags)


class RetentionIn(BaseModel):
    """How long a province keeps airing logs and recordings."""

    days: int = Field(ge=MIN_DAYS, le=MAX_DAYS, examples=[730])


class RetentionOut(BaseModel):
    """The retention policy that applies to a station, and what has been purged under it."""

    station: str
    province: str = Field(description="the station whose policy applies: the tree's root")
    days: int
    default: bool = Field(description="no policy set: the two-year default applies")
    updated_by: str | None
    updated_at: datetime | None
    keeps_from: date = Field(description="first local day whose records are kept, as of today")
    purged_before: date | None = Field(description="this station's log is purged before this day")


def _retention(session: SessionDep, station: Station) -> RetentionOut:
    policy = get_policy(session, station=station)
    _, keeps_from = horizon(days=policy.days, now=utcnow(), timezone=station.timezone)
    return RetentionOut(
        station=station.code,
        **asdict(policy),
        keeps_from=keeps_from,
        purged_before=purge_horizons(session, station_ids={station.id}).get(station.id),
    )


@router.get(
    "/{code}/retention", summary="How long the station's airing log and recordings are kept"
)
def station_retention(grant: StationReader, session: SessionDep) -> RetentionOut:
    """The province's policy (default 730 days) and the station's purge horizon."""
    return _retention(session, grant.station)


@router.put("/{code}/retention", summary="Set a province's retention policy (admins)")
def set_station_retention(
    body: RetentionIn,
    grant: StationWriter,
    session: SessionDep,
) -> RetentionOut:
    """Set how long a province station and its tree keep airing logs and recordings."""
    if grant.principal.role != Role.admin:
        raise ForbiddenError("Chỉ quản trị viên mới đặt được thời hạn lưu trữ.")
    set_policy(session, station=grant.station, days=body.days, by=grant.principal.name)
    session.commit()
    return _retention(session, grant.station)
