"""Tables of the content package."""

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from core.clock import utcnow
from core.types import StrEnumType, UTCDateTime


class ContentStatus(StrEnum):
    """Where a content item stands in the editorial workflow."""

    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    archived = "archived"


class ContentItem(SQLModel, table=True):
    """A piece of communication to be broadcast, in one language."""

    __tablename__ = "content_item"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=300)
    programme: str | None = Field(default=None, max_length=200)
    language: str = Field(default="vie", max_length=3, description="ISO 639-3 code")
    station_id: int = Field(
        foreign_key="station.id",
        index=True,
        ondelete="RESTRICT",
        description="the centre that owns and edits the item",
    )
    body: str
    status: ContentStatus = Field(default=ContentStatus.draft, sa_type=StrEnumType(ContentStatus))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
