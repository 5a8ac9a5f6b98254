"""The OSS port's `find` (and `missing`, which uses it): a key with wildcards within segments is walked a directory
level at a time with delimiter '/', one with `**` listed whole under its prefix; through the real SDK against the OSS
stand-in on loopback, every request on the stand-in's record."""
import time
from datetime import date

import pytest

from conftest import ROLE_KEY, oss_seed
from dwtrigger import oss
from dwtrigger.credentials import RoleKeys
from dwtrigger.ops.emulator import OssStandIn
from dwtrigger.oss import OssError, Wanted, v2
from dwtrigger.templates import compile_template

BUCKET = "etl-landing"
ITEMS = "exports/sales/dt=2026-03-10/items/"
# 30,000 objects in 30 subdirectories of ITEMS (some named *.done, one level too deep for ITEMS*.done), 500 direct
# .tmp files, and the one direct *.done: the lexically last key of the directory.
NESTED = [f"{ITEMS}part-{d:02d}/f-{f:04d}.{'done' if f % 100 == 0 else 'csv'}" for d in range(30) for f in range(1000)]
DIRECT = [f"{ITEMS}a-{n:03d}.tmp" for n in range(500)]
LAST = f"{ITEMS}zz-last.done"
MID = ["mid/alpha/dt=2026-03-09/_SUCCESS", "mid/alpha/dt=2026-03-10/part-0.csv", "mid/alpha/dt=2026-03-10/part-1.csv",
       "mid/alpha/deep/x/y/_SUCCESS", "mid/alpha/dt=2026-13-01/_SUCCESS", "mid/beta/dt=2026-03-10/_SUCCESS",
       "mid/gamma/dt=2026-03-10/_SUCCESS", "mid/readme.txt", "midway/x/dt=2026-03-10/_SUCCESS"]
# Ordering traps ("a-b/" sorts before "a/"), an empty segment, a directory marker, characters the SDK and OSS
# percent-encode in a listing (encoding-type=url), and a filled value holding template syntax.
TREE = ["tree/a-b/1.csv", "tree/a/0.csv", "tree/a/2.csv", "tree/a/sub/3.csv", "tree/a.csv", "tree//e.csv",
        "tree/b/", "tree/b/4.csv", "tree/b/5.txt", "tree/c+d/6.csv", "tree/数据 目录/订单 7.csv",
        "tree/100%/a%2Fb 8.csv", "tree/emoji 🎉/9.csv", "tree/star*{x}/10.csv", "tree/starZ{x}/11.csv",
        "tree/with space/and+plus.csv"]
RAW = ["raw/x.parquet", "raw/a/b/y.parquet", "raw/a/z.csv", "rawer/q.parquet"]
DATES = ["dates/2026/03/10/x.ok", "dates/2026/03/11/x.ok", "dates/2026/3/12/x.ok"]
WIDE = [f"wide/t{n:02d}/other.csv" for n in range(20)]
OBJECTS = NESTED + DIRECT + [LAST] + MID + TREE + RAW + DATES + WIDE


class Until:
    """A deadline `seconds` from now."""

    def __init__(self, seconds: float = 30):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


class AfterCalls:
    """A deadline with time for `calls` calls, then none (the adapter asks `left()` once before each)."""

    def __init__(self, calls: int):
        self.calls = calls

    def left(self) -> float:
        self.calls -= 1
        return 30.0 if self.calls >= 0 else 0.0


@pytest.fixture(scope="module")
def standin():
    seed = oss_seed()
    seed["buckets"] = [{"name": BUCKET, "objects": OBJECTS}]
    with OssStandIn(seed) as server:
        yield server


@pytest.fixture
def store(standin):
    standin.reset()
    return oss.store("cn-shanghai", standin.endpoint, "http", False, RoleKeys(*ROLE_KEY.values()))


def find(store, template, limit=1, deadline=None, values=None):
    key = compile_template(template)
    return store.find(BUCKET, key.partial(values, loose=True) if values else key, deadline or Until(), limit)


def calls(standin):
    """(operation, prefix or key, delimiter) of each request."""
    return [(c["operation"], c["params"].get("prefix", c["key"]), c["params"].get("delimiter")) for c in standin.calls]


def expected(template, limit=None, values=None):
    """What `find` must answer, by brute force over the seed."""
    key = compile_template(template)
    key = key.partial(values, loose=True) if values else key
    return sorted(k for k in OBJECTS if key.match(k) is not None)[:limit]


# ---- one level with a delimiter ---------------------------------------------------------------------------------

def test_a_last_segment_wildcard_is_one_listing_of_its_directory_whatever_lies_below(store, standin):
    assert find(store, ITEMS + "*.done") == [LAST]
    assert calls(standin) == [("ListObjectsV2", ITEMS, "/")]
    standin.reset()
    assert store.missing([Wanted(BUCKET, compile_template(ITEMS + "*.done"))], Until()) == []
    assert calls(standin) == [("ListObjectsV2", ITEMS, "/")]
    standin.remove(BUCKET, LAST)
    assert store.missing([Wanted(BUCKET, compile_template(ITEMS + "*.done"))], Until()) != []


def test_double_star_still_lists_every_key_under_the_prefix_with_no_delimiter(store, standin):
    assert find(store, ITEMS + "**.done", limit=2) == [f"{ITEMS}part-00/f-0000.done", f"{ITEMS}part-00/f-0100.done"]
    assert calls(standin) == [("ListObjectsV2", ITEMS, None)]
    standin.reset()
    assert find(store, ITEMS + "**/zz-*.done") == [LAST]                       # past 30,000 nested keys: 31 pages
    assert calls(standin) == [("ListObjectsV2", ITEMS, None)] * 31


def test_double_star_slash_takes_zero_segments(store, standin):
    assert find(store, "raw/**/*.parquet", limit=10) == ["raw/a/b/y.parquet", "raw/x.parquet"]
    assert calls(standin) == [("ListObjectsV2", "raw/", None)]


def test_a_middle_wildcard_descends_only_the_directories_it_matches(store, standin):
    key = "mid/*/dt=2026-03-10/_SUCCESS"
    assert find(store, key) == ["mid/beta/dt=2026-03-10/_SUCCESS"]
    assert calls(standin) == [("ListObjectsV2", "mid/", "/"),
                              ("GetObjectMeta", "mid/alpha/dt=2026-03-10/_SUCCESS", None),
                              ("GetObjectMeta", "mid/beta/dt=2026-03-10/_SUCCESS", None)]
    standin.reset()
    assert find(store, "mid/*ta/dt=2026-03-10/_SUCCESS", limit=5) == ["mid/beta/dt=2026-03-10/_SUCCESS"]
    assert calls(standin) == [("ListObjectsV2", "mid/", "/"),
                              ("GetObjectMeta", "mid/beta/dt=2026-03-10/_SUCCESS", None)]
    standin.reset()
    assert find(store, "mid/g*/dt=2026-03-10/_SUCCESS") == ["mid/gamma/dt=2026-03-10/_SUCCESS"]
    assert calls(standin) == [("ListObjectsV2", "mid/g", "/"),
                              ("GetObjectMeta", "mid/gamma/dt=2026-03-10/_SUCCESS", None)]


def test_a_middle_wildcard_says_missing_when_no_directory_has_the_key(store, standin):
    absent = Wanted(BUCKET, compile_template("mid/*/dt=2026-03-11/_SUCCESS"))
    present = Wanted(BUCKET, compile_template("mid/*/dt=2026-03-10/*.csv"))
    assert store.missing([absent, present], Until()) == [absent]
    assert sorted(c for c in calls(standin) if c[0] == "GetObjectMeta") == [
        ("GetObjectMeta", f"mid/{d}/dt=2026-03-11/_SUCCESS", None) for d in ("alpha", "beta", "gamma")]
    assert ("ListObjectsV2", "mid/alpha/dt=2026-03-10/", "/") in calls(standin)


def test_captures_left_unfilled_are_walked_too_and_read_back_with_match(store, standin):
    key = compile_template("mid/{table}/dt={bizdate:%Y-%m-%d}/_SUCCESS")
    found = store.find(BUCKET, key, Until(), 10)
    assert found == ["mid/alpha/dt=2026-03-09/_SUCCESS", "mid/beta/dt=2026-03-10/_SUCCESS",
                     "mid/gamma/dt=2026-03-10/_SUCCESS"]                     # not dt=2026-13-01: no such date
    assert [key.match(k) for k in found] == [{"table": "alpha", "bizdate": date(2026, 3, 9)},
                                             {"table": "beta", "bizdate": date(2026, 3, 10)},
                                             {"table": "gamma", "bizdate": date(2026, 3, 10)}]
    assert calls(standin)[:2] == [("ListObjectsV2", "mid/", "/"), ("ListObjectsV2", "mid/alpha/dt=", "/")]
    standin.reset()
    assert find(store, "mid/{table}/dt={bizdate:%Y-%m-%d}/_SUCCESS", limit=5, values={"bizdate": date(2026, 3, 10)}) \
        == ["mid/beta/dt=2026-03-10/_SUCCESS", "mid/gamma/dt=2026-03-10/_SUCCESS"]


def test_a_date_whose_format_writes_a_slash_is_listed_whole(store, standin):
    assert find(store, "dates/{bizdate:%Y/%m/%d}/x.ok", limit=5) == DATES[:2]
    assert calls(standin) == [("ListObjectsV2", "dates/", None)]


# ---- what find answers --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("template", [
    "tree/*/*.csv", "tree/*.csv", "tree/a*/*", "tree/{d}/*", "tree/*/", "tree/*/*/*.csv", "*/*/*", "{top}/a/*.csv",
    "mid/*/dt=*/_SUCCESS", "mid*/*/dt=2026-03-10/*", "tree/*/4.csv", "tree/**.csv", "mid/**/_SUCCESS",
    ITEMS + "part-0*/f-09*.done", ITEMS + "*", "nothing/*/here", "mid/*/dt=2026-03-10/nope*"])
@pytest.mark.parametrize("limit", [1, 3, 100_000])
def test_find_answers_the_first_matches_in_lexical_order(store, template, limit):
    assert find(store, template, limit) == expected(template, limit)


@pytest.mark.parametrize("template", ["tree/*/*.csv", "tree/*", "mid/*/dt=*/*", "*/*/dt=2026-03-10/_SUCCESS"])
def test_paging_at_every_level_resumes_after_directories(store, standin, monkeypatch, template):
    monkeypatch.setattr(v2, "MAX_KEYS", 2)
    assert find(store, template, 100) == expected(template)
    assert all(c["params"]["max-keys"] == "2" for c in standin.calls if c["operation"] == "ListObjectsV2")


def test_literal_keys_are_looked_at_directly(store, standin):
    assert find(store, "tree/b/4.csv", limit=5) == ["tree/b/4.csv"]
    assert find(store, "tree/b/6.csv") == []
    assert find(store, "tree/b/") == ["tree/b/"]
    assert calls(standin) == [("GetObjectMeta", k, None) for k in ("tree/b/4.csv", "tree/b/6.csv", "tree/b/")]


def test_keys_that_need_url_encoding_round_trip(store, standin):
    odd = ["tree/100%/a%2Fb 8.csv", "tree/c+d/6.csv", "tree/emoji 🎉/9.csv", "tree/with space/and+plus.csv",
           "tree/数据 目录/订单 7.csv"]
    assert [k for k in find(store, "tree/*/*.csv", 100) if k in odd] == odd
    for k in odd:                                               # the walk through each, and each found by a listing
        directory, name = k[len("tree/"):].split("/")
        assert find(store, f"tree/{{d}}/*{name[-5:]}", values={"d": directory}) == [k]
        assert find(store, f"tree/*/{name}") == [k]
    assert ("ListObjectsV2", "tree/数据 目录/", "/") in calls(standin)


def test_a_filled_value_holding_template_syntax_is_literal(store, standin):
    assert find(store, "tree/{d}/*.csv", values={"d": "star*{x}"}, limit=5) == ["tree/star*{x}/10.csv"]
    assert calls(standin) == [("ListObjectsV2", "tree/star*{x}/", "/")]


def test_limit_must_be_positive(store):
    with pytest.raises(ValueError):
        find(store, "tree/*", limit=0)


# ---- guards: the deadline, the fan-out bound, paging that must advance and end, answers that must fit -----------

def test_a_listing_the_deadline_stops_is_retryable_never_missing(store, standin):
    standin.set_faults(latency_ms=3000)
    wanted = Wanted(BUCKET, compile_template(ITEMS + "*.done"))
    with pytest.raises(OssError) as err:
        store.missing([wanted], Until(0.5))
    assert (err.value.code, err.value.retryable) == ("DeadlineExceeded", True)


def test_a_walk_the_deadline_ends_between_calls_raises_rather_than_answers(store, standin):
    for template, made in (("mid/*/dt=2026-03-11/_SUCCESS", 2), ("mid/*/dt=2026-03-10/*.csv", 1),
                           (ITEMS + "**/zz-*.done", 3)):
        standin.reset()
        with pytest.raises(OssError) as err:
            store.missing([Wanted(BUCKET, compile_template(template))], AfterCalls(made))
        assert (err.value.code, err.value.retryable) == ("DeadlineExceeded", True)
        assert len(standin.calls) == made


def test_the_fan_out_bound_refuses_a_walk_rather_than_cut_it_short(store, standin, monkeypatch):
    key = compile_template("wide/*/_SUCCESS")                   # 20 directories, none with the file: 21 requests
    monkeypatch.setattr(v2, "MAX_FIND_CALLS", 20)
    with pytest.raises(OssError) as err:
        store.missing([Wanted(BUCKET, key)], Until())
    assert (err.value.code, err.value.retryable) == ("FanOutExceeded", False)
    assert "oss://etl-landing/wide/*/_SUCCESS" in err.value.message and "20 requests" in err.value.message
    assert len(standin.calls) == 20
    monkeypatch.setattr(v2, "MAX_FIND_CALLS", 21)
    assert store.missing([Wanted(BUCKET, key)], Until()) == [Wanted(BUCKET, key)]


def test_the_fan_out_bound_counts_every_page_of_a_listing(store, standin, monkeypatch):
    monkeypatch.setattr(v2, "MAX_KEYS", 5)
    monkeypatch.setattr(v2, "MAX_FIND_CALLS", 3)
    with pytest.raises(OssError) as err:
        find(store, "wide/*z/other.csv")                        # 4 pages of directories, none matching
    assert err.value.code == "FanOutExceeded" and len(standin.calls) == 3
    monkeypatch.setattr(v2, "MAX_FIND_CALLS", 4)
    assert find(store, "wide/*z/other.csv") == []


def _rewrite_listings(store, monkeypatch, change):
    real = store._client.list_objects_v2

    def listing(request, **kw):
        page = real(request, **kw)
        change(page)
        return page
    monkeypatch.setattr(store._client, "list_objects_v2", listing)


@pytest.mark.parametrize("template", ["wide/*/none.csv", "wide/**"])
def test_paging_that_repeats_a_token_is_refused(store, standin, monkeypatch, template):
    monkeypatch.setattr(v2, "MAX_KEYS", 2)
    first = []

    def stuck(page):                                           # every page names the first page's token
        if page.next_continuation_token:
            first[:] = first or [page.next_continuation_token]
            page.next_continuation_token = first[0]
    _rewrite_listings(store, monkeypatch, stuck)
    with pytest.raises(OssError) as err:
        find(store, template, limit=100)
    assert (err.value.code, err.value.retryable) == ("BadResponse", True)
    assert "repeated a continuation token" in err.value.message
    assert [c["operation"] for c in standin.calls].count("ListObjectsV2") == 2


def test_a_listing_that_does_not_end_within_max_pages_is_refused(store, monkeypatch):
    monkeypatch.setattr(v2, "MAX_KEYS", 2)
    monkeypatch.setattr(v2, "MAX_PAGES", 3)
    with pytest.raises(OssError) as err:
        find(store, "wide/**/none")
    assert (err.value.code, err.value.retryable) == ("BadResponse", True) and "within 3 pages" in err.value.message


def test_a_common_prefix_outside_the_directory_listed_is_refused(store, standin, monkeypatch):
    standin.put(BUCKET, "elsewhere/dt=2026-03-10/_SUCCESS")

    def stray(page):
        if page.common_prefixes:
            page.common_prefixes[0].prefix = "elsewhere/"
    _rewrite_listings(store, monkeypatch, stray)
    with pytest.raises(OssError) as err:
        find(store, "mid/*/dt=2026-03-10/_SUCCESS")
    assert (err.value.code, err.value.retryable) == ("BadResponse", True)
