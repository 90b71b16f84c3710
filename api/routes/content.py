"""Content items."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from api.auth import Allowed, Permission, Principal, require_reach, visible_station_ids
from api.deps import SessionDep
from content.models import ContentItem, ContentStatus
from content.service import create_content_item
from core.errors import NotFoundError
from scheduler.models import Station
from scheduler.service import ancestor_ids, get_station

router = APIRouter(prefix="/content-items", tags=["content"])

CanRead = Annotated[Principal, Depends(Allowed(Permission.content_read))]
CanWrite = Annotated[Principal, Depends(Allowed(Permission.content_write))]


class ContentItemIn(BaseModel):
    """A new content item, owned by a station within your scope."""

    title: str = Field(min_length=1, max_length=300)
    body: str = Field(max_length=100_000)
    language: str = Field("vie", description="ISO 639-3 code", examples=["vie", "blt"])
    programme: str | None = Field(None, max_length=200)
    station: str = Field(description="code of the owning station")


class ContentItemOut(BaseModel):
    """A content item."""

    id: int
    title: str
    body: str
    language: str
    programme: str | None
    status: ContentStatus
    station: str
    created_at: datetime
    updated_at: datetime


def _readable_station_ids(session: Session, principal: Principal) -> set[int] | None:
    # A commune airs what its province and district write, so the stations
    # above a caller's scope are readable as well as those within it.
    ids = visible_station_ids(session, principal)
    if ids is None or principal.station_id is None:
        return ids
    return ids | set(ancestor_ids(session, station_id=principal.station_id))


def _out(item: ContentItem, station: str) -> ContentItemOut:
    return ContentItemOut(station=station, **item.model_dump(exclude={"station_id"}))


@router.get("", response_model=list[ContentItemOut], summary="Content items you can read")
def list_items(principal: CanRead, session: SessionDep) -> list[ContentItemOut]:
    """Return content owned within the caller's scope or by the stations above it."""
    query = select(ContentItem, Station.code).join(Station).order_by(ContentItem.id)
    ids = _readable_station_ids(session, principal)
    if ids is not None:
        query = query.where(ContentItem.station_id.in_(ids))
    return [_out(item, code) for item, code in session.exec(query)]


@router.get("/{item_id}", response_model=ContentItemOut, summary="One content item")
def get_item(item_id: int, principal: CanRead, session: SessionDep) -> ContentItemOut:
    """Return one content item the caller may read."""
    item = session.get(ContentItem, item_id)
    ids = _readable_station_ids(session, principal)
    if item is None or (ids is not None and item.station_id not in ids):
        raise NotFoundError(f"Không có nội dung số {item_id}.")
    return _out(item, session.get(Station, item.station_id).code)


@router.post("", response_model=ContentItemOut, status_code=201, summary="Write a content item")
def add_item(body: ContentItemIn, principal: CanWrite, session: SessionDep) -> ContentItemOut:
    """Create a draft content item for a station within the caller's scope."""
    station = get_station(session, code=body.station)
    require_reach(session, principal, station)
    item = create_content_item(
        session,
        title=body.title,
        body=body.body,
        language=body.language,
        programme=body.programme,
        station_id=station.id,
    )
    session.commit()
    return _out(item, station.code)
