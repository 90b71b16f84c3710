"""The plan importer: seed plans, sample plans, refusals, wording tables and messy input."""

import datetime
import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from content.importer import (
    CADENCES,
    CHANNELS,
    ETHNIC_UNSPECIFIED,
    NotAPlanError,
    ParsedPlan,
    ParsedRequirement,
    parse_plan,
    plan_to_dict,
)

PLANS = Path(__file__).parent / "plans"
SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
SEED_NAMES = [
    "ke-hoach-long-an-2021.txt",
    "ke-hoach-yen-chau-2021.md",
    "ke-hoach-lien-minh-2022.txt",
]

Summary = tuple[str, str | None, int | None, int | None, list[str], str | None]


def _seed(name: str) -> ParsedPlan:
    path = SEEDS / name
    if not path.is_file():
        pytest.skip("../shared/seeds is not beside the checkout")
    return parse_plan(path.read_text(encoding="utf-8"))


def _sample(name: str) -> str:
    return (PLANS / name).read_text(encoding="utf-8")


def _summary(requirement: ParsedRequirement) -> Summary:
    r = requirement
    return (r.channel, r.cadence, r.minutes_min, r.minutes_max, r.languages, r.lead_agency)


def _titles(plan: ParsedPlan) -> list[str]:
    return [theme.title for theme in plan.themes]


# Seed plans (real documents from ../shared/seeds)


def test_yen_chau_has_the_weekly_district_programme_and_monthly_village_loudspeakers() -> None:
    plan = _seed("ke-hoach-yen-chau-2021.md")
    assert plan.year == 2021
    assert "cải cách hành chính" in plan.title.lower()
    weekly = [
        r
        for r in plan.requirements
        if (r.channel, r.cadence, r.minutes_min, r.minutes_max)
        == ("district_station", "weekly", 10, 15)
    ]
    assert len(weekly) == 1
    assert weekly[0].lead_agency == "Trung tâm Truyền thông và Văn hóa"
    assert "Một tuần một lần" in weekly[0].text
    assert "Cải cách hành chính" in weekly[0].text
    monthly = [
        r for r in plan.requirements if (r.channel, r.cadence) == ("commune_loudspeaker", "monthly")
    ]
    assert len(monthly) == 1
    assert monthly[0].languages == ["vie", ETHNIC_UNSPECIFIED]
    assert monthly[0].lead_agency == "UBND các xã, thị trấn"
    assert "tiếng Dân tộc" in monthly[0].text


def test_yen_chau_header_facts_do_not_come_from_the_plans_it_cites() -> None:
    plan = _seed("ke-hoach-yen-chau-2021.md")
    assert plan.number is None  # 36/KH-UBND is the province's plan, cited as legal basis
    assert plan.date is None
    assert plan.title == "Tuyên truyền cải cách hành chính năm 2021"
    assert plan.issuer == "Ủy ban nhân dân huyện Yên Châu"
    assert plan.level == "district"
    assert plan.legal_basis == [
        "Kế hoạch số 36/KH-UBND ngày 26/01/2021 của Ủy ban nhân dân tỉnh về việc tuyên truyền "
        "cải cách hành chính tỉnh Sơn La năm 2021",
        "Quyết định số 31/QĐ-UBND ngày 12/01/2021 của Chủ tịch UBND huyện ban hành Kế hoạch "
        "Cải cách hành chính huyện Yên Châu năm 2021",
    ]
    titles = _titles(plan)
    assert len(titles) == 4
    assert titles[0].startswith("Tuyên truyền các nội dung CCHC trong nội bộ")
    assert titles[3].startswith("Tổ chức tập huấn, bồi dưỡng")
    assert [_summary(r)[:2] for r in plan.requirements] == [
        ("other", "continuous"),
        ("district_station", "weekly"),
        ("web_portal", "continuous"),
        ("web_portal", "continuous"),
        ("district_station", "weekly"),
        ("commune_loudspeaker", "monthly"),
        ("print", "once"),
        ("training", "once"),
    ]


def test_long_an_is_a_provincial_plan_with_an_unfilled_date() -> None:
    plan = _seed("ke-hoach-long-an-2021.txt")
    assert plan.number is None  # the document carries no "Số:" line
    assert plan.date is None  # "Long An, ngày    tháng    năm 2021" was never filled in
    assert plan.year == 2021
    assert plan.issuer == "Ủy ban nhân dân tỉnh Long An"
    assert plan.level == "province"
    assert plan.title == (
        "Tuyên truyền công tác cải cách hành chính năm 2021 trên địa bàn tỉnh Long An"
    )
    assert plan.legal_basis == [
        "Quyết định số 4963/QĐ-UBND ngày 28/12/2020 của UBND tỉnh về việc ban hành Kế hoạch "
        "công tác cải cách hành chính năm 2021"
    ]
    titles = _titles(plan)
    assert len(titles) == 7
    assert titles[0] == "Quán triệt nội dung, kế hoạch thực hiện công tác CCHC năm 2021"
    assert titles[-1] == "Tuyên truyền về Quy chế thực hiện dân chủ ở xã, phường, thị trấn"
    station = "Đài Phát thanh và Truyền hình tỉnh"
    assert [_summary(r) for r in plan.requirements] == [
        ("other", "continuous", None, None, ["vie"], "Các sở, ngành tỉnh, UBND cấp huyện, cấp xã"),
        ("provincial_station", None, None, None, ["vie"], station),
        ("newspaper", "monthly", None, None, ["vie"], "Báo Long An"),
        ("newspaper", "continuous", None, None, ["vie"], "Báo Long An"),
        ("meeting", "quarterly", None, None, ["vie"], f"Báo Long An, {station}"),
        ("print", "continuous", None, None, ["vie"], "Các sở, ngành tỉnh, UBND cấp huyện"),
    ]


def test_lien_minh_is_a_commune_plan_with_themes_and_forms_in_one_section() -> None:
    plan = _seed("ke-hoach-lien-minh-2022.txt")
    assert plan.number is None  # 169/KH-UBND belongs to the district plan it implements
    assert plan.date is None
    assert plan.year == 2022
    assert plan.issuer == "Ủy ban nhân dân xã Liên Minh"
    assert plan.level == "commune"
    assert plan.title == "Tuyên truyền cải cách hành chính xã Liên Minh năm 2022"
    assert plan.legal_basis == [
        "Kế hoạch số 169/KH-UBND ngày 24/01/2022 của UBND huyện Đức Thọ về tuyên truyền cải "
        "cách hành chính huyện năm 2022"
    ]
    titles = _titles(plan)
    assert len(titles) == 7
    assert (
        titles[1] == "Các quan điểm, chủ trương của Đảng, chính sách pháp luật của Nhà nước về CCHC"
    )
    assert [_summary(r)[:2] for r in plan.requirements] == [
        ("web_portal", "continuous"),
        ("commune_loudspeaker", None),
        ("commune_loudspeaker", None),
        ("print", None),
        ("meeting", None),
        ("training", None),
        ("meeting", None),
        ("meeting", "monthly"),
        ("other", None),
    ]
    assert "Truyền thanh cở sở" in plan.requirements[2].text


@pytest.mark.parametrize("name", SEED_NAMES)
def test_every_seed_yields_a_sensible_plan(name: str) -> None:
    plan = _seed(name)
    assert plan.title and plan.issuer and plan.level and plan.year
    assert plan.themes and all(theme.title for theme in plan.themes)
    assert plan.requirements
    for r in plan.requirements:
        assert r.channel in CHANNELS
        assert r.cadence is None or r.cadence in CADENCES
        assert r.languages[0] == "vie"
        assert r.text and "\n" not in r.text and "*" not in r.text
    json.dumps(plan_to_dict(plan), ensure_ascii=False)


# Sample plans written for these tests


SAMPLES: dict[str, dict] = {
    "ke-hoach-xa-na-luu-2024.txt": {
        "plan": {
            "number": "08/KH-UBND",
            "title": "Tuyên truyền cải cách hành chính trên hệ thống loa truyền thanh xã Nà Lừu "
            "năm 2024",
            "issuer": "Ủy ban nhân dân xã Nà Lừu",
            "level": "commune",
            "date": "2024-01-15",
            "year": 2024,
            "legal_basis": [
                "Kế hoạch số 112/KH-UBND ngày 28/12/2023 của UBND huyện về tuyên truyền cải cách "
                "hành chính năm 2024"
            ],
            "themes": [
                "Các thủ tục hành chính người dân hay làm ở xã: đăng ký khai sinh, khai tử, "
                "chứng thực bản sao",
                "Cách nộp hồ sơ trực tuyến qua Cổng Dịch vụ công quốc gia",
                "Quyền của người dân khi bị chậm trả kết quả",
                "Nhận kết quả thủ tục tại nhà qua dịch vụ bưu chính công ích",
            ],
        },
        "requirements": [
            (
                "commune_loudspeaker",
                "weekly",
                10,
                15,
                ["vie", "blt", "hnj"],
                "Công chức Văn hóa - Xã hội",
            ),
            ("relay", "daily", None, None, ["vie"], "Tổ truyền thanh xã"),
            ("meeting", "quarterly", None, None, ["vie"], "Trưởng các bản"),
            ("print", "once", None, None, ["vie"], "Văn phòng HĐND và UBND xã"),
        ],
        "texts": {
            0: "Chuyên mục CCHC trên hệ thống loa truyền thanh của xã. Thời gian: Sáng thứ Bảy "
            "hàng tuần, mỗi lần từ 10 đến 15 phút. Ở các bản có đông đồng bào Thái và Mông, "
            "chuyên mục được phát lại bằng tiếng Thái, tiếng Mông do người có uy tín trong bản "
            "đọc và thu âm.",
            2: "Lồng ghép nội dung CCHC tại các cuộc họp bản. Thời gian: Định kỳ hàng quý.",
        },
    },
    "ke-hoach-tinh-soc-trang-2023.md": {
        "plan": {
            "number": "45/KH-UBND",
            "title": "Tuyên truyền cải cách hành chính năm 2023",
            "issuer": "Ủy ban nhân dân tỉnh Sóc Trăng",
            "level": "province",
            "date": "2023-02-10",
            "year": 2023,
            "legal_basis": [
                "Quyết định số 120/QĐ-UBND ngày 05/01/2023 của Ủy ban nhân dân tỉnh ban hành Kế "
                "hoạch cải cách hành chính năm 2023",
                "Kế hoạch số 15/KH-SNV ngày 18/01/2023 của Sở Nội vụ về theo dõi, đánh giá cải "
                "cách hành chính",
            ],
            "themes": [
                "Dịch vụ công trực tuyến toàn trình: hướng dẫn tạo tài khoản, nộp hồ sơ và thanh "
                "toán trực tuyến",
                "Bộ phận một cửa các cấp",
                "Kết quả Chỉ số CCHC (PAR INDEX), PCI, PAPI và SIPAS của tỉnh năm 2022",
                "Văn hóa công vụ và trách nhiệm của người đứng đầu",
            ],
        },
        "requirements": [
            (
                "provincial_station",
                "monthly",
                30,
                30,
                ["vie", "khm"],
                "Đài Phát thanh và Truyền hình tỉnh",
            ),
            ("newspaper", "monthly", None, None, ["vie"], "Báo Sóc Trăng"),
            ("web_portal", "continuous", None, None, ["vie"], "Văn phòng UBND tỉnh"),
            ("meeting", "quarterly", None, None, ["vie"], "Sở Nội vụ"),
            ("relay", "weekly", None, None, ["vie"], "UBND các xã, phường, thị trấn"),
        ],
        "texts": {
            0: "Chương trình “Cải cách hành chính” trên Đài Phát thanh và Truyền hình tỉnh. "
            "Thời gian: Hằng tháng, mỗi chương trình 30 phút. Ngôn ngữ: Phát song ngữ Việt - "
            "Khmer.",
        },
    },
    "ke-hoach-huyen-muong-khuong-2022.txt": {
        "plan": {
            "number": "27/KH-UBND",
            "title": "Thông tin, tuyên truyền cải cách hành chính trên địa bàn huyện năm 2022",
            "issuer": "Ủy ban nhân dân huyện Mường Khương",
            "level": "district",
            "date": "2022-03-03",
            "year": 2022,
            "legal_basis": [
                "Kế hoạch số 52/KH-UBND ngày 14/02/2022 của UBND tỉnh về tuyên truyền cải cách "
                "hành chính năm 2022"
            ],
            "themes": [
                "Kết quả thực hiện cơ chế một cửa, một cửa liên thông tại Trung tâm Hành chính "
                "công huyện và Bộ phận tiếp nhận và trả kết quả các xã",
                "Dịch vụ công trực tuyến mức độ 3, 4",
                "Những gương cán bộ, công chức tận tụy phục vụ nhân dân",
            ],
        },
        "requirements": [
            (
                "district_station",
                "weekly",
                15,
                15,
                ["vie"],
                "Đài Truyền thanh - Truyền hình huyện",
            ),
            (
                "commune_loudspeaker",
                "daily",
                None,
                10,
                ["vie", "hnj", "ium"],
                "UBND các xã, thị trấn",
            ),
            ("web_portal", "continuous", None, None, ["vie"], "Văn phòng HĐND và UBND huyện"),
            ("training", "yearly", None, None, ["vie"], "Phòng Văn hóa và Thông tin"),
        ],
        "texts": {
            1: "Phát trên hệ thống loa truyền thanh các xã, thị trấn. Thời gian: Mỗi ngày một "
            "buổi, tối đa 10 phút. Nội dung: tin ngắn về thủ tục hành chính, phát bằng tiếng Việt "
            "và tiếng H'Mông, Dao ở các thôn vùng cao.",
        },
    },
}


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_plans_parse_to_the_expected_structure(name: str) -> None:
    expected = SAMPLES[name]
    parsed = plan_to_dict(parse_plan(_sample(name)))
    requirements = parsed.pop("requirements")
    assert parsed == {
        **expected["plan"],
        "themes": [{"title": t} for t in expected["plan"]["themes"]],
    }
    keys = ("channel", "cadence", "minutes_min", "minutes_max", "languages", "lead_agency")
    summaries = [tuple(r[key] for key in keys) for r in requirements]
    assert summaries == expected["requirements"]
    for index, text in expected["texts"].items():
        assert requirements[index]["text"] == text


def test_plan_to_dict_is_json_ready_with_the_documented_keys() -> None:
    data = plan_to_dict(parse_plan(_sample("ke-hoach-xa-na-luu-2024.txt")))
    assert list(data) == [
        "number",
        "title",
        "issuer",
        "level",
        "date",
        "year",
        "legal_basis",
        "themes",
        "requirements",
    ]
    assert list(data["requirements"][0]) == [
        "channel",
        "cadence",
        "minutes_min",
        "minutes_max",
        "languages",
        "lead_agency",
        "text",
    ]
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data


def test_organisation_duties_such_as_quarterly_reports_are_not_requirements() -> None:
    plan = parse_plan(_sample("ke-hoach-tinh-soc-trang-2023.md"))
    assert not any("báo cáo" in r.text for r in plan.requirements)


# Documents that are not plans


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("not-a-plan-empty.txt", "Tài liệu trống"),
        ("not-a-plan-news.txt", "Không tìm thấy tiêu đề “KẾ HOẠCH”"),
        ("not-a-plan-random.txt", "Không tìm thấy tiêu đề “KẾ HOẠCH”"),
        ("not-a-plan-invitation.md", "Tài liệu là giấy mời"),
        ("not-a-plan-title-only.txt", "không có các phần mục đích, nội dung"),
    ],
)
def test_documents_that_are_not_plans_are_refused_with_a_reason(name: str, reason: str) -> None:
    with pytest.raises(NotAPlanError) as refused:
        parse_plan(_sample(name))
    _assert_one_vietnamese_sentence(str(refused.value), reason)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (" \r\n\t\n\f ", "Tài liệu trống"),
        ("Lorem ipsum dolor sit amet, consectetur adipiscing elit.", "Không tìm thấy"),
        ("BÁO CÁO\nKết quả tuyên truyền cải cách hành chính quý I năm 2024\n", "là báo cáo"),
        (
            "KẾ HOẠCH\nTuyên truyền năm 2024\n\nI. MỤC ĐÍCH, YÊU CẦU\nNâng cao hiểu biết.\n"
            "II. TỔ CHỨC THỰC HIỆN\nCác ban, ngành thực hiện.\n",
            "không nêu nội dung tuyên truyền",
        ),
    ],
)
def test_refusals_of_inline_documents(text: str, reason: str) -> None:
    with pytest.raises(NotAPlanError) as refused:
        parse_plan(text)
    _assert_one_vietnamese_sentence(str(refused.value), reason)


def _assert_one_vietnamese_sentence(message: str, reason: str) -> None:
    assert reason in message
    assert message.endswith(".") and "\n" not in message
    assert message.count(". ") == 0


# Wording tables: channels, cadences, minutes and languages


def _plan_with(
    form_item: str, time: str = "Thường xuyên.", header: str = "UBND HUYỆN YÊN BÌNH"
) -> ParsedPlan:
    """A minimal plan whose form part holds one item."""
    return parse_plan(
        f"{header}\n\nKẾ HOẠCH\nTuyên truyền cải cách hành chính năm 2025\n\n"
        "I. NỘI DUNG TUYÊN TRUYỀN\n1. Dịch vụ công trực tuyến.\n\n"
        f"II. HÌNH THỨC TUYÊN TRUYỀN\n1. {form_item}\n" + (f"- Thời gian: {time}\n" if time else "")
    )


@pytest.mark.parametrize(
    ("item", "channels"),
    [
        ("Bản tin trên Đài Truyền thanh - Truyền hình huyện", ["district_station"]),
        ("Chuyên mục trên Trung tâm Truyền thông và Văn hóa", ["district_station"]),
        ("Chuyên mục trên Đài Phát thanh và Truyền hình tỉnh", ["provincial_station"]),
        ("Phát trên hệ thống loa truyền thanh", ["commune_loudspeaker"]),
        ("Phát trên loa phát thanh xã", ["commune_loudspeaker"]),
        ("Phát trên loa phát thanh ấp", ["commune_loudspeaker"]),
        ("Phát trên loa phát thanh bản", ["commune_loudspeaker"]),
        ("Phát trên Đài truyền thanh xã", ["commune_loudspeaker"]),
        ("Chuyên trang trên Báo Sơn La", ["newspaper"]),
        ("Đăng tải trên Cổng/Trang thông tin điện tử của huyện", ["web_portal"]),
        ("Tổ chức hội nghị phổ biến cho cán bộ", ["meeting"]),
        ("Tổ chức tập huấn cho công chức một cửa", ["training"]),
        ("Phát hành pa nô, áp phích, tờ rơi", ["print"]),
        ("Tiếp sóng chương trình của Đài Phát thanh và Truyền hình tỉnh", ["relay"]),
        ("Tiếp sóng Đài Tiếng nói Việt Nam trên loa các xã", ["relay"]),
        ("Hội nghị, tập huấn và tờ gấp", ["meeting", "training", "print"]),
        ("Tuyên truyền miệng tại gia đình", ["other"]),
    ],
)
def test_channel_wording(item: str, channels: list[str]) -> None:
    assert [r.channel for r in _plan_with(item).requirements] == channels


@pytest.mark.parametrize(
    ("header", "item", "channel"),
    [
        ("UBND TỈNH YÊN BÌNH", "Chuyên mục trên Trung tâm Truyền thông", "provincial_station"),
        ("UBND TỈNH YÊN BÌNH", "Chuyên mục trên Đài PT-TH", "provincial_station"),
        ("UBND HUYỆN YÊN BÌNH", "Chuyên mục trên Đài Truyền thanh", "district_station"),
        ("UBND XÃ YÊN BÌNH", "Chuyên mục trên Đài Truyền thanh", "commune_loudspeaker"),
        ("UBND XÃ YÊN BÌNH", "Bản tin của Trung tâm Văn hóa", "district_station"),
    ],
)
def test_an_unqualified_station_is_the_issuers_own(header: str, item: str, channel: str) -> None:
    [requirement] = _plan_with(item, header=header).requirements
    assert requirement.channel == channel


@pytest.mark.parametrize(
    ("time", "cadence"),
    [
        ("Hàng tuần.", "weekly"),
        ("Hằng tuần, sáng thứ Hai.", "weekly"),
        ("Một tuần một lần.", "weekly"),
        ("2 lần/tuần.", "weekly"),
        ("Hàng tháng.", "monthly"),
        ("Hằng tháng.", "monthly"),
        ("Mỗi tháng 02 số.", "monthly"),
        ("Định kỳ hàng quý.", "quarterly"),
        ("3 tháng/lần.", "quarterly"),
        ("Thường xuyên trong năm.", "continuous"),
        ("Hàng năm.", "yearly"),
        ("Mỗi ngày.", "daily"),
        ("Hằng ngày, sáng và chiều.", "daily"),
        ("Trong năm 2025.", "once"),
        ("Trong quý II năm 2025.", "once"),
        ("Định kỳ.", None),
    ],
)
def test_cadence_wording(time: str, cadence: str | None) -> None:
    [requirement] = _plan_with("Phát trên loa truyền thanh", time).requirements
    assert requirement.cadence == cadence


@pytest.mark.parametrize(
    ("time", "minutes"),
    [
        ("Hàng tuần, thời lượng 10 đến 15 phút.", (10, 15)),
        ("Hàng tuần, mỗi lần từ 10 - 15 phút.", (10, 15)),
        ("Hàng tuần, mỗi số 20 phút.", (20, 20)),
        ("Hàng tuần, tối đa 30 phút.", (None, 30)),
        ("Hàng tuần, không dưới 5 phút.", (5, None)),
        ("Hàng tuần.", (None, None)),
    ],
)
def test_minutes_wording(time: str, minutes: tuple[int | None, int | None]) -> None:
    [requirement] = _plan_with("Phát trên loa truyền thanh", time).requirements
    assert (requirement.minutes_min, requirement.minutes_max) == minutes


@pytest.mark.parametrize(
    ("wording", "languages"),
    [
        ("", ["vie"]),
        ("bằng tiếng Thái", ["vie", "blt"]),
        ("bằng tiếng Thái Trắng", ["vie", "twh"]),
        ("bằng tiếng dân tộc Thái", ["vie", "blt"]),
        ("bằng tiếng H'Mông", ["vie", "hnj"]),
        ("bằng tiếng Mông và tiếng Dao", ["vie", "hnj", "ium"]),
        ("bằng tiếng Thái, Mông, Khơ Mú", ["vie", "blt", "hnj"]),
        ("bằng tiếng Khmer", ["vie", "khm"]),
        ("song ngữ Việt - Khmer", ["vie", "khm"]),
        ("bằng tiếng Ê Đê và tiếng Gia Rai", ["vie", "rad", "jra"]),
        ("bằng tiếng Dân tộc", ["vie", ETHNIC_UNSPECIFIED]),
        ("song ngữ ở các bản vùng cao", ["vie", ETHNIC_UNSPECIFIED]),
        ("ở huyện Mường La cho đồng bào Thái", ["vie"]),
    ],
)
def test_language_wording(wording: str, languages: list[str]) -> None:
    [requirement] = _plan_with(f"Phát trên loa truyền thanh {wording}".strip()).requirements
    assert requirement.languages == languages


def test_lead_agency_comes_from_the_chu_tri_line_or_an_inline_mention() -> None:
    plan = parse_plan(
        "KẾ HOẠCH\nTuyên truyền năm 2025\n\nI. NỘI DUNG TUYÊN TRUYỀN\n- Bưu chính công ích.\n"
        "II. HÌNH THỨC TUYÊN TRUYỀN\n"
        "1. Bản tin trên loa xã\n- Cơ quan thực hiện: Tổ truyền thanh.\n"
        "- Cơ quan chủ trì: Văn phòng UBND xã.\n"
        "2. Hội nghị ở thôn do Mặt trận Tổ quốc xã chủ trì, hàng quý.\n"
        "3. Pa nô ở chợ\n- Đơn vị thực hiện: Đoàn Thanh niên.\n"
        "4. Tập huấn cho trưởng thôn.\n"
    )
    assert [r.lead_agency for r in plan.requirements] == [
        "Văn phòng UBND xã",
        "Mặt trận Tổ quốc xã",
        "Đoàn Thanh niên",
        None,
    ]
    assert plan.requirements[1].cadence == "quarterly"


def test_header_facts_are_read_from_the_header_only() -> None:
    plan = parse_plan(
        "UỶ BAN NHÂN DÂN\nTỈNH LONG AN\nSố: 7 /KH-UBND\nLong An, ngày 05/3/2024\n\n"
        "KẾ HOẠCH\nTUYÊN TRUYỀN CẢI CÁCH HÀNH CHÍNH (CCHC) TỈNH LONG AN NĂM 2024\n\n"
        "Căn cứ Kế hoạch số 99/KH-UBND ngày 01/02/2024 của UBND tỉnh;\n"
        "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19/6/2015;\n"
        "Căn cứ tình hình thực tế của tỉnh.\n\n"
        "I. NỘI DUNG TUYÊN TRUYỀN\n- Cải cách thủ tục hành chính.\n"
    )
    assert plan.number == "7/KH-UBND"
    assert plan.date == datetime.date(2024, 3, 5)
    assert plan.issuer == "Ủy ban nhân dân tỉnh Long An"
    assert plan.title == "Tuyên truyền cải cách hành chính (CCHC) tỉnh Long An năm 2024"
    assert plan.year == 2024
    assert plan.legal_basis == [
        "Kế hoạch số 99/KH-UBND ngày 01/02/2024 của UBND tỉnh",
        "Luật Tổ chức chính quyền địa phương ngày 19/6/2015",
    ]
    assert plan.requirements == []
    assert _titles(plan) == ["Cải cách thủ tục hành chính"]


def test_a_plan_without_header_has_no_number_even_when_it_cites_one() -> None:
    plan = parse_plan(
        "KẾ HOẠCH\nTuyên truyền năm 2024\n\n"
        "Thực hiện Kế hoạch số: 15/KH-UBND ngày 02/01/2024 của UBND huyện, UBND xã Tân Lập "
        "xây dựng kế hoạch như sau:\n\n"
        "I. NỘI DUNG, HÌNH THỨC\n1. Nội dung tuyên truyền\na) Chuyển đổi số.\n"
        "2. Hình thức tuyên truyền\na) Loa truyền thanh xã, hàng tuần.\n"
    )
    assert (plan.number, plan.date, plan.year) == (None, None, 2024)
    assert plan.issuer == "Ủy ban nhân dân xã Tân Lập"
    assert plan.legal_basis == ["Kế hoạch số 15/KH-UBND ngày 02/01/2024 của UBND huyện"]
    assert _titles(plan) == ["Chuyển đổi số"]
    assert [_summary(r)[:2] for r in plan.requirements] == [("commune_loudspeaker", "weekly")]


def test_a_department_plan_with_the_number_under_the_heading() -> None:
    plan = parse_plan(
        "UBND TỈNH YÊN BÌNH\nSỞ THÔNG TIN VÀ TRUYỀN THÔNG\n\n# Kế hoạch tuyên truyền "
        "chuyển đổi số năm 2025\nSố: 3/KH-STTTT\nYên Bình, ngày 9 tháng 1 năm 2025\n\n"
        "Sở Thông tin và Truyền thông ban hành kế hoạch như sau:\n\n"
        "## 1. NỘI DUNG\n- Số hóa hồ sơ, giấy tờ.\n- Nền tảng số.\n- Số hóa hồ sơ, giấy tờ.\n"
        "## 2. HÌNH THỨC\nTăng cường đưa tin trên báo chí và các phương tiện thông tin.\n"
    )
    assert plan.title == "Tuyên truyền chuyển đổi số năm 2025"
    assert (plan.number, plan.date) == ("3/KH-STTTT", datetime.date(2025, 1, 9))
    assert (plan.issuer, plan.level) == ("Sở Thông tin và Truyền thông", "province")
    assert _titles(plan) == ["Số hóa hồ sơ, giấy tờ", "Nền tảng số"]
    assert plan.requirements == []  # prose naming no channel of its own is no requirement


def test_a_bare_header_agency_gives_way_to_the_issuing_clause() -> None:
    plan = parse_plan(
        "ỦY BAN NHÂN DÂN\n\nKẾ HOẠCH\nTuyên truyền về số hóa năm 2024\n\n"
        "Ủy ban nhân dân phường Đông Hòa ban hành kế hoạch như sau:\n\n"
        "I. NỘI DUNG TUYÊN TRUYỀN\n- Số hóa dữ liệu hộ tịch.\n"
        "II. HÌNH THỨC TUYÊN TRUYỀN\nPhát trên loa phường hàng tuần; dán tờ rơi ở tổ dân phố.\n"
    )
    assert plan.title == "Tuyên truyền về số hóa năm 2024"
    assert (plan.issuer, plan.level) == ("Ủy ban nhân dân phường Đông Hòa", "commune")
    assert _titles(plan) == ["Số hóa dữ liệu hộ tịch"]
    assert [_summary(r)[:2] for r in plan.requirements] == [
        ("commune_loudspeaker", "weekly"),
        ("print", None),
    ]


def test_a_heading_wrapped_onto_two_lines_stays_one_heading() -> None:
    plan = parse_plan(
        "KẾ HOẠCH\nTuyên truyền năm 2024\n\nII. NỘI DUNG TUYÊN TRUYỀN VỀ CẢI CÁCH\n"
        "HÀNH CHÍNH CỦA TỈNH\n1. Một cửa liên thông.\n"
        "III. HÌNH THỨC, THỜI GIAN THỰC\nHIỆN\n1. Bản tin trên Đài PT-TH tỉnh\n"
        "- Thời gian: hằng tháng.\n"
    )
    assert _titles(plan) == ["Một cửa liên thông"]
    assert [_summary(r)[:2] for r in plan.requirements] == [("provincial_station", "monthly")]


def test_prose_under_a_form_item_gives_one_requirement_per_clause() -> None:
    plan = _plan_with(
        "Trên hệ thống loa truyền thanh xã\nMỗi tuần một bản tin. Tiếp sóng Đài "
        "Tiếng nói Việt Nam hằng ngày.",
        time="",
    )
    assert [_summary(r)[:2] for r in plan.requirements] == [
        ("commune_loudspeaker", "weekly"),
        ("relay", "daily"),
    ]


def test_long_fields_are_cut_to_fit() -> None:
    agency = "Phòng Văn hóa và Thông tin " * 20
    [requirement] = parse_plan(
        f"KẾ HOẠCH\n{'Tuyên truyền rất dài ' * 30}\n\nI. HÌNH THỨC\n1. Hội nghị\n"
        f"- Cơ quan chủ trì: {agency}\n"
    ).requirements
    assert len(requirement.lead_agency) <= 200 and requirement.lead_agency.endswith("…")


# Messy input: each variant must parse exactly like the clean document


def _crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def _old_tones(text: str) -> str:
    for new, old in (("hóa", "hoá"), ("Hóa", "Hoá"), ("Ủy", "Uỷ"), ("ỦY", "UỶ"), ("tọa", "toạ")):
        text = text.replace(new, old)
    return text


def _page_breaks(text: str) -> str:
    lines = text.split("\n")
    for index in range(len(lines) - 6, 8, -9):
        page = index // 9 + 1
        lines[index:index] = ["", f"Trang {page}", "\f", str(page), f"- {page} -", ""]
    return "\n".join(lines)


def _blank_lines_and_indents(text: str) -> str:
    return "\n\n\n".join(f"   {line}  " for line in text.split("\n"))


def _markdown(text: str) -> str:
    """Bold headings and labels, escaped numbering and starred bullets, as converters write."""
    text = re.sub(r"(?m)^#* *([IVX]+\. .+)$", r"## **\1**", text)
    text = re.sub(r"(?m)^- \**(Thời gian|Cơ quan chủ trì):\**", r"* **\1:**", text)
    return re.sub(r"(?m)^(#* *\**)(\d+)\. ", r"\1\2\\. ", text)


_MARKER_START = re.compile(r"^(?:[-–+•]|[IVX]{1,5}[.)]|\d{1,2}[.)]|[a-zđ][.)])")


def _rewrapped(text: str) -> str:
    """Wrap long lines at 64 columns with blank lines between, as PDF exports do."""
    out = []
    for line in text.split("\n"):
        if len(line) <= 64 or line.lstrip().startswith("|") or "   " in line:
            out.append(line)
        else:
            out.append("\n\n".join(_wrap(line.split(" "))))
    return "\n".join(out)


def _wrap(words: list[str]) -> list[str]:
    """Lines of about 64 characters; none starts with what reads as numbering ("- Xã hội")."""
    pieces: list[str] = []
    current = ""
    for word in words:
        if current and len(current) + len(word) >= 64 and not _MARKER_START.match(word):
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return [*pieces, current]


MESSES: dict[str, Callable[[str], str]] = {
    "windows line endings": _crlf,
    "NFD-decomposed": _nfd,
    "old-style tone marks": _old_tones,
    "page numbers and form feeds": _page_breaks,
    "extra blank lines and indents": _blank_lines_and_indents,
    "Markdown bold and headings": _markdown,
    "broken line wraps": _rewrapped,
}


@pytest.mark.parametrize("mess", MESSES)
@pytest.mark.parametrize("name", SAMPLES)
def test_messy_input_parses_like_the_clean_document(name: str, mess: str) -> None:
    clean = _sample(name)
    messy = MESSES[mess](clean)
    assert messy != clean
    assert plan_to_dict(parse_plan(messy)) == plan_to_dict(parse_plan(clean))


@pytest.mark.parametrize("mess", ["windows line endings", "NFD-decomposed", "broken line wraps"])
def test_messy_seed_parses_like_the_seed(mess: str) -> None:
    path = SEEDS / "ke-hoach-yen-chau-2021.md"
    if not path.is_file():
        pytest.skip("../shared/seeds is not beside the checkout")
    clean = path.read_text(encoding="utf-8")
    assert plan_to_dict(parse_plan(MESSES[mess](clean))) == plan_to_dict(parse_plan(clean))
