"""Audio files, render jobs, ethnic-language recordings, jingles and programmes."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, select
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

from api.access import (
    ContentReader,
    Planner,
    StationPlanner,
    readable_item,
    readable_station_ids,
    reads_audio,
)
from api.auth import (
    Allowed,
    Permission,
    Principal,
    audio_reader,
    reaches,
    require_reach,
)
from api.deps import SessionDep, SettingsDep, StoreDep
from api.links import LinkBase
from api.outputs import AssetOut, asset_out
from api.uploads import multipart_body, receive_upload, require_audio
from audio.models import AssetOrigin, AudioAsset, JobStatus, Programme, Recording, RenderJob
from audio.service import (
    add_recording,
    assemble_programme,
    enqueue_render,
    get_job,
    store_upload,
)
from audio.store import SHA256
from content.models import ContentItem
from core.errors import ConflictError, InvalidError, NotFoundError, ProblemError
from scheduler.models import Station
from scheduler.service import render_settings

router = APIRouter(tags=["audio"])

MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "flac": "audio/flac",
    "amr": "audio/amr",
}


@router.get(
    "/audio/{sha256}",
    summary="Download an audio file (Range and If-None-Match supported)",
    response_class=FileResponse,
    responses={
        200: {"content": {"audio/mpeg": {}}},
        206: {"description": "Partial content"},
        304: {"description": "Not modified"},
    },
)
def download(
    sha256: str,
    request: Request,
    caller: Annotated[Principal | None, Depends(audio_reader)],
    session: SessionDep,
    store: StoreDep,
) -> Response:
    """Serve a stored file within the caller's scope by its hash; the ETag is the hash."""
    asset = session.get(AudioAsset, sha256) if SHA256.match(sha256) else None
    if asset is not None and caller is not None and not reads_audio(session, caller, asset):
        asset = None  # outside the caller's scope: as if it did not exist
    path = store.path(asset.sha256, asset.format) if asset else None
    if asset is None or not path.exists():
        raise NotFoundError(f"Không có tệp âm thanh {sha256[:16]}….")
    etag = f'"{asset.sha256}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "private, max-age=31536000, immutable",
        "X-Content-SHA256": asset.sha256,
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return AudioFile(
        path, media_type=MEDIA_TYPES.get(asset.format, "application/octet-stream"), headers=headers
    )


class AudioFile(FileResponse):
    """A stored file with Starlette's Range support, whose refusals were plain text: a Range
    it cannot read is ignored and the whole file sent (RFC 9110 §14.2 allows it), and one
    starting past the end is a 416 problem report."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            return []  # no ranges: the whole file
        except RangeNotSatisfiable:
            # Raised before anything is sent, so the app's problem handler answers it.
            raise ProblemError(
                f"Đoạn yêu cầu bắt đầu sau cuối tệp ({file_size} byte).",
                status=416,
                title="Đoạn yêu cầu nằm ngoài tệp",
                headers={"Content-Range": f"bytes */{file_size}"},
            ) from None


class JobOut(BaseModel):
    """A render job and how far it has got."""

    id: int
    item_id: int
    version: int
    status: JobStatus
    stage: str
    progress: int
    attempts: int
    error: str | None
    asset: AssetOut | None
    created_at: datetime
    finished_at: datetime | None


def _job_out(session: Session, job: RenderJob, base_url: str) -> JobOut:
    asset = session.get(AudioAsset, job.asset_sha256) if job.asset_sha256 else None
    return JobOut(
        asset=asset_out(asset, base_url) if asset else None,
        **job.model_dump(include=set(JobOut.model_fields) - {"asset"}),
    )


@router.post(
    "/content-items/{item_id}/render",
    status_code=202,
    summary="Queue the approved version for rendering",
)
def render(item_id: int, principal: Planner, session: SessionDep, base: LinkBase) -> JobOut:
    """Queue audio rendering with the owning station's voice; asking again gives the same job."""
    item = readable_item(session, principal, item_id)
    station = session.get(Station, item.station_id)
    require_reach(session, principal, station)
    job = enqueue_render(
        session,
        item=item,
        station_id=station.id,
        settings=render_settings(station),
        created_by=principal.name,
    )
    session.commit()
    return _job_out(session, job, base)


@router.get("/jobs/{job_id}", summary="A render job's progress")
def job_status(
    job_id: int,
    principal: ContentReader,
    session: SessionDep,
    base: LinkBase,
) -> JobOut:
    """Report a job's stage, percentage, attempts and result."""
    job = get_job(session, job_id=job_id)
    if not reaches(session, principal, job.station_id):
        raise NotFoundError(f"Không có tác vụ số {job_id}.")
    return _job_out(session, job, base)


class RecordingOut(BaseModel):
    """An accepted ethnic-language recording."""

    id: int
    item_id: int
    language: str
    speaker: str
    filename: str
    uploaded_by: str
    created_at: datetime
    original: AssetOut
    broadcast: AssetOut


def _recording_out(session: Session, recording: Recording, base_url: str) -> RecordingOut:
    return RecordingOut(
        **recording.model_dump(include=set(RecordingOut.model_fields)),
        original=asset_out(session.get(AudioAsset, recording.original_sha256), base_url),
        broadcast=asset_out(session.get(AudioAsset, recording.broadcast_sha256), base_url),
    )


@router.post(
    "/content-items/{item_id}/recordings",
    status_code=201,
    summary="Upload an ethnic-language recording (multipart: file, language, speaker)",
    openapi_extra=multipart_body(
        ["file", "language", "speaker"],
        {
            "file": {"type": "string", "format": "binary"},
            "language": {"type": "string", "description": "ISO 639-3, e.g. blt, hnj"},
            "speaker": {"type": "string"},
            "station": {"type": "string", "description": "station the recording is for"},
        },
    ),
)
async def upload_recording(
    item_id: int,
    request: Request,
    principal: Annotated[Principal, Depends(Allowed(Permission.recordings_write))],
    session: SessionDep,
    settings: SettingsDep,
    base: LinkBase,
    store: StoreDep,
) -> RecordingOut:
    """Stream, decode and check a recording; keep the original and a broadcast copy."""
    item = readable_item(session, principal, item_id)
    temp, filename, fields = await receive_upload(
        request, store=store, limit=settings.max_upload_mb << 20
    )
    try:
        station = _station_for_upload(session, principal, fields.get("station"), item.station_id)
        require_audio(temp)
        recording = add_recording(
            session,
            store=store,
            item=item,
            language=fields.get("language", ""),
            speaker=fields.get("speaker", ""),
            upload=temp,
            filename=filename,
            station_id=station.id,
            uploaded_by=principal.name,
            settings=render_settings(station),
        )
        session.commit()
    finally:
        temp.unlink(missing_ok=True)
    return _recording_out(session, recording, base)


def _station_for_upload(
    session: Session, principal: Principal, code: str | None, fallback_id: int
) -> Station:
    if code:
        station = session.exec(select(Station).where(Station.code == code)).first()
        if station is None:
            raise InvalidError(f"Không có đài mã {code!r}.", errors=[{"field": "station"}])
    else:
        station = session.get(Station, principal.station_id or fallback_id)
    require_reach(session, principal, station)
    return station


@router.post(
    "/stations/{code}/jingles",
    status_code=201,
    summary="Upload a jingle (multipart: file)",
    openapi_extra=multipart_body(["file"], {"file": {"type": "string", "format": "binary"}}),
)
async def upload_jingle(
    request: Request,
    grant: StationPlanner,
    session: SessionDep,
    settings: SettingsDep,
    base: LinkBase,
    store: StoreDep,
) -> AssetOut:
    """Store a jingle, normalised like everything else the station plays."""
    temp, _, _ = await receive_upload(request, store=store, limit=settings.max_upload_mb << 20)
    try:
        require_audio(temp)
        _, copy = store_upload(
            session,
            store=store,
            upload=temp,
            origin=AssetOrigin.jingle,
            settings=render_settings(grant.station),
            max_seconds=120,
        )
        session.commit()
    finally:
        temp.unlink(missing_ok=True)
    return asset_out(copy, base)


class ProgrammeIn(BaseModel):
    """A programme: parts in order, each {kind: jingle, title, item or recording, and its id}."""

    title: str = Field(min_length=1, max_length=300)
    parts: list[dict[str, Any]] = Field(min_length=1, max_length=200)
    gap_ms: int = Field(800, ge=0, le=10_000)
    target_min_seconds: int | None = Field(None, ge=0)
    target_max_seconds: int | None = Field(None, ge=0)


class ProgrammeOut(ProgrammeIn):
    """A stored programme and, once assembled, its audio."""

    id: int
    station: str
    asset: AssetOut | None
    warnings: list[str]
    assembled_at: datetime | None


def _programme_out(session: Session, programme: Programme, base_url: str) -> ProgrammeOut:
    asset = session.get(AudioAsset, programme.asset_sha256) if programme.asset_sha256 else None
    station = session.get(Station, programme.station_id)
    return ProgrammeOut(
        **programme.model_dump(include=set(ProgrammeOut.model_fields) - {"station", "asset"}),
        station=station.code,
        asset=asset_out(asset, base_url) if asset else None,
    )


@router.post("/stations/{code}/programmes", status_code=201, summary="Define a programme")
def add_programme(
    body: ProgrammeIn,
    grant: StationPlanner,
    session: SessionDep,
    base: LinkBase,
) -> ProgrammeOut:
    """Store a programme's parts; assemble it with POST /programmes/{id}/assemble."""
    kinds = {"jingle", "title", "item", "recording"}
    bad = [i for i, part in enumerate(body.parts) if part.get("kind") not in kinds]
    if bad:
        raise InvalidError(
            "Mỗi phần phải có kind là jingle, title, item hoặc recording.",
            errors=[{"field": f"parts[{i}].kind"} for i in bad],
        )
    # A part from outside the caller's scope would make its audio theirs to download,
    # mixed into the programme's file.
    unknown = _unreadable_parts(session, grant.principal, body.parts)
    if unknown:
        raise InvalidError(
            "Phần chương trình nhắc đến nội dung, bản ghi hoặc nhạc hiệu không có, hoặc "
            "nằm ngoài phạm vi được giao.",
            errors=[{"field": f"parts[{i}]"} for i in unknown],
        )
    taken = session.exec(
        select(Programme.id).where(
            Programme.station_id == grant.station.id, Programme.title == body.title
        )
    ).first()
    if taken is not None:
        raise ConflictError(f"Đài {grant.station.code} đã có chương trình {body.title!r}.")
    programme = Programme(
        station_id=grant.station.id, created_by=grant.principal.name, **body.model_dump()
    )
    session.add(programme)
    session.commit()
    return _programme_out(session, programme, base)


def _unreadable_parts(
    session: Session, principal: Principal, parts: list[dict[str, Any]]
) -> list[int]:
    readable = readable_station_ids(session, principal)
    unknown = []
    for i, part in enumerate(parts):
        if part["kind"] == "title":
            continue
        if part["kind"] == "jingle":
            sha256 = part.get("sha256")
            asset = session.get(AudioAsset, sha256) if SHA256.match(str(sha256)) else None
            if asset is None or not reads_audio(session, principal, asset):
                unknown.append(i)
            continue
        key, model = (
            ("item_id", ContentItem) if part["kind"] == "item" else ("recording_id", Recording)
        )
        number = part.get(key)
        found = session.get(model, number) if type(number) is int else None
        if found is None or (readable is not None and found.station_id not in readable):
            unknown.append(i)
    return unknown


@router.post(
    "/programmes/{programme_id}/assemble", summary="Assemble a programme into one normalised MP3"
)
def assemble(
    programme_id: int,
    principal: Planner,
    session: SessionDep,
    base: LinkBase,
    store: StoreDep,
) -> ProgrammeOut:
    """Join the parts with gaps, normalise loudness, check the target length."""
    programme = session.get(Programme, programme_id)
    if programme is None or not reaches(session, principal, programme.station_id):
        raise NotFoundError(f"Không có chương trình số {programme_id}.")
    station = session.get(Station, programme.station_id)
    assemble_programme(session, store=store, programme=programme, settings=render_settings(station))
    session.commit()
    return _programme_out(session, programme, base)
