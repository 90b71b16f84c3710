"""Tables of the scheduler package."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.clock import utcnow
from core.limits import TITLE_MAX, URL_MAX
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
    # A merged station keeps its history (playlists, airing log) and takes no more writes.
    merged_into_id: int | None = Field(default=None, foreign_key="station.id", ondelete="RESTRICT")


class StationAlias(SQLModel, table=True):
    """A code a station had before it was renamed: devices and links still use it."""

    __tablename__ = "station_alias"

    code: str = Field(max_length=64, primary_key=True)
    station_id: int = Field(foreign_key="station.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class StationMerge(SQLModel, table=True):
    """One station merged into another: what moved, so history reads the same after it.

    Before `effective_day` the moved clusters played the source's playlists (days it had
    frozen are never rewritten); from that day on they play the target's.
    """

    __tablename__ = "station_merge"

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="station.id", unique=True, ondelete="RESTRICT")
    target_id: int = Field(foreign_key="station.id", index=True, ondelete="RESTRICT")
    effective_day: date
    # [{"id": cluster id, "from": code at the source, "to": code at the target}]
    clusters: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    devices: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    merged_by: str = Field(max_length=100)
    merged_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


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
    relay_url: str | None = Field(default=None, max_length=URL_MAX)
    title: str = Field(max_length=TITLE_MAX)
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


class AiringStatus(StrEnum):
    """What happened to a scheduled entry on a cluster."""

    aired = "aired"
    partial = "partial"
    skipped = "skipped"
    failed = "failed"


class AiringRecord(SQLModel, table=True):
    """One airing as a device or an operator reported it: append-only, hash-chained per station.

    The scheduled entry's plan ids are copied in, so reports read the log alone and a
    later change of bookings never changes what the log says was planned.
    """

    __tablename__ = "airing_record"
    __table_args__ = (
        UniqueConstraint("station_id", "client_id"),
        UniqueConstraint("station_id", "seq"),
        Index("ix_airing_record_station_day", "station_id", "day"),
        Index("ix_airing_record_entry", "station_id", "entry_id", "cluster"),
    )
    # The log is its own audit trail: every row names who sent it and is chained.
    __audit__: ClassVar[bool] = False

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", ondelete="RESTRICT")
    seq: int = Field(description="position in the station's chain, from 1")
    client_id: str = Field(max_length=64, description="the sender's record id (idempotency key)")
    entry_id: str = Field(max_length=64)
    day: date = Field(description="local date of the playlist holding the entry")
    cluster: str | None = Field(default=None, max_length=64)
    scheduled_start: datetime = Field(sa_type=UTCDateTime)
    scheduled_end: datetime = Field(sa_type=UTCDateTime)
    booking_id: int | None = None
    content_item_id: int | None = None
    language: str | None = Field(default=None, max_length=8)
    kind: str = Field(max_length=16)
    priority: str = Field(max_length=16)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: AiringStatus = Field(sa_type=StrEnumType(AiringStatus))
    reason: str | None = Field(default=None, max_length=500)
    source: str = Field(max_length=16, description="device or operator")
    corrects: str | None = Field(default=None, max_length=64, description="client id corrected")
    recorded_by: str = Field(max_length=100)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AiringChain(SQLModel, table=True):
    """The head of a station's airing chain, so a deleted last row is noticed too."""

    __tablename__ = "airing_chain"
    __audit__: ClassVar[bool] = False

    station_id: int = Field(foreign_key="station.id", primary_key=True, ondelete="RESTRICT")
    seq: int = 0
    hash: str = Field(max_length=64)


class AiringCheckpoint(SQLModel, table=True):
    """Where a purged prefix of a station's chain ended, signed with the server's key.

    Verification starts after the newest checkpoint instead of at the genesis hash, so
    the records kept still prove they were not altered or removed, and a checkpoint
    made without the key (to hide a deletion) shows as forged.
    """

    __tablename__ = "airing_checkpoint"
    __table_args__ = (UniqueConstraint("station_id", "last_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", ondelete="RESTRICT")
    first_seq: int = Field(description="first record purged under this checkpoint")
    last_seq: int = Field(description="last record purged; the chain goes on after it")
    count: int
    last_hash: str = Field(max_length=64, description="hash of the last purged record")
    first_day: date
    last_day: date
    first_received_at: datetime = Field(sa_type=UTCDateTime)
    last_received_at: datetime = Field(sa_type=UTCDateTime)
    purged_before: date = Field(description="local date: records of earlier days were due")
    retention_days: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    previous: str = Field(max_length=64, description="signature of the checkpoint before")
    signature: str = Field(max_length=64, description="HMAC-SHA256 of the fields above")


class AiringPurgePermit(SQLModel, table=True):
    """Lets the log's delete trigger pass for one checkpoint's records, within one transaction.

    The purge writes it, deletes and removes it before committing: no permit ever
    outlives the transaction that needed it.
    """

    __tablename__ = "airing_purge_permit"
    __audit__: ClassVar[bool] = False

    station_id: int = Field(foreign_key="station.id", primary_key=True, ondelete="CASCADE")
    checkpoint_id: int = Field(foreign_key="airing_checkpoint.id", ondelete="CASCADE")
    before_day: date


class RetentionPolicy(SQLModel, table=True):
    """How long a province keeps airing logs and recordings; no row means the default."""

    __tablename__ = "retention_policy"

    station_id: int = Field(foreign_key="station.id", primary_key=True, ondelete="CASCADE")
    days: int
    updated_by: str = Field(max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeviceStatus(SQLModel, table=True):
    """The last heartbeat of a device: what the stations overview shows."""

    __tablename__ = "device_status"
    # A beat a minute from every cluster would drown the audit trail; only the latest is kept.
    __audit__: ClassVar[bool] = False

    device_id: int = Field(foreign_key="device_token.id", primary_key=True, ondelete="CASCADE")
    station_id: int = Field(foreign_key="station.id", index=True, ondelete="CASCADE")
    cluster: str | None = Field(default=None, max_length=64)
    seen_at: datetime = Field(sa_type=UTCDateTime)
    online: bool = True
    volume: int | None = Field(default=None, description="0..100")
    playing_entry_id: str | None = Field(default=None, max_length=64)
    cache_fill: float | None = Field(default=None, description="share of upcoming audio cached")
    cached_days: int | None = None
    software_version: str | None = Field(default=None, max_length=64)


class StationEvent(SQLModel, table=True):
    """Something devices must hear at once (an emergency bulletin), in the order it happened."""

    __tablename__ = "station_event"
    __audit__: ClassVar[bool] = False

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=32)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AiringIn(BaseModel):
    """One airing as a device or an operator sends it (DESIGN.md §4)."""

    id: str = PydanticField(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$", description="client record id"
    )
    entry_id: str = PydanticField(min_length=1, max_length=64)
    cluster: str | None = PydanticField(default=None, max_length=64)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    status: AiringStatus
    reason: str | None = PydanticField(default=None, max_length=500)
    source: str | None = PydanticField(
        default=None, description="device or operator; set from the caller"
    )
    corrects: str | None = PydanticField(
        default=None, max_length=64, description="record id corrected"
    )


class MissedAiring(SQLModel, table=True):
    """A scheduled entry that no device or operator reported some minutes after its end."""

    __tablename__ = "missed_airing"
    __table_args__ = (UniqueConstraint("station_id", "entry_id"),)
    __audit__: ClassVar[bool] = False

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", ondelete="CASCADE")
    day: date = Field(index=True)
    entry_id: str = Field(max_length=64)
    title: str = Field(max_length=300)
    booking_id: int | None = None
    scheduled_start: datetime = Field(sa_type=UTCDateTime)
    scheduled_end: datetime = Field(sa_type=UTCDateTime)
    flagged_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AiringTally(SQLModel, table=True):
    """Reports per entry kept up to date at ingest, so a quarter never rescans the log.

    Counts are clusters by status, apart for station-wide records. When a cluster is
    reported twice or a record is corrected the counts could mislead, so the entry is
    marked inexact and reports recount it from the log.
    """

    __tablename__ = "airing_tally"
    __table_args__ = (Index("ix_airing_tally_station_day", "station_id", "day"),)
    __audit__: ClassVar[bool] = False

    station_id: int = Field(foreign_key="station.id", primary_key=True, ondelete="RESTRICT")
    entry_id: str = Field(max_length=64, primary_key=True)
    day: date
    aired: int = 0
    partial: int = 0
    skipped: int = 0
    failed: int = 0
    aired_s: float = 0.0
    partial_s: float = 0.0
    wide_aired: int = 0
    wide_partial: int = 0
    wide_skipped: int = 0
    wide_failed: int = 0
    wide_aired_s: float = 0.0
    wide_partial_s: float = 0.0
    exact: bool = True
