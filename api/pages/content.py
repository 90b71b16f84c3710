"""The planner's pages: plans and their import, content items through approval, render jobs.

Everything here goes through the same services as the REST API, behind the web session
instead of a bearer token; mistakes in a form come back on the page, next to the field.
"""

import hashlib
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlmodel import Session, col, func, or_, select

from api.auth import Permission, Principal, audio_query, visible_station_ids
from api.deps import SessionDep, SettingsDep
from api.pages.operator import PRIORITY_NAMES
from api.routes.content import readable_item
from api.uploads import MAX_DOCUMENT_BYTES
from api.web import WebPrincipal, check_csrf, problem_page, render, templates
from audio.models import AudioAsset, JobStatus, RenderJob
from audio.service import enqueue_render, rendered_asset
from content.importer import ETHNIC_UNSPECIFIED, NotAPlanError, ParsedPlan, parse_plan
from content.labels import CADENCE_NAMES, CHANNEL_NAMES, STAGE_NAMES, STATUS_NAMES
from content.languages import LANGUAGES
from content.models import (
    ContentItem,
    ContentStatus,
    ContentVersion,
    Plan,
    PlanRequirement,
    Priority,
    ScriptTemplate,
    Theme,
)
from content.service import (
    Draft,
    approve_content_item,
    archive_content_item,
    create_content_item,
    draft_words,
    edit_content_item,
    get_version,
    import_plan,
    item_versions,
    plan_requirements,
    readable_themes,
    return_content_item,
    submit_content_item,
)
from core.clock import utcnow
from core.errors import ForbiddenError, InvalidError, NotFoundError, ProblemError
from core.settings import Settings
from scheduler.models import Station
from scheduler.service import ancestor_ids, list_stations, render_settings, station_facts

router = APIRouter(include_in_schema=False)

PLAN_STATUS_NAMES = {
    "draft": "mới nhập, chưa rà soát",
    "active": "đang thực hiện",
    "archived": "đã lưu trữ",
}
LEVEL_NAMES = {"province": "cấp tỉnh", "district": "cấp huyện", "commune": "cấp xã"}
JOB_STATUS_NAMES = {"queued": "đang chờ", "running": "đang chạy", "done": "xong", "failed": "lỗi"}
PLAN_EXTENSIONS = (".txt", ".md", ".markdown")
LIST_LIMIT = 200
JOB_LIMIT = 50
POLL_LIMIT = 100
LISTEN_SECONDS = 86_400  # a signed audio link on an item page opens for a day
DATE_HINT = "Ngày ghi theo dạng dd/mm/yyyy, ví dụ 01/07/2026."
# Service error fields, named as the form names them.
FIELD_NAMES = {"theme_id": "theme", "plan_id": "plan", "translates_id": "translates"}


def _dmy(value: date | None) -> str:
    return f"{value:%d/%m/%Y}" if value else ""


templates.env.filters.setdefault("dmy", _dmy)


def _duration(seconds: float | None) -> str:
    """A length in words: '1 phút 05 giây', '45 giây'."""
    if seconds is None:
        return "—"
    minutes, rest = divmod(round(seconds), 60)
    if not minutes:
        return f"{rest} giây"
    return f"{minutes} phút {rest:02d} giây" if rest else f"{minutes} phút"


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


# ----------------------------------------------------------------- access


def _message(
    request: Request,
    principal: Principal | None,
    exc: ProblemError,
    heading: str,
    link: str = "/",
) -> Response:
    return problem_page(request, principal, exc, heading=heading, link=link)


def _refusal(principal: Principal) -> ForbiddenError | None:
    if principal.may(Permission.content_write):
        return None
    return ForbiddenError(
        "Trang này dành cho cán bộ kế hoạch của trung tâm truyền thông; "
        "vai trò của bạn không được soạn nội dung."
    )


def _readable_ids(session: Session, principal: Principal) -> set[int] | None:
    # What a centre's staff may read: their subtree and the stations above it.
    ids = visible_station_ids(session, principal)
    if ids is None or principal.station_id is None:
        return ids
    return ids | set(ancestor_ids(session, station_id=principal.station_id))


def _themes(session: Session, principal: Principal) -> list[Theme]:
    return readable_themes(session, owner_ids=_readable_ids(session, principal), by_name=True)


def _writable_stations(session: Session, principal: Principal) -> list[Station]:
    return list_stations(session, ids=visible_station_ids(session, principal))


def _readable_plan(session: Session, principal: Principal, plan_id: int) -> Plan:
    plan = session.get(Plan, plan_id)
    ids = _readable_ids(session, principal)
    hidden = ids is not None and plan is not None and plan.station_id not in (ids | {None})
    if plan is None or hidden:
        raise NotFoundError(f"Không có kế hoạch số {plan_id}.")
    return plan


def _plans(session: Session, principal: Principal) -> list[Plan]:
    query = select(Plan).order_by(col(Plan.id).desc())
    ids = _readable_ids(session, principal)
    if ids is not None:
        query = query.where(or_(col(Plan.station_id).in_(ids), col(Plan.station_id).is_(None)))
    return list(session.exec(query))


def _chosen_station(
    stations: list[Station], code: str, *, national: bool
) -> tuple[Station | None, str | None]:
    """The owning station picked in a form, or what is wrong with the choice."""
    if not code:
        return None, None if national else "Hãy chọn đài sở hữu."
    for station in stations:
        if station.code == code:
            return station, None
    return None, "Hãy chọn một đài trong danh sách (đài trong phạm vi được giao)."


# ----------------------------------------------------------------- plans


@router.get("/plans")
def plans_page(
    request: Request, principal: WebPrincipal, session: SessionDep, settings: SettingsDep
) -> Response:
    """The plans within or above the planner's scope, newest first."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if refusal := _refusal(principal):
        return _message(request, principal, refusal, "Không mở được danh sách kế hoạch")
    plans = _plans(session, principal)
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
        status_names=PLAN_STATUS_NAMES,
        level_names=LEVEL_NAMES,
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
    stations = _writable_stations(session, principal)
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
        level_names=LEVEL_NAMES,
        notice=notice,
        max_mb=MAX_DOCUMENT_BYTES // 1_000_000,
    )


@router.get("/plans/import")
def import_form(request: Request, principal: WebPrincipal, session: SessionDep) -> Response:
    """Paste or upload a plan document to read it before saving."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if refusal := _refusal(principal):
        return _message(request, principal, refusal, "Không nhập được kế hoạch")
    own = session.get(Station, principal.station_id) if principal.station_id else None
    return _import_page(request, principal, session, ImportForm(station=own.code if own else ""))


async def _uploaded_text(file: UploadFile | None) -> tuple[str | None, str | None]:
    """The text of an uploaded plan file, or what is wrong with it (None, None: no file)."""
    if file is None or not file.filename:
        return None, None
    name = file.filename.lower()
    if not name.endswith(PLAN_EXTENSIONS):
        return None, "Chỉ nhận tệp văn bản .txt hoặc .md (Markdown)."
    raw = await file.read(MAX_DOCUMENT_BYTES + 1)
    if len(raw) > MAX_DOCUMENT_BYTES:
        return None, f"Tệp quá lớn (tối đa {MAX_DOCUMENT_BYTES // 1_000_000} MB)."
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return None, "Tệp phải mã hóa UTF-8 (khi lưu, chọn “UTF-8”)."


@router.post("/plans/import", dependencies=[Depends(check_csrf)])
async def import_submit(
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    station: Annotated[str, Form(max_length=200)] = "",
    text: Annotated[str, Form()] = "",
    previewed: Annotated[str, Form(max_length=64)] = "",
    action: Annotated[str, Form(max_length=16)] = "preview",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Read the document and show what was found; save only on confirmation of that reading."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if refusal := _refusal(principal):
        return _message(request, principal, refusal, "Không nhập được kế hoạch")
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
    owner, problem = _chosen_station(
        _writable_stations(session, principal), station, national=principal.station_id is None
    )
    if problem:
        errors["station"] = problem
    if not text and "file" not in errors:
        errors["text"] = "Hãy dán văn bản kế hoạch hoặc chọn tệp .txt, .md."
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
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    saved: str | None = None,
) -> Response:
    """A plan: what it is, and its broadcasting requirements in words."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    heading = "Không mở được kế hoạch"
    if refusal := _refusal(principal):
        return _message(request, principal, refusal, heading)
    try:
        plan = _readable_plan(session, principal, plan_id)
    except ProblemError as exc:
        return _message(request, principal, exc, heading, "/plans")
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
        status_names=PLAN_STATUS_NAMES,
        item_status_names=STATUS_NAMES,
        level_names=LEVEL_NAMES,
        languages=LANGUAGES,
        saved=saved,
        timezone=settings.timezone,
    )


# ----------------------------------------------------------------- content items


@dataclass
class ItemFilters:
    """The content list's filters, as typed."""

    status: str = ""
    plan: str = ""
    language: str = ""
    theme: str = ""


def _whole_number(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 12:
        raise ValueError(text)
    return int(text)


@router.get("/items")
def items_page(
    request: Request, principal: WebPrincipal, session: SessionDep, settings: SettingsDep
) -> Response:
    """Content items, filtered by status, plan, language and theme, newest change first."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if refusal := _refusal(principal):
        return _message(request, principal, refusal, "Không mở được danh sách nội dung")
    params = request.query_params
    filters = ItemFilters(**{k: params.get(k, "").strip() for k in asdict(ItemFilters())})
    plans = _plans(session, principal)
    themes = _themes(session, principal)
    errors: dict[str, str] = {}
    if filters.status and filters.status not in STATUS_NAMES:
        errors["status"] = "Hãy chọn trạng thái trong danh sách."
    if filters.language and filters.language not in LANGUAGES:
        errors["language"] = "Hãy chọn ngôn ngữ trong danh sách."
    numbers: dict[str, int | None] = {}
    for name, known, label in (
        ("plan", {p.id for p in plans}, "kế hoạch"),
        ("theme", {t.id for t in themes}, "chủ đề"),
    ):
        try:
            numbers[name] = _whole_number(getattr(filters, name))
        except ValueError:
            numbers[name] = None
            errors[name] = f"Hãy chọn {label} trong danh sách."
            continue
        if numbers[name] is not None and numbers[name] not in known:
            errors[name] = f"Không có {label} số {numbers[name]} trong phạm vi của bạn."
    context: dict[str, Any] = {
        "filters": filters,
        "errors": errors,
        "plans": plans,
        "themes": themes,
        "languages": LANGUAGES,
        "status_names": STATUS_NAMES,
        "timezone": settings.timezone,
        "limit": LIST_LIMIT,
    }
    if errors:
        return render(request, "items.html", principal, status=422, rows=[], **context)
    query = (
        select(ContentItem, Station, ContentVersion)
        .join(Station, col(Station.id) == ContentItem.station_id)
        .join(
            ContentVersion,
            (col(ContentVersion.item_id) == ContentItem.id)
            & (col(ContentVersion.number) == ContentItem.version),
        )
        .order_by(col(ContentItem.updated_at).desc(), col(ContentItem.id).desc())
        .limit(LIST_LIMIT + 1)
    )
    ids = _readable_ids(session, principal)
    if ids is not None:
        query = query.where(col(ContentItem.station_id).in_(ids))
    if filters.status:
        query = query.where(ContentItem.status == ContentStatus(filters.status))
    if filters.language:
        query = query.where(ContentItem.language == filters.language)
    if numbers["plan"] is not None:
        query = query.where(ContentItem.plan_id == numbers["plan"])
    if numbers["theme"] is not None:
        query = query.where(ContentItem.theme_id == numbers["theme"])
    rows = list(session.exec(query))
    plan_names = {p.id: p.number or p.title for p in plans}
    return render(
        request,
        "items.html",
        principal,
        rows=[
            {
                "item": item,
                "station": station,
                "latest": latest,
                "plan": plan_names.get(item.plan_id) if item.plan_id else None,
                "estimate": _duration(latest.estimated_seconds),
            }
            for item, station, latest in rows[:LIST_LIMIT]
        ],
        more=len(rows) > LIST_LIMIT,
        **context,
    )


@dataclass
class ItemForm:
    """What the new-item form sent, as typed."""

    station: str = ""
    title: str = ""
    body: str = ""
    plan: str = ""
    theme: str = ""
    programme: str = ""
    language: str = "vie"
    translates: str = ""
    valid_from: str = ""
    valid_until: str = ""
    priority: str = "normal"


def _day(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        return date.fromisoformat(text)  # what a date picker sends


def _item_choices(session: Session, principal: Principal) -> dict[str, Any]:
    stations = _writable_stations(session, principal)
    programmes = session.exec(
        select(ScriptTemplate.programme)
        .where(col(ScriptTemplate.station_id).in_([s.id for s in stations]))
        .distinct()
        .order_by(ScriptTemplate.programme)
    ).all()
    return {
        "stations": stations,
        "plans": _plans(session, principal),
        "themes": _themes(session, principal),
        "programmes": programmes,
        "languages": LANGUAGES,
        "priority_names": PRIORITY_NAMES,
        "date_hint": DATE_HINT,
    }


def _check_item_form(
    session: Session, principal: Principal, form: ItemForm, choices: dict[str, Any]
) -> tuple[dict[str, Any], Station | None, dict[str, str]]:
    """The service's arguments from the form, or each field's problem in words."""
    errors: dict[str, str] = {}
    station, problem = _chosen_station(choices["stations"], form.station, national=False)
    if problem:
        errors["station"] = problem
    if not form.title.strip():
        errors["title"] = "Hãy ghi tiêu đề."
    elif len(form.title) > 300:
        errors["title"] = "Tiêu đề dài quá 300 ký tự."
    if not form.body.strip():
        errors["body"] = "Hãy ghi nội dung cần phát."
    elif len(form.body) > 100_000:
        errors["body"] = "Nội dung dài quá 100.000 ký tự."
    if len(form.programme) > 200:
        errors["programme"] = "Tên chuyên mục dài quá 200 ký tự."
    if form.language not in LANGUAGES:
        errors["language"] = "Hãy chọn ngôn ngữ trong danh sách."
    if form.priority not in PRIORITY_NAMES:
        errors["priority"] = "Hãy chọn mức ưu tiên trong danh sách."
    numbers: dict[str, int | None] = {}
    for name, label in (("plan", "kế hoạch"), ("theme", "chủ đề"), ("translates", "nội dung")):
        try:
            numbers[name] = _whole_number(getattr(form, name))
        except ValueError:
            numbers[name] = None
            errors[name] = f"Hãy chọn {label} trong danh sách."
    if numbers["plan"] is not None and numbers["plan"] not in {p.id for p in choices["plans"]}:
        errors["plan"] = "Hãy chọn kế hoạch trong danh sách (kế hoạch trong phạm vi của bạn)."
    if numbers["translates"] is not None:
        try:
            readable_item(session, principal, numbers["translates"])
        except NotFoundError as exc:
            errors["translates"] = exc.detail
    days: dict[str, date | None] = {}
    for name in ("valid_from", "valid_until"):
        try:
            days[name] = _day(getattr(form, name))
        except ValueError:
            days[name] = None
            errors[name] = DATE_HINT
    arguments = {
        "title": form.title,
        "body": form.body,
        "language": form.language,
        "programme": " ".join(form.programme.split()) or None,
        "theme_id": numbers["theme"],
        "plan_id": numbers["plan"],
        "translates_id": numbers["translates"],
        "valid_from": days["valid_from"],
        "valid_until": days["valid_until"],
        "priority": Priority(form.priority) if form.priority in PRIORITY_NAMES else None,
    }
    return arguments, station, errors


def _field_errors(exc: ProblemError, fallback: str) -> dict[str, str]:
    """A service's problem placed next to the fields it names."""
    fields = [FIELD_NAMES.get(e.get("field", ""), e.get("field", "")) for e in exc.errors]
    fields = [f for f in fields if f] or [fallback]
    return dict.fromkeys(fields, exc.detail)


def _draft_view(draft: Draft) -> dict[str, Any]:
    return {**asdict(draft), "estimate": _duration(draft.estimated_seconds)}


@router.get("/items/new")
def new_item_form(
    request: Request, principal: WebPrincipal, session: SessionDep, plan: str = ""
) -> Response:
    """The form for a new content item, optionally under a plan."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if refusal := _refusal(principal):
        return _message(request, principal, refusal, "Không soạn được nội dung")
    own = session.get(Station, principal.station_id) if principal.station_id else None
    choices = _item_choices(session, principal)
    form = ItemForm(
        station=own.code if own else (choices["stations"][0].code if choices["stations"] else ""),
        plan=plan if plan.isdigit() else "",
    )
    return render(request, "item_new.html", principal, form=form, errors={}, **choices)


@router.post("/items/new", dependencies=[Depends(check_csrf)])
def new_item(
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    station: Annotated[str, Form(max_length=200)] = "",
    title: Annotated[str, Form(max_length=2_000)] = "",
    body: Annotated[str, Form(max_length=200_000)] = "",
    plan: Annotated[str, Form(max_length=40)] = "",
    theme: Annotated[str, Form(max_length=40)] = "",
    programme: Annotated[str, Form(max_length=2_000)] = "",
    language: Annotated[str, Form(max_length=40)] = "vie",
    translates: Annotated[str, Form(max_length=40)] = "",
    valid_from: Annotated[str, Form(max_length=40)] = "",
    valid_until: Annotated[str, Form(max_length=40)] = "",
    priority: Annotated[str, Form(max_length=40)] = "normal",
    action: Annotated[str, Form(max_length=16)] = "save",
) -> Response:
    """Preview what the voice will say, or save the draft with its first version."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if refusal := _refusal(principal):
        return _message(request, principal, refusal, "Không soạn được nội dung")
    form = ItemForm(
        station=station,
        title=title,
        body=body,
        plan=plan,
        theme=theme,
        programme=programme,
        language=language,
        translates=translates,
        valid_from=valid_from,
        valid_until=valid_until,
        priority=priority,
    )
    choices = _item_choices(session, principal)
    arguments, owner, errors = _check_item_form(session, principal, form, choices)

    def again(status: int, **extra: Any) -> Response:
        return render(
            request, "item_new.html", principal, status=status, form=form, **choices, **extra
        )

    if errors:
        return again(422, errors=errors)
    assert owner is not None
    try:
        if action == "preview":
            draft = draft_words(
                session,
                station=station_facts(owner),
                programme=arguments["programme"],
                title=" ".join(title.split()),
                body=body.strip(),
                language=language,
                on=arguments["valid_from"] or utcnow().date(),
            )
            return again(200, errors={}, preview=_draft_view(draft))
        item, _, draft = create_content_item(
            session,
            station=station_facts(owner),
            author=principal.name,
            theme_owners=_readable_ids(session, principal),
            **arguments,
        )
    except ProblemError as exc:
        session.rollback()
        return again(exc.status if exc.status != 400 else 422, errors=_field_errors(exc, "form"))
    session.commit()
    return RedirectResponse(f"/items/{item.id}?saved=1", status_code=303)


def _item_page(
    request: Request,
    principal: Principal,
    session: Session,
    settings: Settings,
    item: ContentItem,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    edit: dict[str, str] | None = None,
    preview: dict[str, Any] | None = None,
) -> Response:
    station = session.get(Station, item.station_id)
    assert station is not None and station.id is not None
    latest = get_version(session, item=item, number=item.version)
    asset = rendered_asset(session, item=item) if item.approved_version else None
    listen = (
        f"/api/v1/audio/{asset.sha256}?"
        + audio_query(
            settings=settings, sha256=asset.sha256, expires=int(time.time()) + LISTEN_SECONDS
        )
        if asset
        else None
    )
    job = (
        session.exec(
            select(RenderJob)
            .where(RenderJob.item_id == item.id, RenderJob.version == item.approved_version)
            .order_by(col(RenderJob.id).desc())
        ).first()
        if item.approved_version
        else None
    )
    scope = visible_station_ids(session, principal)
    writable = scope is None or station.id in scope
    plan = session.get(Plan, item.plan_id) if item.plan_id else None
    theme = session.get(Theme, item.theme_id) if item.theme_id else None
    return render(
        request,
        "item.html",
        principal,
        status=status,
        item=item,
        station=station,
        plan=plan,
        theme=theme,
        translates=session.get(ContentItem, item.translates_id) if item.translates_id else None,
        latest=latest,
        latest_estimate=_duration(latest.estimated_seconds),
        versions=[
            {"version": v, "estimate": _duration(v.estimated_seconds)}
            for v in reversed(item_versions(session, item_id=item.id))
        ],
        asset=asset,
        asset_duration=_duration(asset.duration_s) if asset else None,
        listen=listen,
        job=_job_view(job) if job else None,
        may_render=item.status != ContentStatus.archived
        and item.approved_version is not None
        and (job is None or job.status == JobStatus.failed),
        writable=writable,
        may_approve=principal.may(Permission.content_approve),
        two_person=station.two_person_approval,
        errors=errors or {},
        notice=notice,
        edit=edit or {"title": latest.title, "body": latest.body},
        preview=preview,
        status_names=STATUS_NAMES,
        priority_names=PRIORITY_NAMES,
        languages=LANGUAGES,
        timezone=settings.timezone,
    )


SAVED_NOTICES = {
    "1": "Đã lưu nội dung.",
    "edit": "Đã lưu phiên bản mới; phiên bản này cần được gửi duyệt và duyệt lại trước khi phát.",
    "submit": "Đã gửi duyệt.",
    "approve": "Đã duyệt: phiên bản này được phép phát.",
    "return": "Đã trả lại người viết kèm ghi chú.",
    "archive": "Đã lưu trữ nội dung; nội dung không còn được phát.",
    "render": "Đã đưa vào hàng đợi tạo âm thanh.",
}


@router.get("/items/{item_id:int}")
def item_page(
    item_id: int,
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    saved: str | None = None,
) -> Response:
    """One item: its words, what the voice will say, its audio, workflow and history."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    heading = "Không mở được nội dung"
    if refusal := _refusal(principal):
        return _message(request, principal, refusal, heading)
    try:
        item = readable_item(session, principal, item_id)
    except ProblemError as exc:
        return _message(request, principal, exc, heading, "/items")
    return _item_page(
        request, principal, session, settings, item, notice=SAVED_NOTICES.get(saved or "")
    )


def _writable(session: Session, principal: Principal, item_id: int) -> tuple[ContentItem, Station]:
    item = readable_item(session, principal, item_id)
    station = session.get(Station, item.station_id)
    assert station is not None and station.id is not None
    ids = visible_station_ids(session, principal)
    if ids is not None and station.id not in ids:
        raise ForbiddenError(
            f"Nội dung này thuộc {station.name}, ngoài phạm vi được giao: chỉ xem, không sửa được."
        )
    return item, station


@router.post("/items/{item_id:int}/edit", dependencies=[Depends(check_csrf)])
def edit_item(
    item_id: int,
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    title: Annotated[str, Form(max_length=2_000)] = "",
    body: Annotated[str, Form(max_length=200_000)] = "",
    action: Annotated[str, Form(max_length=16)] = "save",
) -> Response:
    """Preview new words, or save them as a new version."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    heading = "Không sửa được nội dung"
    if refusal := _refusal(principal):
        return _message(request, principal, refusal, heading)
    try:
        item, station = _writable(session, principal, item_id)
    except ProblemError as exc:
        return _message(request, principal, exc, heading, f"/items/{item_id}")
    edit = {"title": title, "body": body}
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = "Hãy ghi tiêu đề."
    elif len(title) > 300:
        errors["title"] = "Tiêu đề dài quá 300 ký tự."
    if not body.strip():
        errors["body"] = "Hãy ghi nội dung cần phát."
    elif len(body) > 100_000:
        errors["body"] = "Nội dung dài quá 100.000 ký tự."
    if errors:
        return _item_page(
            request, principal, session, settings, item, status=422, errors=errors, edit=edit
        )
    try:
        if action == "preview":
            draft = draft_words(
                session,
                station=station_facts(station),
                programme=item.programme,
                title=" ".join(title.split()),
                body=body.strip(),
                language=item.language,
                on=item.valid_from or utcnow().date(),
            )
            return _item_page(
                request, principal, session, settings, item, edit=edit, preview=_draft_view(draft)
            )
        edit_content_item(
            session,
            item=item,
            station=station_facts(station),
            author=principal.name,
            title=title,
            body=body,
        )
    except ProblemError as exc:
        session.rollback()
        session.refresh(item)
        return _item_page(
            request,
            principal,
            session,
            settings,
            item,
            status=exc.status if exc.status != 400 else 422,
            errors=_field_errors(exc, "edit"),
            edit=edit,
        )
    session.commit()
    return RedirectResponse(f"/items/{item.id}?saved=edit", status_code=303)


def _workflow(
    request: Request,
    principal: Principal | None,
    session: Session,
    settings: Settings,
    item_id: int,
    step: str,
    note: str = "",
) -> Response:
    """One editorial step; a refusal is shown on the item page with its reason."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    heading = "Không thực hiện được"
    if refusal := _refusal(principal):
        return _message(request, principal, refusal, heading)
    try:
        item, station = _writable(session, principal, item_id)
    except ProblemError as exc:
        return _message(request, principal, exc, heading, f"/items/{item_id}")
    try:
        if step in ("approve", "return") and not principal.may(Permission.content_approve):
            raise ForbiddenError("Vai trò của bạn không được duyệt nội dung.")
        if step == "submit":
            submit_content_item(session, item=item)
        elif step == "approve":
            approve_content_item(
                session, item=item, station=station_facts(station), approver=principal.name
            )
        elif step == "return":
            if not note.strip() and item.status == ContentStatus.submitted:
                raise InvalidError(
                    "Hãy ghi lý do trả lại để người viết biết cần sửa gì.",
                    errors=[{"field": "note"}],
                )
            return_content_item(session, item=item, note=note.strip())
        elif step == "archive":
            archive_content_item(session, item=item)
        elif step == "render":
            enqueue_render(
                session,
                item=item,
                station_id=station.id,
                settings=render_settings(station),
                created_by=principal.name,
            )
    except ProblemError as exc:
        session.rollback()
        session.refresh(item)
        field = "note" if any(e.get("field") == "note" for e in exc.errors) else "workflow"
        status = 422 if exc.status == 400 else exc.status
        return _item_page(
            request, principal, session, settings, item, status=status, errors={field: exc.detail}
        )
    session.commit()
    anchor = "#am-thanh" if step == "render" else ""
    return RedirectResponse(f"/items/{item.id}?saved={step}{anchor}", status_code=303)


@router.post("/items/{item_id:int}/submit", dependencies=[Depends(check_csrf)])
def submit_item(
    item_id: int,
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Send the newest version for approval."""
    return _workflow(request, principal, session, settings, item_id, "submit")


@router.post("/items/{item_id:int}/approve", dependencies=[Depends(check_csrf)])
def approve_item(
    item_id: int,
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Approve the submitted version so it may air."""
    return _workflow(request, principal, session, settings, item_id, "approve")


@router.post("/items/{item_id:int}/return", dependencies=[Depends(check_csrf)])
def return_item(
    item_id: int,
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Send a submitted version back to its author with a note."""
    return _workflow(request, principal, session, settings, item_id, "return", note)


@router.post("/items/{item_id:int}/archive", dependencies=[Depends(check_csrf)])
def archive_item(
    item_id: int,
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Retire an item."""
    return _workflow(request, principal, session, settings, item_id, "archive")


@router.post("/items/{item_id:int}/render", dependencies=[Depends(check_csrf)])
def render_item(
    item_id: int,
    request: Request,
    principal: WebPrincipal,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Queue the approved version for rendering with the station's voice."""
    return _workflow(request, principal, session, settings, item_id, "render")


# ----------------------------------------------------------------- render jobs


def _job_view(job: RenderJob) -> dict[str, Any]:
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
    request: Request, principal: WebPrincipal, session: SessionDep, settings: SettingsDep
) -> Response:
    """Recent render jobs in scope, each with its stage and a progress bar kept up to date."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if refusal := _refusal(principal):
        return _message(request, principal, refusal, "Không mở được danh sách tạo âm thanh")
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
            **_job_view(job),
            "title": item.title,
            "station": station,
            "duration": _duration(asset.duration_s) if asset else None,
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
    if refusal := _refusal(principal):
        return JSONResponse({"detail": refusal.detail}, status_code=403, headers=headers)
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
        view = _job_view(job)
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
