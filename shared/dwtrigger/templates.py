"""Object-key templates: `exports/dt={bizdate:%Y-%m-%d}/_SUCCESS` compiled to a whole-key matcher.

`*` stays within a segment, `**` crosses segments, and `**/` starting a segment is zero or more whole segments
(`raw/**/*.parquet` takes raw/x.parquet). Users never write regular expressions, and matching is a dynamic program
over (token, key position): O(tokens x len(key)) time whatever the template or key, so a hostile key cannot make a
rule slow. A capture that fails says what to write when it reads as DataWorks' `${...}` or a regular expression's
`{4}`; text that compiles but reads as one (the look-alikes `validate` warns about) is ops/lookalikes.py's.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Mapping, Tuple

# strptime directive -> (date attribute, digits). Fixed widths make a date capture a fixed-length token.
_DIRECTIVES = {"Y": ("year", 4), "m": ("month", 2), "d": ("day", 2),
               "H": ("hour", 2), "M": ("minute", 2), "S": ("second", 2)}
NEEDS = {"bizdate": "Ymd", "cycle": "YmdH"}     # the captures that take a format: the directives each needs
_DIGITS = frozenset("0123456789")  # not str.isdigit(): that accepts non-ASCII digits, which int() would parse
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | _DIGITS


class TemplateError(ValueError):
    """A template that cannot be compiled or filled; the message says what and at which offset."""


class _Var:
    """`*` (width 0+, one segment), `**` (0+, crosses '/'), `**/` starting a segment (`segments`: zero or more
    whole segments, each with its '/') or `{name}` (1+, one segment)."""
    __slots__ = ("name", "width", "crosses", "segments")

    def __init__(self, name, width, crosses, segments=False):
        self.name, self.width, self.crosses = name, width, crosses  # width: the least it consumes
        self.segments = segments

    def text(self):
        return "**/" if self.segments else "**" if self.crosses else "*"


class _Date:
    """`{bizdate:FMT}` / `{cycle:FMT}`: fixed width; `mask` holds the literal characters, None for digits."""
    __slots__ = ("name", "mask", "fields", "width")

    def __init__(self, name, mask, fields):
        self.name, self.mask, self.fields = name, mask, fields  # fields: (attribute, start, end)
        self.width = len(mask)

    def read(self, key, i):
        """The date/datetime written at key[i:], or None if the text there is not a real one."""
        text = key[i:i + self.width]
        if any(c not in _DIGITS if m is None else c != m for m, c in zip(self.mask, text)):
            return None
        parts = {attr: int(text[a:b]) for attr, a, b in self.fields}
        try:
            return date(**parts) if self.name == "bizdate" else datetime(**parts)
        except ValueError:  # month 13, Feb 30, hour 24...
            return None

    def write(self, value):
        out = list(self.mask)
        for attr, a, b in self.fields:
            out[a:b] = f"{getattr(value, attr):0{b - a}d}"
        return "".join(out)


def compile_template(source: str) -> Template:
    """Parse and check a template once, so matching never meets a malformed one."""
    return Template(source, _parse(source))


class Template:
    """A compiled key template (immutable). `match` a whole key; `fill` is its inverse, `partial` fills the
    captures and keeps the wildcards. `prefix` is the literal text before the first wildcard or capture."""
    __slots__ = ("source", "names", "prefix", "_tokens", "_suffix", "_min_len")

    def __init__(self, source: str, tokens: tuple):
        names, min_len = [], 0
        for t in tokens:
            if isinstance(t, str):
                min_len += len(t)
            else:
                min_len += t.width
                if t.name:
                    names.append(t.name)
        init = object.__setattr__
        init(self, "source", source)
        init(self, "names", tuple(names))
        init(self, "prefix", tokens[0] if isinstance(tokens[0], str) else "")
        init(self, "_tokens", tokens)
        init(self, "_suffix", tokens[-1] if isinstance(tokens[-1], str) else "")
        init(self, "_min_len", min_len)

    def __setattr__(self, name, value):
        raise AttributeError("Template is immutable")

    @property
    def suffix(self) -> str:
        """The literal text after the last wildcard or capture (all of it for a literal template): with `prefix`,
        the tightest OSS trigger filter that lets every key the template matches through."""
        return self._suffix

    def __repr__(self):
        return f"compile_template({self.source!r})"

    def match(self, key: str) -> dict | None:
        """Captures of `key` if the whole key matches, else None; ties go greedily left to right."""
        if len(key) < self._min_len or not key.startswith(self.prefix) or not key.endswith(self._suffix):
            return None
        ok = self._table(key)
        if not ok[0][0]:
            return None
        captures, i = {}, 0
        for t, tok in enumerate(self._tokens):
            rest = ok[t + 1]
            if isinstance(tok, str):
                i += len(tok)
            elif isinstance(tok, _Date):
                captures[tok.name] = tok.read(key, i)
                i += tok.width
            else:  # the longest run after which the rest still matches: what a greedy regex would pick
                j = len(key) if tok.crosses else _segment_end(key, i)
                while not rest[j] or (tok.segments and j > i and key[j - 1] != "/"):
                    j -= 1
                if tok.name:
                    captures[tok.name] = key[i:j]
                i = j
        return captures

    def _table(self, key):
        """ok[t][i] is True iff tokens[t:] match key[i:] exactly; built backwards, one row per token."""
        n = len(key)
        rest = [False] * n + [True]
        ok = [rest]
        for tok in reversed(self._tokens):
            row = [False] * (n + 1)
            if isinstance(tok, _Var) and tok.segments:   # empty, or any text ending in '/' before the rest
                row[n] = rest[n]
                later = False                           # some j > i with key[j - 1] == '/' and rest[j]
                for i in range(n - 1, -1, -1):
                    later = later or (key[i] == "/" and rest[i + 1])
                    row[i] = rest[i] or later
            elif isinstance(tok, _Var):
                empty, crosses = tok.width == 0, tok.crosses
                row[n] = empty and rest[n]
                for i in range(n - 1, -1, -1):
                    row[i] = (empty and rest[i]) or ((crosses or key[i] != "/") and (rest[i + 1] or row[i + 1]))
            else:
                width = len(tok) if isinstance(tok, str) else tok.width
                for i in range(n - width + 1):
                    row[i] = rest[i + width] and (
                        key.startswith(tok, i) if isinstance(tok, str) else tok.read(key, i) is not None)
            ok.append(row)
            rest = row
        ok.reverse()
        return ok

    def example(self) -> str:
        """A key this template matches (names and wildcards as 'x', dates as 2026-01-01): `validate` probes
        whether two rules overlap by matching each one's example against the other."""
        return "".join(tok if isinstance(tok, str) else tok.write(_EXAMPLE) if isinstance(tok, _Date) else
                       "x/" if tok.segments else "x" for tok in self._tokens)

    @property
    def is_literal(self) -> bool:
        """No wildcard or capture left: the template names exactly one key, its `prefix`."""
        return len(self._tokens) == 1 and isinstance(self._tokens[0], str)

    @property
    def crosses(self) -> bool:
        """Whether a wildcard or capture can match text holding '/': a `**` or `**/`, or a date capture whose format
        writes '/'. A template that does not cross names only keys with as many segments as `segments()`."""
        return any(isinstance(t, _Var) and t.crosses or isinstance(t, _Date) and "/" in t.mask
                   for t in self._tokens)

    def segments(self) -> Tuple[Template, ...]:
        """This template cut at each '/' of its literal text: one Template per key segment, matching that segment
        alone (`exports/*/dt=2026-03-10/_SUCCESS` -> `exports`, `*`, `dt=2026-03-10`, `_SUCCESS`); an empty
        segment (`a//b`, a trailing '/') is the literal ''. A key matches this template iff it has as many
        segments and each matches its own (a name is captured in one segment only). Built from tokens, never
        parsed again, so a filled value holding '*' or '{' stays literal. Raises TemplateError when the template
        `crosses` '/', which cannot be cut so."""
        if self.crosses:
            raise TemplateError(f"cannot cut {self.source!r} into segments: a wildcard or date in it crosses '/'")
        cut: list = [[]]
        for tok in self._tokens:
            parts = tok.split("/") if isinstance(tok, str) else [tok]
            for n, part in enumerate(parts):
                if n:
                    cut.append([])
                if part != "":
                    cut[-1].append(part)
        return tuple(Template(_text(tokens), tuple(tokens) or ("",)) for tokens in cut)

    def partial(self, values: Mapping[str, Any], loose: bool = False) -> Template:
        """This template with every capture replaced by its value (a date written in that capture's format) and
        the wildcards kept: what a `require` entry names for one event. Built from tokens, never parsed again, so
        a value holding '*', '{' or '%' stays literal text. Its `source` is its text verbatim (wildcards as '*',
        '**' and '**/'): the key itself once `is_literal`. `loose`: a `{name}` with no value becomes a '*' (any one
        segment) instead of an error — the sweep knows a date, not every name an event would have captured."""
        tokens: list = []
        for tok in self._tokens:
            if isinstance(tok, _Var) and tok.name and loose and tok.name not in values:
                tok = _Var(None, 1, False)
            elif not isinstance(tok, str) and tok.name:
                tok = self._written(tok, values)
            if isinstance(tok, str) and tokens and isinstance(tokens[-1], str):
                tokens[-1] += tok
            else:
                tokens.append(tok)
        text = "".join(t if isinstance(t, str) else t.text() for t in tokens)
        return Template(text, tuple(tokens))

    def fill(self, values: Mapping[str, Any]) -> str:
        """The key this template names for `values`; a template with wildcards names no single key."""
        filled = self.partial(values)
        if not filled.is_literal:
            raise TemplateError(f"cannot fill {self.source!r}: it has a wildcard ('*' or '**')")
        return filled.prefix

    def _written(self, tok, values: Mapping[str, Any]) -> str:
        """A capture's value as key text, checked: a value that could not have been captured is refused."""
        if tok.name not in values:
            raise TemplateError(f"cannot fill {self.source!r}: no value for {{{tok.name}}}")
        value = values[tok.name]
        if isinstance(tok, _Date):
            if not isinstance(value, datetime if tok.name == "cycle" else date):
                raise TemplateError(f"cannot fill {{{tok.name}}}: expected a "
                                    f"{'datetime' if tok.name == 'cycle' else 'date'}, got {value!r}")
            return tok.write(value)
        if not isinstance(value, str) or not value or "/" in value:
            raise TemplateError(f"cannot fill {{{tok.name}}}: expected a non-empty string without '/', "
                                f"got {value!r}")
        return value


_EXAMPLE = datetime(2026, 1, 1)
_DIRECTIVE_OF = {attr: d for d, (attr, _) in _DIRECTIVES.items()}


def _text(tokens) -> str:
    """Tokens as template text, for display: literals verbatim (as `partial` writes them), captures as written."""
    out = []
    for tok in tokens:
        if isinstance(tok, str):
            out.append(tok)
        elif isinstance(tok, _Var):
            out.append(f"{{{tok.name}}}" if tok.name else tok.text())
        else:
            fmt, starts = [], {a: attr for attr, a, _ in tok.fields}
            for i, m in enumerate(tok.mask):
                if i in starts:
                    fmt.append("%" + _DIRECTIVE_OF[starts[i]])
                elif m is not None:
                    fmt.append("%%" if m == "%" else m)
            out.append(f"{{{tok.name}:{''.join(fmt)}}}")
    return "".join(out)


def _segment_end(key, i):
    j = key.find("/", i)
    return len(key) if j < 0 else j


# One step of _parse: an escaped brace, a run of stars, a lone brace, or literal text up to the next of those.
_STEP = re.compile(r"\{\{|\}\}|\*+|[{}]|[^{}*]+")


def _parse(source):
    """Tokens: literal strings (adjacent ones merged), _Var and _Date."""
    if not source:
        raise TemplateError("empty template")
    tokens, literal, names, i, end = [], "", set(), 0, len(source)
    step = _STEP.match
    while i < end:
        text = step(source, i).group()
        c = text[0]
        if c == "{" or c == "}" or c == "*":
            if text == "{{" or text == "}}":
                literal += c
                i += 2
                continue
            if c == "}":
                raise TemplateError(f"unmatched '}}' at offset {i} (write '}}}}' for a literal brace)")
            if c == "*":
                if len(text) > 2:
                    raise TemplateError(f"'{text}' at offset {i}: use '*' (within a segment) or '**' (across)")
                # `**/` starting a segment is zero or more whole segments: `raw/**/*.parquet` takes raw/x.parquet
                segments = text == "**" and (i == 0 or source[i - 1] == "/") and source.startswith("/", i + 2)
                token = _Var(None, 0, len(text) == 2, segments)
                i += len(text) + segments
            else:
                close = source.find("}", i)
                if close < 0:
                    raise TemplateError(f"unclosed '{{' at offset {i} (write '{{{{' for a literal brace)")
                try:
                    token = _capture(source[i + 1:close], i)
                except TemplateError as e:
                    raise TemplateError(f"{e}{_hint(source, i, close)}") from None
                if token.name in names:
                    raise TemplateError(f"duplicate capture {{{token.name}}} at offset {i}")
                names.add(token.name)
                if {"bizdate", "cycle"} <= names:
                    raise TemplateError(f"both {{bizdate}} and {{cycle}} in one template (offset {i}): use one")
                i = close + 1
            if literal:
                tokens.append(literal)
                literal = ""
            tokens.append(token)
        else:
            literal += text
            i += len(text)
    if literal:
        tokens.append(literal)
    return tuple(tokens)


_CAPTURES: dict = {}          # body -> token: the few captures real templates use, each parsed once


def _capture(body, at):
    """`{name}` or `{bizdate:FMT}` / `{cycle:FMT}`; `at` is the offset of the '{' for error messages."""
    token = _CAPTURES.get(body)
    if token is None:
        token = _parse_capture(body, at)
        if len(_CAPTURES) < 1024:       # tokens are immutable: sharing them is safe
            _CAPTURES[body] = token
    return token


def _parse_capture(body, at):
    name, colon, fmt = body.partition(":")
    if not name or name[0] not in _NAME_START or not set(name) <= _NAME_CHARS:
        raise TemplateError(f"bad capture name {name!r} at offset {at}: use letters, digits and '_', "
                            "not starting with a digit")
    if not colon:
        if name in NEEDS:
            raise TemplateError(f"{{{name}}} at offset {at} needs a format, e.g. "
                                f"{{{name}:%Y%m%d{'%H' if name == 'cycle' else ''}}}")
        return _Var(name, 1, False)
    if name not in NEEDS:
        raise TemplateError(f"{{{name}:...}} at offset {at}: only bizdate and cycle take a format")
    mask, fields, seen, k = [], [], "", 0
    while k < len(fmt):
        if fmt[k] != "%":
            mask.append(fmt[k])
            k += 1
            continue
        d = fmt[k + 1:k + 2]
        where = at + len(name) + 2 + k
        if d == "%":
            mask.append("%")
        elif d not in _DIRECTIVES or (name == "bizdate" and d in "HMS"):
            allowed = "%Y %m %d" if name == "bizdate" else "%Y %m %d %H %M %S"
            raise TemplateError(f"bad directive '%{d}' at offset {where}: {{{name}}} allows {allowed} and %%")
        elif d in seen:
            raise TemplateError(f"repeated directive '%{d}' at offset {where}")
        else:
            attr, width = _DIRECTIVES[d]
            fields.append((attr, len(mask), len(mask) + width))
            mask.extend([None] * width)
            seen += d
        k += 2
    missing = [f"%{d}" for d in NEEDS[name] if d not in seen]
    if missing:
        raise TemplateError(f"{{{name}:{fmt}}} at offset {at} is missing {' '.join(missing)}")
    return _Date(name, tuple(mask), tuple(fields))


# ---- advice: what a user who expects DataWorks' parameters or a regular expression's counts meant -------------
# A capture that fails to compile says what to write instead (`_hint`); ops/lookalikes.py, for `validate`, reads the
# same advice for text that compiles but is literal here.

WITHIN = "write '*' (any text within a segment) or '{name}'"
ANY_DATE = "write '{bizdate:%Y%m%d}' or '{cycle:%Y%m%d%H}' for a date, '*' or '{name}' for other text"
_DW_NAMED = {"bizdate": "{bizdate:%Y%m%d}", "cyctime": "{cycle:%Y%m%d%H%M%S}"}
_DW_UNITS = {"yyyy": "%Y", "mm": "%m", "dd": "%d", "hh24": "%H", "mi": "%M", "ss": "%S"}
# Regular expressions as text, compiled (and cached by `re`) on first use: a function never pays for them.
_DW_FORMAT = r"(?:yyyy|mm|dd|hh24|mi|ss|[^A-Za-z%{}])+\Z"
_DW_SHIFT = r"\s*([-+]\s*\d+(?:\s*/\s*\d+)?)\s*\Z"


def dataworks_advice(expr):
    """What to write instead of DataWorks' `expr`: `$bizdate`, `${yyyy-mm-dd}` (the business date), `$[yyyymmdd-1]`,
    `$[yyyymmddhh24]` (counted from the scheduled time)."""
    scheduled, body = expr.startswith("$["), expr[2:-1] if expr[1:2] in "[{" else expr[1:]
    if body in _DW_NAMED:
        return f"write '{_DW_NAMED[body]}'"
    shift = re.search(_DW_SHIFT, body)
    fmt = body[:shift.start()] if shift else body
    if not re.match(_DW_FORMAT, fmt) or (shift and not scheduled):
        return ANY_DATE
    strf = re.sub("yyyy|mm|dd|hh24|mi|ss", lambda m: _DW_UNITS[m.group()], fmt)
    if not all(d in strf for d in ("%Y", "%m", "%d")):
        return ANY_DATE
    if "%H" in strf:
        return f"write '{{cycle:{strf}}}'" if scheduled and not shift else ANY_DATE
    if not scheduled or (shift and shift.group(1).replace(" ", "") == "-1"):
        return f"write '{{bizdate:{strf}}}'"
    if shift:
        return ANY_DATE
    return (f"write '{{bizdate:{strf}}}' if that date is the business date ($[...] counts from the scheduled "
            "time: for a daily node, the day after)")


def _hint(source, start, close):
    """A failed capture's hint when it reads as DataWorks' `${...}` or a regular expression's `{4}` / `{2,3}`."""
    body = source[start + 1:close]
    if start and source[start - 1] == "$":
        return f" (DataWorks' parameters are not expanded: {dataworks_advice('$' + source[start:close + 1])}, no '$')"
    if re.fullmatch(r"\d+(?:,\d*)?|,\d+", body):
        return f" ('{{{body}}}' repeats in a regular expression; templates have none: {WITHIN})"
    return ""
