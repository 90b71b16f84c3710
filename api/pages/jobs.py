"""Render jobs as planners watch them: a list, and progress for the pages' bars."""

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import col, select

from api.auth import Permission, Principal, visible_station_ids
from api.deps import SessionDep, SettingsDep
from api.pages.editorial import (
    REFUSAL,
    writer,
)
from api.pages.formats import duration_text
from api.web import WebPrincipal, render
from audio.models import AudioAsset, JobStatus, RenderJob
from content.labels import STAGE_NAMES
from content.models import (
    ContentItem,
)
from scheduler.models import Station

router = APIRouter(include_in_schema=False)

JOB_STATUS_NAMES = {"queued": "đang chờ", "running": "đang chạy", "done": "xong", "failed": "lỗi"}
JOB_LIMIT = 50
POLL_LIMIT = 100


def job_view(job: RenderJob) -> dict[str, Any]:
    finished = job.status in (JobStatus.done, JobStatus.failed)
    return {
        "id": job.id,
        "item_id": job.item_id,
        "version": job.version,
        "status": job.status.value,
        "status_text": JOB_STATUS_NAMES[job.status],
        "stage": job.stage,
        "stage_text": STAGE_NAMES.get(job.stage, job.stage),
        "progress": job.progress,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "error": job.error,
        "finished": finished,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "created_by": job.created_by,
    }


@router.get("/jobs")
def jobs_page(
    request: Request,
    principal: Annotated[Principal, writer("Không mở được danh sách tạo âm thanh")],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Recent render jobs in scope, each with its stage and a progress bar kept up to date."""
    query = (
        select(RenderJob, ContentItem, Station, AudioAsset)
        .join(ContentItem, col(ContentItem.id) == RenderJob.item_id)
        .join(Station, col(Station.id) == RenderJob.station_id)
        .outerjoin(AudioAsset, col(AudioAsset.sha256) == RenderJob.asset_sha256)
        .order_by(col(RenderJob.id).desc())
        .limit(JOB_LIMIT)
    )
    ids = visible_station_ids(session, principal)
    if ids is not None:
        query = query.where(col(RenderJob.station_id).in_(ids))
    rows = [
        {
            **job_view(job),
            "title": item.title,
            "station": station,
            "duration": duration_text(asset.duration_s) if asset else None,
        }
        for job, item, station, asset in session.exec(query)
    ]
    return render(
        request,
        "jobs.html",
        principal,
        rows=rows,
        limit=JOB_LIMIT,
        active=any(not r["finished"] for r in rows),
        timezone=settings.timezone,
    )


@router.get("/jobs/progress")
def jobs_progress(
    request: Request, principal: WebPrincipal, session: SessionDep, ids: str = ""
) -> Response:
    """Where some render jobs stand, as JSON for the pages' progress bars (`ids=1,2,3`)."""
    headers = {"Cache-Control": "no-store"}
    if principal is None:
        return JSONResponse({"detail": "Phiên đăng nhập đã hết."}, status_code=401, headers=headers)
    if not principal.may(Permission.content_write):
        return JSONResponse({"detail": REFUSAL}, status_code=403, headers=headers)
    parts = [p for p in ids.split(",") if p.strip()]
    if len(parts) > POLL_LIMIT or not all(p.strip().isdigit() and len(p) < 13 for p in parts):
        return JSONResponse(
            {"detail": f"ids là tối đa {POLL_LIMIT} số, cách nhau bởi dấu phẩy."},
            status_code=422,
            headers=headers,
        )
    wanted = {int(p) for p in parts}
    jobs: list[RenderJob] = []
    if wanted:
        query = select(RenderJob).where(col(RenderJob.id).in_(wanted))
        scope = visible_station_ids(session, principal)
        if scope is not None:
            query = query.where(col(RenderJob.station_id).in_(scope))
        jobs = list(session.exec(query.order_by(RenderJob.id)))
    out = []
    for job in jobs:
        view = job_view(job)
        out.append(
            {
                key: view[key]
                for key in (
                    "id",
                    "status",
                    "status_text",
                    "stage",
                    "stage_text",
                    "progress",
                    "attempts",
                    "error",
                    "finished",
                )
            }
        )
    return JSONResponse({"jobs": out}, headers=headers)
