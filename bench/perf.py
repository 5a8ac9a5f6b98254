"""`make bench`: issue 13's performance figures for dwtrigger against the naive relay kept in bench/naive.py.

Every relay measurement is a fresh `python -I` process (bench/probe.py) against the DataWorks emulator on
loopback, which runs here in a thread and checks every signature: a run counts only when the emulator released
exactly the instances its events named. dwtrigger and the naive relay run interleaved, the order flipping each
round (A B B A ...), so machine noise hits both; each figure is the median over the rounds, each ratio the median
of the rounds' own ratios. The emulator's clock
stands at 2026-12-31, so each node has a waiting instance for every business date of the year: each run of a
round names business dates no other run of that round used, and the emulator is reset between rounds.

dwtrigger-only figures run in their own processes with timeouts (a figure that does not finish in time reads
"timeout"): own CPU per event through a dry-run Runtime (parse, match, resolve, the decision's log line written to
/dev/null; nothing sent), loading and validating generated rules shaped like bench/reliability.py's, `dwtrigger
validate` on 10,000 of them, and bench/reliability.py's load run, with and without a ledger, for requests per
decision and throttling.

    .venv/bin/python bench/perf.py [--quick] [--rounds N] [--load-events N] [--only PART] [--http10]
                                   [--imports N] [--json FILE]

The emulator speaks HTTP/1.1 here (the shipped one closes every connection), so connection reuse can show;
--http10 measures against it as shipped.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union
from zoneinfo import ZoneInfo

from dwtrigger.ops.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PYTHON = sys.executable                         # .venv/bin/python under `make bench`: both relays run on it
PROBE = BENCH / "probe.py"
HANDLERS = {"dwtrigger": ROOT / "functions" / "oss" / "index.py", "naive": BENCH / "naive.py"}
# Installed here (moto's, for the tests) but not in the function's package (requirements/runtime.txt): Powertools
# imports botocore when it can, to tag AWS SDK calls, so dwtrigger's probe runs without it, as FC does.
ABSENT = {"dwtrigger": ["botocore"], "naive": []}
RELAYS = tuple(HANDLERS)
SAMPLE = json.loads((ROOT / "events" / "oss" / "native-put-orders.json").read_text())
KEY = {"access_key_id": "STS.perf-role", "access_key_secret": "perf-secret-0123", "security_token": "perf-token-4567"}
ROLE_ENV = {"ALIBABA_CLOUD_ACCESS_KEY_ID": KEY["access_key_id"],
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": KEY["access_key_secret"],
            "ALIBABA_CLOUD_SECURITY_TOKEN": KEY["security_token"]}
WORKSPACE, BUCKET = 10001, "etl-landing"
NODES = {"dwtrigger": 700000001, "naive": 700000002}     # one node each: their runs never share an instance
HOURLY = {"dwtrigger": 700000011, "naive": 700000012}    # and an hourly one each, for the hours of a day
ZONE = ZoneInfo("Asia/Shanghai")
DAYS = [date(2026, 1, 1) + timedelta(days=n) for n in range(360)]     # each has a waiting instance per node
SEED = {"now": "2026-12-31T09:00:00+08:00", "keys": [KEY], "workspaces": [
    {"id": WORKSPACE, "timezone": "Asia/Shanghai", "api": "2020-05-18",
     "nodes": [{"id": node, "name": f"{relay}_trigger", "deployed": "2026-01-01", "at": "00:30"}
               for relay, node in NODES.items()]
              + [{"id": node, "name": f"{relay}_hours", "deployed": "2026-01-01", "hourly": True}
                 for relay, node in HOURLY.items()]}]}
HOURS = [(day, hour) for day in DAYS for hour in range(24)]    # an hourly node's instances, a day's hours in a row
Slot = Union[date, Tuple[date, int]]     # what a run's event names: a daily node's business date, or an hour


class KeepAliveEmulator(Emulator):
    """The emulator speaking HTTP/1.1, so a client can keep its connection as it would with DataWorks (the
    shipped one answers HTTP/1.0, one request per connection, so no stopped emulator leaves a connection
    answering; this bench stops it only at the end). Without it no relay could show connection reuse."""
    handler = type("KeepAliveHandler", (Emulator.handler,), {"protocol_version": "HTTP/1.1"})


@dataclass(frozen=True)
class Settings:
    rounds: int = 7                   # interleaved rounds of the relay runs
    warm_events: int = 100            # events per warm-throughput run (after one warm-up event)
    cost_rules: Tuple[int, ...] = (1, 100, 10_000)
    load_events: int = 2000           # events of the reliability load run (5,000: bench/reliability.py alone)
    timeout_s: float = 30.0           # `dwtrigger validate`; a cost run gets 30 s more for its events
    keep_alive: bool = True           # the emulator keeps connections (HTTP/1.1), as DataWorks does


QUICK = Settings(rounds=2, warm_events=20, cost_rules=(1, 100), load_events=150)


# ---- events and rules --------------------------------------------------------------------------------------

def oss_event(bucket: str, key: str, request_id: str) -> str:
    """FC's native OSS trigger event (the orders sample) for another object."""
    doc = copy.deepcopy(SAMPLE)
    record = doc["events"][0]
    record["oss"]["bucket"]["name"], record["oss"]["object"]["key"] = bucket, key
    record["responseElements"]["requestId"] = request_id
    return json.dumps(doc)


def orders_event(day: date, n: int) -> str:
    return oss_event(BUCKET, f"exports/orders/dt={day:%Y-%m-%d}/_SUCCESS", f"PERF{n:020d}")


def hours_event(day: date, hour: int, n: int) -> str:
    """An hourly node's file for one hour of business date `day` (scheduled the next day at that hour)."""
    return oss_event(BUCKET, f"logs/orders/{day + timedelta(days=1):%Y%m%d}{hour:02d}/part.done", f"PERH{n:020d}")


def event(slot: Slot, n: int) -> str:
    return hours_event(*slot, n) if isinstance(slot, tuple) else orders_event(slot, n)


def relay_rules() -> str:
    """dwtrigger's rules for the relay runs: the two the naive relay hard-codes."""
    return f"""\
version: 1
defaults: {{timezone: Asia/Shanghai, region: cn-shanghai}}
rules:
  - name: orders
    on: oss
    bucket: {BUCKET}
    key: "exports/orders/dt={{bizdate:%Y-%m-%d}}/_SUCCESS"
    trigger: [{{workspace: {WORKSPACE}, node: {NODES['dwtrigger']}}}]
  - name: hours
    on: oss
    bucket: {BUCKET}
    key: "logs/orders/{{cycle:%Y%m%d%H}}/*.done"
    trigger: [{{workspace: {WORKSPACE}, node: {HOURLY['dwtrigger']}}}]
"""


# The reliability bench's rule shapes (bench/reliability.py world()), in its proportions, scaled to any count.
SHAPES = {"oss": (40, 'on: oss, bucket: landing, key: "exports/t{i}/dt={{bizdate:%Y-%m-%d}}/_SUCCESS"'),
          "hourly": (10, 'on: oss, bucket: landing, key: "logs/h{i}/{{cycle:%Y%m%d%H}}/*.done"'),
          "topic": (30, 'on: mns, topic: done, message: {{job: ["job-{i}"]}}, '
                        'bizdate: {{field: bizdate, format: "%Y%m%d"}}'),
          "queue": (20, 'on: mns, queue: etl-q, message: {{source: ["src-{i}"]}}, '
                        'bizdate: {{field: bizdate, format: "%Y%m%d"}}'),
          "timer": (20, "on: timer, timer: timer-{i}")}


def shape_counts(n: int) -> Dict[str, int]:
    """How many rules of each shape make `n` (at least one OSS rule: the matched events need it)."""
    total = sum(share for share, _ in SHAPES.values())
    counts = {kind: n * share // total for kind, (share, _) in SHAPES.items()}
    counts["oss"] += n - sum(counts.values())
    return counts


def many_rules(n: int) -> str:
    """`n` rules shaped like the reliability bench's, half of them on each DataWorks API."""
    lines = ["version: 1", "defaults: {timezone: Asia/Shanghai, region: cn-shanghai}", "rules:"]
    for k, (kind, count) in enumerate(shape_counts(n).items()):
        for i in range(count):
            node = 800_000_000 + 100_000 * k + i
            api = ("2020-05-18", "2024-05-18")[node % 2]
            lines.append(f"  - {{name: {kind}-{i}, {SHAPES[kind][1].format(i=i)}, api: \"{api}\", "
                         f"trigger: [{{workspace: {20000 + node % 2}, node: {node}}}]}}")
    return "\n".join(lines) + "\n"


def cost_events(n: int, rng: random.Random, pool: int = 300) -> Tuple[List[str], List[str]]:
    """Distinct OSS events for `n` rules: each matched one names a random OSS rule and date; no rule takes the
    unmatched ones (same bucket, another prefix)."""
    oss_rules = shape_counts(n)["oss"]
    matched = [oss_event("landing", f"exports/t{rng.randrange(oss_rules)}/dt={rng.choice(DAYS):%Y-%m-%d}/_SUCCESS",
                         f"M{j:023d}") for j in range(pool)]
    unmatched = [oss_event("landing", f"tmp/{rng.getrandbits(64):016x}/_SUCCESS", f"U{j:023d}") for j in range(pool)]
    return matched, unmatched


# ---- child processes ---------------------------------------------------------------------------------------

@dataclass
class Child:
    """What a probe process reported, and what the kernel says it cost (os.wait4)."""
    spawned: float                         # time.monotonic() just before the spawn
    result: dict
    cpu_ms: float
    maxrss_mb: float
    timed_out: bool
    error: str = ""

    @property
    def answered_ms(self) -> Optional[float]:
        """Spawn -> first event answered, on the monotonic clock both processes share."""
        return (self.result["answered_at"] - self.spawned) * 1e3 if "answered_at" in self.result else None


def spawn(job: dict, env: Dict[str, str], timeout: float, work: Path) -> Child:
    """Run bench/probe.py on `job` in a fresh isolated interpreter; kill it at `timeout`. wait4 gives this one
    child's CPU and peak RSS (RUSAGE_CHILDREN would mix in every earlier child)."""
    job_file, out_file, err_file = work / "job.json", work / "result.json", work / "stderr.txt"
    job_file.write_text(json.dumps(job))
    out_file.unlink(missing_ok=True)
    with open(err_file, "w") as err:
        spawned = time.monotonic()
        proc = subprocess.Popen([PYTHON, "-I", str(PROBE), str(job_file), str(out_file)], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, cwd=work)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    timed_out = proc.returncode == -9
    result = json.loads(out_file.read_text()) if out_file.exists() else {}
    error = "" if proc.returncode == 0 or timed_out else err_file.read_text()[-2000:]
    return Child(spawned, result, (usage.ru_utime + usage.ru_stime) * 1e3, usage.ru_maxrss / 1024, timed_out, error)


# ---- the relays, interleaved -------------------------------------------------------------------------------

def relay_env(relay: str, emu: Emulator, rules: Path, hourly: bool = False) -> Dict[str, str]:
    """Each relay's configuration, the way its deployment would set it: dwtrigger's documented variables (the
    fake has no quota: DWTRIGGER_DATAWORKS_QPS far above what either relay sends, so its pacer never waits), the
    naive relay's own (`hourly`: its hourly node); the same role keys."""
    if relay == "dwtrigger":
        return {**ROLE_ENV, "DWTRIGGER_RULES": str(rules), "DWTRIGGER_ENDPOINT": emu.endpoint,
                "DWTRIGGER_PROTOCOL": "http", "FC_FUNCTION_NAME": "dwtrigger-oss",
                "DWTRIGGER_DATAWORKS_QPS": "10000/10000"}
    return {**ROLE_ENV, "DW_ENDPOINT": emu.endpoint, "DW_PROTOCOL": "http", "DW_PROJECT_ID": str(WORKSPACE),
            "DW_NODE_ID": str((HOURLY if hourly else NODES)["naive"])}


def released(emu: Emulator, node: int) -> set:
    """Scheduled times (CycTime, epoch ms) of the node's instances DataWorks (the emulator) released."""
    return {i["CycTime"] for i in emu.instances(WORKSPACE, node) if i["Triggers"]}


def biz_ms(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), ZONE).timestamp() * 1000)


def cycle_ms(slot: Slot) -> int:
    """The scheduled time of the instance a slot names: the next day at 00:30, or at its hour."""
    day, hour = slot if isinstance(slot, tuple) else (slot, None)
    at = datetime.combine(day + timedelta(days=1), datetime.min.time(), ZONE)
    return int((at + (timedelta(hours=hour) if hour is not None else timedelta(minutes=30))).timestamp() * 1000)


def run_relay(emu: Emulator, relay: str, days: List[Slot], initialize: bool, env: Dict[str, str], work: Path,
              timeout: float = 120) -> Child:
    """One process of one relay over the events for `days` (business dates of the daily node, or (date, hour)
    of the hourly one); fails unless exactly those instances were released."""
    node = (HOURLY if isinstance(days[0], tuple) else NODES)[relay]
    before = released(emu, node)
    job = {"kind": "relay", "handler": str(HANDLERS[relay]), "function": f"{relay}-oss", "initialize": initialize,
           "events": [event(day, n) for n, day in enumerate(days)], "absent": ABSENT[relay]}
    child = spawn(job, env, timeout, work)
    now = released(emu, node) - before
    outcomes = child.result.get("outcomes", [])
    if child.error or child.timed_out or outcomes != ["triggered"] * len(days) or now != set(map(cycle_ms, days)):
        raise RuntimeError(f"{relay} run failed: released {len(now)} of {len(days)} instances, outcomes "
                           f"{sorted(set(outcomes))}, timed out {child.timed_out}\n{child.error}")
    return child


@dataclass
class RelaySamples:
    """Per relay, one sample per round of each figure."""
    cold_ms: List[float] = field(default_factory=list)          # spawn -> first event answered (no initializer)
    cold_cpu_ms: List[float] = field(default_factory=list)      # that process's CPU, exit included
    init_ms: List[float] = field(default_factory=list)          # import + initializer + first event, in the child
    import_ms: List[float] = field(default_factory=list)        # ... its parts: import of the handler module,
    initializer_ms: List[float] = field(default_factory=list)   # `initialize` (the naive relay has none),
    first_ms: List[float] = field(default_factory=list)         # and the first event
    warm_per_s: List[float] = field(default_factory=list)
    warm_cpu_us: List[float] = field(default_factory=list)      # the relay process's CPU per warm event
    emulator_cpu_us: List[float] = field(default_factory=list)  # this process's (the emulator's) per warm event
    requests: List[float] = field(default_factory=list)         # DataWorks requests per release, warm run
    hours_cpu_us: List[float] = field(default_factory=list)     # the same, warm over the hours of a day
    hours_per_s: List[float] = field(default_factory=list)
    hours_requests: List[float] = field(default_factory=list)
    peak_rss_mb: List[float] = field(default_factory=list)      # the warm process: initializer and every event

    @property
    def per_request_us(self) -> List[float]:
        """CPU per DataWorks request of each warm run: what one signed call costs a relay, all its work included."""
        return [cpu / n for cpu, n in zip(self.warm_cpu_us, self.requests)]

    @property
    def hours_per_request_us(self) -> List[float]:
        return [cpu / n for cpu, n in zip(self.hours_cpu_us, self.hours_requests)]


def relay_rounds(settings: Settings, work: Path, log: Callable[[str], None]) -> Dict[str, RelaySamples]:
    """The cold, initialized and warm runs of both relays, interleaved: each round runs every mode for both
    relays back to back, the relays' order flipping from round to round."""
    if not 0 < settings.warm_events <= len(DAYS) - 3:
        raise ValueError(f"warm events: 1 to {len(DAYS) - 3} (the waiting instances a node has)")
    samples = {relay: RelaySamples() for relay in RELAYS}
    rules = work / "relay-rules.yaml"
    rules.write_text(relay_rules())
    with (KeepAliveEmulator if settings.keep_alive else Emulator)(SEED) as emu:
        envs = {relay: relay_env(relay, emu, rules) for relay in RELAYS}
        hourly = {relay: relay_env(relay, emu, rules, hourly=True) for relay in RELAYS}
        for relay in RELAYS:                    # unmeasured: bytecode written, files in the page cache
            run_relay(emu, relay, DAYS[0:1], False, envs[relay], work)
        for r in range(settings.rounds):
            emu.reset()
            order = RELAYS if r % 2 == 0 else RELAYS[::-1]
            for relay in order:
                child = run_relay(emu, relay, DAYS[0:1], False, envs[relay], work)
                samples[relay].cold_ms.append(child.answered_ms)
                samples[relay].cold_cpu_ms.append(child.cpu_ms)
            for relay in order[::-1]:
                child = run_relay(emu, relay, DAYS[1:2], True, envs[relay], work)
                got = samples[relay]
                for name, key in (("import_ms", "import_ms"), ("initializer_ms", "init_ms"), ("first_ms", "first_ms")):
                    getattr(got, name).append(child.result[key])
                got.init_ms.append(got.import_ms[-1] + got.initializer_ms[-1] + got.first_ms[-1])
            for relay in order:
                serving, calls = time.process_time(), len(emu.calls)
                child = run_relay(emu, relay, DAYS[2:3 + settings.warm_events], True, envs[relay], work)
                serving = time.process_time() - serving
                samples[relay].requests.append((len(emu.calls) - calls) / (settings.warm_events + 1))
                samples[relay].warm_per_s.append(child.result["warm_per_s"])
                samples[relay].warm_cpu_us.append(child.result["warm_cpu_us"])
                samples[relay].emulator_cpu_us.append(serving / (settings.warm_events + 1) * 1e6)
                samples[relay].peak_rss_mb.append(child.maxrss_mb)
            for relay in order[::-1]:           # the hours of a day land together (a catch-up): one look-up a day
                calls = len(emu.calls)
                child = run_relay(emu, relay, HOURS[:1 + settings.warm_events], True, hourly[relay], work)
                samples[relay].hours_requests.append((len(emu.calls) - calls) / (settings.warm_events + 1))
                samples[relay].hours_per_s.append(child.result["warm_per_s"])
                samples[relay].hours_cpu_us.append(child.result["warm_cpu_us"])
            log(f"round {r + 1}/{settings.rounds}: cold " + ", ".join(
                f"{relay} {samples[relay].cold_ms[-1]:.0f} ms" for relay in RELAYS))
    return samples


# ---- dwtrigger only ----------------------------------------------------------------------------------------

def rules_file(work: Path, n: int) -> str:
    """The generated file of `n` rules (written once)."""
    path = work / f"rules-{n}.yaml"
    if not path.exists():
        path.write_text(many_rules(n))
    return str(path)


def own_cost(settings: Settings, work: Path, log: Callable[[str], None]) -> Dict[int, dict]:
    """Per rules count: loading + validating the rules, and own CPU per matched / unmatched event (dry run)."""
    costs, rng = {}, random.Random(13)
    for n in settings.cost_rules:
        matched, unmatched = cost_events(n, rng)
        job = {"kind": "cost", "rules": rules_file(work, n), "matched": matched, "unmatched": unmatched,
               "env": {**ROLE_ENV, "DWTRIGGER_PROTOCOL": "http"}}
        child = spawn(job, {}, settings.timeout_s + 30, work)
        if child.error:
            raise RuntimeError(f"cost run at {n} rules failed:\n{child.error}")
        costs[n] = {**child.result, "timed_out": child.timed_out}
        log(f"own cost at {n} rules: " + ", ".join(f"{k} {v:.6g}" for k, v in child.result.items()
                                                   if isinstance(v, float)) + (" (timeout)" if child.timed_out else ""))
    return costs


def validate_cli(path: str, timeout: float) -> dict:
    """Wall time of `dwtrigger validate FILE` (the overlap warnings included), in its own process."""
    started = time.perf_counter()
    try:
        done = subprocess.run([str(Path(PYTHON).with_name("dwtrigger")), "validate", path], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"timed_out": True}
    if done.returncode != 0:
        raise RuntimeError(f"dwtrigger validate {path} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return {"timed_out": False, "s": time.perf_counter() - started, "said": done.stdout.strip()[-200:],
            "warnings": done.stderr.count("warning:")}


def load_run(settings: Settings, work: Path, ledger: bool = False) -> dict:
    """bench/reliability.py's load run (its mix, the 50/20 quota, injected faults) at settings.load_events, every
    rule with a ledger or none."""
    child = spawn({"kind": "reliability", "events": settings.load_events, "ledger": ledger}, {},
                  max(300, settings.load_events / 4), work)
    if child.error:
        raise RuntimeError(f"the load run failed:\n{child.error}")
    figures = child.result
    if not figures:
        if not child.timed_out:
            raise RuntimeError(f"the load run gave no figures (exit {child.cpu_ms and 'normal'}):\n"
                               f"{(work / 'stderr.txt').read_text()[-2000:]}")
        return {"timed_out": True}
    decisions = sum(figures["decisions (final)"].values())
    requests = figures["DataWorks requests"]
    forced = figures["injected 500s"] + sum(figures["hostile answers"].values())    # each must be asked again
    return {"timed_out": False, "per_decision": requests / decisions,
            "naive_per_decision": figures["naive relay's requests per final decision"],
            "floor": figures["the floor per final decision"],
            "floor_faults": figures["the floor per final decision"] + forced / decisions,
            "throttled": figures["throttled (429)"] / requests, "failing": figures.pop("failing"), "figures": figures}


def costliest_imports(settings: Settings, work: Path, n: int) -> Dict[str, List[Tuple[float, float, int, str]]]:
    """Each relay's cold path (import, first event) once under `-X importtime`: the `n` imports with the largest
    cumulative time, as (cumulative ms, self ms, nesting depth, module). Where a cold start goes."""
    rules = work / "relay-rules.yaml"
    rules.write_text(relay_rules())
    found = {}
    with (KeepAliveEmulator if settings.keep_alive else Emulator)(SEED) as emu:
        for relay in RELAYS:
            job = {"kind": "relay", "handler": str(HANDLERS[relay]), "function": f"{relay}-oss", "initialize": False,
                   "events": [orders_event(DAYS[0], 0)], "absent": ABSENT[relay]}
            (work / "job.json").write_text(json.dumps(job))
            done = subprocess.run([PYTHON, "-I", "-X", "importtime", str(PROBE), str(work / "job.json"),
                                   str(work / "result.json")], env=relay_env(relay, emu, rules), capture_output=True,
                                  text=True, timeout=120, cwd=work)
            rows = [(int(cum) / 1e3, int(own) / 1e3, (len(name) - len(name.lstrip())) // 2, name.strip())
                    for own, cum, name in (line[len("import time:"):].split("|")
                                           for line in done.stderr.splitlines() if line.startswith("import time:"))
                    if own.strip().isdigit()]
            found[relay] = sorted(rows, reverse=True)[:n]
    return found


# ---- the table ---------------------------------------------------------------------------------------------

@dataclass
class Row:
    """One line of the table. A goal is checked on dwtrigger's figure, or on the ratio when there is a naive one."""
    figure: str
    ours: Optional[float]                         # None: it did not finish within its timeout
    naive: Optional[float] = None
    unit: str = ""
    goal: str = ""
    check: Optional[Callable[[float], bool]] = None
    compared: bool = False                        # a naive figure exists: the ratio is the one checked
    paired: Optional[float] = None                # the median of the rounds' own ratios, when there are rounds
    on_ratio: bool = True                         # with a naive figure, the goal is on the ratio (else on ours)

    @property
    def ratio(self) -> Optional[float]:
        if self.paired is not None:
            return self.paired
        return self.ours / self.naive if self.compared and self.ours is not None and self.naive else None

    @property
    def holds(self) -> Optional[bool]:
        if self.check is None:
            return None
        value = self.ratio if self.compared and self.on_ratio else self.ours
        return value is not None and self.check(value)


def load_rows(load: dict, ledgered: dict) -> List[Row]:
    """Requests per final decision beside the naive relay's on the same mix (a look-up and a trigger per matched
    decision); the goal holds on dwtrigger's own figure. Under each, that run's limit: a trigger per instance
    released and a look-up per node and business date, then with the requests its injected faults (500s, hostile
    answers) make any relay send again."""
    def limits(run: dict) -> List[Row]:
        return [Row("    the limit on that run: a trigger per release, a look-up per node and date", run.get("floor")),
                Row("    and the requests its injected faults force again", run.get("floor_faults"))]

    return [Row("DataWorks requests per final decision, no ledger", load.get("per_decision"),
                load.get("naive_per_decision"), goal="<= 1.3", check=lambda v: v <= 1.3, compared=True, on_ratio=False),
            *limits(load),
            Row("  with a ledger", ledgered.get("per_decision"), ledgered.get("naive_per_decision"), goal="<= 1.2",
                check=lambda v: v <= 1.2, compared=True, on_ratio=False),
            *limits(ledgered),
            Row("throttled share of requests (50/20 quota)",
                None if load.get("throttled") is None else load["throttled"] * 100, unit="%", goal="< 1%",
                check=lambda v: v < 1)]


def cost_rows(costs: Dict[int, dict], validate: dict) -> List[Row]:
    """The goals hold at 100 and at 10,000 rules; other counts are shown for the trend."""
    out = []
    for n, c in costs.items():
        goal = n in (100, 10_000)
        out += [Row(f"own CPU per unmatched event, the match step, {n:,} rules", c.get("unmatched_match_us"),
                    unit="µs", goal="<= 20 µs" if goal else "", check=(lambda v: v <= 20) if goal else None),
                Row(f"  all of it (parse, match, its `ignored` line), {n:,} rules", c.get("unmatched_us"), unit="µs"),
                Row(f"own CPU per matched event, {n:,} rules", c.get("matched_us"), unit="µs",
                    goal="<= 150 µs" if goal else "", check=(lambda v: v <= 150) if goal else None),
                Row(f"  of which the match step, {n:,} rules", c.get("matched_match_us"), unit="µs")]
    if 10_000 in costs:
        out.append(Row("load + validate 10,000 rules", costs[10_000].get("load_s"), unit="s", goal="<= 1 s",
                       check=lambda v: v <= 1))
    if validate:
        out.append(Row("`dwtrigger validate`, 10,000 rules", validate.get("s"), unit="s", goal="<= 2 s",
                       check=lambda v: v <= 2))
    return out


def relay_rows(relays: Dict[str, RelaySamples]) -> List[Row]:
    """Each ratio is the median of the rounds' own ratios: a round's two runs ran moments apart, so noise that
    lasts a round (another process, a busy disk) cancels in its ratio."""
    def pair(figure: str, name: str, unit: str, goal: str = "", check=None, scale: float = 1) -> Row:
        ours, naive = (getattr(relays[relay], name) for relay in RELAYS)
        return Row(figure, median(ours) * scale, median(naive) * scale, unit, goal, check, compared=True,
                   paired=median([a / b for a, b in zip(ours, naive)]) if all(naive) else None)

    return [pair("cold start, no initializer: spawn -> triggered", "cold_ms", "ms", "ratio <= 0.5", lambda r: r <= 0.5),
            pair("  CPU of that process (exit included)", "cold_cpu_ms", "ms"),
            pair("import + initializer + first event", "init_ms", "ms", "ratio <= 0.5", lambda r: r <= 0.5),
            pair("  import of the handler module", "import_ms", "ms"),
            pair("  initializer", "initializer_ms", "ms"),
            pair("  first event", "first_ms", "ms"),
            pair("peak RSS (the warm process)", "peak_rss_mb", "MB", "ratio <= 1", lambda r: r <= 1),
            pair("warm throughput on loopback", "warm_per_s", "events/s", "ratio >= 3", lambda r: r >= 3),
            pair("relay CPU per warm event (release)", "warm_cpu_us", "ms", "ratio <= 0.5", lambda r: r <= 0.5,
                 scale=1e-3),
            pair("  DataWorks requests per release", "requests", ""),
            pair("  relay CPU per DataWorks request", "per_request_us", "ms", scale=1e-3),
            pair("  emulator CPU per warm event", "emulator_cpu_us", "ms", scale=1e-3),
            pair("warm, the hours of a day landing together: throughput", "hours_per_s", "events/s", "ratio >= 2",
                 lambda r: r >= 2),
            pair("  relay CPU per warm release", "hours_cpu_us", "ms", "ratio <= 0.5", lambda r: r <= 0.5,
                 scale=1e-3),
            pair("  DataWorks requests per release", "hours_requests", ""),
            pair("  relay CPU per DataWorks request", "hours_per_request_us", "ms", scale=1e-3)]


def median(values: List[float]) -> float:
    return statistics.median(values)


def number(value: Optional[float], unit: str) -> str:
    if value is None:
        return "timeout"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f}" + (f" {unit}" if unit else "")


def render(table: List[Row]) -> str:
    """A plain-text table: figure | dwtrigger | naive | ratio | goal | holds."""
    cells = [("figure", "dwtrigger", "naive", "ratio", "goal", "holds")]
    for row in table:
        cells.append((row.figure, number(row.ours, row.unit), number(row.naive, row.unit) if row.compared else "-",
                      f"{row.ratio:.2f}x" if row.ratio is not None else "-", row.goal or "-",
                      {None: "-", True: "yes", False: "no"}[row.holds]))
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
             for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                  if line.startswith("model name")), "") if cpuinfo.exists() else platform.processor()
    return (f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
            f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")


# ---- main --------------------------------------------------------------------------------------------------

PARTS = ("relays", "cost", "validate", "load")


def measure(settings: Settings, parts: Tuple[str, ...], log: Callable[[str], None]) -> Tuple[List[Row], dict]:
    """The parts asked for, one after the other (nothing of the bench runs beside a measurement): the table's
    rows and every sample behind them."""
    rows, raw = [], {}
    with tempfile.TemporaryDirectory(prefix="dwtrigger-bench-") as tmp:
        work = Path(tmp)
        if "load" in parts:
            raw["load"], raw["load_ledger"] = load_run(settings, work), load_run(settings, work, ledger=True)
            rows += load_rows(raw["load"], raw["load_ledger"])
            log(f"load run: {raw['load'].get('per_decision')} requests per final decision, "
                f"{raw['load_ledger'].get('per_decision')} with a ledger")
        if "cost" in parts or "validate" in parts:
            raw["costs"] = own_cost(settings, work, log) if "cost" in parts else {}
            biggest = max(settings.cost_rules)
            raw["validate"] = validate_cli(rules_file(work, biggest), settings.timeout_s) \
                if "validate" in parts and biggest >= 10_000 else {}
            log(f"dwtrigger validate: {raw['validate']}")
            rows += cost_rows(raw["costs"], raw["validate"])
        if "relays" in parts:
            relays = relay_rounds(settings, work, log)
            raw["relays"] = {name: s.__dict__ for name, s in relays.items()}
            rows += relay_rows(relays)
    return rows, raw


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 2 rounds, 20 warm events, no 10,000-rule figures, a 150-event load run")
    parser.add_argument("--rounds", type=int, help="interleaved rounds of the relay runs")
    parser.add_argument("--load-events", type=int, help="events of the reliability load run")
    parser.add_argument("--only", choices=PARTS, action="append", help="measure only this part (repeatable)")
    parser.add_argument("--http10", action="store_true",
                        help="the emulator as shipped: HTTP/1.0, a new connection per request")
    parser.add_argument("--imports", type=int, metavar="N", default=0,
                        help="also list the N costliest imports of each relay's cold start")
    parser.add_argument("--json", metavar="FILE", help="also write every sample and figure as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    settings = replace(QUICK if args.quick else Settings(), keep_alive=not args.http10,
                       **{name: value for name, value in (("rounds", args.rounds), ("load_events", args.load_events))
                          if value})
    started = time.monotonic()

    def log(text: str) -> None:
        if not args.quiet:
            print(f"[{time.monotonic() - started:5.0f} s] {text}", file=sys.stderr, flush=True)

    table, raw = measure(settings, tuple(args.only or PARTS), log)
    print(f"dwtrigger vs the naive relay (bench/naive.py) on {machine()}")
    print(f"relays: medians of {settings.rounds} interleaved rounds, {settings.warm_events} warm events a run, the "
          f"emulator over HTTP/{'1.1' if settings.keep_alive else '1.0'}; ratio: the median of each round's "
          f"dwtrigger / naive")
    print(f"load run: bench/reliability.py, {settings.load_events:,} events\n")
    print(render(table))
    for part in ("load", "load_ledger"):
        if raw.get(part, {}).get("failing"):
            print(f"\nthe {part.replace('_', ' with ')} run broke a promise (bench/reliability.py FAILING): "
                  f"{raw[part]['failing']}")
    if args.imports:
        with tempfile.TemporaryDirectory(prefix="dwtrigger-bench-") as tmp:
            raw["imports"] = costliest_imports(settings, Path(tmp), args.imports)
        for relay, rows in raw["imports"].items():
            print(f"\n{relay}: the {args.imports} costliest imports of a cold start (-X importtime; cumulative, self)")
            print("\n".join(f"  {cum:7.1f} ms {own:7.1f} ms  {'  ' * depth}{name}" for cum, own, depth, name in rows))
    print(f"\ntotal {time.monotonic() - started:.0f} s")
    if args.json:
        rows = [{"figure": r.figure, "dwtrigger": r.ours, "naive": r.naive, "unit": r.unit, "ratio": r.ratio,
                 "goal": r.goal, "holds": r.holds} for r in table]
        Path(args.json).write_text(json.dumps({"machine": machine(), "settings": settings.__dict__, "table": rows,
                                               **raw}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
