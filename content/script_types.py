"""Types in script templates: what each filter takes, and where a template breaks that.

A filter given the wrong type used to crash the render (`{{ body | ngay }}` asks a
string for strftime). Each filter now checks its arguments when it runs, and a
template is checked before it is saved by following the types of its variables
through the Jinja syntax tree, branches and loops included, so a mistake hidden
in a branch that the trial render never takes is refused with its line too.
"""

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from types import BuiltinMethodType, NoneType
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import FilterArgumentError
from jinja2.runtime import LoopContext, Undefined
from jinja2.utils import _PassArg


@dataclass(frozen=True)
class Seq:
    """A list or tuple whose elements have the types `of`."""

    of: "Types"


@dataclass(frozen=True)
class Method:
    """A method of a value, not yet called."""

    owner: type
    name: str


# The types an expression may have when the template runs; None: not known before.
Types = frozenset[type | Seq | Method] | None
Accepts = tuple[type, ...] | None  # None: anything

TEXT: Types = frozenset({str})
WHOLE: Types = frozenset({int})
TRUTH: Types = frozenset({bool})
WORDS: Types = frozenset({Seq(TEXT)})
NUMBER = (int, float)
SIZED = (str, list, tuple, dict)
ITERABLE = (Iterable,)  # also what `unique` gives: a generator
ATTRIBUTE = (str, int, NoneType)
NAMES = {
    str: "chuỗi",
    int: "số nguyên",
    float: "số thực",
    bool: "đúng/sai",
    NoneType: "rỗng (none)",
    date: "ngày",
    list: "danh sách",
    tuple: "danh sách",
    dict: "từ điển",
    Iterable: "chuỗi, danh sách hoặc từ điển",
    LoopContext: "biến loop",
    BuiltinMethodType: "phương thức chưa gọi",
}
LOOP_NUMBERS = frozenset({"index", "index0", "revindex", "revindex0", "length", "depth", "depth0"})
STR_RESULTS: dict[str, Types] = {
    **dict.fromkeys(["split", "rsplit", "splitlines", "partition", "rpartition"], WORDS),
    **dict.fromkeys(["find", "rfind", "count"], WHOLE),
    **dict.fromkeys(["startswith", "endswith"], TRUTH),
}
DATE_RESULTS: dict[str, Types] = {
    "isoformat": TEXT,
    "weekday": WHOLE,
    "isoweekday": WHOLE,
}
SEQ_DEPTH = 3  # lists of lists of lists are not followed further: their elements are unknown
# Nodes the check visits: a 20,000-character template has a few thousand, and each
# loop is followed a few times over.
MAX_CHECK_STEPS = 50_000


class WrongType(FilterArgumentError):
    """A filter was given a value of a type it does not take."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def union(*many: Types) -> Types:
    """The types of a value that may come from any of `many`."""
    found: frozenset[type | Seq | Method] = frozenset()
    for types in many:
        if types is None:
            return None
        found |= types
    return found


def _nesting(types: Types) -> int:
    return max((1 + _nesting(k.of) for k in types or () if isinstance(k, Seq)), default=0)


def _seq(of: Types) -> Seq:
    return Seq(of if _nesting(of) < SEQ_DEPTH else None)


def elements(types: Types) -> Types:
    """The types of what iterating over a value gives."""
    if types is None:
        return None
    found: set[Any] = set()
    for kind in types:
        if kind is str:
            found.add(str)
        elif isinstance(kind, Seq) and kind.of is not None:
            found |= kind.of
        else:
            return None
    return frozenset(found)


def _python_type(kind: type | Seq | Method) -> type:
    if isinstance(kind, Seq):
        return list
    return BuiltinMethodType if isinstance(kind, Method) else kind


def _named(kinds: Iterable[type | Seq | Method]) -> str:
    names = list(dict.fromkeys(NAMES.get(t, t.__name__) for t in map(_python_type, kinds)))
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} hoặc {names[-1]}"


def _gives(types: Types) -> Callable[[Types, Mapping[str, Types]], Types]:
    return lambda _value, _args: types


def _same(value: Types, _args: Mapping[str, Types]) -> Types:
    return value


def _list_of(value: Types, _args: Mapping[str, Types]) -> Types:
    return frozenset({_seq(elements(value))})


def _reversed(value: Types, _args: Mapping[str, Types]) -> Types:
    if value is None:
        return None
    return frozenset(str if kind is str else _seq(elements(frozenset({kind}))) for kind in value)


def _or_default(name: str, kind: type) -> Callable[[Types, Mapping[str, Types]], Types]:
    return lambda _value, args: union(frozenset({kind}), args.get(name, frozenset({kind})))


def _default(value: Types, args: Mapping[str, Types]) -> Types:
    return union(value, args.get("default_value", TEXT))


@dataclass(frozen=True)
class FilterType:
    """What a filter takes (its value, then each named argument) and what it gives."""

    takes: Accepts
    gives: Callable[[Types, Mapping[str, Types]], Types]
    params: Mapping[str, Accepts] | None = None


_TEXT = FilterType(None, _gives(TEXT))
FILTER_TYPES: dict[str, FilterType] = {
    "abs": FilterType(NUMBER, _same),
    "capitalize": _TEXT,
    "count": FilterType(SIZED, _gives(WHOLE)),
    "d": FilterType(None, _default),
    "default": FilterType(None, _default),
    "first": FilterType(ITERABLE, lambda value, _: elements(value)),
    "float": FilterType(None, _or_default("default", float)),
    "int": FilterType(None, _or_default("default", int), {"base": (int,)}),
    "join": FilterType(ITERABLE, _gives(TEXT)),
    "last": FilterType(SIZED, lambda value, _: elements(value)),
    "length": FilterType(SIZED, _gives(WHOLE)),
    "list": FilterType(ITERABLE, _list_of),
    "lower": _TEXT,
    "max": FilterType(ITERABLE, lambda value, _: elements(value), {"attribute": ATTRIBUTE}),
    "min": FilterType(ITERABLE, lambda value, _: elements(value), {"attribute": ATTRIBUTE}),
    "ngay": FilterType((date,), _gives(TEXT)),
    "replace": FilterType(None, _gives(TEXT), {"count": (int, NoneType)}),
    "reverse": FilterType(ITERABLE, _reversed),
    "round": FilterType(NUMBER, _same, {"precision": (int,), "method": (str,)}),
    "sort": FilterType(ITERABLE, _list_of, {"attribute": ATTRIBUTE}),
    "striptags": _TEXT,
    "thu": FilterType((date,), _gives(TEXT)),
    "title": _TEXT,
    "trim": FilterType(None, _gives(TEXT), {"chars": (str, NoneType)}),
    "truncate": FilterType(
        (str,),
        _gives(TEXT),
        {"length": (int,), "end": (str,), "leeway": (int, NoneType)},
    ),
    "unique": FilterType(ITERABLE, _gives(None), {"attribute": ATTRIBUTE}),
    "upper": _TEXT,
    "wordcount": FilterType(None, _gives(WHOLE)),
}


@functools.cache
def _signature(function: Callable[..., Any]) -> inspect.Signature:
    # The filter's own parameters: the value first, then its arguments; not the
    # environment or context Jinja hands to some filters before the value.
    inner = inspect.unwrap(function)
    signature = inspect.signature(inner)
    if _PassArg.from_obj(inner) is not None:
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    return signature


def _arguments(
    name: str,
    function: Callable[..., Any],
    value: Types,
    args: list[Types],
    kwargs: dict[str, Types],
    *,
    partial: bool = False,
) -> dict[str, Types]:
    signature = _signature(function)
    try:
        bind = signature.bind_partial if partial else signature.bind
        return dict(bind(value, *args, **kwargs).arguments)
    except TypeError:
        params = list(signature.parameters.values())[1:]
        if not params:
            raise WrongType(f"bộ lọc {name} không nhận tham số nào") from None
        needed = [p.name for p in params if p.default is inspect.Parameter.empty]
        needs = f", bắt buộc: {', '.join(needed)}" if needed else ""
        names = ", ".join(p.name for p in params)
        raise WrongType(f"bộ lọc {name} nhận các tham số {names}{needs}") from None


def _refusal(name: str, arguments: dict[str, Types], what: str) -> str | None:
    spec = FILTER_TYPES[name]
    for index, (param, types) in enumerate(arguments.items()):
        accepts = spec.takes if index == 0 else (spec.params or {}).get(param)
        if types is None or accepts is None:
            continue
        wrong = [kind for kind in types if not issubclass(_python_type(kind), accepts)]
        if not wrong:
            continue
        if index == 0:
            verb = "là" if len(types) == 1 else "có thể là"
            return f"bộ lọc {name} chỉ dùng cho {_named(accepts)}, mà {what} {verb} {_named(wrong)}"
        return (
            f"tham số {param} của bộ lọc {name} phải là {_named(accepts)}, "
            f"không phải {_named(wrong)}"
        )
    return None


def _kinds(value: Any) -> Types:
    return None if isinstance(value, Undefined) else frozenset({type(value)})


def typed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter so that a value or argument of a type it does not take is refused."""
    skip = 1 if _PassArg.from_obj(function) is not None else 0
    spec = FILTER_TYPES[name]
    params = list(_signature(function).parameters.values())
    required = sum(p.default is inspect.Parameter.empty for p in params)
    # An undefined value goes through: the filter says so itself, or `default` replaces it.
    accepts = [
        None if a is None else (*a, Undefined)
        for a in [spec.takes, *((spec.params or {}).get(p.name) for p in params[1:])]
    ]
    by_name = {p.name: a for p, a in zip(params, accepts, strict=True)}
    takes = accepts[0]

    def refuse(given: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        value, *rest = given
        kinds = {k: _kinds(v) for k, v in kwargs.items()}
        arguments = _arguments(name, function, _kinds(value), [_kinds(a) for a in rest], kinds)
        if refusal := _refusal(name, arguments, "giá trị đưa vào"):
            raise WrongType(refusal)

    def arguments_fit(rest: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        for value, types in zip(rest, accepts[1:], strict=False):
            if types is not None and not isinstance(value, types):
                return False
        for key, value in kwargs.items():
            types = by_name.get(key, ())  # an unknown name fits nothing
            if types is not None and not isinstance(value, types):
                return False
        return True

    # Filters may run once a word of the body, and under the render's line budget every
    # bytecode costs twice: the plain case is checked with as little as possible.
    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        given = args[skip:]
        if (
            len(given) > len(params)
            or len(given) + len(kwargs) < required
            or (takes is not None and not isinstance(given[0], takes))
            or ((len(given) > 1 or kwargs) and not arguments_fit(given[1:], kwargs))
        ):
            refuse(given, kwargs)
        return function(*args, **kwargs)

    return checked


def check_types(
    tree: nodes.Template,
    *,
    variables: Mapping[str, Types],
    filters: Mapping[str, Callable[..., Any]],
) -> None:
    """Raise WrongType with the line where the template gives a filter a type it does not take."""
    _Checker(filters).statements(tree.body, dict(variables))


Scope = dict[str, Types]


def _merged(scopes: list[Scope]) -> Scope:
    names = dict.fromkeys(name for scope in scopes for name in scope)
    return {name: union(*(s[name] for s in scopes if name in s)) for name in names}


def _describe(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_describe(node.node)}.{node.attr}"
    if isinstance(node, nodes.Filter):
        return f"kết quả bộ lọc {node.name}"
    return "giá trị đưa vào"


class _Checker:
    """Follows the types of a template's variables through its statements, in order."""

    def __init__(self, filters: Mapping[str, Callable[..., Any]]) -> None:
        self.filters = filters
        self.steps = MAX_CHECK_STEPS

    def step(self, node: nodes.Node) -> None:
        # Loops are followed until their types settle, loops inside loops each time:
        # a template of nested loops could keep the check busy for hours.
        self.steps -= 1
        if self.steps < 0:
            raise WrongType(
                "mẫu phức tạp quá, không kiểm tra hết được; hãy bớt vòng lặp lồng nhau",
                node.lineno,
            )

    def statements(self, body: list[nodes.Node], scope: Scope) -> None:
        for node in body:
            self.statement(node, scope)

    def statement(self, node: nodes.Node, scope: Scope) -> None:
        self.step(node)
        if isinstance(node, nodes.Assign):
            self.bind(node.target, self.expr(node.node, scope), scope)
        elif isinstance(node, nodes.If):
            branches = [node, *node.elif_]
            for branch in branches:
                self.expr(branch.test, scope)
            # What a branch sets stays set after it; the scope after the `if` holds
            # what any branch (or none, without an else) may have left.
            outcomes = []
            for body in [*(b.body for b in branches), node.else_]:
                outcomes.append(dict(scope))
                self.statements(body, outcomes[-1])
            scope.update(_merged(outcomes))
        elif isinstance(node, nodes.For):
            self.loop(node, scope)
        elif isinstance(node, nodes.With):
            inner = dict(scope)
            for target, value in zip(node.targets, node.values, strict=True):
                self.bind(target, self.expr(value, scope), inner)
            self.statements(node.body, inner)
        else:
            self.children(node, scope)

    def loop(self, node: nodes.For, scope: Scope) -> None:
        inner = dict(scope)
        self.bind(node.target, elements(self.expr(node.iter, scope)), inner)
        inner["loop"] = frozenset({LoopContext})
        # What one pass sets is seen by the next: pass again until the types settle
        # (they only grow, and nesting is capped, so this ends).
        while True:
            before = dict(inner)
            if node.test is not None:
                self.expr(node.test, inner)
            self.statements(node.body, inner)
            inner = _merged([before, inner])
            if inner == before:
                break
        # Nothing set inside a loop is seen after it.
        self.statements(node.else_, dict(scope))

    def bind(self, target: nodes.Node, types: Types, scope: Scope) -> None:
        if isinstance(target, nodes.Name):
            scope[target.name] = types
        elif isinstance(target, nodes.Tuple):
            for item in target.items:
                self.bind(item, elements(types), scope)

    def visit(self, node: nodes.Node, scope: Scope) -> None:
        if isinstance(node, nodes.Expr):
            self.expr(node, scope)
        elif isinstance(node, nodes.Stmt):
            self.statement(node, scope)
        else:  # keyword arguments, dict pairs, comparison operands
            self.children(node, scope)

    def children(self, node: nodes.Node, scope: Scope) -> None:
        for child in node.iter_child_nodes():
            self.visit(child, scope)

    def expr(self, node: nodes.Expr, scope: Scope) -> Types:
        """The types the expression may have, after checking every filter inside it."""
        self.step(node)
        if isinstance(node, nodes.Filter):
            return self.filter(node, scope)
        if isinstance(node, nodes.Const):
            return frozenset({type(node.value)})
        if isinstance(node, nodes.TemplateData | nodes.Concat):
            self.children(node, scope)
            return TEXT
        if isinstance(node, nodes.Name):
            return scope.get(node.name)
        if isinstance(node, nodes.List | nodes.Tuple):
            return frozenset({_seq(union(*(self.expr(i, scope) for i in node.items)))})
        if isinstance(node, nodes.CondExpr):
            self.expr(node.test, scope)
            other = self.expr(node.expr2, scope) if node.expr2 is not None else None
            return union(self.expr(node.expr1, scope), other)
        if isinstance(node, nodes.And | nodes.Or):
            return union(self.expr(node.left, scope), self.expr(node.right, scope))
        if isinstance(node, nodes.Not | nodes.Compare | nodes.Test):
            self.children(node, scope)
            return TRUTH
        if isinstance(node, nodes.BinExpr):
            left, right = self.expr(node.left, scope), self.expr(node.right, scope)
            return _arithmetic(node.operator, left, right)
        if isinstance(node, nodes.Neg | nodes.Pos):
            operand = self.expr(node.node, scope)
            return operand if _numbers(operand) else None
        if isinstance(node, nodes.Getattr):
            return _attribute(self.expr(node.node, scope), node.attr)
        if isinstance(node, nodes.Getitem):
            return self.item(node, scope)
        if isinstance(node, nodes.Call):
            callee = self.expr(node.node, scope)
            for child in [*node.args, *node.kwargs, node.dyn_args, node.dyn_kwargs]:
                if child is not None:
                    self.visit(child, scope)
            return _called(callee)
        self.children(node, scope)
        return frozenset({dict}) if isinstance(node, nodes.Dict) else None

    def item(self, node: nodes.Getitem, scope: Scope) -> Types:
        container = self.expr(node.node, scope)
        self.visit(node.arg, scope)
        if container is None:
            return None
        if isinstance(node.arg, nodes.Slice):
            return container if all(k is str or isinstance(k, Seq) for k in container) else None
        return elements(container) if dict not in container else None

    def filter(self, node: nodes.Filter, scope: Scope) -> Types:
        value = self.expr(node.node, scope)
        args = [self.expr(arg, scope) for arg in node.args]
        kwargs = {keyword.key: self.expr(keyword.value, scope) for keyword in node.kwargs}
        for extra in (node.dyn_args, node.dyn_kwargs):
            if extra is not None:
                self.expr(extra, scope)
        function = self.filters.get(node.name)
        if function is None:
            raise WrongType(f"No filter named {node.name!r}.", node.lineno)
        try:
            partial = node.dyn_args is not None or node.dyn_kwargs is not None
            arguments = _arguments(node.name, function, value, args, kwargs, partial=partial)
        except WrongType as exc:
            raise WrongType(exc.message or "", node.lineno) from None
        if refusal := _refusal(node.name, arguments, _describe(node.node)):
            raise WrongType(refusal, node.lineno)
        return FILTER_TYPES[node.name].gives(value, arguments)


def _numbers(types: Types) -> bool:
    return types is not None and all(_python_type(k) in (int, float, bool) for k in types)


def _arithmetic(operator: str, left: Types, right: Types) -> Types:
    if left is None or right is None:
        return None
    if _numbers(left) and _numbers(right):
        if operator in ("/", "**"):
            return frozenset({float}) if operator == "/" else frozenset({int, float})
        return frozenset({float}) if float in left | right else WHOLE
    if operator == "+" and left == right == TEXT:
        return TEXT
    if operator == "+" and all(isinstance(k, Seq) for k in left | right):
        return frozenset({_seq(union(elements(left), elements(right)))})
    if operator == "*" and TEXT in (left, right) and WHOLE in (left, right):
        return TEXT
    return None


def _attribute(types: Types, name: str) -> Types:
    if types is None:
        return None
    found: set[Any] = set()
    for kind in types:
        if kind is LoopContext and name in LOOP_NUMBERS:
            found.add(int)
        elif kind is LoopContext and name in ("first", "last"):
            found.add(bool)
        elif kind is date and name in ("year", "month", "day"):
            found.add(int)
        elif kind in (str, date) and callable(getattr(kind, name, None)):
            found.add(Method(kind, name))
        else:
            return None
    return frozenset(found)


def _called(callee: Types) -> Types:
    if callee is None:
        return None
    results: list[Types] = []
    for kind in callee:
        if not isinstance(kind, Method):
            return None
        if kind.owner is str:
            default = TRUTH if kind.name.startswith("is") else TEXT
            results.append(STR_RESULTS.get(kind.name, default))
        else:
            results.append(DATE_RESULTS.get(kind.name))
    return union(*results)
