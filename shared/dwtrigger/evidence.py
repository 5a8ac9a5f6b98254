"""What shows a release is due — one answer for the relay's gate and for the sweep, so the sweep never releases
what the gate would hold back.

An OSS rule's evidence for a release is its key and every `require` entry, all filled from the same captures: an
event's, or those of a key the sweep finds for the business date (`{table}` of one table's `_SUCCESS` never vouches
for another table's `_COUNTS`). A timer rule's is its `require` entries, filled from the business date (and for the
sweep, the ledger's record that its timer fired). An MNS rule has no files: the ledger's `asked` record is all the
sweep can go by.
"""
from __future__ import annotations

from typing import Any, Callable, List, Mapping, Optional, Tuple

import msgspec

from .ledger import Book
from .oss import ObjectStore, Wanted
from .retry import Deadline
from . import sources
from .rule import Rule, Target
from .schedule import Schedule, written


def files(rule: Rule, captures: Mapping[str, Any], schedule: Schedule, bucket: Optional[str]) -> List[Wanted]:
    """The objects a release of `rule` needs: an OSS rule's key and `require` entries (in `bucket`, the event's),
    a timer rule's entries (in its `bucket`), each filled from `captures` and the dates as the files name them
    (less the rule's `bizdate_offset`), an entry naming its own bucket there. None for an MNS rule. Raises
    TemplateError when an entry names something neither gives (a timer's {cycle} without a scheduled time)."""
    entries, home = sources.get(rule.on).files(rule, bucket)
    if not entries:
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
    business date, as its source finds it (`Source.complete`: an OSS rule's keys of the date, each with the
    `require` entries its own captures name; a timer rule's entries, a wildcard one as named). Raises OssError
    (retryable or not) as the store does: a store that cannot answer is not a missing file."""
    return sources.get(rule.on).complete(store, rule, schedule, deadline)


class Evidence(msgspec.Struct, frozen=True):
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
    if not sources.get(rule.on).asks:
        objects, missing = complete(store(), rule, schedule, deadline)
        return Evidence(objects=tuple(objects or ()), missing=missing)
    if not book.was_asked(rule.name, target.node, schedule.biz_date):
        return Evidence(missing="no event asked for this release (the ledger has no record of one)")
    record = book.where_asked(rule.name, target.node, schedule.biz_date)
    if not sources.get(rule.on).files(rule, None)[0]:
        return Evidence(asked=record)
    objects, missing = complete(store(), rule, schedule, deadline)
    if objects is None:
        return Evidence(asked=record, missing=f"its timer fired ({record}), {missing}")
    return Evidence(objects=tuple(objects), asked=record)
