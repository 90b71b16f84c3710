"""The paging of list routes: which rows, from where, how many."""

from typing import Annotated, Any, NamedTuple

from fastapi import Depends, Query

from api.limits import AfterId, PageLimit


class Page(NamedTuple):
    """Which rows of a list: those after this id, at most `limit` of them."""

    after: int
    limit: int


async def get_page(after: AfterId = 0, limit: PageLimit = 200) -> Page:
    """The page of a list the caller asked for."""
    return Page(after, limit)


Paging = Annotated[Page, Depends(get_page)]


def described_page(after_text: str, limit: int = 200) -> Any:
    """The dependency of a list whose `after` means something else than a row id (a
    version number, the last event seen) or whose page is longer by default."""
    default_limit = limit

    async def get_described_page(
        after: Annotated[int, Query(ge=0, description=after_text)] = 0,
        limit: PageLimit = default_limit,
    ) -> Page:
        return Page(after, limit)

    return Depends(get_described_page)
