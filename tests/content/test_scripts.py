from datetime import date

import pytest

from content.script_types import FILTER_TYPES
from content.scripts import DEFAULT_TEMPLATE, ScriptContext, _env, check_template, render_script
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


@pytest.mark.parametrize(
    ("template", "line", "message"),
    [
        (
            "Xin chào\n{{ body | ngay }}",
            2,
            "bộ lọc ngay chỉ dùng cho ngày, mà giá trị đưa vào là chuỗi",
        ),
        ("{{ title | thu }}", 1, "bộ lọc thu chỉ dùng cho ngày"),
        ("{{ date | length }}", 1, "bộ lọc length chỉ dùng cho chuỗi, danh sách hoặc từ điển"),
        ("{{ body | round }}", 1, "bộ lọc round chỉ dùng cho số nguyên hoặc số thực"),
        ("{{ body | truncate('năm') }}", 1, "tham số length của bộ lọc truncate phải là số nguyên"),
        ("{{ body | upper(2) }}", 1, "bộ lọc upper không nhận tham số nào"),
    ],
)
def test_a_filter_refuses_a_value_of_the_wrong_type_naming_the_line(
    template: str, line: int, message: str
) -> None:
    with pytest.raises(InvalidError) as caught:
        render_script(template=template, context=CONTEXT)
    assert caught.value.status == 422
    assert f"dòng {line}" in caught.value.detail
    assert message in caught.value.detail


# Each renders fine on CONTEXT (Vietnamese), so a trial render would let it through.
HIDDEN = [
    ("{% if language == 'blt' %}\n{{ body | ngay }}\n{% endif %}", 2, "mà body là chuỗi"),
    (
        "{% if false %}{% else %}{% if title == 'x' %}\n\n{{ body | thu }}{% endif %}{% endif %}",
        3,
        "thu",
    ),
    (
        "{% for tu in body.split() if tu == 'xyz' %}\n{{ tu | ngay }}{% endfor %}",
        2,
        "mà tu là chuỗi",
    ),
    (
        "{% set d = date %}{% if language != 'vie' %}{% set d = body %}{% endif %}\n{{ d | ngay }}",
        2,
        "mà d có thể là chuỗi",
    ),
    (
        "{% set d = date %}{% for c in title %}{{ d | ngay }}{% set d = c %}{% endfor %}",
        1,
        "mà d có thể là chuỗi",
    ),
    ("{{ (date if language == 'vie' else body) | thu }}", 1, "có thể là chuỗi"),
    (
        "{% with n = body | length %}{% if n > 10**6 %}{{ n | ngay }}{% endif %}{% endwith %}",
        1,
        "là số nguyên",
    ),
    (
        "{% if language == 'blt' %}\n{{ date | default(body) | first | abs }}{% endif %}",
        2,
        "bộ lọc first",
    ),
    (
        "{% if language == 'blt' %}\n{{ body.split() | join | thu }}{% endif %}",
        2,
        "kết quả bộ lọc join là chuỗi",
    ),
    (
        "{% if language == 'blt' %}\n{{ body | replace('a', 'b', 'hết') }}{% endif %}",
        2,
        "tham số count",
    ),
    (
        "{% if language == 'blt' %}\n{{ body | khong_co }}{% endif %}",
        2,
        "không có bộ lọc 'khong_co'",
    ),
]


@pytest.mark.parametrize(("template", "line", "message"), HIDDEN)
def test_check_template_finds_a_wrong_type_on_a_branch_the_render_does_not_take(
    template: str, line: int, message: str
) -> None:
    render_script(template=template, context=CONTEXT)
    with pytest.raises(InvalidError) as caught:
        check_template(template)
    assert f"dòng {line}" in caught.value.detail, caught.value.detail
    assert message in caught.value.detail
    assert caught.value.errors[0]["line"] == line


def test_check_template_accepts_templates_that_use_filters_on_the_right_types() -> None:
    check_template(DEFAULT_TEMPLATE)
    check_template(
        "Kính thưa bà con! {{ programme | upper }} — {{ date | thu }}, {{ date | ngay }}.\n"
        "{% set d = date %}{% if language != 'vie' %}{% set d = date %}{% endif %}{{ d | ngay }}\n"
        "{% for tu in title.split()[:2] %}{{ loop.index | abs }}.{{ tu | capitalize }} {% endfor %}"
        "{{ [station, programme] | join(' · ') }} ({{ body | wordcount }} từ, "
        "{{ (body | length / 60) | round(1) }}) {{ date.year + 1 }} {{ [date] | first | ngay }} "
        "{{ body | truncate(50, end='…') }} {{ title | replace('a', 'b', 1) | default(body) }}"
    )


def test_every_filter_has_argument_types_and_takes_what_they_say() -> None:
    # The table the check reads must cover every filter a template may use, and a type
    # it lets through must not crash the filter itself.
    assert set(FILTER_TYPES) == set(_env.filters)
    samples = ["Bà con", 3, 2.5, True, None, date(2026, 11, 23), ["a", "b"], {"a": 1}]
    for name, spec in FILTER_TYPES.items():
        for value in samples:
            if spec.takes is not None and not isinstance(value, spec.takes):
                continue
            arguments = "('a', 'b')" if name == "replace" else ""
            _env.from_string(f"{{{{ value | {name}{arguments} }}}}").render(value=value)
