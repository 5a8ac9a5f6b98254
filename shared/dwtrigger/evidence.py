"""What shows a release is due — one answer for the relay's gate and for the sweep, so the sweep never releases
what the gate would hold back.

An OSS rule's evidence for a release is its key and every `require` entry, all filled from the same captures: an
event's, or those of a key the sweep finds for the business date (`{table}` of one table's `_SUCCESS` never vouches
for another table's `_COUNTS`). A timer rule's is its `require` entries, filled from the business date (and for the
sweep, the ledger's record that its timer fired). An MNS rule has no files: the ledger's `asked` record is all the
sweep can go by.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional, Tuple

from .ledger import Book
from .oss import ObjectStore, Wanted
from .retry import Deadline
from .rule import OssRule, Required, Rule, Target, TimerRule
from .schedule import Schedule, written
from .templates import Template, TemplateError

CANDIDATES = 20          # keys of one date the sweep tries as the captures of a complete set, per bucket


def files(rule: Rule, captures: Mapping[str, Any], schedule: Schedule, bucket: Optional[str]) -> List[Wanted]:
    """The objects a release of `rule` needs: an OSS rule's key and `require` entries (in `bucket`, the event's),
    a timer rule's entries (in its `bucket`), each filled from `captures` and the dates as the files name them
    (less the rule's `bizdate_offset`), an entry naming its own bucket there. None for an MNS rule. Raises
    TemplateError when an entry names something neither gives (a timer's {cycle} without a scheduled time)."""
    if isinstance(rule, OssRule):
        entries, home = (Required(None, rule.key),) + rule.require, bucket
    elif isinstance(rule, TimerRule):
        entries, home = rule.require, rule.bucket
    else:
        return []
    values = {**captures, **written(rule, schedule)}
    return [Wanted(entry.bucket or home, entry.key.partial(values)) for entry in entries]


def found(store: ObjectStore, rule: Rule, schedule: Schedule, deadline: Deadline) -> Tuple[Optional[str], str]:
    """(the evidence, "") or (None, what is missing) for the rule's release of the schedule's business date, from
    the objects alone: `complete`'s set, said."""
    objects, missing = complete(store, rule, schedule, deadline)
    return (None, missing) if objects is None else (", ".join(map(str, objects)), "")


def complete(store: ObjectStore, rule: Rule, schedule: Schedule,
             deadline: Deadline) -> Tuple[Optional[List[Wanted]], str]:
    """(the complete set of objects, "") or (None, what is missing) for the rule's release of the schedule's
    business date. An OSS rule: keys its template matches for the date (the first CANDIDATES of each bucket),
    each with the `require` entries its own captures name, until one set is complete (the key found first, as a
    literal). A timer rule: its entries (a wildcard one as named). Raises OssError (retryable or not) as the store
    does: a store that cannot answer is not a missing file."""
    if isinstance(rule, TimerRule):
        try:
            wanted = files(rule, {}, schedule, None)
        except TemplateError as e:
            return None, f"its `require` cannot be named for the date: {e}"
        missing = store.missing(wanted, deadline)
        if missing:
            return None, "missing " + ", ".join(map(str, missing))
        return wanted, ""
    gaps = []
    for bucket in rule.buckets:
        pattern = rule.key.partial(written(rule, schedule), loose=True)
        keys = store.find(bucket, pattern, deadline, CANDIDATES)
        if not keys and pattern.is_literal:       # the date names every file: say all that is missing
            others = files(rule, rule.key.match(pattern.prefix) or {}, schedule, bucket)[1:]
            gaps.append("missing " + ", ".join(map(str, [Wanted(bucket, pattern)] + store.missing(others, deadline))))
        elif not keys:
            gaps.append(f"missing {Wanted(bucket, pattern)}")
        for key in keys:
            captures = rule.key.match(key) or {}
            wanted = [w for w in files(rule, captures, schedule, bucket) if (w.bucket, w.key.source) != (bucket, key)]
            missing = store.missing(wanted, deadline)
            if not missing:
                return [Wanted(bucket, Template(key, (key,)))] + wanted, ""
            if len(gaps) < 3:
                gaps.append(f"oss://{bucket}/{key} is there, missing " + ", ".join(map(str, missing)))
    return None, "; ".join(gaps)


@dataclass(frozen=True)
class Evidence:
    """A release's evidence as the sweep (and the board) reads it: the ledger knows the instance ran (`done`), or
    the objects and the ledger's `asked` record there are, or what is missing."""
    done: bool = False
    objects: Tuple[Wanted, ...] = ()
    asked: Optional[str] = None        # oss://ledger/asked/...: an event asked for the release (MNS, timer)
    missing: str = ""

    @property
    def text(self) -> Optional[str]:
        """The evidence in a few words, None when there is none (or the release is done)."""
        if self.done or self.missing or not (self.asked or self.objects):
            return None
        return ", ".join(([self.asked] if self.asked else []) + [str(w) for w in self.objects])


def read(rule: Rule, target: Target, schedule: Schedule, book: Optional[Book], store: Callable[[], ObjectStore],
         deadline: Deadline) -> Evidence:
    """The ledger's `done` first; then an OSS rule's objects (`complete`), an MNS or timer rule's `asked` record
    and a timer's `require` entries. Raises as the store does."""
    if book is not None and book.is_done(rule.api, target.workspace, target.node, schedule.biz_date,
                                         schedule.cycle_ms):
        return Evidence(done=True)
    if isinstance(rule, OssRule):
        objects, missing = complete(store(), rule, schedule, deadline)
        return Evidence(objects=tuple(objects or ()), missing=missing)
    if not book.was_asked(rule.name, target.node, schedule.biz_date):
        return Evidence(missing="no event asked for this release (the ledger has no record of one)")
    record = book.where_asked(rule.name, target.node, schedule.biz_date)
    if not (isinstance(rule, TimerRule) and rule.require):
        return Evidence(asked=record)
    objects, missing = complete(store(), rule, schedule, deadline)
    if objects is None:
        return Evidence(asked=record, missing=f"its timer fired ({record}), {missing}")
    return Evidence(objects=tuple(objects), asked=record)
