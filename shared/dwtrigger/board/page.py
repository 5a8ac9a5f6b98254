"""The board as one self-contained HTML page: no script, no fetch (a Content-Security-Policy that allows none: styles
inline, images only as data: URIs), every string from outside escaped. One section per business date and time zone;
one row per rule and node: its verdict in colour, and a timeline of the day — files landed, trigger sent, the hold,
the run, `expect.by`, notices and now — with the times in the workspace's zone, as the section says.
"""
from __future__ import annotations

import html
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Dict, Iterable, List, Optional, Tuple
from zoneinfo import ZoneInfo

from . import (FAILED_, NOT_GENERATED, NOT_KNOWN, OVERDUE_, RELEASED, VERDICTS, WAITING_FILES, WAITING_TIME,
               WAITING_TRIGGER, Board, Row)

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
WORDS = {RELEASED: "released", WAITING_TRIGGER: "waiting for its trigger", WAITING_TIME: "waiting for time or parents",
         WAITING_FILES: "waiting for files", NOT_GENERATED: "not generated", OVERDUE_: "overdue", FAILED_: "failed",
         NOT_KNOWN: "not known"}
SPAN = (timedelta(hours=12), timedelta(hours=48))     # a timeline's least and longest span
LANES = {"landed": 0, "sent": 1, "hold": 2, "run": 3, "notice": 4}

STYLE = """
:root{--ok:#1a7f37;--trigger:#0969da;--time:#9a6700;--files:#6e7781;--gen:#8250df;--late:#cf222e;--fail:#82071e;
--unknown:#57606a;--line:#d0d7de;--ink:#1f2328;--soft:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0;background:#fff}
header{padding:16px 24px;border-bottom:1px solid var(--line);background:var(--soft)}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:16px;margin:24px 24px 8px}
.asof{color:#57606a}
.counts{margin-top:8px;display:flex;gap:8px;flex-wrap:wrap}
.chip{border-radius:12px;padding:2px 10px;color:#fff;font-size:12px;font-weight:600}
section{padding:0 0 8px}
.row{display:grid;grid-template-columns:210px 230px 1fr;gap:12px;align-items:start;padding:10px 24px;
border-top:1px solid var(--line)}
.verdict{border-radius:6px;color:#fff;padding:6px 10px;font-weight:600}
.v-released{background:var(--ok)}.v-waiting_for_trigger{background:var(--trigger)}
.v-waiting_for_time_or_parents{background:var(--time)}.v-waiting_for_files{background:var(--files)}
.v-not_generated{background:var(--gen)}.v-overdue{background:var(--late)}.v-failed{background:var(--fail)}
.v-not_known{background:repeating-linear-gradient(45deg,var(--unknown) 0 8px,#6e7781 8px 16px)}
.verdict small{display:block;font-weight:400;opacity:.92}
.who b{font-size:15px}.who div{color:#57606a;font-size:12px;overflow-wrap:anywhere}
.line{position:relative;height:112px;border:1px solid var(--line);border-radius:6px;background:
linear-gradient(#fff,#fff) padding-box;overflow:hidden}
.tick{position:absolute;top:0;bottom:0;border-left:1px solid #eaeef2;font-size:10px;color:#8c959f;padding-left:2px;
line-height:12px;white-space:nowrap}
.mark{position:absolute;display:flex;align-items:center;gap:3px;margin:0 -5px;font-size:11px;white-space:nowrap;
line-height:16px}
.mark i{display:inline-block;flex:none;width:10px;height:10px}
.m-landed i{background:var(--trigger);transform:rotate(45deg)}
.m-sent i{width:0;height:0;border:6px solid transparent;border-bottom:10px solid var(--ink);border-top:0}
.m-notice i{border-radius:50%;background:var(--late)}
.m-run i{border-radius:2px;background:var(--ok)}.m-run.failed i{background:var(--fail)}
.bar{position:absolute;height:14px;border-radius:3px;font-size:11px;color:#fff;padding:0 4px;white-space:nowrap;
min-width:6px;line-height:14px}
.b-hold{background:repeating-linear-gradient(45deg,#d4a72c 0 6px,#bf8700 6px 12px)}
.b-run{background:var(--ok);height:4px;margin-top:14px;padding:0}.b-run.failed{background:var(--fail)}
.due{position:absolute;top:0;bottom:0;border-left:2px dashed var(--late)}
.due span{position:absolute;bottom:0;left:3px;font-size:10px;color:var(--late);white-space:nowrap}
.now{position:absolute;top:0;bottom:0;border-left:2px solid var(--ink)}
.now span{position:absolute;bottom:0;left:3px;font-size:10px;white-space:nowrap}
.why{grid-column:2/4;color:#424a53;font-size:12px;overflow-wrap:anywhere}
.why code{background:var(--soft);padding:0 3px;border-radius:3px}
footer{padding:16px 24px;color:#57606a;font-size:12px;border-top:1px solid var(--line)}
"""
COLOURS = {RELEASED: "var(--ok)", WAITING_TRIGGER: "var(--trigger)", WAITING_TIME: "var(--time)",
           WAITING_FILES: "var(--files)", NOT_GENERATED: "var(--gen)", OVERDUE_: "var(--late)",
           FAILED_: "var(--fail)", NOT_KNOWN: "var(--unknown)"}


def e(text: object) -> str:
    """Escaped for HTML text and quoted attributes: nothing from outside becomes markup."""
    return html.escape(str(text), quote=True)


def render(board: Board) -> str:
    now = datetime.fromisoformat(board.now)
    sections: Dict[Tuple[str, str], List[Row]] = defaultdict(list)
    for row in board.rows:
        sections[(row.biz_date, row.timezone)].append(row)
    zones = sorted({zone for _, zone in sections}) or ["UTC"]
    counts = {v: sum(r.verdict == v for r in board.rows) for v in VERDICTS}
    as_of = "; ".join(f"{_moment(now, zone):%Y-%m-%d %H:%M} {zone} ({_offset(now, zone)})" for zone in zones)
    dates = sorted({day for day, _ in sections}, reverse=True)
    title = f"dwtrigger board — business date {', '.join(dates) or 'none'}"
    parts = [f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
             f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">'
             f'<meta name="viewport" content="width=device-width,initial-scale=1">'
             f'<meta name="referrer" content="no-referrer"><title>{e(title)}</title><style>{STYLE}</style></head>'
             '<body>',
             f'<header><h1>{e(title)}</h1><div class="asof">as of {e(as_of)}</div><div class="counts">']
    parts += [f'<span class="chip" style="background:{COLOURS[v]}">{e(WORDS[v])}: {n}</span>'
              for v, n in counts.items() if n]
    parts.append("</div>" + (f'<div class="asof">DataWorks no longer asked: {e(board.stopped)}</div>'
                             if board.stopped else "") + "</header>")
    if not board.rows:
        parts.append("<h2>No rule keeps `expect` or a `ledger`: nothing to show.</h2>")
    for (day, zone), rows in sorted(sections.items(), key=lambda s: s[0], reverse=True):
        parts.append(_section(day, zone, rows, now))
    parts.append("<footer>dwtrigger status --html: the evidence (files, the ledger's records), the sends and holds "
                 "the ledger keeps, DataWorks' word and the verdict, per rule, node and business date.</footer>"
                 "</body></html>")
    return "".join(parts)


def _section(day: str, zone: str, rows: List[Row], now: datetime) -> str:
    start, end = _window(rows, now, zone)
    out = [f'<section data-date="{e(day)}"><h2>Business date {e(day)} · times in {e(zone)} '
           f'({e(_offset(start, zone))})</h2>']
    for row in rows:
        out.append(_row(row, start, end, now))
    return "".join(out) + "</section>"


def _row(row: Row, start: datetime, end: datetime, now: datetime) -> str:
    run_day = (datetime.fromisoformat(row.biz_date) + timedelta(days=1)).date()
    at = f" at {_hm(row.at, run_day)}" if row.at and row.verdict == RELEASED else ""
    details = [f"<b>{e(WORDS.get(row.verdict, row.verdict))}</b>: {e(row.why)}"]
    if row.evidence:
        details.append(f"evidence: <code>{e(row.evidence)}</code>")
    elif row.missing and row.verdict not in (WAITING_FILES, OVERDUE_):
        details.append(f"missing: {e(row.missing)}")
    instance = f" — instance {e(row.instance.instance)} {e(row.instance.status)}" if row.instance else ""
    details.append(f"DataWorks: {e(row.dataworks)}{instance}")
    return (f'<div class="row" data-rule="{e(row.rule)}" data-node="{e(row.node)}" data-verdict="{e(row.verdict)}">'
            f'<div class="verdict v-{e(row.verdict)}">{e(WORDS.get(row.verdict, row.verdict))}{e(at)}'
            f'<small>business date {e(row.biz_date)}</small></div>'
            f'<div class="who"><b>{e(row.rule)}</b><div>node {e(row.node)} · workspace {e(row.workspace)}</div>'
            + (f'<div>cycle {e(_hm(row.cycle_time))}</div>' if row.cycle_time else "") +
            f'</div><div class="line" role="img" aria-label="timeline of {e(row.rule)} node {e(row.node)}">'
            + "".join(_marks(row, start, end, now)) +
            f'</div><div class="why">{" · ".join(details)}</div></div>')


def _marks(row: Row, start: datetime, end: datetime, now: datetime) -> Iterable[str]:
    span = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        return round(min(100.0, max(0.0, (moment - start).total_seconds() / span * 100)), 2)

    def top(lane: str) -> str:
        return f"top:{14 + 18 * LANES[lane]}px"

    def hm(text: str) -> str:
        return _hm(text, run_day)

    run_day = (datetime.fromisoformat(row.biz_date) + timedelta(days=1)).date()

    def at(moment: datetime) -> str:
        """Where a mark starts; past 70% of the line it ends there instead, its label to the left of it."""
        where = x(moment)
        return f"left:{where}%" if where <= 70 else f"right:{round(100 - where, 2)}%;flex-direction:row-reverse"

    hour = start
    while hour <= end:
        if hour.hour % 3 == 0:
            label = "" if x(hour) > 94 else f"{hour:%m-%d}" if hour.hour == 0 else f"{hour:%H:%M}"
            yield f'<span class="tick" style="left:{x(hour)}%">{label}</span>'
        hour += timedelta(hours=1)
    if row.due:
        yield f'<span class="due" style="left:{x(_dt(row.due))}%"><span>by {e(hm(row.due))}</span></span>'
    if start <= now <= end:
        yield f'<span class="now" style="left:{x(now)}%"><span>now</span></span>'
    for f in row.files:
        if f.landed_at:
            yield (f'<span class="mark m-landed" data-kind="landed" style="{at(_dt(f.landed_at))};{top("landed")}"'
                   f' title="{e(f.object)}"><i></i>landed {e(hm(f.landed_at))}</span>')
    for s in row.sends:
        if s.held_until and s.sent_at:
            left, right = x(_dt(s.sent_at)), x(_dt(s.held_until))
            yield (f'<span class="bar b-hold" data-kind="hold" style="left:{left}%;width:{max(right - left, 0.5)}%;'
                   f'{top("hold")}" title="held until {e(s.held_until)}">held until {e(hm(s.held_until))}</span>')
        if s.sent_at:
            yield (f'<span class="mark m-sent" data-kind="sent" style="{at(_dt(s.sent_at))};{top("sent")}" '
                   f'title="claim {e(s.claim)}: {e(s.state)}"><i></i>sent {e(hm(s.sent_at))}</span>')
    i = row.instance
    if i is not None and i.began_at:
        left = x(_dt(i.began_at))
        right = x(_dt(i.finished_at)) if i.finished_at else x(now)
        failed = " failed" if row.verdict == FAILED_ else ""
        ended = f"–{hm(i.finished_at)}" if i.finished_at and hm(i.finished_at) != hm(i.began_at) else ""
        if right - left >= 1:
            yield (f'<span class="bar b-run{failed}" style="left:{left}%;width:{right - left}%;{top("run")}"></span>')
        yield (f'<span class="mark m-run{failed}" data-kind="run" style="{at(_dt(i.began_at))};{top("run")}" '
               f'title="instance {e(i.instance)}: {e(i.status)}"><i></i>ran {e(hm(i.began_at))}{e(ended)} '
               f'{e(i.status)}</span>')
    for n in row.notices:
        when = n.sent_at or n.noted_at
        yield (f'<span class="mark m-notice" data-kind="notice" style="{at(_dt(when))};{top("notice")}" '
               f'title="{e(n.reason)}"><i></i>{e(n.kind.replace("_", " "))} noticed {e(hm(when))}'
               f'{"" if n.sent_at else " (not yet delivered)"}</span>')


def _window(rows: List[Row], now: datetime, zone: str) -> Tuple[datetime, datetime]:
    """The section's span: the run day (the day after the business date) from midnight, widened to the rows'
    marks, at least SPAN[0] and at most SPAN[1], on whole hours."""
    day = datetime.fromisoformat(rows[0].biz_date)
    midnight = datetime(day.year, day.month, day.day, tzinfo=_zone(zone)) + timedelta(days=1)
    moments = [_dt(t) for r in rows for t in _times(r)] + [midnight, midnight + SPAN[0]]
    if midnight - SPAN[0] <= now <= midnight + SPAN[1]:
        moments.append(now)
    start = max(min(moments), midnight - SPAN[0])
    start = start.replace(minute=0, second=0, microsecond=0)
    end = min(max(moments), start + SPAN[1])
    end = end.replace(minute=0, second=0, microsecond=0) + (timedelta(hours=1) if end.minute or end.second else
                                                           timedelta(0))
    return start.astimezone(_zone(zone)), end.astimezone(_zone(zone))


def _times(row: Row) -> Iterable[str]:
    yield from (t for t in [row.due, row.at] if t)
    yield from (f.landed_at for f in row.files if f.landed_at)
    for s in row.sends:
        yield from (t for t in (s.sent_at, s.held_until) if t)
    if row.instance:
        yield from (t for t in (row.instance.began_at, row.instance.finished_at) if t)
    yield from (n.sent_at or n.noted_at for n in row.notices)


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _hm(text: Optional[str], day=None) -> str:
    """HH:MM, with the date when it is not on `day` (the run day)."""
    if not text:
        return ""
    moment = _dt(text)
    return f"{moment:%H:%M}" if day in (None, moment.date()) else f"{moment:%m-%d %H:%M}"


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _moment(now: datetime, zone: str) -> datetime:
    return now.astimezone(_zone(zone))


def _offset(moment: datetime, zone: str) -> str:
    offset = moment.astimezone(_zone(zone)).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"
