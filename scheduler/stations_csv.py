"""Import a whole province's stations and loudspeaker clusters from one CSV file.

Columns: station_code, station_name, kind, parent_code, cluster_code, cluster_name,
zone_tags, languages, timezone. A row without cluster_code describes a station; a
row with one describes a cluster of that station. Lists are separated by ";".
Rows already present are skipped, so the same file can be imported twice.
"""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session, select

from core.errors import InvalidError, ProblemError
from scheduler.models import Cluster, Station, StationKind
from scheduler.service import add_cluster, create_station

COLUMNS = (
    "station_code",
    "station_name",
    "kind",
    "parent_code",
    "cluster_code",
    "cluster_name",
    "zone_tags",
    "languages",
    "timezone",
)
MAX_ROWS = 200_000


@dataclass
class ImportResult:
    """What an import created and what it found already there."""

    stations_created: int = 0
    clusters_created: int = 0
    skipped: int = 0
    errors: list[dict[str, object]] = field(default_factory=list)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.replace(",", ";").split(";") if part.strip()]


def _rows(text: str) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [
        c for c in ("station_code", "station_name", "kind") if c not in (reader.fieldnames or [])
    ]
    if missing:
        raise InvalidError(
            f"Tệp CSV thiếu cột: {', '.join(missing)} (cần các cột {', '.join(COLUMNS)}).",
            errors=[{"field": "columns", "missing": missing}],
        )
    rows = [
        (number, {k: (v or "").strip() for k, v in row.items() if k})
        for number, row in enumerate(reader, start=2)
    ]
    if len(rows) > MAX_ROWS:
        raise ProblemError(f"Tệp CSV có quá {MAX_ROWS} dòng.", status=413)
    return rows


def _station_order(rows: list[tuple[int, dict[str, str]]]) -> list[tuple[int, dict[str, str]]]:
    # Parents first, whatever order the file lists them in.
    pending = {row["station_code"]: (n, row) for n, row in rows if not row.get("cluster_code")}
    ordered, placed = [], set()
    while pending:
        ready = [
            code
            for code, (_, row) in pending.items()
            if not row.get("parent_code") or row["parent_code"] not in pending
        ]
        if not ready:
            ready = list(pending)  # a cycle: let creation report it line by line
        for code in ready:
            ordered.append(pending.pop(code))
            placed.add(code)
    return ordered


def import_stations_csv(
    session: Session, *, text: str, may_attach: Callable[[Station | None], bool]
) -> ImportResult:
    """Create the stations and clusters of a CSV file; any bad row refuses the whole file.

    `may_attach(station)` says whether the caller may add below that station;
    `may_attach(None)` whether they may create a province (a station with no parent).
    """
    rows = _rows(text)
    result = ImportResult()
    known = {s.code: s for s in session.exec(select(Station))}
    for number, row in _station_order(rows):
        code = row["station_code"]
        if code in known:
            result.skipped += 1
            continue
        parent = known.get(row.get("parent_code", ""))
        if not row.get("parent_code") and not may_attach(None):
            result.errors.append({"line": number, "msg": "chỉ quản trị viên tạo được đài cấp tỉnh"})
            continue
        if parent is not None and not may_attach(parent):
            result.errors.append({"line": number, "msg": f"đài cha {parent.code} ngoài phạm vi"})
            continue
        if row["kind"] not in StationKind.__members__:
            result.errors.append(
                {
                    "line": number,
                    "msg": f"loại đài {row['kind']!r} không hợp lệ (province, district, commune)",
                }
            )
            continue
        try:
            kind = StationKind(row["kind"])
            known[code] = create_station(
                session,
                code=code,
                name=row["station_name"],
                kind=kind,
                parent_code=row.get("parent_code") or None,
                timezone=row.get("timezone") or "Asia/Ho_Chi_Minh",
                languages=_split(row.get("languages", "")) or ["vie"],
            )
            result.stations_created += 1
        except ProblemError as exc:
            result.errors.append({"line": number, "msg": exc.detail})
    for number, row in rows:
        if not row.get("cluster_code"):
            continue
        station = known.get(row["station_code"])
        if station is None:
            result.errors.append({"line": number, "msg": f"không có đài {row['station_code']}"})
            continue
        if not may_attach(station):
            result.errors.append({"line": number, "msg": f"đài {station.code} ngoài phạm vi"})
            continue
        exists = session.exec(
            select(Cluster.id).where(
                Cluster.station_id == station.id, Cluster.code == row["cluster_code"]
            )
        ).first()
        if exists is not None:
            result.skipped += 1
            continue
        try:
            add_cluster(
                session,
                station=station,
                code=row["cluster_code"],
                name=row.get("cluster_name") or row["cluster_code"],
                zone_tags=_split(row.get("zone_tags", "")),
            )
            result.clusters_created += 1
        except ProblemError as exc:
            result.errors.append({"line": number, "msg": exc.detail})
    if result.errors:
        raise InvalidError(
            f"Tệp CSV có {len(result.errors)} dòng lỗi; chưa nhập gì.", errors=result.errors
        )
    return result
