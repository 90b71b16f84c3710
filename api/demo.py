"""Sample data written for this project, so a new install has something true to show."""

from dataclasses import dataclass, field

from sqlmodel import Session, func, select

from content.models import ContentItem, ContentStatus
from content.service import create_content_item, find_content_item
from core.errors import NotFoundError
from scheduler.models import Cluster, Station, StationKind
from scheduler.service import add_cluster, create_station, get_station

PROGRAMME = "Chuyên mục Cải cách hành chính"

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

CONTENT = [
    (
        "Nộp hồ sơ trực tuyến mức độ 3, 4",
        "Từ tháng này, bà con có thể nộp hồ sơ đăng ký khai sinh, chứng thực bản sao "
        "và nhiều thủ tục hành chính khác trên Cổng dịch vụ công quốc gia mà không cần "
        "đến trụ sở UBND xã. Khi cần hướng dẫn, bà con liên hệ Bộ phận một cửa xã "
        "trong giờ hành chính từ 7 giờ 30 đến 17 giờ các ngày làm việc.",
    ),
    (
        "Bộ phận một cửa xã: ai giúp bà con làm thủ tục",
        "Bộ phận tiếp nhận và trả kết quả của xã có 3 công chức trực thường xuyên. "
        "Mọi khoản phí, lệ phí đều được niêm yết công khai; bà con không phải nộp "
        "thêm bất kỳ khoản nào ngoài quy định. Nếu hồ sơ bị trả chậm, bà con có quyền "
        "được nhận phiếu xin lỗi và hẹn lại ngày trả kết quả.",
    ),
    (
        "Góp ý để chính quyền phục vụ tốt hơn",
        "Ý kiến của người dân về sự phục vụ của cơ quan hành chính được tổng hợp hằng năm "
        "trong các chỉ số PAPI và SIPAS. Bà con hãy trả lời phiếu khảo sát trung thực "
        "khi được hỏi, và phản ánh mọi khó khăn khi làm thủ tục qua hòm thư góp ý "
        "đặt tại nhà văn hóa các bản.",
    ),
]


@dataclass
class DemoSummary:
    """What the demo holds after it is prepared."""

    stations: list[str] = field(default_factory=list)
    clusters: int = 0
    content_items: int = 0


def prepare_demo(session: Session) -> DemoSummary:
    """Create the sample stations, clusters and content; running it again adds nothing."""
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
    for title, body in CONTENT:
        if find_content_item(session, title=title, language="vie") is None:
            create_content_item(
                session,
                title=title,
                body=body,
                programme=PROGRAMME,
                status=ContentStatus.approved,
            )
    session.commit()
    return DemoSummary(
        stations=list(session.exec(select(Station.code).order_by(Station.id))),
        clusters=session.exec(select(func.count()).select_from(Cluster)).one(),
        content_items=session.exec(select(func.count()).select_from(ContentItem)).one(),
    )
