"""Content items."""

from sqlmodel import Session, select

from content.models import ContentItem, ContentStatus


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
    language: str = "vie",
    programme: str | None = None,
    status: ContentStatus = ContentStatus.draft,
) -> ContentItem:
    """Add a content item."""
    item = ContentItem(
        title=title, body=body, language=language, programme=programme, status=status
    )
    session.add(item)
    session.flush()
    return item
