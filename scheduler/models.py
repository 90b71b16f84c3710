"""Tables of the scheduler package."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.clock import utcnow
from core.types import StrEnumType, UTCDateTime


class StationKind(StrEnum):
    """The level a station broadcasts at; the tree may skip levels."""

    province = "province"
    district = "district"
    commune = "commune"


class Station(SQLModel, table=True):
    """A broadcasting station: a node of the province → commune tree."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    kind: StationKind = Field(sa_type=StrEnumType(StationKind))
    parent_id: int | None = Field(
        default=None, foreign_key="station.id", index=True, ondelete="RESTRICT"
    )
    timezone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)
    languages: list[str] = Field(
        default_factory=lambda: ["vie"], sa_column=Column(JSON, nullable=False)
    )
    # Abbreviation -> reading, over the project lexicon, for how this area says things.
    lexicon: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Biên tập → duyệt: the approver must not be the author of the version.
    two_person_approval: bool = True
    # How this station's scripts are spoken and how loud its files are.
    voice_engine: str = Field(default="espeak", max_length=16)
    voice_name: str = Field(default="vi", max_length=64)
    speech_rate: int = 150
    speech_pitch: int = 50
    loudness_lufs: float = -16.0
    mp3_bitrate_kbps: int = 64
    # Airtime rules (per station, never hard-coded): when it broadcasts and how much.
    windows: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    max_sessions_per_day: int | None = None
    max_minutes_per_session: int | None = None
    weekdays_only: bool = False
    # What plays in a window nobody booked: {"kind": "relay", "url", "title"} or
    # {"kind": "filler", "sha256", "title"}.
    fallback: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    freeze_lead_minutes: int = 120
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Cluster(SQLModel, table=True):
    """A loudspeaker cluster (cụm loa) of a commune station, usually one per village."""

    __table_args__ = (UniqueConstraint("station_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", index=True, ondelete="CASCADE")
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    zone_tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class BookingStatus(StrEnum):
    """Whether a booking still produces airtime."""

    active = "active"
    cancelled = "cancelled"


class Booking(SQLModel, table=True):
    """Airtime planned once: what plays, where, when, how often and how urgently."""

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", index=True, ondelete="CASCADE")
    subtree: bool = Field(default=False, description="every station below the target too")
    clusters: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    zones: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=16, description="item, programme or relay")
    item_id: int | None = Field(default=None, foreign_key="content_item.id", ondelete="CASCADE")
    programme_id: int | None = Field(default=None, foreign_key="programme.id", ondelete="CASCADE")
    relay_url: str | None = Field(default=None, max_length=500)
    title: str = Field(max_length=300)
    duration_s: float | None = Field(default=None, description="relay length; files know theirs")
    recurrence: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    at: str | None = Field(default=None, max_length=5, description="local HH:MM; None = in window")
    priority: str = Field(default="normal", max_length=16)
    pair_languages: bool = Field(default=False, description="follow with zone recordings")
    status: BookingStatus = Field(default=BookingStatus.active, sa_type=StrEnumType(BookingStatus))
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Playlist(SQLModel, table=True):
    """What one station airs on one local date, as devices download it."""

    __table_args__ = (UniqueConstraint("station_id", "day"),)
    # Derived from bookings, regenerated nightly for every station: the bookings carry
    # the audit trail, not their thousands of daily expansions.
    __audit__: ClassVar[bool] = False

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", index=True, ondelete="CASCADE")
    day: date = Field(index=True)
    version: int = 1
    etag: str = Field(max_length=64)
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    gaps: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    generated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    frozen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
