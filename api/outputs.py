"""Answer shapes that REST routes and pages both give: an audio file, a live session, the
code a row is known by."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session

from api.links import audio_url
from audio.models import AssetOrigin, AudioAsset
from scheduler.live import Live
from scheduler.live import listen_path as listen_path_of
from scheduler.models import Cluster, Station


class AssetOut(BaseModel):
    """An audio file in the store and how it was made."""

    sha256: str
    url: str
    origin: AssetOrigin
    format: str
    size: int
    duration_s: float
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    engine: str | None
    voice: str | None
    rate: int | None
    reading_sha256: str | None


def code_of(session: Session, model: type[Station | Cluster], row_id: int | None) -> str | None:
    """The code of a station or cluster by its id, as answers show it (None for none)."""
    row = session.get(model, row_id) if row_id else None
    return row.code if row else None


def asset_out(asset: AudioAsset, base_url: str) -> AssetOut:
    """The public shape of an asset, with its absolute download URL."""
    return AssetOut(
        url=audio_url(base_url, asset.sha256),
        **asset.model_dump(include=set(AssetOut.model_fields) - {"url"}),
    )


class LiveOut(BaseModel):
    """A live session: where its audio goes, where players open it, and its state."""

    id: int
    station: str
    title: str
    priority: str
    status: str = Field(description="waiting (for its stream), on_air or ended")
    clusters: list[str]
    zones: list[str]
    minutes: int
    ingest: str = Field(description="PUT a stream here (or POST chunks), with a bearer token")
    listen: str = Field(description="the HLS playlist players open")
    started_at: datetime
    on_air_at: datetime | None
    ended_at: datetime | None
    booking_id: int | None
    archive: AssetOut | None
    archive_error: str | None


def live_out(live: Live, *, base_url: str, archive: Any = None) -> LiveOut:
    """The public shape of a live session."""
    state = live.state
    return LiveOut(
        id=live.programme.id,
        station=live.station.code,
        title=state["title"],
        priority=state["priority"],
        status=live.status,
        clusters=state["clusters"],
        zones=state["zones"],
        minutes=state["minutes"],
        ingest=f"{base_url}/api/v1/stations/{live.station.code}/live/{live.programme.id}/ingest",
        listen=base_url + listen_path_of(state["key"]),
        started_at=state["started_at"],
        on_air_at=state["on_air_at"],
        ended_at=state["ended_at"],
        booking_id=state["booking_id"],
        archive=asset_out(archive, base_url) if archive is not None else None,
        archive_error=state.get("archive_error"),
    )
