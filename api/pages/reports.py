"""The auditor's pages: planned against aired as a printable report, and the airing log.

Both read the same figures the REST API gives, behind the web session instead of a
bearer token, so the report's CSV and XLSX downloads have cookie-opened routes here.
"""

from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from api.access import readable_station_ids, stations_in_scope
from api.auth import Permission, Principal, visible_station_ids
from api.charts import bar_chart, number
from api.compliance_reports import Built, ComplianceQuery, build_report, document, tables
from api.deps import SessionDep, SettingsDep
from api.exports import XLSX_MEDIA_TYPE, attachment, to_csv, to_xlsx
from api.pages.formats import AIRING_NAMES
from api.pages.forms import default_station, optional_day, optional_id
from api.web import Page, render, templates
from content.languages import LANGUAGES
from content.models import Plan, Theme
from content.service import readable_themes
from core.clock import local_today
from core.errors import ForbiddenError, InvalidError, ProblemError
from scheduler.airings import ChainCheck, verify_chain
from scheduler.compliance import parse_period
from scheduler.merges import report_station_ids
from scheduler.models import AiringRecord, AiringStatus, Station
from scheduler.service import CODE_PATTERN, ancestor_ids

router = APIRouter(include_in_schema=False)
templates.env.filters.setdefault("vn_number", number)

OUTCOME_NAMES = {
    **{status: name.capitalize() for status, name in AIRING_NAMES.items()},
    "missing": "Chưa có báo cáo",
}
SOURCE_NAMES = {"device": "thiết bị", "operator": "cán bộ"}
NO_LANGUAGE = "Không ghi ngôn ngữ"
CSV_TABLES = {
    "stations": "theo đài",
    "months": "theo tháng",
    "languages": "theo ngôn ngữ",
    "requirements": "yêu cầu kế hoạch",
}
PAGE_SIZE = 50
VERIFY_CAP = 5  # chains checked per page view: each check reads a station's whole log
FIELD_LIMIT = 64


REPORT_REFUSAL = "Vai trò của bạn không được xem báo cáo kết quả phát thanh."
Reporter = Annotated[
    Principal,
    Depends(
        Page(
            Permission.reports_read,
            heading="Không lập được báo cáo",
            back="/reports/compliance",
            refusal=REPORT_REFUSAL,
        )
    ),
]
Downloader = Annotated[
    Principal,
    Depends(
        Page(
            Permission.reports_read,
            heading="Không tải được báo cáo",
            back="/reports/compliance",
            refusal=REPORT_REFUSAL,
        )
    ),
]
LogReader = Annotated[
    Principal,
    Depends(
        Page(
            Permission.playlists_read,
            heading="Không mở được nhật ký phát",
            back="/airings",
            refusal="Vai trò của bạn không được xem nhật ký phát.",
        )
    ),
]


def _chosen_station(
    session: Session, principal: Principal, code: str, stations: list[Station]
) -> tuple[Station | None, str | None]:
    """The station named in a form, or why it cannot be used; out of scope is refused."""
    if not code:
        return None, "Hãy chọn đài."
    for station in stations:
        if station.code == code:
            return station, None
    if len(code) > FIELD_LIMIT or not CODE_PATTERN.match(code):
        return None, "Mã đài không hợp lệ."
    known = session.exec(select(Station).where(Station.code == code)).first()
    if known is None:
        return None, f"Không có đài mã {code}."
    raise ForbiddenError(f"Đài {code} nằm ngoài phạm vi được giao.")


# ----------------------------------------------------------------- compliance report


@dataclass
class ReportForm:
    """What the report form sent, as typed."""

    station: str = ""
    period: str = ""
    plan: str = ""
    language: str = ""
    theme: str = ""

    def query_string(self) -> str:
        """The same choice as URL parameters, for the download links."""
        return urlencode({k: v for k, v in asdict(self).items() if v})


def _plans(session: Session, principal: Principal) -> list[Plan]:
    # Plans issued anywhere above or below the caller's station, and national ones.
    query = select(Plan).order_by(col(Plan.year).desc(), Plan.number, Plan.id)
    if principal.station_id is not None:
        ids = set(ancestor_ids(session, station_id=principal.station_id))
        ids |= visible_station_ids(session, principal) or set()
        query = query.where(col(Plan.station_id).is_(None) | col(Plan.station_id).in_(ids))
    return list(session.exec(query))


def _check_form(
    session: Session, principal: Principal, form: ReportForm, stations: list[Station]
) -> tuple[ComplianceQuery | None, dict[str, str]]:
    """The report's query, or each field's problem in words."""
    errors: dict[str, str] = {}
    _, problem = _chosen_station(session, principal, form.station, stations)
    if problem:
        errors["station"] = problem
    if not form.period.strip():
        errors["period"] = "Hãy ghi kỳ báo cáo, ví dụ 2026-Q3."
    elif len(form.period) > 40:
        errors["period"] = "Kỳ báo cáo quá dài."
    else:
        try:
            parse_period(form.period)
        except ProblemError as exc:
            errors["period"] = exc.detail
    numbers: dict[str, int | None] = {}
    for name, model, label in (("plan", Plan, "kế hoạch"), ("theme", Theme, "chủ đề")):
        try:
            numbers[name] = optional_id(getattr(form, name))
        except ValueError:
            errors[name] = f"Hãy chọn {label} trong danh sách."
            continue
        if numbers[name] is not None and session.get(model, numbers[name]) is None:
            errors[name] = f"Không có {label} số {numbers[name]}."
    if form.language and form.language not in LANGUAGES:
        errors["language"] = "Hãy chọn ngôn ngữ trong danh sách."
    if errors:
        return None, errors
    return ComplianceQuery(
        period=form.period.strip(),
        station=form.station,
        plan=numbers["plan"],
        theme=numbers["theme"],
        language=form.language or None,
    ), {}


def _tally_view(tally: dict[str, Any]) -> dict[str, Any]:
    return {**tally, "share_text": f"{number(round(tally['aired_share'] * 100, 1))}%"}


def _language_name(code: str) -> str:
    return NO_LANGUAGE if code == "—" else LANGUAGES.get(code, "không rõ")


def _requirements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    grouped: dict[int, dict[str, Any]] = {}
    for judgement in doc["requirements"]:
        group = grouped.setdefault(
            judgement["requirement_id"],
            {
                "plan": judgement["plan"],
                "requirement": judgement["requirement"],
                "rows": [],
            },
        )
        group["rows"].append(judgement)
    for group in grouped.values():
        group["met"] = sum(1 for row in group["rows"] if row["met"])
    return list(grouped.values())


def _report_view(session: Session, built: Built) -> dict[str, Any]:
    doc = document(built)
    months = [
        {**_tally_view(row), "label": f"Tháng {row['month'][5:]}/{row['month'][:4]}"}
        for row in doc["by_month"]
    ]
    stations = [
        {**_tally_view(row), "label": f"{row['name']} ({row['station']})"}
        for row in doc["by_station"]
    ]
    languages = [
        {**_tally_view(row), "label": _language_name(row["language"])} for row in doc["by_language"]
    ]
    query = built.query
    narrowing = []
    if query.plan is not None:
        plan = session.get(Plan, query.plan)
        narrowing.append(f"kế hoạch {plan.number or plan.title}" if plan else "")
    if query.theme is not None:
        theme = session.get(Theme, query.theme)
        narrowing.append(f"chủ đề {theme.name}" if theme else "")
    if query.language is not None:
        narrowing.append(LANGUAGES[query.language].lower())
    period = built.report.period

    def chart(title: str, rows: list[dict[str, Any]]) -> Any:
        return bar_chart(title=title, bars=[(r["label"], r["planned"], r["aired"]) for r in rows])

    return {
        "doc": doc,
        "root": built.root,
        "totals": _tally_view(doc["totals"]),
        "period_text": f"từ {period.first:%d/%m/%Y} đến {period.last:%d/%m/%Y}"
        if ".." in query.period
        else f"{period.label} (từ {period.first:%d/%m/%Y} đến {period.last:%d/%m/%Y})",
        "narrowing": [n for n in narrowing if n],
        "made_on": f"{local_today(built.root.timezone):%d/%m/%Y}",
        "breakdowns": [
            {
                "id": "theo-thang",
                "heading": "Theo tháng",
                "column": "Tháng",
                "rows": months,
                "chart": chart("Lượt phát theo kế hoạch và đã phát, theo tháng", months),
            },
            {
                "id": "theo-dai",
                "heading": "Theo đài (xã, phường)",
                "column": "Đài",
                "rows": stations,
                "chart": chart("Lượt phát theo kế hoạch và đã phát, theo đài", stations),
            },
            {
                "id": "theo-ngon-ngu",
                "heading": "Theo ngôn ngữ",
                "column": "Ngôn ngữ",
                "rows": languages,
                "chart": chart("Lượt phát theo kế hoạch và đã phát, theo ngôn ngữ", languages),
            },
        ],
        "requirements": _requirements(doc),
    }


def _report_form(request: Request) -> ReportForm:
    params = request.query_params
    form = ReportForm(**{name: params.get(name, "").strip() for name in ReportForm().__dict__})
    # A period typed in the "other" field wins over the one picked from the list.
    typed = params.get("period_other", "").strip()[:FIELD_LIMIT]
    return replace(form, period=typed) if typed else form


ROMAN = ("I", "II", "III", "IV")


def period_choices(today: date) -> list[tuple[str, str]]:
    """The periods an auditor picks from, newest first: this year's and last year's
    quarters, halves, years and months, named in Vietnamese ("Quý IV/2026")."""
    choices: list[tuple[str, str]] = []
    for year in (today.year, today.year - 1):
        last_month = today.month if year == today.year else 12
        quarters = (last_month - 1) // 3 + 1
        choices += [(f"{year}-Q{q}", f"Quý {ROMAN[q - 1]}/{year}") for q in range(quarters, 0, -1)]
        if year < today.year or today.month > 6:
            choices.append((f"{year}-H2", f"6 tháng cuối năm {year}"))
        choices.append((f"{year}-H1", f"6 tháng đầu năm {year}"))
        choices.append((str(year), f"Năm {year}"))
        choices += [(f"{year}-{m:02d}", f"Tháng {m:02d}/{year}") for m in range(last_month, 0, -1)]
    return choices


@router.get("/reports/compliance")
def compliance_page(
    request: Request, principal: Reporter, session: SessionDep, settings: SettingsDep
) -> Response:
    """The report form and, once asked, planned against aired with charts and verdicts."""
    stations = stations_in_scope(session, principal)
    form = _report_form(request)
    asked = "period" in request.query_params
    if not asked:
        today = local_today(settings.timezone)
        form = ReportForm(
            station=form.station or default_station(session, principal, listed=stations),
            period=f"{today.year}-Q{(today.month - 1) // 3 + 1}",
        )
    context: dict[str, Any] = {
        "form": form,
        "errors": {},
        "periods": period_choices(local_today(settings.timezone)),
        "stations": stations,
        "plans": _plans(session, principal),
        "themes": readable_themes(
            session, owner_ids=readable_station_ids(session, principal), by_name=True
        ),
        "languages": LANGUAGES,
        "outcome_names": OUTCOME_NAMES,
        "csv_tables": CSV_TABLES,
        "query_string": form.query_string(),
        "author": principal.name,
    }
    if not asked:
        return render(request, "report.html", principal, **context)
    try:
        query, errors = _check_form(session, principal, form, stations)
        if query is None:
            context["errors"] = errors
            return render(request, "report.html", principal, status=422, **context)
        built = build_report(session, principal=principal, query=query)
    except ForbiddenError:
        raise  # out of scope: the message page, not the form
    except ProblemError as exc:
        field = next((e.get("field") for e in exc.errors if e.get("field")), None)
        context["errors"] = {field or "form": exc.detail}
        return render(request, "report.html", principal, status=exc.status, **context)
    return render(request, "report.html", principal, **context, **_report_view(session, built))


def _download(request: Request, principal: Principal, session: Session) -> Built:
    form = _report_form(request)
    query, errors = _check_form(session, principal, form, stations_in_scope(session, principal))
    if query is None:
        raise InvalidError(" ".join(errors.values()))
    return build_report(session, principal=principal, query=query)


def _filename(built: Built, suffix: str) -> str:
    period = built.report.period
    return f"bao-cao-{built.root.code}-{period.first:%Y%m%d}-{period.last:%Y%m%d}.{suffix}"


@router.get("/reports/compliance.csv")
def compliance_csv(request: Request, principal: Downloader, session: SessionDep) -> Response:
    """One table of the report as CSV (`table=` stations, months, languages, requirements)."""
    built = _download(request, principal, session)
    table = request.query_params.get("table", "stations")
    if table not in CSV_TABLES:
        table = "stations"
    _, header, rows = tables(built)[list(CSV_TABLES).index(table)]
    name = _filename(built, "csv").replace(".csv", f"-{table}.csv")
    return attachment(to_csv(header, rows), "text/csv; charset=utf-8", name)


@router.get("/reports/compliance.xlsx")
def compliance_xlsx(request: Request, principal: Downloader, session: SessionDep) -> Response:
    """The whole report as an Excel workbook, one sheet per table."""
    built = _download(request, principal, session)
    return attachment(to_xlsx(tables(built)), XLSX_MEDIA_TYPE, _filename(built, "xlsx"))


# ----------------------------------------------------------------- airing log


@dataclass
class LogForm:
    """The airing log's filters, as typed."""

    station: str = ""
    subtree: str = ""
    day_from: str = ""
    day_to: str = ""
    status: str = ""
    language: str = ""
    item: str = ""
    cluster: str = ""

    def params(self, **extra: Any) -> str:
        """The filters as URL parameters, with `extra` added."""
        names = {"day_from": "from", "day_to": "to"}
        pairs = {names.get(k, k): v for k, v in asdict(self).items() if v}
        return urlencode({**pairs, **{k: v for k, v in extra.items() if v}})


def _log_filters(form: LogForm, after_text: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Parsed filters, or each field's problem in words."""
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    for name in ("day_from", "day_to"):
        try:
            parsed[name] = optional_day(getattr(form, name))
        except ValueError:
            errors[name] = "Ngày ghi theo dạng dd/mm/yyyy, ví dụ 01/07/2026."
    if parsed.get("day_from") and parsed.get("day_to") and parsed["day_to"] < parsed["day_from"]:
        errors["day_to"] = "Ngày kết thúc phải sau ngày bắt đầu."
    if form.status and form.status not in {s.value for s in AiringStatus}:
        errors["status"] = "Hãy chọn tình trạng trong danh sách."
    if form.language and form.language not in LANGUAGES:
        errors["language"] = "Hãy chọn ngôn ngữ trong danh sách."
    try:
        parsed["item"] = optional_id(form.item)
    except ValueError:
        errors["item"] = "Mã nội dung là một số, ví dụ 40."
    if form.cluster and (len(form.cluster) > FIELD_LIMIT or not CODE_PATTERN.match(form.cluster)):
        errors["cluster"] = "Mã cụm loa gồm chữ in hoa không dấu, số, '-' và '_'."
    try:
        parsed["after"] = optional_id(after_text) or 0
    except ValueError:
        errors["after"] = "Trang không hợp lệ; hãy mở lại từ trang đầu."
    return parsed, errors


def _local(moment: datetime | None, zone: ZoneInfo, day: date | None = None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(zone)
    return f"{local:%H:%M}" if local.date() == day else f"{local:%H:%M %d/%m/%Y}"


def _log_rows(session: Session, records: list[AiringRecord]) -> list[dict[str, Any]]:
    station_ids = {r.station_id for r in records}
    stations = {
        s.id: s for s in session.exec(select(Station).where(col(Station.id).in_(station_ids)))
    }
    # What each correction corrects, by its number in the chain, and which rows were corrected.
    corrected_ids = {r.corrects for r in records if r.corrects}
    corrected_seq = {
        (station_id, client_id): seq
        for station_id, client_id, seq in session.exec(
            select(AiringRecord.station_id, AiringRecord.client_id, AiringRecord.seq).where(
                col(AiringRecord.station_id).in_(station_ids),
                col(AiringRecord.client_id).in_(corrected_ids),
            )
        )
    }
    corrected_by = {
        (station_id, corrects): seq
        for station_id, corrects, seq in session.exec(
            select(AiringRecord.station_id, AiringRecord.corrects, AiringRecord.seq).where(
                col(AiringRecord.station_id).in_(station_ids),
                col(AiringRecord.corrects).in_({r.client_id for r in records}),
            )
        )
    }
    out = []
    for record in records:
        station = stations[record.station_id]
        zone = ZoneInfo(station.timezone)
        out.append(
            {
                "record": record,
                "station": station,
                "day_text": f"{record.day:%d/%m/%Y}",
                "scheduled_text": f"{_local(record.scheduled_start, zone, record.day)}–"
                f"{_local(record.scheduled_end, zone, record.day)}",
                "actual_text": f"{_local(record.started_at, zone, record.day)}–"
                f"{_local(record.ended_at, zone, record.day)}"
                if record.started_at or record.ended_at
                else "—",
                "received_text": f"{record.received_at.astimezone(zone):%d/%m/%Y %H:%M}",
                "status_text": OUTCOME_NAMES[record.status],
                "source_text": SOURCE_NAMES.get(record.source, record.source),
                "language_text": LANGUAGES.get(record.language or "", ""),
                "corrects_seq": corrected_seq.get((record.station_id, record.corrects)),
                "corrected_by": corrected_by.get((record.station_id, record.client_id)),
                "entry_link": f"/stations/{station.code}/day/{record.day.isoformat()}"
                f"#{record.entry_id}",
            }
        )
    return out


def _chains(
    session: Session, root: Station, tree: list[Station], rows: list[dict[str, Any]], key: str
) -> tuple[list[ChainCheck], int]:
    """Chain checks of the stations on the page first, then the rest, at most VERIFY_CAP."""
    order: dict[int, Station] = {root.id: root} if len(tree) == 1 else {}
    for row in rows:
        order.setdefault(row["station"].id, row["station"])
    for station in sorted(tree, key=lambda s: s.code):
        order.setdefault(station.id, station)
    chosen = list(order.values())[:VERIFY_CAP]
    return [verify_chain(session, station=s, key=key) for s in chosen], len(tree)


@router.get("/airings")
def airing_log(
    request: Request, principal: LogReader, session: SessionDep, settings: SettingsDep
) -> Response:
    """The airing log of a station or a subtree, filtered, a page at a time, chain checked."""
    params = request.query_params
    stations = stations_in_scope(session, principal)
    form = LogForm(
        station=params.get("station", "").strip()
        or default_station(session, principal, listed=stations),
        subtree="1" if params.get("subtree") else "",
        day_from=params.get("from", "").strip(),
        day_to=params.get("to", "").strip(),
        status=params.get("status", "").strip(),
        language=params.get("language", "").strip(),
        item=params.get("item", "").strip(),
        cluster=params.get("cluster", "").strip(),
    )
    context: dict[str, Any] = {
        "form": form,
        "stations": stations,
        "languages": LANGUAGES,
        "status_names": {k: v for k, v in OUTCOME_NAMES.items() if k != "missing"},
        "page_size": PAGE_SIZE,
        "verify_cap": VERIFY_CAP,
    }
    station, problem = _chosen_station(session, principal, form.station, stations)
    filters, errors = _log_filters(form, params.get("after", ""))
    if problem:
        errors["station"] = problem
    if errors or station is None:
        return render(request, "airings.html", principal, status=422, errors=errors, **context)
    assert station.id is not None
    if form.subtree:
        # Stations merged into the tree keep their logs: the browser shows them with it.
        ids = report_station_ids(session, root_id=station.id)
        key = col(AiringRecord.id)
    else:
        ids = {station.id}
        key = col(AiringRecord.seq)
    query = select(AiringRecord).where(
        col(AiringRecord.station_id).in_(ids), key > filters["after"]
    )
    if filters["day_from"]:
        query = query.where(AiringRecord.day >= filters["day_from"])
    if filters["day_to"]:
        query = query.where(AiringRecord.day <= filters["day_to"])
    if form.status:
        query = query.where(AiringRecord.status == AiringStatus(form.status))
    if form.language:
        query = query.where(AiringRecord.language == form.language)
    if filters["item"] is not None:
        query = query.where(AiringRecord.content_item_id == filters["item"])
    if form.cluster:
        query = query.where(AiringRecord.cluster == form.cluster)
    records = list(session.exec(query.order_by(key).limit(PAGE_SIZE + 1)))
    more = len(records) > PAGE_SIZE
    records = records[:PAGE_SIZE]
    rows = _log_rows(session, records)
    tree = [s for s in stations if s.id in ids] if form.subtree else [station]
    checks, tree_size = _chains(session, station, tree, rows, settings.signing_key)
    names = {s.code: s.name for s in tree}
    last = (records[-1].id if form.subtree else records[-1].seq) if records else None
    return render(
        request,
        "airings.html",
        principal,
        errors={},
        **context,
        station=station,
        rows=rows,
        checks=[{"check": c, "name": names.get(c.station, c.station)} for c in checks],
        tree_size=tree_size,
        first_page=filters["after"] == 0,
        next_link=f"/airings?{form.params(after=last)}" if more else None,
        first_link=f"/airings?{form.params()}",
    )
