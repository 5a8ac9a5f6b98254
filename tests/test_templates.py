import time
from datetime import date, datetime

import pytest
from hypothesis import assume, given, settings, strategies as st

from conftest import examples
from dwtrigger.templates import TemplateError, compile_template


def match(template, key):
    return compile_template(template).match(key)


# ---- the documented examples -------------------------------------------------------------------------

def test_bizdate_example():
    t = compile_template("exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS")
    assert t.names == ("bizdate",)
    assert t.match("exports/orders/dt=2024-02-29/_SUCCESS") == {"bizdate": date(2024, 2, 29)}
    assert t.match("exports/orders/dt=2024-02-29/_SUCCESS.tmp") is None
    assert t.match("x/exports/orders/dt=2024-02-29/_SUCCESS") is None
    assert t.match("exports/orders/dt=20240229/_SUCCESS") is None


def test_cycle_example():
    t = compile_template("logs/clicks/{cycle:%Y%m%d%H}/*.done")
    assert t.match("logs/clicks/2024010223/part-0.done") == {"cycle": datetime(2024, 1, 2, 23)}
    assert t.match("logs/clicks/2024010223/.done") == {"cycle": datetime(2024, 1, 2, 23)}
    assert t.match("logs/clicks/2024010223/sub/part-0.done") is None  # * stays within a segment


def test_cycle_minutes_and_seconds():
    t = compile_template("{cycle:%Y-%m-%dT%H:%M:%S}.json")
    assert t.match("2024-01-02T03:04:05.json") == {"cycle": datetime(2024, 1, 2, 3, 4, 5)}
    assert match("{cycle:%Y%m%d%H%M}", "202401020304") == {"cycle": datetime(2024, 1, 2, 3, 4)}


def test_named_capture_and_double_star():
    t = compile_template("inbound/{partner}/**")
    assert t.names == ("partner",)
    assert t.match("inbound/acme/2024/01/data.csv") == {"partner": "acme"}
    assert t.match("inbound/acme/") == {"partner": "acme"}  # ** may be empty
    assert t.match("inbound//x") is None  # {name} needs at least one character
    assert t.match("inbound/acme") is None


@pytest.mark.parametrize("template, key, expected", [
    ("a/*/b", "a//b", True),
    ("a/*/b", "a/x/y/b", False),
    ("a/**/b", "a/x/y/b", True),
    ("a/**b", "a/b", True),
    ("*", "", True),
    ("**", "a/b/c", True),
    ("*.csv", "dir/x.csv", False),
    ("**.csv", "dir/x.csv", True),
    ("exact/key", "exact/key", True),
    ("exact/key", "exact/key2", False),
])
def test_wildcards(template, key, expected):
    assert (match(template, key) is not None) == expected


# ---- `**/`: zero or more whole segments, as every glob user expects ------------------------------------

@pytest.mark.parametrize("template, key, expected", [
    ("raw/**/*.parquet", "raw/x.parquet", True),              # zero segments
    ("raw/**/*.parquet", "raw/2026/x.parquet", True),
    ("raw/**/*.parquet", "raw/2026/03/x.parquet", True),
    ("raw/**/*.parquet", "rawx.parquet", False),
    ("raw/**/*.parquet", "raw/x.csv", False),
    ("**/x.csv", "x.csv", True),                              # at the start
    ("**/x.csv", "a/b/x.csv", True),
    ("**/x.csv", "ax.csv", False),                            # whole segments only
    ("**/x.csv", "a/bx.csv", False),
    ("a/**/b", "a/b", True),                                  # in the middle
    ("a/**/b", "a/x/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("a/**/b", "a/xb", False),
    ("a/**/b", "ab", False),
    ("a/**/b", "a/b/c", False),
    ("a/**/**/b", "a/b", True),                               # consecutive: each zero or more
    ("a/**/**/b", "a/x/b", True),
    ("a/**/**/b", "a/x/y/z/b", True),
    ("a/**/**/b", "a/xb", False),
    ("a/**", "a/", True),                                     # at the end: no '/' follows, anything under a/
    ("a/**", "a/x/y", True),
    ("a/**", "a", False),
    ("a/**/", "a/", True),
    ("a/**/", "a/x/y/", True),
    ("a/**/", "a/x", False),
    ("a**/b", "a/b", True),                                   # not starting a segment: '**' then a literal '/'
    ("a**/b", "ax/y/b", True),
    ("a**/b", "ab", False),
    ("a/**b", "a/b", True),
])
def test_double_star_slash_is_zero_or_more_whole_segments(template, key, expected):
    assert (match(template, key) is not None) == expected


def _as_regex(template):
    """The glob semantics spelled as a Python regex: `*` within a segment, `**` anything, `**/` starting a segment
    zero or more whole segments. The oracle for the property below (wildcards and literals only)."""
    import re
    out, i = "", 0
    while i < len(template):
        if template.startswith("**/", i) and (i == 0 or template[i - 1] == "/"):
            out, i = out + "(?:.*/)?", i + 3
        elif template.startswith("**", i):
            out, i = out + ".*", i + 2
        elif template[i] == "*":
            out, i = out + "[^/]*", i + 1
        else:
            out, i = out + re.escape(template[i]), i + 1
    return re.compile(out, re.S)


_GLOB_PART = st.sampled_from(["a", "b", "/", "*", "**", "**/", "/**/", "a/"])


@settings(max_examples=examples(400))
@given(st.lists(_GLOB_PART, min_size=1, max_size=6).map("".join).filter(lambda t: "***" not in t),
       st.text(st.sampled_from("ab/"), max_size=8))
def test_wildcards_match_exactly_what_the_glob_semantics_say(template, key):
    assert (match(template, key) is not None) == bool(_as_regex(template).fullmatch(key))


@pytest.mark.parametrize("template, key, expected", [
    ("{p}/**/{n}.csv", "p/n.csv", {"p": "p", "n": "n"}),
    ("{p}/**/{n}.csv", "p/q/r/n.csv", {"p": "p", "n": "n"}),
    ("**/{a}/**/{b}", "x/y/z", {"a": "y", "b": "z"}),        # greedy: the first '**/' takes what it can
    ("**/{a}/**/{b}", "y/z", {"a": "y", "b": "z"}),
    ("in/**/dt={bizdate:%Y%m%d}/**/_SUCCESS", "in/dt=20240102/_SUCCESS", {"bizdate": date(2024, 1, 2)}),
    ("in/**/dt={bizdate:%Y%m%d}/**/_SUCCESS", "in/a/dt=20240102/b/c/_SUCCESS", {"bizdate": date(2024, 1, 2)}),
])
def test_captures_around_double_star_slash(template, key, expected):
    assert match(template, key) == expected


@pytest.mark.parametrize("template, prefix, example", [
    ("raw/**/*.parquet", "raw/", "raw/x/x.parquet"),
    ("**/x", "", "x/x"),
    ("a/**/**/b", "a/", "a/x/x/b"),
])
def test_double_star_slash_prefix_and_example(template, prefix, example):
    """matching.Index looks rules up by `prefix`, `validate` probes overlaps with `example`: both still hold."""
    t = compile_template(template)
    assert (t.prefix, t.example()) == (prefix, example)
    assert t.match(t.example()) is not None


def test_the_relays_index_finds_rules_by_the_prefix_before_double_star_slash():
    """matching.Index looks OSS rules up by each firing key's literal prefix ('raw/', '' for a leading '**/')."""
    from dwtrigger.events import Event
    from dwtrigger.matching import Index
    from dwtrigger.rules import parse_rules

    rules = parse_rules("version: 1\ndefaults: {timezone: Asia/Shanghai, region: cn-shanghai}\nrules:\n" + "".join(
        f"  - {{name: {name}, on: oss, bucket: b1, {body}, trigger: [{{workspace: 1, node: {n}}}]}}\n"
        for n, (name, body) in enumerate([
            ("parquet", 'key: "raw/**/*.parquet"'), ("success", 'key: "**/_SUCCESS"'),
            ("parts", 'key: "done/{bizdate:%Y%m%d}.ok", require: ["in/**/{bizdate:%Y%m%d}/**/*.csv"]')], 1)), "r.yaml")
    index = Index(rules.rules)

    def takers(key):
        event = Event(source="oss", kind="oss-native", event_id="1", time=datetime(2026, 3, 11), bucket="b1", key=key,
                      event_name="ObjectCreated:PutObject")
        return [(rule.name, captures) for rule, captures in index.takers(event)]

    assert takers("raw/x.parquet") == takers("raw/a/b/x.parquet") == [("parquet", {})]
    assert takers("_SUCCESS") == [("success", {})]
    assert takers("raw/_SUCCESS") == [("success", {})]                  # two candidates, one taker
    assert takers("in/20260310/p.csv") == takers("in/a/20260310/b/p.csv") == [("parts", {"bizdate": date(2026, 3, 10)})]
    assert takers("rawx.parquet") == []


# ---- greedy, deterministic captures ------------------------------------------------------------------

@pytest.mark.parametrize("template, key, expected", [
    ("{a}-{b}", "x-y-z", {"a": "x-y", "b": "z"}),
    ("{a}{b}", "xyz", {"a": "xy", "b": "z"}),
    ("*-{b}", "x-y-z", {"b": "z"}),
    ("{a}*", "xyz", {"a": "xyz"}),
    ("**/{name}.csv", "a/b/c.csv", {"name": "c"}),
    ("{a}/**/{b}", "p/q/r/s", {"a": "p", "b": "s"}),
    ("{a}{bizdate:%Y%m%d}", "x2024010220240102", {"a": "x20240102", "bizdate": date(2024, 1, 2)}),
])
def test_greedy_left_to_right(template, key, expected):
    assert match(template, key) == expected


def test_greedy_skips_invalid_dates():
    # The greedy choice "x-2024-13-01" would leave a bad date, so the capture backs off to a real one.
    assert match("{a}-{bizdate:%Y-%m-%d}**", "x-2024-01-01-2024-13-01") == {
        "a": "x", "bizdate": date(2024, 1, 1)}


# ---- invalid dates mean "no match", not an error ----------------------------------------------------

@pytest.mark.parametrize("key", ["2024-13-01", "2023-02-29", "2024-04-31", "2024-00-10", "0000-01-01",
                                 "2024-1-01", "2024-01-0x", "2024-01-\u0661\u0662"])  # Arabic-Indic digits
def test_invalid_dates_do_not_match(key):
    assert match("{bizdate:%Y-%m-%d}", key) is None


@pytest.mark.parametrize("key", ["2024010224", "2024010200", "2024010223"])
def test_invalid_hours(key):
    assert (match("{cycle:%Y%m%d%H}", key) is None) == (key == "2024010224")


def test_leap_day():
    assert match("{bizdate:%Y%m%d}", "20240229") == {"bizdate": date(2024, 2, 29)}


# ---- literals --------------------------------------------------------------------------------------

def test_literal_braces_and_percent():
    assert match("a{{b}}/{x}", "a{b}/1") == {"x": "1"}
    assert match("{{{x}}}", "{v}") == {"x": "v"}
    assert match("{bizdate:%Y%%%m%d}", "2024%0102") == {"bizdate": date(2024, 1, 2)}
    assert match("{bizdate:%%Y%Y%m%d}", "%Y20240102") == {"bizdate": date(2024, 1, 2)}
    assert match("a{{b", "a{{b") is None


def test_unicode_keys():
    t = compile_template("数据/{table}/dt={bizdate:%Y%m%d}/*.✓")
    assert t.match("数据/订单/dt=20240102/😀.✓") == {"table": "订单", "bizdate": date(2024, 1, 2)}
    assert t.match("数据/订单/dt=20240102/😀.x") is None


# ---- errors ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("template, message", [
    ("", "empty template"),
    ("a/{x", "unclosed '{' at offset 2"),
    ("a/x}", "unmatched '}' at offset 3"),
    ("a/{}", "bad capture name '' at offset 2"),
    ("{1x}", "bad capture name '1x' at offset 0"),
    ("{a-b}", "bad capture name 'a-b' at offset 0"),
    ("{:%Y}", "bad capture name '' at offset 0"),
    ("x/{bizdate}", "{bizdate} at offset 2 needs a format"),
    ("{cycle}", "{cycle} at offset 0 needs a format"),
    ("{name:%Y}", "{name:...} at offset 0: only bizdate and cycle take a format"),
    ("a/{bizdate:%Y-%m-%e}", "bad directive '%e' at offset 17"),
    ("{bizdate:%Y%m%d%H}", "bad directive '%H' at offset 15"),
    ("{bizdate:%Y%m%d%}", "bad directive '%' at offset 15"),
    ("{bizdate:%Y%m%d%Y}", "repeated directive '%Y' at offset 15"),
    ("{bizdate:%Y%m}", "is missing %d"),
    ("{cycle:%Y%m%d}", "{cycle:%Y%m%d} at offset 0 is missing %H"),
    ("{bizdate:}", "is missing %Y %m %d"),
    ("{a}/{a}", "duplicate capture {a} at offset 4"),
    ("{bizdate:%Y%m%d}/{bizdate:%Y%m%d}", "duplicate capture {bizdate} at offset 17"),
    ("{bizdate:%Y%m%d}/{cycle:%Y%m%d%H}", "both {bizdate} and {cycle} in one template (offset 17)"),
    ("a/***", "'***' at offset 2"),
    ("****", "'****' at offset 0"),
])
def test_errors(template, message):
    with pytest.raises(TemplateError) as e:
        compile_template(template)
    assert message in str(e.value)


@pytest.mark.parametrize("template, message", [
    ("dt=${bizdate}/x", "{bizdate} at offset 4 needs a format, e.g. {bizdate:%Y%m%d} (DataWorks' parameters are "
                        "not expanded: write '{bizdate:%Y%m%d}', no '$')"),
    ("dt=${yyyy-mm-dd}/x", "bad capture name 'yyyy-mm-dd' at offset 4: use letters, digits and '_', not starting "
                           "with a digit (DataWorks' parameters are not expanded: write '{bizdate:%Y-%m-%d}', no '$')"),
    ("part-\\d{4}.csv", "bad capture name '4' at offset 7: use letters, digits and '_', not starting with a digit "
                        "('{4}' repeats in a regular expression; templates have none: write '*' (any text within a "
                        "segment) or '{name}')"),
    ("a{2,3}", "bad capture name '2,3' at offset 1: use letters, digits and '_', not starting with a digit "
               "('{2,3}' repeats in a regular expression; templates have none: write '*' (any text within a "
               "segment) or '{name}')"),
])
def test_errors_say_what_to_write_for_dataworks_parameters_and_regex_counts(template, message):
    with pytest.raises(TemplateError) as e:
        compile_template(template)
    assert str(e.value) == message


# ---- fill ------------------------------------------------------------------------------------------

def test_fill():
    t = compile_template("done/{table}/{cycle:%Y%m%d%H%M}.ok")
    values = {"table": "orders", "cycle": datetime(2024, 1, 2, 3, 4), "extra": 1}  # extra values are ignored
    assert t.fill(values) == "done/orders/202401020304.ok"
    assert compile_template("{bizdate:%Y-%m-%d}").fill({"bizdate": date(5, 1, 2)}) == "0005-01-02"
    assert compile_template("a{{b}}").fill({}) == "a{b}"


@pytest.mark.parametrize("template, values, message", [
    ("a/*", {}, "it has a wildcard"),
    ("a/**", {}, "it has a wildcard"),
    ("{x}", {}, "no value for {x}"),
    ("{bizdate:%Y%m%d}", {}, "no value for {bizdate}"),
    ("{bizdate:%Y%m%d}", {"bizdate": "20240102"}, "expected a date"),
    ("{cycle:%Y%m%d%H}", {"cycle": date(2024, 1, 2)}, "expected a datetime"),
    ("{x}", {"x": "a/b"}, "without '/'"),
    ("{x}", {"x": ""}, "non-empty"),
    ("{x}", {"x": 5}, "got 5"),
])
def test_fill_errors(template, values, message):
    with pytest.raises(TemplateError) as e:
        compile_template(template).fill(values)
    assert message in str(e.value)


_LITERAL = st.text(st.sampled_from("ab-_.=x%{}é"), min_size=1, max_size=4).map(
    lambda s: s.replace("{", "{{").replace("}", "}}"))
_VALUE = st.text(st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), min_size=1, max_size=6)
_DATE_FORMATS = {"bizdate": ["%Y%m%d", "%Y-%m-%d", "%d.%m.%Y"],
                 "cycle": ["%Y%m%d%H", "%Y-%m-%dT%H:%M", "%H%M%S-%Y%m%d", "%Y%m%d%H%%"]}


@st.composite
def _round_trip_case(draw):
    """(template, values, expected captures). Each segment has at most one {name}, and dates are fixed
    width, so a filled key splits only one way."""
    date_kind = draw(st.sampled_from([None, "bizdate", "cycle"]))
    segments, values, expected = [], {}, {}
    for n in range(draw(st.integers(1, 4))):
        parts = draw(st.lists(_LITERAL, max_size=2))
        if draw(st.booleans()):
            parts.insert(draw(st.integers(0, len(parts))), f"{{v{n}}}")
            values[f"v{n}"] = expected[f"v{n}"] = draw(_VALUE)
        if date_kind and date_kind not in values and draw(st.booleans()):
            fmt = draw(st.sampled_from(_DATE_FORMATS[date_kind]))
            parts.insert(draw(st.integers(0, len(parts))), f"{{{date_kind}:{fmt}}}")
            if date_kind == "bizdate":
                values["bizdate"] = expected["bizdate"] = draw(st.dates())
            else:
                values["cycle"] = cycle = draw(st.datetimes())
                expected["cycle"] = cycle.replace(minute=cycle.minute if "%M" in fmt else 0,
                                                  second=cycle.second if "%S" in fmt else 0, microsecond=0)
        segments.append("".join(parts) or "seg")
    return "/".join(segments), values, expected


@settings(max_examples=examples(300))
@given(_round_trip_case())
def test_fill_then_match_round_trips(case):
    source, values, expected = case
    t = compile_template(source)
    assert set(t.names) == set(values)
    assert t.match(t.fill(values)) == expected


# ---- hostile keys ----------------------------------------------------------------------------------

# Keys chosen to pass the prefix/suffix pre-check, so the whole table is built.
@pytest.mark.parametrize("template, key, expected", [
    ("**a**a**a**b**", "a" * 1024, None),
    ("**a**a**a**a**a**a**a**a**b", "a" * 7 + "-" * 1016 + "b", None),
    ("*a*a*a*a*a*a*b*", "a" * 1024, None),
    ("{x}a{y}a{z}a*b*", "a" * 1024, None),
    ("{x}a{y}a{z}a*b", "a" * 1023 + "b", {"x": "a" * 1018, "y": "a", "z": "a"}),
    ("**/{a}/**/{b}/**/c", "/" * 1022 + "/c", None),
    ("**{bizdate:%Y%m%d}**{x}**z", "9" * 1023 + "z", None),
    ("**{bizdate:%Y%m%d}**{x}**z", "9" * 1000 + "20240229xz", {"bizdate": date(2024, 2, 29), "x": "x"}),
    ("**/**/**/**/**/**/**/**/b", "a/" * 511 + "c", None),
    ("**/a/**/a/**/a/**/b", "a/" * 511 + "a", None),
    ("**/a/**/a/**/a/**/b", "a/" * 511 + "b", {}),
])
def test_hostile_keys_stay_linear(template, key, expected):
    t = compile_template(template)
    start = time.perf_counter()
    assert t.match(key) == expected
    print(f"{template!r} x {len(key)} chars: {(time.perf_counter() - start) * 1000:.1f} ms")


# ---- partial: captures filled, wildcards kept (what a `require` entry names for one event) -------------

D, C = date(2024, 1, 2), datetime(2024, 1, 2, 3, 4)


@pytest.mark.parametrize("template, values, source, prefix, literal", [
    ("in/{t}/dt={bizdate:%Y%m%d}/_SUCCESS", {"t": "orders", "bizdate": D}, "in/orders/dt=20240102/_SUCCESS",
     "in/orders/dt=20240102/_SUCCESS", True),
    ("day={bizdate:%Y-%m-%d}/*.csv", {"bizdate": D, "unused": 1}, "day=2024-01-02/*.csv", "day=2024-01-02/", False),
    ("{bizdate:%d.%m.%Y}", {"bizdate": C}, "02.01.2024", "02.01.2024", True),    # a datetime is a date too
    ("h/{cycle:%Y%m%d%H%%}/**", {"cycle": C}, "h/2024010203%/**", "h/2024010203%/", False),
    ("in/{t}/*.csv", {"t": "*"}, "in/*/*.csv", "in/*/", False),                  # a captured '*' is text
    ("in/{t}/**", {"t": "**"}, "in/**/**", "in/**/", False),
    ("{t}*", {"t": "*"}, "**", "*", False),                                      # text '*', then a wildcard
    ("{x}/{bizdate:%Y%m%d}", {"x": "{y}", "bizdate": D}, "{y}/20240102", "{y}/20240102", True),
    ("{x}", {"x": "%Y%m"}, "%Y%m", "%Y%m", True),
    ("a{{b}}/{x}", {"x": "}}{{"}, "a{b}/}}{{", "a{b}/}}{{", True),
    ("数据/{t}/*.✓", {"t": "订单"}, "数据/订单/*.✓", "数据/订单/", False),
    ("**/{x}.csv", {"x": "v"}, "**/v.csv", "", False),
    ("in/{t}/**/*.csv", {"t": "o"}, "in/o/**/*.csv", "in/o/", False),
    ("a/*", {}, "a/*", "a/", False),
    ("exact/key", {}, "exact/key", "exact/key", True),
])
def test_partial_fills_captures_and_keeps_wildcards(template, values, source, prefix, literal):
    t = compile_template(template).partial(values)
    assert (t.source, t.prefix, t.is_literal, t.names) == (source, prefix, literal, ())


@pytest.mark.parametrize("template, prefix, literal", [
    ("exact/key", "exact/key", True),
    ("a{{b}}", "a{b}", True),
    ("in/{t}/x", "in/", False),
    ("d={bizdate:%Y%m%d}", "d=", False),
    ("*/x", "", False),
    ("{t}", "", False),
])
def test_prefix_and_is_literal_of_a_compiled_template(template, prefix, literal):
    t = compile_template(template)
    assert (t.prefix, t.is_literal) == (prefix, literal)


@pytest.mark.parametrize("template, values, key, expected", [
    ("in/{t}/*.csv", {"t": "*"}, "in/*/x.csv", {}),
    ("in/{t}/*.csv", {"t": "*"}, "in/x/x.csv", None),                # '*' was captured text, not a wildcard
    ("in/{t}/*.csv", {"t": "*"}, "in/*/sub/x.csv", None),            # the kept '*' stays within a segment
    ("in/{t}/**", {"t": "**"}, "in/**/a/b", {}),
    ("in/{t}/**", {"t": "**"}, "in/x/a/b", None),
    ("{t}*", {"t": "*"}, "*abc", {}),
    ("{t}*", {"t": "*"}, "abc", None),
    ("{x}/{bizdate:%Y%m%d}/*", {"x": "{y}", "bizdate": D}, "{y}/20240102/a", {}),
    ("{x}/{bizdate:%Y%m%d}/*", {"x": "{y}", "bizdate": D}, "z/20240102/a", None),
    ("{x}/{bizdate:%Y%m%d}/*", {"x": "{y}", "bizdate": D}, "{y}/20240103/a", None),
    ("{x}-*", {"x": "%Y%m%d"}, "%Y%m%d-1", {}),
    ("{x}-*", {"x": "%Y%m%d"}, "20240102-1", None),
    ("数据/{t}/*.✓", {"t": "订单"}, "数据/订单/😀.✓", {}),
    ("数据/{t}/*.✓", {"t": "订单"}, "数据/单/😀.✓", None),
    ("d/{cycle:%Y%m%d%H}/*.done", {"cycle": C}, "d/2024010203/p.done", {}),
    ("d/{cycle:%Y%m%d%H}/*.done", {"cycle": C}, "d/2024010204/p.done", None),
    ("in/{t}/**/*.csv", {"t": "o"}, "in/o/x.csv", {}),          # a require entry's `**/`: zero segments too
    ("in/{t}/**/*.csv", {"t": "o"}, "in/o/a/b/x.csv", {}),
    ("in/{t}/**/*.csv", {"t": "o"}, "in/p/x.csv", None),
])
def test_a_partial_template_matches_only_keys_with_those_values(template, values, key, expected):
    assert compile_template(template).partial(values).match(key) == expected


@pytest.mark.parametrize("template, values, message", [
    ("{x}/*", {}, "no value for {x}"),
    ("{x}/*", {"x": "a/b"}, "without '/'"),
    ("{x}/*", {"x": ""}, "non-empty"),
    ("{bizdate:%Y%m%d}/*", {"bizdate": "20240102"}, "expected a date"),
    ("{cycle:%Y%m%d%H}/*", {"cycle": D}, "expected a datetime"),
])
def test_partial_refuses_values_no_key_could_have_given(template, values, message):
    with pytest.raises(TemplateError) as e:
        compile_template(template).partial(values)
    assert message in str(e.value)


@settings(max_examples=examples(200))
@given(_round_trip_case())
def test_partial_of_every_value_is_the_filled_key(case):
    source, values, _ = case
    t = compile_template(source)
    filled = t.partial(values)
    key = t.fill(values)
    assert (filled.is_literal, filled.prefix, filled.source) == (True, key, key)
    assert filled.match(key) == {}


# ---- segments: a template cut at '/', for the OSS port's walk a directory level at a time ----------------------

@pytest.mark.parametrize("template, crosses", [
    ("exports/*/dt={bizdate:%Y-%m-%d}/_SUCCESS", False),
    ("in/{t}/x{n}y*.csv", False),
    ("exact/key", False),
    ("a/**", True),
    ("raw/**/*.parquet", True),
    ("a**b", True),
    ("d/{bizdate:%Y/%m/%d}/x", True),               # a date that writes '/' spans segments
    ("d/{cycle:%Y%m%d-%H}/x", False),
])
def test_crosses_says_whether_a_wildcard_or_date_can_span_a_slash(template, crosses):
    assert compile_template(template).crosses is crosses


@pytest.mark.parametrize("template, values, sources, prefixes", [
    ("exports/*/dt={bizdate:%Y-%m-%d}/_SUCCESS", None, ["exports", "*", "dt={bizdate:%Y-%m-%d}", "_SUCCESS"],
     ["exports", "", "dt=", "_SUCCESS"]),
    ("exports/*/dt={bizdate:%Y-%m-%d}/_SUCCESS", {"bizdate": D}, ["exports", "*", "dt=2024-01-02", "_SUCCESS"],
     ["exports", "", "dt=2024-01-02", "_SUCCESS"]),
    ("{region}/x{n}y*/{cycle:%Y%m%d%H}%%.ok", None, ["{region}", "x{n}y*", "{cycle:%Y%m%d%H}%%.ok"], ["", "x", ""]),
    ("a//b/", None, ["a", "", "b", ""], ["a", "", "b", ""]),
    ("/lead", None, ["", "lead"], ["", "lead"]),
    ("in/{t}/*.csv", {"t": "st*{x}"}, ["in", "st*{x}", "*.csv"], ["in", "st*{x}", ""]),    # a value stays text
    ("in/{t}/*.csv", {}, ["in", "*", "*.csv"], ["in", "", ""]),                          # loose: '*', 1+ chars
    ("d/{bizdate:%Y/%m/%d}/x", {"bizdate": D}, ["d", "2024", "01", "02", "x"], ["d", "2024", "01", "02", "x"]),
])
def test_segments_cut_at_each_literal_slash(template, values, sources, prefixes):
    t = compile_template(template)
    t = t if values is None else t.partial(values, loose=True)
    cut = t.segments()
    assert [s.source for s in cut] == sources and [s.prefix for s in cut] == prefixes
    assert all(s.is_literal == (s.source == s.prefix) for s in cut if "*" not in s.prefix)


def test_segments_match_one_segment_each_and_keep_their_captures():
    region, name, day = compile_template("{region}/x{n}y*/dt={bizdate:%Y-%m-%d}").segments()
    assert region.match("emea") == {"region": "emea"} and region.match("") is None and region.match("a/b") is None
    assert name.match("xAAy.csv") == {"n": "AA"} and name.match("xy") is None
    assert day.match("dt=2024-02-29") == {"bizdate": date(2024, 2, 29)} and day.match("dt=2023-02-29") is None
    loose = compile_template("in/{t}/*.csv").partial({}, loose=True).segments()[1]
    assert loose.match("") is None and loose.match("o") == {}                  # a loose {t}: one or more chars
    assert compile_template("a//b").segments()[1].match("") == {}


@pytest.mark.parametrize("template", ["a/**", "raw/**/*.parquet", "d/{bizdate:%Y/%m/%d}/x"])
def test_segments_refuse_a_template_that_crosses(template):
    with pytest.raises(TemplateError) as e:
        compile_template(template).segments()
    assert "crosses '/'" in str(e.value)


_SEGMENT_PART = st.sampled_from(["a", "b", "/", "*", "{x}", "{y}", "%", "{bizdate:%Y%m%d}", "{{", "-"])


@settings(max_examples=examples(400))
@given(st.lists(_SEGMENT_PART, min_size=1, max_size=7), st.text(st.sampled_from("ab/-{%0129"), max_size=12))
def test_a_key_matches_iff_each_of_its_segments_matches_its_own(parts, key):
    """What the walk relies on: same segment count, each segment matched alone, the same captures."""
    source = "".join(parts)
    assume(source.count("{x}") < 2 and source.count("{y}") < 2 and source.count("{bizdate") < 2 and "**" not in source)
    t = compile_template(source)
    cut, pieces = t.segments(), key.split("/")
    alone = [s.match(p) for s, p in zip(cut, pieces)] if len(cut) == len(pieces) else [None]
    whole = t.match(key)
    assert (whole is not None) == all(m is not None for m in alone)
    if whole is not None:
        assert whole == {k: v for m in alone for k, v in m.items()}
