"""Programme script templates: Jinja2 in a sandbox, with errors that name the line."""

import traceback
from dataclasses import dataclass
from datetime import date
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from core.errors import InvalidError

MAX_SCRIPT_CHARS = 200_000
WEEKDAYS = ["thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật"]

DEFAULT_TEMPLATE = """\
{% if programme %}Kính thưa bà con! Mời bà con nghe {{ programme }} của {{ station }}.
{% endif %}{{ title }}.
{{ body }}
{% if programme %}{{ programme }} đến đây là hết. Cảm ơn bà con đã lắng nghe.{% endif %}"""


class _ScriptEnvironment(ImmutableSandboxedEnvironment):
    """A sandbox that also refuses to build huge strings or numbers."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("lũy thừa quá lớn")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if sized and len(seq) * times > MAX_SCRIPT_CHARS:
                    raise SecurityError("chuỗi quá dài")
        return super().call_binop(context, operator, left, right)

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # str.ljust(10**9), center(), zfill()… would allocate before the output cap sees it.
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool) and value > MAX_SCRIPT_CHARS:
                raise SecurityError("đối số quá lớn")
        return super().call(__context, __obj, *args, **kwargs)


def _date_vn(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def _weekday_vn(value: date) -> str:
    return WEEKDAYS[value.weekday()]


_env = _ScriptEnvironment(
    undefined=StrictUndefined, autoescape=False, trim_blocks=True, keep_trailing_newline=False
)
# Loops have nothing large to walk over; without range() a template cannot spin for hours.
for name in ("range", "lipsum", "cycler", "joiner", "namespace"):
    _env.globals.pop(name, None)
_env.filters["ngay"] = _date_vn
_env.filters["thu"] = _weekday_vn


@dataclass(frozen=True)
class ScriptContext:
    """The variables a script template may use."""

    station: str
    programme: str
    title: str
    body: str
    date: date
    language: str = "vie"


def _template_line(exc: BaseException) -> int | None:
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"]
    return frames[-1].lineno if frames else None


def _invalid(exc: BaseException) -> InvalidError:
    line = _template_line(exc)
    where = f" ở dòng {line}" if line else ""
    message = (getattr(exc, "message", None) or str(exc)).rstrip(".")
    return InvalidError(
        f"Mẫu kịch bản có lỗi{where}: {message}.",
        errors=[{"field": "template", "line": line, "msg": message}],
    )


def check_template(text: str) -> None:
    """Raise InvalidError naming the line if a template does not compile."""
    try:
        _env.from_string(text)
    except TemplateSyntaxError as exc:
        raise _invalid(exc) from None


def render_script(*, template: str | None, context: ScriptContext) -> str:
    """Render an item's script through its programme template (or the default one)."""
    try:
        compiled = _env.from_string(template or DEFAULT_TEMPLATE)
        parts, size = [], 0
        for part in compiled.generate(**vars(context)):
            size += len(part)
            if size > MAX_SCRIPT_CHARS:
                raise SecurityError("kịch bản dài quá giới hạn")
            parts.append(part)
    except (TemplateError, SecurityError, TypeError, ValueError, ArithmeticError) as exc:
        raise _invalid(exc) from None
    return "".join(parts).strip()
