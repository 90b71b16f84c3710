"""Sample data written for this project, so a new install has something true to show."""

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, func, select

from content.models import ContentItem, Plan, Theme
from content.service import (
    approve_content_item,
    create_content_item,
    find_content_item,
    import_plan,
    save_template,
    submit_content_item,
)
from core.errors import NotFoundError
from core.identity import create_device_token, create_user, revoke_device_token, set_password
from core.models import DeviceToken, Role, User
from scheduler.models import Cluster, Station, StationKind
from scheduler.service import (
    add_cluster,
    create_station,
    get_cluster,
    get_station,
    station_facts,
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
class DemoSummary:
    """What the demo holds after it is prepared."""

    stations: list[str] = field(default_factory=list)
    clusters: int = 0
    content_items: int = 0
    plan: str | None = None
    accounts: list[DemoAccount] = field(default_factory=list)
    device: DemoDevice | None = None


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
