"""Load run: events from every source through the FC runtime, against an emulator limited as DataWorks Enterprise
is (50 reads and 20 writes a second) that fails 2% of requests with a 500 and answers some with hostile answers
(redirects, answers dripped one byte at a time past the function's deadline, bodies off their schema, listings led
by other nodes' and days' instances), the way FC would run them.

Each worker thread is one FC instance (its own Runtime, rules loaded once, clients reused). An event whose
invocation raises is queued again, up to `maxAsyncRetryAttempts` (3, as in s.yaml) times; then its FC
failure-destination record is replayed as `dwtrigger replay` does. The world (120 nodes, half of them in a
workspace on the new Data Studio, API 2024-05-18) and the rules (one per node) are generated; the events are the
samples in events/ with their names, dates and ids changed.

Two events for one instance may run at once in two FC instances: both look up a waiting instance and both send.
On 2020-05-18 the later trigger is refused as already released, that invocation raises and FC's retry finds it
already_triggered; on 2024-05-18 DataWorks answers the repeat with success and ignores it, so both decisions say
triggered ("triggers after the release" counts these; only a ledger that claims the instance first prevents it).

`--drop 0.1` is the variant for the sweep: every OSS file lands in an OSS stand-in, a tenth of the daily OSS
notifications never reach the function, the daily OSS rules gain `expect:` (their business dates drawn from the
week the sweep re-checks), and once the load is done the sweep function runs until it has covered every rule;
nothing may be lost. `--ledger` adds `ledger:` to every rule: each send is claimed first, so concurrent deliveries
send once on either API.

Prints the figures and exits 1 when an event is lost, an instance accepts two triggers or one no event named, a
`triggered` decision does not match a trigger DataWorks accepted, a decision has no log line, a log line holds a
secret, an invocation outlives its function's timeout, or the sweep says a false `overdue` or leaves one unsaid.
`--events 5000` is the default run; tests/test_load.py runs a small one.

The faults of a send whose fate is unknown, each an option (all off by default, so the default run stays
comparable; a combined run turns them all on):
- `--stall SHARE`: that share of the trigger calls no other fault hit stall past the function's deadline,
  DataWorks acting on them at once (its answer dripped one byte every 100 ms); `--stall-late SHARE`: the request
  waits until 0.3 s past the invocation's deadline before DataWorks acts, so the trigger lands after its caller
  gave up, while FC's retry may be looking (within the ledger's 10 s grace of the send). FC's retries must find
  the instance released, or send once, never twice.
- `--ledger-faults SHARE` (with `--ledger`): the OSS stand-in answers that share of the ledger's writes, reads
  and listings (PutObject, GetObject, ListObjectsV2; the landing bucket is read with GetObjectMeta) with a 500 or
  a closed connection, half each.
- `--unreachable N`: N rules (a daily OSS rule, a queue rule, a topic rule, ...: of each kind in turn, the one the
  load names least, at least once) call a DataWorks endpoint that accepts connections and never answers; every
  rule names its endpoint (`endpoint:`, no DWTRIGGER_ENDPOINT). Their events fail, FC retries them, they are
  dead-lettered and replayed, and fail again: "not releasable, dead-lettered", apart from lost (a batch's other
  records must still be released). The sweep must go on releasing and saying `overdue` for every other rule
  during the outage ("overdue missed" counts what it left unsaid).
- `--by-hand N` (with `--drop`): before the sweep, an operator releases N instances of daily OSS rules whose file
  never landed (`dwtrigger trigger`): the sweep's look-up must see them run and say nothing.
"false overdue" counts `overdue` lines for an instance that had run when the sweep said it (the emulator's state
after that sweep run) or for a date whose evidence was in the bucket: it must be 0. An `overdue` the sweep said
without DataWorks' word ("could not tell whether it still waits": its endpoint down or failing) for an instance
that had run is counted apart. "duplicate releases (triggers after the release included)" adds the triggers
DataWorks refused or ignored as coming after the release (tests/checks.py); with `--ledger` it must be 0 (the
claim sends once), without one two deliveries at once can both send and it is only reported.

The FC instances' clock starts at the emulator's time and runs in real time (the ledger's claims live until their
claimer's deadline plus 10 s); the emulator's own clock, which its instances follow, stays where it is.

It also counts what the OSS triggers' key filters save a busy landing bucket (docs/deploy.md, "Deploy with Serverless
Devs"): around each OSS event of the load its data files land too (DATA_PARTS before a daily `_SUCCESS`,
HOURLY_PARTS before an hourly `.done`) and another team writes under its own prefix; each object invokes the
function once with no key filter, or only if one of the filters sources/oss.py derives from the rules (those
s.yaml must have) lets it through; the relay's own matcher says which invocations match no rule.
"""
from __future__ import annotations

import argparse
import copy
import io
import json
import queue
import random
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from zoneinfo import ZoneInfo

from dwtrigger import app
from dwtrigger import relay as relay_module
from dwtrigger.events import parse
from dwtrigger.matching import Index
from dwtrigger.ops import fc
from dwtrigger.ops.emulator import Emulator, OssStandIn
from dwtrigger.ops.inputs import read
from dwtrigger.outcomes import FAILED, IGNORED, OVERDUE, TRIGGERED, DecisionLog
from dwtrigger.rules import RuleSet, parse_rules

from dwtrigger.sources.oss import derive        # the OSS trigger filters the rules need (deploy/wiring.py's)

EVENTS = Path(__file__).resolve().parents[1] / "events"
KEY = {"access_key_id": "STS.bench-role", "access_key_secret": "bench-secret-0123",
       "security_token": "bench-token-4567"}
SECRETS = tuple(KEY.values()) + ("Signature=", "ACS3-HMAC-SHA256", "x-acs-security-token")
# Business dates whose instances wait for their trigger at the emulator's 2026-03-12 09:00 (none is held: a trigger
# releases at once, so a second one for the same instance is refused), and one whose instances are generated only
# once the clock passes midnight: events for it raise until their dead letters are replayed two days later.
DAYS = [date(2026, 1, 1) + timedelta(days=n) for n in range(69)]
EARLY = date(2026, 3, 13)
ZONE = ZoneInfo("Asia/Shanghai")
KINDS = {"oss": 40, "hourly": 10, "topic": 30, "queue": 20, "timer": 20}  # rules (one node each) per event kind
FC_RETRIES = 3                                                          # maxAsyncRetryAttempts in s.yaml
REPLAYS = 3                   # runs of `dwtrigger replay` over the dead letters: the first, then its --failed-out
API = {0: "2020-05-18", 1: "2024-05-18"}                                # by node parity
TRIGGERS = {"RunTriggerNode", "TriggerSchedulerTaskInstance"}
REPEATS = {"Emulator.Instance.AlreadyRun", "Emulator.Instance.NoEffect"}   # a trigger after the release
# Hostile answers, as shares of all requests: a redirect to another host, an answer dripped one byte every 100 ms
# (~30 s, past any deadline of this run), a 200 whose body is off every schema; and every listing led by another
# node's SUCCESS instance and this node's instance of the day before.
HOSTILE = {"redirect_rate": 0.002, "drip_rate": 0.001, "drip_ms": 100, "malformed_rate": 0.005,
           "malformed_body": '{"Success": "maybe", "Data": "x"}', "foreign_instances": True}
Target = Tuple[int, int]     # an instance: (node, CycTime in epoch ms)
DATA_PARTS, HOURLY_PARTS = 4, 3   # data files landing beside each daily `_SUCCESS` / hourly `.done` (filters)
BUCKETS = ("landing", "ledger")
SWEPT = 7                    # expect.days of the daily OSS rules with --drop: the sweep re-checks this many dates
RECENT = [d for d in DAYS if d >= date(2026, 3, 12) - timedelta(days=SWEPT)]   # within the sweep's window
STALL_MS = 100               # a stalled trigger's answer: a byte every 100 ms (~25 s for its ~250), past any deadline
LATE_S = 0.3                 # a late trigger waits until 0.3 s past the invocation's own deadline (the timeout less
                             # its margin, retry.py) before it acts: past any call's deadline, within the ledger's
                             # grace (10 s) of its send
LEDGER_OPS = ["PutObject", "GetObject", "ListObjectsV2"]             # the ledger's create/write, read, listing
DEAD_KINDS = ("oss", "queue", "topic", "timer", "hourly")          # --unreachable: the kinds, in turn
WAITING = frozenset({"NOT_RUN", "WAIT_TIME", "WAIT_TRIGGER"})       # an instance that has not run
UNCONFIRMED = "could not tell whether it still waits"              # an `overdue` said without DataWorks' word
SWEEPS = 20                  # sweep runs at most, until one has nothing left to do


def cycle_ms(day: date, hour: int, minute: int = 0) -> int:
    """The CycTime of the instance of business date `day` scheduled at hour:minute (Shanghai) on the next day."""
    return int(datetime.combine(day + timedelta(days=1), datetime.min.time(), ZONE)
               .replace(hour=hour, minute=minute).timestamp() * 1000)


# ---- the generated world, rules and events ----

def world(sweep: bool = False, ledger: bool = False,
          endpoints: Optional[Dict[str, str]] = None) -> Tuple[dict, str, Dict[str, List[int]]]:
    """The emulator seed, the rules file and the node of each rule, per kind. Odd nodes live in a workspace on the
    new Data Studio (API 2024-05-18), even ones on the legacy DataStudio (2020-05-18). `sweep`: the daily OSS
    rules have `expect:`; `ledger`: every rule has one; `endpoints`: every rule names its DataWorks endpoint (by
    rule name)."""
    nodes = {kind: [800_000_000 + 1000 * k + i for i in range(n)] for k, (kind, n) in enumerate(KINDS.items())}
    seed_nodes = [{"id": node, "deployed": "2026-01-01", **({"hourly": True} if kind == "hourly" else {"at": "00:30"})}
                  for kind, ids in nodes.items() for node in ids]
    seed = {"now": "2026-03-12T09:00:00+08:00", "keys": [KEY], "workspaces": [
        {"id": 20000 + parity, "timezone": "Asia/Shanghai", "api": API[parity],
         "nodes": [n for n in seed_nodes if n["id"] % 2 == parity]} for parity in (0, 1)]}
    bizdate = 'bizdate: {{field: bizdate, format: "%Y%m%d"}}'
    expect = f', expect: {{{{by: "06:00", days: {SWEPT}}}}}' if sweep else ""
    match = {"oss": 'on: oss, bucket: landing, key: "exports/t{i}/dt={{bizdate:%Y-%m-%d}}/_SUCCESS"' + expect,
             "hourly": 'on: oss, bucket: landing, key: "logs/h{i}/{{cycle:%Y%m%d%H}}/*.done"',
             "topic": 'on: mns, topic: done, message: {{job: ["job-{i}"]}}, ' + bizdate,
             "queue": 'on: mns, queue: etl-q, message: {{source: ["src-{i}"]}}, ' + bizdate,
             "timer": "on: timer, timer: timer-{i}"}
    book = ", ledger: oss://ledger/dwtrigger/" if ledger else ""
    rules = ["version: 1", f"defaults: {{timezone: Asia/Shanghai, region: cn-shanghai{book}}}", "rules:"]
    where = (lambda name: f'endpoint: "{endpoints[name]}", ') if endpoints else (lambda name: "")
    rules += [f"  - {{name: {kind}-{i}, {match[kind].format(i=i)}, api: \"{API[node % 2]}\", {where(f'{kind}-{i}')}"
              f"trigger: [{{workspace: {20000 + node % 2}, node: {node}}}]}}"
              for kind, ids in nodes.items() for i, node in enumerate(ids)]
    return seed, "\n".join(rules) + "\n", nodes


@dataclass
class Event:
    source: str
    raw: bytes
    targets: List[Target]               # the instances it names; none for an event no rule takes
    key: Optional[str] = None           # the object an OSS event reports: it lands before the notification
    sweepable: bool = False             # a daily OSS event within the sweep's window: its notification may be lost


class Generator:
    """The samples in events/ with names, dates and ids changed: 10% name no rule, 10% are redeliveries, 2% name
    the EARLY business date."""

    def __init__(self, nodes: Dict[str, List[int]], rng: random.Random, days: List[date] = DAYS):
        self.nodes, self.rng, self.days = nodes, rng, days
        self.samples = {name: json.loads((EVENTS / name).read_text()) for name in (
            "oss/native-put-orders.json", "oss/eventbridge-single.json", "mns/topic-json-finance.json",
            "mns/queue-eventbridge-list.json", "timer/nightly.json")}

    def events(self, count: int) -> List[Event]:
        made: List[Event] = []
        makers = [self.oss, lambda: self.oss(cloudevent=True), self.hourly, self.topic, self.queue, self.timer]
        for _ in range(count):
            roll = self.rng.random()
            if roll < 0.1 and made:
                made.append(self.rng.choice(made))               # at-least-once delivery: the same bytes again
            elif roll < 0.2:
                made.append(self.decoy())
            elif roll < 0.22:
                made.append(self.oss(day=EARLY))
            else:
                made.append(self.rng.choice(makers)())
        return made

    def _id(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128)).hex.upper()

    def _pick(self, kind: str) -> Tuple[int, int, date]:
        i = self.rng.randrange(len(self.nodes[kind]))
        return i, self.nodes[kind][i], self.rng.choice(self.days if kind == "oss" else DAYS)

    def _oss(self, key: str, cloudevent: bool = False) -> bytes:
        doc = copy.deepcopy(self.samples["oss/eventbridge-single.json" if cloudevent else "oss/native-put-orders.json"])
        record = doc["data"] if cloudevent else doc["events"][0]
        record["oss"]["bucket"]["name"], record["oss"]["object"]["key"] = "landing", key
        record["responseElements"]["requestId"] = doc["id"] = self._id()
        return json.dumps(doc).encode()

    def oss(self, cloudevent: bool = False, day: Optional[date] = None) -> Event:
        i, node, picked = self._pick("oss")
        day = day or picked
        key = f"exports/t{i}/dt={day:%Y-%m-%d}/_SUCCESS"
        return Event("oss", self._oss(key, cloudevent), [(node, cycle_ms(day, 0, 30))], key, day in RECENT)

    def hourly(self) -> Event:
        i, node, day = self._pick("hourly")
        hour = self.rng.randrange(24)
        key = f"logs/h{i}/{day + timedelta(days=1):%Y%m%d}{hour:02d}/part.done"
        return Event("oss", self._oss(key), [(node, cycle_ms(day, hour))], key)

    def topic(self, topic: str = "done") -> Event:
        i, node, day = self._pick("topic")
        doc = dict(self.samples["mns/topic-json-finance.json"], TopicName=topic, MessageId=self._id(),
                   Message=json.dumps({"job": f"job-{i}", "bizdate": f"{day:%Y%m%d}"}))
        return Event("mns", json.dumps(doc).encode(), [(node, cycle_ms(day, 0, 30))] if topic == "done" else [])

    def queue(self) -> Event:
        """An EventBridge batch of 1 to 5 queue messages: one invocation, one decision each."""
        template, batch, targets = self.samples["mns/queue-eventbridge-list.json"][0], [], []
        for _ in range(self.rng.randint(1, 5)):
            i, node, day = self._pick("queue")
            message = copy.deepcopy(template)
            message["subject"] = message["subject"].replace("etl-events", "etl-q")
            message["id"] = message["data"]["messageId"] = self._id()
            message["data"]["messageBody"] = json.dumps({"source": f"src-{i}", "bizdate": f"{day:%Y%m%d}"})
            batch.append(message)
            targets.append((node, cycle_ms(day, 0, 30)))
        return Event("mns", json.dumps(batch).encode(), targets)

    def timer(self, name: Optional[str] = None) -> Event:
        i, node, day = self._pick("timer")
        doc = dict(self.samples["timer/nightly.json"], triggerName=name or f"timer-{i}",
                   triggerTime=f"{day + timedelta(days=1):%Y-%m-%d}T01:00:00Z")     # 09:00 Shanghai, the next day
        return Event("timer", json.dumps(doc).encode(), [] if name else [(node, cycle_ms(day, 0, 30))])

    def decoy(self) -> Event:
        """An event no rule takes: another key, topic or timer."""
        kind = self.rng.randrange(3)
        if kind == 0:
            return Event("oss", self._oss(f"tmp/{self._id()}/_SUCCESS"), [])
        return self.topic("other") if kind == 1 else self.timer("not-a-rule")


def oss_filtering(rules: RuleSet, load: List[Event]) -> dict:
    """Invocations the landing bucket's objects cause with no key filter and with the derived filters, and how many
    of them match no rule (see the module's docstring)."""
    received, objects = datetime(2026, 3, 12, tzinfo=timezone.utc), {}
    for n, event in enumerate(e for e in load if e.source == "oss"):
        [landed] = parse("oss", event.raw, received)
        folder, name = landed.key.rsplit("/", 1)
        parts = DATA_PARTS if name == "_SUCCESS" else HOURLY_PARTS if name.endswith(".done") else 0
        for key in [f"{folder}/part-{j:05d}.csv" for j in range(parts)] + [landed.key, f"raw/crm/{n:08d}.json"]:
            objects.setdefault(key, replace(landed, key=key))
    index, filters = Index(rules.rules), derive(rules, "landing")
    unmatched = {key for key, event in objects.items() if not index.takers(event)}
    passed = {key for key in objects if any(f.lets_through(key, key) for f in filters)}
    return {"OSS objects landed (data files included)": len(objects),
            "OSS invocations, no key filter / derived filters": f"{len(objects)} / {len(passed)}",
            "of which match no rule": f"{len(unmatched)} / {len(unmatched & passed)}",
            "derived OSS triggers on the bucket": len(filters)}


# ---- the new faults: stalled triggers, a dead endpoint ----

class Stalls:
    """The emulator's fault config with one more layer, on the trigger actions only: of the trigger calls no other
    fault hit, a share `drip` is answered one byte every STALL_MS (DataWorks acts at once: faults.py's "drip"), a
    share `late` waits `late_ms` before DataWorks acts ("latency"). The gateway reads its config through this
    object; everything but these two is the emulator's own."""

    def __init__(self, base, drip: float, late: float, late_ms: int, seed: int):
        self.base, self.drip, self.late, self.late_ms = base, drip, late, late_ms
        self.rng = random.Random(seed * 7919 + 1)
        self.injected: Counter = Counter()

    def decide(self, action: Optional[str]) -> Optional[str]:
        fault = self.base.decide(action)                 # throttling, 500s, hostile answers, as without stalls
        if fault is None and action in TRIGGERS:
            draw = self.rng.random()
            fault = "drip" if draw < self.drip else "latency" if draw < self.drip + self.late else None
            if fault:
                self.injected[fault] += 1
        return fault

    @property
    def drip_ms(self) -> int:
        return self.base.drip_ms or STALL_MS

    @property
    def latency_ms(self) -> int:
        return self.late_ms

    def __getattr__(self, name):
        return getattr(self.base, name)


class BlackHole:
    """A DataWorks endpoint that is down: a socket on loopback that accepts every connection and never answers."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.sock.settimeout(0.1)
        self.held: List[socket.socket] = []
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="black-hole", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:                              # the pause between connections, or closed
                continue
            self.held.append(conn)

    def __enter__(self) -> "BlackHole":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing.set()
        self.thread.join()
        for conn in self.held:
            conn.close()
        self.sock.close()


def unreachable_rules(nodes: Dict[str, List[int]], load: List[Event], count: int) -> Dict[str, int]:
    """`count` rules behind the dead endpoint, name -> node: of each kind in DEAD_KINDS in turn, the rule the load
    names least but at least once (so the outage's dead letters, replayed one by one, stay few)."""
    named = Counter(node for e in load for node, _ in e.targets)
    picked: Dict[str, int] = {}
    for j in range(count):
        kind = DEAD_KINDS[j % len(DEAD_KINDS)]
        ranked = sorted((named[node], i, node) for i, node in enumerate(nodes[kind]) if named[node])
        taken = [(i, node) for _, i, node in ranked if f"{kind}-{i}" not in picked]
        if taken:
            picked[f"{kind}-{taken[0][0]}"] = taken[0][1]
    return picked


def has_run(emu: Emulator) -> set:
    """The instances that ran (released, or past waiting), as targets."""
    return {(i["NodeId"], i["CycTime"]) for i in emu.instances() if i["Released"] or i["Status"] not in WAITING}


def evidence_key(rule: str, biz_date: str) -> Optional[str]:
    """The file that is a daily OSS rule's evidence for a business date (YYYY-MM-DD); None for other rules."""
    kind, _, i = rule.rpartition("-")
    return f"exports/t{i}/dt={biz_date}/_SUCCESS" if kind == "oss" else None


# The traceback of every exception the relay turned into an `InternalError` decision (it logs only its type): for
# the diagnosis, since nothing may escape the runtime. (OSS's own 500 is also the error code `InternalError`, with
# a reason starting "OSS:": only these tracebacks count as exceptions inside the relay.)
TRACEBACKS: List[str] = []
_internal = relay_module._internal


def _traced_internal(decision, error):
    TRACEBACKS.append(traceback.format_exc())
    return _internal(decision, error)


relay_module._internal = _traced_internal


# ---- FC, as the load sees it ----

@dataclass
class Tally:
    """What every invocation reported, shared by the workers."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    invocations: int = 0
    raises: int = 0
    triggered: int = 0                             # `triggered` decisions, in every invocation
    retries: int = 0                               # in-invocation retries (attempts beyond the first)
    swept: int = 0                                 # `triggered` decisions of the sweep
    overdue: int = 0                               # its `overdue` lines: no file yet for a date it re-checks
    sweeps: int = 0
    sweep_lookups: int = 0
    endpoints_down: int = 0                        # the sweep's summaries: endpoints not asked again in a run
    unlogged: int = 0                              # decisions without their log line
    overtime: int = 0                              # invocations that outlived the function's timeout
    leaks: int = 0                                 # log lines holding a secret
    failures: Counter = field(default_factory=Counter)             # error codes of `failed` decisions
    final: Dict[int, List[dict]] = field(default_factory=dict)    # event index -> decisions of its last invocation
    history: Dict[int, List[List[dict]]] = field(default_factory=dict)   # event index -> every invocation's
    by_hand: List[dict] = field(default_factory=list)                    # decisions of the releases by hand
    swept_records: List[Tuple[int, dict]] = field(default_factory=list)  # (sweep run, decision) of every sweep run

    def record(self, index: Optional[int], records: List[dict], raised: bool, lines: List[str],
               overtime: bool) -> None:
        with self.lock:
            self.invocations += 1
            self.overtime += overtime
            self.raises += raised
            self.triggered += sum(r["outcome"] == TRIGGERED for r in records)
            self.failures.update(r["error_code"] for r in records if r["outcome"] == FAILED)
            self.retries += sum(max(0, r["attempts"] - 1) for r in records)
            self.unlogged += abs(len(records) - len(lines))
            self.leaks += sum(any(s in line for s in SECRETS) for line in lines)
            if index is not None:
                self.final[index] = records
                self.history.setdefault(index, []).append(records)
            else:
                self.by_hand += records


class FcInstance:
    """One FC instance: a Runtime with its own log stream. `direct`: the rules name their endpoints (no
    DWTRIGGER_ENDPOINT); `clock`: the instance's wall clock (the emulator's, by default)."""

    def __init__(self, rules, emu: Emulator, timeout: float, oss: Optional[OssStandIn] = None,
                 clock=None, direct: bool = False, environ: Optional[Dict[str, str]] = None):
        self.stream, self.timeout = io.StringIO(), timeout
        env = {**({} if direct else {"DWTRIGGER_ENDPOINT": emu.endpoint}), "DWTRIGGER_PROTOCOL": "http",
               "DWTRIGGER_SWEEP_QPS": "40",
               **({"DWTRIGGER_OSS_ENDPOINT": oss.endpoint} if oss else {}),
               "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY["access_key_id"],
               "ALIBABA_CLOUD_ACCESS_KEY_SECRET": KEY["access_key_secret"],
               "ALIBABA_CLOUD_SECURITY_TOKEN": KEY["security_token"], **(environ or {})}
        log = DecisionLog(service=f"dwtrigger-bench-{uuid.uuid4().hex[:8]}", stream=self.stream)
        self.runtime = app.Runtime(rules, environ=env, log=log, dry_run=False, wall_clock=clock or emu.clock.now)

    def invoke(self, tally: Tally, index: Optional[int], source: str, raw: bytes) -> bool:
        """Run one event as FC would; True when the invocation raised."""
        started = time.monotonic()
        records = [d.record() for d in self.runtime.run(source, raw, fc.context_for(source, self.timeout))]
        raised = any(r["outcome"] == FAILED for r in records)         # the handler raises: FC retries
        tally.record(index, records, raised, self._lines(), time.monotonic() - started > self.timeout)
        return raised

    def by_hand(self, tally: Tally, rule: str, day: date) -> List[dict]:
        """`dwtrigger trigger RULE --bizdate DAY`, as an operator runs it."""
        started = time.monotonic()
        records = [d.record() for d in self.runtime.release_by_hand(rule, {"bizdate": day}, None,
                                                                    fc.context_for("cli", self.timeout))]
        tally.record(None, records, False, self._lines(), time.monotonic() - started > self.timeout)
        return records

    def sweep(self, tally: Tally):
        """One run of the sweep function: its summary and decision records."""
        started = time.monotonic()
        decisions, summary = self.runtime.sweep(fc.context_for("sweep", self.timeout))
        records, lines = [d.record() for d in decisions], self._lines()[:-1]     # the last line: its summary
        with tally.lock:
            tally.sweeps += 1
            tally.swept += sum(r["outcome"] == TRIGGERED for r in records)
            tally.overdue += sum(r["outcome"] == OVERDUE for r in records)
            tally.sweep_lookups += summary.lookups
            tally.endpoints_down += summary.endpoints_down
            tally.failures.update(r["error_code"] for r in records if r["outcome"] == FAILED)
            tally.unlogged += abs(len(records) - len(lines))
            tally.leaks += sum(any(s in line for s in SECRETS) for line in lines)
            tally.overtime += time.monotonic() - started > self.timeout
            tally.swept_records += [(tally.sweeps, r) for r in records]
        return summary, records

    def _lines(self) -> List[str]:
        lines = [line for line in self.stream.getvalue().split("\n") if line.strip()]
        self.stream.seek(0)
        self.stream.truncate()
        return lines


@dataclass
class SweepCheck:
    """What the sweep said, against the emulator's instances and the landing bucket."""
    false_overdue: List[dict] = field(default_factory=list)        # ran when said, or evidence in the bucket
    unconfirmed_ran: List[dict] = field(default_factory=list)      # said without DataWorks' word; it had run
    said: set = field(default_factory=set)                         # (rule, business date) said overdue
    missed: List[Tuple[str, str]] = field(default_factory=list)    # reachable, no evidence, not run, never said
    by_hand: List[Target] = field(default_factory=list)            # released by hand before the sweep

    def judge(self, records: List[dict], ran: set, landed: set) -> None:
        """One sweep run's `overdue` lines, against the instances that had run by the end of that run."""
        for r in records:
            if r["outcome"] != OVERDUE:
                continue
            self.said.add((r["rule"], r["biz_date"]))
            evidence = evidence_key(r["rule"], r["biz_date"]) in landed
            if evidence or ((r["node"], r["cycle_time_ms"]) in ran and UNCONFIRMED not in (r["reason"] or "")):
                self.false_overdue.append(r)
            elif (r["node"], r["cycle_time_ms"]) in ran:
                self.unconfirmed_ran.append(r)


def release_by_hand(fc_instance: FcInstance, tally: Tally, nodes: Dict[str, List[int]], dead: Dict[str, int],
                    landed: set, now: datetime, count: int, rng: random.Random) -> List[Target]:
    """`count` instances of reachable daily OSS rules in the sweep's window, whose file never landed, released by
    hand (retried as an operator would, up to 5 times): the sweep must see them run and not say `overdue`."""
    today = now.astimezone(ZONE).date()
    options = [(f"oss-{i}", node, today - timedelta(days=back)) for i, node in enumerate(nodes["oss"])
               if f"oss-{i}" not in dead for back in range(1, SWEPT + 1)]
    options = [o for o in options if evidence_key(o[0], f"{o[2]:%Y-%m-%d}") not in landed]
    released = []
    for rule, node, day in rng.sample(options, min(count, len(options))):
        for _ in range(5):
            records = fc_instance.by_hand(tally, rule, day)
            if records and all(r["outcome"] in (TRIGGERED, "already_triggered") for r in records):
                released.append((node, cycle_ms(day, 0, 30)))
                break
    return released


def run(events: int = 5000, workers: int = 8, quota: Tuple[int, int] = (50, 20), error_rate: float = 0.02,
        timeout: float = 10,
        seed: int = 7, hostile: bool = True, drop: float = 0.0, ledger: bool = False, stall: float = 0.0,
        stall_late: float = 0.0, ledger_faults: float = 0.0, unreachable: int = 0, by_hand: int = 0,
        sweep_timeout: float = 60) -> dict:
    """The load run; returns its figures. `sweep_timeout`: the sweep function's timeout (s.yaml has 300 s): each
    sweep candidate may spend a quarter of what is left, so an endpoint that never answers costs its first two
    candidates that much each."""
    if ledger_faults and not ledger:
        raise ValueError("--ledger-faults needs --ledger: they are the ledger's OSS requests")
    if by_hand and not drop:
        raise ValueError("--by-hand needs --drop: it is for the sweep")
    TRACEBACKS.clear()
    seed_doc, rules_text, nodes = world(sweep=drop > 0, ledger=ledger)
    rng = random.Random(seed)
    load = Generator(nodes, rng, RECENT if drop else DAYS).events(events)
    dropped = {i for i, e in enumerate(load) if e.sweepable and rng.random() < drop}
    dead = unreachable_rules(nodes, load, unreachable)
    tally, dead_letters, check = Tally(), [], SweepCheck()
    work: "queue.Queue[Optional[Tuple[int, int]]]" = queue.Queue()
    oss_seed = {"keys": [KEY], "buckets": [{"name": name} for name in BUCKETS]}
    with Emulator(seed_doc) as emu, OssStandIn(oss_seed) as oss, BlackHole() as hole:
        if dead:                       # every rule names its endpoint: the emulator, or the dead one
            rules_text = world(sweep=drop > 0, ledger=ledger, endpoints={
                f"{kind}-{i}": hole.endpoint if f"{kind}-{i}" in dead else emu.endpoint
                for kind, ids in nodes.items() for i in range(len(ids))})[1]
        rules = parse_rules(rules_text)
        emu.set_faults(read_qps=quota[0], write_qps=quota[1], error_rate=error_rate, random_seed=seed,
                       **(HOSTILE if hostile else {}))
        stalls = None
        if stall or stall_late:
            late_s = timeout - min(3.0, max(0.5, timeout * 0.1)) + LATE_S
            stalls = Stalls(emu.gateway.faults, stall, stall_late, int(late_s * 1000), seed)
            emu.gateway.faults = stalls                  # the gateway's fault config, layered
        if ledger_faults:
            oss.set_faults(error_rate=ledger_faults / 2, drop_rate=ledger_faults / 2, actions=LEDGER_OPS,
                           random_seed=seed)
        started = time.monotonic()

        def clock() -> datetime:       # FC's clock: from the emulator's time, in real time
            return emu.clock.now() + timedelta(seconds=time.monotonic() - started)

        def instance(seconds: float) -> FcInstance:
            return FcInstance(rules, emu, seconds, oss, clock, direct=bool(dead),
                              environ={"DWTRIGGER_DATAWORKS_QPS": f"{quota[0]}/{quota[1]}"})

        def serve() -> None:
            fc_instance = instance(timeout)
            while (item := work.get()) is not None:
                index, tries = item
                if index in dropped:                               # the file landed; its notification never came
                    work.task_done()
                    continue
                try:
                    if fc_instance.invoke(tally, index, load[index].source, load[index].raw):
                        if tries < FC_RETRIES:
                            work.put((index, tries + 1))          # FC's asynchronous retry
                        else:
                            dead_letters.append(index)             # to the failure destination
                except Exception as e:  # noqa: BLE001 - anything escaping the runtime is a bug: the event is lost
                    print(f"event {index} escaped the runtime: {e!r}", file=sys.stderr)
                work.task_done()

        threads = [threading.Thread(target=serve, daemon=True) for _ in range(workers)]
        for t in threads:
            t.start()
        for index, event in enumerate(load):
            if event.key:
                oss.put("landing", event.key)
            work.put((index, 0))
        work.join()
        for _ in threads:
            work.put(None)
        sweep_now, phases = None, [time.monotonic()]
        if drop:                                                   # the sweep's timer: runs until it covered all
            landed = set(oss.objects("landing"))
            sweeper, sweep_now = instance(sweep_timeout), clock()
            if by_hand:
                check.by_hand = release_by_hand(instance(60), tally, nodes, dead, landed, sweep_now, by_hand, rng)
            for _ in range(SWEEPS):
                summary, records = sweeper.sweep(tally)
                check.judge(records, has_run(emu), landed)
                # Another run while this one stopped at its deadline or failed for a rule DataWorks can be asked
                # for (the unreachable rules fail in every run: the outage is the operator's, not the sweep's).
                if not (summary.stopped_at_deadline or any(r["outcome"] == FAILED and r["rule"] not in dead
                                                           for r in records)):
                    break
            # Every reachable daily OSS rule's dates in the window with no file, not run: each said overdue.
            ran, today = has_run(emu), sweep_now.astimezone(ZONE).date()
            window = [today - timedelta(days=back) for back in range(1, SWEPT + 1)]
            check.missed = [(f"oss-{i}", f"{day:%Y-%m-%d}") for i, node in enumerate(nodes["oss"])
                            if f"oss-{i}" not in dead for day in window
                            if evidence_key(f"oss-{i}", f"{day:%Y-%m-%d}") not in landed
                            and (node, cycle_ms(day, 0, 30)) not in ran
                            and (f"oss-{i}", f"{day:%Y-%m-%d}") not in check.said]
        phases.append(time.monotonic())
        # The failure destination's records, replayed two days later as `dwtrigger replay` reads them; what fails
        # again (a hostile answer to the replay) is replayed from its `--failed-out` file, up to REPLAYS times.
        emu.clock.advance(2 * 24 * 3600)
        replayer, pending = instance(timeout), list(dead_letters)
        for _ in range(REPLAYS):
            failed = []
            for index in pending:
                record = {"requestContext": {"requestId": str(uuid.uuid4()), "condition": "UnhandledInvocationError",
                                             "approximateInvokeCount": FC_RETRIES + 1},
                          "requestPayload": load[index].raw.decode()}
                for item in read("dead-letter", json.dumps(record).encode()):
                    if replayer.invoke(tally, index, item.function, item.raw):
                        failed.append(index)
            pending = failed
        wall = time.monotonic() - started
        phases = [phases[0] - started, phases[1] - phases[0], time.monotonic() - phases[1]]
        result = {**figures(load, tally, len(dead_letters), emu, wall, len(dropped), events=events, workers=workers,
                            quota=f"{quota[0]}/{quota[1]}", error_rate=error_rate, timeout=timeout, hostile=hostile, drop=drop, ledger=ledger,
                            stall=stall, stall_late=stall_late, ledger_faults=ledger_faults, unreachable=unreachable,
                            by_hand=by_hand, dead=dead, check=check, stalls=stalls, oss=oss, hole=hole,
                            phases=phases),
                  **oss_filtering(rules, load)}
        if any(result[name] for name in failing(result)):
            diagnose(load, tally, emu, oss, dead, check, ledger)
        return result


def figures(load: List[Event], tally: Tally, replays: int, emu: Emulator, wall: float, dropped: int, *,
            dead: Dict[str, int], check: SweepCheck, stalls: Optional[Stalls], oss: OssStandIn, hole: BlackHole,
            phases: List[float], **settings) -> dict:
    triggers = {(i["NodeId"], i["CycTime"]): i["Triggers"] for i in emu.instances() if i["Triggers"]}
    days = {(i["NodeId"], i["Bizdate"]) for i in emu.instances() if i["Triggers"]}
    dead_nodes = set(dead.values())
    named = {t for e in load for t in e.targets} | set(check.by_hand)
    expected = {t for t in named if t[0] not in dead_nodes}
    final = Counter(r["outcome"] for records in tally.final.values() for r in records)
    failed = {i: [r for r in records if r["outcome"] == FAILED] for i, records in tally.final.items()}
    # An event still failing only for the unreachable rules is not releasable: dead-lettered, not lost; one failing
    # for any other reason (or a decision without a rule: a batch's unread records) is lost.
    unfinished = sum(any(r["node"] not in dead_nodes for r in f) for f in failed.values())
    dead_lettered = sum(bool(f) and all(r["node"] in dead_nodes for r in f) for f in failed.values())
    calls = emu.calls
    accepted = [c for c in calls if c["action"] in TRIGGERS and c["status"] == 200 and c["code"] is None
                and c["fault"] in (None, "latency", "drip")]           # a malformed 200 ran nothing
    # A trigger DataWorks acted on while its answer was dripped (or its request held) past the deadline: its
    # decision failed ("it may have landed") and FC's retry found it already_triggered — or its answer came just in
    # time, or the same decision's next look-up saw the instance released: then it is that decision's `triggered`.
    unanswered = sum(c["fault"] in ("drip", "latency") for c in accepted)
    said, answered, stalled = _trigger_accounts(tally, calls)
    mismatch = sum(max(0, answered[t] - said[t]) + max(0, said[t] - answered[t] - stalled[t])
                   for t in set(said) | set(answered))
    repeats = sum(c["code"] in REPEATS for c in calls)
    ledger_calls = [c for c in oss.calls if c["bucket"] == "ledger"]
    overdue_dead = sum(r["outcome"] == OVERDUE and r["rule"] in dead for _, r in tally.swept_records)
    swept_down = Counter("unreachable rules" if r["rule"] in dead else "other rules" for _, r in tally.swept_records
                         if r["outcome"] == FAILED and r["error_code"] == "EndpointDown")
    return {
        **settings,
        "unreachable rules": ", ".join(dead) or "-",
        "decisions (final)": dict(sorted(final.items())),
        "invocations": tally.invocations,
        "in-invocation retries": tally.retries,
        "raises": tally.raises,
        "failed decisions (all invocations)": dict(tally.failures.most_common()),
        "replays": replays,
        "events dropped (file landed, no notification)": dropped,
        "sweep runs": tally.sweeps,
        "sweep look-ups": tally.sweep_lookups,
        "released by the sweep": tally.swept,
        "overdue lines": tally.overdue,
        "DataWorks requests": len(calls),
        "DataWorks requests per final decision": round(len(calls) / max(1, sum(final.values())), 3),
        # Beside it: the naive relay (bench/naive.py) makes a look-up and a trigger for each matched decision, and
        # the floor is a trigger per instance released and a look-up per node and business date released.
        "naive relay's requests per final decision": round(2 * (sum(final.values()) - final[IGNORED])
                                                           / max(1, sum(final.values())), 3),
        "the floor per final decision": round((len(triggers) + len(days)) / max(1, sum(final.values())), 3),
        "DataWorks requests by action": dict(Counter(c["action"] for c in calls).most_common()),
        "injected 500s": sum(c["fault"] == "error" for c in calls),
        "throttled (429)": sum(c["fault"] == "throttle" for c in calls),
        "hostile answers": dict(Counter(c["fault"] for c in calls if c["fault"] in ("redirect", "drip", "malformed"))),
        "stalled sends injected: answer dripped": stalls.injected["drip"] if stalls else 0,
        "stalled sends injected: acted on late": stalls.injected["latency"] if stalls else 0,
        "ledger OSS requests": len(ledger_calls),
        "ledger OSS errors injected (500 or dropped)": sum(c["fault"] in ("error", "drop") for c in ledger_calls),
        "unreachable: connections never answered": len(hole.held),
        "unreachable: events dead-lettered (not releasable)": dead_lettered,
        "sweep: endpoints given up in a run": tally.endpoints_down,
        "sweep: EndpointDown decisions, unreachable rules": swept_down["unreachable rules"],
        "sweep: EndpointDown decisions, other rules": swept_down["other rules"],
        "sweep: overdue for the unreachable rules (unconfirmed)": overdue_dead,
        "released by hand (no file)": len(check.by_hand),
        "overdue for an instance that ran, unconfirmed": len(check.unconfirmed_ran),
        "triggers after the release (refused / no effect)": repeats,
        "instances released": len(triggers),
        "released, answer stalled (drip or late)": unanswered,
        "lost": len(expected - set(triggers)) + unfinished + len(load) - dropped - len(tally.final),
        "released without an event": len(set(triggers) - named),
        "duplicate releases": sum(n - 1 for n in triggers.values()),
        "duplicate releases (triggers after the release included)": sum(n - 1 for n in triggers.values()) + repeats,
        "false overdue": len(check.false_overdue),
        "overdue missed (reachable rules)": len(check.missed),
        "triggered decisions != accepted triggers": mismatch,
        "internal errors (an exception inside the relay)": len(TRACEBACKS),
        "decisions without a log line": tally.unlogged,
        "log lines with a secret": tally.leaks,
        "invocations past their timeout": tally.overtime,
        "wall time (s)": round(wall, 1),
        "of which load / sweep / replays (s)": " / ".join(f"{p:.1f}" for p in phases),
        "events/s": round(len(load) / wall, 1),
    }


FAILING = ("lost", "released without an event", "duplicate releases", "triggered decisions != accepted triggers",
           "decisions without a log line", "log lines with a secret", "invocations past their timeout",
           "false overdue", "overdue missed (reachable rules)", "internal errors (an exception inside the relay)")
# With a ledger every send is claimed first: a trigger after the release is a send the claim should have stopped.
# Without one, two deliveries at once can both send (the module's docstring): reported, not failing.
LEDGER_FAILING = ("duplicate releases (triggers after the release included)",)


def failing(result: dict) -> Tuple[str, ...]:
    """The figures that must be 0 in this run."""
    return FAILING + (LEDGER_FAILING if result.get("ledger") else ())


def diagnose(load: List[Event], tally: Tally, emu: Emulator, oss: OssStandIn, dead: Dict[str, int],
             check: SweepCheck, ledger: bool, most: int = 5) -> None:
    """On stderr, what a failing figure needs to be understood. For a few instances never released, released
    twice or after their release, or whose `triggered` decisions do not match DataWorks' answers: every decision
    naming them (every invocation's whole batch for the events that name them: a record of a batch fails with the
    others), the emulator's trigger calls for them and their ledger claims. Then the false or missed overdue lines
    and the exceptions inside the relay, with their tracebacks."""
    out, calls, dead_nodes = sys.stderr, emu.calls, set(dead.values())
    instances = {(i["NodeId"], i["CycTime"]): i for i in emu.instances()}
    every = [(f"event {i} invocation {n + 1}", i, r) for i, runs in tally.history.items()
             for n, records in enumerate(runs) for r in records]
    every += [(f"sweep run {n}", None, r) for n, r in tally.swept_records] + [("by hand", None, r)
                                                                               for r in tally.by_hand]
    said, answered, stalled = _trigger_accounts(tally, calls)
    groups = {
        "never released": [t for e in load for t in e.targets
                           if t[0] not in dead_nodes and not instances.get(t, {}).get("Released")],
        "events still failing": [t for i, records in tally.final.items()
                                 if any(r["outcome"] == FAILED and r["node"] not in dead_nodes for r in records)
                                 for t in load[i].targets if t[0] not in dead_nodes],
        "released twice": [t for t, i in instances.items() if i["Triggers"] > 1],
        "triggered after the release": [_target(c) for c in calls if c["code"] in REPEATS],
        "triggered decisions != answered triggers": [
            t for t in set(said) | set(answered) if not answered[t] <= said[t] <= answered[t] + stalled[t]],
    }
    print("--- diagnosis: " + ", ".join(f"{len(set(ts))} {name}" for name, ts in groups.items())
          + f", {len(check.false_overdue)} false overdue, {len(check.missed)} overdue missed", file=out)
    for name, ts in groups.items():
        for target in list(dict.fromkeys(ts))[:most]:
            node, cyc = target
            inst = instances.get(target, {})
            print(f"{name}: node {node} cycle {cyc}: {inst.get('Status')}, {inst.get('Triggers')} accepted "
                  f"triggers; {said[target]} triggered decisions, {answered[target]} answered triggers, "
                  f"{stalled[target]} stalled", file=out)
            events = {i for i, e in enumerate(load) if target in e.targets}
            for where, index, r in every:
                if (r["node"], r["cycle_time_ms"]) == target or (index in events and r["node"] in (None, node)) or (
                        index in events and r["outcome"] == FAILED):
                    print(f"  {where}: node {r['node']} {r['outcome']} {r['error_code'] or ''} attempts "
                          f"{r['attempts']}, {r['duration_ms']} ms: {(r['reason'] or '')[:240]}", file=out)
            for c in calls:
                if c["action"] in TRIGGERS and _target(c) == target:
                    print(f"  call {c['action']} arrived {c['monotonic']:.3f}: {c['status']} {c['code'] or ''} "
                          f"fault {c['fault']}", file=out)
            if ledger:
                for key in oss.objects("ledger"):
                    if f"/{node}/" in key and str(cyc) in key:
                        print(f"  ledger {key}: {oss.body('ledger', key).decode(errors='replace')}", file=out)
    for r in check.false_overdue[:most]:
        print(f"false overdue: {r['rule']} {r['biz_date']} node {r['node']}: {r['reason']}", file=out)
    for rule, day in check.missed[:most]:
        print(f"overdue missed: {rule} {day}", file=out)
    for where, _, r in every:
        if r["error_code"] == "InternalError":
            print(f"internal error, {where}: {json.dumps(r)}", file=out)
    for text in TRACEBACKS[:most]:
        print(f"traceback of an InternalError decision:\n{text}", file=out)


def _trigger_accounts(tally: Tally, calls: List[dict]) -> Tuple[Counter, Counter, Counter]:
    """Per instance: the `triggered` decisions (events, replays, sweep, by hand), the triggers DataWorks answered
    with success (accepted, or on 2024-05-18 ignored as coming after the release), and those it acted on while
    their answer stalled. Each answered trigger is one `triggered` decision; a stalled one at most one."""
    records = [r for runs in tally.history.values() for records in runs for r in records]
    records += [r for _, r in tally.swept_records] + tally.by_hand
    said = Counter((r["node"], r["cycle_time_ms"]) for r in records if r["outcome"] == TRIGGERED)
    success = [c for c in calls if c["action"] in TRIGGERS and c["status"] == 200
               and c["code"] in (None, "Emulator.Instance.NoEffect") and c["fault"] in (None, "latency", "drip")]
    answered = Counter(_target(c) for c in success if c["fault"] is None)
    stalled = Counter(_target(c) for c in success if c["fault"] is not None)
    return said, answered, stalled


def _node(call: dict) -> Optional[int]:
    raw = call["params"].get("NodeId") or call["params"].get("TaskId")
    return int(raw) if raw and raw.isdigit() else None


def _target(call: dict) -> Target:
    """The instance a trigger call names."""
    cycle = call["params"].get("CycleTime") or call["params"].get("TriggerTime") or "0"
    return _node(call), int(cycle) if cycle.isdigit() else cycle


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=None, help="5000; 10,000 with --burst")
    parser.add_argument("--workers", type=int, default=8, help="FC instances running at once")
    parser.add_argument("--error-rate", type=float, default=0.02, help="share of requests answered 500")
    parser.add_argument("--timeout", type=float, default=10, help="function.timeout (s)")
    parser.add_argument("--no-hostile", dest="hostile", action="store_false", help="no hostile answers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drop", type=float, default=0.0, help="share of daily OSS notifications lost (the sweep)")
    parser.add_argument("--ledger", action="store_true", help="every rule claims its sends in a ledger")
    parser.add_argument("--stall", type=float, default=0.0,
                        help="share of trigger calls whose answer stalls past the deadline (DataWorks acts at once)")
    parser.add_argument("--stall-late", type=float, default=0.0,
                        help="share of trigger calls DataWorks acts on only after their caller's deadline")
    parser.add_argument("--ledger-faults", type=float, default=0.0,
                        help="share of the ledger's OSS requests answered 500 or dropped (with --ledger)")
    parser.add_argument("--unreachable", type=int, default=0,
                        help="rules whose DataWorks endpoint accepts connections and never answers")
    parser.add_argument("--by-hand", type=int, default=0,
                        help="instances with no file released by hand before the sweep (with --drop)")
    parser.add_argument("--burst", action="store_true",
                        help="instead: N completion files in one minute against the split quota (bench/burst.py)")
    parser.add_argument("--quota", default="50/20", help="the emulator's read and write limits, READ/WRITE calls a "
                                                         "second, the functions' DWTRIGGER_DATAWORKS_QPS (Enterprise)")
    args = parser.parse_args(argv)
    try:
        quota = tuple(int(q) for q in args.quota.split("/"))
    except ValueError:
        quota = ()
    if len(quota) != 2 or min(quota) < 1:
        parser.error(f"--quota {args.quota!r}: READ/WRITE, two whole numbers of calls a second")
    if args.burst:
        import burst
        return burst.main(args.events or 10_000, args.workers, quota, args.seed)
    args.events = args.events or 5000
    try:
        result = run(args.events, args.workers, quota, args.error_rate, args.timeout, args.seed, args.hostile,
                     args.drop, args.ledger, args.stall, args.stall_late, args.ledger_faults, args.unreachable,
                     args.by_hand)
    except ValueError as e:
        parser.error(str(e))
    width = max(map(len, result))
    for name, value in result.items():
        print(f"{name:<{width}}  {value}")
    return 1 if any(result[name] for name in failing(result)) else 0


if __name__ == "__main__":
    sys.exit(main())
