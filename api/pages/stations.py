"""The stations overview: which loudspeaker clusters play, are silent or offline."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import col, select

from api.auth import Permission, StationGrant
from api.deps import SessionDep
from api.web import PageOnStation, render
from scheduler.devices import cluster_states
from scheduler.models import Station
from scheduler.service import subtree_ids

router = APIRouter(include_in_schema=False)

STATE_NAMES = {
    "playing": "đang phát",
    "idle": "trực tuyến",
    "silent": "im lặng trong giờ phát",
    "offline": "mất liên lạc",
    "unknown": "chưa có thiết bị báo",
}
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
        state_names=STATE_NAMES,
        attention=ATTENTION,
        timezone=station.timezone,
    )
