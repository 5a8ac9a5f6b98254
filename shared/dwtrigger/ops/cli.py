"""The operator's command line. Never imported by a handler, so click costs the functions nothing."""
from __future__ import annotations

import json
import os
import sys
import traceback
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import click

from .. import app, events
from . import fc
from ..dataworks import describe
from ..relay import required
from .inputs import UNREADABLE, Item, Unreadable, read
from ..matching import match
from ..outcomes import DRY_RUN, FAILED, OUTCOMES, REJECTED
from ..rules import RulesError, load_rules
from ..schedule import ScheduleError, resolve


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
    import atexit
    import gc

    from .lint import warnings

    ruleset = load_rules(rules)
    # The rules live until the command ends, so no collection needs to walk them: not those the warnings would
    # set off, nor the one Python makes at exit (10,000 rules: a few hundred thousand objects, a third of a
    # second). Frozen objects are skipped; unfrozen afterwards (the command may run in a longer process), and
    # frozen again at exit.
    gc.freeze()
    try:
        advice = warnings(ruleset)
    finally:
        gc.unfreeze()
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    if advice:                                  # one write: a large file can have thousands
        click.echo("\n".join(f"warning: {problem}" for problem in advice), err=True)
    click.echo(f"{rules}: {len(ruleset.rules)} rules OK" + (f", {len(advice)} warnings" if advice else ""))


@main.command()
@click.argument("event", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--rules", "rules_path", default="rules.yaml", show_default=True)
@click.option("--source", type=click.Choice(events.SOURCES), help="Which function takes it (default: detected).")
@click.option("--now", help="Invocation time (ISO 8601) for events that carry none.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def explain(event, rules_path, source, now, as_json):
    """Offline: which rules match an event, and the exact calls it would make. Exit 1 if a record is unreadable."""
    ruleset = load_rules(rules_path)
    received = datetime.fromisoformat(now) if now else datetime.now(timezone.utc)
    report = []
    for item in read(event, click.open_file(event, "rb").read(), source):
        if isinstance(item, Unreadable):
            report.append({"event": item.label, UNREADABLE: item.reason})
            continue
        function = item.function
        for parsed in events.parse(function, item.raw, received, os.environ.get("DWTRIGGER_MNS_TOPIC")):
            report.append(_explain_one(item.label, function, parsed, ruleset))
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        for entry in report:
            _print_explanation(entry)
    if any(UNREADABLE in entry for entry in report):
        sys.exit(1)


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
    calls = describe(rule.api, target.workspace, rule.env, target.node, s.biz_date, s.biz_date_ms, s.cycle_ms,
                     target.lookup)
    return {"workspace": target.workspace, "node": target.node, "timezone": str(rule.timezone), "api": rule.api,
            "biz_date": f"{s.biz_date:%Y-%m-%d}", "biz_date_ms": s.biz_date_ms,
            "cycle_time": s.cycle.isoformat() if s.cycle else None, "cycle_time_ms": s.cycle_ms,
            "requires": [str(w) for w in required(rule, captures, event, s)],
            "calls": [{"action": c.action, **c.params} for c in calls]}


def _print_explanation(item: dict) -> None:
    if UNREADABLE in item:
        click.echo(f"{item['event']}\n  {UNREADABLE}: {item[UNREADABLE]}")
        return
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
            click.echo(f"      node {t['node']} ({t['timezone']}, API {t['api']}): "
                       f"BizDate {t['biz_date']} = {t['biz_date_ms']}, "
                       f"CycleTime {t['cycle_time'] or 'from the look-up'} = {t['cycle_time_ms'] or '-'}")
            for wanted in t["requires"]:
                click.echo(f"        requires {wanted}")
            for call in t["calls"]:
                click.echo("        " + " ".join(f"{k}={v}" for k, v in call.items()))
    if not matched:
        click.echo("  -> ignored: no rule matched")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--rules", "rules_path", default="rules.yaml", show_default=True)
@click.option("--source", type=click.Choice(events.SOURCES),
              help="Which function takes every event (default: detected from each one's shape); needed for "
                   "raw events (not JSON, or a bare JSON string) such as MNS STREAM message bodies.")
@click.option("--dry-run", is_flag=True, help="Decide and log, send nothing.")
@click.option("--endpoint", help="DataWorks endpoint host[:port] (overrides the rules).")
@click.option("--protocol", type=click.Choice(["https", "http"]), help="http only for a local emulator.")
@click.option("--failed-out", type=click.Path(dir_okay=False),
              help="Write every record that did not succeed here, one per line, to replay later (always "
                   "written: empty when everything succeeded; a dry run keeps every record).")
def replay(paths, rules_path, source, dry_run, endpoint, protocol, failed_out):
    """Run events (files, JSON lists, NDJSON, failure-destination records, - for stdin) for real.

    Exit 0 only when every record was read and none failed or was rejected; each one that did not succeed is
    named on stderr."""
    environ = dict(os.environ, **{k: v for k, v in (("DWTRIGGER_ENDPOINT", endpoint),
                                                         ("DWTRIGGER_PROTOCOL", protocol)) if v})
    runtime = app.Runtime(load_rules(rules_path), environ=environ, dry_run=dry_run or None)
    items = [item for p in paths for item in read(p, click.open_file(p, "rb").read(), source)]
    outcomes: Counter = Counter()
    problems: List[str] = []
    with _failed_out(failed_out) as failed:
        with click.progressbar(items, label="replaying", file=sys.stderr, hidden=len(items) < 20) as bar:
            for item in bar:
                decided = _replay_one(runtime, item)
                outcomes.update(outcome for outcome, _ in decided)
                problems += [f"{item.label}: {outcome}: {why}" for outcome, why in decided if outcome in _NOT_DONE]
                if any(outcome in _NOT_DONE + (DRY_RUN,) for outcome, _ in decided):
                    failed.append(item)
    for line in problems:
        click.echo(line, err=True)
    _summary(outcomes)
    sys.exit(1 if problems else 0)


_NOT_DONE = (FAILED, REJECTED, UNREADABLE)      # replay exits 1; a dry run's records are kept for --failed-out too


def _replay_one(runtime, item: Item) -> List[Tuple[str, str]]:
    """(outcome, reason) of each decision on one record; (unreadable, why) for a record that is not an event."""
    if isinstance(item, Unreadable):
        return [(UNREADABLE, item.reason)]
    return [(r["outcome"], r["reason"]) for r in _invoke(runtime, item.function, item.raw)]


@contextmanager
def _failed_out(path: Optional[str]) -> Iterator[List[Item]]:
    """The records put in the yielded list, written to `path` one line each. Through a sibling file opened
    before anything is sent (an unwritable path fails first) and renamed over `path` only at the end, so an
    interrupted run leaves `path` as it was: it may be the very file being replayed."""
    failed: List[Item] = []
    if not path:
        yield failed
        return
    partial = Path(f"{path}.partial")
    with partial.open("wb") as out:
        try:
            yield failed
            out.writelines(item.line() + b"\n" for item in failed)
            out.close()
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise


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
@click.option("--rules", "rules_path", default="rules.yaml", show_default=True)
@click.option("--now", help="Run as if it were this time (ISO 8601 with an offset); default: now.")
@click.option("--dry-run", is_flag=True, help="Look for evidence and report; send nothing.")
@click.option("--timeout", default=300, show_default=True, help="The run's time budget (s), as function.timeout.")
def sweep(rules_path, now, dry_run, timeout):
    """Run the sweep by hand: release what has evidence and waits, report what is overdue."""
    runtime = app.Runtime(load_rules(rules_path), dry_run=dry_run or None)
    when = datetime.fromisoformat(now) if now else None
    if when is not None and when.tzinfo is None:
        raise click.BadParameter("needs a UTC offset, e.g. 2026-03-12T09:00:00+08:00", param_hint="--now")
    decisions, tally = runtime.sweep(fc.context_for("sweep", timeout=timeout), when)
    for d in decisions:
        click.echo(f"{d.outcome}: {d.rule} node {d.node} bizdate {d.biz_date} {d.reason or ''}", err=True)
    click.echo(" ".join(f"{name}={value}" for name, value in tally.__dict__.items()), err=True)
    sys.exit(1 if tally.failed or tally.stopped_at_deadline else 0)


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
    return [d.record() for d in runtime.run(source, raw, fc.context_for(source))]


def _summary(outcomes: Counter) -> None:
    click.echo("outcome            count", err=True)
    for name in OUTCOMES + (UNREADABLE,):
        if outcomes[name]:
            click.echo(f"{name:<18} {outcomes[name]}", err=True)


if __name__ == "__main__":
    main()
