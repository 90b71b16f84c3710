"""Device tokens for loudspeaker receivers and playout agents."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field
from sqlmodel import select

from api.auth import (
    DEVICE,
    Allowed,
    CurrentCaller,
    OnStation,
    Permission,
    Principal,
    StationGrant,
    reaches,
)
from api.deps import SessionDep
from api.paging import Paging
from core.errors import ForbiddenError, NotFoundError
from core.identity import create_device_token, revoke_device_token
from core.models import DeviceToken
from scheduler.models import Cluster, Station
from scheduler.service import get_cluster

router = APIRouter(tags=["devices"])

Manage = Annotated[StationGrant, Depends(OnStation(Permission.devices_manage))]


class DeviceTokenIn(BaseModel):
    """A device to issue a token for."""

    name: str = Field(min_length=1, max_length=200, examples=["Bộ thu bản Nà Viềng"])
    cluster: str | None = Field(None, description="code of the cluster the device serves")


class DeviceTokenOut(BaseModel):
    """A device token, without its secret."""

    id: int
    name: str
    station: str
    cluster: str | None
    prefix: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None


class NewDeviceToken(DeviceTokenOut):
    """A device token just created: the secret is shown this once."""

    token: str


def _out(device: DeviceToken, station: str, cluster: str | None) -> DeviceTokenOut:
    return DeviceTokenOut(
        **device.model_dump(include=set(DeviceTokenOut.model_fields) - {"station", "cluster"}),
        station=station,
        cluster=cluster,
    )


@router.post(
    "/stations/{code}/device-tokens", status_code=201, summary="Issue a device token (shown once)"
)
def issue(body: DeviceTokenIn, grant: Manage, session: SessionDep) -> NewDeviceToken:
    """Create a token for a device of this station; only its hash is stored."""
    cluster = (
        get_cluster(session, station=grant.station, code=body.cluster) if body.cluster else None
    )
    device, secret = create_device_token(
        session,
        station_id=grant.station.id,
        cluster_id=cluster.id if cluster else None,
        name=body.name,
        created_by=grant.principal.name,
    )
    session.commit()
    out = _out(device, grant.station.code, cluster.code if cluster else None)
    return NewDeviceToken(**out.model_dump(), token=secret)


@router.get("/stations/{code}/device-tokens", summary="Device tokens of a station")
def list_tokens(grant: Manage, session: SessionDep, paging: Paging) -> list[DeviceTokenOut]:
    """List the station's device tokens with their last use; secrets are never shown."""
    rows = session.exec(
        select(DeviceToken, Cluster.code)
        .join(Cluster, DeviceToken.cluster_id == Cluster.id, isouter=True)
        .where(DeviceToken.station_id == grant.station.id, DeviceToken.id > paging.after)
        .order_by(DeviceToken.id)
        .limit(paging.limit)
    ).all()
    return [_out(device, grant.station.code, cluster) for device, cluster in rows]


@router.delete("/device-tokens/{token_id}", status_code=204, summary="Revoke a device token")
def revoke(
    token_id: int,
    principal: Annotated[Principal, Depends(Allowed(Permission.devices_manage))],
    session: SessionDep,
) -> Response:
    """Revoke a token at once; the record of it stays."""
    device = session.get(DeviceToken, token_id)
    if device is None or not reaches(session, principal, device.station_id):
        raise NotFoundError(f"Không có mã thiết bị số {token_id}.")
    revoke_device_token(session, device=device)
    session.commit()
    return Response(status_code=204)


class DeviceSelf(BaseModel):
    """Who a device token speaks for: what a playout agent needs to start."""

    id: int
    name: str
    station: str
    timezone: str
    cluster: str | None


@router.get("/devices/me", summary="The calling device's station")
def me(principal: CurrentCaller, session: SessionDep) -> DeviceSelf:
    """Tell a device which station and cluster its token belongs to."""
    if principal.kind != DEVICE:
        raise ForbiddenError("Chỉ dành cho thiết bị (mã ttd_…).")
    device = session.get(DeviceToken, principal.id)
    station = session.get(Station, device.station_id)
    cluster = session.get(Cluster, device.cluster_id) if device.cluster_id else None
    return DeviceSelf(
        id=device.id,
        name=device.name,
        station=station.code,
        timezone=station.timezone,
        cluster=cluster.code if cluster else None,
    )
