"""Stations and their loudspeaker clusters."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from api.auth import (
    Allowed,
    OnStation,
    Permission,
    Principal,
    StationGrant,
    require_reach,
    visible_station_ids,
)
from api.deps import SessionDep
from core.errors import ForbiddenError
from scheduler.models import Cluster, Station, StationKind
from scheduler.service import (
    add_cluster,
    clusters_by_station,
    create_station,
    get_station,
    list_stations,
)

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


@router.get("", response_model=list[StationOut], summary="The station tree within your scope")
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


@router.post("", response_model=StationOut, status_code=201, summary="Add a station")
def add_station(body: StationIn, principal: CanWrite, session: SessionDep) -> StationOut:
    """Add a station under a parent within the caller's scope (a new province: admins only)."""
    if body.parent is None:
        if principal.station_id is not None:
            raise ForbiddenError("Chỉ quản trị viên mới tạo được đài không có đài cấp trên.")
    else:
        require_reach(session, principal, get_station(session, code=body.parent))
    station = create_station(
        session,
        code=body.code,
        name=body.name,
        kind=body.kind,
        parent_code=body.parent,
        timezone=body.timezone,
        languages=body.languages,
    )
    session.commit()
    return _out(station, body.parent, [])


@router.get("/{code}", response_model=StationOut, summary="One station with its clusters")
def station_detail(
    grant: Annotated[StationGrant, Depends(OnStation(Permission.stations_read))],
    session: SessionDep,
) -> StationOut:
    """Return a station within the caller's scope."""
    station = grant.station
    parent = session.get(Station, station.parent_id) if station.parent_id else None
    clusters = clusters_by_station(session, station_ids={station.id}).get(station.id, [])
    return _out(station, parent.code if parent else None, clusters)


@router.post(
    "/{code}/clusters", response_model=ClusterOut, status_code=201, summary="Add a cluster"
)
def new_cluster(
    body: ClusterIn,
    grant: Annotated[StationGrant, Depends(OnStation(Permission.stations_write))],
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
