"""The child side of `make bench` (bench/perf.py): one fresh process per measurement.

    python -I bench/probe.py JOB.json RESULT.json

Only the standard library is imported before the job says what to load, so a cold start pays for the relay and
nothing of the bench. The result is rewritten after each phase: a job killed at its timeout still reports what it
finished. Jobs (the "kind" field):

- relay: load a handler file as FC does (`index.py`, or bench/naive.py), optionally run its `initialize`, then
  its events one by one; reports import / initializer / first-event times, the monotonic instant the first event
  was answered (the parent measures spawn -> that instant on the same clock), and the warm events' rate.
- cost: dwtrigger's own CPU per event: load and validate a rules file, then run matched and unmatched OSS events
  through a dry-run Runtime (parse + match + resolve + log line, nothing sent) under process_time().
- reliability: bench/reliability.py's load run, for its request and throttling figures.
"""
import importlib.util
import json
import os
import sys
import time
import types


def save(path, result):
    """Write the result so far (atomically: the parent may read it after a kill)."""
    with open(path + ".tmp", "w") as f:
        json.dump(result, f)
    os.replace(path + ".tmp", path)


def context(name, timeout=60):
    """A python3.12-shaped FC context: no `credentials`, the role's keys come from ALIBABA_CLOUD_*."""
    function = types.SimpleNamespace(name=name, handler="index.handler", memory=512, timeout=timeout)
    return types.SimpleNamespace(request_id="bench-0", function=function, region="cn-shanghai",
                                 account_id="1234567890")


def outcome(handler, event, ctx):
    """The handler's answer for one event, reduced to its outcomes (a raise is a failed event, not a crash)."""
    try:
        answer = handler(event, ctx)
    except Exception as e:  # noqa: BLE001 - dwtrigger's TriggerFailed, or the naive relay's own error
        return [f"raised {type(e).__name__}: {e}"[:300]]
    if "outcomes" in answer:
        return [d["outcome"] for d in answer["outcomes"]]
    return [answer["outcome"]]


def relay(job, out):
    """Import the handler module, initialize, the first event (cold), then the rest (warm)."""
    events = [e.encode() for e in job["events"]]
    ctx = context(job["function"])
    for name in job.get("absent", ()):          # not in the function's package: importing it fails, as in FC
        sys.modules[name] = None
    result = {"started_at": time.monotonic()}
    t0 = time.perf_counter()
    spec = importlib.util.spec_from_file_location("index", job["handler"])
    index = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(index)
    t1 = time.perf_counter()
    initialized = bool(job.get("initialize") and hasattr(index, "initialize"))   # the naive relay has none
    if initialized:
        index.initialize(ctx)
    t2 = time.perf_counter()
    first = outcome(index.handler, events[0], ctx)
    t3 = time.perf_counter()
    result.update(answered_at=time.monotonic(), import_ms=(t1 - t0) * 1e3,
                  init_ms=(t2 - t1) * 1e3 if initialized else 0.0, first_ms=(t3 - t2) * 1e3, outcomes=first)
    save(out, result)
    if len(events) > 1:
        cpu, wall = time.process_time(), time.perf_counter()
        for event in events[1:]:
            result["outcomes"] += outcome(index.handler, event, ctx)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        result.update(warm_events=len(events) - 1, warm_s=wall, warm_per_s=(len(events) - 1) / wall,
                      warm_cpu_us=cpu / (len(events) - 1) * 1e6)
        save(out, result)


def per_event_us(run, events, budget_s=0.06, batches=7):
    """Median CPU µs per event over `batches` batches, each sized to take about `budget_s` of CPU (cycling
    through distinct events), after a warm-up; the median keeps a GC pause or a preemption out of the figure."""
    for event in events[:3]:
        run(event)
    start = time.process_time()
    for i in range(10):
        run(events[i % len(events)])
    one = max((time.process_time() - start) / 10, 1e-6)
    size, samples, i = max(1, min(20_000, int(budget_s / one))), [], 0
    for _ in range(batches):
        start = time.process_time()
        for _ in range(size):
            run(events[i % len(events)])
            i += 1
        samples.append((time.process_time() - start) / size * 1e6)
    return sorted(samples)[len(samples) // 2]


def cost(job, out):
    """Rules load + validation, then own CPU per matched and per unmatched event through a dry-run Runtime."""
    result, wall = {}, time.perf_counter()
    from datetime import datetime, timezone

    from dwtrigger import app
    from dwtrigger.ops import fc
    from dwtrigger.events import parse
    from dwtrigger.outcomes import DecisionLog
    from dwtrigger.rules import load_rules
    result["import_s"] = time.perf_counter() - wall
    wall, cpu = time.perf_counter(), time.process_time()
    rules = load_rules(job["rules"])
    result.update(load_s=time.perf_counter() - wall, load_cpu_s=time.process_time() - cpu, rules=len(rules.rules))
    save(out, result)
    sink = open(os.devnull, "w")                     # one write per log line, as FC's stdout would take it
    runtime = app.Runtime(rules, environ=job["env"], log=DecisionLog(service="dwtrigger-bench", stream=sink),
                          dry_run=True)
    ctx = fc.context_for("oss")
    for kind, expected in (("matched", "dry_run"), ("unmatched", "ignored")):
        events = [e.encode() for e in job[kind]]
        seen = {d.outcome for d in runtime.run("oss", events[0], ctx)}
        if seen != {expected}:
            raise SystemExit(f"{kind} event: outcomes {seen}, expected {expected}")
        result[f"{kind}_us"] = per_event_us(lambda raw: runtime.run("oss", raw, ctx), events)
        parsed = [item for raw in events for item in parse("oss", raw, datetime.now(timezone.utc))]
        result[f"{kind}_match_us"] = per_event_us(runtime.relay.index.takers, parsed)   # the match step alone
        save(out, result)


def reliability(job, out):
    """bench/reliability.py's run(), in its own process so a hang costs only its timeout."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import reliability as load
    figures = load.run(events=job["events"], seed=job.get("seed", 7), ledger=job.get("ledger", False))
    save(out, {**figures, "failing": {name: figures[name] for name in load.FAILING if figures[name]}})


if __name__ == "__main__":
    # This tree's dwtrigger, as FC's package puts it beside index.py: the venv's (an editable install) may be
    # another checkout's.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shared"))
    with open(sys.argv[1]) as f:
        JOB = json.load(f)
    {"relay": relay, "cost": cost, "reliability": reliability}[JOB["kind"]](JOB, sys.argv[2])
