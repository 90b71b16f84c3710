"""Communication plans: import a document, review what was found; and the theme list."""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import Session, or_, select

from api.auth import Allowed, Permission, Principal, require_reach, visible_station_ids
from api.deps import SessionDep
from api.limits import PageLimit
from api.uploads import read_document
from content.documents import DOCX_MEDIA_TYPE, PDF_MEDIA_TYPE, document_text
from content.models import Plan, PlanRequirement, PlanStatus, Theme
from content.service import get_plan, get_theme, import_plan, plan_requirements, save_theme
from core.errors import InvalidError, NotFoundError
from scheduler.models import Station
from scheduler.service import ancestor_ids, get_station

router = APIRouter(tags=["plans"])

CanRead = Annotated[Principal, Depends(Allowed(Permission.content_read))]
CanWrite = Annotated[Principal, Depends(Allowed(Permission.content_write))]
PLAN_MEDIA_TYPES = (
    "text/plain",
    "text/markdown",
    "text/x-markdown",
    PDF_MEDIA_TYPE,
    DOCX_MEDIA_TYPE,
)


class RequirementOut(BaseModel):
    """A broadcasting obligation a plan states."""

    id: int
    channel: str
    cadence: str | None
    minutes_min: int | None
    minutes_max: int | None
    languages: list[str]
    lead_agency: str | None
    cooperating_agencies: list[str]
    text: str


class PlanOut(BaseModel):
    """A plan and what the importer found in it."""

    id: int
    number: str | None
    title: str
    issuer: str | None
    level: str | None
    issued_on: date | None
    year: int | None
    valid_from: date | None
    valid_until: date | None
    legal_basis: list[str]
    topics: list[str]
    station: str | None
    status: PlanStatus
    created_by: str
    created_at: datetime
    requirements: list[RequirementOut]


def _out(session: Session, plan: Plan, requirements: list[PlanRequirement]) -> PlanOut:
    station = session.get(Station, plan.station_id) if plan.station_id else None
    return PlanOut(
        **plan.model_dump(exclude={"station_id", "source_text"}),
        station=station.code if station else None,
        requirements=[RequirementOut.model_validate(r, from_attributes=True) for r in requirements],
    )


def _readable(session: Session, principal: Principal) -> set[int] | None:
    ids = visible_station_ids(session, principal)
    if ids is None or principal.station_id is None:
        return ids
    return ids | set(ancestor_ids(session, station_id=principal.station_id))


@router.post(
    "/plans/import",
    response_model=PlanOut,
    status_code=201,
    summary="Import a plan document (plain text, Markdown, PDF or Word .docx)",
    openapi_extra={
        "requestBody": {
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "text/markdown": {"schema": {"type": "string"}},
                PDF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                DOCX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            },
            "required": True,
        }
    },
)
async def import_document(
    request: Request,
    principal: CanWrite,
    session: SessionDep,
    station: Annotated[str | None, Query(description="code of the owning station")] = None,
) -> PlanOut:
    """Read a plan and create a draft with its themes and requirements; a non-plan is a 422.

    A PDF without a text layer (a scan), a locked or damaged PDF or Word file is a 422 too.
    """
    owner = get_station(session, code=station) if station else None
    if owner is not None:
        require_reach(session, principal, owner)
    elif principal.station_id is not None:
        raise InvalidError(
            "Hãy chọn đài sở hữu kế hoạch (tham số station).",
            errors=[{"field": "station", "msg": "bắt buộc"}],
        )
    raw = await read_document(request, media_types=PLAN_MEDIA_TYPES, what="kế hoạch")
    text = document_text(raw)
    plan, requirements = import_plan(
        session, text=text, station_id=owner.id if owner else None, author=principal.name
    )
    session.commit()
    return _out(session, plan, requirements)


@router.get("/plans", response_model=list[PlanOut], summary="Plans you can read")
def list_plans(
    principal: CanRead,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, description="continue after this id (paging)")] = 0,
    limit: PageLimit = 200,
) -> list[PlanOut]:
    """Return the plans of stations within or above the caller's scope, and national ones."""
    query = select(Plan).where(Plan.id > after).order_by(Plan.id).limit(limit)
    ids = _readable(session, principal)
    if ids is not None:
        query = query.where(or_(Plan.station_id.in_(ids), Plan.station_id.is_(None)))
    return [_out(session, p, plan_requirements(session, plan_id=p.id)) for p in session.exec(query)]


# `:int`, so that GET /plans/import finds the import route (405) instead of plan "import".
@router.get("/plans/{plan_id:int}", response_model=PlanOut, summary="One plan")
def show_plan(plan_id: int, principal: CanRead, session: SessionDep) -> PlanOut:
    """Return a plan with its requirements."""
    plan = get_plan(session, plan_id=plan_id)
    ids = _readable(session, principal)
    if ids is not None and plan.station_id is not None and plan.station_id not in ids:
        raise NotFoundError(f"Không có kế hoạch số {plan_id}.")
    return _out(session, plan, plan_requirements(session, plan_id=plan.id))


class ThemeIn(BaseModel):
    """A theme of communication."""

    name: str = Field(min_length=1, max_length=200)
    parent_id: int | None = None


class ThemeOut(ThemeIn):
    """A stored theme."""

    id: int


@router.get("/themes", response_model=list[ThemeOut], summary="The theme taxonomy")
def list_themes(
    _principal: CanRead,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, description="continue after this id (paging)")] = 0,
    limit: PageLimit = 200,
) -> list[ThemeOut]:
    """Return the theme taxonomy, by id."""
    themes = session.exec(select(Theme).where(Theme.id > after).order_by(Theme.id).limit(limit))
    return [ThemeOut.model_validate(t, from_attributes=True) for t in themes]


@router.post("/themes", response_model=ThemeOut, status_code=201, summary="Add a theme")
def add_theme(body: ThemeIn, _principal: CanWrite, session: SessionDep) -> ThemeOut:
    """Add a theme to the taxonomy."""
    theme = save_theme(session, name=body.name, parent_id=body.parent_id)
    session.commit()
    return ThemeOut.model_validate(theme, from_attributes=True)


@router.put("/themes/{theme_id}", response_model=ThemeOut, summary="Rename or move a theme")
def edit_theme(theme_id: int, body: ThemeIn, _principal: CanWrite, session: SessionDep) -> ThemeOut:
    """Rename a theme or give it another parent."""
    theme = get_theme(session, theme_id=theme_id)
    save_theme(session, name=body.name, parent_id=body.parent_id, theme=theme)
    session.commit()
    return ThemeOut.model_validate(theme, from_attributes=True)
