"""Who is asking and what they may do: every authorization decision lives here.

People use bearer tokens on the REST API and a session cookie on web pages;
devices use device tokens on the API only. A role grants permissions; a scope
(the station subtree of the account, or the one station of a device) limits
where they apply.
"""

import hashlib
import hmac
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlalchemy import bindparam
from sqlmodel import Session, select
from starlette.datastructures import State

from api.deps import SessionDep, SettingsDep, UsageDep
from core.audit import Actor, act_as
from core.errors import ForbiddenError, UnauthorizedError
from core.identity import (
    DEVICE_TOKEN_PREFIX,
    device_from_token,
    user_for_session,
    user_from_access_token,
)
from core.models import DeviceToken, Role, User
from core.settings import Settings
from scheduler.merges import final_station, refuse_merged
from scheduler.models import Cluster, Station
from scheduler.service import ancestor_ids, get_station, subtree_ids

DEVICE = "device"


class Permission(StrEnum):
    """Something a caller may be allowed to do."""

    stations_read = "stations:read"
    stations_write = "stations:write"
    content_read = "content:read"
    content_write = "content:write"
    content_approve = "content:approve"
    users_read = "users:read"
    users_write = "users:write"
    devices_manage = "devices:manage"
    audit_read = "audit:read"
    playlists_read = "playlists:read"
    airings_write = "airings:write"
    heartbeats_write = "heartbeats:write"
    recordings_write = "recordings:write"
    reports_read = "reports:read"
    announcements_write = "announcements:write"


P = Permission
# What a merged station still allows: it stays for history, read-only.
READ_PERMISSIONS = frozenset(
    {
        P.stations_read,
        P.content_read,
        P.users_read,
        P.audit_read,
        P.playlists_read,
        P.reports_read,
    }
)
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.planner: frozenset(
        {
            P.stations_read,
            P.stations_write,
            P.content_read,
            P.content_write,
            P.content_approve,
            P.users_read,
            P.users_write,
            P.devices_manage,
            P.audit_read,
            P.playlists_read,
            P.recordings_write,
            P.reports_read,
            P.announcements_write,
        }
    ),
    Role.operator: frozenset(
        {
            P.stations_read,
            P.content_read,
            P.playlists_read,
            P.airings_write,
            P.recordings_write,
            P.announcements_write,
        }
    ),
    Role.auditor: frozenset(
        {P.stations_read, P.content_read, P.audit_read, P.playlists_read, P.reports_read}
    ),
    DEVICE: frozenset({P.playlists_read, P.airings_write, P.heartbeats_write}),
}


@dataclass(frozen=True)
class Principal:
    """The person or device behind a request."""

    kind: str  # user or device
    id: int
    name: str
    role: str
    station_id: int | None  # None: the whole country (admins)
    cluster_id: int | None = None

    @property
    def actor(self) -> Actor:
        """How the audit trail names this caller."""
        return Actor(kind=self.kind, id=self.id, name=self.name)

    def may(self, permission: Permission) -> bool:
        """Tell whether the role grants the permission, wherever it applies."""
        return permission in ROLE_PERMISSIONS[self.role]


def principal_for_user(user: User) -> Principal:
    """The principal of a logged-in person."""
    assert user.id is not None
    return Principal(
        kind="user",
        id=user.id,
        name=user.username,
        role=user.role,
        station_id=None if user.role == Role.admin else user.station_id,
    )


def principal_for_device(device: DeviceToken) -> Principal:
    """The principal of a receiver or playout agent."""
    assert device.id is not None
    return Principal(
        kind="device",
        id=device.id,
        name=f"device:{device.name}",
        role=DEVICE,
        station_id=device.station_id,
        cluster_id=device.cluster_id,
    )


_user_bearer = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    scheme_name="UserToken",
    description="Người dùng: mã truy cập lấy từ POST /api/v1/auth/token.",
    auto_error=False,
)
_device_bearer = HTTPBearer(
    scheme_name="DeviceToken",
    description="Thiết bị (cụm thu phát, playout agent): mã thiết bị `ttd_…`.",
    auto_error=False,
)


UserBearer = Annotated[str | None, Depends(_user_bearer)]
DeviceBearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_device_bearer)]


def get_caller(
    session: SessionDep,
    settings: SettingsDep,
    token: UserBearer,
    _device: DeviceBearer,
    usage: UsageDep,
) -> Principal:
    """Identify the caller, person or device, from the bearer token, or answer 401."""
    if not token:
        raise UnauthorizedError("Cần đăng nhập: gửi kèm mã truy cập (Authorization: Bearer …).")
    if token.startswith(DEVICE_TOKEN_PREFIX):
        principal = principal_for_device(device_from_token(session, token=token, usage=usage))
    else:
        principal = principal_for_user(
            user_from_access_token(session, settings=settings, token=token)
        )
    act_as(session, principal.actor)
    return principal


CurrentCaller = Annotated[Principal, Depends(get_caller)]

# What a device token is for: the routes that opt in with `devices=True` or `CurrentCaller`.
DEVICE_ONLY_FOR = (
    "Mã thiết bị chỉ dùng để tải danh sách phát và âm thanh, gửi báo cáo phát sóng và "
    "trạng thái, nhận sự kiện của đài mình."
)


def refuse_device(principal: Principal) -> Principal:
    """Refuse a device with 403: what a route serves people is not for receivers."""
    if principal.kind == DEVICE:
        raise ForbiddenError(DEVICE_ONLY_FOR)
    return principal


async def get_principal(caller: CurrentCaller) -> Principal:
    """The person behind the request: a device token gets 403 unless the route opts in."""
    return refuse_device(caller)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def visible_station_ids(session: Session, principal: Principal) -> set[int] | None:
    """The stations a caller's scope covers; None means every station."""
    if principal.station_id is None:
        return None
    if principal.kind == DEVICE:
        return {principal.station_id}
    return subtree_ids(session, root_id=principal.station_id)


def reaches(session: Session, principal: Principal, station_id: int) -> bool:
    """Tell whether a station lies within the caller's scope."""
    if principal.station_id is None:
        return True
    if principal.kind == DEVICE:
        return station_id == principal.station_id
    return principal.station_id in ancestor_ids(session, station_id=station_id)


def require(principal: Principal, permission: Permission) -> None:
    """Refuse with 403 unless the caller's role grants the permission."""
    if not principal.may(permission):
        raise ForbiddenError(f"Vai trò {principal.role} không được phép: {permission.value}.")


def require_reach(session: Session, principal: Principal, station: Station) -> None:
    """Refuse with 403 unless the station lies within the caller's scope."""
    assert station.id is not None
    if not reaches(session, principal, station.id):
        raise ForbiddenError(f"Đài {station.code} nằm ngoài phạm vi được giao.")


class Allowed:
    """Dependency: the caller, if their role grants `permission`; a device only if `devices`."""

    def __init__(self, permission: Permission, *, devices: bool = False) -> None:
        self.permission = permission
        self.devices = devices

    def __call__(self, principal: CurrentCaller) -> Principal:
        if not self.devices:
            refuse_device(principal)
        require(principal, self.permission)
        return principal


@dataclass(frozen=True)
class StationGrant:
    """A station named in the path, with the caller allowed to act on it.

    `named`: the merged station a device still names, when `station` is the one it
    was merged into.
    """

    principal: Principal
    station: Station
    named: Station | None = None


class OnStation:
    """Dependency: the station `{code}` of the path, if the caller may act on it; a device
    only if `devices`, and only on its own station."""

    def __init__(self, permission: Permission, *, devices: bool = False) -> None:
        self.permission = permission
        self.devices = devices

    def __call__(self, code: str, principal: CurrentCaller, session: SessionDep) -> StationGrant:
        if not self.devices:
            refuse_device(principal)
        return grant_on_station(session, principal=principal, code=code, permission=self.permission)


def grant_on_station(
    session: Session, *, principal: Principal, code: str, permission: Permission
) -> StationGrant:
    """The station with this code, if the caller may act on it there; else 403 or 404."""
    require(principal, permission)
    station = get_station(session, code=code)
    if station.merged_into_id is not None:
        if principal.kind == DEVICE:
            # Its device tokens keep working: they now act at the station it joined.
            joined = final_station(session, station=station)
            if joined.id == principal.station_id:
                return StationGrant(principal=principal, station=joined, named=station)
        elif permission not in READ_PERMISSIONS:
            require_reach(session, principal, station)
            refuse_merged(session, station=station)
    require_reach(session, principal, station)
    return StationGrant(principal=principal, station=station)


def grant_from_bearer(
    session: Session,
    state: State,
    *,
    code: str,
    token: str | None,
    device: HTTPAuthorizationCredentials | None,
    permission: Permission,
) -> StationGrant:
    """What `OnStation(permission, devices=True)` gives a route, for the device routes that
    do all their work in one hop to the thread pool."""
    principal = get_caller(session, state.settings, token, device, state.device_usage)
    return grant_on_station(session, principal=principal, code=code, permission=permission)


# Built once: devices bound to a cluster ask on every pull and post.
_CLUSTER_CODE = select(Cluster.code).where(Cluster.id == bindparam("id"))


def bound_cluster(session: Session, principal: Principal) -> str | None:
    """The code of the one cluster a device is bound to, if it is."""
    if principal.kind != DEVICE or principal.cluster_id is None:
        return None
    return session.exec(_CLUSTER_CODE, params={"id": principal.cluster_id}).one()


def web_principal(request: Request, session: SessionDep) -> Principal | None:
    """The person logged in to the web pages through the session cookie, if any."""
    user_id, version = request.session.get("uid"), request.session.get("ver")
    if user_id is None or version is None:
        return None
    try:
        user = user_for_session(session, user_id=int(user_id), version=int(version))
    except UnauthorizedError:
        request.session.clear()
        return None
    principal = principal_for_user(user)
    act_as(session, principal.actor)
    return principal


def _audio_signature(settings: Settings, sha256: str, expires: int) -> str:
    message = f"audio|{sha256}|{expires}".encode()
    return hmac.new(settings.signing_key.encode(), message, hashlib.sha256).hexdigest()[:40]


def audio_query(*, settings: Settings, sha256: str, expires: int) -> str:
    """The query string that lets a player without a token fetch one file until `expires`."""
    return f"exp={expires}&sig={_audio_signature(settings, sha256, expires)}"


def audio_reader(
    sha256: str,
    session: SessionDep,
    settings: SettingsDep,
    token: UserBearer,
    device: DeviceBearer,
    usage: UsageDep,
    exp: Annotated[int | None, Query(description="expiry of a signed link (Unix time)")] = None,
    sig: Annotated[str | None, Query(max_length=64, description="signature of the link")] = None,
) -> Principal | None:
    """Allow a signed link from an M3U8 playlist (None), or return a caller who may read
    playlists; which files are theirs is `api.access.reads_audio`'s to say."""
    if sig is not None and exp is not None:
        # Bytes: compare_digest refuses str with non-ASCII characters (a 500 otherwise).
        valid = hmac.compare_digest(sig.encode(), _audio_signature(settings, sha256, exp).encode())
        if valid and exp >= time.time():
            return None
        raise ForbiddenError("Liên kết tải âm thanh đã hết hạn hoặc không đúng.")
    principal = get_caller(session, settings, token, device, usage)
    require(principal, Permission.playlists_read)
    return principal
