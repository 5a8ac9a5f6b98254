"""The ledger in OSS: a rule's `ledger: oss://bucket/prefix/` keeps each record as a small JSON object, through the
OSS port (ObjectStore). The names and bytes below are what deployed ledgers hold: they do not change.

  claims/<api>/<workspace>/<node>/<cycle ms>/<n>.json   the n-th send of an instance (n zero-padded to 4 digits):
                                                        created only if absent (PutObject, forbid overwrite),
                                                        then overwritten with what happened
  done/<api>/<workspace>/<node>/<business date>/<cycle ms|day>.json   the instance ran: `{}`
  seen/<api>/<workspace>/<node>/<business date>/<cycle ms|day>.json   what a delivery saw become of it (Sighting)
  asked/<rule>/<node>/<business date>.json              an event asked for this release: `{"event_id": ...}`
  noticed/<rule>/<node>/<business date>/<kind>.json     a notice about the release (ledger.Notice)
  requests/<rule>/<sha256 of the request_id>.json       the body an `on: http` request_id names (ledger.Request):
                                                        created only if absent, overwritten once past its time

A claim's name must be ASCII digits (int() takes '١٢' and '①' too); listings find the latest claim, a day's sends
and a rule's notices.
"""
from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from typing import Callable, Dict, List, Optional, Set, Tuple

import msgspec

from . import NOTICE, NOTICES, REQUEST, SIGHTING, Book, Entry, Notice, Request, Sighting, Slot, ms, understood
from ..oss import ObjectStore
from ..retry import Deadline

_NUMBER = re.compile(r"[0-9]+\.json\Z")     # a claim's name: ASCII digits only


class Adapter(Book):
    """The Book over an object store: `where` (rules.Ledger) names the bucket and prefix; every call raises
    OssError (a RemoteError) as the store does."""

    def __init__(self, where, deadline: Deadline, now: Callable[[], datetime], store: Callable[[], ObjectStore]):
        super().__init__(deadline, now)
        self.ledger, self.store = where, store()

    def create_claim(self, slot: Slot, n: int, entry: Entry) -> bool:
        return self.store.create(self.ledger.bucket, self._key(claim(slot, n)), msgspec.json.encode(entry),
                                 self.deadline)

    def write_claim(self, slot: Slot, n: int, entry: Entry) -> None:
        self._write(claim(slot, n), entry)

    def read(self, slot: Slot, n: int) -> Optional[Entry]:
        return understood(self._read(claim(slot, n)), ms(self.now()))

    def latest(self, slot: Slot) -> Tuple[int, Optional[Entry]]:
        keys = self.store.keys(self.ledger.bucket, self._key(claim(slot, 0)[:-len("0000.json")]), self.deadline)
        numbers = sorted(int(name[:-5]) for name in (k.rsplit("/", 1)[-1] for k in keys) if _NUMBER.match(name))
        if not numbers:
            return 0, None
        return numbers[-1], self.read(slot, numbers[-1])

    def sends(self, api: str, workspace: int, node: int, since_ms: int,
              until_ms: int) -> List[Tuple[Slot, int, Optional[Entry]]]:
        folder = self._key(f"claims/{api}/{workspace}/{node}/")
        found = []
        for key in self.store.keys(self.ledger.bucket, folder, self.deadline):
            cycle, _, name = key[len(folder):].partition("/")
            if cycle.isascii() and cycle.isdigit() and since_ms <= int(cycle) < until_ms and _NUMBER.match(name):
                slot = Slot(api, workspace, node, int(cycle))
                found.append((slot, int(name[:-5]), self.read(slot, int(name[:-5]))))
        return sorted(found, key=lambda sent: (sent[0].cycle_ms, sent[1]))

    def where(self, slot: Slot, n: int) -> str:
        return f"{self.ledger}{claim(slot, n) if n else claim(slot, 0)[:-len('0000.json')]}"

    def mark_done(self, api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int]) -> None:
        self.store.write(self.ledger.bucket, self._key(_done(api, workspace, node, biz_date, cycle_ms)), b"{}",
                         self.deadline)

    def is_done(self, api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int]) -> bool:
        return self._read(_done(api, workspace, node, biz_date, cycle_ms)) is not None

    def note_seen(self, api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int],
                  sighting: Sighting) -> None:
        self._write(_instance("seen", api, workspace, node, biz_date, cycle_ms), sighting)

    def seen(self, api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int]) -> Optional[Sighting]:
        try:
            return SIGHTING.decode(self._read(_instance("seen", api, workspace, node, biz_date, cycle_ms)) or b"")
        except msgspec.DecodeError:
            return None

    def note_asked(self, rule: str, node: int, biz_date: date, event_id: str) -> None:
        self.store.write(self.ledger.bucket, self._key(asked(rule, node, biz_date)),
                         msgspec.json.encode({"event_id": event_id}), self.deadline)

    def was_asked(self, rule: str, node: int, biz_date: date) -> bool:
        return self._read(asked(rule, node, biz_date)) is not None

    def where_asked(self, rule: str, node: int, biz_date: date) -> str:
        return f"{self.ledger}{asked(rule, node, biz_date)}"

    def notices(self, rule: str, node: int, biz_date: date) -> Dict[str, Notice]:
        folder = self._key(noticed(rule, node, biz_date, ""))
        found: Dict[str, Notice] = {}
        for key in self.store.keys(self.ledger.bucket, folder, self.deadline):
            kind = key[len(folder):-len(".json")]
            if kind not in NOTICES or not key.endswith(".json"):
                continue
            notice = _notice(self.store.read(self.ledger.bucket, key, self.deadline), kind)
            if notice is not None:
                found[kind] = notice
        return found

    def notice(self, rule: str, node: int, biz_date: date, kind: str) -> Optional[Notice]:
        return _notice(self._read(noticed(rule, node, biz_date, kind)), kind)

    def noticed(self, rule: str) -> Set[Tuple[int, str, str]]:
        folder = self._key(f"noticed/{rule}/")
        found = set()
        for key in self.store.keys(self.ledger.bucket, folder, self.deadline):
            node, _, rest = key[len(folder):].partition("/")
            day, _, name = rest.partition("/")
            kind = name[:-len(".json")]
            if node.isascii() and node.isdigit() and name.endswith(".json") and kind in NOTICES:
                found.add((int(node), day, kind))
        return found

    def note(self, rule: str, node: int, biz_date: date, notice: Notice) -> None:
        self._write(noticed(rule, node, biz_date, notice.kind), notice)

    def note_first(self, rule: str, node: int, biz_date: date, notice: Notice) -> bool:
        return self.store.create(self.ledger.bucket, self._key(noticed(rule, node, biz_date, notice.kind)),
                                 msgspec.json.encode(notice), self.deadline)

    def create_request(self, rule: str, request_id: str, request: Request) -> bool:
        return self.store.create(self.ledger.bucket, self._key(requested(rule, request_id)),
                                 msgspec.json.encode(request), self.deadline)

    def read_request(self, rule: str, request_id: str) -> Optional[Request]:
        try:
            return REQUEST.decode(self._read(requested(rule, request_id)) or b"")
        except msgspec.DecodeError:
            return None

    def write_request(self, rule: str, request_id: str, request: Request) -> None:
        self._write(requested(rule, request_id), request)

    def _read(self, name: str) -> Optional[bytes]:
        return self.store.read(self.ledger.bucket, self._key(name), self.deadline)

    def _write(self, name: str, record: msgspec.Struct) -> None:
        self.store.write(self.ledger.bucket, self._key(name), msgspec.json.encode(record), self.deadline)

    def _key(self, name: str) -> str:
        return f"{self.ledger.prefix}{name}"


def _notice(body: Optional[bytes], kind: str) -> Optional[Notice]:
    """A notice object's content as one of ours of `kind`, or None."""
    try:
        notice = NOTICE.decode(body or b"")
    except msgspec.DecodeError:
        return None
    return notice if notice.kind == kind else None


def claim(slot: Slot, n: int) -> str:
    return f"claims/{slot.api}/{slot.workspace}/{slot.node}/{slot.cycle_ms}/{n:04d}.json"


def asked(rule: str, node: int, biz_date: date) -> str:
    return f"asked/{rule}/{node}/{biz_date:%Y-%m-%d}.json"


def requested(rule: str, request_id: str) -> str:
    """A request's record: the id hashed, so any text the caller chose names one object."""
    return f"requests/{rule}/{hashlib.sha256(request_id.encode('utf-8', 'surrogatepass')).hexdigest()}.json"


def noticed(rule: str, node: int, biz_date: date, kind: str) -> str:
    """A notice's object name; `kind` "" names the release's folder of notices."""
    return f"noticed/{rule}/{node}/{biz_date:%Y-%m-%d}/" + (f"{kind}.json" if kind else "")


def _done(api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int]) -> str:
    return _instance("done", api, workspace, node, biz_date, cycle_ms)


def _instance(kind: str, api: str, workspace: int, node: int, biz_date: date, cycle_ms: Optional[int]) -> str:
    return f"{kind}/{api}/{workspace}/{node}/{biz_date:%Y-%m-%d}/{cycle_ms or 'day'}.json"
