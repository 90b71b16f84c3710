"""Tables of the audio package: assets in the media store, render jobs, recordings, programmes."""

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.clock import utcnow
from core.types import StrEnumType, UTCDateTime


class AssetOrigin(StrEnum):
    """How an audio file came to be."""

    tts = "tts"
    recording = "recording"
    original = "original"  # an upload kept exactly as it arrived
    jingle = "jingle"
    programme = "programme"


class JobStatus(StrEnum):
    """Where a render job stands."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class AudioAsset(SQLModel, table=True):
    """A file in the content-addressed media store, with how it was made and measured."""

    __tablename__ = "audio_asset"

    sha256: str = Field(primary_key=True, max_length=64)
    origin: AssetOrigin = Field(sa_type=StrEnumType(AssetOrigin))
    format: str = Field(max_length=16)
    size: int
    duration_s: float
    loudness_lufs: float | None = None
    true_peak_dbtp: float | None = None
    engine: str | None = Field(default=None, max_length=32)
    voice: str | None = Field(default=None, max_length=64)
    rate: int | None = None
    pitch: int | None = None
    reading_sha256: str | None = Field(default=None, max_length=64)
    # Hash of everything that shaped a rendering, so the same words with the same
    # voice and loudness are never rendered twice.
    render_key: str | None = Field(default=None, max_length=64, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RenderJob(SQLModel, table=True):
    """Turning one approved version of a content item into audio, tracked across restarts."""

    __tablename__ = "render_job"
    __table_args__ = (Index("ix_render_job_status_not_before", "status", "not_before"),)
    __audit_ignore__: ClassVar[set[str]] = {"stage", "progress", "heartbeat_at", "worker"}

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="content_item.id", index=True, ondelete="CASCADE")
    version: int
    station_id: int = Field(foreign_key="station.id", index=True, ondelete="CASCADE")
    voice: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    loudness_lufs: float = -16.0
    bitrate_kbps: int = 64
    status: JobStatus = Field(default=JobStatus.queued, sa_type=StrEnumType(JobStatus))
    stage: str = Field(default="queued", max_length=32)
    progress: int = 0
    attempts: int = 0
    max_attempts: int = 3
    error: str | None = Field(default=None, max_length=1000)
    asset_sha256: str | None = Field(default=None, foreign_key="audio_asset.sha256")
    worker: str | None = Field(default=None, max_length=64)
    created_by: str = Field(default="system", max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    not_before: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Recording(SQLModel, table=True):
    """A human recording in an ethnic language, translating one Vietnamese content item."""

    __table_args__ = (Index("ix_recording_item_language", "item_id", "language"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="content_item.id", ondelete="CASCADE")
    language: str = Field(max_length=3)
    speaker: str = Field(max_length=200)
    station_id: int = Field(foreign_key="station.id", index=True, ondelete="CASCADE")
    original_sha256: str = Field(foreign_key="audio_asset.sha256")
    broadcast_sha256: str = Field(foreign_key="audio_asset.sha256")
    filename: str = Field(max_length=255)
    uploaded_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Programme(SQLModel, table=True):
    """An assembled programme: jingles, an announced title and items in order."""

    __table_args__ = (UniqueConstraint("station_id", "title"),)

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", index=True, ondelete="CASCADE")
    title: str = Field(max_length=300)
    parts: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    gap_ms: int = 800
    target_min_seconds: int | None = None
    target_max_seconds: int | None = None
    asset_sha256: str | None = Field(default=None, foreign_key="audio_asset.sha256")
    warnings: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(default="system", max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    assembled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
