"""`dwtrigger status`: the day's board (board/) — for each rule with `expect` or a `ledger`, node and business date:
the evidence, what the ledger holds, DataWorks' state and the verdict. Read-only: it never triggers or writes to the
ledger. One aligned line per row (or `--json`, board.Board's schema; `--html FILE` writes the page the sweep
publishes). Exit 0 when nothing is overdue or failed, 1 when something is, 2 when something could not be checked
(a read or a look-up failed, DataWorks stopped answering) or the command was asked wrongly.
"""
from __future__ import annotations

import os
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import List, Optional
from zoneinfo import ZoneInfo

import click

from .. import app, board
from ..board import page
from ..rules import RulesError, load_rules
from ..schedule import ONE_DAY
from ..settings import Settings, SettingsError
from . import fc
from .options import rules_option, timeout_option
from .reach import Refused, When, Watch, clock, reaching, require_keys

COLUMNS = ("rule", "node", "biz_date", "verdict", "at", "why")


@click.command("status")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]),
              help="Only this business date.  [default: the dates the sweep checks: the last `expect.days`]")
@click.option("--rule", "rule_name", metavar="NAME", help="Only this rule (any rule, with `expect` or not).")
@click.option("--json", "as_json", is_flag=True, help="The board as JSON (a stable schema: see docs/sweep.md).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the board as one self-contained HTML page with a timeline per node.")
@click.option("--now", type=When(), help="As if it were this time (ISO 8601 with a UTC offset).  [default: now]")
@rules_option
@timeout_option(120, "the board")
@reaching
def status(day, rule_name, as_json, html_path, now, rules_path, timeout, environ):
    """The day's board: per rule, node and business date, the evidence (files there and missing), the ledger's
    sends, holds and notices, DataWorks' state (looked up frugally, paced at DWTRIGGER_SWEEP_QPS) and the verdict.
    Exit 0 when nothing is overdue or failed, 1 when a release is, 2 when something could not be checked."""
    try:
        rules = load_rules(rules_path)
        shown = board.shown(rules, rule_name)
    except (RulesError, LookupError) as e:
        raise Refused(str(e).strip("'\"")) from None
    except OSError as e:
        raise Refused(f"cannot read the rules file {rules_path}: {e.strerror}") from None
    if not shown:
        raise Refused(f"no rule in {rules_path} keeps `expect` or a `ledger`: name one with --rule NAME")
    require_keys(environ)
    when = now or clock(environ)()
    watch = Watch(environ)
    watch.label = "status"
    try:
        settings = Settings.read(environ)
    except SettingsError as e:
        raise Refused(str(e)) from None
    runtime = app.Runtime(rules, environ=environ, settings=settings, wall_clock=lambda: when, observe=watch, silence=watch.silence)
    call, keys = runtime.invocation(fc.context_for("status", timeout=timeout), time.monotonic())
    made = board.build(shown, when, call, board.Live(call, settings.sweep_qps, observe=watch),
                       asked=day.date() if day else None, times=html_path is not None, stopped=watch.stopped,
                       scrub=keys.scrub)
    if html_path is not None:
        _write(Path(html_path), page.render(made))
    if as_json:
        click.echo(board.encode(made).decode())
    else:
        for line in lines(made):
            click.echo(line)
    if html_path is not None:
        click.echo(f"board: {html_path}", err=True)
    watch.recap()
    sys.exit(board.status(made))


def lines(made: board.Board) -> List[str]:
    """One aligned line per row, a header first; `at` in the row's zone (HH:MM on the run day, else the date too)."""
    rows = [(r.rule, str(r.node), r.biz_date, r.verdict, _short(r.at, r.biz_date), r.why) for r in made.rows]
    widths = [max(len(c) for c in col) for col in zip(COLUMNS, *rows)] if rows else [len(c) for c in COLUMNS]
    out = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths[:-1])) + "  why"]
    out += ["  ".join(c.ljust(w) for c, w in zip(row[:-1], widths[:-1])) + "  " + row[-1] for row in rows]
    now = datetime.fromisoformat(made.now)
    zones = sorted({r.timezone for r in made.rows}) or ["UTC"]
    out.append("as of " + "; ".join(f"{now.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}" for zone in zones)
               + " (each row's times in its rule's zone)")
    if made.stopped:
        out.append(f"DataWorks no longer asked: {made.stopped}")
    return out


def _short(at: Optional[str], biz_date: str) -> str:
    if not at:
        return "-"
    run_day = date.fromisoformat(biz_date) + ONE_DAY
    return at[11:16] if at[:10] == f"{run_day}" else at[:16].replace("T", " ")


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        raise Refused(f"cannot write the page to {path}: {e.strerror}") from None
