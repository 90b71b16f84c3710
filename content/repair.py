"""Repair of text damaged by extraction from PDF: page furniture, broken words, lost letters.

Text taken from a PDF can repeat a page's running header or footer in the middle of the plan,
break a word across two lines ("truy" / "ền"), and drop the letters a font did not map back
to Unicode: "Phòng Văn hóa" arrives as "Ph ng Văn h a", "thành phố" as "thành ph". A dropped
letter is restored only where a Vietnamese word list makes it unambiguous: the fragments
must make a known syllable, and among the syllables they could make one must read best with
its neighbours ("văn h a" can only be "văn hóa"); a tie changes nothing ("H a Khánh" stays).
The word list is the dictionary underthesea ships (Viet74K), the phrases of plans and of the
voice's lexicon (which count more), and the plan's own undamaged words.
The original text is kept by the caller: repair_text returns each change beside it.
"""

import functools
import importlib.metadata
import itertools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace

from content.lexicon import ISSUERS, LEXICON
from content.outline import _OLD_TONE, _TONES
from content.reading import is_syllable

__all__ = ["Repair", "RepairedText", "repair_text"]


@dataclass(frozen=True)
class Repair:
    """One change: the text as extracted and as repaired ("" when a line was dropped)."""

    original: str
    repaired: str


@dataclass
class RepairedText:
    """The repaired text and its changes, in document order."""

    text: str
    repairs: list[Repair]


def repair_text(text: str) -> RepairedText:
    """Drop running headers and footers, rejoin broken words and restore dropped letters."""
    text = unicodedata.normalize("NFC", text)
    repairs: list[Repair] = []
    text = _drop_page_furniture(text, repairs)
    text = _rejoin_broken_words(text, repairs)
    text = _restore_letters(text, repairs)
    return RepairedText(text, repairs)


# Page furniture: lines repeated at the edges of pages

_EDGE = 2  # lines at the top and at the bottom of a page that may be furniture


def _drop_page_furniture(text: str, repairs: list[Repair]) -> str:
    """Text without the lines that open or close most pages alike ("Kế hoạch số 5 - Trang 2")."""
    pages = [page.split("\n") for page in text.split("\f")]
    if len(pages) < 2:
        return text
    seen: Counter[str] = Counter()
    for lines in pages:
        seen.update({_furniture_key(lines[i]) for i in _edges(lines)})
    repeated = {key for key, n in seen.items() if key and n >= 2 and n * 2 >= len(pages)}
    for lines in pages:
        for i in sorted(_edges(lines), reverse=True):
            if _furniture_key(lines[i]) in repeated:
                repairs.append(Repair(lines[i].strip(), ""))
                del lines[i]
    return "\f".join("\n".join(lines) for lines in pages)


def _edges(lines: list[str]) -> set[int]:
    """Indexes of the first and last lines of a page that have text."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return set(filled[:_EDGE] + filled[-_EDGE:])


def _furniture_key(line: str) -> str:
    """A line as it repeats from page to page: page numbers vary, spacing too."""
    return re.sub(r"\d+", "#", " ".join(line.split()).lower())


# Words broken across two lines


_LETTERS = r"[^\W\d_]+"
_BROKEN_AT_END = re.compile(rf"({_LETTERS})-?[ \t]*\n([ \t]*)({_LETTERS})")


def _rejoin_broken_words(text: str, repairs: list[Repair]) -> str:
    """Join the two halves of a word cut by a line break ("truy" / "ền" -> "truyền")."""
    vocabulary = _vocabulary()

    def join(match: re.Match[str]) -> str:
        first, indent, second = match.groups()
        whole = _lower(first + second)
        broken = not vocabulary.is_syllable(_lower(first)) or not vocabulary.is_syllable(
            _lower(second)
        )
        if not broken or _acronym(first) or _acronym(second):
            return match.group(0)
        if vocabulary.is_syllable(whole):
            repairs.append(Repair(f"{first} / {second}", first + second))
            return f"{first}{second}\n{indent}"
        if vocabulary.restorations(whole):
            # A letter was lost at the break too: the pieces go together for restoring it.
            return f"{first} {second}\n{indent}"
        return match.group(0)

    return _BROKEN_AT_END.sub(join, text)


# Dropped letters


_DROPPABLE = frozenset("àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
# How much a pair of words counts as evidence: a phrase of plans, the plan's own undamaged
# words (for a restored word only: the damaged pairs are the plan's words too), the dictionary.
# Each restored word costs a little, so one word explains two fragments better than two do.
_PLAN_WEIGHT, _LOCAL_WEIGHT, _DICTIONARY_WEIGHT, _RESTORED_COST = 6, 4, 2, 1
# A restoration that is the only syllable its fragments can be needs no neighbour to vouch.
_UNIQUE_BONUS = 2
# A plan with this many clear restorations is damaged: its whole-looking words are tried too.
_DAMAGED = 3


@dataclass(frozen=True)
class _Option:
    """What the words at a position may have been: `size` words read as one `word`."""

    size: int
    word: str
    changed: bool
    unique: bool = False  # the only syllable these fragments can be
    bare: bool = False  # consonants alone, read as a word of their own
    seen: bool = False  # puts back a letter the plan shows elsewhere: a font lost it less likely


class _Evidence:
    """The word list, the plan's own pairs of words and the letters the plan never shows."""

    def __init__(self, text: str) -> None:
        self.vocabulary = _vocabulary()
        lowered = text.lower()
        # Letters a font lost are absent everywhere; restoring only those keeps choices few.
        self.missing = {letter for letter in _DROPPABLE if letter not in lowered}
        self.local: set[tuple[str, str]] = set()
        for line in text.split("\n"):
            for first, second in _adjacent(line):
                if self.is_syllable(first) and self.is_syllable(second):
                    self.local.add((first, second))

    def is_syllable(self, word: str) -> bool:
        return word in self.vocabulary.syllables

    def restorations(self, damaged: str) -> list[str]:
        """Syllables that read `damaged` without some of their letters."""
        return self.vocabulary.restorations(damaged)

    def seen(self, restored: str, damaged: str) -> bool:
        """Whether a restoration puts back a letter that the plan shows elsewhere."""
        return not set((Counter(restored) - Counter(damaged)).elements()) <= self.missing

    def weight(self, first: str | None, second: str | None, *, restored: bool) -> int:
        """How well two words are known to follow each other (0: not at all)."""
        if first is None or second is None:
            return 0
        pair = (first, second)
        if pair in self.vocabulary.plan_pairs:
            return _PLAN_WEIGHT
        if restored and pair in self.local:
            return _LOCAL_WEIGHT
        return _DICTIONARY_WEIGHT if pair in self.vocabulary.pairs else 0


def _adjacent(line: str) -> list[tuple[str, str]]:
    """Pairs of words a single space apart: punctuation and columns separate words."""
    words = list(_WORD.finditer(line))
    return [
        (_lower(a.group()), _lower(b.group()))
        for a, b in itertools.pairwise(words)
        if line[a.end() : b.start()] == " "
    ]


def _restore_letters(text: str, repairs: list[Repair]) -> str:
    """Restore dropped letters; in a damaged plan, words that look whole are tried as well."""
    evidence = _Evidence(text)
    lines = text.split("\n")
    found = 0
    for strict in (True, False):
        if not strict and found < _DAMAGED:
            break
        for index, line in enumerate(lines):
            lines[index], count = _restore_line(line, evidence, repairs, strict=strict)
            found += count
    return "\n".join(lines)


def _restore_line(
    line: str, evidence: _Evidence, repairs: list[Repair], *, strict: bool
) -> tuple[str, int]:
    """A line with its damaged words restored, and how many were."""
    segments: list[list[re.Match[str]]] = []
    for match in _WORD.finditer(line):
        if segments and line[segments[-1][-1].end() : match.start()] == " ":
            segments[-1].append(match)
        else:
            segments.append([match])
    changes = [c for segment in segments for c in _restore_segment(line, segment, evidence, strict)]
    pieces, at = [], 0
    for start, end, word in changes:
        original = line[start:end]
        repaired = _cased(word, original, line, start)
        repairs.append(Repair(original, repaired))
        pieces.append(line[at:start] + repaired)
        at = end
    pieces.append(line[at:])
    return "".join(pieces), len(changes)


def _restore_segment(
    line: str, segment: list[re.Match[str]], evidence: _Evidence, strict: bool
) -> list[tuple[int, int, str]]:
    """(start, end, word) of each restoration in a run of words, in order.

    The reading that forms the most known words with its neighbours wins; each restoration
    in it is kept only if nothing else at its place (the damaged words themselves included)
    reads as well next to the same neighbours: a tie is left as it came.
    """
    tokens = [_lower(match.group()) for match in segment]
    options = [_options(line, segment, tokens, i, evidence, strict) for i in range(len(tokens))]
    if not any(option.changed for at in options for option in at):
        return []
    # best[i]: the best reading of the first i words, by its last word.
    best: list[dict[str | None, tuple[int, list[tuple[int, _Option]]]]] = [
        {} for _ in range(len(tokens) + 1)
    ]
    best[0][None] = (0, [])
    for i in range(len(tokens)):
        for last, (score, path) in best[i].items():
            last_changed = bool(path) and path[-1][1].changed
            for option in options[i]:
                gain = evidence.weight(last, option.word, restored=option.changed or last_changed)
                total = score + gain + _bonus(option)
                slot = best[i + option.size]
                if option.word not in slot or total > slot[option.word][0]:
                    slot[option.word] = (total, [*path, (i, option)])
    _, path = max(best[len(tokens)].values(), key=lambda found: found[0])
    changes = []
    for k, (i, option) in enumerate(path):
        if not option.changed:
            continue
        before = path[k - 1][1].word if k else None
        after = path[k + 1][1].word if k + 1 < len(path) else None
        mine = _score([before, option.word, after], evidence, restored=True) + _bonus(option)
        rivals = [
            _score([before, o.word, after], evidence, restored=True) + _bonus(o)
            for o in options[i]
            if o.changed and o.size == option.size and o.word != option.word
        ]
        rivals.append(_score([before, *tokens[i : i + option.size], after], evidence))
        if mine > 0 and all(rival < mine for rival in rivals):
            changes.append((segment[i].start(), segment[i + option.size - 1].end(), option.word))
    return changes


def _bonus(option: _Option) -> int:
    """What restoring a word costs, or earns when the word list allows nothing else."""
    if not option.changed:
        return 0
    return _UNIQUE_BONUS * option.unique - _RESTORED_COST * (1 + option.bare + option.seen)


def _score(words: list[str | None], evidence: _Evidence, *, restored: bool = False) -> int:
    """How well the words of a reading are known to follow each other."""
    return sum(evidence.weight(a, b, restored=restored) for a, b in itertools.pairwise(words))


def _options(
    line: str,
    segment: list[re.Match[str]],
    tokens: list[str],
    i: int,
    evidence: _Evidence,
    strict: bool,
) -> list[_Option]:
    """The readings of the words at i: as they are, restored alone, or joined with the next.

    A dropped letter leaves its word in one piece ("Phng", "ph") or in two around a space
    ("Ph ng"); the pieces are damaged when one of them is not a syllable. With strict=False
    words that look whole are read again too ("ngư i" for "người", "y" for "Ủy").
    """
    options = [_Option(1, tokens[i], False)]
    word = segment[i].group()
    column = _column(line, segment[i].start())
    if _acronym(word, column) or len(word) > 7:
        return options
    whole = evidence.is_syllable(tokens[i])
    if not whole or not strict:
        # Consonants alone ("ng") more often lost a vowel inside a word than a whole word's.
        bare = not _has_vowel(tokens[i])
        options += [
            _Option(1, c, True, bare=bare, seen=evidence.seen(c, tokens[i]))
            for c in evidence.restorations(tokens[i])
        ]
    options += [
        _Option(2, c, True, seen=evidence.seen(c, tokens[i] + tokens[i + 1]))
        for c in _joined(line, segment, tokens, i, evidence, strict)
    ]
    for size in (1, 2):
        # The only syllable the fragments can be, or the only word of plans among them. A word
        # that looks whole, or a lone consonant ("KT", "g"), needs a neighbour to vouch for it.
        alike = [o for o in options if o.changed and o.size == size]
        planned = [o for o in alike if o.word in evidence.vocabulary.plan_words]
        sole = alike if len(alike) == 1 else planned
        span = "".join(tokens[i : i + size])
        if len(sole) == 1 and _has_vowel(span) and not (whole and size == 1):
            options[options.index(sole[0])] = replace(sole[0], unique=True)
    return options


def _joined(
    line: str,
    segment: list[re.Match[str]],
    tokens: list[str],
    i: int,
    evidence: _Evidence,
    strict: bool,
) -> list[str]:
    """Syllables the words at i and i + 1 make when the letter lost between them comes back."""
    if i + 1 >= len(tokens) or line[segment[i].end() : segment[i + 1].start()] != " ":
        return []
    column = _column(line, segment[i + 1].start())
    if _acronym(segment[i].group(), column) or _acronym(segment[i + 1].group(), column):
        return []
    whole = evidence.is_syllable(tokens[i]) and evidence.is_syllable(tokens[i + 1])
    return evidence.restorations(tokens[i] + tokens[i + 1]) if not (whole and strict) else []


def _has_vowel(text: str) -> bool:
    return any(ch in "aeiouy" for ch in unicodedata.normalize("NFD", text))


def _lower(word: str) -> str:
    return _OLD_TONE.sub(lambda m: _TONES[m.group(1)], word.lower())


def _acronym(word: str, line: str = "") -> bool:
    """An abbreviation ("UBND", "VNeID") in running text, not a word of a title in capitals."""
    capitals = sum(ch.isupper() for ch in word)
    if capitals < 2 and not (capitals == 1 and word[0].islower()):
        return False
    return not _shouting(line) or word in LEXICON or word in ISSUERS


def _cased(choice: str, original: str, line: str, start: int) -> str:
    """A restored word in the case of the damaged one, or of its line if all in capitals."""
    if original.isupper() and (
        len(original.replace(" ", "")) > 1 or _shouting(_column(line, start))
    ):
        return choice.upper()
    before = line[:start].rstrip()
    if original[:1].isupper() or not re.sub(r"^[\W\d]*", "", before) or before.endswith("."):
        return choice[:1].upper() + choice[1:]
    return choice


def _column(line: str, at: int) -> str:
    """The part of a line around `at` between runs of spaces: a header's columns differ."""
    start = max((m.end() for m in re.finditer(r"\s{2,}", line[:at])), default=0)
    end = re.search(r"\s{2,}", line[at:])
    return line[start : at + end.start()] if end else line[start:]


def _shouting(line: str) -> bool:
    """A line in capitals (a heading, a header), where capitals are not abbreviations."""
    letters = [ch for ch in line if ch.isalpha()]
    return bool(letters) and sum(ch.isupper() for ch in letters) > 0.8 * len(letters)


# The word list


# Words of plans and agencies that the dictionary lists only in part.
_PLAN_PHRASES = """
hàng tuần|hằng tuần|hàng ngày|hằng ngày|hàng tháng|hằng tháng|hàng quý|hằng quý|hàng năm
hằng năm|mỗi tuần|mỗi tháng|người dân|bà con|nhân dân|tiếp sóng|tiếp âm|tiếp phát sóng
phát sóng|phát thanh|phát lại|loa truyền thanh|đài truyền thanh|hệ thống loa|cụm loa
bản tin|chuyên mục|chương trình thời sự|thời lượng|thời gian thực hiện|cơ quan chủ trì
cơ quan phối hợp|đơn vị thực hiện|tổ chức thực hiện|hình thức tuyên truyền
nội dung tuyên truyền|mục đích yêu cầu|kinh phí thực hiện|nơi nhận|lưu văn thư
thị trấn|thị xã|thành phố|tổ dân phố|khu dân cư|thôn bản|người có uy tín
phòng văn hóa và thông tin|phòng nội vụ|phòng tư pháp|phòng giáo dục và đào tạo
sở nội vụ|văn phòng hội đồng nhân dân và ủy ban nhân dân|công chức văn hóa xã hội
trung tâm văn hóa thông tin và thể thao|trung tâm truyền thông và văn hóa
đài phát thanh và truyền hình tỉnh|đài truyền thanh truyền hình huyện|đài tiếng nói việt nam
cải cách hành chính|thủ tục hành chính|dịch vụ công trực tuyến|bộ phận một cửa
chuyển đổi số|công nghệ số|định danh điện tử|bưu chính công ích|phòng chống thiên tai
mưa lớn|mưa bão|lũ quét|sạt lở đất|hộ gia đình|hỗ trợ|nộp hồ sơ|nộp phí|tổ công nghệ số
mức độ|khu phố|tổ truyền thanh|tờ rơi|tờ gấp|pa nô|áp phích|hội nghị|tập huấn|bồi dưỡng
tọa đàm|cổng thông tin điện tử|trang thông tin điện tử|mạng xã hội|báo chí|đối với
đồng bào dân tộc thiểu số|tiếng dân tộc|tiếng mường|tiếng thái|tiếng mông|tiếng dao
tiếng ê đê|tiếng khmer|tiếng tày|tiếng nùng|song ngữ
quyết định số|kế hoạch số|thông tư số|nghị định số|chỉ thị số|công văn số|nghị quyết số
người đứng đầu|người lao động|các buổi họp|buổi sinh hoạt|họp thôn|thôn xóm|giờ sáng
đường dây nóng|đường giao thông|ủy ban nhân dân phường|xã phường thị trấn|các phường
phường xã|trưởng thôn|tổ trưởng
mỗi buổi|mỗi bản tin|mỗi chương trình|mỗi lần|mỗi số|với người dân|phối hợp với
cộng hòa xã hội chủ nghĩa việt nam|độc lập tự do hạnh phúc|nơi công cộng|ở trọ
"""


class _Vocabulary:
    """Syllables and pairs of syllables that make words, with where each pair is known from."""

    def __init__(self, words: list[str], phrases: list[str]) -> None:
        self.syllables: set[str] = set()
        self.plan_pairs: set[tuple[str, str]] = set()
        self.pairs: set[tuple[str, str]] = set()
        self.plan_words = {_lower(w) for p in phrases for w in re.findall(r"[^\W\d_]+", p)}
        for entries, pairs in ((words, self.pairs), (phrases, self.plan_pairs)):
            for entry in entries:
                parts = [_lower(part) for part in re.findall(r"[^\W\d_]+", entry)]
                if not all(is_syllable(part) and _well_formed(part) for part in parts):
                    continue  # the dictionary lists letters, abbreviations and typos too
                self.syllables.update(parts)
                pairs.update(itertools.pairwise(parts))
        self._skeletons: dict[str, list[str]] = {}
        for syllable in sorted(self.syllables):
            for skeleton in _skeletons(syllable):
                self._skeletons.setdefault(skeleton, []).append(syllable)

    def is_syllable(self, word: str) -> bool:
        return word in self.syllables

    def restorations(self, damaged: str) -> list[str]:
        """Syllables that lose exactly these letters when some of theirs are dropped."""
        return self._skeletons.get(damaged, [])


_TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def _well_formed(syllable: str) -> bool:
    """One tone mark at most, no vowel twice, "ươ" whole: the list has typos ("khôống")."""
    marks = unicodedata.normalize("NFD", syllable)
    base = unicodedata.normalize("NFC", "".join(ch for ch in marks if ch not in _TONE_MARKS))
    vowels = re.sub(r"[^aăâeêioôơuưy]", "", base)
    doubled = any(a == b for a, b in itertools.pairwise(vowels))
    return sum(ch in _TONE_MARKS for ch in marks) <= 1 and not doubled and "ưo" not in base


def _skeletons(syllable: str) -> set[str]:
    """The syllable with each non-empty set of its accented letters dropped."""
    positions = [i for i, ch in enumerate(syllable) if ch in _DROPPABLE]
    found = set()
    for mask in range(1, 1 << len(positions)):
        dropped = {positions[bit] for bit in range(len(positions)) if mask >> bit & 1}
        skeleton = "".join(ch for i, ch in enumerate(syllable) if i not in dropped)
        if skeleton:
            found.add(skeleton)
    return found


@functools.cache
def _vocabulary() -> "_Vocabulary":
    """The word list, read once: underthesea's Viet74K, and the words of plans and the voice."""
    path = importlib.metadata.distribution("underthesea").locate_file(
        "underthesea/corpus/data/Viet74K.txt"
    )
    words = path.read_text(encoding="utf-8").splitlines()  # type: ignore[union-attr]
    phrases = [p for line in _PLAN_PHRASES.split("\n") for p in line.split("|") if p]
    phrases += list(LEXICON.values()) + list(ISSUERS.values())
    return _Vocabulary(words, phrases)
