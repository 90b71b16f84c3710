"""Sample data written for this project, so a new install has something true to show."""

import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, func, select

from audio.engines import Voice
from audio.ffmpeg import pcm_to_wav, run
from audio.models import AssetOrigin, AudioAsset, Programme, Recording
from audio.service import (
    add_recording,
    assemble_programme,
    process_queue,
    shared_engine,
    store_upload,
)
from audio.store import MediaStore
from content.models import ContentItem, Plan, Theme
from content.service import (
    approve_content_item,
    create_content_item,
    find_content_item,
    import_plan,
    save_template,
    submit_content_item,
)
from core.clock import utcnow
from core.db import session_scope
from core.errors import NotFoundError
from core.identity import create_device_token, create_user, revoke_device_token, set_password
from core.models import DeviceToken, Role, User
from scheduler.airings import ingest_airings
from scheduler.bookings import create_booking, regenerate
from scheduler.models import AiringIn, Booking, Cluster, Station, StationKind
from scheduler.playlists import generate_playlists
from scheduler.recurrence import Recurrence, rule_to_json
from scheduler.service import (
    add_cluster,
    create_station,
    enqueue_approved,
    get_cluster,
    get_station,
    render_settings,
    station_facts,
    update_station,
)

PROGRAMME = "Chuyên mục Cải cách hành chính"
SAMPLE_PLAN = Path(__file__).parent / "samples" / "ke-hoach-mau.md"
PROGRAMME_TEMPLATE = """\
Kính thưa bà con! Đài truyền thanh xã Chiềng Pằn xin gửi tới bà con {{ programme }}, \
phát sóng {{ date | thu }} ngày {{ date | ngay }}.
{{ title }}.
{{ body }}
{{ programme }} của {{ station }} đến đây là kết thúc. Cảm ơn bà con đã lắng nghe."""

STATIONS = [
    {
        "code": "TINH-SON-LA",
        "name": "Trung tâm Truyền thông tỉnh Sơn La",
        "kind": StationKind.province,
        "parent_code": None,
        "languages": ["vie", "blt", "hnj"],
    },
    {
        "code": "XA-CHIENG-PAN",
        "name": "Đài truyền thanh xã Chiềng Pằn",
        "kind": StationKind.commune,
        "parent_code": "TINH-SON-LA",
        "languages": ["vie", "blt", "hnj"],
    },
]

# Villages of the sample commune, tagged with the language spoken there.
CLUSTERS = [
    ("BAN-NA-VIENG", "Cụm loa bản Nà Viềng", ["blt"]),
    ("BAN-PHIENG-HAY", "Cụm loa bản Phiêng Hay", ["blt"]),
    ("BAN-CO-MUON", "Cụm loa bản Co Muông", ["hnj"]),
    ("BAN-HUOI-MA", "Cụm loa bản Huổi Ma", ["hnj"]),
    ("TRUNG-TAM-XA", "Cụm loa trung tâm xã", ["vie"]),
]

# (theme, title, body)
CONTENT = [
    (
        "Dịch vụ công trực tuyến mức độ 3, 4",
        "Nộp hồ sơ trực tuyến mức độ 3, 4",
        "Từ tháng này, bà con có thể nộp hồ sơ đăng ký khai sinh, chứng thực bản sao "
        "và nhiều thủ tục hành chính khác trên Cổng dịch vụ công quốc gia mà không cần "
        "đến trụ sở UBND xã. Khi cần hướng dẫn, bà con liên hệ Bộ phận một cửa xã "
        "trong giờ hành chính từ 7 giờ 30 đến 17 giờ các ngày làm việc.",
    ),
    (
        "Bộ phận một cửa, một cửa liên thông",
        "Bộ phận một cửa xã: ai giúp bà con làm thủ tục",
        "Bộ phận tiếp nhận và trả kết quả của xã có 3 công chức trực thường xuyên. "
        "Mọi khoản phí, lệ phí đều được niêm yết công khai; bà con không phải nộp "
        "thêm bất kỳ khoản nào ngoài quy định. Nếu hồ sơ bị trả chậm, bà con có quyền "
        "được nhận phiếu xin lỗi và hẹn lại ngày trả kết quả.",
    ),
    (
        "Chỉ số PAR INDEX, PCI, PAPI, SIPAS",
        "Góp ý để chính quyền phục vụ tốt hơn",
        "Ý kiến của người dân về sự phục vụ của cơ quan hành chính được tổng hợp hằng năm "
        "trong các chỉ số PAPI và SIPAS. Bà con hãy trả lời phiếu khảo sát trung thực "
        "khi được hỏi, và phản ánh mọi khó khăn khi làm thủ tục qua hòm thư góp ý "
        "đặt tại nhà văn hóa các bản.",
    ),
]


# One account per role. Passwords are drawn afresh on every run and printed:
# no default password exists anywhere.
ACCOUNTS = [
    ("quantri", Role.admin, None, "Quản trị hệ thống"),
    ("kehoach.sonla", Role.planner, "TINH-SON-LA", "Cán bộ Trung tâm Truyền thông tỉnh"),
    ("vanhanh.chiengpan", Role.operator, "XA-CHIENG-PAN", "Cán bộ văn hóa - thông tin xã"),
    ("kiemtra.sonla", Role.auditor, "TINH-SON-LA", "Thanh tra Sở"),
]
DEVICE_NAME = "Bộ thu mẫu bản Nà Viềng"


@dataclass
class DemoAccount:
    """A demo login, with the password drawn for this run."""

    username: str
    role: str
    station: str | None
    password: str


@dataclass
class DemoDevice:
    """The demo device token, shown once."""

    station: str
    cluster: str
    token: str


@dataclass
class DemoAudio:
    """What the demo rendered, assembled and scheduled."""

    bookings: int
    playlists: int
    rendered: int
    programme: str
    programme_seconds: float
    programme_url: str
    recording_language: str
    recording_speaker: str
    airings: int = 0


@dataclass
class DemoSummary:
    """What the demo holds after it is prepared."""

    stations: list[str] = field(default_factory=list)
    clusters: int = 0
    content_items: int = 0
    plan: str | None = None
    accounts: list[DemoAccount] = field(default_factory=list)
    device: DemoDevice | None = None
    audio: DemoAudio | None = None


def _accounts(session: Session) -> list[DemoAccount]:
    accounts = []
    for username, role, station_code, full_name in ACCOUNTS:
        password = secrets.token_urlsafe(9)
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            station = get_station(session, code=station_code) if station_code else None
            create_user(
                session,
                username=username,
                password=password,
                role=role,
                station_id=station.id if station else None,
                full_name=full_name,
            )
        else:
            set_password(session, user=user, password=password)
        accounts.append(DemoAccount(username, role.value, station_code, password))
    return accounts


def _device(session: Session, commune: Station) -> DemoDevice:
    cluster = get_cluster(session, station=commune, code="BAN-NA-VIENG")
    for old in session.exec(select(DeviceToken).where(DeviceToken.name == DEVICE_NAME)):
        revoke_device_token(session, device=old)
    _, token = create_device_token(
        session,
        station_id=commune.id,
        cluster_id=cluster.id,
        name=DEVICE_NAME,
        created_by="demo",
    )
    return DemoDevice(station=commune.code, cluster=cluster.code, token=token)


def _plan(session: Session, commune: Station) -> Plan:
    existing = session.exec(
        select(Plan).where(Plan.station_id == commune.id, Plan.number == "12/KH-UBND")
    ).first()
    if existing:
        return existing
    plan, _ = import_plan(
        session,
        text=SAMPLE_PLAN.read_text(encoding="utf-8"),
        station_id=commune.id,
        author="kehoach.sonla",
    )
    return plan


def _content(session: Session, commune: Station, plan: Plan) -> None:
    facts = station_facts(commune)
    save_template(
        session,
        station_id=commune.id,
        programme=PROGRAMME,
        text=PROGRAMME_TEMPLATE,
        author="kehoach.sonla",
    )
    themes = dict(session.exec(select(Theme.name, Theme.id)).all())
    for theme, title, body in CONTENT:
        if find_content_item(session, title=title, language="vie") is not None:
            continue
        # Written by the planner, approved by someone else, as the station requires.
        item, _, _ = create_content_item(
            session,
            station=facts,
            title=title,
            body=body,
            author="kehoach.sonla",
            programme=PROGRAMME,
            theme_id=themes.get(theme),
            plan_id=plan.id,
        )
        submit_content_item(session, item=item)
        approve_content_item(session, item=item, station=facts, approver="quantri")


def prepare_demo(session: Session) -> DemoSummary:
    """Create the sample stations, clusters, content and accounts; a rerun adds no duplicates.

    Each run draws new passwords for the demo accounts and replaces the demo device token.
    """
    for spec in STATIONS:
        try:
            get_station(session, code=spec["code"])
        except NotFoundError:
            create_station(session, **spec)
    commune = get_station(session, code="XA-CHIENG-PAN")
    known = set(session.exec(select(Cluster.code).where(Cluster.station_id == commune.id)))
    for code, name, zones in CLUSTERS:
        if code not in known:
            add_cluster(session, station=commune, code=code, name=name, zone_tags=zones)
    plan = _plan(session, commune)
    _content(session, commune, plan)
    accounts = _accounts(session)
    device = _device(session, commune)
    session.commit()
    return DemoSummary(
        stations=list(session.exec(select(Station.code).order_by(Station.id))),
        clusters=session.exec(select(func.count()).select_from(Cluster)).one(),
        content_items=session.exec(select(func.count()).select_from(ContentItem)).one(),
        accounts=accounts,
        device=device,
        plan=f"{plan.number} — {plan.title}",
    )


# Three rising notes; commas are escaped because the expression sits inside a filter graph.
JINGLE_NOTES = (
    r"0.4*sin(2*PI*(523.25*between(t\,0\,0.5)+659.25*between(t\,0.5\,1)"
    r"+783.99*gte(t\,1))*t)"
)
RECORDING_TEXT = (
    "Pi noong bản mường thân mến. Tạ nặm nặm, bản mường hạ pển đi. "
    "Ủy ban xã nhận hồ sơ khai sinh qua mạng, pi noong bấu tọ pay xã."
)


def _jingle(store: MediaStore, session: Session, commune: Station) -> AudioAsset:
    source = store.temp_path(".wav")
    try:
        run(
            [
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"aevalsrc={JINGLE_NOTES}:s=44100:d=3",
                "-af",
                "afade=t=out:st=2.2:d=0.8",
                "-ac",
                "1",
                str(source),
            ]
        )
        _, copy = store_upload(
            session,
            store=store,
            upload=source,
            origin=AssetOrigin.jingle,
            settings=render_settings(commune),
            max_seconds=120,
        )
    finally:
        source.unlink(missing_ok=True)
    return copy


def _recording(
    store: MediaStore, session: Session, commune: Station, item: ContentItem
) -> Recording:
    known = session.exec(
        select(Recording).where(Recording.item_id == item.id, Recording.language == "blt")
    ).first()
    if known:
        return known
    # A stand-in for a villager's voice: the southern eSpeak voice, higher pitched.
    voice = Voice(engine="espeak", name="vi-vn-x-south", rate=140, pitch=70)
    speech = shared_engine("espeak").synthesize(RECORDING_TEXT, voice=voice)
    source = store.temp_path(".wav")
    try:
        pcm_to_wav(speech.pcm, dest=source)
        return add_recording(
            session,
            store=store,
            item=item,
            language="blt",
            speaker="Lò Thị Mai (bản ghi mẫu)",
            upload=source,
            filename="ban-ghi-tieng-thai.wav",
            station_id=commune.id,
            uploaded_by="vanhanh.chiengpan",
            settings=render_settings(commune),
        )
    finally:
        source.unlink(missing_ok=True)


def prepare_demo_audio(
    engine: Engine, *, store: MediaStore, base_url: str, on_job: Callable | None = None
) -> DemoAudio:
    """Render the approved items offline, add a Thái recording and assemble the programme."""
    with session_scope(engine, write=True) as session:
        enqueue_approved(session, item_ids=None, created_by="demo")
    rendered = process_queue(engine, store=store, worker="demo", on_job=on_job)
    with session_scope(engine, write=True) as session:
        commune = get_station(session, code="XA-CHIENG-PAN")
        items = list(
            session.exec(
                select(ContentItem)
                .where(ContentItem.station_id == commune.id)
                .order_by(ContentItem.id)
            )
        )
        recording = _recording(store, session, commune, items[0])
        jingle = _jingle(store, session, commune)
        parts = [
            {"kind": "jingle", "sha256": jingle.sha256},
            {"kind": "title"},
            *({"kind": "item", "item_id": item.id} for item in items),
            {"kind": "recording", "recording_id": recording.id},
            {"kind": "jingle", "sha256": jingle.sha256},
        ]
        programme = session.exec(
            select(Programme).where(
                Programme.station_id == commune.id, Programme.title == PROGRAMME
            )
        ).first() or Programme(
            station_id=commune.id,
            title=PROGRAMME,
            created_by="demo",
            target_min_seconds=600,
            target_max_seconds=900,
        )
        programme.parts = parts
        asset = assemble_programme(
            session, store=store, programme=programme, settings=render_settings(commune)
        )
        bookings, playlists = _schedule(session, commune, programme, items[0], base_url)
        airings = _simulate_airings(session, commune, base_url)
        return DemoAudio(
            airings=airings,
            bookings=bookings,
            playlists=playlists,
            rendered=rendered,
            programme=PROGRAMME,
            programme_seconds=asset.duration_s,
            programme_url=f"{base_url}/api/v1/audio/{asset.sha256}",
            recording_language="blt",
            recording_speaker=recording.speaker,
        )


# Two sessions a day as a mountain commune runs them, the evening one on weekdays only.
DEMO_WINDOWS = [
    {"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"},
    {"days": [0, 1, 2, 3, 4], "start": "17:00", "end": "17:45"},
]
DEMO_RELAY = {"kind": "relay", "url": "http://127.0.0.1:8000/demo/vov1", "title": "Tiếp sóng VOV1"}


def _schedule(
    session: Session, commune: Station, programme: Programme, item: ContentItem, base_url: str
) -> tuple[int, int]:
    """Book the weekly programme and the monthly item the sample plan asks for; plan a week."""
    update_station(
        session,
        station=commune,
        changes={
            "windows": DEMO_WINDOWS,
            "max_sessions_per_day": 2,
            "max_minutes_per_session": 60,
            "fallback": DEMO_RELAY,
        },
    )
    today = utcnow().astimezone(ZoneInfo(commune.timezone)).date()
    since = today - timedelta(days=HISTORY_DAYS)
    wanted = [
        Booking(
            station_id=commune.id,
            source="programme",
            programme_id=programme.id,
            title=PROGRAMME,
            at="05:35",
            created_by="kehoach.sonla",
            recurrence=rule_to_json(Recurrence(freq="weekly", start=since, weekdays=(0,))),
        ),
        Booking(
            station_id=commune.id,
            source="relay",
            relay_url=DEMO_RELAY["url"],
            duration_s=900,
            title="Thời sự VOV1 (tiếp sóng)",
            at="06:10",
            created_by="kehoach.sonla",
            recurrence=rule_to_json(Recurrence(freq="daily", start=since)),
        ),
        Booking(
            station_id=commune.id,
            source="item",
            item_id=item.id,
            title=item.title,
            at="17:05",
            pair_languages=True,
            created_by="kehoach.sonla",
            recurrence=rule_to_json(Recurrence(freq="monthly", start=since, nth=-1, weekdays=(4,))),
        ),
    ]
    existing = {
        b.title for b in session.exec(select(Booking).where(Booking.station_id == commune.id))
    }
    for booking in wanted:
        if booking.title not in existing:
            create_booking(session, booking=booking, base_url=base_url, today=today)
    count = regenerate(session, station_ids={commune.id}, today=today, base_url=base_url)
    total = session.exec(select(func.count()).select_from(Booking)).one()
    return total, count


HISTORY_DAYS = 28
# How a month of a mountain commune's receivers goes: mostly aired, a few cut short by
# power cuts, some broken receivers, some that never reported.
DEMO_OUTCOMES = (
    [("aired", None)] * 85
    + [("partial", "mất điện giữa chừng")] * 5
    + [("skipped", "mất điện")] * 3
    + [("failed", "hỏng bộ thu")] * 2
    + [(None, None)] * 5
)


def _simulate_airings(session: Session, commune: Station, base_url: str) -> int:
    """Play out the past weeks as the commune's receivers would have reported them."""
    today = utcnow().astimezone(ZoneInfo(commune.timezone)).date()
    past = [today - timedelta(days=back) for back in range(HISTORY_DAYS, 0, -1)]
    playlists = generate_playlists(session, station=commune, days=past, base_url=base_url)
    clusters = list(session.exec(select(Cluster.code).where(Cluster.station_id == commune.id)))
    records = []
    for playlist in playlists:
        for entry in playlist.body["entries"]:
            if entry["booking_id"] is None:
                continue
            targets = clusters if "*" in entry["clusters"] else entry["clusters"]
            for cluster in targets:
                # The same entry and cluster always get the same story and the same id:
                # running the demo again reports duplicates, never new rows.
                key = f"{commune.code}|{entry['id']}|{cluster}"
                status, reason = random.Random(key).choice(DEMO_OUTCOMES)
                if status is None:
                    continue
                start = datetime.fromisoformat(entry["start"])
                end = datetime.fromisoformat(entry["end"])
                if status == "partial":
                    end = start + (end - start) / 2
                timed = status in ("aired", "partial")
                records.append(
                    AiringIn(
                        id=str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
                        entry_id=entry["id"],
                        cluster=cluster,
                        started_at=start + timedelta(seconds=2) if timed else None,
                        ended_at=end + timedelta(seconds=2) if timed else None,
                        status=status,
                        reason=reason,
                    )
                )
    report = ingest_airings(
        session, station=commune, records=records, source="device", recorded_by="device:demo"
    )
    return len(report.accepted) + len(report.duplicates)
