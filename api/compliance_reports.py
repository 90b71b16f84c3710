"""Compliance reports as people and files read them: built within the caller's scope,
named in Vietnamese, laid out as tables for CSV and XLSX.

The REST routes and the report pages both build reports here; the counting is
`scheduler.compliance`.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from api.auth import Principal, require_reach
from api.exports import Table
from content.languages import LANGUAGES
from content.models import Plan, Theme
from core.errors import InvalidError, NotFoundError
from scheduler.compliance import ComplianceReport, Scope, Tally, compliance, parse_period
from scheduler.merges import report_station_ids
from scheduler.models import Booking, Station
from scheduler.service import get_station

TALLY_HEADER = (
    "Lượt phát theo kế hoạch",
    "Đã phát",
    "Phát một phần",
    "Không phát",
    "Phát lỗi",
    "Chưa có báo cáo",
    "Số phút theo kế hoạch",
    "Số phút đã phát",
    "Tỷ lệ đã phát (%)",
)


class ComplianceQuery(BaseModel):
    """What a compliance report covers (the API reads it from the query string)."""

    period: str = Field(max_length=40, description="2026, 2026-H1, 2026-Q3, 2026-07")
    station: str | None = Field(None, max_length=64, description="station subtree")
    plan: int | None = None
    theme: int | None = None
    language: str | None = Field(None, max_length=3)
    booking: int | None = None
    item: int | None = None


@dataclass
class Built:
    """A computed report and the names people read next to its codes."""

    report: ComplianceReport
    root: Station
    names: dict[str, str]
    query: ComplianceQuery


def build_report(session: Session, *, principal: Principal, query: ComplianceQuery) -> Built:
    """Check the scope against the caller's, then compute the report."""
    period = parse_period(query.period)
    if query.station is None:
        if principal.station_id is None:
            raise InvalidError(
                "Hãy chọn đài (tham số station).", errors=[{"field": "station", "msg": "bắt buộc"}]
            )
        root = session.get(Station, principal.station_id)
    else:
        root = get_station(session, code=query.station)
    require_reach(session, principal, root)
    if query.language is not None and query.language not in LANGUAGES:
        raise InvalidError(
            f"Mã ngôn ngữ {query.language!r} không có trong danh mục.",
            errors=[{"field": "language"}],
        )
    for model, value, label in (
        (Plan, query.plan, "kế hoạch"),
        (Theme, query.theme, "chủ đề"),
        (Booking, query.booking, "lịch đặt"),
    ):
        if value is not None and session.get(model, value) is None:
            raise NotFoundError(f"Không có {label} số {value}.")
    ids = frozenset(report_station_ids(session, root_id=root.id))
    scope = Scope(
        station_ids=ids,
        plan_id=query.plan,
        theme_id=query.theme,
        language=query.language,
        booking_id=query.booking,
        item_id=query.item,
    )
    report = compliance(session, scope=scope, period=period)
    names = dict(session.exec(select(Station.code, Station.name).where(Station.id.in_(ids))).all())
    return Built(report=report, root=root, names=names, query=query)


def document(built: Built) -> dict[str, Any]:
    """The report as the API returns it."""
    report = built.report
    return {
        "period": {
            "label": report.period.label,
            "first": report.period.first.isoformat(),
            "last": report.period.last.isoformat(),
        },
        "scope": {
            **built.query.model_dump(exclude={"period"}),
            "station": built.root.code,
        },
        "totals": report.totals.as_dict(),
        "by_station": [
            {"station": code, "name": built.names.get(code, code), **tally.as_dict()}
            for code, tally in report.by_station.items()
        ],
        "by_month": [{"month": month, **t.as_dict()} for month, t in report.by_month.items()],
        "by_language": [
            {"language": code, "name": LANGUAGES.get(code, "không rõ"), **t.as_dict()}
            for code, t in report.by_language.items()
        ],
        "requirements": [vars(j) for j in report.judgements],
    }


def _tally_row(tally: Tally) -> list[Any]:
    data = tally.as_dict()
    return [
        data["planned"],
        data["aired"],
        data["partial"],
        data["skipped"],
        data["failed"],
        data["missing"],
        data["planned_minutes"],
        data["aired_minutes"],
        round(data["aired_share"] * 100, 1),
    ]


def tables(built: Built) -> list[Table]:
    """The report's tables, with Vietnamese headings, in the order people read them."""
    report = built.report

    def stations() -> Iterator[Sequence[Any]]:
        for code, tally in report.by_station.items():
            yield [code, built.names.get(code, code), *_tally_row(tally)]
        yield ["", "Tổng cộng", *_tally_row(report.totals)]

    def months() -> Iterator[Sequence[Any]]:
        for month, tally in report.by_month.items():
            yield [f"{month[5:]}/{month[:4]}", *_tally_row(tally)]

    def languages() -> Iterator[Sequence[Any]]:
        for code, tally in report.by_language.items():
            yield [code, LANGUAGES.get(code, "không rõ"), *_tally_row(tally)]

    def requirements() -> Iterator[Sequence[Any]]:
        for j in report.judgements:
            yield [
                j.plan,
                j.requirement,
                j.station,
                j.bucket,
                "Đạt" if j.met else "Chưa đạt",
                j.reason,
            ]

    return [
        ("Theo đài", ("Mã đài", "Tên đài", *TALLY_HEADER), stations()),
        ("Theo tháng", ("Tháng", *TALLY_HEADER), months()),
        ("Theo ngôn ngữ", ("Mã ngôn ngữ", "Ngôn ngữ", *TALLY_HEADER), languages()),
        (
            "Yêu cầu kế hoạch",
            ("Kế hoạch", "Yêu cầu", "Đài", "Kỳ", "Kết quả", "Lý do"),
            requirements(),
        ),
    ]
