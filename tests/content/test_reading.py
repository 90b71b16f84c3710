"""Reading normalization: corpus, lexicon, overrides, numbers, durations and the real seed plans."""

import re
import unicodedata
from pathlib import Path

import pytest

from content.lexicon import LEXICON
from content.reading import count_syllables, estimate_seconds, number_words, read_aloud
from tests.content.reading_corpus import CORPUS

SEED_DIRS = [
    Path("/work/shared/seeds"),
    Path(__file__).resolve().parents[3] / "shared" / "seeds",
]


def _ascii_id(text: str) -> str:
    folded = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return "-".join(re.findall(r"[A-Za-z0-9]+", plain))[:60] or "blank"


def _token_pattern(keys: list[str]) -> re.Pattern[str]:
    alternation = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
    return re.compile(rf"(?<![\w&])(?:{alternation})(?![\w&])")


def _seed_files() -> list[Path]:
    for folder in SEED_DIRS:
        if folder.is_dir():
            files = sorted(p for p in folder.iterdir() if p.suffix in {".txt", ".md"})
            if files:
                return files
    return []


# Corpus


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 70
    assert len({source for source, _ in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(("source", "expected"), CORPUS, ids=[_ascii_id(s) for s, _ in CORPUS])
def test_corpus(source: str, expected: str) -> None:
    assert read_aloud(source) == expected


# The cases named in the design and the brief


def test_citation_reads_number_not_code_and_one_ngay() -> None:
    reading = read_aloud("Quyết định số 4963/QĐ-UBND ngày 28/12/2020 của UBND tỉnh")
    assert reading == (
        "Quyết định số bốn nghìn chín trăm sáu mươi ba ngày hai mươi tám tháng mười hai"
        " năm hai nghìn không trăm hai mươi của Ủy ban nhân dân tỉnh"
    )


def test_citation_with_year_inside_the_number() -> None:
    assert read_aloud("Nghị định số 61/2018/NĐ-CP") == (
        "Nghị định số sáu mươi mốt năm hai nghìn không trăm mười tám của Chính phủ"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "Thông tư số 39/2020/TT-BTTTT",
            "Thông tư số ba mươi chín năm hai nghìn không trăm hai mươi của Bộ Thông tin và"
            " Truyền thông",
        ),
        ("Quyết định số 12/QĐ-UBND", "Quyết định số mười hai của Ủy ban nhân dân"),
        ("Kế hoạch số 36/KH-UBND", "Kế hoạch số ba mươi sáu của Ủy ban nhân dân"),
        (
            "Thông tư 03/2023/TT-BNV",
            "Thông tư không ba năm hai nghìn không trăm hai mươi ba của Bộ Nội vụ",
        ),
        ("Chỉ thị 05/CT-TTg", "Chỉ thị không năm của Thủ tướng Chính phủ"),
        ("Kế hoạch 15/KH-SNV", "Kế hoạch mười lăm của Sở Nội vụ"),
        ("Nghị quyết 35-NQ/TW", "Nghị quyết ba mươi lăm của Ban Chấp hành Trung ương"),
        (
            "Thông tư liên tịch 01/2015/TTLT-BTC-BNV",
            "Thông tư liên tịch không một năm hai nghìn không trăm mười lăm của Bộ Tài chính và"
            " Bộ Nội vụ",
        ),
        # The issuer follows the citation's date.
        (
            "Quyết định 7/QĐ-UBND ngày 02/01/2025 về lịch phát sóng",
            "Quyết định bảy ngày hai tháng một năm hai nghìn không trăm hai mươi lăm của Ủy ban"
            " nhân dân về lịch phát sóng",
        ),
        # An issuer the code does not say is left out.
        ("Kế hoạch số 09/KH-VHTT", "Kế hoạch số không chín"),
    ],
)
def test_a_citation_names_its_issuer(source: str, expected: str) -> None:
    assert read_aloud(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "Nghị định số 45/2020/NĐ-CP của Chính phủ về thủ tục",
        "Chính phủ ban hành Nghị định 45/2020/NĐ-CP về thủ tục",
        "Kế hoạch 18/KH-UBND, do UBND tỉnh ban hành",
        "UBND huyện triển khai Kế hoạch 18/KH-UBND tới các xã",
        "Thông tư 39/2020/TT-BTTTT của Bộ TT&TT",
    ],
)
def test_a_sentence_that_names_the_issuer_is_not_told_it_twice(source: str) -> None:
    reading = read_aloud(source)
    assert reading.count("của") <= 1 and "của Chính phủ của" not in reading
    for name in ("Chính phủ", "Ủy ban nhân dân", "Bộ Thông tin và Truyền thông"):
        assert reading.count(name) <= 1, reading


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("28/12/2020", "ngày hai mươi tám tháng mười hai năm hai nghìn không trăm hai mươi"),
        ("ngày 28/12/2020", "ngày hai mươi tám tháng mười hai năm hai nghìn không trăm hai mươi"),
        (
            "26 tháng 01 năm 2021",
            "hai mươi sáu tháng một năm hai nghìn không trăm hai mươi mốt",
        ),
        ("12/2021", "tháng mười hai năm hai nghìn không trăm hai mươi mốt"),
        ("tháng 12/2021", "tháng mười hai năm hai nghìn không trăm hai mươi mốt"),
        ("quý I/2021", "quý một năm hai nghìn không trăm hai mươi mốt"),
        ("quý II, III", "quý hai, ba"),
        ("6 tháng đầu năm", "sáu tháng đầu năm"),
        ("ngày 10-15/5", "ngày mười đến mười lăm tháng năm"),
        ("tháng 3-5/2025", "tháng ba đến tháng năm năm hai nghìn không trăm hai mươi lăm"),
    ],
    ids=_ascii_id,
)
def test_dates(source: str, expected: str) -> None:
    assert read_aloud(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("7h30", "bảy giờ ba mươi phút"),
        ("7 giờ 30", "bảy giờ ba mươi phút"),
        ("7 giờ 30 phút", "bảy giờ ba mươi phút"),
        ("07:30", "bảy giờ ba mươi phút"),
        ("17h", "mười bảy giờ"),
        ("7h00", "bảy giờ"),
        ("trong 24h", "trong hai mươi tư giờ"),
        ("từ 7h30 đến 17h", "từ bảy giờ ba mươi phút đến mười bảy giờ"),
        ("13h30-17h", "mười ba giờ ba mươi phút đến mười bảy giờ"),
    ],
    ids=_ascii_id,
)
def test_times(source: str, expected: str) -> None:
    assert read_aloud(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("0212.3851.234", "không hai một hai, ba tám năm một, hai ba bốn"),
        ("0212 3851 234", "không hai một hai, ba tám năm một, hai ba bốn"),
        ("(0212) 3851 234", "không hai một hai, ba tám năm một, hai ba bốn"),
        ("1900 1234", "một chín không không, một hai ba bốn"),
        ("0912345678", "không chín một hai, ba bốn năm, sáu bảy tám"),
        ("+84 912 345 678", "cộng tám bốn, chín một hai, ba bốn năm, sáu bảy tám"),
        ("gọi 113", "gọi một một ba"),
    ],
    ids=_ascii_id,
)
def test_phone_numbers(source: str, expected: str) -> None:
    assert read_aloud(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("dichvucong.gov.vn", "dịch vụ công chấm gờ o vê chấm vê en"),
        (
            "https://dichvucong.gov.vn/p/home/dvc-trang-chu.html",
            "dịch vụ công chấm gờ o vê chấm vê en",
        ),
        ("www.moha.gov.vn", "vê kép vê kép vê kép chấm mô ha chấm gờ o vê chấm vê en"),
        ("xa2.gov.vn", "xa hai chấm gờ o vê chấm vê en"),
        ("vanthu@ubnd.gov.vn", "vanthu a còng ubnd chấm gờ o vê chấm vê en"),
        ("mot_cua.xa@gmail.com", "mot gạch dưới cua chấm xa a còng gờ meo chấm com"),
    ],
    ids=_ascii_id,
)
def test_web_addresses(source: str, expected: str) -> None:
    assert read_aloud(source) == expected


# Lexicon and overrides


@pytest.mark.parametrize(
    ("key", "spoken"), sorted(LEXICON.items()), ids=[_ascii_id(k) for k in sorted(LEXICON)]
)
def test_every_lexicon_entry_expands(key: str, spoken: str) -> None:
    assert read_aloud(f"Về {key} hôm nay.") == f"Về {spoken} hôm nay."


def test_lexicon_readings_are_nfc_and_never_contain_a_key() -> None:
    pattern = _token_pattern(list(LEXICON))
    for key, spoken in LEXICON.items():
        assert unicodedata.is_normalized("NFC", key), key
        assert unicodedata.is_normalized("NFC", spoken), key
        assert not pattern.search(spoken), key


@pytest.mark.parametrize(
    "source",
    ["Mã UBNDX đã khóa.", "Tài khoản xTTHC mới.", "Từ ubnd viết thường.", "Kênh VNPT và VTV."],
    ids=_ascii_id,
)
def test_abbreviations_match_whole_tokens_and_exact_case(source: str) -> None:
    assert read_aloud(source) == source


def test_override_wins_over_lexicon() -> None:
    assert read_aloud("UBND xã thông báo.", overrides={"UBND": "Ủy ban"}) == "Ủy ban xã thông báo."
    assert read_aloud("UBND xã thông báo.") == "Ủy ban nhân dân xã thông báo."


def test_override_adds_entries_without_touching_the_lexicon() -> None:
    before = dict(LEXICON)
    reading = read_aloud("Kênh VNPT và CCHC.", overrides={"VNPT": "vê en pê tê"})
    assert reading == "Kênh vê en pê tê và cải cách hành chính."
    assert before == LEXICON


def test_override_keys_and_values_are_normalized() -> None:
    key = unicodedata.normalize("NFD", "HĐND")
    value = unicodedata.normalize("NFD", "Hội đồng")
    assert read_aloud("HĐND xã", overrides={key: value}) == "Hội đồng xã"


def test_empty_override_key_is_ignored() -> None:
    assert read_aloud("UBND xã", overrides={"": "không"}) == "Ủy ban nhân dân xã"


# Text that must pass through, layout


def test_unicode_input_is_normalized_to_nfc() -> None:
    source = unicodedata.normalize("NFD", "Thủ tục hành chính được niêm yết công khai.")
    reading = read_aloud(source)
    assert reading == unicodedata.normalize("NFC", source)
    assert unicodedata.is_normalized("NFC", reading)


def test_lines_are_kept_and_blank_lines_dropped() -> None:
    source = "Kính thưa bà con!\n\n- Lịch tiếp dân: thứ 5 hằng tuần.\r\n   \nTrân trọng."
    assert read_aloud(source) == (
        "Kính thưa bà con!\nLịch tiếp dân: thứ năm hằng tuần.\nTrân trọng."
    )


def test_empty_text_reads_as_nothing() -> None:
    assert read_aloud("") == ""
    assert read_aloud("  \n **  \n- ") == ""


# Numbers


NUMBERS = [
    (0, "không"),
    (5, "năm"),
    (10, "mười"),
    (11, "mười một"),
    (14, "mười bốn"),
    (15, "mười lăm"),
    (20, "hai mươi"),
    (21, "hai mươi mốt"),
    (24, "hai mươi tư"),
    (25, "hai mươi lăm"),
    (101, "một trăm linh một"),
    (105, "một trăm linh năm"),
    (110, "một trăm mười"),
    (115, "một trăm mười lăm"),
    (1000, "một nghìn"),
    (1005, "một nghìn không trăm linh năm"),
    (1010, "một nghìn không trăm mười"),
    (1999, "một nghìn chín trăm chín mươi chín"),
    (2000, "hai nghìn"),
    (2024, "hai nghìn không trăm hai mươi tư"),
    (10_000, "mười nghìn"),
    (100_000, "một trăm nghìn"),
    (1_000_000, "một triệu"),
    (1_500_000, "một triệu năm trăm nghìn"),
    (3_321_000, "ba triệu ba trăm hai mươi mốt nghìn"),
    (1_000_000_000, "một tỷ"),
    (2_050_000_000, "hai tỷ không trăm năm mươi triệu"),
]


@pytest.mark.parametrize(("number", "expected"), NUMBERS, ids=[str(n) for n, _ in NUMBERS])
def test_number_words(number: int, expected: str) -> None:
    assert number_words(number) == expected


def test_number_words_refuses_negative_numbers() -> None:
    with pytest.raises(ValueError):
        number_words(-1)


# Syllables and duration


def test_count_syllables() -> None:
    assert count_syllables("") == 0
    assert count_syllables("Ủy ban nhân dân xã, thông báo!") == 7
    assert count_syllables(read_aloud("Năm 2021.")) == 8


def test_estimate_seconds_for_empty_text_is_zero() -> None:
    assert estimate_seconds("") == 0.0


def test_estimate_seconds_counts_syllables_and_pauses() -> None:
    words = " ".join(["loa"] * 200)
    assert estimate_seconds(words) == pytest.approx(60.0)
    assert estimate_seconds(words + ".") == pytest.approx(60.5)
    assert estimate_seconds(words, syllables_per_minute=100) == pytest.approx(120.0)
    assert estimate_seconds("một, hai; ba.\nbốn - năm") == pytest.approx(
        5 * 0.3 + 0.2 + 0.35 + 0.5 + 0.2
    )


def test_estimate_seconds_grows_with_text() -> None:
    reading = read_aloud(
        "Kính thưa bà con! UBND xã thông báo: từ ngày 01/7/2025, hồ sơ TTHC được nhận"
        " từ 7h30 đến 17h; mọi thắc mắc xin gọi 0212.3851.234."
    )
    estimates = [estimate_seconds(reading[:end]) for end in range(len(reading) + 1)]
    assert estimates == sorted(estimates)
    assert estimates[-1] > 10


def test_estimate_seconds_refuses_a_bad_rate() -> None:
    with pytest.raises(ValueError):
        estimate_seconds("loa", syllables_per_minute=0)


# The real seed plans


@pytest.fixture(scope="module")
def seed_files() -> list[Path]:
    files = _seed_files()
    if not files:
        pytest.skip("seed plans (../shared/seeds) are not present")
    return files


def _problems(reading: str, lexicon_pattern: re.Pattern[str]) -> list[str]:
    problems = []
    if leftover := lexicon_pattern.search(reading):
        problems.append(f"abbreviation {leftover.group(0)!r}")
    if re.search(r"(?<!\w)ngày\s+ngày(?!\w)", reading, re.IGNORECASE):
        problems.append("ngày ngày")
    problems += [f"{mark!r} left" for mark in "/%&" if mark in reading]
    if re.search(r"\d", reading):
        problems.append("digit left")
    return problems


def test_seed_lines_read_cleanly(seed_files: list[Path]) -> None:
    pattern = _token_pattern(list(LEXICON))
    failures = []
    for path in seed_files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            reading = read_aloud(line)
            for problem in _problems(reading, pattern):
                failures.append(f"{path.name}:{number}: {problem}: {reading}")
    assert not failures, "\n".join(failures[:20])


def test_seed_files_read_cleanly_as_whole_scripts(seed_files: list[Path]) -> None:
    pattern = _token_pattern(list(LEXICON))
    for path in seed_files:
        text = path.read_text(encoding="utf-8")
        reading = read_aloud(text)
        assert _problems(reading, pattern) == [], path.name
        assert unicodedata.is_normalized("NFC", reading)
        assert len(reading.splitlines()) <= len([ln for ln in text.splitlines() if ln.strip()])
        assert estimate_seconds(reading) > count_syllables(reading) * 60 / 200


def test_seed_plain_lines_pass_through_unchanged(seed_files: list[Path]) -> None:
    plain = re.compile(r"[^\W\d_]+(?:[ ,;]+[^\W\d_]+)*[.,;]?")
    checked = 0
    for path in seed_files:
        for line in path.read_text(encoding="utf-8").splitlines():
            text = unicodedata.normalize("NFC", line.strip())
            # Only ordinary prose: no capitals beyond a word's first letter, so no acronyms.
            if not plain.fullmatch(text) or any(w[1:] != w[1:].lower() for w in text.split()):
                continue
            checked += 1
            assert read_aloud(text) == text
    assert checked > 50
