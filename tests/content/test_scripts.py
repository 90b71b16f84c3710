from datetime import date

import pytest

from content.scripts import ScriptContext, check_template, render_script
from core.errors import InvalidError

CONTEXT = ScriptContext(
    station="Đài truyền thanh xã A",
    programme="Chuyên mục Cải cách hành chính",
    title="Nộp hồ sơ qua mạng",
    body="Bà con có thể nộp hồ sơ tại nhà.",
    date=date(2026, 11, 23),
)


def test_default_template_wraps_the_body_in_greeting_and_closing() -> None:
    script = render_script(template=None, context=CONTEXT)
    lines = script.splitlines()
    assert lines[0].startswith("Kính thưa bà con! Mời bà con nghe Chuyên mục Cải cách hành chính")
    assert "Bà con có thể nộp hồ sơ tại nhà." in lines
    assert lines[-1].endswith("Cảm ơn bà con đã lắng nghe.")


def test_variables_and_vietnamese_date_filters() -> None:
    template = "{{ station }} — {{ date | thu }}, {{ date | ngay }}\n{{ body }}"
    assert render_script(template=template, context=CONTEXT) == (
        "Đài truyền thanh xã A — thứ Hai, 23/11/2026\nBà con có thể nộp hồ sơ tại nhà."
    )


@pytest.mark.parametrize(
    ("template", "line"),
    [
        ("Xin chào\n{{ body }}\n{% if %}", 3),
        ("Xin chào\n{{ bien_khong_co }}", 2),
        ("{{ body }}\n\n{% for x in items %}", 3),
        ("{{ body | khong_co_bo_loc }}", 1),
    ],
)
def test_template_errors_name_the_line(template: str, line: int) -> None:
    with pytest.raises(InvalidError) as caught:
        render_script(template=template, context=CONTEXT)
    assert caught.value.status == 422
    assert f"dòng {line}" in caught.value.detail
    assert caught.value.errors[0]["line"] == line


@pytest.mark.parametrize(
    "escape",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ body.__class__.__base__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ self.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ range(10**9) | list }}",
        "{{ 'a' * 1000000000 }}",
        "{{ [1] * 1000000000 }}",
        "{{ 9 ** 99999999 }}",
        "{% set x = body.update(a=1) %}",
        "{{ body.ljust(100000000) | length }}",
        "{{ lipsum(100000) | length }}",
    ],
)
def test_sandbox_escapes_and_resource_bombs_are_refused(escape: str) -> None:
    with pytest.raises(InvalidError):
        render_script(template=escape, context=CONTEXT)


def test_check_template_accepts_good_and_refuses_broken_syntax() -> None:
    check_template("{{ title }}\n{{ body }}")
    with pytest.raises(InvalidError, match="dòng 2"):
        check_template("{{ title }}\n{{ body")
