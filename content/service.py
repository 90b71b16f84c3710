"""Content items."""

from sqlmodel import Session, select

from content.languages import check_language
from content.models import ContentItem, ContentStatus
from core.errors import InvalidError


def find_content_item(session: Session, *, title: str, language: str) -> ContentItem | None:
    """Return the item with this title in this language, if there is one."""
    return session.exec(
        select(ContentItem).where(ContentItem.title == title, ContentItem.language == language)
    ).first()


def create_content_item(
    session: Session,
    *,
    title: str,
    body: str,
    station_id: int,
    language: str = "vie",
    programme: str | None = None,
    status: ContentStatus = ContentStatus.draft,
) -> ContentItem:
    """Add a content item."""
    check_language(language)
    if not body.strip():
        raise InvalidError(
            "Nội dung không được để trống.", errors=[{"field": "body", "msg": "trống"}]
        )
    item = ContentItem(
        title=title.strip(),
        body=body,
        station_id=station_id,
        language=language,
        programme=programme,
        status=status,
    )
    session.add(item)
    session.flush()
    return item
