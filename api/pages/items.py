"""The planner's content pages: items through writing, approval and rendering."""

import time
from dataclasses import asdict, dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from api.access import readable_item, readable_station_ids, stations_in_scope
from api.auth import Permission, Principal, audio_query, visible_station_ids
from api.deps import SessionDep, SettingsDep
from api.pages.editorial import (
    LIST_LIMIT,
    Stepper,
    owner_station,
    readable_plans,
    writer,
)
from api.pages.formats import PRIORITY_NAMES, duration_text
from api.pages.forms import default_station, optional_day, optional_id
from api.pages.jobs import job_view
from api.web import check_csrf, render
from audio.models import JobStatus, RenderJob
from audio.service import enqueue_render, rendered_asset
from content.labels import STATUS_NAMES
from content.languages import LANGUAGES
from content.models import (
    ContentItem,
    ContentStatus,
    ContentVersion,
    Plan,
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
    item_versions,
    readable_themes,
    return_content_item,
    submit_content_item,
)
from core.clock import utcnow
from core.errors import ForbiddenError, InvalidError, NotFoundError, ProblemError
from core.limits import BODY_MAX, TITLE_MAX
from core.settings import Settings
from scheduler.models import Station
from scheduler.service import render_settings, station_facts

router = APIRouter(include_in_schema=False)

LISTEN_SECONDS = 86_400  # a signed audio link on an item page opens for a day
DATE_HINT = "Ngày ghi theo dạng dd/mm/yyyy, ví dụ 01/07/2026."

FIELD_NAMES = {"theme_id": "theme", "plan_id": "plan", "translates_id": "translates"}


def _themes(session: Session, principal: Principal) -> list[Theme]:
    return readable_themes(
        session, owner_ids=readable_station_ids(session, principal), by_name=True
    )


@dataclass
class ItemFilters:
    """The content list's filters, as typed."""

    status: str = ""
    plan: str = ""
    language: str = ""
    theme: str = ""


@router.get("/items")
def items_page(
    request: Request,
    principal: Annotated[Principal, writer("Không mở được danh sách nội dung")],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Content items, filtered by status, plan, language and theme, newest change first."""
    params = request.query_params
    filters = ItemFilters(**{k: params.get(k, "").strip() for k in asdict(ItemFilters())})
    plans = readable_plans(session, principal)
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
            numbers[name] = optional_id(getattr(filters, name))
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
    ids = readable_station_ids(session, principal)
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
                "estimate": duration_text(latest.estimated_seconds),
            }
            for item, station, latest in rows[:LIST_LIMIT]
        ],
        more=len(rows) > LIST_LIMIT,
        **context,
    )


class WordsForm(BaseModel):
    """An item's words as typed, and whether to preview or save them (the caps only keep
    a request small; the limits people are told of are `word_errors`)."""

    title: str = Field("", max_length=2_000)
    body: str = Field("", max_length=200_000)
    action: str = Field("save", max_length=16)

    def word_errors(self) -> dict[str, str]:
        """The title's and the body's problem in words, if any."""
        errors: dict[str, str] = {}
        if not self.title.strip():
            errors["title"] = "Hãy ghi tiêu đề."
        elif len(self.title) > TITLE_MAX:
            errors["title"] = f"Tiêu đề dài quá {TITLE_MAX} ký tự."
        if not self.body.strip():
            errors["body"] = "Hãy ghi nội dung cần phát."
        elif len(self.body) > BODY_MAX:
            errors["body"] = f"Nội dung dài quá {BODY_MAX:,} ký tự.".replace(",", ".")
        return errors


class ItemForm(WordsForm):
    """What the new-item form sent, as typed."""

    station: str = Field("", max_length=200)
    plan: str = Field("", max_length=40)
    theme: str = Field("", max_length=40)
    programme: str = Field("", max_length=2_000)
    language: str = Field("vie", max_length=40)
    translates: str = Field("", max_length=40)
    valid_from: str = Field("", max_length=40)
    valid_until: str = Field("", max_length=40)
    priority: str = Field("normal", max_length=40)


def _item_choices(session: Session, principal: Principal) -> dict[str, Any]:
    stations = stations_in_scope(session, principal)
    programmes = session.exec(
        select(ScriptTemplate.programme)
        .where(col(ScriptTemplate.station_id).in_([s.id for s in stations]))
        .distinct()
        .order_by(ScriptTemplate.programme)
    ).all()
    return {
        "stations": stations,
        "plans": readable_plans(session, principal),
        "themes": _themes(session, principal),
        "programmes": programmes,
        "date_hint": DATE_HINT,
    }


def _check_item_form(
    session: Session, principal: Principal, form: ItemForm, choices: dict[str, Any]
) -> tuple[dict[str, Any], Station | None, dict[str, str]]:
    """The service's arguments from the form, or each field's problem in words."""
    errors: dict[str, str] = {}
    station, problem = owner_station(choices["stations"], form.station, national=False)
    if problem:
        errors["station"] = problem
    errors.update(form.word_errors())
    if len(form.programme) > 200:
        errors["programme"] = "Tên chuyên mục dài quá 200 ký tự."
    if form.language not in LANGUAGES:
        errors["language"] = "Hãy chọn ngôn ngữ trong danh sách."
    if form.priority not in PRIORITY_NAMES:
        errors["priority"] = "Hãy chọn mức ưu tiên trong danh sách."
    numbers: dict[str, int | None] = {}
    for name, label in (("plan", "kế hoạch"), ("theme", "chủ đề"), ("translates", "nội dung")):
        try:
            numbers[name] = optional_id(getattr(form, name))
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
            days[name] = optional_day(getattr(form, name))
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
    return {**asdict(draft), "estimate": duration_text(draft.estimated_seconds)}


@router.get("/items/new")
def new_item_form(
    request: Request,
    principal: Annotated[Principal, writer("Không soạn được nội dung")],
    session: SessionDep,
    plan: str = "",
) -> Response:
    """The form for a new content item, optionally under a plan."""
    choices = _item_choices(session, principal)
    form = ItemForm(
        station=default_station(session, principal, listed=choices["stations"]),
        plan=plan if plan.isdigit() else "",
    )
    return render(request, "item_new.html", principal, form=form, errors={}, **choices)


@router.post("/items/new", dependencies=[Depends(check_csrf)])
def new_item(
    request: Request,
    principal: Annotated[Principal, writer("Không soạn được nội dung")],
    session: SessionDep,
    form: Annotated[ItemForm, Form()],
) -> Response:
    """Preview what the voice will say, or save the draft with its first version."""
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
        if form.action == "preview":
            draft = draft_words(
                session,
                station=station_facts(owner),
                programme=arguments["programme"],
                title=" ".join(form.title.split()),
                body=form.body.strip(),
                language=form.language,
                on=arguments["valid_from"] or utcnow().date(),
            )
            return again(200, errors={}, preview=_draft_view(draft))
        item, _, draft = create_content_item(
            session,
            station=station_facts(owner),
            author=principal.name,
            theme_owners=readable_station_ids(session, principal),
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
        latest_estimate=duration_text(latest.estimated_seconds),
        versions=[
            {"version": v, "estimate": duration_text(v.estimated_seconds)}
            for v in reversed(item_versions(session, item_id=item.id))
        ],
        asset=asset,
        asset_duration=duration_text(asset.duration_s) if asset else None,
        listen=listen,
        job=job_view(job) if job else None,
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
    principal: Annotated[Principal, writer("Không mở được nội dung", "/items")],
    session: SessionDep,
    settings: SettingsDep,
    saved: str | None = None,
) -> Response:
    """One item: its words, what the voice will say, its audio, workflow and history."""
    item = readable_item(session, principal, item_id)
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
    principal: Annotated[Principal, writer("Không sửa được nội dung", "/items/{item_id}")],
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[WordsForm, Form()],
) -> Response:
    """Preview new words, or save them as a new version."""
    item, station = _writable(session, principal, item_id)
    edit = {"title": form.title, "body": form.body}
    errors = form.word_errors()
    if errors:
        return _item_page(
            request, principal, session, settings, item, status=422, errors=errors, edit=edit
        )
    try:
        if form.action == "preview":
            draft = draft_words(
                session,
                station=station_facts(station),
                programme=item.programme,
                title=" ".join(form.title.split()),
                body=form.body.strip(),
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
            title=form.title,
            body=form.body,
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


class Step(StrEnum):
    """The editorial steps a button on the item page takes."""

    submit = "submit"
    approve = "approve"
    return_ = "return"
    archive = "archive"
    render = "render"


# Declared after /edit: `{step}` would otherwise take that path too.
@router.post("/items/{item_id:int}/{step}", dependencies=[Depends(check_csrf)])
def item_step(
    item_id: int,
    step: Step,
    request: Request,
    principal: Stepper,
    session: SessionDep,
    settings: SettingsDep,
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Submit, approve, return (with a note), archive or render; a refusal is shown on the
    item page with its reason."""
    item, station = _writable(session, principal, item_id)
    try:
        if step in (Step.approve, Step.return_) and not principal.may(Permission.content_approve):
            raise ForbiddenError("Vai trò của bạn không được duyệt nội dung.")
        if step == Step.submit:
            submit_content_item(session, item=item)
        elif step == Step.approve:
            approve_content_item(
                session, item=item, station=station_facts(station), approver=principal.name
            )
        elif step == Step.return_:
            if not note.strip() and item.status == ContentStatus.submitted:
                raise InvalidError(
                    "Hãy ghi lý do trả lại để người viết biết cần sửa gì.",
                    errors=[{"field": "note"}],
                )
            return_content_item(session, item=item, note=note.strip())
        elif step == Step.archive:
            archive_content_item(session, item=item)
        else:
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
    anchor = "#am-thanh" if step == Step.render else ""
    return RedirectResponse(f"/items/{item.id}?saved={step.value}{anchor}", status_code=303)
