"""The operator's command line. Never imported by a handler, so click costs the functions nothing."""
from __future__ import annotations

import json
import os
import sys
import traceback
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Optional

import click

from . import app, events, fc
from .inputs import read
from .matching import match
from .outcomes import FAILED, OUTCOMES
from .rules import RulesError, load_rules
from .schedule import ScheduleError, resolve


class _Group(click.Group):
    """One clear sentence instead of a traceback, unless --debug."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except RulesError as e:
            click.echo(str(e), err=True)
            sys.exit(1)
        except Exception as e:  # noqa: BLE001 - the CLI's last word
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"Error: {e}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def main(ctx, debug):
    """Release DataWorks HTTP trigger nodes from OSS, MNS and timer events."""
    ctx.obj = {"debug": debug}


@main.command()
@click.argument("rules", default="rules.yaml", type=click.Path(dir_okay=False))
def validate(rules):
    """Check a rules file; exit 1 with every problem if it is broken. Warns about rules that can never match
    and pairs that overlap."""
    from .lint import warnings

    ruleset = load_rules(rules)
    advice = warnings(ruleset)
    for problem in advice:
        click.echo(f"warning: {problem}", err=True)
    click.echo(f"{rules}: {len(ruleset.rules)} rules OK" + (f", {len(advice)} warnings" if advice else ""))


@main.command()
@click.argument("event", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--rules", "rules_path", default="rules.yaml", show_default=True)
@click.option("--source", type=click.Choice(events.SOURCES), help="Which function takes it (default: detected).")
@click.option("--now", help="Invocation time (ISO 8601) for events that carry none.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def explain(event, rules_path, source, now, as_json):
    """Offline: which rules match an event, and the exact calls it would make."""
    ruleset = load_rules(rules_path)
    received = datetime.fromisoformat(now) if now else datetime.now(timezone.utc)
    report = []
    for label, src, raw in read(event, click.open_file(event, "rb").read(), source):
        for parsed in events.parse(src, raw, received, os.environ.get("DWTRIGGER_MNS_TOPIC")):
            report.append(_explain_one(label, src, parsed, ruleset))
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        for item in report:
            _print_explanation(item)


def _explain_one(label, source, parsed, ruleset) -> dict:
    if isinstance(parsed, events.Rejected):
        return {"event": label, "source": source, "rejected": parsed.reason}
    rules = []
    for rule in ruleset.for_source(parsed.source):
        captures, why = match(rule, parsed, detail=True)
        entry = {"rule": rule.name, "matched": captures is not None, "why": why}
        if captures is not None:
            entry["captures"] = {k: str(v) for k, v in captures.items()}
            entry["targets"] = [_plan(rule, t, captures, parsed) for t in rule.trigger]
        rules.append(entry)
    return {"event": label, "source": source, "kind": parsed.kind, "event_id": parsed.event_id,
            "time": parsed.time.isoformat(), "rules": rules}


def _plan(rule, target, captures, event) -> dict:
    try:
        s = resolve(rule, target, captures, event)
    except ScheduleError as e:
        return {"node": target.node, "rejected": str(e)}
    calls = []
    if target.lookup:
        calls.append({"action": "ListInstances", "ProjectId": target.workspace, "ProjectEnv": rule.env,
                      "NodeId": target.node, "Bizdate": f"{s.biz_date:%Y-%m-%d} 00:00:00"})
    calls.append({"action": "RunTriggerNode", "AppId": target.workspace, "NodeId": target.node,
                  "BizDate": s.biz_date_ms if not target.lookup else "the instance's Bizdate",
                  "CycleTime": s.cycle_ms if not target.lookup else "the instance's CycTime"})
    return {"workspace": target.workspace, "node": target.node, "timezone": str(rule.timezone),
            "biz_date": f"{s.biz_date:%Y-%m-%d}", "biz_date_ms": s.biz_date_ms,
            "cycle_time": s.cycle.isoformat() if s.cycle else None, "cycle_time_ms": s.cycle_ms, "calls": calls}


def _print_explanation(item: dict) -> None:
    click.echo(f"{item['event']}  ({item['source']} function)")
    if "rejected" in item:
        click.echo(f"  rejected: {item['rejected']}")
        return
    click.echo(f"  kind {item['kind']}, id {item['event_id']}, time {item['time']}")
    matched = [r for r in item["rules"] if r["matched"]]
    for r in matched or item["rules"]:
        click.echo(f"  {'MATCH' if r['matched'] else 'miss '} {r['rule']}: {r['why']}")
        for k, v in r.get("captures", {}).items():
            click.echo(f"      capture {k} = {v}")
        for t in r.get("targets", []):
            if "rejected" in t:
                click.echo(f"      node {t['node']}: rejected: {t['rejected']}")
                continue
            click.echo(f"      node {t['node']} ({t['timezone']}): BizDate {t['biz_date']} = {t['biz_date_ms']}, "
                       f"CycleTime {t['cycle_time'] or 'from the look-up'} = {t['cycle_time_ms'] or '-'}")
            for call in t["calls"]:
                click.echo("        " + " ".join(f"{k}={v}" for k, v in call.items()))
    if not matched:
        click.echo("  -> ignored: no rule matched")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--rules", "rules_path", default="rules.yaml", show_default=True)
@click.option("--dry-run", is_flag=True, help="Decide and log, send nothing.")
@click.option("--endpoint", help="DataWorks endpoint host[:port] (overrides the rules).")
@click.option("--protocol", type=click.Choice(["https", "http"]), help="http only for a local emulator.")
def replay(paths, rules_path, dry_run, endpoint, protocol):
    """Run events (files, JSON lists, NDJSON, failure-destination records, - for stdin) for real."""
    environ = dict(os.environ, **{k: v for k, v in (("DWTRIGGER_ENDPOINT", endpoint),
                                                         ("DWTRIGGER_PROTOCOL", protocol)) if v})
    runtime = app.Runtime(load_rules(rules_path), environ=environ, dry_run=dry_run or None)
    items = [item for p in paths for item in read(p, click.open_file(p, "rb").read())]
    outcomes: Counter = Counter()
    with click.progressbar(items, label="replaying", file=sys.stderr, hidden=len(items) < 20) as bar:
        for label, source, raw in bar:
            for record in _invoke(runtime, source, raw):
                outcomes[record["outcome"]] += 1
    _summary(outcomes)
    sys.exit(1 if outcomes[FAILED] else 0)


@main.command()
@click.option("--rule", "rule_name", required=True)
@click.option("--bizdate", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--cycle", type=click.DateTime(["%Y-%m-%d %H:%M"]), help="The instance's scheduled time (local).")
@click.option("--node", type=int, help="Only this node of the rule.")
@click.option("--rules", "rules_path", default="rules.yaml", show_default=True)
@click.option("--dry-run", is_flag=True)
def trigger(rule_name, bizdate, cycle, node, rules_path, dry_run):
    """Release a rule's instance(s) by hand, through the same resolution and logging as an event."""
    runtime = app.Runtime(load_rules(rules_path), dry_run=dry_run or None)
    captures = {"cycle": cycle} if cycle else {"bizdate": bizdate.date()}
    records = [d.record() for d in runtime.release_by_hand(rule_name, captures, node, fc.context_for("cli"))]
    for r in records:
        click.echo(f"{r['outcome']}: {r['rule']} node {r['node']} bizdate {r['biz_date']} "
                   f"cycle {r['cycle_time'] or '-'} {r['reason'] or ''}")
    sys.exit(1 if any(r["outcome"] == FAILED for r in records) else 0)


@main.command()
@click.option("--port", default=8765, show_default=True)
@click.option("--seed", type=click.Path(exists=True, dir_okay=False), help="World seed (YAML/JSON).")
def emulator(port, seed):
    """A local DataWorks endpoint (ListInstances, RunTriggerNode, AssumeRole) for development and tests."""
    from .emulator import DEFAULT_SEED, Emulator

    Emulator(seed or DEFAULT_SEED, port=port).serve_forever(
        lambda emu: click.echo(f"DataWorks emulator on {emu.url}  (admin: {emu.url}/_admin/calls)", err=True))


@main.command()
@click.option("--root", default=".", type=click.Path(file_okay=False), help="The dwtrigger checkout.")
def demo(root):
    """The whole flow on this machine: emulator + every sample through the real handlers and SDK."""
    from . import demo as demo_module

    sys.exit(demo_module.run(Path(root).resolve(), click.echo))


def _invoke(runtime, source, raw) -> List[dict]:
    try:
        return runtime.invoke(source, raw, fc.context_for(source))["outcomes"]
    except app.TriggerFailed as e:
        return [d.record() for d in e.decisions]


def _summary(outcomes: Counter) -> None:
    click.echo("outcome            count", err=True)
    for name in OUTCOMES:
        if outcomes[name]:
            click.echo(f"{name:<18} {outcomes[name]}", err=True)


if __name__ == "__main__":
    main()
