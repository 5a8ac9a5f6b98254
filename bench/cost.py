"""What dwtrigger spends, counted on the wire (docs/cost.md cites this output): DataWorks calls, OSS requests
(ledger, `require`, sweep) and FC time, per 1,000 releases and per day at 10,000 rules.

    .venv/bin/python bench/cost.py [--events N] [--json FILE]

Three runs against the DataWorks emulator and the OSS stand-in, counting the requests each received (no faults,
the Enterprise edition's 50 requests a second):
- releases: bench/reliability.py's load (its mix of OSS, hourly, MNS and timer events, 10% redeliveries, 10% that
  match no rule) without and with a ledger on every rule;
- `require`: the daily OSS rules of that world each require two more files (one named, one a `*` pattern), every
  file landed before its event;
- the sweep: those rules with `expect: {by: "06:00", days: 7}` and a ledger, the files of half of them landed for
  every date of the window, the other half's never; three runs of the sweep function (the first releases what
  has evidence, the others find the ledger's `done` and say `overdue` for the rest).
Then it scales what one candidate (rule, node, business date) of a sweep run costs to 10,000 rules, a run every
10 minutes (s.yaml), and FC's GB-seconds from the invocations' own time at 512 MB (s.yaml's memorySize), on
loopback: in the cloud add each request's round trip.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Dict, List

import reliability as world

from dwtrigger.ops.emulator import Emulator, OssStandIn
from dwtrigger.rules import parse_rules

MEMORY_GB = 0.5                 # s.yaml: memorySize 512 for every function
SWEEP_RUNS_A_DAY = 24 * 6       # s.yaml: the sweep's timer fires every 10 minutes
RULES = 10_000
TRIGGERS = world.TRIGGERS


def releases(events: int, ledger: bool) -> dict:
    """The reliability load without faults: requests and releases."""
    got = world.run(events=events, hostile=False, error_rate=0.0, ledger=ledger)
    released = got["instances released"]
    return {"events": events, "invocations": got["invocations"], "instances released": released,
            "DataWorks requests": got["DataWorks requests"], "ledger OSS requests": got["ledger OSS requests"],
            "DataWorks requests per 1,000 releases": round(got["DataWorks requests"] / released * 1000),
            "ledger OSS requests per 1,000 releases": round(got["ledger OSS requests"] / released * 1000),
            "invocations per 1,000 releases": round(got["invocations"] / released * 1000)}


def required(events: int) -> dict:
    """Daily OSS events whose rules require two more files, all landed: OSS requests on the landing bucket and
    the invocations' own time."""
    seed, rules_text, nodes = world.world()
    rules_text = re.sub(r'key: "exports/t(\d+)/dt=\{bizdate:%Y-%m-%d\}/_SUCCESS"', lambda m: (
        f'{m.group(0)}, require: ["exports/t{m.group(1)}/dt={{bizdate:%Y-%m-%d}}/data.csv", '
        f'"exports/t{m.group(1)}/dt={{bizdate:%Y-%m-%d}}/parts/*.csv"]'), rules_text)
    make = world.Generator(nodes, random.Random(7))
    with Emulator(seed) as emu, OssStandIn({"keys": [world.KEY], "buckets": [{"name": b} for b in world.BUCKETS]}) \
            as oss:
        fc_instance, tally, spent = world.FcInstance(parse_rules(rules_text), emu, 10, oss), world.Tally(), []
        for n in range(events):
            event = make.oss()
            folder = event.key.rsplit("/", 1)[0]
            for key in (event.key, f"{folder}/data.csv", f"{folder}/parts/p-0.csv"):
                oss.put("landing", key)
            started = time.perf_counter()
            fc_instance.invoke(tally, n, "oss", event.raw)
            spent.append(time.perf_counter() - started)
        released = sum(1 for i in emu.instances() if i["Triggers"])
        landing = [c for c in oss.calls if c["bucket"] == "landing"]        # the landings are not requests
        return {"events": events, "instances released": released,
                "require OSS requests": len(landing),
                "require OSS requests per 1,000 releases": round(len(landing) / released * 1000),
                "by operation": dict(sorted(_count(c["operation"] for c in landing).items())),
                "DataWorks requests per 1,000 releases": round(len(emu.calls) / released * 1000),
                "invocation ms, median / mean (loopback)": (round(statistics.median(spent) * 1e3, 1),
                                                            round(statistics.mean(spent) * 1e3, 1))}


def swept(runs: int = 3) -> dict:
    """The sweep function's runs over the daily OSS rules with `expect` and a ledger: what each run asked."""
    seed, rules_text, nodes = world.world(sweep=True, ledger=True)
    with Emulator(seed) as emu, OssStandIn({"keys": [world.KEY], "buckets": [{"name": b} for b in world.BUCKETS]}) \
            as oss:
        today = emu.clock.now().astimezone(world.ZONE).date()
        landed = range(0, len(nodes["oss"]), 2)                    # half the rules' files landed, every date
        for i in landed:
            for back in range(1, world.SWEPT + 1):
                oss.put("landing", world.evidence_key(f"oss-{i}", f"{today - timedelta(days=back):%Y-%m-%d}"))
        fc_instance, tally, out = world.FcInstance(parse_rules(rules_text), emu, 300, oss), world.Tally(), []
        for n in range(runs):
            dw, before = len(emu.calls), len(oss.calls)
            started = time.perf_counter()
            summary, _ = fc_instance.sweep(tally)
            wall = time.perf_counter() - started
            asked = oss.calls[before:]
            out.append({"run": n + 1, "candidates": summary.candidates, "done (ledger)": summary.done,
                        "with evidence": summary.with_evidence, "released": summary.released,
                        "overdue": summary.overdue, "DataWorks requests": len(emu.calls) - dw,
                        "OSS requests": dict(sorted(_count(f"{c['bucket']} {c['operation']}" for c in asked).items())),
                        "wall s (loopback)": round(wall, 2)})
        return {"rules with expect": len(nodes["oss"]), "days": world.SWEPT, "runs": out}


def per_day(sweep: dict) -> dict:
    """A steady sweep run (the last) scaled to 10,000 rules with `expect` (days 7), a run every 10 minutes."""
    last = sweep["runs"][-1]
    scale = RULES / sweep["rules with expect"]
    oss_requests = sum(last["OSS requests"].values())
    return {"OSS requests per candidate and run": round(oss_requests / last["candidates"], 2),
            "DataWorks requests per overdue candidate and run": round(last["DataWorks requests"] / last["overdue"], 2)
            if last["overdue"] else 0,
            "OSS requests a day, 10,000 rules": round(oss_requests * scale * SWEEP_RUNS_A_DAY),
            "DataWorks reads a day, 10,000 rules, half overdue": round(last["DataWorks requests"] * scale
                                                                       * SWEEP_RUNS_A_DAY),
            "sweep run wall s at 10,000 rules (loopback)": round(last["wall s (loopback)"] * scale, 1)}


def fc_seconds(plain: dict, require: dict) -> dict:
    """GB-seconds per 1,000 releases at 512 MB: invocations per release times their time on loopback."""
    median_s = require["invocation ms, median / mean (loopback)"][0] / 1e3
    per_1000 = plain["invocations per 1,000 releases"] * median_s * MEMORY_GB
    return {"GB-s per 1,000 releases (loopback time)": round(per_1000, 2),
            "GB-s per 1,000 releases added by each 10 ms of a DataWorks request's round trip": round(
                plain["DataWorks requests per 1,000 releases"] * 0.010 * MEMORY_GB, 2)}


def _count(items) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="events of each release run")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    figures = {"releases, no ledger": releases(args.events, ledger=False),
               "releases, ledger on every rule": releases(args.events, ledger=True),
               "require (two more files per daily OSS rule)": required(min(args.events, 400)),
               "sweep": swept()}
    figures["sweep per day"] = per_day(figures["sweep"])
    figures["FC"] = fc_seconds(figures["releases, no ledger"], figures["require (two more files per daily OSS rule)"])
    for part, values in figures.items():
        print(f"{part}:")
        for name, value in values.items():
            if name == "runs":
                for run in value:
                    print("  " + ", ".join(f"{k} {v}" for k, v in run.items()))
            else:
                print(f"  {name}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
