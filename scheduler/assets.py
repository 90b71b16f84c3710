"""Where an audio file is used: the stations that play it and those it was made for."""

from collections.abc import Collection
from datetime import date, timedelta
from typing import Any

from sqlalchemy import String, cast, or_
from sqlmodel import Session, col, select

from audio.models import AudioAsset, Programme, Recording, RenderJob
from scheduler.models import Playlist, Station, StationEvent


def _holds(document: Any, sha256: str) -> Any:
    # The hash anywhere in a JSON document: a playlist entry, an event, a programme part.
    return cast(document, String).contains(sha256)


def audio_used_by(
    session: Session,
    *,
    asset: AudioAsset,
    stations: Collection[int],
    makers: Collection[int] = (),
    from_day: date | None = None,
) -> bool:
    """Whether one of `stations` plays the file (a playlist, from `from_day` on if given;
    an event; its fallback), or it was made for one of `makers` (an item's rendering, a
    recording, a programme)."""
    sha256, stations, makers = asset.sha256, list(stations), list(makers)
    # A playlist holds only files that existed when it was made: the days before this
    # one's first never aired it.
    since = max(asset.created_at.date() - timedelta(days=1), from_day or date.min)
    queries = [
        select(Playlist.id).where(
            col(Playlist.station_id).in_(stations),
            Playlist.day >= since,
            _holds(Playlist.body, sha256),
        ),
        select(StationEvent.id).where(
            col(StationEvent.station_id).in_(stations), _holds(StationEvent.payload, sha256)
        ),
        select(Station.id).where(col(Station.id).in_(stations), _holds(Station.fallback, sha256)),
    ]
    if makers:
        queries[:0] = [
            select(RenderJob.id).where(
                RenderJob.asset_sha256 == sha256, col(RenderJob.station_id).in_(makers)
            ),
            select(Recording.id).where(
                or_(Recording.original_sha256 == sha256, Recording.broadcast_sha256 == sha256),
                col(Recording.station_id).in_(makers),
            ),
            select(Programme.id).where(
                or_(Programme.asset_sha256 == sha256, _holds(Programme.parts, sha256)),
                col(Programme.station_id).in_(makers),
            ),
        ]
    return any(session.exec(query.limit(1)).first() is not None for query in queries)
