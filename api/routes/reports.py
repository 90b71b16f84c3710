"""Compliance reports: planned against aired for a period and scope, as JSON, CSV or XLSX."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.auth import Allowed, Permission, Principal
from api.compliance_reports import Built, ComplianceQuery, build_report, document, tables
from api.deps import SessionDep
from api.exports import XLSX_MEDIA_TYPE, attachment, file_answer, to_csv, to_xlsx

router = APIRouter(tags=["reports"])

Reader = Annotated[Principal, Depends(Allowed(Permission.reports_read))]


QueryDep = Annotated[ComplianceQuery, Query()]


class TallyOut(BaseModel):
    """Planned units by outcome, and minutes."""

    planned: int
    aired: int
    partial: int
    skipped: int
    failed: int
    missing: int
    purged: int = Field(0, description="units on days whose airing log retention removed")
    planned_minutes: float
    aired_minutes: float
    aired_share: float


class StationTally(TallyOut):
    station: str
    name: str


class MonthTally(TallyOut):
    month: str


class LanguageTally(TallyOut):
    language: str
    name: str


class JudgementOut(BaseModel):
    """One requirement at one station for one week, month or period."""

    requirement_id: int
    plan: str
    requirement: str
    station: str
    bucket: str
    met: bool
    reason: str


class ComplianceOut(BaseModel):
    """Planned against aired, with breakdowns and each plan requirement judged."""

    period: dict[str, str]
    scope: dict[str, Any]
    totals: TallyOut
    by_station: list[StationTally]
    by_month: list[MonthTally]
    by_language: list[LanguageTally]
    requirements: list[JudgementOut]


@router.get(
    "/reports/compliance",
    response_model=ComplianceOut,
    summary="Planned against aired for a period (2026-Q3, 2026-H1, 2026…) and scope",
)
def compliance_report(principal: Reader, session: SessionDep, query: QueryDep) -> dict[str, Any]:
    """Units are entries on clusters; minutes weigh clusters equally."""
    return document(build_report(session, principal=principal, query=query))


def _filename(built: Built, suffix: str) -> str:
    stamp = f"{built.report.period.first:%Y%m%d}-{built.report.period.last:%Y%m%d}"
    return f"bao-cao-{built.root.code}-{stamp}.{suffix}"


@router.get(
    "/reports/compliance.csv",
    summary="The compliance report as CSV (one table; `table=` chooses which)",
    **file_answer("text/csv"),
)
def compliance_csv(
    principal: Reader,
    session: SessionDep,
    table: Annotated[str, Query(pattern="^(stations|months|languages|requirements)$")] = "stations",
    *,
    query: QueryDep,  # after `table`: the document lists `table` first, as it always has
) -> Response:
    """RFC 4180, UTF-8 with BOM; text that looks like a formula stays text."""
    built = build_report(session, principal=principal, query=query)
    index = ("stations", "months", "languages", "requirements").index(table)
    _, header, rows = tables(built)[index]
    return attachment(to_csv(header, rows), "text/csv; charset=utf-8", _filename(built, "csv"))


@router.get(
    "/reports/compliance.xlsx",
    summary="The compliance report as an Excel workbook, one sheet per table",
    **file_answer(XLSX_MEDIA_TYPE),
)
def compliance_xlsx(principal: Reader, session: SessionDep, query: QueryDep) -> Response:
    """Stations, months, languages and requirements, each on its own sheet."""
    built = build_report(session, principal=principal, query=query)
    return attachment(to_xlsx(tables(built)), XLSX_MEDIA_TYPE, _filename(built, "xlsx"))
