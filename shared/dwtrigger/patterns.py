"""EventBridge-style event patterns over a parsed JSON document (Alibaba Cloud / AWS EventBridge family).

A pattern mirrors the document: fields are ANDed, a leaf is a non-empty list of conditions, ORed. The
pattern is validated and compiled to closures once, so matching a message never re-checks it.

Semantic decisions (where EventBridge documentation is silent or implementations differ):
- JSON types are strict: "5" != 5 and true != 1, but 5 == 5.0.
- A document list matches a condition if any element does; elements that are lists or objects match
  nothing (except through `exists`).
- `exists` is about the field: a present field exists whatever its value (null, [], an object).
- A missing field matches only {"exists": false}; `anything-but` matches present scalars (null included)
  only, so never a missing field or an object.
- A nested pattern against a missing field sees all its fields missing; against any other non-object
  value (scalar, list, null) it does not match. The same holds at the root: a non-object document
  matches only the empty pattern {}, which matches everything. Nested empty objects are rejected.
"""
from __future__ import annotations

import json
import operator

_MISSING = object()
_KIND = {bool: "bool", int: "number", float: "number", str: "string", type(None): "null"}
_COMPARE = {"<": operator.lt, "<=": operator.le, "=": operator.eq, ">=": operator.ge, ">": operator.gt}


class PatternError(ValueError):
    """A malformed pattern; the message starts with the dotted path of the offending part."""


def compile_pattern(pattern: dict) -> Pattern:
    """Validate `pattern` once and compile it."""
    return Pattern(pattern)


class Pattern:
    """A compiled event pattern."""
    __slots__ = ("_match", "source")

    def __init__(self, pattern: dict):
        if not isinstance(pattern, dict):
            raise PatternError(f"(root): expected an object of fields, got {pattern!r}")
        self._match = _object(pattern, "") if pattern else lambda doc: True
        self.source = pattern

    def matches(self, doc) -> bool:
        """Whether the parsed JSON value `doc` matches."""
        return self._match(doc)

    def mismatch(self, doc) -> str | None:
        """Why `doc` does not match, naming the first top-level field that fails (for `dwtrigger explain`;
        the relay only asks `matches`)."""
        if self.matches(doc):
            return None
        if not isinstance(doc, dict):
            return f"the document is {_kind_of(doc)}, not an object"
        # Fields are ANDed, so when the whole fails on an object, some field fails on its own.
        key, sub = next((k, v) for k, v in self.source.items() if not Pattern({k: v}).matches(doc))
        seen = json.dumps(doc[key], ensure_ascii=False)[:80] if key in doc else "missing"
        return f"field '{key}' is {seen}; the pattern wants {json.dumps(sub, ensure_ascii=False)[:120]}"


def _kind_of(doc) -> str:
    return {list: "a list", dict: "an object"}.get(type(doc), f"a {_KIND.get(type(doc), 'value')}")


def _typed(x):
    """A comparison key that keeps JSON types apart (Python has True == 1) but lets 5 == 5.0."""
    return _KIND.get(type(x)), x


# A field's compiled test by the field's pattern written out: rules often repeat one (a status filter, say), and
# a test depends on nothing else (the path is only for messages: what does not compile is never kept). repr
# keeps JSON's types apart ("1", 1, 1.0, true) and the order of keys. Tests are pure functions: sharing is safe.
_FIELDS: dict = {}
_FIELDS_KEPT = 4096


def _object(pattern, path):
    fields = []
    for key, sub in pattern.items():
        if not isinstance(key, str):
            raise PatternError(f"{path or '(root)'}: field name {key!r} is not a string")
        if isinstance(sub, (dict, list)):
            written = repr(sub)
            test = _FIELDS.get(written)
            if test is None:
                test = _field(sub, f"{path}.{key}" if path else key)
                if len(_FIELDS) < _FIELDS_KEPT:
                    _FIELDS[written] = test
            fields.append((key, test))
        else:
            here = f"{path}.{key}" if path else key
            raise PatternError(f"{here}: expected a list of conditions or a nested object, got {sub!r}")
    fields = tuple(fields)

    def match(value):
        obj = {} if value is _MISSING else value
        return isinstance(obj, dict) and all(test(obj.get(key, _MISSING)) for key, test in fields)
    return match


def _field(sub, here):
    """The test of one field's pattern: a nested object, or a list of conditions (any one)."""
    if isinstance(sub, dict):
        if not sub:
            raise PatternError(f"{here}: empty object: a nested pattern needs at least one field")
        return _object(sub, here)
    if not sub:
        raise PatternError(f"{here}: empty list: give at least one condition")
    return _any(tuple(_condition(c, f"{here}[{i}]") for i, c in enumerate(sub)))


def _any(tests):
    return lambda value: any(test(value) for test in tests)


def _each(test):
    """A field test from an element test: a list matches if any element does (AWS semantics)."""
    return lambda value: any(map(test, value)) if isinstance(value, list) else test(value)


def _condition(cond, path):
    """One entry of a leaf list -> a test of the field's value (_MISSING if absent)."""
    if type(cond) in _KIND:
        return _each(_one_of([cond]))
    if not isinstance(cond, dict):
        raise PatternError(f"{path}: expected a value or an {{operator: operand}} object, got {cond!r}")
    name, operand = _operator(cond, path, _CONDITIONS)
    if name == "exists":
        if not isinstance(operand, bool):
            raise PatternError(f"{path}.exists: expected true or false, got {operand!r}")
        return lambda value: (value is not _MISSING) is operand
    return _each(_OPERATORS[name](operand, f"{path}.{name}"))


def _operator(cond, path, allowed):
    if len(cond) != 1:
        raise PatternError(f"{path}: expected exactly one operator, got {sorted(map(str, cond))}")
    (name, operand), = cond.items()
    if name not in allowed:
        raise PatternError(f"{path}: unknown operator {name!r} (expected one of {', '.join(sorted(allowed))})")
    return name, operand


def _one_of(values):
    keys = tuple(map(_typed, values))
    return lambda x: _typed(x) in keys


def _string_op(check):
    def build(operand, path):
        if not isinstance(operand, str):
            raise PatternError(f"{path}: expected a string, got {operand!r}")
        return lambda x: isinstance(x, str) and check(x, operand)
    return build


def _anything_but(operand, path):
    if isinstance(operand, dict):
        name, inner = _operator(operand, path, {"prefix", "suffix"})
        excluded = _OPERATORS[name](inner, f"{path}.{name}")
    elif type(operand) in _KIND or (isinstance(operand, list) and operand):
        values = operand if isinstance(operand, list) else [operand]
        for i, x in enumerate(values):
            if type(x) not in _KIND:
                raise PatternError(f"{path}[{i}]: expected a string, number, boolean or null, got {x!r}")
        excluded = _one_of(values)
    else:
        raise PatternError(f"{path}: expected a value, a non-empty list of values, or {{prefix|suffix: ...}}, "
                           f"got {operand!r}")
    return lambda x: type(x) in _KIND and not excluded(x)


def _numeric(operand, path):
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise PatternError(f"{path}: expected [op, number] or [op, number, op, number], got {operand!r}")
    bounds = []
    for i in range(0, len(operand), 2):
        op, number = operand[i], operand[i + 1]
        if not isinstance(op, str) or op not in _COMPARE:
            raise PatternError(f"{path}[{i}]: unknown comparison {op!r} (expected one of < <= = >= >)")
        if _KIND.get(type(number)) != "number":
            raise PatternError(f"{path}[{i + 1}]: expected a number, got {number!r}")
        bounds.append((_COMPARE[op], number))
    return lambda x: _KIND.get(type(x)) == "number" and all(cmp(x, n) for cmp, n in bounds)


_OPERATORS = {
    "prefix": _string_op(str.startswith),
    "suffix": _string_op(str.endswith),
    "contains": _string_op(str.__contains__),
    "anything-but": _anything_but,
    "numeric": _numeric,
}
_CONDITIONS = frozenset({*_OPERATORS, "exists"})
