"""The operator's command line. Never imported by a handler, so click costs the functions nothing.

stdout carries what a program reads (explain's report, the decision log's JSON lines); stderr what a person reads
(each decision of trigger and sweep, problems, summaries, progress, retries as they happen)."""
from __future__ import annotations

import json
import os
import sys
import traceback
from collections import Counter
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, List, Optional

import click

from .. import app, events, sources
from . import fc, listing
from ..dataworks import describe
from ..relay import required
from .inputs import UNREADABLE, Item, Unreadable, build_usage, built_event, read
from .options import DONE, output_options, rules_option, so_far, source_option, timeout_option
from .replayer import NOT_TRIED, RELEASED, Replayer, read_path, summary
from ..matching import ignored_reason, match, out_of_play
from ..outcomes import DRY_RUN, FAILED, IGNORED, REJECTED
from .reach import Refused, Watch, When, clock, reaching, require_keys
from ..rules import RulesError, load_rules
from ..schedule import ONE_DAY, ScheduleError, resolve
from ..settings import Settings

MAX_DAYS = 366                  # trigger --from/--to: a year at most, so a typo cannot spend a quota
INTERRUPTED = 130               # Ctrl-C, as a shell reports a process SIGINT ended


class _Group(click.Group):
    """One clear sentence instead of a traceback, unless --debug. Ctrl-C: one line, what was done so far when the
    command said (options.so_far), and the shell's status for an interrupt."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, click.Abort):
            done = (ctx.obj or {}).get(DONE)
            start = "\n" if sys.stderr.isatty() else ""        # after the terminal's ^C
            click.echo(f"{start}interrupted" + (f": {done}" if done else ""), err=True)
            sys.exit(INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except RulesError as e:
            unread = any(p.message.startswith("cannot read") for p in e.problems)
            click.echo(str(e) + (f"\n(name the rules file {_how_named(self, ctx)})" if unread else ""), err=True)
            sys.exit(1)
        except Exception as e:  # noqa: BLE001 - the CLI's last word
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"Error: {e}", err=True)
            sys.exit(2)


def _how_named(group: click.Group, ctx: click.Context) -> str:
    """How the command that ran takes the rules file: `validate PATH` (an argument) or `--rules PATH`."""
    name = ctx.invoked_subcommand
    command = group.get_command(ctx, name) if name else None
    if command and any(isinstance(p, click.Argument) and p.envvar == "DWTRIGGER_RULES" for p in command.params):
        return f"as the argument, `dwtrigger {name} PATH`, or with DWTRIGGER_RULES"
    return "with --rules PATH or DWTRIGGER_RULES"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dwtrigger", message="dwtrigger %(version)s")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def main(ctx, debug):
    """Release DataWorks HTTP trigger nodes from OSS, MNS, RocketMQ, Kafka, RabbitMQ and timer events."""
    ctx.obj = {"debug": debug}


DATE = click.DateTime(["%Y-%m-%d"])


@main.command()
@listing.rules_argument
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
    resting = f" ({len(ruleset.disabled)} disabled)" if ruleset.disabled else ""
    click.echo(f"{rules}: {len(ruleset.rules)} rules OK{resting}" + (f", {len(advice)} warnings" if advice else ""))


def event_options(command):
    """explain's options that build an event instead of reading a file."""
    for option in reversed([option for source in sources.registry().values()
                            for option in source.explain_options()]):
        command = option(command)
    return command


@main.command()
@click.argument("event", required=False, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@rules_option
@click.option("--source", type=click.Choice(sources.names()), help="Which function takes it (default: detected).")
@click.option("--now", type=When(), help="The invocation time, and the time of an event built from options "
                                         "(ISO 8601 with a UTC offset).  [default: now]")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@event_options
def explain(event, rules_path, source, now, as_json, **options):
    """Offline: which rules match an event, and the exact calls it would make.

    EVENT is a file (as replay reads them; - for stdin), or build one: BUILT_EVENTS.
    Exit 1 if a record is unreadable or rejected, or only a disabled rule would take it."""
    received = now or datetime.now(timezone.utc)
    built = built_event(options, received)
    if (event is None) == (built is None):
        raise Refused("give an EVENT file or build one with options, not both" if built else
                      "give an EVENT file, or build one: " + ", ".join(build_usage(_METAVARS, optional=False)))
    if built is not None and source:
        raise Refused("--source is for event files: a built event names its function")
    ruleset = load_rules(rules_path)
    report = []
    items = [built] if built else read(event, click.open_file(event, "rb").read(), source)
    for item in items:
        if isinstance(item, Unreadable):
            report.append({"event": item.label, UNREADABLE: item.reason})
            continue
        function = item.function
        topic = Settings.read(os.environ).mns_topic or (events.ANY_TOPIC if ruleset.takes_any_message() else None)
        for parsed in events.parse(function, item.raw, received, topic):        # as Runtime.run parses
            report.append(_explain_one(item.label, function, parsed, ruleset))
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        for entry in report:
            _print_explanation(entry)
    sys.exit(1 if any(_not_done(entry) for entry in report) else 0)


# Each option's placeholder, and the events explain builds named in its help as the sources say they are built.
_METAVARS = {param.name: param.metavar or param.name.upper() for param in explain.params}
explain.help = explain.help.replace("BUILT_EVENTS", ", ".join(build_usage(_METAVARS)))


def _not_done(entry: dict) -> bool:
    """An explained record the functions would not act on: unreadable, rejected, a release they would reject, or
    one only a disabled rule would take (the operator meant something to take it; a record nothing would take may
    be meant to release nothing)."""
    return UNREADABLE in entry or "rejected" in entry or bool(entry.get(IGNORED) and entry["disabled"]) or any(
        "rejected" in target for rule in entry["rules"] for target in rule.get("targets", ()))


def _explain_one(label, source, parsed, ruleset) -> dict:
    refused = parsed.reason if isinstance(parsed, events.Rejected) else sources.get(parsed.source).vet(parsed, ruleset)
    if refused is not None:
        return {"event": label, "source": source, "rejected": refused}
    rules = []
    for rule in ruleset.for_source(parsed.source):
        captures, why = match(rule, parsed, detail=True)
        entry = {"rule": rule.name, "matched": captures is not None, "why": why}
        if captures is not None:
            entry["captures"] = {k: str(v) for k, v in captures.items()}
            entry["targets"] = [_plan(rule, t, captures, parsed) for t in rule.trigger]
        rules.append(entry)
    resting = [rule for rule in ruleset.disabled if match(rule, parsed)[0] is not None]
    disabled = [{"rule": rule.name, "line": rule.line, "why": f"would match ({out_of_play(ruleset, rule)})"}
                for rule in resting]
    unmatched = {} if any(r["matched"] for r in rules) else {IGNORED: ignored_reason(ruleset, resting)}
    return {"event": label, "source": source, "kind": parsed.kind, "event_id": parsed.event_id,
            "time": parsed.time.isoformat(), "rules": rules, "disabled": disabled, **unmatched}


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
    for r in item["disabled"]:
        click.echo(f"  disabled {r['rule']}: {r['why']}")
    if not matched:
        click.echo(f"  -> ignored: {item[IGNORED]}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))
@rules_option
@source_option
@click.option("--dry-run", is_flag=True, help="Decide and log, send nothing.")
@click.option("--failed-out", type=click.Path(dir_okay=False),
              help="Write every record that did not end released here, one per line, to replay later (always "
                   "written: empty when every record was released; under --dry-run a record whose every decision "
                   "is dry_run counts as released).")
@timeout_option(60, "each record")
@output_options
@reaching
def replay(paths, rules_path, source, dry_run, failed_out, timeout, quiet, log, environ):
    """Run events (files, JSON lists, NDJSON, failure-destination records, - for stdin) for real.

    Exit 0 only when every record ended released: each of its decisions triggered or already_triggered (dry_run
    under --dry-run). Each decision of a record that did not is named on stderr, with what to do."""
    items = [item for p in paths for item in read_path(p, source)]       # a path that is no file: before the keys
    replayer = Replayer(rules_path, environ, dry_run, timeout, log)
    with _failed_out(failed_out) as failed:
        with click.progressbar(items, label="replaying", file=sys.stderr, hidden=quiet or len(items) < 20) as bar:
            for n, item in enumerate(bar):
                so_far(f"{n} of {len(items)} records replayed" + (f", {failed_out} left as it was" if failed_out
                                                                    else ""))
                if replayer.stopped():          # DataWorks cannot be reached: the rest are not tried, and kept
                    replayer.not_tried(len(items) - n)
                    failed += items[n:]
                    break
                if not replayer.run(item):
                    failed.append(item)
    later = f"kept in {failed_out}" if failed_out else "to replay later (--failed-out FILE keeps them)"
    untried = replayer.untried
    replayer.report(f"{untried} of {len(items)} records not tried, {later}" if untried else "")
    sys.exit(1 if replayer.problems or untried else 0)


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
@click.option("--rule", "rule_name", required=True, metavar="NAME",
              help="The rule to release, by its `name:` in the rules file: each node it triggers (or --node).")
@click.option("--bizdate", type=DATE, help="The business date (YYYY-MM-DD); may be left out with --cycle.")
@click.option("--cycle", type=click.DateTime(["%Y-%m-%d %H:%M"]),
              help="The instance's scheduled time in the workspace zone ('YYYY-MM-DD HH:MM'), e.g. of an hourly node.")
@click.option("--from", "first", type=DATE, help="With --to: release every business date from this one ...")
@click.option("--to", "last", type=DATE, help="... to this one, inclusive (each date's cycle instance).")
@click.option("--node", type=int, help="Only this node of the rule.")
@rules_option
@click.option("--dry-run", is_flag=True, help="Decide and log, send nothing.")
@timeout_option(60, "each business date")
@output_options
@reaching
def trigger(rule_name, bizdate, cycle, first, last, node, rules_path, dry_run, timeout, quiet, log, environ):
    """Release a rule's instance(s) by hand, through the same resolution, calls and logging as an event.

    Each decision is logged as a JSON line on stdout and said on stderr; a range adds a progress bar and a
    summary. Exit 1 when any release failed or was rejected."""
    ruleset = load_rules(rules_path)
    rule = ruleset.named(rule_name)
    nodes = [target.node for target in rule.trigger]
    if node is not None and node not in nodes:
        raise Refused(f"rule {rule_name!r} has no node {node}; its nodes: {', '.join(map(str, nodes))}")
    asked = _instances(bizdate, cycle, first, last)
    if not dry_run:
        require_keys(environ)
    watch = Watch(environ)
    runtime = app.Runtime(ruleset, environ=environ, dry_run=dry_run or None, observe=watch, log=log,
                          wall_clock=clock(environ), silence=watch.silence)
    records: List[dict] = []
    untried: List[dict] = []
    label = f"releasing {rule_name} {first:%Y-%m-%d} to {last:%Y-%m-%d}" if first else ""
    with click.progressbar(asked, label=label, file=sys.stderr, hidden=quiet or len(asked) == 1) as bar:
        for n, captures in enumerate(bar):
            so_far(f"{n} of {len(asked)} instances decided")
            if watch.stopped():                 # DataWorks cannot be reached: the rest are not tried
                untried = asked[n:]
                break
            watch.label = f"{rule_name} " + (f"cycle {captures['cycle']:%Y-%m-%d %H:%M}" if "cycle" in captures
                                             else f"bizdate {captures['bizdate']}")
            records += [d.record() for d in runtime.release_by_hand(
                rule_name, captures, node, fc.context_for("cli", timeout=timeout))]
    for r in records:
        if not (quiet and r["outcome"] in RELEASED + (DRY_RUN,)):
            click.echo(_said(r), err=True)
    if len(asked) > 1:
        summary(Counter([r["outcome"] for r in records] + [NOT_TRIED] * len(untried)))
    watch.recap(f"business dates {untried[0]['bizdate']} to {untried[-1]['bizdate']} not tried" if untried else "")
    sys.exit(1 if untried or any(r["outcome"] in (FAILED, REJECTED) for r in records) else 0)


def _instances(bizdate: Optional[datetime], cycle: Optional[datetime], first: Optional[datetime],
               last: Optional[datetime]) -> List[dict]:
    """The captures of each instance trigger's options name: one business date, one cycle, or a range."""
    if (first is None) != (last is None):
        raise Refused("--from and --to go together")
    if first is not None:
        if bizdate or cycle:
            raise Refused("--from/--to name the business dates: drop --bizdate and --cycle")
        days = (last - first).days + 1
        if days < 1:
            raise Refused(f"--to {last:%Y-%m-%d} is before --from {first:%Y-%m-%d}")
        if days > MAX_DAYS:
            raise Refused(f"--from/--to span {days} days; at most {MAX_DAYS} at a time")
        return [{"bizdate": first.date() + timedelta(days=n)} for n in range(days)]
    if cycle is not None:
        named = cycle.date() - ONE_DAY
        if bizdate is not None and bizdate.date() != named:
            raise Refused(f"--bizdate {bizdate:%Y-%m-%d} is not the business date of --cycle "
                          f"'{cycle:%Y-%m-%d %H:%M}': that is {named} (the day before the cycle's date); give "
                          "--cycle alone")
        return [{"cycle": cycle}]
    if bizdate is None:
        raise Refused("name the instance: --bizdate YYYY-MM-DD, --cycle 'YYYY-MM-DD HH:MM', or --from and --to")
    return [{"bizdate": bizdate.date()}]


def _said(r: dict) -> str:
    """A decision of trigger as a person reads it. Several instances waiting: name one with --cycle (the
    relay's advice, `at` or a {cycle} capture, is for rules)."""
    reason = r["reason"] or ""
    if r["error_code"] == "Ambiguous":
        day = date.fromisoformat(r["biz_date"]) + ONE_DAY
        reason = f"{reason.rpartition('; ')[0]}; name one with --cycle '{day} HH:MM'"
    return (f"{r['outcome']}: {r['rule']} node {r['node']} bizdate {r['biz_date']} cycle {r['cycle_time'] or '-'} "
            f"{reason}").rstrip()


@main.command()
@rules_option
@click.option("--now", type=When(), help="Run as if it were this time (ISO 8601 with a UTC offset).  [default: now]")
@click.option("--dry-run", is_flag=True, help="Look for evidence and report; send nothing.")
@timeout_option(300, "the run")
@reaching
def sweep(rules_path, now, dry_run, timeout, environ):
    """Run the sweep by hand: release what has evidence and waits, report what is overdue."""
    ruleset = load_rules(rules_path)
    require_keys(environ)                      # a dry run still looks for evidence in OSS
    watch = Watch(environ)
    watch.label = "sweep"
    runtime = app.Runtime(ruleset, environ=environ, dry_run=dry_run or None, observe=watch, wall_clock=clock(environ),
                          silence=watch.silence)
    decisions, tally = runtime.sweep(fc.context_for("sweep", timeout=timeout), now)
    for d in decisions:
        click.echo(f"{d.outcome}: {d.rule} node {d.node} bizdate {d.biz_date} {d.reason or ''}", err=True)
    click.echo(" ".join(f"{name}={value}" for name, value in tally.__dict__.items()), err=True)
    watch.recap()
    sys.exit(1 if tally.failed or tally.stopped_at_deadline or tally.notices_failed else 0)


@main.command()
@click.option("--root", type=click.Path(file_okay=False, exists=True),
              help="The dwtrigger checkout.  [default: the one this directory is in, else dwtrigger's own]")
@click.option("--log", "log_path", type=click.Path(dir_okay=False),
              help="Where the decision log goes.  [default: build/demo/decisions.ndjson in the checkout]")
def demo(root, log_path):
    """The whole flow on this machine: emulator + every sample through the real handlers and SDK."""
    from . import demo as demo_module

    sys.exit(demo_module.run(demo_module.checkout(root, Path.cwd()), click.echo,
                             Path(log_path).resolve() if log_path else None))


from .doctor import doctor  # noqa: E402 - each of these commands lives in its own module
from .drain import drain  # noqa: E402
from .logs import logs  # noqa: E402
from .sandbox import emulator  # noqa: E402

for command in (doctor, drain, emulator, listing.rules, logs):
    main.add_command(command)
from .status import status; main.add_command(status)  # noqa: E402,E702 - `dwtrigger status`: ops/status.py
from .sign import sign; main.add_command(sign)  # noqa: E402,E702 - `dwtrigger sign`: ops/sign.py


if __name__ == "__main__":
    main()
