"""Merging, moving and renaming stations without losing their history.

Communes merge and boundaries move: a merged station keeps its playlists and airing log
(they still verify and still count in reports), while its clusters, devices, accounts,
future bookings and content carry on at the station it was merged into. Days either
station had frozen are never rewritten: the moved clusters play the source's playlists
until its `effective_day`, the target's from then on.
"""

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, func, select

from audio.models import Programme, Recording
from content.models import ContentItem, ScriptTemplate
from core.clock import utcnow
from core.errors import ConflictError, InvalidError
from core.limits import TITLE_MAX
from core.models import DeviceToken, User
from scheduler.airings import LOOKBACK_DAYS
from scheduler.models import (
    AiringIn,
    Booking,
    BookingStatus,
    Cluster,
    DeviceStatus,
    Playlist,
    Station,
    StationAlias,
    StationKind,
    StationMerge,
)
from scheduler.playlists import PLAYLIST_RANGE_DAYS, generate_stations
from scheduler.recurrence import occurrences, rule_from_json
from scheduler.service import ancestor_ids, check_code, station_today, subtree_ids


@dataclass
class MergePlan:
    """What a merge moves (or would move: a preview changes nothing)."""

    source: str
    target: str
    effective_day: date
    clusters: list[dict[str, Any]] = field(default_factory=list)  # {"id", "from", "to"}
    clashes: list[str] = field(default_factory=list)
    bookings: list[int] = field(default_factory=list)
    content_items: list[int] = field(default_factory=list)
    recordings: list[int] = field(default_factory=list)
    programmes: list[dict[str, Any]] = field(default_factory=list)  # {"id", "from", "to"}
    script_templates: list[int] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    devices: list[int] = field(default_factory=list)
    playlists_dropped: list[date] = field(default_factory=list)
    playlists_kept: list[date] = field(default_factory=list)
    done: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data."""
        data = asdict(self)
        data["effective_day"] = self.effective_day.isoformat()
        for name in ("playlists_dropped", "playlists_kept"):
            data[name] = [day.isoformat() for day in data[name]]
        return data


def read_renames(pairs: Iterable[str]) -> dict[str, str]:
    """Cluster renames written as OLD=NEW, one per item (blank items are skipped)."""
    found = {}
    for pair in pairs:
        if not pair.strip():
            continue
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InvalidError(
                f"Đổi mã cụm loa phải viết dạng CŨ=MỚI, không phải {pair.strip()!r}.",
                errors=[{"field": "rename", "msg": "sai dạng", "value": pair.strip()}],
            )
        found[old.strip()] = new.strip()
    return found


def merged_message(session: Session, *, station: Station) -> str:
    """The sentence telling people a station was merged, and where to go instead."""
    target = session.get(Station, station.merged_into_id)
    name = f"{target.code} ({target.name})" if target else "?"
    return (
        f"Đài {station.code} đã sáp nhập vào đài {name} và chỉ còn để tra cứu; "
        f"hãy thao tác trên đài {target.code if target else '?'}."
    )


def refuse_merged(session: Session, *, station: Station) -> None:
    """Refuse with 409 a write to a merged station, naming the station it went into."""
    if station.merged_into_id is not None:
        raise ConflictError(merged_message(session, station=station))


def final_station(session: Session, *, station: Station) -> Station:
    """The station a merged one lives on in (itself when it was never merged)."""
    seen = {station.id}
    while station.merged_into_id is not None and station.merged_into_id not in seen:
        station = session.get(Station, station.merged_into_id)
        seen.add(station.id)
    return station


def _frozen_until(session: Session, *, station_ids: list[int], today: date) -> date | None:
    return session.exec(
        select(func.max(Playlist.day)).where(
            col(Playlist.station_id).in_(station_ids),
            col(Playlist.frozen_at).is_not(None),
            Playlist.day >= today,
        )
    ).one()


def _future_booking(booking: Booking, since: date) -> bool:
    rule = rule_from_json(booking.recurrence)
    return bool(occurrences(rule, start=since, end=since + timedelta(days=PLAYLIST_RANGE_DAYS)))


def _check_pair(session: Session, source: Station, target: Station) -> None:
    if source.id == target.id:
        raise InvalidError(
            "Không sáp nhập một đài vào chính nó.", errors=[{"field": "into", "msg": "trùng"}]
        )
    for station in (source, target):
        refuse_merged(session, station=station)
    if session.exec(select(Station.id).where(Station.parent_id == source.id)).first():
        raise ConflictError(
            f"Đài {source.code} còn đài cấp dưới; hãy chuyển các đài đó sang đài khác trước."
        )
    if source.kind != StationKind.commune or target.kind != StationKind.commune:
        raise InvalidError(
            "Chỉ sáp nhập đài xã vào đài xã (cụm loa chỉ thuộc đài xã).",
            errors=[{"field": "into", "msg": "không phải đài xã", "value": target.code}],
        )
    if source.timezone != target.timezone:
        raise InvalidError(
            f"Đài {source.code} và {target.code} khác múi giờ; không sáp nhập được.",
            errors=[{"field": "into", "msg": "khác múi giờ"}],
        )


def plan_merge(
    session: Session, *, source: Station, target: Station, rename: dict[str, str] | None = None
) -> MergePlan:
    """Work out what merging `source` into `target` moves; clashing cluster codes are listed."""
    _check_pair(session, source, target)
    rename = dict(rename or {})
    moving = list(
        session.exec(select(Cluster).where(Cluster.station_id == source.id).order_by(Cluster.code))
    )
    unknown = sorted(set(rename) - {c.code for c in moving})
    if unknown:
        raise InvalidError(
            f"Đài {source.code} không có cụm loa {', '.join(unknown)} để đổi mã.",
            errors=[{"field": "rename", "msg": "không có cụm loa", "value": c} for c in unknown],
        )
    for new in rename.values():
        check_code(new, field="rename")
    today = station_today(source)
    frozen = _frozen_until(session, station_ids=[source.id, target.id], today=today)
    effective = max(today, frozen + timedelta(days=1)) if frozen else today
    plan = MergePlan(source=source.code, target=target.code, effective_day=effective)
    staying = set(session.exec(select(Cluster.code).where(Cluster.station_id == target.id)))
    taken: set[str] = set()
    for cluster in moving:
        code = rename.get(cluster.code, cluster.code)
        if code in staying or code in taken:
            plan.clashes.append(cluster.code)
        taken.add(code)
        plan.clusters.append({"id": cluster.id, "from": cluster.code, "to": code})
    plan.bookings = [
        b.id
        for b in session.exec(
            select(Booking)
            .where(Booking.station_id == source.id, Booking.status == BookingStatus.active)
            .order_by(Booking.id)
        )
        if _future_booking(b, effective)
    ]
    plan.content_items = list(
        session.exec(
            select(ContentItem.id)
            .where(ContentItem.station_id == source.id)
            .order_by(ContentItem.id)
        )
    )
    plan.recordings = list(
        session.exec(
            select(Recording.id).where(Recording.station_id == source.id).order_by(Recording.id)
        )
    )
    titles = set(session.exec(select(Programme.title).where(Programme.station_id == target.id)))
    for programme in session.exec(
        select(Programme).where(Programme.station_id == source.id).order_by(Programme.id)
    ):
        title = programme.title
        if title in titles:  # unique per station: the moved one says where it came from
            title = f"{title[: TITLE_MAX - len(source.code) - 3]} ({source.code})"
        titles.add(title)
        plan.programmes.append({"id": programme.id, "from": programme.title, "to": title})
    kept = set(
        session.exec(select(ScriptTemplate.programme).where(ScriptTemplate.station_id == target.id))
    )
    plan.script_templates = [
        t.id
        for t in session.exec(
            select(ScriptTemplate)
            .where(ScriptTemplate.station_id == source.id)
            .order_by(ScriptTemplate.id)
        )
        if t.programme not in kept
    ]
    plan.users = list(
        session.exec(select(User.username).where(User.station_id == source.id).order_by(User.id))
    )
    plan.devices = list(
        session.exec(
            select(DeviceToken.id)
            .where(DeviceToken.station_id == source.id)
            .order_by(DeviceToken.id)
        )
    )
    for day in session.exec(
        select(Playlist.day)
        .where(Playlist.station_id == source.id, Playlist.day >= today)
        .order_by(Playlist.day)
    ):
        (plan.playlists_dropped if day >= effective else plan.playlists_kept).append(day)
    return plan


def clash_error(plan: MergePlan) -> ConflictError:
    """The 409 of a merge whose cluster codes clash with the target's."""
    return ConflictError(
        f"Đài {plan.target} đã có cụm loa mã {', '.join(plan.clashes)}; hãy đổi mã các cụm "
        f"loa này của đài {plan.source} (rename) rồi sáp nhập lại.",
        errors=[
            {"field": "rename", "msg": "mã cụm loa trùng", "value": code} for code in plan.clashes
        ],
    )


def _lock(session: Session, ids: list[int]) -> None:
    # Two merges, or a merge and a booking, on the same stations wait for each other.
    session.exec(select(Station.id).where(col(Station.id).in_(ids)).with_for_update()).all()


def merge_stations(
    session: Session,
    *,
    source: Station,
    target: Station,
    rename: dict[str, str] | None,
    merged_by: str,
    base_url: str,
) -> MergePlan:
    """Merge `source` into `target` in the caller's transaction: all moves or none."""
    _lock(session, sorted([source.id, target.id]))
    session.refresh(source)
    session.refresh(target)
    plan = plan_merge(session, source=source, target=target, rename=rename)
    if plan.clashes:
        raise clash_error(plan)
    codes = {c["from"]: c["to"] for c in plan.clusters}
    # Each row is changed through the session, so each move lands in the audit trail.
    for cluster in session.exec(select(Cluster).where(Cluster.station_id == source.id)):
        cluster.station_id, cluster.code = target.id, codes[cluster.code]
        session.add(cluster)
    session.flush()
    for booking in session.exec(select(Booking).where(col(Booking.id).in_(plan.bookings))):
        _retarget(booking, plan, session)
        booking.station_id = target.id
        booking.updated_at = utcnow()
        session.add(booking)
    for model, ids in (
        (ContentItem, plan.content_items),
        (Recording, plan.recordings),
        (ScriptTemplate, plan.script_templates),
        (DeviceToken, plan.devices),
    ):
        for row in session.exec(select(model).where(col(model.id).in_(ids))):
            row.station_id = target.id
            session.add(row)
    titles = {p["id"]: p["to"] for p in plan.programmes}
    for programme in session.exec(select(Programme).where(col(Programme.id).in_(list(titles)))):
        programme.station_id, programme.title = target.id, titles[programme.id]
        session.add(programme)
    session.flush()
    # The last heartbeat of a moved device belongs where the device now is.
    session.execute(
        update(DeviceStatus)
        .where(col(DeviceStatus.device_id).in_(plan.devices))
        .values(station_id=target.id)
    )
    # The source plays nothing from the effective day on; the target's coming days take
    # the moved bookings and clusters. Days before it, frozen somewhere, stay as they are.
    session.execute(
        delete(Playlist).where(Playlist.station_id == source.id, Playlist.day >= plan.effective_day)
    )
    _freeze_before(session, target=target, plan=plan)
    days = set(plan.playlists_dropped) | set(
        session.exec(
            select(Playlist.day).where(
                Playlist.station_id == target.id, Playlist.day >= plan.effective_day
            )
        )
    )
    if days:
        generate_stations(session, station_ids=[target.id], days=sorted(days), base_url=base_url)
    for user in session.exec(select(User).where(User.station_id == source.id)):
        user.station_id = target.id
        session.add(user)
    session.flush()
    session.add(
        StationMerge(
            source_id=source.id,
            target_id=target.id,
            effective_day=plan.effective_day,
            clusters=plan.clusters,
            devices=plan.devices,
            merged_by=merged_by,
        )
    )
    source.merged_into_id = target.id
    session.add(source)
    session.flush()
    plan.done = True
    return plan


def _retarget(booking: Booking, plan: MergePlan, session: Session) -> None:
    # At the target, "every cluster" or a zone would reach its own clusters too: a moved
    # booking names the moved clusters it played on.
    moved = {c["from"]: c["to"] for c in plan.clusters}
    if not moved:
        return
    if booking.clusters:
        chosen = [moved[c] for c in booking.clusters if c in moved]
    else:
        tags = {
            c.id: set(c.zone_tags)
            for c in session.exec(
                select(Cluster).where(col(Cluster.id).in_([c["id"] for c in plan.clusters]))
            )
        }
        chosen = [
            c["to"]
            for c in plan.clusters
            if not booking.zones or tags.get(c["id"], set()) & set(booking.zones)
        ]
    booking.clusters, booking.zones = sorted(chosen), []


def _freeze_before(session: Session, *, target: Station, plan: MergePlan) -> None:
    # A target day before the effective day that is not frozen yet would take the moved
    # clusters' bookings while they still play the source's frozen day: it freezes now.
    today = station_today(target)
    session.execute(
        update(Playlist)
        .where(
            Playlist.station_id == target.id,
            Playlist.day >= today,
            Playlist.day < plan.effective_day,
            col(Playlist.frozen_at).is_(None),
        )
        .values(frozen_at=utcnow())
    )


# --- reading across merges -----------------------------------------------------------


def merges_into(session: Session, *, station_ids: Iterable[int]) -> list[StationMerge]:
    """The merges whose source or target is among these stations."""
    ids = list(station_ids)
    return list(
        session.exec(
            select(StationMerge).where(
                col(StationMerge.source_id).in_(ids) | col(StationMerge.target_id).in_(ids)
            )
        )
    )


def report_station_ids(session: Session, *, root_id: int) -> set[int]:
    """The stations a report of this subtree covers: the subtree and every station merged
    into it, so history counts where its clusters went."""
    ids = subtree_ids(session, root_id=root_id)
    while True:
        more = (
            set(session.exec(select(Station.id).where(col(Station.merged_into_id).in_(ids)))) - ids
        )
        if not more:
            return ids
        for station_id in more:
            ids |= subtree_ids(session, root_id=station_id)


def cluster_counts(session: Session, *, station_ids: Iterable[int]) -> Callable[[int, date], int]:
    """How many clusters each station had on a day, merges undone for the days before them."""
    ids = list(station_ids)
    now = dict(
        session.exec(
            select(Cluster.station_id, func.count())
            .where(col(Cluster.station_id).in_(ids))
            .group_by(Cluster.station_id)
        ).all()
    )
    merges = merges_into(session, station_ids=ids)

    def on(station_id: int, day: date) -> int:
        count = now.get(station_id, 0)
        for merge in merges:
            if day < merge.effective_day:
                if merge.target_id == station_id:
                    count -= len(merge.clusters)
                if merge.source_id == station_id:
                    count += len(merge.clusters)
        return count

    return on


def _merge_of(session: Session, station_id: int) -> StationMerge | None:
    return session.exec(select(StationMerge).where(StationMerge.source_id == station_id)).first()


def _code_at(merge: StationMerge, cluster_id: int | None) -> str | None:
    return next((c["from"] for c in merge.clusters if c["id"] == cluster_id), None)


def device_day(
    session: Session, *, named: Station, cluster_id: int | None, cluster: str | None, day: date
) -> tuple[int, str | None]:
    """Which station's playlist a device of a merged station plays on a day, and the code
    its cluster had there: the source's for the days it kept, the target's after."""
    station = named
    while station.merged_into_id is not None:
        merge = _merge_of(session, station.id)
        if merge is None:
            break
        if (
            day < merge.effective_day
            and session.exec(
                select(Playlist.id).where(Playlist.station_id == station.id, Playlist.day == day)
            ).first()
        ):
            return station.id, _code_at(merge, cluster_id) if cluster_id else cluster
        station = session.get(Station, merge.target_id)
    return station.id, cluster


def moved_from(session: Session, *, device_id: int, station_id: int) -> Station | None:
    """The station a merge moved this device away from, to this one (None: never moved)."""
    for merge in session.exec(select(StationMerge).where(StationMerge.target_id == station_id)):
        if device_id in merge.devices:
            return session.get(Station, merge.source_id)
    return None


def former_codes(session: Session, *, named: Station, cluster_id: int | None) -> set[str]:
    """The codes a cluster had at this merged station and those it went through."""
    codes: set[str] = set()
    station: Station | None = named
    while station is not None and station.merged_into_id is not None:
        merge = _merge_of(session, station.id)
        if merge is None:
            break
        code = _code_at(merge, cluster_id)
        if code is not None:
            codes.add(code)
        station = session.get(Station, merge.target_id)
    return codes


@dataclass
class AiringGroup:
    """Records of one batch that belong to one station's chain."""

    station: Station
    records: list[AiringIn]
    cluster: str | None
    former_clusters: set[str]


def split_airings(
    session: Session,
    *,
    named: Station,
    target: Station,
    cluster_id: int | None,
    cluster: str | None,
    records: list[AiringIn],
) -> list[AiringGroup]:
    """Send each record of a merged station's device to the chain of the station whose
    playlist held its entry: the source's for the days it kept, the target's otherwise."""
    sources: list[tuple[Station, StationMerge]] = []
    station = named
    while station.merged_into_id is not None and (merge := _merge_of(session, station.id)):
        sources.append((station, merge))
        station = session.get(Station, merge.target_id)
    starts = [r.started_at for r in records if r.started_at is not None]
    last = max(s.date() for s in starts) + timedelta(days=1) if starts else utcnow().date()
    first = min(
        [s.date() - timedelta(days=1) for s in starts]
        + ([last - timedelta(days=LOOKBACK_DAYS)] if len(starts) < len(records) else [])
    )
    left = list(records)
    groups = []
    for source, merge in sources:
        held: set[str] = set()
        for (body,) in session.execute(
            select(Playlist.body).where(
                Playlist.station_id == source.id,
                col(Playlist.day).between(first, min(last, merge.effective_day)),
            )
        ):
            held.update(entry["id"] for entry in body.get("entries", []))
        mine = [r for r in left if r.entry_id in held]
        code = _code_at(merge, cluster_id) if cluster_id else cluster
        if code != cluster:  # named by its code at the target: the source knew it as `code`
            mine = [
                r.model_copy(update={"cluster": code}) if r.cluster == cluster else r for r in mine
            ]
        if mine:
            groups.append(
                AiringGroup(
                    station=source,
                    records=mine,
                    cluster=code,
                    former_clusters={c["from"] for c in merge.clusters},
                )
            )
        left = [r for r in left if r.entry_id not in held]
    if left and cluster is not None:
        # A running agent still names its cluster by the code it had before the merge.
        former = former_codes(session, named=named, cluster_id=cluster_id) - {cluster}
        left = [
            r.model_copy(update={"cluster": cluster}) if r.cluster in former else r for r in left
        ]
    if left:
        groups.append(AiringGroup(target, left, cluster, former_clusters=set()))
    return groups


# --- moving and renaming -------------------------------------------------------------


def move_station(session: Session, *, station: Station, parent: Station) -> Station:
    """Put a station under another parent; its coming unfrozen days take the new
    ancestors' bookings."""
    refuse_merged(session, station=station)
    refuse_merged(session, station=parent)
    if station.id in ancestor_ids(session, station_id=parent.id):
        raise InvalidError(
            f"Không đặt đài {station.code} dưới chính nó hoặc đài cấp dưới của nó.",
            errors=[{"field": "parent", "msg": "tạo vòng", "value": parent.code}],
        )
    if parent.kind == StationKind.commune:
        raise InvalidError(
            "Đài xã không có đài cấp dưới.",
            errors=[{"field": "parent", "msg": "đài cha là đài xã", "value": parent.code}],
        )
    station.parent_id = parent.id
    session.add(station)
    session.flush()
    return station


def rename_station(session: Session, *, station: Station, code: str) -> Station:
    """Give a station a new code; the old one keeps answering devices and links."""
    refuse_merged(session, station=station)
    check_code(code)
    if code == station.code:
        return station
    taken = session.exec(select(Station.id).where(Station.code == code)).first()
    alias = session.get(StationAlias, code)
    if taken is not None or (alias is not None and alias.station_id != station.id):
        raise ConflictError(f"Mã {code!r} đã được dùng cho một đài khác.")
    if alias is not None:  # back to a code it had before
        session.delete(alias)
    session.add(StationAlias(code=station.code, station_id=station.id))
    station.code = code
    session.add(station)
    session.flush()
    return station


def relocate_station(
    session: Session, *, station: Station, parent: Station | None, code: str | None, base_url: str
) -> Station:
    """Move a station under `parent` and/or give it a new `code`, then bring its coming
    unfrozen days (and those below it) up to date."""
    if parent is not None:
        move_station(session, station=station, parent=parent)
    if code is not None:
        rename_station(session, station=station, code=code)
    if parent is not None or code is not None:
        refresh_days(session, station=station, base_url=base_url)
    return station


def refresh_days(session: Session, *, station: Station, base_url: str) -> int:
    """Regenerate the stored coming days of a station and those below it (frozen days
    keep what devices hold)."""
    ids = subtree_ids(session, root_id=station.id)
    today = station_today(station)
    days = sorted(
        set(
            session.exec(
                select(Playlist.day).where(col(Playlist.station_id).in_(ids), Playlist.day >= today)
            )
        )
    )
    if not days:
        return 0
    return generate_stations(session, station_ids=ids, days=days, base_url=base_url)
