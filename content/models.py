"""Tables of the content package: plans, themes, content items and their versions."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.clock import utcnow
from core.types import StrEnumType, UTCDateTime


class ContentStatus(StrEnum):
    """Where a content item stands in the editorial workflow."""

    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    archived = "archived"


class Priority(StrEnum):
    """How urgently something airs (Thông tư 39/2020/TT-BTTTT practice)."""

    normal = "normal"
    priority = "priority"
    emergency = "emergency"


class PlanStatus(StrEnum):
    """A plan is a draft until a planner has reviewed what the importer found."""

    draft = "draft"
    active = "active"
    archived = "archived"


class Theme(SQLModel, table=True):
    """A subject of communication, e.g. one-stop shops or online public services."""

    # Names are unique per owner; a station's theme may not take a shared one's name
    # either (checked in content.service: NULLs never clash in a unique constraint).
    __table_args__ = (UniqueConstraint("station_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    parent_id: int | None = Field(default=None, foreign_key="theme.id", ondelete="SET NULL")
    station_id: int | None = Field(
        default=None,
        foreign_key="station.id",
        index=True,
        ondelete="RESTRICT",
        description="the station that made the theme; none for the shared starting themes",
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Plan(SQLModel, table=True):
    """A communication plan (kế hoạch tuyên truyền) issued by some authority."""

    id: int | None = Field(default=None, primary_key=True)
    number: str | None = Field(default=None, max_length=64, index=True)
    title: str = Field(max_length=500)
    issuer: str | None = Field(default=None, max_length=300)
    level: str | None = Field(default=None, max_length=16)
    issued_on: date | None = None
    year: int | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    legal_basis: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    station_id: int | None = Field(
        default=None, foreign_key="station.id", index=True, ondelete="RESTRICT"
    )
    status: PlanStatus = Field(default=PlanStatus.draft, sa_type=StrEnumType(PlanStatus))
    created_by: str = Field(default="system", max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PlanRequirement(SQLModel, table=True):
    """One broadcasting obligation a plan states: channel, cadence, length, languages."""

    __tablename__ = "plan_requirement"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True, ondelete="CASCADE")
    channel: str = Field(max_length=32)
    cadence: str | None = Field(default=None, max_length=16)
    minutes_min: int | None = None
    minutes_max: int | None = None
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    lead_agency: str | None = Field(default=None, max_length=300)
    cooperating_agencies: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    text: str = Field(default="", sa_column=Column(Text, nullable=False))


class ContentItem(SQLModel, table=True):
    """A piece of communication to be broadcast, in one language; its words live in versions."""

    __tablename__ = "content_item"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=300)
    station_id: int = Field(
        foreign_key="station.id",
        index=True,
        ondelete="RESTRICT",
        description="the centre that owns and edits the item",
    )
    plan_id: int | None = Field(default=None, foreign_key="plan.id", ondelete="SET NULL")
    theme_id: int | None = Field(default=None, foreign_key="theme.id", ondelete="SET NULL")
    programme: str | None = Field(default=None, max_length=200)
    language: str = Field(default="vie", max_length=3, description="ISO 639-3 code")
    translates_id: int | None = Field(
        default=None,
        foreign_key="content_item.id",
        ondelete="SET NULL",
        description="the Vietnamese item an ethnic-language item translates",
    )
    valid_from: date | None = None
    valid_until: date | None = None
    priority: Priority = Field(default=Priority.normal, sa_type=StrEnumType(Priority))
    status: ContentStatus = Field(default=ContentStatus.draft, sa_type=StrEnumType(ContentStatus))
    version: int = Field(default=1, description="number of the newest version")
    approved_version: int | None = Field(default=None, description="the version that may air")
    created_by: str = Field(default="system", max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ContentVersion(SQLModel, table=True):
    """One version of an item's words: body, rendered script, and what the voice will say."""

    __tablename__ = "content_version"
    __table_args__ = (UniqueConstraint("item_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="content_item.id", index=True, ondelete="CASCADE")
    number: int
    title: str = Field(max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))
    script: str = Field(sa_column=Column(Text, nullable=False))
    reading: str = Field(sa_column=Column(Text, nullable=False))
    reading_sha256: str = Field(max_length=64)
    estimated_seconds: float = 0.0
    author: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    approved_by: str | None = Field(default=None, max_length=100)
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str | None = Field(default=None, max_length=1000)


class ScriptTemplate(SQLModel, table=True):
    """How a programme wraps each item: greeting, body, closing, as a Jinja2 template."""

    __tablename__ = "script_template"
    __table_args__ = (UniqueConstraint("station_id", "programme"),)

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", index=True, ondelete="CASCADE")
    programme: str = Field(max_length=200)
    text: str = Field(sa_column=Column(Text, nullable=False))
    target_min_seconds: int | None = None
    target_max_seconds: int | None = None
    updated_by: str = Field(default="system", max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
