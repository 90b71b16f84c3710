"""Logging in to the REST API and asking who you are."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.auth import CurrentPrincipal, Permission
from api.deps import SessionDep, SettingsDep, log_in
from api.outputs import code_of
from api.problems import problem_doc
from core.clock import utcnow
from core.identity import issue_access_token
from scheduler.models import Cluster, Station

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenOut(BaseModel):
    """An OAuth2 bearer token."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    expires_at: datetime


class MeOut(BaseModel):
    """The caller as the server sees them."""

    kind: str
    name: str
    role: str
    station: str | None
    cluster: str | None
    permissions: list[str]


@router.post(
    "/token",
    summary="Log in (OAuth2 password flow)",
    responses={
        401: problem_doc("Wrong username or password (the same answer for both)"),
        429: problem_doc(
            "Too many failed logins for this username or from this address within the window",
            headers={"Retry-After": "seconds until logins are accepted again"},
        ),
    },
)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> TokenOut:
    """Exchange a username and password for a bearer token; repeated failures are throttled."""
    user = log_in(session, settings, request, form)
    issued = issue_access_token(settings=settings, user=user)
    return TokenOut(
        access_token=issued.token,
        expires_in=int((issued.expires_at - utcnow()).total_seconds()),
        expires_at=issued.expires_at,
    )


@router.get("/me", summary="Who the token belongs to")
def me(principal: CurrentPrincipal, session: SessionDep) -> MeOut:
    """Describe the caller: role, scope and permissions."""
    return MeOut(
        kind=principal.kind,
        name=principal.name,
        role=principal.role,
        station=code_of(session, Station, principal.station_id),
        cluster=code_of(session, Cluster, principal.cluster_id),
        permissions=sorted(p.value for p in Permission if principal.may(p)),
    )
