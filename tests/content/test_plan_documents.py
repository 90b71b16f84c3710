"""Plans of every level as text, PDF and Word: the same facts from each; bad files refused."""

import io

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from content.documents import UnreadableDocumentError, document_text
from content.importer import ParsedPlan, parse_plan
from content.repair import _vocabulary, repair_text
from tests.content.plan_files import (
    FONTS,
    break_lines,
    damaged_docx,
    damaged_pdf,
    drop_letters,
    locked_pdf,
    plan_docx,
    plan_pdf,
    read_plan,
    scanned_pdf,
)

Summary = tuple[str, str | None, int | None, int | None, list[str], str | None]

# Six plans written for these tests: a province department, a district, a commune, a ward,
# a district office and a township; numbered and not; requirements in the body, as duties, or both.
DOCUMENTS: dict[str, dict] = {
    "ke-hoach-so-tttt-quang-tri-2025.txt": {
        "number": "152/KH-STTTT",
        "issuer": "Sở Thông tin và Truyền thông",
        "level": "province",
        "year": 2025,
        "themes": [
            "Lợi ích của tài khoản định danh điện tử VNeID mức độ 2 đối với người dân",
            "Thanh toán không dùng tiền mặt khi nộp phí, lệ phí thủ tục hành chính",
            "Cảnh giác với các thủ đoạn lừa đảo trên không gian mạng",
            "Hoạt động của Tổ công nghệ số cộng đồng ở thôn, bản, khu phố",
        ],
        "requirements": [
            ("provincial_station", "weekly", 15, 15, ["vie"], "Đài Phát thanh và Truyền hình tỉnh"),
            (
                "commune_loudspeaker",
                "monthly",
                5,
                7,
                ["vie", "und"],
                "UBND các xã, phường, thị trấn",
            ),
            (
                "web_portal",
                "continuous",
                None,
                None,
                ["vie"],
                "Trung tâm Công nghệ thông tin và Truyền thông",
            ),
            # Duties: the station's own monthly reports, and the districts' relay.
            (
                "provincial_station",
                "monthly",
                None,
                None,
                ["vie"],
                "Đài Phát thanh và Truyền hình tỉnh",
            ),
            ("relay", "weekly", None, None, ["vie"], "UBND các huyện, thị xã, thành phố"),
        ],
    },
    "ke-hoach-huyen-da-bac-2025.txt": {
        "number": "45/KH-UBND",
        "issuer": "Ủy ban nhân dân huyện Đà Bắc",
        "level": "district",
        "year": 2025,
        "themes": [
            "Kết quả cải cách thủ tục hành chính và chỉ số hài lòng của người dân năm 2024",
            "Thực hiện thủ tục hành chính trên môi trường điện tử, thanh toán trực tuyến",
            "Trách nhiệm người đứng đầu trong cải cách hành chính",
        ],
        "requirements": [
            (
                "district_station",
                "weekly",
                10,
                10,
                ["vie"],
                "Trung tâm Văn hóa - Thông tin - Thể thao huyện",
            ),
            (
                "relay",
                "daily",
                None,
                None,
                ["vie"],
                "Trung tâm Văn hóa - Thông tin - Thể thao huyện",
            ),
            ("commune_loudspeaker", "weekly", None, None, ["vie", "mtq"], "UBND các xã, thị trấn"),
        ],
    },
    "ke-hoach-xa-tan-phong-2025.txt": {
        "number": None,
        "issuer": "Ủy ban nhân dân xã Tân Phong",
        "level": "commune",
        "year": 2025,
        "themes": [
            "Dấu hiệu nhận biết lũ quét, sạt lở đất ở vùng đồi núi",
            "Phương án sơ tán người và tài sản khi có mưa lớn kéo dài",
            "Chính sách hỗ trợ hộ gia đình bị thiệt hại do thiên tai",
        ],
        "requirements": [
            ("commune_loudspeaker", "daily", None, 10, ["vie", "mtq"], None),
            ("relay", "daily", None, None, ["vie"], None),
            ("meeting", "monthly", None, None, ["vie"], None),
            ("print", "once", None, None, ["vie"], None),
        ],
    },
    "ke-hoach-phuong-hoa-khanh-bac-2024.txt": {
        "number": "31/KH-UBND",
        "issuer": "Ủy ban nhân dân phường Hòa Khánh Bắc",
        "level": "commune",
        "year": 2024,
        "themes": [
            "Quy định về phân loại rác thải sinh hoạt tại nguồn",
            "Quy tắc ứng xử nơi công cộng của thành phố",
            "Đăng ký tạm trú trực tuyến cho người lao động ở trọ",
        ],
        "requirements": [
            ("commune_loudspeaker", "weekly", 15, 20, ["vie"], "Tổ truyền thanh phường"),
            ("web_portal", "continuous", None, None, ["vie"], "Văn phòng HĐND và UBND phường"),
            ("meeting", "monthly", None, None, ["vie"], "Tổ trưởng tổ dân phố"),
            ("relay", "daily", None, None, ["vie"], "Tổ truyền thanh phường"),
        ],
    },
    "ke-hoach-phong-vhtt-krong-ana-2024.txt": {
        "number": "09/KH-VHTT",
        "issuer": "Phòng Văn hóa và Thông tin",
        "level": "district",
        "year": 2024,
        "themes": [
            "Luật Trẻ em và các quyền cơ bản của trẻ em",
            "Cách nhận biết, phòng ngừa xâm hại, bạo lực đối với trẻ em trên môi trường mạng",
            "Tổng đài quốc gia bảo vệ trẻ em 111",
        ],
        "requirements": [
            (
                "district_station",
                "weekly",
                15,
                15,
                ["vie"],
                "Trung tâm Văn hóa - Thông tin và Thể thao huyện",
            ),
            ("relay", None, None, None, ["vie"], "Trung tâm Văn hóa - Thông tin và Thể thao huyện"),
            ("commune_loudspeaker", "weekly", None, None, ["vie", "rad"], "UBND các xã, thị trấn"),
        ],
    },
    "ke-hoach-thi-tran-tam-duong-2025.txt": {
        "number": None,
        "issuer": "Ủy ban nhân dân thị trấn Tam Đường",
        "level": "commune",
        "year": 2025,
        "themes": [
            "Các dịch vụ công trực tuyến toàn trình của thị trấn",
            "Cách cài đặt và sử dụng ứng dụng VNeID",
            "Điểm hỗ trợ nộp hồ sơ miễn phí tại Bộ phận một cửa",
        ],
        "requirements": [
            (
                "commune_loudspeaker",
                "weekly",
                10,
                None,
                ["vie", "ium"],
                "Công chức Văn hóa - Xã hội thị trấn",
            ),
            ("other", "continuous", None, None, ["vie"], "Văn phòng - Thống kê thị trấn"),
            ("relay", "daily", None, None, ["vie"], "Đài truyền thanh thị trấn"),
            # The Sunday rerun the duties add to the body's twice-weekly bulletin.
            ("commune_loudspeaker", "weekly", None, None, ["vie"], "Đài truyền thanh thị trấn"),
        ],
    },
}


def _summary(plan: ParsedPlan) -> dict:
    return {
        "number": plan.number,
        "issuer": plan.issuer,
        "level": plan.level,
        "year": plan.year,
        "themes": [theme.title for theme in plan.themes],
        "requirements": [
            (r.channel, r.cadence, r.minutes_min, r.minutes_max, r.languages, r.lead_agency)
            for r in plan.requirements
        ],
    }


@pytest.mark.parametrize("name", DOCUMENTS)
def test_each_plan_text_gives_its_facts(name: str) -> None:
    assert _summary(parse_plan(read_plan(name))) == DOCUMENTS[name]


FORMS = {
    "PDF": plan_pdf,
    "PDF with a running footer": lambda text: plan_pdf(text, footer="Kế hoạch - bản chính thức"),
    "Word": plan_docx,
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", DOCUMENTS)
def test_pdf_and_word_forms_give_the_same_plan_as_the_text(name: str, form: str) -> None:
    text = read_plan(name)
    read = document_text(FORMS[form](text))
    assert parse_plan(read) == parse_plan(text)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_each_duty_requirement_keeps_its_agency_and_sentence(name: str) -> None:
    plan = parse_plan(read_plan(name))
    for r in plan.requirements:
        assert r.text.endswith(".") and "\n" not in r.text
        if r.lead_agency and r.text.startswith(f"{r.lead_agency}:"):
            assert r.channel in (
                "provincial_station",
                "district_station",
                "commune_loudspeaker",
                "relay",
            )


def test_the_issues_duties_are_a_weekly_programme_and_a_relay() -> None:
    plan = parse_plan(read_plan("ke-hoach-huyen-da-bac-2025.txt"))
    weekly, relay, _ = plan.requirements
    assert "thời gian hằng tuần để phát nội dung tuyên truyền" in weekly.text
    assert "Tiếp phát sóng đầy đủ các chương trình thời sự" in relay.text
    # Checking someone else's relay is a duty, not a requirement to broadcast.
    assert not any("kiểm tra" in r.text for r in plan.requirements)


def test_numbered_word_lists_get_their_numbers_back() -> None:
    document = docx.Document()
    document.add_paragraph("Mục một", style="List Number")
    document.add_paragraph("Mục hai", style="List Number")
    document.add_paragraph("Gạch đầu dòng", style="List Bullet")
    out = io.BytesIO()
    document.save(out)
    assert document_text(out.getvalue()).split("\n") == [
        "1. Mục một",
        "2. Mục hai",
        "- Gạch đầu dòng",
    ]


# Files that cannot be read


BAD_FILES = {
    "scanned PDF": (scanned_pdf, "bản quét"),
    "PDF locked with a password": (locked_pdf, "mật khẩu"),
    "damaged PDF": (damaged_pdf, "PDF bị hỏng"),
    "damaged Word file": (damaged_docx, ".docx bị hỏng"),
    "old Word .doc": (lambda: bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 600, ".doc"),
    "UTF-16 text": (lambda: "KẾ HOẠCH".encode("utf-16"), "UTF-8"),
    "8-bit legacy text": (lambda: "Kê hoach tuyên truyên".encode("latin-1"), "UTF-8"),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_unreadable_files_are_refused_with_one_vietnamese_sentence(kind: str) -> None:
    make, words = BAD_FILES[kind]
    with pytest.raises(UnreadableDocumentError) as refused:
        document_text(make())
    assert refused.value.status == 422
    assert words in refused.value.detail
    assert refused.value.detail.endswith(".") and "\n" not in refused.value.detail


def test_a_pdf_locked_only_against_editing_is_read() -> None:
    reader = PdfReader(io.BytesIO(plan_pdf(read_plan("ke-hoach-xa-tan-phong-2025.txt"))))
    writer = PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.encrypt(user_password="", owner_password="chu-so-huu", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    assert parse_plan(document_text(out.getvalue())).issuer == "Ủy ban nhân dân xã Tân Phong"


def test_the_font_draws_every_vietnamese_letter() -> None:
    assert (FONTS / "BeVietnamPro-Regular.ttf").is_file()


# Text damaged by extraction


def _core(plan: ParsedPlan) -> tuple:
    """What a damaged plan must still give: its number, year and each requirement's terms."""
    return (
        plan.number,
        plan.year,
        len(plan.themes),
        [(r.channel, r.cadence, r.minutes_min, r.minutes_max) for r in plan.requirements],
    )


DAMAGES = {
    "dropped letters": drop_letters,
    "broken lines": lambda text: break_lines(text, syllable=_vocabulary().is_syllable),
    "both": lambda text: break_lines(drop_letters(text), syllable=_vocabulary().is_syllable),
    "a justified PDF that lost letters": lambda text: document_text(plan_pdf(drop_letters(text))),
}


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("name", DOCUMENTS)
def test_damaged_text_still_gives_the_plans_terms(name: str, damage: str) -> None:
    text = read_plan(name)
    damaged = DAMAGES[damage](text)
    assert damaged != text
    assert _core(parse_plan(damaged)) == _core(parse_plan(text))


@pytest.mark.parametrize("name", DOCUMENTS)
def test_broken_lines_alone_are_repaired_completely(name: str) -> None:
    text = read_plan(name)
    assert _summary(parse_plan(DAMAGES["broken lines"](text))) == DOCUMENTS[name]


def test_dropped_letters_come_back_where_the_word_list_allows_one_reading() -> None:
    repaired = repair_text("Phối hợp với Ph ng Văn h a và Thông tin của thành ph\n")
    assert repaired.text == "Phối hợp với Phòng Văn hóa và Thông tin của thành phố\n"
    assert [(r.original, r.repaired) for r in repaired.repairs] == [
        ("Ph ng", "Phòng"),
        ("h a", "hóa"),
        ("ph", "phố"),
    ]


def test_an_ambiguous_word_is_left_as_it_came() -> None:
    # "H a Khánh" may be Hòa Khánh or Hóa Khánh: no word list can tell a place name.
    assert repair_text("Ủy ban nhân dân phường H a Khánh\n").text == (
        "Ủy ban nhân dân phường H a Khánh\n"
    )


def test_a_word_broken_across_lines_is_joined() -> None:
    repaired = repair_text("Đẩy mạnh tuyên truy\nền cải cách hành chính\n")
    assert repaired.text == "Đẩy mạnh tuyên truyền\n cải cách hành chính\n"
    assert [(r.original, r.repaired) for r in repaired.repairs] == [("truy / ền", "truyền")]


def test_running_footers_and_page_numbers_of_a_pdf_are_dropped() -> None:
    text = read_plan("ke-hoach-huyen-da-bac-2025.txt")
    pdf = plan_pdf(text, footer="Kế hoạch 45/KH-UBND của UBND huyện Đà Bắc")
    read = document_text(pdf)
    assert read.count("Kế hoạch 45/KH-UBND của UBND huyện Đà Bắc") >= 2
    repaired = repair_text(read)
    assert "Kế hoạch 45/KH-UBND của UBND huyện Đà Bắc" not in repaired.text
    assert parse_plan(read) == parse_plan(text)


@pytest.mark.parametrize("name", [*DOCUMENTS, "ke-hoach-xa-na-luu-2024.txt"])
def test_clean_plans_are_not_repaired(name: str) -> None:
    assert repair_text(read_plan(name)).repairs == []
