"""`dwtrigger validate` on adversarial rules files: 10,000 rules whose keys share what made the overlap check slow.

Each shape is written to a file and timed as a user runs it, `dwtrigger validate FILE` in its own process (import,
load, checks, warnings printed): wall time and CPU time, the fastest of --repeat runs (the machine may be shared;
`identical` is the floor, almost nothing but import and load). Then, each in a process of
its own, the warnings alone with this implementation (`warn`, and `matches`: keys matched against a template) and
with the one before (shared/dwtrigger/ops/lint.py at commit BEFORE, read with git), which has --old-timeout to load
the file and warn, or reads "> N s"; `pairs` is how many pairs of rules it probes (each one or two matches).

    .venv/bin/python bench/validate.py [--rules N] [--shapes NAME,...] [--repeat N] [--old-timeout S]
                                       [--before REV] [--before-source FILE] [--no-before] [--keep DIR] [--verbose]

About a minute at 10,000 rules, most of it the old implementation's timeouts. The goal: every `validate` under
2 s, the warnings a handful whatever the file (--verbose prints the first two and the last).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from bisect import bisect_left
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "8ec3069"          # the last commit with the quadratic overlap check
DATE = "{bizdate:%Y-%m-%d}"


def oss(key: str, bucket: str = "landing") -> str:
    return f'on: oss, bucket: {bucket}, key: "{key}"'


# name -> (what the keys share, the body of rule i of n)
SHAPES: Dict[str, Tuple[str, Callable[[int, int], str]]] = {
    "prefix": ("one literal prefix, distinct ends", lambda i, n: oss(f"exports/shared/{{table}}/part-{i}.csv")),
    "suffix": ("no prefix, one suffix, distinct middle segments",
               lambda i, n: oss(f"{{table}}/v{i}/dt={DATE}/_SUCCESS")),
    "middle": ("one prefix and one suffix, keys differing only in the middle",
               lambda i, n: oss(f"exports/{{table}}/v{i}/dt={DATE}/_SUCCESS")),
    "identical": ("one key, every rule", lambda i, n: oss(f"exports/{{table}}/dt={DATE}/_SUCCESS")),
    "globstar": ("`**` keys: distinct segments between two `**`, and after one",
                 lambda i, n: oss(f"**/v{i}/**/_SUCCESS" if i % 2 else f"data/**/t{i}/_SUCCESS")),
    "star": ("one `exports/**` rule over 9,999 keys it overlaps",
             lambda i, n: oss("exports/**" if i == n // 2 else f"exports/t{i}/dt={DATE}/_SUCCESS")),
    "buckets": ("20 buckets each, one prefix and suffix",
                lambda i, n: oss(f"exports/{{table}}/v{i}/_SUCCESS", f"[{', '.join(f'bkt-{k:02d}' for k in range(20))}]")),
    "spread": ("1,000 buckets, one key",
               lambda i, n: oss(f"exports/{{table}}/dt={DATE}/_SUCCESS", f"bkt-{i % 1000:03d}")),
    "crowd": ("keys that all overlap with no example to show it (they differ inside a segment)",
              lambda i, n: oss(f"exports/{{table}}-v{i}-{{part}}.csv")),
    "channels": ("one timer, one topic of filtered rules and one rule without a pattern",
                 lambda i, n: "on: timer, timer: nightly" if i % 2 else
                 "on: mns, topic: done" if i == 0 else f'on: mns, topic: done, message: {{job: ["j{i}"]}}'),
}


def rules_text(shape: str, n: int) -> str:
    body = SHAPES[shape][1]
    return "version: 1\ndefaults: {timezone: Asia/Shanghai, region: cn-shanghai}\nrules:\n" + "".join(
        f"  - {{name: r{i}, {body(i, n)}, trigger: [{{workspace: 1, node: {i + 1}}}]}}\n" for i in range(n))


# ---- the child: load and warn with one lint module, counting probes ----------------------------------------

def candidate_pairs(rules) -> int:
    """The pairs the old implementation probes (its `_candidates`, counted rather than listed: a crowd of 10,000
    would make a set of 50 million pairs): in a bucket, keys whose prefixes are one the start of the other; on a
    topic or queue, pairs with a rule without a pattern; on a timer, every pair."""
    from dwtrigger import sources

    buckets, channels = defaultdict(list), defaultdict(lambda: [0, 0])
    for i, rule in enumerate(rules.rules):
        source = sources.get(rule.on)
        keyed = source.keyed(rule)
        for bucket in set(keyed[1] if keyed else ()):
            buckets[bucket].append((keyed[0].prefix, i))
        for kind, name, filtered in source.channels(rule):
            channels[(kind, name)][filtered] += 1
    pairs = sum(bare * (bare - 1) // 2 + bare * patterned for bare, patterned in channels.values())
    for members in {tuple(i for _, i in members): members for members in buckets.values()}.values():
        prefixes = sorted(p for p, _ in members)    # buckets of the same rules count once (a set of pairs)
        pairs += sum(bisect_left(prefixes, p + "\U0010ffff") - k - 1 for k, p in enumerate(prefixes))
    return pairs


def child(path: str, source: Optional[str]) -> None:
    """Load the file, warn, and print what it took (JSON lines; the pairs the old implementation would probe come
    first, so a timeout still has them)."""
    from dwtrigger.rules import load_rules
    from dwtrigger.templates import Template
    if source:      # the implementation before, as a module of the package (its relative imports resolve)
        spec = importlib.util.spec_from_loader("dwtrigger.ops._lint_before", loader=None)
        lint = importlib.util.module_from_spec(spec)
        lint.__package__ = "dwtrigger.ops"
        sys.modules[spec.name] = lint
        exec(compile(Path(source).read_text(), "lint_before.py", "exec"), lint.__dict__)
    else:
        from dwtrigger.ops import lint
    started = time.perf_counter()
    rules = load_rules(path)
    loaded = time.perf_counter()
    if source:
        print(json.dumps({"pairs": candidate_pairs(rules)}), flush=True)
    matches, match = 0, Template.match

    def counting(self, key):
        nonlocal matches
        matches += 1
        return match(self, key)

    Template.match = counting
    warned = time.perf_counter()
    warnings = lint.warnings(rules)
    print(json.dumps({"load_s": loaded - started, "warn_s": time.perf_counter() - warned, "matches": matches,
                      "warnings": len(warnings)}))


def run_child(path: str, source: Optional[str], timeout: float) -> dict:
    args = [sys.executable, __file__, "--child", path] + (["--before-source", source] if source else [])
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as late:
        out = late.stdout.decode() if isinstance(late.stdout, bytes) else late.stdout or ""
        return {"timeout": timeout, **(json.loads(out.splitlines()[0]) if out.strip() else {})}
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    figures: dict = {}
    for line in done.stdout.splitlines():
        figures.update(json.loads(line))
    return figures


def run_cli(path: str) -> dict:
    """`dwtrigger validate FILE` as a user runs it: wall and CPU time, its summary line, the warnings it printed."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).with_name("dwtrigger")), "validate", path], capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)
    took, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    lines = done.stderr.splitlines()
    return {"s": took, "cpu": cpu, "warnings": len(lines), "said": done.stdout.strip(),
            "widest": max((len(x) for x in lines), default=0), "sample": lines[:2] + lines[-1:] if lines else []}


def before_source(args, work: Path) -> Optional[str]:
    if args.no_before:
        return None
    if args.before_source:
        return args.before_source
    done = subprocess.run(["git", "show", f"{args.before}:shared/dwtrigger/ops/lint.py"], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode:
        print(f"(no implementation before: git show {args.before} failed: {done.stderr.strip()})", file=sys.stderr)
        return None
    path = work / "lint_before.py"
    path.write_text(done.stdout)
    return str(path)


def seconds(figure: dict, key: str = "s") -> str:
    if "timeout" in figure:
        return f"> {figure['timeout']:.0f} s"
    if "error" in figure:
        return "error"
    return f"{figure[key]:.2f} s"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--old-timeout", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=2, help="runs of `dwtrigger validate` per shape (the fastest "
                                                              "is shown: this machine may be shared)")
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--before-source", help="the old lint.py to compare with, instead of git show BEFORE")
    parser.add_argument("--no-before", action="store_true")
    parser.add_argument("--keep", help="write the generated files here (default: a temporary directory)")
    parser.add_argument("--verbose", action="store_true", help="print the first and last warnings of each shape")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.before_source)
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.keep or scratch)
        work.mkdir(parents=True, exist_ok=True)
        source = before_source(args, work)
        print(f"`dwtrigger validate` on {args.rules:,} rules ({sys.version.split()[0]}); before: "
              f"{args.before if source and not args.before_source else source or 'not run'}")
        print(f"{'shape':<10} {'validate':>9} {'cpu':>7} {'warn':>7} {'matches':>8} {'warnings':>8}   "
              f"{'before':>8} {'pairs':>11}   what the keys share")
        worst = 0.0
        for shape in args.shapes.split(","):
            path = work / f"{shape}-{args.rules}.yaml"
            path.write_text(rules_text(shape, args.rules))
            cli = min((run_cli(str(path)) for _ in range(args.repeat)), key=lambda run: run.get("s", float("inf")))
            new = run_child(str(path), None, 120)
            old = run_child(str(path), source, args.old_timeout) if source else {}
            worst = max(worst, cli.get("s", float("inf")))
            before = "-" if not old else seconds(old, "warn_s") if "warn_s" in old else seconds(old)
            pairs = f"{old['pairs']:,}" if "pairs" in old else "-"
            print(f"{shape:<10} {seconds(cli):>9} {seconds(cli, 'cpu'):>7} {seconds(new, 'warn_s'):>7} "
                  f"{new.get('matches', '-'):>8} {cli.get('warnings', '-'):>8}   {before:>8} {pairs:>11}   "
                  f"{SHAPES[shape][0]}")
            if "error" in cli:
                print(f"    dwtrigger validate failed: {cli['error']}")
            elif args.verbose:
                for line in cli["sample"]:
                    print(f"    {line[:300]}")
        print(f"validate: wall time of `dwtrigger validate FILE`, fastest of {args.repeat} (cpu: its CPU time); "
              f"warn: the warnings alone "
              f"(load excluded); matches: keys matched against a template; before: the old implementation's "
              f"warnings alone (or its timeout, load included), probing `pairs` pairs. Slowest: {worst:.2f} s "
              f"(goal: under 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
