"""Accounts of people."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlmodel import select

from api.access import reachable_station
from api.auth import Allowed, Permission, Principal, visible_station_ids
from api.deps import SessionDep
from api.limits import PageLimit
from core.errors import ForbiddenError, NotFoundError
from core.identity import create_user, deactivate_user
from core.models import Role, User
from scheduler.models import Station

router = APIRouter(prefix="/users", tags=["users"])

CanRead = Annotated[Principal, Depends(Allowed(Permission.users_read))]
CanWrite = Annotated[Principal, Depends(Allowed(Permission.users_write))]


class UserIn(BaseModel):
    """A new account; the password is never shown again."""

    username: str = Field(min_length=3, max_length=64, examples=["ct.chiengpan"])
    password: str = Field(min_length=1, max_length=256)
    role: Role
    station: str | None = Field(None, description="code of the station the account acts on")
    full_name: str = Field("", max_length=200)


class UserOut(BaseModel):
    """An account, without secrets."""

    username: str
    full_name: str
    role: Role
    station: str | None
    active: bool
    created_at: datetime
    last_login_at: datetime | None


def _out(user: User, codes: dict[int, str]) -> UserOut:
    return UserOut(
        username=user.username,
        full_name=user.full_name,
        role=user.role,
        station=codes.get(user.station_id) if user.station_id else None,
        active=user.active,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def _visible_user(session: SessionDep, principal: Principal, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    ids = visible_station_ids(session, principal)
    if user is None or (ids is not None and user.station_id not in ids):
        raise NotFoundError(f"Không có tài khoản {username!r}.")
    return user


@router.get("", summary="Accounts within your scope")
def list_users(
    principal: CanRead,
    session: SessionDep,
    after: Annotated[
        str | None, Query(max_length=64, description="continue after this username (paging)")
    ] = None,
    limit: PageLimit = 200,
) -> list[UserOut]:
    """Return the accounts whose station lies within the caller's scope, by username."""
    ids = visible_station_ids(session, principal)
    query = select(User).order_by(User.username).limit(limit)
    if after is not None:
        query = query.where(User.username > after)
    if ids is not None:
        query = query.where(User.station_id.in_(ids))
    users = list(session.exec(query))
    codes = dict(session.exec(select(Station.id, Station.code)).all())
    return [_out(user, codes) for user in users]


@router.post("", status_code=201, summary="Create an account")
def add_user(body: UserIn, principal: CanWrite, session: SessionDep) -> UserOut:
    """Create an account: admins any; planners operator accounts within their scope."""
    if principal.role != Role.admin and body.role != Role.operator:
        raise ForbiddenError("Cán bộ kế hoạch chỉ tạo được tài khoản cán bộ vận hành xã.")
    station = reachable_station(session, principal, body.station)
    user = create_user(
        session,
        username=body.username,
        password=body.password,
        role=body.role,
        station_id=station.id if station else None,
        full_name=body.full_name,
    )
    session.commit()
    return _out(user, {station.id: station.code} if station else {})


@router.post("/{username}/deactivate", status_code=204, summary="Disable an account")
def disable_user(username: str, principal: CanWrite, session: SessionDep) -> Response:
    """Stop an account from logging in; its tokens stop working at once. The last active
    admin stays (409): without one, nothing but the server's command line could recover."""
    user = _visible_user(session, principal, username)
    if principal.role != Role.admin and user.role != Role.operator:
        raise ForbiddenError("Cán bộ kế hoạch chỉ khóa được tài khoản cán bộ vận hành xã.")
    deactivate_user(session, user=user)
    session.commit()
    return Response(status_code=204)
