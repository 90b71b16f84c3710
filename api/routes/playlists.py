"""Daily playlists as devices and players pull them: JSON with a strong ETag, and M3U8."""

import json
import time
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials
from sqlmodel import Session
from starlette.datastructures import State

from api.auth import (
    DeviceBearer,
    OnStation,
    Permission,
    StationGrant,
    UserBearer,
    audio_query,
    bound_cluster,
    grant_from_bearer,
)
from api.deps import SessionDep, SettingsDep
from api.exports import file_answer
from api.links import LinkBase, link_base, with_links
from core.clock import utcnow
from core.errors import InvalidError
from core.settings import Settings
from scheduler.merges import device_day, former_codes
from scheduler.playlists import ETAG_OF_DAY, current_playlist, playlist_document
from scheduler.service import CODE_PATTERN

router = APIRouter(tags=["playlists"])

LINK_DAYS = 3  # how long the audio links inside an M3U8 stay valid after its date

Reader = Annotated[StationGrant, Depends(OnStation(Permission.playlists_read, devices=True))]
ClusterQuery = Annotated[str | None, Query(description="only what one cluster plays")]


def _cluster(session: Session, grant: StationGrant, cluster: str | None) -> str | None:
    # A receiver bound to one cluster sees what that cluster plays, whatever it asks for.
    bound = bound_cluster(session, grant.principal)
    if bound is not None:
        if grant.named is not None and cluster is not None and cluster != bound:
            # A running agent still names its cluster by the code it had before a merge.
            cluster = (
                bound
                if cluster
                in former_codes(session, named=grant.named, cluster_id=grant.principal.cluster_id)
                else cluster
            )
        if cluster not in (None, bound):
            raise InvalidError(
                f"Thiết bị này thuộc cụm loa {bound}.", errors=[{"field": "cluster"}]
            )
        return bound
    if cluster is not None and not CODE_PATTERN.match(cluster):
        raise InvalidError("Mã cụm loa không hợp lệ.", errors=[{"field": "cluster"}])
    return cluster


def _day_of(
    session: Session, grant: StationGrant, day: date, cluster: str | None
) -> tuple[int, str | None]:
    # A device of a merged station plays the days it kept, then those of the station it
    # joined: whose playlist, and the code its cluster has there.
    if grant.named is None:
        return grant.station.id, cluster
    return device_day(
        session, named=grant.named, cluster_id=grant.principal.cluster_id, cluster=cluster, day=day
    )


@router.get(
    "/stations/{code}/playlists/{day}.m3u8",
    summary="A station's playlist as M3U8 for mpv, VLC or Liquidsoap",
    **file_answer("audio/x-mpegurl"),
)
def playlist_m3u8(
    day: date,
    grant: Reader,
    session: SessionDep,
    settings: SettingsDep,
    base: LinkBase,
    cluster: ClusterQuery = None,
) -> Response:
    """The day's entries in order, with audio links a player can open without a token."""
    station_id, cluster = _day_of(session, grant, day, _cluster(session, grant, cluster))
    current = current_playlist(
        session, station_id=station_id, day=day, base_url=settings.public_base_url
    )
    document = with_links(playlist_document(current, cluster=cluster), base)
    # The links carry a signature instead of the caller's token, valid a few days past
    # the date, so the file can be handed to a player as is.
    expires = int(time.time()) + 86_400 * (max(0, (day - utcnow().date()).days) + LINK_DAYS)
    return Response(
        content=m3u8(document, settings=settings, expires=expires).encode(),
        media_type="audio/x-mpegurl; charset=utf-8",
        headers={
            "ETag": f'"{current.etag}{"-" + cluster if cluster else ""}-m3u8"',
            "Content-Disposition": f'inline; filename="{grant.station.code}-{day}.m3u8"',
        },
    )


def m3u8(document: dict[str, Any], *, settings: Settings, expires: int) -> str:
    """An extended M3U playlist: #EXTINF seconds and title, then an absolute URL.

    The audio links must already point where the player reaches us (`with_links`).
    """
    lines = ["#EXTM3U", f"#PLAYLIST:{document['station']} {document['date']}"]
    for entry in document["entries"]:
        length = datetime.fromisoformat(entry["end"]) - datetime.fromisoformat(entry["start"])
        seconds = round(length.total_seconds())
        title = " ".join(str(entry["title"]).split())
        lines.append(f"# {entry['start'][11:16]} {entry['priority']} {entry['id']}")
        lines.append(f"#EXTINF:{seconds},{title}")
        if entry.get("audio"):
            audio = entry["audio"]
            query = audio_query(settings=settings, sha256=audio["sha256"], expires=expires)
            lines.append(f"{audio['url']}?{query}")
        else:
            lines.append(entry["relay"]["url"])
    return "\n".join(lines) + "\n"


@router.get(
    "/stations/{code}/playlists/{day}",
    summary="A station's playlist for one local date (strong ETag, 304)",
    responses={304: {"description": "Not modified"}},
)
async def playlist(
    code: str,
    day: date,
    request: Request,
    token: UserBearer,
    device: DeviceBearer,
    cluster: ClusterQuery = None,
) -> Response:
    """Return the day's entries; `?cluster=` keeps what one cluster plays."""
    # Every cluster pulls this each morning: all its work is done in one hop to the
    # thread pool rather than one per dependency.
    return await run_in_threadpool(
        _pull,
        request.app.state,
        code=code,
        day=day,
        token=token,
        device=device,
        cluster=cluster,
        if_none_match=request.headers.get("if-none-match", ""),
        base=link_base(request.scope, request.app.state.settings),
    )


def _pull(
    state: State,
    *,
    code: str,
    day: date,
    token: str | None,
    device: HTTPAuthorizationCredentials | None,
    cluster: str | None,
    if_none_match: str,
    base: str,
) -> Response:
    settings = state.settings
    with Session(state.engine, expire_on_commit=False) as session:
        grant = grant_from_bearer(
            session,
            state,
            code=code,
            token=token,
            device=device,
            permission=Permission.playlists_read,
        )
        station_id, cluster = _day_of(session, grant, day, _cluster(session, grant, cluster))
        suffix = "-" + cluster if cluster else ""
        if if_none_match:
            # Most pulls find nothing new: answer those without reading the body.
            stored = session.exec(
                ETAG_OF_DAY, params={"station_id": station_id, "day": day}
            ).first()
            if stored is not None and f'"{stored}{suffix}"' in if_none_match:
                return Response(status_code=304, headers={"ETag": f'"{stored}{suffix}"'})
        current = current_playlist(
            session, station_id=station_id, day=day, base_url=settings.public_base_url
        )
        etag = f'"{current.etag}{suffix}"'
        if etag in if_none_match:
            return Response(status_code=304, headers={"ETag": etag})
        document = with_links(playlist_document(current, cluster=cluster), base)
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content=body, media_type="application/json", headers={"ETag": etag})
