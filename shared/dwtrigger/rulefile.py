"""The rules file as written: its schema (msgspec structs) and a conversion that finds every problem in a rule.

msgspec converts a valid rule in one call and stops at the first problem of an invalid one. `convert_rule` is
the slow path for an invalid one: it walks the rule along the same structs, reports each problem at its path, and
gives the rule back with each bad value at its default (a zero for a required field), so rules.py checks the rest
too (reporting nothing more at a bad value's path). Both paths take a plain number or boolean where the schema
wants a string as its text as written (`name: 2024`, `at: 8.30`): what the schema knows is a string needs no
quotes.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple, Union, get_args, get_origin

import msgspec

Path = Tuple[Any, ...]
Report = Callable[[Path, Optional[str]], None]    # (path in the rule, message); None: not said, yet a bad value
Text = Callable[[Path], Optional[str]]        # a plain scalar's text as written at a path, if known


class DingTalk(msgspec.Struct, forbid_unknown_fields=True):
    """A DingTalk custom robot: the environment variables holding its webhook URL and its signing secret."""
    webhook_env: str
    secret_env: str


class Webhook(msgspec.Struct, forbid_unknown_fields=True):
    """A generic HTTPS webhook: the environment variables holding its URL and its HMAC secret."""
    url_env: str
    secret_env: str


class Notify(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """`notify:` names the channels the sweep's notices go to (`{}`: none)."""
    dingtalk: Optional[DingTalk] = None
    webhook: Optional[Webhook] = None


class Settings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    timezone: Optional[str] = None
    region: Optional[str] = None
    endpoint: Optional[str] = None
    api: Optional[str] = None
    env: Optional[str] = None
    role_arn: Optional[str] = None
    ledger: Optional[str] = None
    notify: Optional[Notify] = None


class Expect(msgspec.Struct, forbid_unknown_fields=True):
    by: str
    days: int = 3


class Target(msgspec.Struct, forbid_unknown_fields=True):
    workspace: int
    node: int
    at: Optional[str] = None
    lookup: bool = True


class DateField(msgspec.Struct, forbid_unknown_fields=True):
    field: str
    format: str


class Source(Settings, forbid_unknown_fields=True, kw_only=True, tag_field="on"):
    """What every rule says; each source's struct (its `schema`, sources/) adds only its own fields, so a field on
    the wrong source is an unknown field of that source's struct."""
    name: str
    trigger: List[Target]
    expect: Optional[Expect] = None
    enabled: bool = True
    bizdate_offset: int = 0


def schemas() -> Dict[str, type]:
    """Each source's rule struct (a `Source` subclass tagged with its `on`), in the registry's order (sources/)."""
    from .sources import registry

    return {name: source.schema for name, source in registry().items()}


def schema() -> Any:
    """The union of the sources' rule structs, which msgspec converts a rule to by its `on`."""
    return Union[tuple(schemas().values())]


@lru_cache(maxsize=None)
def _fields(cls: type) -> Dict[str, Any]:
    return {f.encode_name: f for f in msgspec.structs.fields(cls)}


_BAD = object()
_WRITTEN = (int, float, bool)               # what a plain scalar may read as where a string is wanted


def convert_rule(raw: dict, text: Text, report: Report) -> Optional[Source]:
    """The rule, every problem reported; None when `on` does not say which source's rule it is."""
    tag, known = raw.get("on"), schemas()
    if "on" not in raw:
        report(("on",), "required")
        return None
    if not isinstance(tag, str) or tag not in known:
        report(("on",), f"invalid value {tag!r}: expected one of {', '.join(known)}"
                        f"{did_you_mean(tag, list(known))}")
        return None
    return _struct(known[tag], {k: v for k, v in raw.items() if k != "on"}, (), text, report, tag)


def convert_settings(raw: Any, text: Text, report: Report) -> Optional[Settings]:
    """`defaults:`, every problem reported; each bad value left unset. None if it is not a mapping."""
    found = _value(raw, Settings, (), text, report)
    return None if found is _BAD else found


def _struct(cls: type, raw: Any, path: Path, text: Text, report: Report, tag: Optional[str] = None) -> Any:
    if not isinstance(raw, dict):
        return _leaf(raw, cls, path, text, report)
    fields, values = _fields(cls), {}
    meant: Set[str] = set()                 # fields not written, but meant by a misspelt key
    for key, value in raw.items():
        info = fields.get(key)
        if info is None:
            if tag is not None and any(key in struct.__struct_fields__ for struct in schemas().values()):
                report(path + (key,), f"not used by `on: {tag}` rules")
                continue
            suggestion = closest(key, list(fields))
            report(path + (key,), f"unknown key{_asking(suggestion)}")
            if suggestion is not None and suggestion not in raw:
                meant.add(suggestion)
            continue
        converted = _value(value, info.type, path + (key,), text, report)
        if converted is not _BAD:
            values[info.name] = converted
    for field in meant:                     # muted: its absence was said at the misspelt key, and nothing that
        report(path + (field,), None)       # follows from it is said again
    for key, info in fields.items():
        if info.required and info.name not in values:
            if key not in raw and key not in meant:
                report(path + (key,), "required")
            values[info.name] = _zero(info.type)
    return cls(**values)


def _value(value: Any, kind: Any, path: Path, text: Text, report: Report) -> Any:
    """`value` converted to `kind`, descending into structs and lists so each problem is found at its path."""
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return _struct(kind, value, path, text, report)
    origin, args = get_origin(kind), get_args(kind)
    if origin is Union:
        for member in args:                 # the member the value's shape asks for, if it has parts
            if isinstance(value, dict) and isinstance(member, type) and issubclass(member, msgspec.Struct) \
                    or isinstance(value, list) and get_origin(member) is list:
                return _value(value, member, path, text, report)
    elif origin is list and isinstance(value, list):
        items = [_value(item, args[0], path + (i,), text, report) for i, item in enumerate(value)]
        return [_zero(args[0]) if item is _BAD else item for item in items]   # indexes stay where written
    return _leaf(value, kind, path, text, report)


def _leaf(value: Any, kind: Any, path: Path, text: Text, report: Report) -> Any:
    if value.__class__ in _WRITTEN and (kind is str or get_origin(kind) is Union and str in get_args(kind)):
        value = text(path) or value
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as e:
        field, message = split_error(e)
        if kind is bool:                    # `no`, `off`, `yes` are text since YAML 1.1's booleans are off
            message = f"must be true or false, got {value!r}"
        report(path + parse_path(field), message)
        return _BAD


def closest(word: Any, names: Union[Iterable[str], Dict[str, str]], cutoff: float = 0.75) -> Optional[str]:
    """The name a misspelt `word` probably meant: the closest of `names` (case aside; a mapping: the closest of its
    keys, its value), or None. For problems only: it compares `word` with every name."""
    import difflib          # only for a problem: the functions load valid rules and never pay for it

    if not isinstance(word, (str, int, float)):
        return None
    lowered = {text.lower(): names[text] if isinstance(names, dict) else text for text in names}
    found = difflib.get_close_matches(str(word).lower(), lowered, n=1, cutoff=cutoff)
    return lowered[found[0]] if found else None


def did_you_mean(word: Any, names: Union[Iterable[str], Dict[str, str]], cutoff: float = 0.75) -> str:
    """' (did you mean 'timezone'?)', or '' (`closest`)."""
    return _asking(closest(word, names, cutoff))


def _asking(name: Optional[str]) -> str:
    return f" (did you mean {name!r}?)" if name else ""


def _zero(kind: Any) -> Any:
    """A stand-in for a required value that is missing or bad (its problem is reported already)."""
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return kind(**{f.name: _zero(f.type) for f in _fields(kind).values() if f.required})
    return [] if get_origin(kind) is list else {str: "", int: 0, bool: False}.get(kind)


_AT = re.compile(r"(.*?) - at `(?:key` in `)?\$(.*)`\Z", re.S)


def split_error(e: msgspec.ValidationError) -> Tuple[str, str]:
    """'Expected `int`, got `str` - at `$.trigger[0].node`' -> ('trigger[0].node', 'expected `int`, got `str`')."""
    text = str(e)
    found = _AT.match(text)
    message, field = (found.group(1), found.group(2).lstrip(".")) if found else (text, "")
    unknown = re.match(r"Object contains unknown field `(.+)`", message)
    if unknown:
        field = f"{field}.{unknown.group(1)}" if field else unknown.group(1)
        message = "unknown key"
    missing = re.match(r"Object missing required field `(.+)`", message)
    if missing:
        field = f"{field}.{missing.group(1)}" if field else missing.group(1)
        message = "required"
    return field, message[:1].lower() + message[1:]


def parse_path(field: str) -> Path:
    """'trigger[0].node' -> ('trigger', 0, 'node')."""
    return tuple(int(part[1:-1]) if part.startswith("[") else part
                 for part in re.findall(r"[^.\[\]]+|\[\d+\]", field or ""))


def label(path: Path) -> str:
    """('trigger', 0, 'node') -> 'trigger[0].node'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out
