"""The burst (`bench/reliability.py --burst`): completion files for N distinct instances land within one minute,
each an OSS event to one of 8 FC instances, against an emulator that throttles reads and writes by DataWorks'
split quota (Enterprise: 50 reads and 20 writes a second; faults.py `read_qps`/`write_qps`), with the functions
told that quota (DWTRIGGER_DATAWORKS_QPS). Nothing else fails: the run measures pacing alone.

Every instance must be released, once; at most 1% of the requests throttled; and the whole must finish close to
the write quota's limit: N releases need N triggers, so N / write QPS seconds at best ("the quota's limit");
within 10% of it passes. An invocation whose decision fails is retried as FC retries (up to 3 times), and its
dead letter replayed at the end. Exits 1 when a figure fails.
"""
from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Dict, List, Tuple

import reliability as bench
from dwtrigger.ops.emulator import Emulator
from dwtrigger.outcomes import FAILED
from dwtrigger.rules import parse_rules

LANDING_S = 60.0 / 10_000     # the files land within this long each: 10,000 within one minute
WITHIN = 0.10                 # of the write quota's limit
THROTTLED_AT_MOST = 0.01      # of all requests
TIMEOUT_S = 60                # each function's timeout (s.yaml: oss 60 s)


def files(nodes: Dict[str, List[int]], count: int, rng: random.Random) -> List[bench.Event]:
    """`count` completion files, each for an instance of its own: an hourly node's `.done` or a daily `_SUCCESS`."""
    made = bench.Generator(nodes, rng)
    hourly = [("hourly", i, day, hour) for i in range(len(nodes["hourly"])) for day in bench.DAYS for hour in range(24)]
    daily = [("oss", i, day, 0) for i in range(len(nodes["oss"])) for day in bench.DAYS]
    if count > len(hourly) + len(daily):
        raise ValueError(f"--events for --burst: at most {len(hourly) + len(daily)} distinct instances")
    events = []
    for kind, i, day, hour in rng.sample(hourly + daily, count):
        node = nodes[kind][i]
        if kind == "hourly":
            key = f"logs/h{i}/{day + timedelta(days=1):%Y%m%d}{hour:02d}/part.done"
            events.append(bench.Event("oss", made._oss(key), [(node, bench.cycle_ms(day, hour))], key))
        else:
            key = f"exports/t{i}/dt={day:%Y-%m-%d}/_SUCCESS"
            events.append(bench.Event("oss", made._oss(key), [(node, bench.cycle_ms(day, 0, 30))], key))
    return events


def run(events: int = 10_000, workers: int = 8, quota: Tuple[int, int] = (50, 20), seed: int = 7) -> dict:
    seed_doc, rules_text, nodes = bench.world()
    rng = random.Random(seed)
    load = files(nodes, events, rng)
    tally, work, dead = bench.Tally(), queue.Queue(), []
    with Emulator(seed_doc) as emu:
        emu.set_faults(read_qps=quota[0], write_qps=quota[1])
        rules = parse_rules(rules_text)
        setting = {"DWTRIGGER_DATAWORKS_QPS": f"{quota[0]}/{quota[1]}"}

        def serve() -> None:
            fc_instance = bench.FcInstance(rules, emu, TIMEOUT_S, environ=setting)
            while (item := work.get()) is not None:
                index, tries = item
                if fc_instance.invoke(tally, index, "oss", load[index].raw):
                    if tries < bench.FC_RETRIES:
                        work.put((index, tries + 1))
                    else:
                        dead.append(index)
                work.task_done()

        threads = [threading.Thread(target=serve, daemon=True) for _ in range(workers)]
        for t in threads:
            t.start()
        started = time.monotonic()
        for index in range(len(load)):                  # the files land evenly, 10,000 a minute
            time.sleep(max(0.0, started + LANDING_S * index - time.monotonic()))
            work.put((index, 0))
        work.join()
        replayed, dead[:] = list(dead), []
        for index in replayed:                          # `dwtrigger replay` of the dead letters, once
            work.put((index, bench.FC_RETRIES))
        work.join()
        wall = time.monotonic() - started
        for _ in threads:
            work.put(None)
        return figures(load, tally, emu, wall, events=events, workers=workers, quota=f"{quota[0]}/{quota[1]}",
                       dead_letters=len(replayed))


def figures(load: List[bench.Event], tally: bench.Tally, emu: Emulator, wall: float, **settings) -> dict:
    triggers = {(i["NodeId"], i["CycTime"]): i["Triggers"] for i in emu.instances() if i["Triggers"]}
    named = {t for e in load for t in e.targets}
    calls = emu.calls
    throttled = sum(c["fault"] == "throttle" for c in calls)
    failing = sum(any(r["outcome"] == FAILED for r in records) for records in tally.final.values())
    write_qps = int(settings["quota"].split("/")[1])
    limit = len(triggers) / write_qps
    return {
        **settings,
        "decisions (final)": dict(sorted(Counter(r["outcome"] for rs in tally.final.values() for r in rs).items())),
        "invocations": tally.invocations,
        "instances released": len(triggers),
        "lost": len(named - set(triggers)) + failing + len(load) - len(tally.final),
        "duplicate releases": sum(n - 1 for n in triggers.values()),
        "DataWorks requests": len(calls),
        "DataWorks requests per release": round(len(calls) / max(1, len(triggers)), 3),
        "throttled (429)": throttled,
        "throttled share of requests": round(throttled / max(1, len(calls)), 4),
        "wall time (s)": round(wall, 1),
        "the write quota's limit (s)": round(limit, 1),
        "wall time / the limit": round(wall / max(limit, 1e-9), 3),
    }


def failed(result: dict) -> List[str]:
    """The figures out of bounds."""
    return [name for name, bad in (
        ("lost", result["lost"] > 0), ("duplicate releases", result["duplicate releases"] > 0),
        ("throttled share of requests", result["throttled share of requests"] > THROTTLED_AT_MOST),
        ("wall time / the limit", result["wall time / the limit"] > 1 + WITHIN)) if bad]


def main(events: int, workers: int, quota: Tuple[int, int], seed: int) -> int:
    result = run(events, workers, quota, seed)
    width = max(map(len, result))
    for name, value in result.items():
        print(f"{name:<{width}}  {value}")
    bad = failed(result)
    if bad:
        print("out of bounds: " + ", ".join(bad))
    return 1 if bad else 0
