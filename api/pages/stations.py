"""The stations overview (which loudspeaker clusters play, are silent or offline) and
merging a station into another, with a preview of what moves."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from api.access import stations_in_scope
from api.auth import Permission, StationGrant, require_reach
from api.deps import SessionDep, SettingsDep
from api.pages.formats import STATE_NAMES
from api.web import PageOnStation, check_csrf, render
from scheduler.devices import cluster_states
from scheduler.merges import merge_stations, plan_merge, read_renames
from scheduler.models import Station, StationKind
from scheduler.service import get_station, subtree_ids

router = APIRouter(include_in_schema=False)

ATTENTION = ("silent", "offline")


@router.get("/stations/{code}/clusters")
def clusters_overview(
    request: Request,
    grant: Annotated[
        StationGrant,
        Depends(
            PageOnStation(
                Permission.stations_read,
                heading="Không mở được danh sách cụm loa",
                refusal="Đài {code} nằm ngoài phạm vi được giao.",
            )
        ),
    ],
    session: SessionDep,
) -> Response:
    """Every cluster of the station and the stations below it, the worrying ones first."""
    station, principal = grant.station, grant.principal
    ids = subtree_ids(session, root_id=station.id)
    stations = list(session.exec(select(Station).where(col(Station.id).in_(ids))))
    states = cluster_states(session, stations=sorted(stations, key=lambda s: s.code))
    states.sort(key=lambda s: (s.state not in ATTENTION, s.station, s.cluster or ""))
    counts = {name: sum(1 for s in states if s.state == name) for name in STATE_NAMES}
    return render(
        request,
        "clusters.html",
        principal,
        station=station,
        states=states,
        counts=counts,
        attention=ATTENTION,
        timezone=station.timezone,
    )


MergePage = Annotated[
    StationGrant,
    Depends(
        PageOnStation(
            Permission.stations_write,
            heading="Không sáp nhập được đài",
            back="/stations/{code}/merge",
            refusal="Vai trò của bạn không được sáp nhập đài.",
        )
    ),
]


def _merge_context(session: Session, grant: StationGrant) -> dict[str, Any]:
    targets = [
        s
        for s in stations_in_scope(session, grant.principal)
        if s.kind == StationKind.commune and s.id != grant.station.id and s.merged_into_id is None
    ]
    return {"station": grant.station, "targets": sorted(targets, key=lambda s: s.code)}


@router.get("/stations/{code}/merge")
def merge_form(
    request: Request,
    grant: MergePage,
    session: SessionDep,
    into: Annotated[str, Query(max_length=64)] = "",
    rename: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    """Choose the station to merge into and see, before anything changes, what will move."""
    plan = None
    if into:
        target = get_station(session, code=into)
        require_reach(session, grant.principal, target)
        plan = plan_merge(
            session, source=grant.station, target=target, rename=read_renames(rename.split(","))
        )
        session.rollback()
    return render(
        request,
        "merge.html",
        grant.principal,
        **_merge_context(session, grant),
        plan=plan,
        into=into,
        rename=rename,
    )


@router.post("/stations/{code}/merge", dependencies=[Depends(check_csrf)])
def merge_submit(
    request: Request,
    grant: MergePage,
    session: SessionDep,
    settings: SettingsDep,
    into: Annotated[str, Form(max_length=64)],
    rename: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Merge the station as previewed: everything moves in one transaction, or nothing."""
    target = get_station(session, code=into)
    require_reach(session, grant.principal, target)
    plan = merge_stations(
        session,
        source=grant.station,
        target=target,
        rename=read_renames(rename.split(",")),
        merged_by=grant.principal.name,
        base_url=settings.public_base_url,
    )
    session.commit()
    return render(
        request,
        "merge.html",
        grant.principal,
        station=grant.station,
        targets=[],
        plan=plan,
        into=into,
        rename=rename,
    )
