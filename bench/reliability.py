"""Load run: events from every source through the FC runtime, against an emulator limited to 50 QPS that fails
2% of requests with a 500 and answers some with hostile answers (redirects, answers dripped one byte at a time
past the function's deadline, bodies off their schema, listings led by other nodes' and days' instances), the way
FC would run them.

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
secret or an invocation outlives its function's timeout.
`--events 5000` is the default run; tests/test_load.py runs a small one.

It also counts what the OSS triggers' key filters save a busy landing bucket (README, "Deploy with Serverless
Devs"): around each OSS event of the load its data files land too (DATA_PARTS before a daily `_SUCCESS`,
HOURLY_PARTS before an hourly `.done`) and another team writes under its own prefix; each object invokes the
function once with no key filter, or only if one of the filters deploy/wiring.py derives from the rules (those
s.yaml must have) lets it through; the relay's own matcher says which invocations match no rule.
"""
from __future__ import annotations

import argparse
import copy
import io
import json
import queue
import random
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from zoneinfo import ZoneInfo

from dwtrigger import app
from dwtrigger.events import parse
from dwtrigger.matching import Index
from dwtrigger.ops import fc
from dwtrigger.ops.emulator import Emulator, OssStandIn
from dwtrigger.ops.inputs import read
from dwtrigger.outcomes import FAILED, TRIGGERED, DecisionLog
from dwtrigger.rules import RuleSet, parse_rules

EVENTS = Path(__file__).resolve().parents[1] / "events"
sys.path.insert(0, str(EVENTS.parent / "deploy"))
import wiring  # noqa: E402  deploy/wiring.py: the OSS trigger filters the rules need
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


def cycle_ms(day: date, hour: int, minute: int = 0) -> int:
    """The CycTime of the instance of business date `day` scheduled at hour:minute (Shanghai) on the next day."""
    return int(datetime.combine(day + timedelta(days=1), datetime.min.time(), ZONE)
               .replace(hour=hour, minute=minute).timestamp() * 1000)


# ---- the generated world, rules and events ----

def world(sweep: bool = False, ledger: bool = False) -> Tuple[dict, str, Dict[str, List[int]]]:
    """The emulator seed, the rules file and the node of each rule, per kind. Odd nodes live in a workspace on the
    new Data Studio (API 2024-05-18), even ones on the legacy DataStudio (2020-05-18). `sweep`: the daily OSS
    rules have `expect:`; `ledger`: every rule has one."""
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
    rules += [f"  - {{name: {kind}-{i}, {match[kind].format(i=i)}, api: \"{API[node % 2]}\", "
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
    index, filters = Index(rules.rules), wiring.derive(rules, "landing")
    unmatched = {key for key, event in objects.items() if not index.takers(event)}
    passed = {key for key in objects if any(f.lets_through(key, key) for f in filters)}
    return {"OSS objects landed (data files included)": len(objects),
            "OSS invocations, no key filter / derived filters": f"{len(objects)} / {len(passed)}",
            "of which match no rule": f"{len(unmatched)} / {len(unmatched & passed)}",
            "derived OSS triggers on the bucket": len(filters)}


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
    unlogged: int = 0                              # decisions without their log line
    overtime: int = 0                              # invocations that outlived the function's timeout
    leaks: int = 0                                 # log lines holding a secret
    failures: Counter = field(default_factory=Counter)             # error codes of `failed` decisions
    final: Dict[int, List[dict]] = field(default_factory=dict)    # event index -> decisions of its last invocation

    def record(self, index: int, records: List[dict], raised: bool, lines: List[str], overtime: bool) -> None:
        with self.lock:
            self.invocations += 1
            self.overtime += overtime
            self.raises += raised
            self.triggered += sum(r["outcome"] == TRIGGERED for r in records)
            self.failures.update(r["error_code"] for r in records if r["outcome"] == FAILED)
            self.retries += sum(max(0, r["attempts"] - 1) for r in records)
            self.unlogged += abs(len(records) - len(lines))
            self.leaks += sum(any(s in line for s in SECRETS) for line in lines)
            self.final[index] = records


class FcInstance:
    """One FC instance: a Runtime with its own log stream."""

    def __init__(self, rules, emu: Emulator, timeout: float, oss: Optional[OssStandIn] = None):
        self.stream, self.timeout = io.StringIO(), timeout
        env = {"DWTRIGGER_ENDPOINT": emu.endpoint, "DWTRIGGER_PROTOCOL": "http", "DWTRIGGER_SWEEP_QPS": "20",
               **({"DWTRIGGER_OSS_ENDPOINT": oss.endpoint} if oss else {}),
               "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY["access_key_id"],
               "ALIBABA_CLOUD_ACCESS_KEY_SECRET": KEY["access_key_secret"],
               "ALIBABA_CLOUD_SECURITY_TOKEN": KEY["security_token"]}
        log = DecisionLog(service=f"dwtrigger-bench-{uuid.uuid4().hex[:8]}", stream=self.stream)
        self.runtime = app.Runtime(rules, environ=env, log=log, dry_run=False, wall_clock=emu.clock.now)

    def invoke(self, tally: Tally, index: int, source: str, raw: bytes) -> bool:
        """Run one event as FC would; True when the invocation raised."""
        started = time.monotonic()
        records = [d.record() for d in self.runtime.run(source, raw, fc.context_for(source, self.timeout))]
        raised = any(r["outcome"] == FAILED for r in records)         # the handler raises: FC retries
        tally.record(index, records, raised, self._lines(), time.monotonic() - started > self.timeout)
        return raised

    def sweep(self, tally: Tally) -> bool:
        """One run of the sweep function; True when it stopped at its deadline with candidates left."""
        started = time.monotonic()
        decisions, summary = self.runtime.sweep(fc.context_for("sweep", self.timeout))
        records, lines = [d.record() for d in decisions], self._lines()[:-1]     # the last line: its summary
        with tally.lock:
            tally.sweeps += 1
            tally.swept += sum(r["outcome"] == TRIGGERED for r in records)
            tally.overdue += sum(r["outcome"] == "overdue" for r in records)
            tally.sweep_lookups += summary.lookups
            tally.failures.update(r["error_code"] for r in records if r["outcome"] == FAILED)
            tally.unlogged += abs(len(records) - len(lines))
            tally.leaks += sum(any(s in line for s in SECRETS) for line in lines)
            tally.overtime += time.monotonic() - started > self.timeout
        return summary.stopped_at_deadline or summary.failed > 0

    def _lines(self) -> List[str]:
        lines = [line for line in self.stream.getvalue().split("\n") if line.strip()]
        self.stream.seek(0)
        self.stream.truncate()
        return lines


def run(events: int = 5000, workers: int = 8, qps: int = 50, error_rate: float = 0.02, timeout: float = 10,
        seed: int = 7, hostile: bool = True, drop: float = 0.0, ledger: bool = False) -> dict:
    """The load run; returns its figures."""
    seed_doc, rules_text, nodes = world(sweep=drop > 0, ledger=ledger)
    rules, rng = parse_rules(rules_text), random.Random(seed)
    load = Generator(nodes, rng, RECENT if drop else DAYS).events(events)
    dropped = {i for i, e in enumerate(load) if e.sweepable and rng.random() < drop}
    tally, dead_letters = Tally(), []
    work: "queue.Queue[Optional[Tuple[int, int]]]" = queue.Queue()
    oss_seed = {"keys": [KEY], "buckets": [{"name": name} for name in BUCKETS]}
    with Emulator(seed_doc) as emu, OssStandIn(oss_seed) as oss:
        emu.set_faults(qps=qps, error_rate=error_rate, random_seed=seed, **(HOSTILE if hostile else {}))
        started = time.monotonic()

        def serve() -> None:
            instance = FcInstance(rules, emu, timeout, oss)
            while (item := work.get()) is not None:
                index, tries = item
                if index in dropped:                               # the file landed; its notification never came
                    work.task_done()
                    continue
                try:
                    if instance.invoke(tally, index, load[index].source, load[index].raw):
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
        if drop:                                                   # the sweep's timer: runs until it covered all
            sweeper = FcInstance(rules, emu, 60, oss)
            while sweeper.sweep(tally) and tally.sweeps < 20:
                pass
        # The failure destination's records, replayed two days later as `dwtrigger replay` reads them; what fails
        # again (a hostile answer to the replay) is replayed from its `--failed-out` file, up to REPLAYS times.
        emu.clock.advance(2 * 24 * 3600)
        replayer, pending = FcInstance(rules, emu, timeout, oss), list(dead_letters)
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
        return {**figures(load, tally, len(dead_letters), emu, wall, len(dropped), events=events, workers=workers,
                          qps=qps, error_rate=error_rate, timeout=timeout, hostile=hostile, drop=drop,
                          ledger=ledger), **oss_filtering(rules, load)}


def figures(load: List[Event], tally: Tally, replays: int, emu: Emulator, wall: float, dropped: int,
            **settings) -> dict:
    triggers = {(i["NodeId"], i["CycTime"]): i["Triggers"] for i in emu.instances() if i["Triggers"]}
    expected = {t for e in load for t in e.targets}
    final = Counter(r["outcome"] for records in tally.final.values() for r in records)
    unfinished = sum(any(r["outcome"] == FAILED for r in records) for records in tally.final.values())
    calls = emu.calls
    accepted = [c for c in calls if c["action"] in TRIGGERS and c["status"] == 200 and c["code"] is None
                and c["fault"] in (None, "latency", "drip")]           # a malformed 200 ran nothing
    # A trigger DataWorks accepted while its answer was dripped past the deadline: released, yet its decision
    # failed ("it may have landed") and FC's retry found it already_triggered.
    unanswered = sum(c["fault"] == "drip" for c in accepted)
    ignored = sum(c["code"] == "Emulator.Instance.NoEffect" for c in calls)     # 2024: success, no effect
    return {
        **settings,
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
        "injected 500s": sum(c["fault"] == "error" for c in calls),
        "throttled (429)": sum(c["fault"] == "throttle" for c in calls),
        "hostile answers": dict(Counter(c["fault"] for c in calls if c["fault"] in ("redirect", "drip", "malformed"))),
        "triggers after the release (refused / no effect)": sum(c["code"] in REPEATS for c in calls),
        "instances released": len(triggers),
        "released, answer lost (drip)": unanswered,
        "lost": len(expected - set(triggers)) + unfinished + len(load) - dropped - len(tally.final),
        "released without an event": len(set(triggers) - expected),
        "duplicate releases": sum(n - 1 for n in triggers.values()),
        "triggered decisions != accepted triggers": abs(tally.triggered + tally.swept + unanswered - len(accepted)
                                                        - ignored),
        "decisions without a log line": tally.unlogged,
        "log lines with a secret": tally.leaks,
        "invocations past their timeout": tally.overtime,
        "wall time (s)": round(wall, 1),
        "events/s": round(len(load) / wall, 1),
    }


FAILING = ("lost", "released without an event", "duplicate releases", "triggered decisions != accepted triggers",
           "decisions without a log line", "log lines with a secret", "invocations past their timeout")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=8, help="FC instances running at once")
    parser.add_argument("--qps", type=int, default=50, help="the emulator's limit (DataWorks Enterprise: 50)")
    parser.add_argument("--error-rate", type=float, default=0.02, help="share of requests answered 500")
    parser.add_argument("--timeout", type=float, default=10, help="function.timeout (s)")
    parser.add_argument("--no-hostile", dest="hostile", action="store_false", help="no hostile answers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drop", type=float, default=0.0, help="share of daily OSS notifications lost (the sweep)")
    parser.add_argument("--ledger", action="store_true", help="every rule claims its sends in a ledger")
    args = parser.parse_args(argv)
    result = run(args.events, args.workers, args.qps, args.error_rate, args.timeout, args.seed, args.hostile,
                 args.drop, args.ledger)
    width = max(map(len, result))
    for name, value in result.items():
        print(f"{name:<{width}}  {value}")
    return 1 if any(result[name] for name in FAILING) else 0


if __name__ == "__main__":
    sys.exit(main())
