"""The planner's plan pages: the plans in scope, importing a plan document, and one plan's
requirements."""

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, col, func, select

from api.access import stations_in_scope
from api.auth import Principal
from api.deps import SessionDep, SettingsDep
from api.pages.editorial import (
    LIST_LIMIT,
    owner_station,
    readable_plan,
    readable_plans,
    writer,
)
from api.pages.forms import default_station
from api.uploads import MAX_DOCUMENT_BYTES
from api.web import check_csrf, render
from content.documents import PLAN_EXTENSIONS, UnreadableDocumentError, document_text
from content.importer import ETHNIC_UNSPECIFIED, NotAPlanError, ParsedPlan, parse_plan
from content.labels import CADENCE_NAMES, CHANNEL_NAMES
from content.languages import LANGUAGES
from content.models import (
    ContentItem,
    PlanRequirement,
)
from content.repair import repair_text
from content.service import (
    import_plan,
    plan_requirements,
)
from core.errors import ProblemError
from scheduler.models import Station

router = APIRouter(include_in_schema=False)


def _minutes_text(low: int | None, high: int | None) -> str:
    if low and high:
        return f"{low} phút" if low == high else f"{low} đến {high} phút"
    if low:
        return f"từ {low} phút"
    if high:
        return f"tối đa {high} phút"
    return "không nêu"


def _language_text(codes: list[str]) -> str:
    names = []
    for code in codes:
        if code == ETHNIC_UNSPECIFIED:
            names.append("tiếng dân tộc (kế hoạch không nêu tên)")
        elif code in LANGUAGES:
            names.append("tiếng " + LANGUAGES[code].removeprefix("Tiếng "))
        else:
            names.append(code)
    return ", ".join(names) or "không nêu"


def _requirement_view(r: PlanRequirement | Any) -> dict[str, Any]:
    return {
        "channel": CHANNEL_NAMES.get(r.channel, r.channel),
        "cadence": CADENCE_NAMES.get(r.cadence or "", "không nêu"),
        "minutes": _minutes_text(r.minutes_min, r.minutes_max),
        "languages": _language_text(r.languages),
        "lead": r.lead_agency or "không nêu",
        "text": r.text,
    }


@router.get("/plans")
def plans_page(
    request: Request,
    principal: Annotated[Principal, writer("Không mở được danh sách kế hoạch")],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The plans within or above the planner's scope, newest first."""
    plans = readable_plans(session, principal)
    counts = dict(
        session.exec(
            select(PlanRequirement.plan_id, func.count())
            .where(col(PlanRequirement.plan_id).in_([p.id for p in plans]))
            .group_by(PlanRequirement.plan_id)
        ).all()
    )
    stations = {s.id: s for s in session.exec(select(Station))} if plans else {}
    return render(
        request,
        "plans.html",
        principal,
        plans=plans,
        counts=counts,
        stations=stations,
        timezone=settings.timezone,
    )


@dataclass
class ImportForm:
    """What the import form sent."""

    station: str = ""
    text: str = ""
    previewed: str = ""


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _normalise(text: str) -> str:
    # Browsers send a textarea with CRLF line ends; files may have either.
    return text.replace("\r\n", "\n").replace("\r", "\n").strip("\n") + "\n"


def _import_page(
    request: Request,
    principal: Principal,
    session: Session,
    form: ImportForm,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    parsed: ParsedPlan | None = None,
    notice: str | None = None,
) -> Response:
    stations = stations_in_scope(session, principal)
    return render(
        request,
        "plan_import.html",
        principal,
        status=status,
        form=form,
        errors=errors or {},
        stations=stations,
        national=principal.station_id is None,
        parsed=parsed,
        requirements=[_requirement_view(r) for r in parsed.requirements] if parsed else [],
        quotes_open=True,
        repairs=repair_text(form.text).repairs if parsed else [],
        notice=notice,
        max_mb=MAX_DOCUMENT_BYTES // 1_000_000,
    )


@router.get("/plans/import")
def import_form(
    request: Request,
    principal: Annotated[Principal, writer("Không nhập được kế hoạch")],
    session: SessionDep,
) -> Response:
    """Paste or upload a plan document to read it before saving."""
    form = ImportForm(station=default_station(session, principal))
    return _import_page(request, principal, session, form)


async def _uploaded_text(file: UploadFile | None) -> tuple[str | None, str | None]:
    """The text of an uploaded plan file, or what is wrong with it (None, None: no file)."""
    if file is None or not file.filename:
        return None, None
    name = file.filename.lower()
    if not name.endswith(PLAN_EXTENSIONS):
        return None, "Chỉ nhận tệp .txt, .md (Markdown), .pdf hoặc Word .docx."
    raw = await file.read(MAX_DOCUMENT_BYTES + 1)
    if len(raw) > MAX_DOCUMENT_BYTES:
        return None, f"Tệp quá lớn (tối đa {MAX_DOCUMENT_BYTES // 1_000_000} MB)."
    try:
        return document_text(raw), None
    except UnreadableDocumentError as exc:
        return None, exc.detail


@router.post("/plans/import", dependencies=[Depends(check_csrf)])
async def import_submit(
    request: Request,
    principal: Annotated[Principal, writer("Không nhập được kế hoạch")],
    session: SessionDep,
    station: Annotated[str, Form(max_length=200)] = "",
    text: Annotated[str, Form()] = "",
    previewed: Annotated[str, Form(max_length=64)] = "",
    action: Annotated[str, Form(max_length=16)] = "preview",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Read the document and show what was found; save only on confirmation of that reading."""
    errors: dict[str, str] = {}
    uploaded, problem = await _uploaded_text(file)
    if problem:
        errors["file"] = problem
    text = uploaded if uploaded is not None else text
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        errors["text"] = f"Văn bản quá dài (tối đa {MAX_DOCUMENT_BYTES // 1_000_000} MB)."
        text = ""
    text = _normalise(text) if text.strip() else ""
    form = ImportForm(station=station, text=text, previewed=previewed)
    owner, problem = owner_station(
        stations_in_scope(session, principal), station, national=principal.station_id is None
    )
    if problem:
        errors["station"] = problem
    if not text and "file" not in errors:
        errors["text"] = "Hãy dán văn bản kế hoạch hoặc chọn tệp .txt, .md, .pdf, .docx."
    parsed = None
    if text:
        try:
            parsed = parse_plan(text)
        except NotAPlanError as exc:
            errors["text"] = str(exc)
    if errors:
        form.previewed = ""
        return _import_page(request, principal, session, form, status=422, errors=errors)
    assert parsed is not None
    digest = _text_hash(text)
    if action != "save" or previewed != digest:
        notice = (
            "Văn bản đã thay đổi sau lần đọc thử: hãy xem lại kết quả dưới đây rồi bấm Lưu."
            if action == "save"
            else None
        )
        form.previewed = digest
        return _import_page(
            request,
            principal,
            session,
            form,
            status=409 if notice else 200,
            parsed=parsed,
            notice=notice,
        )
    try:
        plan, _ = import_plan(
            session, text=text, station_id=owner.id if owner else None, author=principal.name
        )
    except ProblemError as exc:
        session.rollback()
        form.previewed = ""
        return _import_page(
            request, principal, session, form, status=exc.status, errors={"text": exc.detail}
        )
    session.commit()
    return RedirectResponse(f"/plans/{plan.id}?saved=1", status_code=303)


@router.get("/plans/{plan_id:int}")
def plan_page(
    plan_id: int,
    request: Request,
    principal: Annotated[Principal, writer("Không mở được kế hoạch", "/plans")],
    session: SessionDep,
    settings: SettingsDep,
    saved: str | None = None,
) -> Response:
    """A plan: what it is, and its broadcasting requirements in words."""
    plan = readable_plan(session, principal, plan_id)
    items = list(
        session.exec(
            select(ContentItem)
            .where(ContentItem.plan_id == plan.id)
            .order_by(col(ContentItem.id).desc())
            .limit(LIST_LIMIT)
        )
    )
    return render(
        request,
        "plan.html",
        principal,
        plan=plan,
        station=session.get(Station, plan.station_id) if plan.station_id else None,
        requirements=[_requirement_view(r) for r in plan_requirements(session, plan_id=plan.id)],
        items=items,
        saved=saved,
        timezone=settings.timezone,
    )
