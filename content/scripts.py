"""Programme script templates: Jinja2 in a sandbox, with errors that name the line.

Templates are written by planners through the API, so a template is untrusted code.
Jinja's sandbox stops attribute escapes (`__class__`, `__globals__`…). On top of it:
a template may use only a short list of filters and methods; it cannot define
macros or capture output in blocks, so everything it writes passes the output cap;
every operation that can grow a string, a list or a number is measured before it
runs; a budget of executed template lines stops loops that would spin for hours;
and every filter refuses a value of a type it does not take (content.script_types),
which is also checked on every branch before a template is saved.
"""

import functools
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date
from types import BuiltinMethodType, FrameType
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import LoopContext, Undefined, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from content.script_types import WrongType, check_types, typed
from core.errors import InvalidError

MAX_SCRIPT_CHARS = 200_000
MAX_INT_BITS = 8_192
# Executed template lines per render: a real script needs a few hundred, a loop over
# the words of a long body a few per word; two nested loops over a body need billions.
MAX_STEPS = 200_000
WEEKDAYS = ["thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật"]

DEFAULT_TEMPLATE = """\
{% if programme %}Kính thưa bà con! Mời bà con nghe {{ programme }} của {{ station }}.
{% endif %}{{ title }}.
{{ body }}
{% if programme %}{{ programme }} đến đây là hết. Cảm ơn bà con đã lắng nghe.{% endif %}"""

# Tags that capture output out of sight of the output cap, or reach other templates.
FORBIDDEN_TAGS: dict[type[nodes.Node], str] = {
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.FilterBlock: "filter",
    nodes.AssignBlock: "set … endset",
    nodes.Block: "block",
    nodes.Extends: "extends",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from … import",
}
# Filters whose result grows at most linearly with their input; join and replace are
# replaced by measured versions, the rest (center, indent, format, batch…) is not offered.
SAFE_FILTERS = frozenset(
    {
        "abs",
        "capitalize",
        "count",
        "d",
        "default",
        "first",
        "float",
        "int",
        "last",
        "length",
        "list",
        "lower",
        "max",
        "min",
        "reverse",
        "round",
        "sort",
        "striptags",
        "title",
        "trim",
        "truncate",
        "unique",
        "upper",
        "wordcount",
    }
)
SAFE_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        {
            "capitalize",
            "casefold",
            "count",
            "endswith",
            "find",
            "isalnum",
            "isalpha",
            "isdigit",
            "islower",
            "isnumeric",
            "isspace",
            "istitle",
            "isupper",
            "lower",
            "lstrip",
            "partition",
            "removeprefix",
            "removesuffix",
            "rfind",
            "rpartition",
            "rsplit",
            "rstrip",
            "split",
            "splitlines",
            "startswith",
            "strip",
            "swapcase",
            "title",
            "upper",
        }
    ),
    date: frozenset({"isoformat", "isoweekday", "weekday"}),
}


def _size(value: Any, limit: int = MAX_SCRIPT_CHARS) -> int:
    """About how many characters the value takes as text; stops counting past `limit`."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    if isinstance(value, list | tuple | set | frozenset | dict):
        total = 2
        for element in value.items() if isinstance(value, dict) else value:
            total += _size(element, limit - total) + 2
            if total > limit:
                break
        return total
    return 32


def _too_long(what: str) -> SecurityError:
    limit = f"{MAX_SCRIPT_CHARS:,}".replace(",", ".")
    return SecurityError(f"{what} dài quá giới hạn {limit} ký tự")


def _check_sizes(values: Any) -> None:
    for value in values:
        if _size(value) > MAX_SCRIPT_CHARS:
            raise _too_long("dữ liệu")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _sequence(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


class _ScriptCode(CodeGenerator):
    """Compiles `a ~ b` to a call that measures the parts before joining them."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _ScriptEnvironment(ImmutableSandboxedEnvironment):
    """A sandbox that also measures what templates build and refuses unlisted calls."""

    code_generator_class = _ScriptCode
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        refusal = _binop_refusal(operator, left, right)
        if refusal:
            raise SecurityError(refusal)
        return super().call_binop(context, operator, left, right)

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if not _callable_in_template(__obj):
            name = getattr(__obj, "__name__", type(__obj).__name__)
            raise SecurityError(f"mẫu không được gọi {name}()")
        _check_sizes((*args, *kwargs.values()))
        return super().call(__context, __obj, *args, **kwargs)

    def concat(self, parts: tuple[Any, ...]) -> str:
        """The `~` operator, refusing a result longer than a script may be."""
        if sum(_size(part) for part in parts) > MAX_SCRIPT_CHARS:
            raise _too_long("chuỗi")
        return str_join(parts)


def _binop_refusal(operator: str, left: Any, right: Any) -> str | None:
    # Measured before the operation runs: its result could take gigabytes.
    if operator == "%" and isinstance(left, str):
        return "mẫu không được dùng toán tử % để định dạng chuỗi"
    too_long = str(_too_long("chuỗi"))
    if operator == "+" and _sequence(left) and _sequence(right):
        return too_long if _size(left) + _size(right) > MAX_SCRIPT_CHARS else None
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if _sequence(seq) and _whole(times) and _size(seq) * times > MAX_SCRIPT_CHARS:
                return too_long
        if _whole(left) and _whole(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            return "số quá lớn"
    if operator == "**" and _whole(left) and _whole(right) and right > 0:
        return "lũy thừa quá lớn" if max(left.bit_length(), 1) * right > MAX_INT_BITS else None
    return None


def _callable_in_template(obj: Any) -> bool:
    # Calling an undefined name raises its own clear error; loop.cycle() and
    # loop.changed() only pick among values the template already holds.
    if isinstance(obj, Undefined) or isinstance(getattr(obj, "__self__", None), LoopContext):
        return True
    if not isinstance(obj, BuiltinMethodType):
        return False
    owner = obj.__self__
    return any(
        isinstance(owner, kind) and obj.__name__ in names for kind, names in SAFE_METHODS.items()
    )


def _measured(function: Callable[..., Any]) -> Callable[..., Any]:
    # Filters turn their input into text first (str() of a list of long strings
    # can take gigabytes), so the input is measured before the filter sees it.
    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _check_sizes((*args, *kwargs.values()))
        return function(*args, **kwargs)

    return checked


def _date_vn(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def _weekday_vn(value: date) -> str:
    return WEEKDAYS[value.weekday()]


def _replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    text, old, new = str(value), str(old), str(new)
    count = -1 if count is None or count < 0 else count  # negative: all, as str.replace
    hits = text.count(old) if old else len(text) + 1
    if count >= 0:
        hits = min(hits, count)
    if len(text) + hits * (len(new) - len(old)) > MAX_SCRIPT_CHARS:
        raise _too_long("kết quả thay thế")
    return text.replace(old, new, count)


def _join(value: Any, separator: Any = "") -> str:
    texts, separator = [str(v) for v in value], str(separator)
    if sum(map(len, texts)) + len(separator) * max(len(texts) - 1, 0) > MAX_SCRIPT_CHARS:
        raise _too_long("kết quả nối chuỗi")
    return separator.join(texts)


def _output(value: Any) -> Any:
    # Every {{ expression }} passes here before it becomes text.
    _check_sizes((value,))
    return value


_env = _ScriptEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    trim_blocks=True,
    keep_trailing_newline=False,
    finalize=_output,
)
# No range(), lipsum(), cycler() or namespace(): nothing large to loop over or build.
_env.globals.clear()
_env.filters = {
    name: typed(name, _measured(function))
    for name, function in {
        **{name: f for name, f in _env.filters.items() if name in SAFE_FILTERS},
        "ngay": _date_vn,
        "thu": _weekday_vn,
        "replace": _replace,
        "join": _join,
    }.items()
}


@dataclass(frozen=True)
class ScriptContext:
    """The variables a script template may use."""

    station: str
    programme: str
    title: str
    body: str
    date: date
    language: str = "vie"


# What each variable of the render context is, for the check before a template is saved.
VARIABLE_TYPES = {f.name: frozenset({f.type}) for f in fields(ScriptContext)}


class _Budget:
    """Counts executed lines of template code and stops the render past the limit."""

    def __init__(self, steps: int) -> None:
        self.left = steps

    def enter(self, frame: FrameType, _event: str, _arg: Any) -> Any:
        # Only frames of compiled templates are counted; Python's own stay untraced.
        return self.line if frame.f_code.co_filename == "<template>" else None

    def line(self, _frame: FrameType, event: str, _arg: Any) -> Any:
        if event == "line":
            self.left -= 1
            if self.left < 0:
                raise SecurityError("mẫu chạy quá nhiều bước (vòng lặp quá lớn)")
        return self.line


def _template_line(exc: BaseException) -> int | None:
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"]
    return frames[-1].lineno if frames else None


def _invalid(exc: BaseException, line: int | None = None) -> InvalidError:
    line = line or _template_line(exc)
    where = f" ở dòng {line}" if line else ""
    message = (getattr(exc, "message", None) or str(exc)).rstrip(".")
    if isinstance(exc, RecursionError):
        message = "vòng lặp gọi lại chính nó quá sâu"
    elif unknown := re.match(r"No filter named '(\w+)'", message):
        message = f"không có bộ lọc {unknown[1]!r}; dùng được: {', '.join(sorted(_env.filters))}"
    return InvalidError(
        f"Mẫu kịch bản có lỗi{where}: {message}.",
        errors=[{"field": "template", "line": line, "msg": message}],
    )


_TOO_DEEP = SecurityError("mẫu lồng nhau quá sâu")


@functools.lru_cache(maxsize=64)
def _compile(text: str) -> Any:
    try:
        tree = _env.parse(text)
        for node in tree.find_all((*FORBIDDEN_TAGS, nodes.For)):
            if isinstance(node, nodes.For) and not node.recursive:
                continue
            tag = "for … recursive" if isinstance(node, nodes.For) else FORBIDDEN_TAGS[type(node)]
            refusal = SecurityError(f"mẫu kịch bản không được dùng thẻ {tag}")
            raise _invalid(refusal, node.lineno)
        return _env.from_string(text)
    except TemplateSyntaxError as exc:
        raise _invalid(exc) from None
    except (RecursionError, SyntaxError):
        # Jinja parses by recursion, and Python compiles at most 20 nested blocks.
        raise _invalid(_TOO_DEEP) from None


def check_template(text: str) -> None:
    """Raise InvalidError naming the line if a template does not compile, uses a forbidden
    tag, or gives a filter a type it does not take on any branch."""
    _compile(text)
    try:
        check_types(_env.parse(text), variables=VARIABLE_TYPES, filters=_env.filters)
    except WrongType as exc:
        raise _invalid(exc, exc.line) from None
    except RecursionError:
        raise _invalid(_TOO_DEEP) from None


def render_script(*, template: str | None, context: ScriptContext) -> str:
    """Render an item's script through its programme template (or the default one)."""
    compiled = _compile(template or DEFAULT_TEMPLATE)
    budget, previous = _Budget(MAX_STEPS), sys.gettrace()
    parts, size = [], 0
    try:
        sys.settrace(budget.enter)
        try:
            for part in compiled.generate(**vars(context)):
                size += len(part)
                if size > MAX_SCRIPT_CHARS:
                    raise _too_long("kịch bản")
                parts.append(part)
        finally:
            sys.settrace(previous)
    except (
        TemplateError,
        TypeError,
        ValueError,
        AttributeError,
        LookupError,
        ArithmeticError,
        RecursionError,
    ) as exc:
        raise _invalid(exc) from None
    return "".join(parts).strip()
