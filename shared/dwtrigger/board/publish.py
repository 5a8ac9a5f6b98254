"""The sweep publishes the board: with `defaults.status_page: oss://bucket/prefix/`, after each run's decisions, the
page (page.py) goes to `<prefix>index.html` (the latest) and `<prefix><YYYY-MM-DD>.html` (the day it was made, in
the first rule's zone), text/html, through the OSS port, within the run's deadline.

It asks DataWorks nothing: the board judges by what the run's own look-ups listed (`Learned`) and the decisions it
made, and reads only OSS (the rules' evidence and ledgers, each file's Last-Modified). It never fails the sweep: a
page that could not be made or written is one logged line, and the next run publishes again.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Callable, Optional, Sequence

from ..outcomes import Decision, DecisionLog
from ..oss import ObjectStore
from ..relay import Invocation
from ..retry import MIN_CALL_S, Backoff, GaveUp, with_retries
from ..rule import RuleSet
from . import Learned, build, shown
from .page import render

HTML = "text/html; charset=utf-8"
LEAST_S = 2 * MIN_CALL_S         # the run's time it needs left to start


def publish(rules: RuleSet, now: datetime, call: Invocation, learned: Learned, decided: Sequence[Decision],
            store: Callable[[], ObjectStore], log: DecisionLog, scrub: Callable[[str], str]) -> Optional[str]:
    """Make and write the page; the object written (oss://...index.html), or None when it was not (logged)."""
    page = rules.status_page
    where = f"{page}index.html"
    try:
        if call.deadline.left() < LEAST_S:
            raise GaveUp(None, 0, deadline=True)
        made = build(shown(rules), now, call, learned, times=True, decided=decided, scrub=scrub)
        body = render(made).encode("utf-8")
        day = now.astimezone(rules.rules[0].timezone).date() if rules.rules else now.date()
        port = store()
        for name in ("index.html", f"{day}.html"):
            with_retries(lambda attempt: port.write(page.bucket, f"{page.prefix}{name}", body, call.deadline,
                                                    content_type=HTML), call.deadline, Backoff(), time.sleep)
    except GaveUp as e:
        code, why = (e.error.code, e.error.message) if e.error is not None else (
            "DeadlineExceeded", "the run's deadline came first")
        log.note("status_page", {"published": False, "page": where, "error_code": code, "error": scrub(why)})
        return None
    except Exception as e:  # noqa: BLE001 - the page never fails the sweep
        log.note("status_page", {"published": False, "page": where, "error_code": "InternalError",
                                 "error": scrub(f"{type(e).__name__}: {e}")})
        return None
    log.note("status_page", {"published": True, "page": where, "rows": len(made.rows)})
    return where
