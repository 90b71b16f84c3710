"""Vietnamese reading normalization: turn an administrative script into what a voice must say."""

import re
import unicodedata
from collections.abc import Mapping

from content.lexicon import DOCUMENT_KINDS, DOMAIN_WORDS, ISSUERS, JOINT_KINDS, LEXICON, UNITS

# Readings chosen (the tests pin each of them):
# - Abbreviations come from content.lexicon.LEXICON, overridden per station; they match whole
#   tokens, case-sensitively. Unknown all-caps tokens that are not Vietnamese syllables ("DDCI"
#   if it were not listed, "VOV") are left as they are; all-caps Vietnamese words ("KẾ HOẠCH")
#   are lowercased so no voice spells them letter by letter.
# - A citation reads its number, then its issuer: "số 4963/QĐ-UBND" -> "số bốn nghìn chín trăm
#   sáu mươi ba của Ủy ban nhân dân"; a year inside the number is read with "năm":
#   "61/2018/NĐ-CP" -> "sáu mươi mốt năm hai nghìn không trăm mười tám của Chính phủ". The issuer
#   comes from the code (content.lexicon.ISSUERS) and is said after the citation's date if it
#   has one; it is left out when the sentence names it already ("... của UBND tỉnh", "Chính phủ
#   ban hành ...") or the code's issuer is unknown. Leading zeros of a document number are
#   read, as broadcasters say "Chỉ thị không năm": "01" -> "không một".
# - Numbers use the northern broadcast forms: "mốt", "lăm", "tư" after "mươi" ("hai mươi tư"),
#   "linh" for an empty tens place ("một trăm linh năm"), "nghìn"; April is "tháng tư";
#   ordinals "thứ nhất", "thứ tư"; quarters "quý một" ... "quý bốn"; decimals with "phẩy".
# - A date always starts with one "ngày": "28/12/2020" and "ngày 28/12/2020" both read
#   "ngày hai mươi tám tháng mười hai năm hai nghìn không trăm hai mươi".
# - Times: "7h30", "07:30" and "7 giờ 30" -> "bảy giờ ba mươi phút"; "17h" -> "mười bảy giờ".
# - Phone numbers are read digit by digit, a comma between groups.
# - Web addresses: scheme and path are dropped (a listener cannot note a path by ear); host
#   parts are joined by "chấm", with known parts from DOMAIN_WORDS ("gov" -> "gờ o vê",
#   "vn" -> "vê en"); "@" is "a còng".
# - Markdown, bullets and heading numbers ("I.", "2.1.", "a)") are not read; each input line
#   stays one line of the reading, and a line break is a pause.

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

# Pause after punctuation, in seconds; a run of marks ("."+newline) pauses once, the longest.
PAUSES = {
    ".": 0.5,
    "!": 0.5,
    "?": 0.5,
    "\n": 0.5,
    ";": 0.35,
    ":": 0.35,
    ",": 0.2,
    "-": 0.2,
    "–": 0.2,
}

_LETTER = r"[^\W\d_]"
_ROMAN = r"(?=[IVXL])(?:XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
_CODE = r"[A-ZĐ][A-Za-zĐđ&]+\d*(?:[-.][A-ZĐ][A-Za-zĐđ&]*\d*)*-?"
_YEAR = r"(?:19|20)\d\d"

# A citation code cut by a line break ("17/NQ-" then "CP") is joined before lines are read.
_WRAPPED_CODE = re.compile(r"(\d/[A-ZĐ][\w&]*-)[ \t]*\r?\n[ \t]*(?=[A-ZĐ])")

_HEADING = re.compile(
    r"^(?:[IVXLC]+\.|[A-Za-zĐđ][.)]|\d{1,2}(?:\.\d{1,2})*[.)]|\d{1,2}(?:\.\d{1,2})+)"
    r"(?=\s|[^\W\d_])\s*"
)
_BULLET = re.compile(r"^(?:[-+–—•]\s+|•|-(?=[^\W\d_]))")

_EMAIL = re.compile(r"(?<![\w.])([A-Za-z0-9._-]+)@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})(?![\w-])")
_URL = re.compile(
    r"(?<![\w@./])(?:https?://)?((?:[A-Za-z0-9-]+\.)+(?:vn|com|net|org|gov|edu|info|io))"
    r"(?![\w-])(/\S*?)?(?=[.,;:!?)\"”]*(?:\s|$))",
    re.IGNORECASE,
)

_NUMBER_COLON = re.compile(r"(?<!\w)([Ss]ố)\s*:\s*(?=\d)")
_CITE_YEAR = re.compile(rf"(?<![\d/])(\d+)/({_YEAR})/{_CODE}(?![\w&])")
_CITE_PARTY = re.compile(rf"(?<![\d/])(\d+)-{_CODE}/{_CODE}(?![\w&])")
_CITE = re.compile(rf"(?<![\d/])(\d+)/{_CODE}(?![\w&])")
_CITE_BLANK = re.compile(rf"\s*(?:\.{{2,}}|…+)\s*/{_CODE}(?![\w&])")
_CITATION = re.compile(
    rf"(?<![\d/])\d+(?:/{_YEAR})?(?:/(?P<code>{_CODE})|-{_CODE}/(?P<party>{_CODE}))(?![\w&])"
    r"(?:\s*,?\s*ngày\s+\d{1,2}\s*(?:[/.-]\s*\d{1,2}\s*[/.-]|tháng\s+\d{1,2}\s+năm)\s*\d{4})?"
)
_NAMED_AFTER = re.compile(r"\s*,?\s*(?:của|do)(?!\w)")
_SENTENCE_END = re.compile(r"[.;!?](?=\s|$)")

_DAY_WORD = r"(?:(?<!\w)([Nn]gày)\s*:?\s*)?"
_DAYS = r"(?<![\d/.,])(?:(\d{1,2})\s*[-–]\s*)?(\d{1,2})"
_DMY = re.compile(rf"{_DAY_WORD}{_DAYS}([/.-])(\d{{1,2}})\4(\d{{4}})(?![\d/])")
_QUARTER_YEAR = re.compile(rf"(?<!\w)([Qq]uý)\s+({_ROMAN}|\d)\s*/\s*({_YEAR})(?![\d/])")
_MONTH_YEAR = re.compile(
    rf"(?:(?<!\w)([Tt]háng)\s+)?(?<![\d/.,])(?:(\d{{1,2}})\s*[-–]\s*)?(\d{{1,2}})/({_YEAR})"
    r"(?![\d/])"
)
_DAY_MONTH = re.compile(rf"{_DAY_WORD}{_DAYS}/(\d{{1,2}})(?![\d/]|[.,]\d)")
_FRACTION_BEFORE = re.compile(
    r"(?<!\w)(?:chiếm|đạt|khoảng|gần|hơn|trên|dưới|được|còn)\s+$", re.IGNORECASE
)

_PHONE = re.compile(r"(?<![\w.,/+])(?:\+84[ .]?|\(?0)\d{1,4}\)?(?:[ .-]?\d{2,4}){1,4}(?!\w|[.,]\d)")
_TOLL_FREE = re.compile(r"(?<![\w.,/])1[89]00(?:[ .]?\d{2,4}){1,2}(?!\w|[.,]\d)")
_HOTLINE = re.compile(
    r"(?<!\w)((?:gọi|tổng đài|đường dây nóng|hotline|điện thoại)"
    r"(?:\s+(?:đến\s+|tới\s+)?số)?\s*:?\s*)(11[1-5])(?![\d/]|[.,]\d)",
    re.IGNORECASE,
)

_TIME_TOKEN = r"\d{1,2}(?::\d{2}|[hHg]\d{2}'?|[hH])"
_TIME = re.compile(rf"(?<![\w.,/:])({_TIME_TOKEN})(?:\s*[-–]\s*({_TIME_TOKEN}))?(?![\w:])")
_HOUR_MINUTE = re.compile(r"(?<![\d.,])(\d{1,2})\s+giờ\s+(\d{1,2})(?!\d)(?!\s*phút)")

_GLUED_DOT = re.compile(rf"(?<={_LETTER})\.(?={_LETTER})")
_SHORTHAND = re.compile(
    r"\s*\((?:sau đây\s+)?(?:được\s+)?(?:gọi|viết)\s+tắt\s+là[^()]*\)", re.IGNORECASE
)
_PARENTHESIS = re.compile(r"\s*\(([^()]*)\)")

_ROMAN_KEYWORDS = (
    r"quý|khóa|khoá|kỳ họp|kỳ|lần thứ|thứ|thế kỷ|đại hội|phần|chương|mục|loại|hạng|đợt"
    r"|giai đoạn|nhóm|tập|vùng|cấp|phụ lục"
)
_ROMAN_LIST = re.compile(
    rf"(?<!\w)((?i:{_ROMAN_KEYWORDS}))\s+({_ROMAN}(?:\s*(?:,|và|-|–|đến)\s*{_ROMAN})*)(?!\w)"
)
_ROMAN_ALONE = re.compile(rf"{_ROMAN}(?!\w)")

_LEVEL_LIST = re.compile(r"(?<!\w)([Mm]ức độ)\s+(\d)\s*[,/]\s*(\d)(?!\d)")
_PER_UNIT = re.compile(
    r"((?<![\d.,])\d[\d.,]*(?:\s*[^\W\d_]+){1,3})\s*/\s*"
    r"(lần|ngày|tuần|tháng|quý|năm|giờ|phút|buổi|người|hộ|kỳ|ca|lượt|con|cái|chiếc|tấn|tạ|lít|"
    + "|".join(re.escape(k) for k in sorted(UNITS, key=len, reverse=True))
    + r")(?![\w²³])"
)
_RANGE = re.compile(r"(?<![\w.,/])(\d+(?:[.,]\d+)*)\s*[-–]\s*(\d+(?:[.,]\d+)*)(?![\w/]|[.,]\d)")
# The lookbehinds start a match only at the first digit of a run: without them every
# position inside a long run of digits is retried, which takes quadratic time.
_PERCENT = re.compile(r"(?<![\d.,])(\d[\d.,]*)\s*%")
_ORDINAL = re.compile(r"(?<!\w)([Tt]hứ)\s+(\d+)(?!\d|[.,]\d)")
_MONTH = re.compile(r"(?<!\w)([Tt]háng)\s+(\d{1,2})(?!\d|[.,]\d)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_DIGIT_EDGE = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
# Single-letter units ("m", "đ") only count when glued to the number: "5m", "50.000đ".
_UNIT = re.compile(
    r"(\d)(?:\s?("
    + "|".join(re.escape(k) for k in sorted(UNITS, key=len, reverse=True) if len(k) > 1)
    + r")|("
    + "|".join(re.escape(k) for k in UNITS if len(k) == 1)
    + r"))(?![\w²³])"
)

_ELLIPSIS = re.compile(r"\s*[,;]?\s*(?:\.{3,}|…)(\s*)")
_SYLLABLE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|th|tr|qu|[bcdđghklmnprstvx])?[aăâeêioôơuưy]{1,3}"
    r"(?:ng|nh|ch|[cmnpt])?"
)
_TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def number_words(n: int) -> str:
    """Read a non-negative integer in northern broadcast Vietnamese."""
    if n < 0:
        raise ValueError("number_words reads non-negative integers")
    if n == 0:
        return DIGITS[0]
    if n >= 10**9:
        head = number_words(n // 10**9) + " tỷ"
        rest = n % 10**9
        return f"{head} {_below_billion(rest, full=True)}" if rest else head
    return _below_billion(n, full=False)


def _below_billion(n: int, *, full: bool) -> str:
    words: list[str] = []
    for value, name in ((n // 10**6, "triệu"), (n // 1000 % 1000, "nghìn"), (n % 1000, "")):
        if value:
            # Once a larger group was read, a smaller one says its empty hundreds ("không trăm").
            words.append(_hundreds(value, full=full or bool(words)))
            if name:
                words.append(name)
    return " ".join(words)


def _hundreds(n: int, *, full: bool) -> str:
    hundred, ten, unit = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if full or hundred:
        words += [DIGITS[hundred], "trăm"]
    if ten == 0:
        if unit:
            if words:
                words.append("linh")
            words.append(DIGITS[unit])
    elif ten == 1:
        words.append("mười")
        if unit:
            words.append("lăm" if unit == 5 else DIGITS[unit])
    else:
        words += [DIGITS[ten], "mươi"]
        if unit:
            words.append({1: "mốt", 4: "tư", 5: "lăm"}.get(unit, DIGITS[unit]))
    return " ".join(words)


def _digits(text: str) -> str:
    return " ".join(DIGITS[int(c)] for c in text if c.isdigit())


def _integer(text: str) -> str:
    # Zero-led strings of four digits or more, and very long strings, are codes, not amounts.
    if (len(text) >= 4 and text[0] == "0") or len(text) > 15:
        return _digits(text)
    return number_words(int(text))


def _fraction_digits(text: str) -> str:
    zeros = len(text) - len(text.lstrip("0"))
    rest = text[zeros:]
    words = [DIGITS[0]] * zeros
    if rest:
        words.append(number_words(int(rest)) if len(rest) <= 2 else _digits(rest))
    return " ".join(words)


def _number_token(token: str) -> str:
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?", token):
        whole, _, fraction = token.replace(".", "").partition(",")
        words = _integer(whole)
        return f"{words} phẩy {_fraction_digits(fraction)}" if fraction else words
    if re.fullmatch(r"\d+,\d+", token):
        whole, fraction = token.split(",")
        return f"{_integer(whole)} phẩy {_fraction_digits(fraction)}"
    if re.fullmatch(r"\d+(?:\.\d+)+", token):
        return " chấm ".join(_integer(part) for part in token.split("."))
    if token.isdigit():
        return _integer(token)
    return ", ".join(_integer(part) for part in re.split(r"[.,]", token))


def _document_number(text: str) -> str:
    zeros = len(text) - len(text.lstrip("0"))
    words = [DIGITS[0]] * zeros
    if text[zeros:]:
        words.append(number_words(int(text[zeros:])))
    return " ".join(words)


def _month(month: int) -> str:
    return "tư" if month == 4 else number_words(month)


def _ordinal(n: int) -> str:
    return {1: "nhất", 4: "tư"}.get(n, number_words(n))


def _roman(text: str) -> int:
    values = {"I": 1, "V": 5, "X": 10, "L": 50}
    total = 0
    for i, char in enumerate(text):
        value = values[char]
        following = values[text[i + 1]] if i + 1 < len(text) else 0
        total += -value if value < following else value
    return total


def _date(days: list[int], month: int, year: int | None) -> str:
    words = f"{' đến '.join(number_words(d) for d in days)} tháng {_month(month)}"
    return f"{words} năm {number_words(year)}" if year is not None else words


def _valid_date(days: list[int], month: int) -> bool:
    return all(1 <= d <= 31 for d in days) and 1 <= month <= 12


def _clean_markup(line: str) -> str:
    line = line.replace("*", "").strip()
    line = re.sub(r"^#+\s*", "", line)
    line = _BULLET.sub("", line)
    return _HEADING.sub("", line)


def _host(host: str) -> str:
    words = []
    for label in host.lower().split("."):
        if label in DOMAIN_WORDS:
            words.append(DOMAIN_WORDS[label])
            continue
        parts = re.findall(r"[a-z]+|\d+|-", label)
        words.append(
            " ".join(_digits(p) if p.isdigit() else "gạch ngang" if p == "-" else p for p in parts)
        )
    return " chấm ".join(words)


def _email(match: re.Match[str]) -> str:
    names = {".": "chấm", "_": "gạch dưới", "-": "gạch ngang"}
    parts = re.findall(r"[A-Za-z]+|\d+|[._-]", match.group(1))
    local = " ".join(_digits(p) if p.isdigit() else names.get(p, p.lower()) for p in parts)
    return f"{local} a còng {_host(match.group(2))}"


def _read_web(line: str) -> str:
    line = _EMAIL.sub(_email, line)
    return _URL.sub(lambda m: _host(m.group(1)), line)


def _issuer(code: str) -> str | None:
    """The body that issued a document with this code ("QĐ-UBND" -> Ủy ban nhân dân)."""
    parts = [part for part in re.split(r"[-.]", code) if part]
    joint = bool(parts) and parts[0] in JOINT_KINDS
    names: list[str] = []
    for part in parts:
        base = re.sub(r"\d+$", "", part)  # "QH13": the 13th National Assembly
        if base in DOCUMENT_KINDS and not names:
            continue
        if base not in ISSUERS:
            break
        names.append(ISSUERS[base])
        if not joint:
            break
    return " và ".join(names) or None


def _names_issuer(sentence: str, code: str, name: str) -> bool:
    """Whether a sentence (without the citation) names the issuer, in full or by its code."""
    if name in sentence:
        return True
    codes = {re.sub(r"\d+$", "", part) for part in re.split(r"[-.]", code)} - DOCUMENT_KINDS
    return any(re.search(rf"(?<![\w&]){re.escape(c)}(?![\w&])", sentence) for c in codes if c)


def _name_issuer(match: re.Match[str]) -> str:
    """A citation (and its date) followed by "của" and its issuer, unless the sentence has it."""
    code = (match.group("party") or match.group("code")).rstrip("-")
    name = _issuer(code)
    line = match.string
    if name is None or _NAMED_AFTER.match(line, match.end()):
        return match.group(0)
    starts = [end.end() for end in _SENTENCE_END.finditer(line, 0, match.start())]
    end = _SENTENCE_END.search(line, match.end())
    before = line[starts[-1] if starts else 0 : match.start()]
    after = line[match.end() : end.start() if end else len(line)]
    if _names_issuer(f"{before} {after}", code, name):
        return match.group(0)
    return f"{match.group(0)} của {name}"


def _read_citations(line: str) -> str:
    line = _CITATION.sub(_name_issuer, line)
    line = _NUMBER_COLON.sub(r"\1 ", line)
    line = _CITE_YEAR.sub(
        lambda m: f"{_document_number(m.group(1))} năm {number_words(int(m.group(2)))}", line
    )
    line = _CITE_PARTY.sub(lambda m: _document_number(m.group(1)), line)
    line = _CITE.sub(lambda m: _document_number(m.group(1)), line)
    # A form's blank number ("số ....../QĐ-UBND") has nothing to read.
    return _CITE_BLANK.sub("", line)


def _day_month_year(match: re.Match[str]) -> str:
    word, first, day, _, month, year = match.groups()
    days = [int(d) for d in (first, day) if d]
    if not _valid_date(days, int(month)):
        return match.group(0)
    return f"{word or 'ngày'} {_date(days, int(month), int(year))}"


def _quarter_year(match: re.Match[str]) -> str:
    word, quarter, year = match.groups()
    value = int(quarter) if quarter.isdigit() else _roman(quarter)
    if not 1 <= value <= 4:
        return match.group(0)
    return f"{word} {number_words(value)} năm {number_words(int(year))}"


def _month_year(match: re.Match[str]) -> str:
    word, first, last, year = match.groups()
    months = [int(m) for m in (first, last) if m]
    if not all(1 <= m <= 12 for m in months):
        return match.group(0)
    spoken = " đến ".join(f"tháng {_month(m)}" for m in months)
    if word:
        spoken = word + spoken.removeprefix("tháng")
    return f"{spoken} năm {number_words(int(year))}"


def _day_month(match: re.Match[str]) -> str:
    word, first, second, third = match.groups()
    days = [int(d) for d in (first, second) if d]
    valid = _valid_date(days, int(third))
    if word or first:
        return f"{word or 'ngày'} {_date(days, int(third), None)}" if valid else match.group(0)
    # Without "ngày", a day/month is a date unless the words around it count a share.
    counted = (
        (second, third) == ("24", "7")
        or re.match(r"\s+số(?!\w)", match.string[match.end() :]) is not None
        or _FRACTION_BEFORE.search(match.string[: match.start()]) is not None
    )
    if valid and not counted:
        return f"ngày {_date(days, int(third), None)}"
    a, b = int(second), int(third)
    joiner = "phần" if a < b <= 10 else "trên"
    return f"{number_words(a)} {joiner} {number_words(b)}"


def _read_dates(line: str) -> str:
    line = _LEVEL_LIST.sub(r"\1 \2, \3", line)
    line = _DMY.sub(_day_month_year, line)
    line = _QUARTER_YEAR.sub(_quarter_year, line)
    line = _MONTH_YEAR.sub(_month_year, line)
    return _DAY_MONTH.sub(_day_month, line)


def _phone_groups(digits: str) -> list[str]:
    sizes = {8: (4, 4), 9: (3, 3, 3), 10: (4, 3, 3), 11: (4, 4, 3)}.get(len(digits))
    if sizes is None:
        return [digits[i : i + 3] for i in range(0, len(digits), 3)]
    groups, start = [], 0
    for size in sizes:
        groups.append(digits[start : start + size])
        start += size
    return groups


def _phone(match: re.Match[str], *, lengths: range) -> str:
    text = match.group(0)
    prefix = ""
    if text.startswith("+84"):
        prefix, text = "cộng tám bốn, ", text[3:]
    groups = re.findall(r"\d+", text)
    digits = "".join(groups)
    total = len(digits) + (1 if prefix else 0)
    if total not in lengths:
        return match.group(0)
    if len(groups) == 1:
        groups = _phone_groups(digits)
    return prefix + ", ".join(_digits(group) for group in groups)


def _read_phones(line: str) -> str:
    line = _HOTLINE.sub(lambda m: m.group(1) + _digits(m.group(2)), line)
    line = _TOLL_FREE.sub(lambda m: _phone(m, lengths=range(8, 11)), line)
    return _PHONE.sub(lambda m: _phone(m, lengths=range(9, 12)), line)


def _clock(token: str) -> str | None:
    hour, mark, minute = re.fullmatch(r"(\d{1,2})([:hHg])(\d{2})?'?", token).groups()
    # "24h", "48h" are durations; only a clock time with a colon must be a real hour.
    if (mark == ":" and int(hour) > 24) or (minute and int(minute) > 59):
        return None
    words = f"{number_words(int(hour))} giờ"
    if minute and int(minute):
        words += f" {number_words(int(minute))} phút"
    return words


def _time(match: re.Match[str]) -> str:
    start, end = match.groups()
    first = _clock(start)
    second = _clock(end) if end else ""
    if first is None or second is None:
        return match.group(0)
    return f"{first} đến {second}" if second else first


def _read_times(line: str) -> str:
    line = _TIME.sub(_time, line)
    return _HOUR_MINUTE.sub(r"\1 giờ \2 phút", line)


def _glued_dot(match: re.Match[str]) -> str:
    following = match.string[match.end() : match.end() + 2]
    if len(following) == 2 and following.isupper():
        return " "
    return ". " if following[:1].isupper() else "."


def _abbreviation_pattern(lexicon: Mapping[str, str]) -> re.Pattern[str]:
    keys = sorted(lexicon, key=len, reverse=True)
    return re.compile(rf"(?<![\w&])(?:{'|'.join(re.escape(key) for key in keys)})(?![\w&])")


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def _expansion(match: re.Match[str], *, lexicon: Mapping[str, str]) -> str:
    spoken = lexicon[match.group(0)].split()
    # "Chỉ số PCI" must not say "chỉ số" twice: skip the words the script just said.
    run = re.search(r"(?:[^\W\d_]+\s+)+$", match.string[max(0, match.start() - 80) : match.start()])
    before = _words(run.group(0)) if run else []
    for size in range(min(len(before), len(spoken) - 1), 0, -1):
        if _words(" ".join(spoken[:size])) == before[-size:]:
            return " ".join(spoken[size:])
    return " ".join(spoken)


def _expand_abbreviations(
    line: str, *, lexicon: Mapping[str, str], pattern: re.Pattern[str]
) -> str:
    line = _GLUED_DOT.sub(_glued_dot, line)
    return pattern.sub(lambda m: _expansion(m, lexicon=lexicon), line)


def _drop_repeats(line: str) -> str:
    line = _SHORTHAND.sub("", line)

    # "cải cách hành chính (CCHC)" expands to the same words twice; say them once. A name
    # written with up to two words fewer at either end ("... hành chính công (PAPI)") counts.
    def repeat(match: re.Match[str]) -> str:
        inner = _words(match.group(1))
        before = _words(match.string[: match.start()])
        for start in range(3):
            for end in range(len(inner), len(inner) - 3, -1):
                size = end - start
                if size >= 2 and before[-size:] == inner[start:end]:
                    return ""
        return match.group(0)

    return _PARENTHESIS.sub(repeat, line)


def _roman_list(match: re.Match[str]) -> str:
    keyword, items = match.groups()
    ordinal = keyword.lower().endswith("thứ")

    def one(numeral: re.Match[str]) -> str:
        value = _roman(numeral.group(0))
        return _ordinal(value) if ordinal else number_words(value)

    items = re.sub(r"\s*[-–]\s*", " đến ", items)
    return f"{keyword} {_ROMAN_ALONE.sub(one, items)}"


def _month_word(match: re.Match[str]) -> str:
    month = int(match.group(2))
    return f"{match.group(1)} {_month(month)}" if 1 <= month <= 12 else match.group(0)


def _read_quantities(line: str) -> str:
    line = _ROMAN_LIST.sub(_roman_list, line)
    line = _RANGE.sub(r"\1 đến \2", line)
    line = _PERCENT.sub(r"\1 phần trăm", line)
    line = _UNIT.sub(lambda m: f"{m.group(1)} {UNITS[m.group(2) or m.group(3)]}", line)
    line = _PER_UNIT.sub(lambda m: f"{m.group(1)} một {UNITS.get(m.group(2), m.group(2))}", line)
    line = _ORDINAL.sub(lambda m: f"{m.group(1)} {_ordinal(int(m.group(2)))}", line)
    line = _MONTH.sub(_month_word, line)
    line = _DIGIT_EDGE.sub(" ", line)
    return _NUMBER.sub(lambda m: _number_token(m.group(0)), line)


def is_syllable(word: str) -> bool:
    decomposed = unicodedata.normalize("NFD", word.lower())
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
    return _SYLLABLE.fullmatch(base) is not None


def _lower_caps(match: re.Match[str]) -> str:
    word = match.group(0)
    if len(word) < 2 or not word.isupper() or _ROMAN_ALONE.fullmatch(word):
        return word
    return word.lower() if is_syllable(word) else word


def _ellipsis(match: re.Match[str]) -> str:
    rest = match.string[match.end() :]
    return "." if not rest.strip(" )\"”'") else ", "


def _tidy(line: str) -> str:
    line = _ELLIPSIS.sub(_ellipsis, line)
    line = line.replace("./.", ".")
    line = re.sub(r"\.{2,}", ".", line)
    line = re.sub(r"(?<!\w)và/hoặc(?!\w)", "và hoặc", line)
    line = re.sub(rf"(?<={_LETTER})\s*/\s*(?={_LETTER})", ", ", line)
    line = line.replace("/", " ").replace("&", " và ").replace("%", " phần trăm")
    line = re.sub(r"[*#•_|~^<>+=@]", " ", line)
    line = re.sub(rf"(?<={_LETTER})-(?={_LETTER})", " - ", line)
    line = re.sub(rf"(?<={_LETTER})-(?=\s|$)", "", line)
    line = re.sub(r"(?<=\w)\(", " (", line)
    line = re.sub(r"\)(?=\w)", ") ", line)
    line = re.sub(rf"([,;:])(?={_LETTER})", r"\1 ", line)
    line = re.sub(r"\s+([,.;:!?)])", r"\1", line)
    line = re.sub(r"\(\s+", "(", line)
    line = re.sub(r"([,;:])[,;:]+", r"\1", line)
    line = re.sub(r"\s+", " ", line).strip()
    line = re.sub(r"^[,.;:\-–\s]+", "", line)
    return re.sub(r"[^\W\d_]+", _lower_caps, line)


def _read_line(line: str, *, lexicon: Mapping[str, str], pattern: re.Pattern[str]) -> str:
    line = _clean_markup(line)
    line = _read_web(line)
    line = _read_citations(line)
    line = _read_dates(line)
    line = _read_phones(line)
    line = _read_times(line)
    line = _expand_abbreviations(line, lexicon=lexicon, pattern=pattern)
    line = _drop_repeats(line)
    line = _read_quantities(line)
    return _tidy(line)


def read_aloud(text: str, *, overrides: Mapping[str, str] | None = None) -> str:
    """Return what the voice must say for a script."""
    lexicon = dict(LEXICON)
    for key, value in (overrides or {}).items():
        if key.strip():
            lexicon[unicodedata.normalize("NFC", key)] = unicodedata.normalize("NFC", value)
    pattern = _abbreviation_pattern(lexicon)
    text = _WRAPPED_CODE.sub(r"\1", unicodedata.normalize("NFC", text))
    lines = (_read_line(line, lexicon=lexicon, pattern=pattern) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def count_syllables(reading: str) -> int:
    """Count spoken syllables (Vietnamese words are one syllable each)."""
    return len(re.findall(r"[^\W_]+", reading))


def estimate_seconds(reading: str, *, syllables_per_minute: float = 200.0) -> float:
    """Estimate how long a voice takes to say a reading, pauses at punctuation included."""
    if syllables_per_minute <= 0:
        raise ValueError("syllables_per_minute must be positive")
    pauses = sum(
        max(PAUSES[mark] for mark in run.group(0) if mark in PAUSES)
        for run in re.finditer(r"[.!?;:,\n]+|(?<=\s)[-–](?=\s)", reading)
    )
    return count_syllables(reading) * 60.0 / syllables_per_minute + pauses
