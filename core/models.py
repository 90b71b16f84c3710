"""Identity tables: people, devices, the audit trail and login attempts."""

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from core.clock import utcnow
from core.types import StrEnumType, UTCDateTime


class Role(StrEnum):
    """What a person does in the system."""

    admin = "admin"
    planner = "planner"
    operator = "operator"
    auditor = "auditor"


class User(SQLModel, table=True):
    """A person who logs in; their scope is the station subtree they act on."""

    __audit_redact__: ClassVar[set[str]] = {"password_hash"}
    __audit_ignore__: ClassVar[set[str]] = {"last_login_at"}

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    full_name: str = Field(default="", max_length=200)
    role: Role = Field(sa_type=StrEnumType(Role))
    station_id: int | None = Field(
        default=None, foreign_key="station.id", index=True, ondelete="RESTRICT"
    )
    password_hash: str = Field(max_length=255)
    active: bool = True
    # Bumped on password change or deactivation: every token issued before stops working.
    token_version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeviceToken(SQLModel, table=True):
    """A secret that lets one receiver or playout agent pull and report for its station."""

    __tablename__ = "device_token"
    __audit_redact__: ClassVar[set[str]] = {"token_hash"}
    __audit_ignore__: ClassVar[set[str]] = {"last_used_at"}

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    station_id: int = Field(foreign_key="station.id", index=True, ondelete="CASCADE")
    cluster_id: int | None = Field(default=None, foreign_key="cluster.id", ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16, description="first characters, to recognise a token")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(max_length=100)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """One write: who made it, when, to what, and what changed."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_object", "object_type", "object_id"),)
    __audit__: ClassVar[bool] = False

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_kind: str = Field(max_length=16, description="user, device or system")
    actor_id: int | None = None
    actor_name: str = Field(max_length=100)
    action: str = Field(max_length=16, description="create, update or delete")
    object_type: str = Field(max_length=64)
    object_id: str = Field(max_length=64)
    station_id: int | None = Field(default=None, index=True)
    change: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class LoginAttempt(SQLModel, table=True):
    """A password login, kept to slow down guessing."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_username_at", "username", "at"),)
    __audit__: ClassVar[bool] = False

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    client: str = Field(max_length=64, index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    success: bool


class Lease(SQLModel, table=True):
    """A named lock held for a while by one process: the scheduler's leadership."""

    __audit__: ClassVar[bool] = False

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=128)
    expires_at: datetime = Field(sa_type=UTCDateTime)
