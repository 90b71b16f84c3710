"""Planned against aired: what the plans asked for, what the schedule held, what went out.

The planned side is read from the daily playlists (what devices were given); the aired
side is the airing log, summed per entry in the database. The unit is one entry on one
loudspeaker cluster: an entry for the whole station counts once per cluster. A record
without a cluster speaks for every cluster of its entry that has no record of its own.
The newest record wins: a correction replaces the record it names.
"""

import calendar
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func, text, true, tuple_
from sqlmodel import Session, col, select

from audio.models import Programme
from content.models import ContentItem, Plan, PlanRequirement
from core.errors import InvalidError
from scheduler.airings import seconds_between
from scheduler.merges import cluster_counts
from scheduler.models import (
    AiringRecord,
    AiringStatus,
    AiringTally,
    Booking,
    Station,
)
from scheduler.retention import purge_horizons

MAX_PERIOD_DAYS = 3 * 366  # a report for a hundred years is refused
STATUSES = ("aired", "partial", "skipped", "failed")
CHANNEL_KINDS = {
    "provincial_station": "province",
    "district_station": "district",
    "commune_loudspeaker": "commune",
    "relay": "commune",
}
ETHNIC = "und"  # the importer's marker for "ethnic languages", unnamed


@dataclass(frozen=True)
class Period:
    """A closed range of local dates and how people name it."""

    first: date
    last: date
    label: str


PERIOD = re.compile(
    r"^(?P<year>\d{4})(?:-(?:(?P<half>H[12])|(?P<quarter>Q[1-4])|(?P<month>\d{2})|W(?P<week>\d{2})))?$"
)


def parse_period(text: str) -> Period:
    """2026, 2026-H1, 2026-Q3, 2026-07, 2026-W27 or 2026-07-01..2026-09-30."""
    text = text.strip()
    if ".." in text:
        try:
            first, last = (date.fromisoformat(part) for part in text.split("..", 1))
        except ValueError as exc:
            raise _bad_period(text) from exc
        label = f"{first:%d/%m/%Y}–{last:%d/%m/%Y}"
    else:
        match = PERIOD.match(text)
        if match is None:
            raise _bad_period(text)
        year = int(match["year"])
        if not 2000 <= year <= 2199:
            raise _bad_period(text)
        if match["half"]:
            half = int(match["half"][1])
            first, last = date(year, 6 * half - 5, 1), _month_end(year, 6 * half)
            label = f"6 tháng {'đầu' if half == 1 else 'cuối'} năm {year}"
        elif match["quarter"]:
            quarter = int(match["quarter"][1])
            first, last = date(year, 3 * quarter - 2, 1), _month_end(year, 3 * quarter)
            label = f"Quý {['I', 'II', 'III', 'IV'][quarter - 1]} năm {year}"
        elif match["month"]:
            month = int(match["month"])
            if not 1 <= month <= 12:
                raise _bad_period(text)
            first, last = date(year, month, 1), _month_end(year, month)
            label = f"Tháng {month}/{year}"
        elif match["week"]:
            try:
                first = date.fromisocalendar(year, int(match["week"]), 1)
            except ValueError as exc:
                raise _bad_period(text) from exc
            last = first + timedelta(days=6)
            label = f"Tuần {int(match['week'])}/{year}"
        else:
            first, last, label = date(year, 1, 1), date(year, 12, 31), f"Năm {year}"
    if last < first or (last - first).days >= MAX_PERIOD_DAYS:
        raise InvalidError(
            f"Kỳ báo cáo phải từ một ngày đến {MAX_PERIOD_DAYS // 366} năm.",
            errors=[{"field": "period", "value": text}],
        )
    return Period(first, last, label)


def _bad_period(text: str) -> InvalidError:
    return InvalidError(
        "Kỳ báo cáo viết như 2026, 2026-H1, 2026-Q3, 2026-07, 2026-W27 "
        "hoặc 2026-07-01..2026-09-30.",
        errors=[{"field": "period", "value": text}],
    )


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


@dataclass(slots=True)
class Tally:
    """Counts of planned units by outcome, and minutes planned and aired."""

    planned: int = 0
    aired: int = 0
    partial: int = 0
    skipped: int = 0
    failed: int = 0
    missing: int = 0
    purged: int = 0  # on days whose airing log the retention policy has removed
    planned_minutes: float = 0.0
    aired_minutes: float = 0.0

    def add(self, other: "Tally") -> None:
        """Add another tally into this one."""
        self.planned += other.planned
        self.aired += other.aired
        self.partial += other.partial
        self.skipped += other.skipped
        self.failed += other.failed
        self.missing += other.missing
        self.purged += other.purged
        self.planned_minutes += other.planned_minutes
        self.aired_minutes += other.aired_minutes

    @property
    def aired_share(self) -> float:
        """The share of planned units that aired in full."""
        return self.aired / self.planned if self.planned else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The public shape, minutes rounded to a tenth."""
        return {
            "planned": self.planned,
            "aired": self.aired,
            "partial": self.partial,
            "skipped": self.skipped,
            "failed": self.failed,
            "missing": self.missing,
            "purged": self.purged,
            "planned_minutes": round(self.planned_minutes, 1),
            "aired_minutes": round(self.aired_minutes, 1),
            "aired_share": round(self.aired_share, 4),
        }


@dataclass(slots=True)
class PlannedEntry:
    """One scheduled entry of a playlist, with what it counts for."""

    station_id: int
    day: date
    entry_id: str
    seconds: float
    units: int
    booking_id: int | None
    item_id: int | None
    language: str | None
    plan_ids: frozenset[int]
    theme_ids: frozenset[int]
    # Clusters and seconds reported per status (COUNTED order); None until known.
    counts: tuple[float, ...] | None = None
    tally: Tally = field(default_factory=Tally)


@dataclass(frozen=True)
class Scope:
    """What a report covers besides the period: stations and optional narrowing."""

    station_ids: frozenset[int]
    plan_id: int | None = None
    theme_id: int | None = None
    language: str | None = None
    booking_id: int | None = None
    item_id: int | None = None


@dataclass
class Judgement:
    """Whether one requirement was met at one station in one week, month or period."""

    requirement_id: int
    plan: str
    requirement: str
    station: str
    bucket: str
    met: bool
    reason: str


@dataclass
class ComplianceReport:
    """Totals and breakdowns for a period and scope, and each requirement judged."""

    period: Period
    totals: Tally
    by_station: dict[str, Tally]
    by_month: dict[str, Tally]
    by_language: dict[str, Tally]
    by_day: dict[str, Tally]
    judgements: list[Judgement]
    entries: list[PlannedEntry]
    purged_before: dict[str, date] = field(default_factory=dict)  # station -> first day kept


def _programme_items(session: Session, booking_ids: set[int]) -> dict[int, list[int]]:
    # An assembled programme counts for the plans and themes of the items it carries.
    rows = session.exec(
        select(Booking.id, Programme.parts)
        .join(Programme, col(Booking.programme_id) == Programme.id)
        .where(col(Booking.id).in_(booking_ids))
    )
    return {
        booking_id: [p["item_id"] for p in parts if p.get("item_id")] for booking_id, parts in rows
    }


# What the tallies hold for an entry, in the order `_tally` reads it: clusters and seconds
# for each status reported per cluster, then for each reported for the whole station.
COUNTED = [
    (column, f"{column}_s")
    for prefix in ("", "wide_")
    for column in (f"{prefix}{status}" for status in STATUSES)
]
NOTHING = (0,) * (2 * len(COUNTED))


def _tally_columns(alias: str) -> str:
    table = AiringTally.__table__
    return ", ".join(
        f"{alias}.{name}" if name in table.c else "0" for pair in COUNTED for name in pair
    )


# The entries are read out of the stored playlists by the database's own JSON functions,
# with their tallies joined: decoding every playlist body in Python, or matching the
# tallies to the entries in Python, was the slowest part of a province's quarter.
ENTRY_ROWS = {
    "postgresql": f"""
        SELECT p.station_id, p.day, e->>'id',
               EXTRACT(EPOCH FROM ((e->>'end')::timestamptz - (e->>'start')::timestamptz)),
               (e->>'booking_id')::int, (e->>'content_item_id')::int, e->>'language',
               (e->'clusters')::text, t.exact, {_tally_columns("t")}
        FROM playlist p CROSS JOIN LATERAL jsonb_array_elements(p.body::jsonb->'entries') e
        LEFT JOIN airing_tally t ON t.station_id = p.station_id AND t.entry_id = e->>'id'
        WHERE p.station_id = ANY(:ids) AND p.day BETWEEN :first AND :last
          AND e->>'booking_id' IS NOT NULL
    """,
    "sqlite": f"""
        SELECT p.station_id, p.day, json_extract(e.value, '$.id'),
               (julianday(json_extract(e.value, '$.end'))
                - julianday(json_extract(e.value, '$.start'))) * 86400.0,
               json_extract(e.value, '$.booking_id'), json_extract(e.value, '$.content_item_id'),
               json_extract(e.value, '$.language'), json_extract(e.value, '$.clusters'),
               t.exact, {_tally_columns("t")}
        FROM playlist p CROSS JOIN json_each(p.body, '$.entries') e
        LEFT JOIN airing_tally t
          ON t.station_id = p.station_id AND t.entry_id = json_extract(e.value, '$.id')
        WHERE p.station_id IN (SELECT value FROM json_each(:ids)) AND p.day BETWEEN :first AND :last
          AND json_extract(e.value, '$.booking_id') IS NOT NULL
    """,
}


def _entry_rows(session: Session, *, station_ids: frozenset[int], period: Period) -> list[tuple]:
    dialect = session.get_bind().dialect.name
    ids: Any = sorted(station_ids)
    if dialect != "postgresql":
        ids = json.dumps(ids)
    return list(
        session.execute(
            text(ENTRY_ROWS[dialect]),
            {"ids": ids, "first": period.first, "last": period.last},
        ).all()
    )


def planned_entries(session: Session, *, scope: Scope, period: Period) -> list[PlannedEntry]:
    """Every booked entry of the playlists in scope, counted on the clusters it plays on,
    with what its tally says (`counts` None where the tally must be recounted)."""
    # A station-wide entry counts the clusters the station had that day, before any merge.
    clusters = cluster_counts(session, station_ids=scope.station_ids)
    # The fallback relay (no booking) fills silence: no plan asked for it.
    rows = _entry_rows(session, station_ids=scope.station_ids, period=period)
    booking_ids = {row[4] for row in rows}
    programmes = _programme_items(session, booking_ids)
    item_ids = {row[5] for row in rows if row[5]} | {
        i for items in programmes.values() for i in items
    }
    items = {
        item_id: (plan, theme)
        for item_id, plan, theme in session.exec(
            select(ContentItem.id, ContentItem.plan_id, ContentItem.theme_id).where(
                col(ContentItem.id).in_(item_ids)
            )
        )
    }
    carried_by: dict[tuple[int, int | None], tuple[frozenset[int], frozenset[int]]] = {}
    out = []
    for row in rows:
        station_id, day, entry_id, seconds, booking, item, language, targets, exact = row[:9]
        key = (booking, item)
        if key not in carried_by:
            carried = ([item] if item else []) + programmes.get(booking, [])
            found = [items[i] for i in carried if i in items]
            carried_by[key] = (
                frozenset(plan for plan, _ in found if plan),
                frozenset(theme for _, theme in found if theme),
            )
        plans, themes = carried_by[key]
        planned_day = day if isinstance(day, date) else date.fromisoformat(day)
        planned = PlannedEntry(
            station_id=station_id,
            day=planned_day,
            entry_id=entry_id,
            seconds=float(seconds),
            units=max(1, clusters(station_id, planned_day))
            if '"*"' in targets
            else targets.count('"') // 2,
            booking_id=booking,
            item_id=item,
            language=language,
            plan_ids=plans,
            theme_ids=themes,
            # No tally: nothing reported. An inexact one is recounted from the log.
            counts=NOTHING if exact is None else row[9:] if exact else None,
        )
        if _in_scope(planned, scope):
            out.append(planned)
    return out


def _in_scope(entry: PlannedEntry, scope: Scope) -> bool:
    return (
        (scope.plan_id is None or scope.plan_id in entry.plan_ids)
        and (scope.theme_id is None or scope.theme_id in entry.theme_ids)
        and (scope.language is None or entry.language == scope.language)
        and (scope.booking_id is None or entry.booking_id == scope.booking_id)
        and (scope.item_id is None or entry.item_id == scope.item_id)
    )


RANK = {status: rank for rank, status in enumerate(STATUSES, start=1)}


Outcomes = dict[tuple[int, str], dict[tuple[str, bool], tuple[int, float]]]


def _recount_inexact(session: Session, *, entries: list[PlannedEntry], period: Period) -> None:
    # Entries reported twice for one cluster, or corrected, are recounted from the log.
    inexact = [e for e in entries if e.counts is None]
    ids = {e.station_id for e in inexact}
    for first in range(0, len(inexact), 400):
        chunk = inexact[first : first + 400]
        keys = [(e.station_id, e.entry_id) for e in chunk]
        found = recount(session, station_ids=ids, period=period, entries=keys)
        for entry, key in zip(chunk, keys, strict=True):
            entry.counts = counts_of(found.get(key, {}))


def counts_of(outcomes: dict[tuple[str, bool], tuple[int, float]]) -> tuple[float, ...]:
    """Outcomes of one entry (status, station-wide) -> (clusters, seconds) in COUNTED order."""
    return tuple(
        value
        for wide in (False, True)
        for status in STATUSES
        for value in outcomes.get((status, wide), (0, 0.0))
    )


def recount(
    session: Session,
    *,
    station_ids: Iterable[int],
    period: Period,
    entries: list[tuple[int, str]] | None = None,
) -> Outcomes:
    """The same outcomes counted from the raw log: each cluster's best, newest report."""
    ids = list(station_ids)
    corrected = (
        select(AiringRecord.corrects)
        .where(col(AiringRecord.station_id).in_(ids), col(AiringRecord.corrects).is_not(None))
        .scalar_subquery()
    )
    rank = case(*((AiringRecord.status == s, r) for s, r in RANK.items()), else_=len(RANK))
    length = case(
        (
            col(AiringRecord.status).in_(("aired", "partial")),
            seconds_between(session, AiringRecord.started_at, AiringRecord.ended_at),
        ),
        else_=0,
    )
    # First each cluster's best report (a cluster reported twice counts once), then
    # clusters counted per entry and status: rows stay per entry, never per cluster.
    per_cluster = (
        select(
            AiringRecord.station_id,
            AiringRecord.entry_id,
            col(AiringRecord.cluster).is_(None).label("wide"),
            func.min(rank).label("best"),
            func.max(length).label("seconds"),
        )
        .where(
            col(AiringRecord.station_id).in_(ids),
            col(AiringRecord.day).between(period.first, period.last),
            col(AiringRecord.client_id).not_in(corrected),
            tuple_(AiringRecord.station_id, AiringRecord.entry_id).in_(entries)
            if entries is not None
            else true(),
        )
        .group_by(AiringRecord.station_id, AiringRecord.entry_id, AiringRecord.cluster)
        .subquery()
    )
    query = select(
        per_cluster.c.station_id,
        per_cluster.c.entry_id,
        per_cluster.c.wide,
        per_cluster.c.best,
        func.count(),
        func.coalesce(func.sum(per_cluster.c.seconds), 0),
    ).group_by(
        per_cluster.c.station_id, per_cluster.c.entry_id, per_cluster.c.wide, per_cluster.c.best
    )
    out: Outcomes = defaultdict(dict)
    for station_id, entry_id, wide, best, clusters, seconds in session.exec(query):
        status = STATUSES[int(best) - 1]
        out[(station_id, entry_id)][(status, bool(wide))] = (int(clusters), float(seconds or 0))
    return out


def tally_of(entry: PlannedEntry) -> Tally:
    """An entry's outcome on its clusters, from the clusters and seconds reported for it."""
    counts = entry.counts or NOTHING
    tally = Tally(planned=entry.units, planned_minutes=entry.seconds / 60)
    left, aired_seconds = entry.units, 0.0
    for n, status in enumerate(STATUSES):
        clusters, seconds = counts[2 * n], counts[2 * n + 1]
        if clusters:
            count = min(left, clusters)
            setattr(tally, status, count)
            left -= count
            aired_seconds += min(seconds, entry.seconds * clusters)
    # A station-wide report speaks for every cluster without a report of its own.
    if left:
        wide = len(STATUSES)
        for n, status in enumerate(STATUSES, start=wide):
            if counts[2 * n]:
                setattr(tally, status, getattr(tally, status) + left)
                aired_seconds += min(counts[2 * n + 1], entry.seconds) * left
                left = 0
                break
    tally.missing = left
    # Aired minutes weigh each cluster equally: a full airing on half the clusters is half.
    tally.aired_minutes = min(aired_seconds / entry.units, entry.seconds) / 60
    return tally


def compliance(session: Session, *, scope: Scope, period: Period) -> ComplianceReport:
    """Planned against aired for the scope and period, with each plan requirement judged."""
    entries = planned_entries(session, scope=scope, period=period)
    _recount_inexact(session, entries=entries, period=period)
    codes = dict(
        session.exec(
            select(Station.id, Station.code).where(col(Station.id).in_(scope.station_ids))
        ).all()
    )
    # Before a station's purge horizon nothing can be told from the log any more: those
    # units are purged, not missing.
    horizons = purge_horizons(session, station_ids=scope.station_ids)
    # Summed first by station, day and language (a few thousand keys for a province's
    # quarter), then rolled up: one addition per entry instead of five.
    cells: dict[tuple[int, date, str], Tally] = defaultdict(Tally)
    for entry in entries:
        if entry.day < horizons.get(entry.station_id, date.min):
            entry.tally = Tally(
                planned=entry.units, planned_minutes=entry.seconds / 60, purged=entry.units
            )
        else:
            entry.tally = tally_of(entry)
        cells[(entry.station_id, entry.day, entry.language or "—")].add(entry.tally)
    totals = Tally()
    by_station: dict[str, Tally] = defaultdict(Tally)
    by_month: dict[str, Tally] = defaultdict(Tally)
    by_language: dict[str, Tally] = defaultdict(Tally)
    by_day: dict[str, Tally] = defaultdict(Tally)
    for (station_id, day, language), cell in cells.items():
        totals.add(cell)
        by_station[codes[station_id]].add(cell)
        by_month[f"{day:%Y-%m}"].add(cell)
        by_language[language].add(cell)
        by_day[day.isoformat()].add(cell)
    return ComplianceReport(
        period=period,
        totals=totals,
        by_station=dict(sorted(by_station.items())),
        by_month=dict(sorted(by_month.items())),
        by_language=dict(sorted(by_language.items())),
        by_day=dict(sorted(by_day.items())),
        judgements=judge_requirements(session, scope=scope, period=period, entries=entries),
        entries=entries,
        purged_before={codes[i]: day for i, day in sorted(horizons.items()) if day > period.first},
    )


def _buckets(cadence: str | None, period: Period) -> list[tuple[str, date, date]]:
    if cadence == "weekly":
        monday = period.first - timedelta(days=period.first.weekday())
        out = []
        while monday <= period.last:
            year, week, _ = monday.isocalendar()
            out.append((f"Tuần {week}/{year}", monday, monday + timedelta(days=6)))
            monday += timedelta(days=7)
        return out
    if cadence == "monthly":
        out, cursor = [], period.first.replace(day=1)
        while cursor <= period.last:
            out.append(
                (
                    f"Tháng {cursor.month}/{cursor.year}",
                    cursor,
                    _month_end(cursor.year, cursor.month),
                )
            )
            cursor = _month_end(cursor.year, cursor.month) + timedelta(days=1)
        return out
    if cadence == "daily":
        days = (period.first + timedelta(d) for d in range((period.last - period.first).days + 1))
        return [(f"{day:%d/%m/%Y}", day, day) for day in days]
    if cadence == "quarterly":
        out, cursor = [], period.first.replace(day=1)
        while cursor <= period.last:
            quarter = (cursor.month - 1) // 3 + 1
            end = _month_end(cursor.year, quarter * 3)
            out.append((f"Quý {quarter}/{cursor.year}", date(cursor.year, quarter * 3 - 2, 1), end))
            cursor = end + timedelta(days=1)
        return out
    return [(period.label, period.first, period.last)]


def _language_fits(requirement: PlanRequirement, language: str | None) -> bool:
    wanted = set(requirement.languages)
    if not wanted:
        return True
    if ETHNIC in wanted and language not in (None, "vie"):
        return True
    return language in wanted


def _bounds(requirement: PlanRequirement) -> str:
    low, high = requirement.minutes_min, requirement.minutes_max
    if low and high:
        return f" (yêu cầu {low}–{high} phút)"
    if low:
        return f" (yêu cầu ít nhất {low} phút)"
    if high:
        return f" (yêu cầu tối đa {high} phút)"
    return ""


def judge_requirements(
    session: Session, *, scope: Scope, period: Period, entries: list[PlannedEntry]
) -> list[Judgement]:
    """Each broadcasting requirement, for each station it binds and each week or month."""
    plan_ids = {scope.plan_id} if scope.plan_id else {p for e in entries for p in e.plan_ids}
    if not plan_ids:
        return []
    plans = {p.id: p for p in session.exec(select(Plan).where(col(Plan.id).in_(plan_ids)))}
    requirements = session.exec(
        select(PlanRequirement)
        .where(col(PlanRequirement.plan_id).in_(plan_ids))
        .order_by(PlanRequirement.plan_id, PlanRequirement.id)
    )
    stations = list(
        session.exec(
            select(Station).where(col(Station.id).in_(scope.station_ids)).order_by(Station.code)
        )
    )
    by_station: dict[int, list[PlannedEntry]] = defaultdict(list)
    for entry in entries:
        by_station[entry.station_id].append(entry)
    out = []
    for requirement in requirements:
        kind = CHANNEL_KINDS.get(requirement.channel)
        if kind is None:
            continue  # newspapers, meetings and leaflets are not aired
        plan = plans[requirement.plan_id]
        name = plan.number or plan.title
        text = (requirement.text or requirement.channel)[:200]
        for station in (s for s in stations if s.kind == kind):
            for bucket, first, last in _buckets(requirement.cadence, period):
                relevant = [
                    e
                    for e in by_station[station.id]
                    if requirement.plan_id in e.plan_ids
                    and first <= e.day <= last
                    and _language_fits(requirement, e.language)
                ]
                met, reason = _judge(requirement, relevant)
                out.append(Judgement(requirement.id, name, text, station.code, bucket, met, reason))
    return out


def _judge(requirement: PlanRequirement, entries: list[PlannedEntry]) -> tuple[bool, str]:
    bounds = _bounds(requirement)
    if not entries:
        return False, "không có buổi phát nào được lên lịch" + bounds
    if all(e.tally.purged for e in entries):
        return False, "nhật ký phát sóng của kỳ này đã được xoá theo thời hạn lưu trữ" + bounds
    whole = [e for e in entries if e.tally.aired == e.units]
    low = (requirement.minutes_min or 0) * 60 * 0.95  # a few seconds short still counts
    high = (requirement.minutes_max or 0) * 60 * 1.05 if requirement.minutes_max else None
    fitting = [e for e in whole if e.seconds >= low and (high is None or e.seconds <= high)]
    if fitting:
        longest = max(e.seconds for e in fitting) / 60
        return True, f"đã phát trọn {len(fitting)} buổi, dài nhất {longest:.0f} phút{bounds}"
    if whole:
        lengths = ", ".join(f"{e.seconds / 60:.0f}" for e in whole[:5])
        return False, f"đã phát {len(whole)} buổi nhưng dài {lengths} phút{bounds}"
    units = sum(e.units for e in entries)
    aired = sum(e.tally.aired for e in entries)
    missing = sum(e.tally.missing for e in entries)
    purged = sum(e.tally.purged for e in entries)
    return False, (
        f"đã lên lịch {len(entries)} buổi nhưng không buổi nào phát trọn ở mọi cụm loa: "
        f"{aired}/{units} lượt cụm loa đã phát, {missing} lượt chưa có báo cáo"
        + (f", {purged} lượt có nhật ký đã xoá theo thời hạn lưu trữ" if purged else "")
    )


__all__ = ["AiringStatus", "ComplianceReport", "Period", "Scope", "Tally", "compliance"]
