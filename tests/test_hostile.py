"""Hostile input: every sample in events/ with each field removed, then generated and mutated events (wrong types,
huge, unicode and percent-encoded keys, dates at the ends of the calendar, base64 garbage, nesting bombs,
truncation, flipped bytes) through parse + relay, with DataWorks calls going to the emulator.

Only TriggerFailed, the deliberate retry signal, may leave the runtime (`checks.invoke`); DataWorks is called only
for decisions that name a rule, and every trigger it accepted is a `triggered` decision; an event whose routing
field (bucket, topic, queue, timer) names nothing in the rules never reaches DataWorks at all.
"""
from __future__ import annotations

import base64
import copy
import json
import re
import time
import uuid
from datetime import datetime
from urllib.parse import quote

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from checks import drain, invoke
from conftest import ACTIONS, EVENTS, ROOT, WORLD, Harness, examples, oss_seed
from dwtrigger.dataworks import APIS
from dwtrigger.ops import fc
from dwtrigger.ops.emulator import Emulator, OssStandIn
from dwtrigger.events import source_of
from dwtrigger.sources import names

SOURCES = names()

pytestmark = pytest.mark.slow      # slow: run once, on FC's Python (Makefile)

# rules.yaml, plus date fields read from a timer payload and a message, and a trigger without a look-up.
RULES = (ROOT / "rules.yaml").read_text() + """
  - name: nightly-dated
    on: timer
    timer: nightly
    bizdate: {field: "bizdate", format: "%Y-%m-%d"}
    trigger: [{workspace: 10001, node: 700001300003, at: "12:00"}]
  - name: etl-done-cycle
    on: mns
    topic: etl-done
    cycle: {field: "run.cycle", format: "%Y%m%d%H"}
    trigger: [{workspace: 10001, node: 700001234999, lookup: false}]
"""


def _loads(text):
    try:
        return json.loads(text)
    except (ValueError, RecursionError):            # a generated string may nest past the stack hypothesis leaves
        return None


RAW = {path.relative_to(EVENTS).as_posix(): path.read_bytes() for path in sorted(EVENTS.rglob("*"))
       if path.is_file() and path.suffix in (".json", ".txt", ".bin")}
OWN = {name: name.split("/")[0] if name.split("/")[0] in SOURCES else source_of(raw) for name, raw in RAW.items()}
DOCS = {name: doc for name, raw in RAW.items() if (doc := _loads(raw)) is not None}
ROUTED = tuple(n for n in DOCS if not n.startswith("mns/topic-stream"))   # STREAM messages' topic is configuration
ROUTING = ("TopicName", "subject", "triggerName", "topic")                 # and a bucket's name
DATE = re.compile(r"\d{4}-?\d\d-?\d\d(?:\d\d)?")
FUZZ = settings(max_examples=examples(625), derandomize=True, database=None,     # per API: 1,250 a suite in CI
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# Keys made up for this run, so no generated event can hold them.
KEY = {"access_key_id": f"STS.{uuid.uuid4().hex}", "access_key_secret": uuid.uuid4().hex,
       "security_token": uuid.uuid4().hex}


@pytest.fixture(scope="module")
def emu():
    with Emulator(dict(yaml.safe_load(WORLD.read_text()), keys=[KEY])) as emu:
        yield emu


@pytest.fixture(scope="module")
def oss():
    """Where rules that `require` objects look (none of them ever lands here)."""
    with OssStandIn(dict(oss_seed(), keys=[KEY])) as standin:
        yield standin


@pytest.fixture(scope="module", params=APIS)
def api(request) -> str:
    """Each suite runs once per DataWorks API (with half the examples each)."""
    return request.param


def harness(emu, oss, env: dict, api: str) -> Harness:
    h = Harness(emu, RULES, {**env, "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY["access_key_id"],
                             "ALIBABA_CLOUD_ACCESS_KEY_SECRET": KEY["access_key_secret"],
                             "ALIBABA_CLOUD_SECURITY_TOKEN": KEY["security_token"]}, None, api, oss)
    h.secrets = tuple(KEY.values())
    return h


@pytest.fixture(scope="module")
def h(emu, oss, api):
    """The runtime with a STREAM topic configured, so any text is a message for the mns function."""
    h = harness(emu, oss, {"DWTRIGGER_MNS_TOPIC": "etl-done"}, api)
    h.rules_at_start = rules_state(h)
    return h


@pytest.fixture(scope="module")
def unrouted(emu, oss, api):
    """Without a STREAM topic: every message names its own topic or queue."""
    return harness(emu, oss, {}, api)


def rules_state(h) -> str:
    """Everything the loaded rules hold, the patterns' sources included (they are plain dicts)."""
    return repr([(r, getattr(getattr(r, "message", None), "source", None),
                  getattr(getattr(r, "attributes", None), "source", None)) for r in h.runtime.rules.rules])


def relay(h, source: str, raw: bytes) -> list:
    """Run one event: DataWorks and OSS are called only for decisions that matched a rule, and DataWorks accepted a
    trigger exactly for each `triggered` decision (a refused one, from `lookup: false`, belongs to a `failed`
    decision)."""
    records, _ = invoke(h, source, raw)
    calls, checks = h.emu.calls, h.oss.calls
    h.emu.gateway.clear_calls()
    h.oss.reset()
    triggers = [c for c in calls if c["action"] in {actions["trigger"] for actions in ACTIONS.values()}]
    if not any(r["rule"] for r in records):
        assert calls == [] and checks == [], records
    sent = [(c["params"].get("NodeId") or c["params"]["TaskId"], c["status"] == 200) for c in triggers]
    assert [node for node, ok in sent if ok] == [str(r["node"]) for r in records if r["outcome"] == "triggered"]
    assert {node for node, ok in sent if not ok} <= {str(r["node"]) for r in records if r["outcome"] == "failed"}
    return records


# ---- document surgery ----

def paths(doc, at=()):
    """Every path to a value inside `doc` (the root excluded)."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        yield at + (key,)
        yield from paths(value, at + (key,))


def get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def put(doc, path, value=None, remove=False):
    """A copy of `doc` with the value at `path` replaced (or removed)."""
    doc = copy.deepcopy(doc)
    parent = get(doc, path[:-1])
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def redate(text: str, when: datetime) -> str:
    """`when` written the way `text` writes a date: 2026-03-10, 20260310 or 2026031008."""
    iso = when.isoformat()
    return iso[:10] if "-" in text else (iso[:10].replace("-", "") + iso[11:13])[:len(text)]


# ---- strategies ----

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
any_date = st.one_of(st.datetimes(), st.datetimes(max_value=datetime(1, 1, 3)),
                     st.datetimes(min_value=datetime(9999, 12, 29)))
TRICKS = ["{bizdate}", "{cycle:%Y}", "{0.__class__}", "%(x)s", "${jndi:ldap://x}", "__import__('os')", "**", "../",
          "%", "%zz", "%ff%fe", "%00", "\x00", "\ud800", "\u2028", "\u0085", "\u202e", "+", "\\", "\n"]
hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(max_size=20).map(quote),                                                   # percent-encoded
    st.tuples(st.characters(), st.integers(0, 70_000)).map(lambda t: t[0] * t[1]),     # up to past the limits
    st.lists(st.sampled_from(TRICKS) | st.text(max_size=5), max_size=6).map("".join),
    any_date.map(lambda when: redate("2026-03-10" if when.hour % 2 else "2026031008", when)))
bodies = st.one_of(json_values.map(json.dumps), hostile_text,
                   st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),           # base64 garbage
                   json_values.map(lambda v: base64.b64encode(json.dumps(v).encode()).decode()))


@st.composite
def mutated(draw, doc):
    """`doc` after one to four mutations, each at a path drawn from what the document holds by then."""
    for _ in range(draw(st.integers(1, 4))):
        found = list(paths(doc))
        strings = [p for p in found if isinstance(get(doc, p), str)]
        kind = draw(st.sampled_from(["replace", "remove", "add", "text", "date", "body", "inner"]))
        if not found:
            return doc
        if kind == "add":
            where = draw(st.sampled_from([()] + found))
            if isinstance(get(doc, where), dict):
                doc = put(doc, where + (draw(st.text(max_size=12)),), draw(json_values))
        elif kind == "remove":
            doc = put(doc, draw(st.sampled_from(found)), remove=True)
        elif kind == "replace" or not strings:
            doc = put(doc, draw(st.sampled_from(found)), draw(json_values))
        elif kind == "text":
            path = draw(st.sampled_from(strings))
            doc = put(doc, path, draw(st.sampled_from(["", get(doc, path)])) + draw(hostile_text))
        elif kind == "date":                        # the same shape, with every date in it moved
            for path in strings:
                doc = put(doc, path, DATE.sub(lambda m: redate(m.group(), draw(any_date)), get(doc, path)))
        elif kind == "body":
            doc = put(doc, draw(st.sampled_from(strings)), draw(bodies))
        else:                                       # mutate the JSON inside a string (message bodies, payloads)
            inner = [p for p in strings if isinstance(_loads(get(doc, p)), (dict, list))]
            if inner:
                path = draw(st.sampled_from(inner))
                doc = put(doc, path, json.dumps(draw(mutated(_loads(get(doc, path))))))
    return doc


@st.composite
def hostile_bytes(draw, raw):
    """`raw` as it is, truncated, with bytes flipped, or buried in nesting."""
    how = draw(st.sampled_from(["truncate", "flip", "nest", "none"]))
    if how == "truncate":
        return raw[:draw(st.integers(0, len(raw)))]
    if how == "flip":
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 5)) if data else 0):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "nest":
        depth = draw(st.sampled_from([1, 10, 63, 64, 65, 1000, 100_000]))
        opening, closing = draw(st.sampled_from([(b"[", b"]"), (b'{"events":', b"}"), (b'{"a":', b"}")]))
        return opening * depth + raw + closing * depth
    return raw


@st.composite
def events(draw, names=tuple(DOCS)):
    name = draw(st.sampled_from(names))
    raw = json.dumps(draw(mutated(DOCS[name])), ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    return draw(st.sampled_from([OWN[name]] * 3 + list(SOURCES))), draw(hostile_bytes(raw))


@st.composite
def decoys(draw):
    """A mutated sample for its own function, every routing field then set to a name no rule has."""
    name = draw(st.sampled_from(ROUTED))
    doc, label = draw(mutated(DOCS[name])), "decoy-" + draw(st.text(max_size=10))
    doc, strings = unquoted(doc)
    for path in [p for p in paths(doc) if p[-1] in ROUTING or p[-2:] == ("bucket", "name")]:
        doc = put(doc, path, f"acs:mns:cn-shanghai:1:queues/{label}" if path[-1] == "subject" else label)
    doc = embedded_decoy(doc, label)
    if strings:                                      # quoted again, as they came
        doc = [json.dumps(item) if i in strings else item for i, item in enumerate(doc)]
    return OWN[name], json.dumps(doc).encode("utf-8", "surrogatepass")


def unquoted(doc):
    """A list of CloudEvents sent as JSON strings (Kafka's older form): the events parsed, and which items were."""
    if not isinstance(doc, list):
        return doc, set()
    parsed, strings = [], set()
    for i, item in enumerate(doc):
        try:
            event = json.loads(item) if isinstance(item, str) else None
        except ValueError:
            event = None
        if isinstance(event, dict):
            parsed.append(event)
            strings.add(i)
        else:
            parsed.append(item)
    return parsed, strings


def embedded_decoy(doc, label: str):
    """A queue message whose body is a topic's notification routes by that topic too: it gets the decoy name."""
    data = doc.get("data") if isinstance(doc, dict) else None
    try:
        body = json.loads(data["messageBody"])
    except (TypeError, KeyError, ValueError):
        return doc
    if isinstance(body, dict) and "TopicName" in body:
        data["messageBody"] = json.dumps({**body, "TopicName": label})
    return doc


# ---- the suites ----

def test_every_sample_with_any_one_field_removed(h):
    removed = [(OWN[name], put(doc, path, remove=True)) for name, doc in DOCS.items() for path in paths(doc)]
    assert len(removed) > 300
    for source, doc in removed:
        relay(h, source, json.dumps(doc).encode())


@FUZZ
@given(event=events())
def test_mutated_samples(h, event):
    relay(h, *event)


@FUZZ
@given(event=decoys())
def test_an_event_no_rule_routes_never_reaches_dataworks(unrouted, event):
    records = relay(unrouted, *event)
    assert {r["outcome"] for r in records} <= {"ignored", "rejected"}


@FUZZ
@given(source=st.sampled_from(SOURCES), raw=st.one_of(
    st.binary(max_size=300), st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(list(RAW.values())).flatmap(hostile_bytes)))
def test_arbitrary_bytes(h, source, raw):
    relay(h, source, raw)


@FUZZ
@given(key=hostile_text, prefix=st.sampled_from(["", "exports/orders/dt=", "logs/clicks/", "inbound/partner/"]),
       suffix=st.sampled_from(["", "/_SUCCESS", "/x.done"]))
def test_hostile_object_keys(h, key, prefix, suffix):
    doc = put(DOCS["oss/native-put-orders.json"], ("events", 0, "oss", "object", "key"), prefix + key + suffix)
    relay(h, "oss", json.dumps(doc).encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("name, path, value", [
    ("oss/native-put-orders.json", ("events", 0, "oss", "object", "key"), "exports/orders/dt=2026-03-10/" + "x" * 2000),
    ("mns/topic-json-finance.json", ("Message",), json.dumps({"job": "finance-close", "pad": "x" * 70_000})),
    ("mns/topic-json-finance.json", ("Message",), "[" * 5000 + "]" * 5000),
    ("timer/nightly-payload-json.json", ("payload",), '{"bizdate": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    ("oss/native-put-orders.json", ("events",), json.loads("[" * 70 + "]" * 70)),
])
def test_oversized_and_deeply_nested_input_is_rejected(h, name, path, value):
    [d] = relay(h, OWN[name], json.dumps(put(DOCS[name], path, value)).encode())
    assert d["outcome"] == "rejected" and ("deeper" in d["reason"] or "limit" in d["reason"]), d["reason"]


def test_a_batch_of_a_hundred_thousand_records_ends_inside_the_function_s_timeout(h):
    """Records are read and decided one at a time against the deadline: once it has passed, the record at hand and
    the rest get one `failed` line together (nothing is read for them), the handler raises and FC retries."""
    base = DOCS["oss/native-put-orders.json"]["events"][0]
    records = [{"eventName": base["eventName"], "eventTime": base["eventTime"], "responseElements": {"requestId": f"R{n}"},
                "oss": {"bucket": {"name": "etl-landing"}, "object": {"key": f"other/{n}"}}} for n in range(100_000)]
    raw = json.dumps({"events": records}).encode()
    started = time.process_time()
    decisions = h.runtime.run("oss", raw, fc.context_for("oss", timeout=3))          # 2.5 s to decide
    # The work it did fits in the timeout: the CPU time it took, which a loaded machine does not stretch as it
    # stretches the wall clock (reading all 100,000 records first, or deciding them all, takes several seconds).
    assert time.process_time() - started < 3
    decided = [d.record() for d in decisions]
    assert [line["outcome"] for line in drain(h)] == [d["outcome"] for d in decided]
    assert decided[-1]["outcome"] == "failed" and len(decided) < 100_000
    assert {d["outcome"] for d in decided[:-1]} <= {"ignored"}      # none at all when reading the batch took it all
    last = decided[-1]
    assert (last["outcome"], last["error_code"], last["retryable"], last["event_id"], last["key"]) == (
        "failed", "DeadlineExceeded", True, f"R{len(decided) - 1}", f"other/{len(decided) - 1}")
    assert last["reason"] == ("the invocation's deadline came before this record and the ones after it in the event "
                              "were decided; FC's retry runs the event again")


def test_the_rules_do_not_change_under_fire(h):
    """Runs last: after every event above (and the samples once more), the rules are what was loaded."""
    for name, doc in DOCS.items():
        relay(h, OWN[name], json.dumps(doc).encode())
    assert rules_state(h) == h.rules_at_start
