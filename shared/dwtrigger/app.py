"""What the FC handlers call: one Runtime per instance (rules loaded once), one `run` per event.

`Runtime.run` is the one way in, for the handlers, the command line, the demo, the tests and the bench: it parses
the bytes, lets the relay decide, logs each decision the moment it is made (scrubbed of every secret) and returns
the decisions; it never raises for the event's sake. `handle` (the handlers' body) adds the raise: TriggerFailed
after all decisions of the event are made when any failed, so FC's async retries and the failure destination
take over.
"""
from __future__ import annotations

import importlib
import os
import time
import uuid
from datetime import datetime, timezone
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from . import dataworks, events, oss, sources
from .credentials import ClientCache, InvocationKeys, MissingCredentials, credential_client
from .dataworks import DataWorksError
from .outcomes import FAILED, Decision, DecisionLog
from .pacing import Pacers
from .relay import Invocation, Relay, Silence
from .retry import Backoff, Deadline, Observer
from .rule import Rule, RuleSet
from .rules import load_rules
from .settings import Settings
from .sweep import Sweep, Tally


class TriggerFailed(Exception):
    """Raised on purpose so FC retries the event and finally routes it to the failure destination."""

    def __init__(self, decisions: List[Decision]):
        self.decisions = decisions
        failed = [d for d in decisions if d.outcome == FAILED]
        parts = "; ".join(f"{d.rule} node {d.node}: {d.error_code}" for d in failed[:5])
        super().__init__(f"{len(failed)} of {len(decisions)} decisions failed ({parts})")


class Runtime:
    def __init__(self, rules: RuleSet, *, environ: Mapping[str, str] = os.environ, settings: Optional[Settings] = None,
                 log: Optional[DecisionLog] = None, dry_run: Optional[bool] = None,
                 backoff: Optional[Backoff] = None, sleep: Callable[[float], None] = time.sleep,
                 wall_clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 observe: Optional[Observer] = None, silence: Optional[Silence] = None):
        self.rules, self.environ = rules, environ       # the environment: the role's keys, the channels' secrets
        self.settings = settings or Settings.read(environ)     # everything else it holds, checked here, at start
        self.silence = silence          # one shared by every invocation (the command line's); else one for each
        self.log = log or DecisionLog()
        self.dry_run = self.settings.dry_run if dry_run is None else dry_run
        self.wall_clock = wall_clock
        self.clients = ClientCache()
        self.pacers = Pacers(self.settings.dataworks_qps)  # this FC instance's share of each DataWorks quota
        # An MNS rule naming neither topic nor queue takes STREAM messages, which name no topic, as they come.
        self._any_topic = events.ANY_TOPIC if rules.takes_any_message() else None
        self.relay = Relay(rules, dry_run=self.dry_run, backoff=backoff, sleep=sleep, observe=observe)
        self.notifying = any(rule.notify is not None for rule in rules.rules)
        self.notice_secrets: Tuple[str, ...] = ()       # the channels' URLs and secrets: scrubbed from every line
        if self.notifying:
            from . import notify
            self.notice_secrets = notify.secrets(rules.rules, environ)
        self.kept: Dict[str, dict] = {}     # what each source remembers in this FC instance (Source.admit)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> "Runtime":
        settings = Settings.read(environ)
        return cls(load_rules(settings.rules_path), environ=environ, settings=settings)

    def run(self, source: str, raw, context) -> List[Decision]:
        """Every decision of one delivery to the `source` function, each logged as it was made."""
        started, received = time.monotonic(), self.wall_clock()
        parsed = events.records(source, raw, received, self.settings.mns_topic or self._any_topic)
        known = sources.registry().get(source)
        return self._run(context, started, lambda call, _: self.relay.decide(
            parsed if known is None else known.admit(parsed, self.rules, self.environ, call,
                                                      self.kept.setdefault(source, {})), call))

    def sweep(self, context, now: Optional[datetime] = None) -> Tuple[List[Decision], Tally]:
        """One run of the sweep (see sweep.py): its decisions, each logged as made, and its summary (logged too);
        then, with `defaults.status_page`, the board it leaves (board/publish.py: no DataWorks call of its own)."""
        started, tally = time.monotonic(), Tally()
        when = now or self.wall_clock()
        sweep = Sweep(self.relay, self.rules, pace_s=1 / self.settings.sweep_qps)
        learned = importlib.import_module(".board", __package__).Learned() if self.rules.status_page else None
        decisions = self._run(context, started, lambda call, keys: sweep.run(learned.watch(call) if learned else call,
                                                                              when, tally, self._notices(keys)))
        self.log.note("sweep", tally.__dict__)
        if learned is not None:
            call, keys = self.invocation(context, started)
            importlib.import_module(".board.publish", __package__).publish(
                self.rules, when, call, learned, decisions, lambda: self.store_in(keys, self.rules.status_page.region),
                self.log, keys.scrub)
        return decisions, tally

    def _notices(self, keys: InvocationKeys):
        """What settles the sweep's notices (notices.py), each line scrubbed; imported only when a rule has `notify`."""
        if not self.notifying:
            return None
        from .notices import Notices
        return Notices(self.relay, self.environ, lambda fields: self.log.note("notice", fields),
                       lambda text: keys.scrub(text))

    def release_by_hand(self, rule_name: str, captures: dict, node: Optional[int], context) -> List[Decision]:
        """`dwtrigger trigger`: the same resolution, calls and log lines as an event, without an event."""
        rule = self.rules.named(rule_name)
        event = events.Event(rule.on, "manual", f"manual:{uuid.uuid4()}", self.wall_clock())
        started = time.monotonic()
        return self._run(context, started, lambda call, _: self.relay.release(rule, captures, event, call, node))

    def invocation(self, context, started: float) -> Tuple[Invocation, InvocationKeys]:
        """What one invocation lends the relay (and `dwtrigger doctor`, which only reads): its deadline, and
        DataWorks, OSS and the ledger for a rule through its keys, which also scrub whatever is written."""
        # Read on every invocation: FC rotates the keys, and a source's secrets are read when they are used.
        also = self.notice_secrets + tuple(secret for source in sources.registry().values()
                                           for secret in source.secrets(self.rules, self.environ))
        keys = InvocationKeys(context, self.environ, also)
        deadline = Deadline.for_invocation(context, started)
        return Invocation(deadline, lambda rule: self.port_for(keys, rule), lambda rule: self.store_for(keys, rule),
                          self.wall_clock, self.endpoint, self.silence or Silence()), keys

    def _run(self, context, started: float,
             decide: Callable[[Invocation, InvocationKeys], Iterable[Decision]]) -> List[Decision]:
        self.log.bind(context)
        call, keys = self.invocation(context, started)
        made = []
        for decision in decide(call, keys):
            decision = decision.scrubbed(keys.scrub)
            self.log.write(decision)                       # on record before the next decision starts
            made.append(decision)
        return made

    def endpoint(self, rule: Rule) -> str:
        """The DataWorks endpoint a rule's calls go to: DWTRIGGER_ENDPOINT, the rule's `endpoint`, its region's."""
        return self.settings.endpoint or rule.endpoint or f"dataworks.{rule.region}.aliyuncs.com"

    def port_for(self, keys: InvocationKeys, rule: Rule) -> dataworks.DataWorks:
        """The DataWorks adapter for a rule: its API, endpoint and role from the rule (or the environment's
        overrides), reused across invocations while the keys stay the same."""
        role_keys = self._keys(keys, DataWorksError)
        endpoint = self.endpoint(rule)
        sts = self.settings.sts_endpoint or (f"sts.{rule.region}.aliyuncs.com" if rule.region else None)
        protocol = self.settings.protocol
        shape = ("dataworks", rule.api, endpoint, protocol, rule.role_arn, sts)
        return self.clients.get(role_keys, shape, lambda: dataworks.adapter(
            rule.api, endpoint, protocol, credential_client(role_keys, rule.role_arn, sts), self.pacers(endpoint)))

    def store_for(self, keys: InvocationKeys, rule: Rule) -> oss.ObjectStore:
        """The OSS adapter for a rule's `require` checks: the rule's region with the function's own role (a
        `role_arn` is for DataWorks), DWTRIGGER_OSS_ENDPOINT for a local stand-in."""
        return self.store_in(keys, rule.region)

    def store_in(self, keys: InvocationKeys, region: str) -> oss.ObjectStore:
        """The OSS adapter for a region's buckets (a rule's, the status page's)."""
        role_keys = self._keys(keys, oss.OssError)
        endpoint, protocol, internal = self.settings.oss_endpoint, self.settings.protocol, self.settings.oss_internal
        shape = ("oss", region, endpoint, protocol, internal)
        return self.clients.get(role_keys, shape, lambda: oss.store(region, endpoint, protocol, internal, role_keys))

    @staticmethod
    def _keys(keys: InvocationKeys, error):
        try:
            return keys.get()
        except MissingCredentials as e:
            raise error("NoCredentials", str(e), retryable=False) from None


_runtime: Optional[Runtime] = None


def warm_up() -> None:
    """For FC's instance initializer: load the rules and import the SDKs they need (the DataWorks APIs they use,
    OSS when one requires objects) before the first event waits for them. A broken rules file fails the instance
    here, before any event is taken."""
    global _runtime
    _runtime = Runtime.from_environment()
    for api in sorted({rule.api for rule in _runtime.rules.rules}):
        dataworks.load(api)
    if any(getattr(rule, "require", ()) or rule.ledger or rule.expect for rule in _runtime.rules.rules) or \
            _runtime.rules.status_page:
        oss.load()


def use_runtime(runtime: Optional[Runtime]) -> None:
    """Let a local driver (demo, tests) choose the runtime the real handlers use; None reloads from the env."""
    global _runtime
    _runtime = runtime


def handle_sweep(event, context) -> Dict[str, object]:
    """The sweep function's body: it sweeps as of the time its timer fired (the wall clock for any other event).
    It never raises for a decision: its next run is the retry."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime.from_environment()
    fired = events.parse("timer", event, _runtime.wall_clock())
    when = fired[0].time if len(fired) == 1 and isinstance(fired[0], events.Event) else None
    decisions, tally = _runtime.sweep(context, when)
    return {"outcomes": [d.record() for d in decisions], "summary": tally.__dict__}


def handle(source: str, event, context) -> Dict[str, object]:
    """The body of every FC handler: `run`, then the source's answer (`Source.answer`: an HTTP trigger's response)
    or else raise TriggerFailed when a decision failed (FC retries it). A broken rules file raises here on every
    call: refuse, never guess."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime.from_environment()
    decisions = _runtime.run(source, event, context)
    answer = sources.get(source).answer(decisions) if source in sources.registry() else None
    if answer is not None:
        return answer
    if any(d.outcome == FAILED for d in decisions):
        raise TriggerFailed(decisions)
    return {"outcomes": [d.record() for d in decisions]}
