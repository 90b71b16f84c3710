"""Content items, their versions and the editorial workflow; script templates; readings."""

from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from api.access import (
    ContentReader,
    Planner,
    StationContentReader,
    StationPlanner,
    readable_item,
    readable_station_ids,
    writable_item,
)
from api.auth import Permission, Principal, require, require_reach
from api.deps import SessionDep
from api.limits import PageLimit
from api.paging import Page, Paging, described_page
from content.models import ContentItem, ContentStatus, ContentVersion, Priority, ScriptTemplate
from content.reading import count_syllables, estimate_seconds, read_aloud
from content.service import (
    Draft,
    approve_content_item,
    archive_content_item,
    create_content_item,
    draft_words,
    edit_content_item,
    get_version,
    item_versions,
    return_content_item,
    save_template,
    submit_content_item,
)
from core.clock import utcnow
from core.errors import ForbiddenError
from scheduler.models import Station
from scheduler.service import get_station, station_facts

router = APIRouter(tags=["content"])


class ContentItemIn(BaseModel):
    """A new content item, owned by a station within your scope."""

    title: str = Field(max_length=300)
    body: str = Field(max_length=100_000)
    station: str = Field(description="code of the owning station")
    language: str = Field("vie", description="ISO 639-3 code", examples=["vie", "blt"])
    programme: str | None = Field(None, max_length=200, examples=["Chuyên mục Cải cách hành chính"])
    theme_id: int | None = None
    plan_id: int | None = None
    translates_id: int | None = Field(None, description="the Vietnamese item this translates")
    valid_from: date | None = None
    valid_until: date | None = None
    priority: Priority = Priority.normal


class ContentEdit(BaseModel):
    """New words for an item; they become a new version."""

    title: str | None = Field(None, max_length=300)
    body: str | None = Field(None, max_length=100_000)


class ReturnNote(BaseModel):
    """Why a submitted version goes back to its author."""

    note: str = Field(min_length=1, max_length=1000)


class VersionOut(BaseModel):
    """One version of an item's words."""

    number: int
    title: str
    body: str
    script: str
    reading: str
    reading_sha256: str
    estimated_seconds: float
    author: str
    created_at: datetime
    submitted_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    note: str | None


class ContentItemOut(BaseModel):
    """A content item with its newest version."""

    id: int
    title: str
    station: str
    plan_id: int | None
    theme_id: int | None
    programme: str | None
    language: str
    translates_id: int | None
    valid_from: date | None
    valid_until: date | None
    priority: Priority
    status: ContentStatus
    version: int
    approved_version: int | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    latest: VersionOut
    warnings: list[str] = Field(default_factory=list)


def _out(
    item: ContentItem, station: str, latest: ContentVersion, warnings: list[str] | None = None
) -> ContentItemOut:
    return ContentItemOut(
        **item.model_dump(exclude={"station_id"}),
        station=station,
        latest=VersionOut.model_validate(latest, from_attributes=True),
        warnings=warnings or [],
    )


def _show(session: Session, item: ContentItem, warnings: list[str] | None = None) -> ContentItemOut:
    latest = get_version(session, item=item, number=item.version)
    return _out(item, session.get(Station, item.station_id).code, latest, warnings)


@router.get("/content-items", summary="Content you can read")
def list_items(
    principal: ContentReader,
    session: SessionDep,
    paging: Paging,
    status: ContentStatus | None = None,
    language: str | None = None,
    plan_id: int | None = None,
    theme_id: int | None = None,
) -> list[ContentItemOut]:
    """Return content owned within the caller's scope or by the stations above it, by id."""
    query = (
        select(ContentItem, Station.code, ContentVersion)
        .join(Station, Station.id == ContentItem.station_id)
        .join(
            ContentVersion,
            (ContentVersion.item_id == ContentItem.id)
            & (ContentVersion.number == ContentItem.version),
        )
        .where(ContentItem.id > paging.after)
        .order_by(ContentItem.id)
        .limit(paging.limit)
    )
    ids = readable_station_ids(session, principal)
    if ids is not None:
        query = query.where(ContentItem.station_id.in_(ids))
    for column, value in (
        (ContentItem.status, status),
        (ContentItem.language, language),
        (ContentItem.plan_id, plan_id),
        (ContentItem.theme_id, theme_id),
    ):
        if value is not None:
            query = query.where(column == value)
    return [_out(item, code, latest) for item, code, latest in session.exec(query)]


@router.post("/content-items", status_code=201, summary="Write a draft")
def add_item(body: ContentItemIn, principal: Planner, session: SessionDep) -> ContentItemOut:
    """Create a draft item for a station within the caller's scope."""
    station = get_station(session, code=body.station)
    require_reach(session, principal, station)
    item, version, draft = create_content_item(
        session,
        station=station_facts(station),
        author=principal.name,
        theme_owners=readable_station_ids(session, principal),
        **body.model_dump(exclude={"station"}),
    )
    session.commit()
    return _out(item, station.code, version, draft.warnings)


@router.get("/content-items/{item_id}", summary="One item")
def get_item(item_id: int, principal: ContentReader, session: SessionDep) -> ContentItemOut:
    """Return one content item with its newest version."""
    return _show(session, readable_item(session, principal, item_id))


@router.get("/content-items/{item_id}/versions", summary="Every version, oldest first")
def versions(
    item_id: int,
    principal: ContentReader,
    session: SessionDep,
    paging: Annotated[Page, described_page("continue after this version number")],
) -> list[VersionOut]:
    """Return the editorial history of an item, oldest first."""
    item = readable_item(session, principal, item_id)
    history = [v for v in item_versions(session, item_id=item.id) if v.number > paging.after]
    return [VersionOut.model_validate(v, from_attributes=True) for v in history[: paging.limit]]


@router.patch("/content-items/{item_id}", summary="Edit words")
def edit_item(
    item_id: int, body: ContentEdit, principal: Planner, session: SessionDep
) -> ContentItemOut:
    """Save new words as a new version; the approved one airs until this one is approved."""
    item, station = writable_item(session, principal, item_id)
    _, draft = edit_content_item(
        session,
        item=item,
        station=station_facts(station),
        author=principal.name,
        title=body.title,
        body=body.body,
    )
    session.commit()
    return _show(session, item, draft.warnings)


def _step(
    session: Session, principal: Principal, item_id: int, change: Callable[..., None]
) -> ContentItemOut:
    """Take an editorial step on an item the caller may change; answer with the item."""
    item, _ = writable_item(session, principal, item_id)
    change(session, item=item)
    session.commit()
    return _show(session, item)


@router.post("/content-items/{item_id}/submit", summary="Submit")
def submit(item_id: int, principal: Planner, session: SessionDep) -> ContentItemOut:
    """Send the newest version for approval."""
    return _step(session, principal, item_id, submit_content_item)


@router.post("/content-items/{item_id}/approve", summary="Approve")
def approve(item_id: int, principal: Planner, session: SessionDep) -> ContentItemOut:
    """Approve the submitted version so it may air."""
    require(principal, Permission.content_approve)
    item, station = writable_item(session, principal, item_id)
    approve_content_item(
        session, item=item, station=station_facts(station), approver=principal.name
    )
    session.commit()
    return _show(session, item)


@router.post("/content-items/{item_id}/return", summary="Return")
def send_back(
    item_id: int, body: ReturnNote, principal: Planner, session: SessionDep
) -> ContentItemOut:
    """Send a submitted version back to its author with a note."""
    require(principal, Permission.content_approve)
    return _step(session, principal, item_id, partial(return_content_item, note=body.note))


@router.post("/content-items/{item_id}/archive", summary="Archive")
def archive(item_id: int, principal: Planner, session: SessionDep) -> ContentItemOut:
    """Retire an item; it can no longer be edited or aired."""
    return _step(session, principal, item_id, archive_content_item)


class TemplateIn(BaseModel):
    """A programme's script template (Jinja2: station, programme, title, body, date, language)."""

    programme: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=20_000)
    target_min_seconds: int | None = Field(None, ge=0, le=86_400)
    target_max_seconds: int | None = Field(None, ge=0, le=86_400)


class TemplateOut(TemplateIn):
    """A stored script template."""

    updated_by: str
    updated_at: datetime


@router.get("/stations/{code}/script-templates", summary="Script templates of a station")
def list_templates(
    grant: StationContentReader,
    session: SessionDep,
    offset: Annotated[int, Query(ge=0, description="skip this many (paging)")] = 0,
    limit: PageLimit = 200,
) -> list[TemplateOut]:
    """Return the station's programme templates."""
    query = select(ScriptTemplate).where(ScriptTemplate.station_id == grant.station.id)
    rows = session.exec(query.order_by(ScriptTemplate.programme).offset(offset).limit(limit))
    return [TemplateOut.model_validate(t, from_attributes=True) for t in rows]


@router.put(
    "/stations/{code}/script-templates", summary="Create or replace a programme's script template"
)
def put_template(body: TemplateIn, grant: StationPlanner, session: SessionDep) -> TemplateOut:
    """Store a template after checking it compiles; an error names its line."""
    template = save_template(
        session, station_id=grant.station.id, author=grant.principal.name, **body.model_dump()
    )
    session.commit()
    return TemplateOut.model_validate(template, from_attributes=True)


class ReadingIn(BaseModel):
    """Text to read, optionally with a station's own lexicon."""

    text: str = Field(max_length=100_000)
    station: str | None = None


class ReadingOut(BaseModel):
    """What the voice will say and about how long it takes."""

    reading: str
    syllables: int
    estimated_seconds: float


@router.post("/reading", summary="What the voice will say")
def reading(body: ReadingIn, principal: ContentReader, session: SessionDep) -> ReadingOut:
    """Normalise a text the way the voice will read it (abbreviations, citations, numbers)."""
    lexicon = None
    if body.station:
        station = get_station(session, code=body.station)
        readable = readable_station_ids(session, principal)
        if readable is not None and station.id not in readable:
            raise ForbiddenError(f"Đài {station.code} nằm ngoài phạm vi được giao.")
        lexicon = station.lexicon
    spoken = read_aloud(body.text, overrides=lexicon)
    return ReadingOut(
        reading=spoken,
        syllables=count_syllables(spoken),
        estimated_seconds=estimate_seconds(spoken),
    )


class PreviewIn(BaseModel):
    """Words to preview through a station's programme template."""

    station: str
    title: str = Field(max_length=300)
    body: str = Field(max_length=100_000)
    programme: str | None = None
    language: str = "vie"


class PreviewOut(BaseModel):
    """The rendered script, its reading and the duration estimate with warnings."""

    script: str
    reading: str
    estimated_seconds: float
    warnings: list[str]


@router.post("/script-preview", summary="Preview a script")
def preview(body: PreviewIn, principal: Planner, session: SessionDep) -> PreviewOut:
    """Render words through the programme template without saving anything."""
    station = get_station(session, code=body.station)
    require_reach(session, principal, station)
    draft: Draft = draft_words(
        session,
        station=station_facts(station),
        programme=body.programme,
        title=body.title,
        body=body.body,
        language=body.language,
        on=utcnow().date(),
    )
    return PreviewOut(**vars(draft))
