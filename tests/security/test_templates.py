"""Attacks through templates: escaping the script sandbox, exhausting it, and stored XSS.

Script templates are code planners write; page templates show text anyone in scope typed.
"""

import re
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import pytest
from jinja2 import nodes
from markupsafe import escape
from sqlmodel import func, select

from api.security import INLINE_HANDLERS, page_policy
from api.web import templates
from content.models import ContentItem, ScriptTemplate
from content.scripts import MAX_SCRIPT_CHARS, ScriptContext, check_template, render_script
from core.db import session_scope
from core.errors import InvalidError
from tests.security.conftest import today, web_login

TEMPLATES = Path(templates.env.loader.searchpath[0])
CONTEXT = ScriptContext(
    station="Đài truyền thanh xã A",
    programme="Chuyên mục Cải cách hành chính",
    title="Nộp hồ sơ qua mạng",
    body="Bà con có thể nộp hồ sơ tại nhà. " * 3000,  # about 100,000 characters
    date=date(2026, 11, 23),
)
ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ title.__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ date.__class__.__subclasses__() }}",
    "{{ title.format.__globals__ }}",
    "{{ '{0.__class__.__init__.__globals__}'.format(title) }}",
    "{{ title.format_map({}) }}",
    "{{ dict(a=1) }}",
    "{% set x = body.update(a=1) %}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{% extends '/etc/passwd' %}",
]
BOMBS = [
    "{{ 'a' * 10**9 }}",
    "{{ [1] * 10**9 }}",
    "{{ 9 ** 99999999 }}",
    "{% set n = 9**64 %}{% set n = n * n %}{% set n = n * n %}{% set n = n * n %}"
    "{% set n = n * n %}{% set n = n * n %}{% set n = n * n %}{{ n }}",
    "{{ range(10**9) | list }}",
    "{% for i in range(10**9) %}{% endfor %}",
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
    "{% set x %}{% for a in body %}{{ body }}{% endfor %}{% endset %}{{ x | length }}",
    "{% set a = body %}" + "{% set a = a ~ a %}" * 40 + "{{ a | length }}",
    "{% set a = body %}" + "{% set a = a + a %}" * 40 + "{{ a | length }}",
    "{% set a = [body] %}" + "{% set a = a + a %}" * 40 + "{{ a | length }}",
    "{{ [" + "body, " * 500 + "] }}",
    "{{ [" + "body, " * 500 + "] | join | length }}",
    "{{ body | replace(' ', body) | length }}",
    "{{ body | list | join(body) | length }}",
    "{{ body.join(body) }}",
    "{{ body.ljust(10**9) }}",
    "{{ body.center(10**9) }}",
    "{{ body.expandtabs(10**6) }}",
    "{{ body | center(10**9) }}",
    "{{ body | indent(10**9) }}",
    "{{ body | wordwrap(1, wrapstring=body) }}",
    "{{ [1] | batch(10**9, 0) | list }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '{0:>999999999}'.format(1) }}",
    "{{ date.strftime('%0999999999Y') }}",
    "{{ lipsum(10**6) }}",
]
# Deeper than Jinja's parser recurses or Python compiles (at most 20 nested blocks).
TOO_DEEP = [
    "{{ " + "(" * 400 + "body" + ")" * 400 + " }}",
    "{{ " + "[" * 300 + "body" + "]" * 300 + " }}",
    "{% if body %}" * 200 + "x" + "{% endif %}" * 200,
    "{% for a in title %}" * 30 + "x" + "{% endfor %}" * 30,
]


# Loops that build nothing but would run for hours.
SPINS = [
    "{% for a in body %}{% for b in body %}{% endfor %}{% endfor %}",
    "{% for a in body %}{% for b in body %}{{ a }}{% endfor %}{% endfor %}",
    "{% for a in body.split() %}{% for b in title %}{% for c in title %}{% endfor %}"
    "{% endfor %}{% endfor %}",
]


@pytest.mark.parametrize("template", SPINS)
def test_endless_loops_are_stopped_within_a_second(template: str) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidError, match="quá nhiều bước"):
        render_script(template=template, context=CONTEXT)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("template", ESCAPES + BOMBS + TOO_DEEP)
def test_sandbox_escapes_and_resource_bombs_are_refused_quickly_and_small(template: str) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(InvalidError) as refused:
            render_script(template=template, context=CONTEXT)
        seconds = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.status == 422
    assert refused.value.detail.startswith("Mẫu kịch bản có lỗi")
    assert refused.value.errors[0]["field"] == "template"
    assert seconds < 3, f"took {seconds:.1f} s"
    # The body alone is 100 kB; a refused template may not build much more than that.
    assert peak < 32 * MAX_SCRIPT_CHARS, f"peak {peak / 1e6:.0f} MB"


# Each pass over a loop sees what the last one set, and nested loops multiply the passes:
# followed to the end, the type check of this would take hours.
NESTED_LOOPS = "{% for a in title %}{% set x = [x] %}" * 18 + "{% endfor %}" * 18


def test_the_type_check_of_nested_loops_stops_at_its_budget() -> None:
    with pytest.raises(InvalidError, match="phức tạp quá"):
        check_template(NESTED_LOOPS)


def test_an_ordinary_template_still_renders() -> None:
    template = (
        "Kính thưa bà con! {{ programme | upper }} — {{ date | thu }}, {{ date | ngay }}.\n"
        "{% if title.startswith('Nộp') %}{{ title | replace('qua mạng', 'trực tuyến') }}. "
        "{% endif %}{% for word in title.split()[:2] %}{{ loop.index }}.{{ word }} {% endfor %}"
        "— {{ [station, programme] | join(' · ') }} ({{ body | wordcount }} từ)"
    )
    assert render_script(template=template, context=CONTEXT).splitlines() == [
        "Kính thưa bà con! CHUYÊN MỤC CẢI CÁCH HÀNH CHÍNH — thứ Hai, 23/11/2026.",
        "Nộp hồ sơ trực tuyến. 1.Nộp 2.hồ — Đài truyền thanh xã A · "
        "Chuyên mục Cải cách hành chính (27000 từ)",
    ]


def _templates_kept(engine) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(ScriptTemplate)).one()


def test_the_api_refuses_hostile_templates_with_a_problem_report(client, town, engine) -> None:
    hostile = [*ESCAPES[:3], "{{ 'a' * 10**9 }}", "{% macro f() %}{{ f() }}{% endmacro %}"]
    for template in [*hostile, *TOO_DEEP, NESTED_LOOPS]:
        answer = client.put(
            "/api/v1/stations/XA-A/script-templates",
            headers=town.headers["planner_p"],
            json={"programme": "Chuyên mục CCHC", "text": template},
        )
        assert answer.status_code == 422, (template, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["detail"].startswith("Mẫu kịch bản có lỗi"), answer.json()
    assert _templates_kept(engine) == 0


def test_a_template_that_explodes_on_long_words_refuses_the_item_not_the_server(
    client, town, engine
) -> None:
    # Harmless on the sample words it is tried on when saved; quadratic on a real body.
    saved = client.put(
        "/api/v1/stations/XA-A/script-templates",
        headers=town.headers["planner_p"],
        json={
            "programme": "Chuyên mục CCHC",
            "text": "{% for a in body %}{% for b in body %}{% endfor %}{% endfor %}{{ body }}",
        },
    )
    assert saved.status_code == 200, saved.text
    with session_scope(engine) as session:
        items = session.exec(select(func.count()).select_from(ContentItem)).one()
    started = time.monotonic()
    answer = client.post(
        "/api/v1/content-items",
        headers=town.headers["planner_p"],
        json={
            "station": "XA-A",
            "programme": "Chuyên mục CCHC",
            "title": "Tin dài",
            "body": "Bà con chú ý. " * 2000,
        },
    )
    assert time.monotonic() - started < 5
    assert answer.status_code == 422, answer.text
    assert "quá nhiều bước" in answer.json()["detail"]
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(ContentItem)).one() == items


# ----------------------------------------------------------------- web pages

# Markers the payloads below would leave in a page if it printed them unescaped.
RAW = re.compile(r"<script>alert|<img src=x|<svg/onload|<iframe|<b onmouseover|\"><script")


def test_every_page_template_escapes_what_it_prints() -> None:
    names = sorted(p.name for p in TEMPLATES.glob("*.html"))
    assert names, TEMPLATES
    for name in names:
        assert templates.env.is_async is False
        assert templates.env.autoescape is True or templates.env.autoescape(name), name
        source = (TEMPLATES / name).read_text(encoding="utf-8")
        tree = templates.env.parse(source)
        # No way for a template to switch escaping off or mark text as safe.
        assert not [f for f in tree.find_all(nodes.Filter) if f.name == "safe"], name
        assert not list(tree.find_all(nodes.EvalContextModifier)), name
        assert "Markup(" not in source, name


def test_inline_handlers_are_only_those_the_policy_allows() -> None:
    handlers = set()
    for path in TEMPLATES.glob("*.html"):
        source = path.read_text(encoding="utf-8")
        handlers.update(re.findall(r"\son[a-z]+=\"([^\"]*)\"", source))
        # Scripts come from files on this site; styles from the stylesheet.
        assert not re.search(r"<script(?![^>]*\bsrc=)", source), path.name
        assert not re.search(r"<style|\sstyle=", source), path.name
    assert handlers == set(INLINE_HANDLERS)


def _hostile_town(client, town) -> dict[str, str]:
    """Text with markup typed into every field that pages show."""
    planner = town.headers["planner_p"]
    hostile = {
        "station": '<script>alert("đài")</script>',
        "cluster": "<img src=x onerror=alert(1)>",
        "title": '"><svg/onload=alert(2)>',
        "body": "</p><iframe src=javascript:alert(3)>",
        "booking": "<script>alert(5)</script>",
        "reason": "<b onmouseover=alert(7)>lỗi loa</b>",
        "note": "<script>alert(8)</script> viết lại",
    }
    assert (
        client.patch(
            "/api/v1/stations/XA-A", headers=planner, json={"name": hostile["station"]}
        ).status_code
        == 200
    )
    cluster = {"code": "CUM-X", "name": hostile["cluster"], "zone_tags": []}
    assert client.post("/api/v1/stations/XA-A/clusters", headers=planner, json=cluster).is_success
    item = client.post(
        "/api/v1/content-items",
        headers=planner,
        json={"station": "XA-A", "title": hostile["title"], "body": hostile["body"]},
    )
    assert item.status_code == 201, item.text
    item_id = item.json()["id"]
    assert client.post(f"/api/v1/content-items/{item_id}/submit", headers=planner).is_success
    returned = client.post(
        f"/api/v1/content-items/{item_id}/return", headers=planner, json={"note": hostile["note"]}
    )
    assert returned.status_code == 200, returned.text
    booking = client.post(
        "/api/v1/bookings",
        headers=planner,
        json={
            "station": "XA-A",
            "source": "relay",
            "relay_url": 'http://vov.example/"><script>alert(6)</script>',
            "duration_s": 600,
            "title": hostile["booking"],
            "at": "05:40",
            "recurrence": {"freq": "daily", "start": today().isoformat()},
        },
    )
    assert booking.status_code == 201, booking.text
    return {**hostile, "item": str(item_id), "booking_id": str(booking.json()["id"])}


def test_stored_markup_renders_inert_on_every_page(client, town) -> None:
    hostile = _hostile_town(client, town)
    day, tomorrow = today().isoformat(), (today() + timedelta(days=1)).isoformat()
    csrf = web_login(client, "operator_a")
    playlist = client.get(
        f"/api/v1/stations/XA-A/playlists/{day}", headers=town.headers["operator_a"]
    ).json()
    entry = playlist["entries"][0]
    confirmed = client.post(
        f"/stations/XA-A/day/{day}/airings",
        data={
            "csrf_token": csrf,
            "entry_id": entry["id"],
            "status": "failed",
            "reason": hostile["reason"],
        },
        follow_redirects=False,
    )
    assert confirmed.status_code == 303, confirmed.text
    operator_pages = [
        "/",
        f"/stations/XA-A/day/{day}",
        f"/stations/XA-A/day/{tomorrow}",
        f"/stations/XA-A/sheet/{tomorrow}",
        "/stations/XA-A/clusters",
        "/recordings/new",
        "/airings?station=XA-A",
    ]
    shown = _check_pages(client, operator_pages)
    client.post("/logout", data={"csrf_token": csrf})
    web_login(client, "planner_p")
    planner_pages = [
        "/",
        f"/items/{hostile['item']}",
        "/items",
        f"/bookings/{hostile['booking_id']}",
        f"/bookings/{hostile['booking_id']}/edit",
        f"/bookings/{hostile['booking_id']}/cancel",
        "/bookings/new",
        f"/stations/XA-A/calendar?view=week&date={day}",
        f"/stations/XA-A/calendar?view=month&date={day}",
        f"/reports/compliance?station=TINH-P&period={day[:7]}",
        f"/reports/compliance?station=XA-A&period={day[:7]}",
        "/jobs",
        "/emergency/new",
    ]
    shown += _check_pages(client, planner_pages)
    # The hostile text did reach the pages, escaped: the test looked at the right places.
    for name in ("station", "cluster", "title", "booking", "reason", "note"):
        assert str(escape(hostile[name])) in shown, name


def _check_pages(client, paths: list[str]) -> str:
    shown = ""
    for path in paths:
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        assert page.headers["content-type"].startswith("text/html"), path
        found = RAW.search(page.text)
        assert found is None, (path, page.text[found.start() - 80 : found.end() + 80])
        shown += page.text
    return shown


def test_pages_carry_security_headers(client, town) -> None:
    login = client.get("/login")
    assert login.status_code == 200
    headers = login.headers
    assert headers["content-security-policy"] == page_policy("http://127.0.0.1:8000")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-hashes'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"
    api = client.get("/api/v1/stations", headers=town.headers["planner_p"])
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in api.headers["content-security-policy"]
    docs = client.get("/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
