"""The paging of list routes: which rows, from where, how many."""

from typing import Annotated, NamedTuple

from fastapi import Depends

from api.limits import AfterId, PageLimit


class Page(NamedTuple):
    """Which rows of a list: those after this id, at most `limit` of them."""

    after: int
    limit: int


async def get_page(after: AfterId = 0, limit: PageLimit = 200) -> Page:
    """The page of a list the caller asked for."""
    return Page(after, limit)


Paging = Annotated[Page, Depends(get_page)]
