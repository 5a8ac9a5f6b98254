"""Template look-alikes, for `validate`: text a template takes literally that its writer meant as a regular
expression, a shell glob's `?` or `[...]`, or a DataWorks scheduling parameter, each named with what to write instead.

Only the command line warns about these (the functions take such text literally, as written), so this lives here,
never imported by a handler; the advice it shares with a template's own errors (DataWorks' parameters) is
templates.py's.
"""
from __future__ import annotations

import re
from typing import List

from ..templates import ANY_DATE, NEEDS, WITHIN, dataworks_advice

# Captures are masked (\x00 then \x01s) before the search, so only literal text is read.
_MASK = r"\{\{|\}\}|\{[^{}]*\}"
_CUES = frozenset("$^\\?[(")          # a lookalike below has one of these, or is '.*' or '.+'
_LOOKALIKE = r"""
    (?P<param> \$\[[^]\x00\x01]*\] | \$\x00\x01* | \$(?:bizdate|cyctime|gmtdate|bizmonth|jobid|nodeid|taskid)\b )
  | (?P<anchor> \A\^ | (?<!_\$folder)\$\Z )              # not Hadoop's `dir_$folder$` marker
  | (?P<escape> \\[^\x00\x01][+?]? )                     # a '*' after these is a template's own wildcard
  | (?P<any> (?<![A-Za-z0-9_])\.\*\?? | \.\+\?? | \.\*\? )
  | (?P<group> \([^()\x00\x01]*\|[^()\x00\x01]*\)[+?]? | \([^()\x00\x01]*\)\+ )
  | (?P<set> \[[^]\x00\x01/]*\][+?]? )
  | (?P<glob> \? )
"""


def lookalikes(source: str) -> List[str]:
    """For each piece of `source` (a template that compiles) that reads as a regular expression, a shell glob's `?`
    or `[...]`, or a DataWorks scheduling parameter: what it is here and what to write instead."""
    if _CUES.isdisjoint(source) and ".*" not in source and ".+" not in source:     # most templates: no search
        return []
    masked = re.sub(_MASK, lambda m: m.group() if m.group() in ("{{", "}}") else "\x00" + "\x01" * (len(m.group()) - 1),
                    source)
    found = []
    for m in re.finditer(_LOOKALIKE, masked, re.X):
        kind, text, at = m.lastgroup, source[m.start():m.end()], f"(offset {m.start()})"
        if kind == "param" and text.startswith("${"):
            found.append(_dollar_capture(text, at))
        elif kind == "param":
            found.append(f"'{text}' {at} is a DataWorks scheduling parameter, which dwtrigger does not expand: it "
                         f"matches only that text; {dataworks_advice(text)}")
        elif kind == "glob":
            found.append(f"'?' {at} is a literal '?' here, not a glob's one character: {WITHIN}")
        elif kind == "set":
            found.append(f"'{text}' {at} is literal text here, not a set of characters: {WITHIN}")
        else:
            found.append(f"'{text}' {at} reads as a regular expression, which templates do not have: it matches "
                         f"only that text; {_regex_advice(kind, text)}")
    return found


def _regex_advice(kind, text):
    if kind == "anchor":
        return "drop it: a template always matches the whole key"
    if kind == "any":
        return "write '*' (any text within a segment) or '**' (across segments)"
    if kind == "group":
        return "write '*' or '{name}', or one rule (or `require` entry) for each alternative"
    if kind == "escape" and text[1] not in "dDwWsS":
        return f"write '{text[1]}' alone" if len(text) == 2 else WITHIN
    return WITHIN


def _dollar_capture(text, at):
    """`$` before a capture: DataWorks' `${...}` written where a template capture is meant."""
    body = text[2:-1]
    if body.partition(":")[0] in NEEDS:
        return f"'$' {at} is literal text before {text[1:]}: write '{text[1:]}' without it"
    instead = dataworks_advice(text)
    if instead == ANY_DATE:
        return f"'$' {at} is literal text before the capture {text[1:]}: write '{text[1:]}' if the key has no '$'"
    return (f"'{text}' {at} looks like DataWorks' ${{...}} parameter, which dwtrigger does not expand: '$' is literal "
            f"text and '{text[1:]}' captures any text of a segment; {instead}")
