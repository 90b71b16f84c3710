"""Plans, themes, content items and the editorial workflow."""

import hashlib
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, true
from sqlmodel import Session, col, or_, select

from content.importer import NotAPlanError, parse_plan
from content.languages import check_language
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
from content.reading import estimate_seconds, read_aloud
from content.scripts import ScriptContext, check_template, render_script
from core.clock import utcnow
from core.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError


@dataclass(frozen=True)
class StationFacts:
    """What content needs to know about the station that owns it."""

    id: int
    code: str
    name: str
    lexicon: dict[str, str] = field(default_factory=dict)
    two_person_approval: bool = True


@dataclass(frozen=True)
class Draft:
    """The words of a new version and how long they will take to say."""

    script: str
    reading: str
    estimated_seconds: float
    warnings: list[str]


# Themes


def _shared_or_owned(owner_ids: set[int] | None) -> ColumnElement[bool]:
    if owner_ids is None:
        return true()
    return or_(col(Theme.station_id).is_(None), col(Theme.station_id).in_(owner_ids))


def readable_themes(
    session: Session,
    *,
    owner_ids: set[int] | None,
    after: int = 0,
    limit: int | None = None,
    by_name: bool = False,
) -> list[Theme]:
    """Return the shared themes and those owned by `owner_ids` (None: every theme), by id
    or by name."""
    query = select(Theme).where(Theme.id > after, _shared_or_owned(owner_ids))
    query = query.order_by(col(Theme.name) if by_name else col(Theme.id))
    return list(session.exec(query.limit(limit)))


def get_theme(session: Session, *, theme_id: int, owner_ids: set[int] | None = None) -> Theme:
    """Return a theme shared or owned by one of `owner_ids` (None: any), or raise
    InvalidError: a theme is always chosen from the list."""
    query = select(Theme).where(Theme.id == theme_id, _shared_or_owned(owner_ids))
    theme = session.exec(query).first()
    if theme is None:
        raise InvalidError(
            f"Không có chủ đề số {theme_id}.",
            errors=[{"field": "theme_id", "msg": "chủ đề không tồn tại", "value": theme_id}],
        )
    return theme


def save_theme(
    session: Session,
    *,
    name: str,
    parent_id: int | None = None,
    station_id: int | None = None,
    theme: Theme | None = None,
    owner_ids: set[int] | None = None,
) -> Theme:
    """Create a theme owned by a station (none: shared), or rename and move one.

    A name is unique among its owner's themes and the shared ones; the parent is a
    theme the editor can see (`owner_ids`), and a shared theme's parent is shared.
    """
    name = " ".join(name.split())
    if not name:
        raise InvalidError("Tên chủ đề không được để trống.", errors=[{"field": "name"}])
    owner = theme.station_id if theme is not None else station_id
    clash = select(Theme).where(Theme.name == name)
    if owner is not None:
        clash = clash.where(_shared_or_owned({owner}))
    if any(found is not theme for found in session.exec(clash)):
        raise ConflictError(f"Đã có chủ đề {name!r}.")
    if parent_id is not None:
        parents = owner_ids if owner is not None else set()
        get_theme(session, theme_id=parent_id, owner_ids=parents)
        if theme is not None and parent_id == theme.id:
            raise InvalidError("Chủ đề không thể là cha của chính nó.")
    theme = theme or Theme(name=name, station_id=station_id)
    theme.name, theme.parent_id = name, parent_id
    session.add(theme)
    session.flush()
    return theme


# Plans


def import_plan(
    session: Session, *, text: str, station_id: int | None, author: str
) -> tuple[Plan, list[PlanRequirement]]:
    """Parse a plan document and store it as a draft plan with its requirements."""
    try:
        parsed = parse_plan(text)
    except NotAPlanError as exc:
        raise InvalidError(str(exc), title="Không phải kế hoạch") from None
    plan = Plan(
        number=parsed.number,
        title=parsed.title,
        issuer=parsed.issuer,
        level=parsed.level,
        issued_on=parsed.date,
        year=parsed.year,
        legal_basis=parsed.legal_basis,
        topics=[theme.title for theme in parsed.themes],
        source_text=text,
        station_id=station_id,
        created_by=author,
    )
    session.add(plan)
    session.flush()
    requirements = [
        PlanRequirement(
            plan_id=plan.id,
            channel=r.channel,
            cadence=r.cadence,
            minutes_min=r.minutes_min,
            minutes_max=r.minutes_max,
            languages=r.languages,
            lead_agency=r.lead_agency,
            text=r.text,
        )
        for r in parsed.requirements
    ]
    session.add_all(requirements)
    session.flush()
    return plan, requirements


def get_plan(session: Session, *, plan_id: int) -> Plan:
    """Return a plan, or raise NotFoundError."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFoundError(f"Không có kế hoạch số {plan_id}.")
    return plan


def plan_requirements(session: Session, *, plan_id: int) -> list[PlanRequirement]:
    """Return a plan's requirements in document order."""
    query = select(PlanRequirement).where(PlanRequirement.plan_id == plan_id)
    return list(session.exec(query.order_by(PlanRequirement.id)))


# Scripts and readings


def get_template(
    session: Session, *, station_id: int, programme: str | None
) -> ScriptTemplate | None:
    """Return the station's template for a programme, if it has one."""
    if not programme:
        return None
    return session.exec(
        select(ScriptTemplate).where(
            ScriptTemplate.station_id == station_id, ScriptTemplate.programme == programme
        )
    ).first()


def save_template(
    session: Session,
    *,
    station_id: int,
    programme: str,
    text: str,
    author: str,
    target_min_seconds: int | None = None,
    target_max_seconds: int | None = None,
) -> ScriptTemplate:
    """Create or replace a programme's script template after a trial render of sample words."""
    # A template that cannot render sample words would fail every item of its programme:
    # refuse it now, with the line, rather than at each item. The type check also
    # covers the branches the sample words do not take.
    check_template(text)
    sample = ScriptContext(
        station="Đài truyền thanh mẫu",
        programme=programme,
        title="Tiêu đề mẫu",
        body="Nội dung mẫu của bản tin.",
        date=utcnow().date(),
    )
    render_script(template=text, context=sample)
    if target_min_seconds and target_max_seconds and target_min_seconds > target_max_seconds:
        raise InvalidError(
            "Thời lượng tối thiểu lớn hơn thời lượng tối đa.",
            errors=[{"field": "target_min_seconds", "msg": "lớn hơn tối đa"}],
        )
    template = get_template(session, station_id=station_id, programme=programme)
    template = template or ScriptTemplate(station_id=station_id, programme=programme, text="")
    template.text = text
    template.target_min_seconds = target_min_seconds
    template.target_max_seconds = target_max_seconds
    template.updated_by = author
    template.updated_at = utcnow()
    session.add(template)
    session.flush()
    return template


def _duration_warnings(seconds: float, template: ScriptTemplate | None) -> list[str]:
    if template is None:
        return []
    low, high = template.target_min_seconds, template.target_max_seconds
    minutes = seconds / 60
    if low and seconds < low:
        return [
            f"Ước tính {minutes:.1f} phút, ngắn hơn {low / 60:g} phút của {template.programme}."
        ]
    if high and seconds > high:
        return [
            f"Ước tính {minutes:.1f} phút, dài hơn {high / 60:g} phút của {template.programme}."
        ]
    return []


def draft_words(
    session: Session,
    *,
    station: StationFacts,
    programme: str | None,
    title: str,
    body: str,
    language: str,
    on: date,
) -> Draft:
    """Render the script and the reading of some words, with duration warnings."""
    template = get_template(session, station_id=station.id, programme=programme)
    context = ScriptContext(
        station=station.name,
        programme=programme or "",
        title=title,
        body=body,
        date=on,
        language=language,
    )
    script = render_script(template=template.text if template else None, context=context)
    reading = read_aloud(script, overrides=station.lexicon) if language == "vie" else script
    seconds = estimate_seconds(reading)
    return Draft(script, reading, seconds, _duration_warnings(seconds, template))


# Content items and their versions


def _check_words(title: str, body: str) -> tuple[str, str]:
    errors = []
    if not title.strip():
        errors.append({"field": "title", "msg": "trống"})
    if not body.strip():
        errors.append({"field": "body", "msg": "trống"})
    if errors:
        raise InvalidError("Tiêu đề và nội dung không được để trống.", errors=errors)
    return " ".join(title.split()), body.strip()


def _add_version(
    session: Session,
    *,
    item: ContentItem,
    station: StationFacts,
    title: str,
    body: str,
    author: str,
    number: int,
) -> tuple[ContentVersion, Draft]:
    draft = draft_words(
        session,
        station=station,
        programme=item.programme,
        title=title,
        body=body,
        language=item.language,
        on=item.valid_from or utcnow().date(),
    )
    version = ContentVersion(
        item_id=item.id,
        number=number,
        title=title,
        body=body,
        script=draft.script,
        reading=draft.reading,
        reading_sha256=hashlib.sha256(draft.reading.encode()).hexdigest(),
        estimated_seconds=draft.estimated_seconds,
        author=author,
    )
    session.add(version)
    session.flush()
    return version, draft


def _check_links(
    session: Session,
    *,
    language: str,
    theme_id: int | None,
    theme_owners: set[int] | None,
    plan_id: int | None,
    translates_id: int | None,
    valid_from: date | None,
    valid_until: date | None,
) -> None:
    check_language(language)
    if theme_id is not None:
        get_theme(session, theme_id=theme_id, owner_ids=theme_owners)
    if plan_id is not None and session.get(Plan, plan_id) is None:
        raise InvalidError(f"Không có kế hoạch số {plan_id}.", errors=[{"field": "plan_id"}])
    if translates_id is not None:
        original = session.get(ContentItem, translates_id)
        if original is None or original.language != "vie":
            raise InvalidError(
                "Bản tiếng dân tộc phải dịch một nội dung tiếng Việt có thật.",
                errors=[{"field": "translates_id", "value": translates_id}],
            )
        if language == "vie":
            raise InvalidError(
                "Nội dung tiếng Việt không dịch từ nội dung khác.",
                errors=[{"field": "translates_id"}],
            )
    if valid_from and valid_until and valid_from > valid_until:
        raise InvalidError(
            "Ngày bắt đầu hiệu lực sau ngày hết hiệu lực.", errors=[{"field": "valid_until"}]
        )


def create_content_item(
    session: Session,
    *,
    station: StationFacts,
    title: str,
    body: str,
    author: str,
    language: str = "vie",
    programme: str | None = None,
    theme_id: int | None = None,
    plan_id: int | None = None,
    translates_id: int | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
    priority: Priority = Priority.normal,
    theme_owners: set[int] | None = None,
) -> tuple[ContentItem, ContentVersion, Draft]:
    """Add a draft content item with its first version; its theme is shared or owned by
    one of `theme_owners` (None: any)."""
    title, body = _check_words(title, body)
    _check_links(
        session,
        language=language,
        theme_id=theme_id,
        theme_owners=theme_owners,
        plan_id=plan_id,
        translates_id=translates_id,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    item = ContentItem(
        title=title,
        station_id=station.id,
        plan_id=plan_id,
        theme_id=theme_id,
        programme=programme,
        language=language,
        translates_id=translates_id,
        valid_from=valid_from,
        valid_until=valid_until,
        priority=priority,
        created_by=author,
    )
    session.add(item)
    session.flush()
    version, draft = _add_version(
        session, item=item, station=station, title=title, body=body, author=author, number=1
    )
    return item, version, draft


def get_content_item(session: Session, *, item_id: int) -> ContentItem:
    """Return a content item, or raise NotFoundError."""
    item = session.get(ContentItem, item_id)
    if item is None:
        raise NotFoundError(f"Không có nội dung số {item_id}.")
    return item


def find_content_item(session: Session, *, title: str, language: str) -> ContentItem | None:
    """Return the item with this title in this language, if there is one."""
    return session.exec(
        select(ContentItem).where(ContentItem.title == title, ContentItem.language == language)
    ).first()


def item_versions(session: Session, *, item_id: int) -> list[ContentVersion]:
    """Return every version of an item, oldest first."""
    query = select(ContentVersion).where(ContentVersion.item_id == item_id)
    return list(session.exec(query.order_by(col(ContentVersion.number))))


def get_version(session: Session, *, item: ContentItem, number: int) -> ContentVersion:
    """Return one version of an item."""
    version = session.exec(
        select(ContentVersion).where(
            ContentVersion.item_id == item.id, ContentVersion.number == number
        )
    ).first()
    if version is None:
        raise NotFoundError(f"Nội dung số {item.id} không có phiên bản {number}.")
    return version


def _not_archived(item: ContentItem) -> None:
    if item.status == ContentStatus.archived:
        raise ConflictError(f"Nội dung số {item.id} đã lưu trữ, không sửa hay duyệt được nữa.")


def edit_content_item(
    session: Session,
    *,
    item: ContentItem,
    station: StationFacts,
    author: str,
    title: str | None = None,
    body: str | None = None,
) -> tuple[ContentVersion, Draft]:
    """Save new words as a new version; it needs approval again before it can air."""
    _not_archived(item)
    latest = get_version(session, item=item, number=item.version)
    title, body = _check_words(title or latest.title, body or latest.body)
    version, draft = _add_version(
        session,
        item=item,
        station=station,
        title=title,
        body=body,
        author=author,
        number=item.version + 1,
    )
    item.version = version.number
    item.title = title
    item.status = ContentStatus.draft
    item.updated_at = utcnow()
    session.add(item)
    session.flush()
    return version, draft


def submit_content_item(session: Session, *, item: ContentItem) -> None:
    """Send the newest version for approval."""
    _not_archived(item)
    if item.status != ContentStatus.draft:
        raise ConflictError(
            f"Chỉ gửi duyệt được bản nháp; nội dung đang ở trạng thái {item.status}."
        )
    version = get_version(session, item=item, number=item.version)
    version.submitted_at = utcnow()
    item.status = ContentStatus.submitted
    item.updated_at = utcnow()
    session.add_all([version, item])
    session.flush()


def approve_content_item(
    session: Session, *, item: ContentItem, station: StationFacts, approver: str
) -> ContentVersion:
    """Approve the submitted version so it may air; two people when the station asks for it."""
    _not_archived(item)
    if item.status != ContentStatus.submitted:
        raise ConflictError(f"Chỉ duyệt được nội dung đã gửi duyệt; hiện là {item.status}.")
    version = get_version(session, item=item, number=item.version)
    if station.two_person_approval and version.author == approver:
        raise ForbiddenError(
            f"Đài {station.code} yêu cầu người duyệt khác người viết phiên bản này."
        )
    version.approved_by, version.approved_at = approver, utcnow()
    item.status = ContentStatus.approved
    item.approved_version = version.number
    item.updated_at = utcnow()
    session.add_all([version, item])
    session.flush()
    return version


def return_content_item(session: Session, *, item: ContentItem, note: str) -> None:
    """Send a submitted version back to its author with a note."""
    _not_archived(item)
    if item.status != ContentStatus.submitted:
        raise ConflictError(f"Chỉ trả lại được nội dung đang chờ duyệt; hiện là {item.status}.")
    version = get_version(session, item=item, number=item.version)
    version.note = note
    item.status = ContentStatus.draft
    item.updated_at = utcnow()
    session.add_all([version, item])
    session.flush()


def archive_content_item(session: Session, *, item: ContentItem) -> None:
    """Retire an item: it no longer airs and can no longer be edited."""
    _not_archived(item)
    item.status = ContentStatus.archived
    item.updated_at = utcnow()
    session.add(item)
    session.flush()
