"""Records run for real, as `replay` runs files and `drain` runs a queue's messages: one path, one rule for what
counts as released, one way of saying what was not and what to do about it.

A record ends released when every decision of it is triggered or already_triggered (dry_run too under --dry-run);
anything else is kept: `replay --failed-out` writes it back out, `drain` leaves its message in the queue.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import List, Mapping, Optional, Tuple

import click

from .. import app
from ..outcomes import ALREADY, DRY_RUN, IGNORED, OUTCOMES, TRIGGERED, WAITING_FILES, DecisionLog
from ..rules import load_rules
from . import fc
from .inputs import UNREADABLE, Item, Unreadable, read
from .reach import Refused, Watch, clock, require_keys

RELEASED = (TRIGGERED, ALREADY)
NOT_TRIED = "not_tried"         # a record, message or date left untried once DataWorks could no longer be reached
# What to do about a kept decision that is no failure, after its reason: nothing was sent, and the record is kept, so
# a drain never deletes a dead letter that released nothing. (A failure's reason is DataWorks', the relay's or the
# reader's, and says what went wrong.)
TO_DO = {
    IGNORED: "; nothing was sent: add or enable the rule that should take it (`dwtrigger explain` says why each "
             "misses) and replay it, or drop the record if it should release nothing",
    WAITING_FILES: "; nothing was sent: the last of them to land releases it, or replay it once they are all there",
    DRY_RUN: "; nothing was sent (DWTRIGGER_DRY_RUN is set): unset it to replay for real, or pass --dry-run",
}


class Replayer:
    """Runs records through one Runtime, counting outcomes and keeping a line for each decision not released."""

    def __init__(self, rules_path: str, environ: Mapping[str, str], dry_run: bool, timeout: int, log: DecisionLog):
        ruleset = load_rules(rules_path)
        if not dry_run:
            require_keys(environ)
        self.watch = Watch(environ)
        self.runtime = app.Runtime(ruleset, environ=environ, dry_run=dry_run or None, observe=self.watch, log=log,
                                   wall_clock=clock(environ), silence=self.watch.silence)
        self.timeout = timeout
        self.released = RELEASED + ((DRY_RUN,) if dry_run else ())
        self.outcomes: Counter = Counter()
        self.problems: List[str] = []

    def run(self, item: Item) -> bool:
        """Run one record; True when it ended released."""
        self.watch.label = item.label
        decided = self._decide(item)
        self.outcomes.update(outcome for outcome, _ in decided)
        kept = [(outcome, why) for outcome, why in decided if outcome not in self.released]
        self.problems += [f"{item.label}: {outcome}: {why}{TO_DO.get(outcome, '')}" for outcome, why in kept]
        return not kept

    def _decide(self, item: Item) -> List[Tuple[str, str]]:
        """(outcome, reason) of each decision on one record; (unreadable, why) for a record that is not an event."""
        if isinstance(item, Unreadable):
            return [(UNREADABLE, item.reason)]
        decisions = self.runtime.run(item.function, item.raw, fc.context_for(item.function, timeout=self.timeout))
        return [(d.outcome, d.reason) for d in decisions]

    def stopped(self) -> Optional[str]:
        """Why DataWorks is no longer asked (an endpoint that cannot be reached), naming it; None while it is."""
        return self.watch.stopped()

    def not_tried(self, count: int) -> None:
        """`count` records left untried once DataWorks could no longer be reached."""
        self.outcomes[NOT_TRIED] += count

    @property
    def untried(self) -> int:
        return self.outcomes[NOT_TRIED]

    def report(self, left: str = "") -> None:
        """Each kept decision with what to do, the outcomes' summary, and why DataWorks was no longer asked (with
        `left`, what that left undone) and the likely causes of failed calls."""
        for line in self.problems:
            click.echo(line, err=True)
        summary(self.outcomes)
        self.watch.recap(left)


def summary(outcomes: Counter) -> None:
    click.echo("outcome            count", err=True)
    for name in OUTCOMES + (UNREADABLE, NOT_TRIED):
        if outcomes[name]:
            click.echo(f"{name:<18} {outcomes[name]}", err=True)


def read_path(path: str, source: Optional[str]) -> List[Item]:
    """The records of an event file (- for stdin); a path that is no readable file is one sentence, exit 2."""
    if path == "-":
        return read(path, click.open_file(path, "rb").read(), source)
    where = Path(path)
    if where.is_dir():
        raise Refused(f"{path} is a directory: name the event files in it (e.g. {where / '*.json'})")
    try:
        data = where.read_bytes()
    except FileNotFoundError:
        raise Refused(f"{path}: no such file") from None
    except OSError as e:
        raise Refused(f"cannot read {path}: {e.strerror}") from None
    return read(path, data, source)
