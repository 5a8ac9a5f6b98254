"""The rules as the package uses them: frozen, typed values, made by the loader (rules.py).

The modules that act on rules (matching, schedule, relay, sweep, evidence, ledger, notify, the board, the commands)
import these types and nothing of how a rules file is read and checked, which lives in rules.py.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import time
from typing import Optional, Tuple
from zoneinfo import ZoneInfo

from .templates import Template

# Message field formats that are not strptime formats: an instant, converted into the rule's time zone.
INSTANT_FORMATS = ("epoch_ms", "epoch_s", "iso")



@dataclass(frozen=True)
class Target:
    workspace: int
    node: int
    at: Optional[time]
    lookup: bool


@dataclass(frozen=True)
class FieldSpec:
    """A business date or cycle time read from a JSON message/payload field (dotted path): `format` is a strptime
    format (a wall-clock time in the rule's zone) or one of INSTANT_FORMATS (an instant)."""
    path: Tuple[str, ...]
    format: str
    is_cycle: bool


@dataclass(frozen=True)
class Required:
    """A `require` entry: `key` is filled from the event (`Template.partial`); bucket None is the event's bucket
    (OSS rules) or the rule's `bucket` (timer rules). `line`: where the entry is written, for messages."""
    bucket: Optional[str]
    key: Template
    line: Optional[int] = dataclasses.field(default=None, compare=False)


@dataclass(frozen=True)
class Place:
    """Objects under `prefix` (ends in '/' or is empty) in `bucket`, as the rules file writes them: oss://B/P."""
    bucket: str
    prefix: str

    def __str__(self) -> str:
        return f"oss://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class Ledger(Place):
    """Where the relay remembers what it sent."""


@dataclass(frozen=True)
class Channel:
    """Where the sweep's notices go: `name` as the rules file names it (dingtalk, webhook), and the environment
    variables holding its URL and its signing secret, read when a notice is sent (never written in the file)."""
    name: str
    url_env: str
    secret_env: str


@dataclass(frozen=True)
class Notify:
    """`notify:`: the channels of a rule's notices (overdue, released_late, stuck), which the sweep sends."""
    channels: Tuple[Channel, ...]
    line: Optional[int] = dataclasses.field(default=None, compare=False)    # the rule's own `notify`; None: defaults'


@dataclass(frozen=True)
class StatusPage(Place):
    """`defaults.status_page: oss://bucket/prefix/`: the sweep writes the day's board there on every run
    (`<prefix>index.html`, and `<prefix><date>.html`), in `region` (the defaults', which OSS signs for)."""
    region: str


@dataclass(frozen=True)
class Expect:
    """The sweep re-checks the rule's last `days` business dates; a date with no evidence by `by` (local time on
    the day after it) is overdue."""
    by: time
    days: int


@dataclass(frozen=True, kw_only=True)
class Rule:
    """What every rule has; each source's rule type (sources/) adds its own fields (and fixes `on`)."""
    name: str
    on: str
    timezone: ZoneInfo
    region: Optional[str]
    endpoint: Optional[str]
    api: str
    env: str
    role_arn: Optional[str]
    trigger: Tuple[Target, ...]
    ledger: Optional[Ledger] = None
    expect: Optional[Expect] = None
    notify: Optional[Notify] = None
    bizdate_offset: int = 0             # days from the date the rule reads (capture or field) to the business date
    line: Optional[int] = None          # where the rule starts in the file, for messages
    # Whether it takes messages of any topic, so STREAM messages naming none are taken as they come (sources/mns.py).
    takes_any_message = False


@dataclass(frozen=True)
class RuleSet:
    rules: Tuple[Rule, ...]             # the rules in play, in file order
    path: str
    disabled: Tuple[Rule, ...] = ()     # `enabled: false`: validated like the others, out of play
    status_page: Optional["StatusPage"] = None      # `defaults.status_page`: where the sweep publishes the board

    def for_source(self, source: str) -> Tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.on == source)

    def takes_any_message(self) -> bool:
        """Whether a rule in play takes any message, of any topic (an MNS rule naming neither topic nor queue)."""
        return any(r.takes_any_message for r in self.rules)

    def named(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        for rule in self.disabled:
            if rule.name == name:
                raise LookupError(f"rule {name!r} is disabled (`enabled: false`, {self.path}:{rule.line}): it "
                                  "releases nothing until it is enabled")
        raise LookupError(f"no rule named {name!r} in {self.path}")
