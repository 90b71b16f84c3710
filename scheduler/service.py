"""Stations and clusters."""

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam, literal
from sqlmodel import Session, select

from audio.engines import ENGINES, ESPEAK_VOICES, Voice
from audio.models import RenderJob
from audio.service import RenderSettings, enqueue_render
from content.languages import check_language
from content.models import ContentItem, ContentStatus
from content.service import StationFacts
from core.clock import local_today, utcnow
from core.errors import ConflictError, InvalidError, NotFoundError, refuse_fields
from scheduler.models import Cluster, Station, StationAlias, StationKind
from scheduler.windows import check_caps, parse_windows

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,63}$")
RELAY_SCHEMES = ("http://", "https://", "rtmp://", "rtsp://")


def check_code(code: str, *, field: str = "code") -> str:
    if not CODE_PATTERN.match(code):
        raise InvalidError(
            f"Mã {code!r} chỉ được gồm chữ in hoa không dấu, số, '-' và '_' (tối đa 64 ký tự).",
            errors=[{"field": field, "msg": "mã không hợp lệ", "value": code}],
        )
    return code


# Built once: most device requests name their station, and building the statement cost
# more than running it.
_STATION_BY_CODE = select(Station).where(Station.code == bindparam("code"))
_STATION_BY_ALIAS = select(Station).join(StationAlias).where(StationAlias.code == bindparam("code"))


def get_station(session: Session, *, code: str) -> Station:
    """Return the station with this code, or with it as a former code, or raise NotFoundError."""
    station = session.exec(_STATION_BY_CODE, params={"code": code}).first()
    if station is None:
        # A renamed station still answers its old code: devices and links carry it.
        station = session.exec(_STATION_BY_ALIAS, params={"code": code}).first()
    if station is None:
        raise NotFoundError(f"Không có đài mã {code!r}.")
    return station


def create_station(
    session: Session,
    *,
    code: str,
    name: str,
    kind: StationKind,
    parent_code: str | None = None,
    timezone: str = "Asia/Ho_Chi_Minh",
    languages: list[str] | None = None,
) -> Station:
    """Add a station under its parent; the code must be new."""
    check_code(code)
    languages = [check_language(lang, field="languages") for lang in languages or ["vie"]]
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidError(
            f"Múi giờ {timezone!r} không tồn tại.",
            errors=[{"field": "timezone", "msg": "múi giờ không hợp lệ", "value": timezone}],
        ) from None
    if (
        session.exec(select(Station.id).where(Station.code == code)).first() is not None
        or session.get(StationAlias, code) is not None
    ):
        raise ConflictError(f"Đã có đài mã {code!r}.")
    parent = get_station(session, code=parent_code) if parent_code else None
    if parent is not None and parent.kind == StationKind.commune:
        raise InvalidError(
            "Đài xã không có đài cấp dưới; cụm loa được thêm vào đài xã.",
            errors=[{"field": "parent", "msg": "đài cha là đài xã", "value": parent_code}],
        )
    if parent is None and kind != StationKind.province:
        raise InvalidError(
            "Chỉ đài tỉnh mới không có đài cấp trên.",
            errors=[{"field": "parent", "msg": "bắt buộc"}],
        )
    station = Station(
        code=code,
        name=name,
        kind=kind,
        parent_id=parent.id if parent else None,
        timezone=timezone,
        languages=languages,
    )
    session.add(station)
    session.flush()
    return station


def add_cluster(
    session: Session, *, station: Station, code: str, name: str, zone_tags: list[str]
) -> Cluster:
    """Add a loudspeaker cluster to a station; its code must be new within the station."""
    check_code(code)
    if station.kind != StationKind.commune:
        raise InvalidError(
            "Cụm loa chỉ thuộc về đài truyền thanh xã.",
            errors=[{"field": "station", "msg": "không phải đài xã", "value": station.code}],
        )
    existing = session.exec(
        select(Cluster.id).where(Cluster.station_id == station.id, Cluster.code == code)
    ).first()
    if existing is not None:
        raise ConflictError(f"Đài {station.code} đã có cụm loa mã {code!r}.")
    cluster = Cluster(station_id=station.id, code=code, name=name, zone_tags=zone_tags)
    session.add(cluster)
    session.flush()
    return cluster


def get_cluster(session: Session, *, station: Station, code: str) -> Cluster:
    """Return a cluster of the station by its code, or raise NotFoundError."""
    cluster = session.exec(
        select(Cluster).where(Cluster.station_id == station.id, Cluster.code == code)
    ).first()
    if cluster is None:
        raise NotFoundError(f"Đài {station.code} không có cụm loa mã {code!r}.")
    return cluster


def list_stations(session: Session, *, ids: set[int] | None) -> list[Station]:
    """Return stations (all when `ids` is None), parents before children."""
    query = select(Station).order_by(Station.id)
    if ids is not None:
        query = query.where(Station.id.in_(ids))
    return list(session.exec(query))


def clusters_by_station(session: Session, *, station_ids: set[int]) -> dict[int, list[Cluster]]:
    """Return the clusters of the given stations, grouped by station id."""
    grouped: dict[int, list[Cluster]] = {}
    query = select(Cluster).where(Cluster.station_id.in_(station_ids)).order_by(Cluster.code)
    for cluster in session.exec(query):
        grouped.setdefault(cluster.station_id, []).append(cluster)
    return grouped


def ancestor_ids(session: Session, *, station_id: int) -> list[int]:
    """Return the station's id and those of its ancestors, nearest first."""
    chain = (
        select(Station.id, Station.parent_id, literal(0).label("depth"))
        .where(Station.id == station_id)
        .cte("chain", recursive=True)
    )
    chain = chain.union_all(
        select(Station.id, Station.parent_id, (chain.c.depth + 1).label("depth")).where(
            Station.id == chain.c.parent_id
        )
    )
    return list(session.exec(select(chain.c.id).order_by(chain.c.depth)))


def subtree_ids(session: Session, *, root_id: int) -> set[int]:
    """Return the ids of a station and every station below it."""
    tree = select(Station.id).where(Station.id == root_id).cte("tree", recursive=True)
    tree = tree.union_all(select(Station.id).where(Station.parent_id == tree.c.id))
    return set(session.exec(select(tree.c.id)))


def is_within(session: Session, *, station_id: int, root_id: int) -> bool:
    """Tell whether a station is the root itself or lies below it."""
    return root_id in ancestor_ids(session, station_id=station_id)


def station_facts(station: Station) -> StationFacts:
    """What the content package needs to know about a station."""
    assert station.id is not None
    return StationFacts(
        id=station.id,
        code=station.code,
        name=station.name,
        lexicon=station.lexicon,
        two_person_approval=station.two_person_approval,
    )


def render_settings(station: Station) -> RenderSettings:
    """How a station's audio is spoken, how loud it is and how it is encoded."""
    return RenderSettings(
        voice=Voice(
            engine=station.voice_engine,
            name=station.voice_name,
            rate=station.speech_rate,
            pitch=station.speech_pitch,
        ),
        loudness_lufs=station.loudness_lufs,
        bitrate_kbps=station.mp3_bitrate_kbps,
    )


def enqueue_approved(
    session: Session, *, item_ids: list[int] | None, created_by: str
) -> list[RenderJob]:
    """Queue rendering of the given items (or every approved one) with their station's voice."""
    query = select(ContentItem).where(ContentItem.status == ContentStatus.approved)
    if item_ids is not None:
        query = select(ContentItem).where(ContentItem.id.in_(item_ids))
    jobs = []
    for item in session.exec(query.order_by(ContentItem.id)):
        station = session.get(Station, item.station_id)
        jobs.append(
            enqueue_render(
                session,
                item=item,
                station_id=station.id,
                settings=render_settings(station),
                created_by=created_by,
            )
        )
    return jobs


BITRATES = (32, 48, 64, 96, 128, 192)


NOT_NULL_SETTINGS = (
    "name",
    "languages",
    "lexicon",
    "two_person_approval",
    "voice_engine",
    "voice_name",
    "speech_rate",
    "speech_pitch",
    "loudness_lufs",
    "mp3_bitrate_kbps",
    "windows",
    "weekdays_only",
    "freeze_lead_minutes",
)


def _check_settings(session: Session, changes: dict[str, Any]) -> None:
    problems = [
        (name, "không được để trống")
        for name in NOT_NULL_SETTINGS
        if name in changes and changes[name] is None
    ]
    refuse_fields("Cài đặt đài không hợp lệ", problems)
    if "languages" in changes:
        for lang in changes["languages"]:
            check_language(lang, field="languages")
    engine = changes.get("voice_engine")
    if engine is not None and engine not in ENGINES:
        problems.append(("voice_engine", f"chỉ có {', '.join(ENGINES)}"))
    if changes.get("voice_name") not in (None, *ESPEAK_VOICES):
        problems.append(("voice_name", f"chỉ có {', '.join(ESPEAK_VOICES)}"))
    for name, low, high in (
        ("speech_rate", 80, 450),
        ("speech_pitch", 0, 100),
        ("loudness_lufs", -31, -10),
        ("freeze_lead_minutes", 0, 24 * 60),
        ("max_sessions_per_day", 1, 24),
        ("max_minutes_per_session", 1, 24 * 60),
    ):
        value = changes.get(name)
        if value is not None and not low <= value <= high:
            problems.append((name, f"phải trong khoảng {low} đến {high}"))
    if changes.get("mp3_bitrate_kbps") not in (None, *BITRATES):
        problems.append(("mp3_bitrate_kbps", f"chỉ có {', '.join(map(str, BITRATES))}"))
    fallback = changes.get("fallback")
    if fallback is not None:
        kind = fallback.get("kind")
        if kind == "relay" and not str(fallback.get("url", "")).startswith(RELAY_SCHEMES):
            problems.append(("fallback.url", "cần địa chỉ luồng http(s)://, rtmp:// hoặc rtsp://"))
        elif kind != "relay":
            # A filler file is not placed by the playlist generator yet; accepting it
            # would leave the window silent.
            problems.append(("fallback.kind", "hiện chỉ hỗ trợ relay (tiếp sóng)"))
    refuse_fields("Cài đặt đài không hợp lệ", problems)


def update_station(session: Session, *, station: Station, changes: dict[str, Any]) -> Station:
    """Change a station's settings after checking every one; nothing changes if one is wrong."""
    _check_settings(session, changes)
    merged = {
        "windows": station.windows,
        "max_sessions_per_day": station.max_sessions_per_day,
        "max_minutes_per_session": station.max_minutes_per_session,
        **{
            k: v
            for k, v in changes.items()
            if k in ("windows", "max_sessions_per_day", "max_minutes_per_session")
        },
    }
    windows = parse_windows(merged["windows"])
    check_caps(
        windows,
        max_sessions_per_day=merged["max_sessions_per_day"],
        max_minutes_per_session=merged["max_minutes_per_session"],
    )
    if "windows" in changes:
        changes = {**changes, "windows": [w.as_dict() for w in windows]}
    for name, value in changes.items():
        setattr(station, name, value)
    session.add(station)
    session.flush()
    return station


def station_now(station: Station) -> datetime:
    """The time on the station's wall clocks."""
    return utcnow().astimezone(ZoneInfo(station.timezone))


def station_today(station: Station) -> date:
    """Today's date in the station's calendar."""
    return local_today(station.timezone)
