"""Communication plans: import a document, review what was found; and the themes, each
owned by the station that made it or shared by all."""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import Session, or_, select

from api.access import (
    ContentReader,
    Planner,
    reachable_station,
    readable_station_ids,
    writable_theme,
)
from api.auth import require_reach
from api.deps import SessionDep
from api.outputs import code_of
from api.paging import Paging
from api.uploads import read_document
from content.documents import DOCX_MEDIA_TYPE, PDF_MEDIA_TYPE, document_text
from content.models import Plan, PlanRequirement, PlanStatus, Theme
from content.service import (
    get_plan,
    import_plan,
    plan_requirements,
    readable_themes,
    save_theme,
)
from core.errors import InvalidError, NotFoundError
from scheduler.models import Station
from scheduler.service import get_station

router = APIRouter(tags=["plans"])

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
    return PlanOut(
        **plan.model_dump(exclude={"station_id", "source_text"}),
        station=code_of(session, Station, plan.station_id),
        requirements=[RequirementOut.model_validate(r, from_attributes=True) for r in requirements],
    )


@router.post(
    "/plans/import",
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
    principal: Planner,
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


@router.get("/plans", summary="Plans you can read")
def list_plans(principal: ContentReader, session: SessionDep, paging: Paging) -> list[PlanOut]:
    """Return the plans of stations within or above the caller's scope, and national ones."""
    query = select(Plan).where(Plan.id > paging.after).order_by(Plan.id).limit(paging.limit)
    ids = readable_station_ids(session, principal)
    if ids is not None:
        query = query.where(or_(Plan.station_id.in_(ids), Plan.station_id.is_(None)))
    return [_out(session, p, plan_requirements(session, plan_id=p.id)) for p in session.exec(query)]


# `:int`, so that GET /plans/import finds the import route (405) instead of plan "import".
@router.get("/plans/{plan_id:int}", summary="One plan")
def show_plan(plan_id: int, principal: ContentReader, session: SessionDep) -> PlanOut:
    """Return a plan with its requirements."""
    plan = get_plan(session, plan_id=plan_id)
    ids = readable_station_ids(session, principal)
    if ids is not None and plan.station_id is not None and plan.station_id not in ids:
        raise NotFoundError(f"Không có kế hoạch số {plan_id}.")
    return _out(session, plan, plan_requirements(session, plan_id=plan.id))


class ThemeIn(BaseModel):
    """A theme of communication."""

    name: str = Field(min_length=1, max_length=200)
    parent_id: int | None = None


class ThemeNew(ThemeIn):
    """A theme to add, owned by a station."""

    station: str | None = Field(
        None,
        description="code of the owning station; by default the caller's own "
        "(for an admin: none, a shared theme)",
    )


class ThemeOut(ThemeIn):
    """A stored theme."""

    id: int
    station: str | None = Field(description="the owning station; none: shared, edited by admins")


def _theme_out(session: Session, theme: Theme) -> ThemeOut:
    return ThemeOut(
        **theme.model_dump(include={"id", "name", "parent_id"}),
        station=code_of(session, Station, theme.station_id),
    )


@router.get("/themes", summary="The theme taxonomy")
def list_themes(principal: ContentReader, session: SessionDep, paging: Paging) -> list[ThemeOut]:
    """Return the shared themes and those of stations within or above the caller's scope."""
    owners = readable_station_ids(session, principal)
    themes = readable_themes(session, owner_ids=owners, after=paging.after, limit=paging.limit)
    return [_theme_out(session, t) for t in themes]


@router.post("/themes", status_code=201, summary="Add a theme")
def add_theme(body: ThemeNew, principal: Planner, session: SessionDep) -> ThemeOut:
    """Add a theme owned by a station within the caller's scope (by default their own)."""
    owner = reachable_station(session, principal, body.station)
    theme = save_theme(
        session,
        name=body.name,
        parent_id=body.parent_id,
        station_id=owner.id if owner else principal.station_id,
        owner_ids=readable_station_ids(session, principal),
    )
    session.commit()
    return _theme_out(session, theme)


@router.put("/themes/{theme_id}", summary="Rename or move a theme")
def edit_theme(theme_id: int, body: ThemeIn, principal: Planner, session: SessionDep) -> ThemeOut:
    """Rename a theme or give it another parent: a theme of the caller's scope, or a
    shared one for admins."""
    theme = writable_theme(session, principal, theme_id)
    save_theme(
        session,
        name=body.name,
        parent_id=body.parent_id,
        theme=theme,
        owner_ids=readable_station_ids(session, principal),
    )
    session.commit()
    return _theme_out(session, theme)
