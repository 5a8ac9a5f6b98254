"""`validate`'s template look-alikes (ops/lookalikes.py): literal text that reads as a regular expression, a glob or
a DataWorks parameter, each named with what to write instead."""
import pytest

from dwtrigger.ops.lookalikes import lookalikes
from dwtrigger.templates import compile_template

_REGEX = "reads as a regular expression, which templates do not have: it matches only that text; "
_WITHIN = "write '*' (any text within a segment) or '{name}'"
_DW = "is a DataWorks scheduling parameter, which dwtrigger does not expand: it matches only that text; "


@pytest.mark.parametrize("template, expected", [
    ("dt=$[yyyymmdd-1]/_SUCCESS", [f"'$[yyyymmdd-1]' (offset 3) {_DW}write '{{bizdate:%Y%m%d}}'"]),
    ("dt=$[yyyy-mm-dd]/_SUCCESS", [f"'$[yyyy-mm-dd]' (offset 3) {_DW}write '{{bizdate:%Y-%m-%d}}' if that date is "
                                   "the business date ($[...] counts from the scheduled time: for a daily node, "
                                   "the day after)"]),
    ("h/$[yyyymmddhh24]/x", [f"'$[yyyymmddhh24]' (offset 2) {_DW}write '{{cycle:%Y%m%d%H}}'"]),
    ("x/$[hh24-1/24]", [f"'$[hh24-1/24]' (offset 2) {_DW}write '{{bizdate:%Y%m%d}}' or '{{cycle:%Y%m%d%H}}' for a "
                        "date, '*' or '{name}' for other text"]),
    ("d=$bizdate/x", [f"'$bizdate' (offset 2) {_DW}write '{{bizdate:%Y%m%d}}'"]),
    ("$cyctime.ok", [f"'$cyctime' (offset 0) {_DW}write '{{cycle:%Y%m%d%H%M%S}}'"]),
    ("t=${cyctime}", ["'${cyctime}' (offset 2) looks like DataWorks' ${...} parameter, which dwtrigger does not "
                      "expand: '$' is literal text and '{cyctime}' captures any text of a segment; write "
                      "'{cycle:%Y%m%d%H%M%S}'"]),
    ("dt=${yyyymmdd}/x", ["'${yyyymmdd}' (offset 3) looks like DataWorks' ${...} parameter, which dwtrigger does "
                          "not expand: '$' is literal text and '{yyyymmdd}' captures any text of a segment; write "
                          "'{bizdate:%Y%m%d}'"]),
    ("dt=${bizdate:%Y%m%d}/x", ["'$' (offset 3) is literal text before {bizdate:%Y%m%d}: write '{bizdate:%Y%m%d}' "
                                "without it"]),
    ("^in/.*\\.csv$", [f"'^' (offset 0) {_REGEX}drop it: a template always matches the whole key",
                       f"'.*' (offset 4) {_REGEX}write '*' (any text within a segment) or '**' (across segments)",
                       f"'\\.' (offset 6) {_REGEX}write '.' alone",
                       f"'$' (offset 11) {_REGEX}drop it: a template always matches the whole key"]),
    ("in/\\d+/x", [f"'\\d+' (offset 3) {_REGEX}{_WITHIN}"]),
    ("in/x.+", [f"'.+' (offset 4) {_REGEX}write '*' (any text within a segment) or '**' (across segments)"]),
    ("in/(csv|json)/x", [f"'(csv|json)' (offset 3) {_REGEX}write '*' or '{{name}}', or one rule (or `require` "
                         "entry) for each alternative"]),
    ("in/part-?.csv", [f"'?' (offset 8) is a literal '?' here, not a glob's one character: {_WITHIN}"]),
    ("in/[0-9][0-9].csv", [f"'[0-9]' (offset 3) is literal text here, not a set of characters: {_WITHIN}",
                           f"'[0-9]' (offset 8) is literal text here, not a set of characters: {_WITHIN}"]),
])
def test_lookalikes_say_what_the_text_is_and_what_to_write(template, expected):
    compile_template(template)                                   # valid templates: only validate's advice
    assert lookalikes(template) == expected


@pytest.mark.parametrize("template", [
    "exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS", "logs/{cycle:%Y%m%d%H}/*.done", "in/{partner}/**",
    "raw/**/*.parquet", "in/file.*", "in/a+b (1).csv", "x/dir_$folder$", "{bizdate:[%Y]%m%d}/x", "a{{b}}/c",
    "in/$x/report$1.csv",
])
def test_ordinary_templates_have_no_lookalikes(template):
    compile_template(template)
    assert lookalikes(template) == []
