"""Event sources as plugins: each source is one module of this package, behind `Source`, listed in `_REGISTERED`.

Everything that differs by source lives in its module: the rule type and its rules-file schema, the FC event shapes
it recognises and how it parses them, how a rule takes an event and how rules are looked up, what a release needs as
evidence, the texts the commands print and the s.yaml triggers it derives. The rest of the package asks the registry
(`get(rule.on)`, `get(event.source)`, `registry()`) and never tests which source a rule or an event is
(tests/test_sources.py holds that). docs/adding-a-source.md is the checklist for a new one.

The modules are imported at the registry's first use, not with this package, so any module may import this one (and
a source module may import any of them) without an import circle; a handler pays for the three small modules once,
when its rules load.
"""
from __future__ import annotations

import hashlib
import importlib
import json
from datetime import datetime, timezone
from typing import (TYPE_CHECKING, Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple,
                    Type)

if TYPE_CHECKING:                       # the types the contract names; importing them here would make a circle
    from ..events import Event, Parsed
    from ..rule import FieldSpec, Required, Rule
    from ..rulefile import Source as Spec
    from ..schedule import Schedule

# The registry: a new source adds its module's name here (the order is the one messages list them in).
_REGISTERED = ("oss", "mns", "timer", "rocketmq", "kafka", "rabbitmq", "http")

Captures = Dict[str, Any]
Problem = Callable[[str, str], None]            # (field, message), as rules.py reports a rule's problems


class Source:
    """What a source is to dwtrigger: one instance per source module (its `SOURCE`), stateless.

    Data members (class attributes):
    - `name`: the rules file's `on:` value, `Event.source`, the FC function's name (`functions/<name>/index.py`) and
      the folder of its samples (`events/<name>/`).
    - `rule`: its `Rule` subclass (frozen dataclass; `on` fixed to `name`), what `build` gives the fields of.
    - `schema`: its rules-file struct, a `rulefile.Source` subclass tagged `name`, holding only its own fields.
    - `shapes`: each wire shape (`Event.kind` prefix, named `<name>-...`) it recognises, with how messages describe
      it ("an OSS trigger event").
    - `expected`: what its function takes, for the rejection of anything else; None for the source that takes any
      text (`takes_any_text`).
    - `takes_any_text`: its function takes any UTF-8 text no source recognises (MNS STREAM bodies); recognition tries
      it last, and `events.source_of` gives it what no source recognises.
    - `document`: what its events' `document` is, as date-field errors name it ("message"); None when it has none.
    - `asks`: the sweep's evidence of a release includes the ledger's `asked` record of an event (so `expect` needs a
      `ledger`, and the relay notes each event that asks); False: its objects alone are the evidence.

    Methods (those raising NotImplementedError below are required; the others' defaults are a source's that lacks
    the feature; none raises unless it says so):
    - `shape(doc)`: the kind of the JSON object `doc` when it is one of `shapes`, else None. Never raises.
    - `parse(doc, text, received_at, stream_topic)`: one `Event` or `Rejected` per record of a delivery whose JSON is
      `doc` (`events.NOT_JSON` if none) and text `text`; may raise `events.Invalid` to reject the whole delivery
      (any other exception rejects it too, as a bug). Records are parsed lazily (`events.each`).
    - `build(spec, problem)`: the fields of `rule` its own schema's `spec` gives (a dict), each problem reported
      through `problem(field, message)`; None when a problem leaves nothing to build with.
    - `check_expect(fields, problem)`: its own problems with `expect:` (beside the common ones), given `build`'s
      fields.
    - `check(rule, event)`: (captures, how) when `rule` takes `event` (of this source), else (None, miss): a miss is
      `matching.Miss` (a format and its arguments, formatted only for `explain`).
    - `lookup(rules, rank)`: for this source's rules, a function giving the rules that may take an event (all that
      do, in the rules file's order by `rank`): the relay's index, a few dictionary lookups per event.
    - `date_field(rule)`: the message/payload field that names the business date or cycle, or None.
    - `files(rule, bucket)`: (the `Required` entries a release needs, the bucket of those naming none): `bucket` is
      the event's. ((), None): none.
    - `complete(store, rule, schedule, deadline)`: (the complete set of objects, "") or (None, what is missing) for
      the release of the schedule's business date. Raises `OssError` as the store does.
    - `decision_fields(rule, schedule)`: the sweep decision's source fields (bucket, key, topic, queue, timer).

    For a source that checks its deliveries and answers its caller (sources/http.py; the handler calls them):
    - `admit(parsed, rules, environ, call, memory)`: the parsed records, each passed on or replaced by a `Rejected`
      (its `code` becomes the decision's `error_code`): what the delivery is allowed to ask, judged with the
      environment (read now: secrets), the invocation `call` (its wall clock `call.now`, a rule's ledger
      `call.book_for(rule)`) and `memory`, a dict this source keeps per FC instance. Default: all passed on.
    - `answer(decisions)`: the handler's return value for the delivery's (logged) decisions, or None for the
      default: TriggerFailed raised when one `failed` (FC retries), else `{"outcomes": [records]}`.
    - `secrets(rules, environ)`: the values of its rules' secret variables, scrubbed from every line.

    For the commands (never called by a handler; anything they need beyond the rule is imported when called):
    - `vet(event, rules)`: why `admit` would refuse the event as far as that shows offline (`explain`), else None.
    - `summary(rule)`: the rule's source in a few words (`dwtrigger rules`' SOURCE column: "timer nightly").
    - `listed(rule)`: its own fields for `dwtrigger rules --json` (a dict of JSON values).
    - `files_dated(rule)`: whether its `files` name the business date (`doctor` looks for them only then).
    - `released_by`: how its files release it, for `doctor`'s advice ("the timer releases it only if ...").
    - `created(event)`: the (bucket, key) of the object an event reports created, for the demo to land; or None.
    - `explained()`: explain's options that build one of its events: {the option that selects it: (the options
      that belong to that event, the option it needs or None, build(options, when) -> (label, function, the JSON
      document as that function receives it))} (`built_at`, `built_id` help);
      `explain_options()`: those options, as click options (ops/cli.py adds them to `explain`).
    s.yaml's triggers (deploy/wiring.py; `t` is its Trigger: `kind`, `name`, `config`, `spec`, `arn_tail(sep)`):
    - `trigger_kinds`: the s.yaml trigger types its function takes ("oss"; "mns_topic", "eventbridge").
    - `takes_trigger(t)`: whether its function takes trigger `t` of one of those kinds (several sources take
      eventbridge triggers, each those of its own event source type).
    - `feeds(t, rule, s)`: whether trigger `t` (of one of those kinds, on its function) brings `rule` events it takes.
    - `wiring(rules, s, found, where)`: (trigger or None, problem) for each disagreement between its rules and its
      function's triggers (`found`: by kind); `where(rules, name)` says where a rule is, for the messages.
    `validate`'s warnings (ops/lint.py):
    - `never(rule)`: (field, message) for each thing that makes the rule unable to match any real event.
    - `templates(rule)`: (field, template) of its own key templates (`require` entries aside), checked for look-alikes.
    - `channels(rule)`: (kind, name, filtered) of each channel it listens on ("topic", "etl-done", has a pattern):
      rules on one channel without a filter overlap one another, and each filtered one on it; `together(kind, name)`
      says what such rules share ("are on timer 'nightly'").
    - `keyed(rule)`: (key template, buckets, events) when its rules overlap by key, found by lint's key search.
    - `overlap(a, b, example)`: why two of its rules overlap ('' if no witness shows they do); `example(template)`
      gives a template's example key, made once.
    """
    name: str
    rule: Type["Rule"]
    schema: Type["Spec"]
    shapes: Mapping[str, str]
    expected: Optional[str] = None
    takes_any_text = False
    document: Optional[str] = None
    asks = False

    def shape(self, doc: dict) -> Optional[str]:
        return None

    def parse(self, doc: object, text: str, received_at, stream_topic: Optional[str]) -> Iterable["Parsed"]:
        raise NotImplementedError

    def build(self, spec: "Spec", problem: Problem) -> Optional[dict]:
        raise NotImplementedError

    def check_expect(self, fields: Optional[dict], problem: Problem) -> None:
        return None

    def check(self, rule: "Rule", event: "Event") -> Tuple[Optional[Captures], Any]:
        raise NotImplementedError

    def lookup(self, rules: Sequence["Rule"], rank: Callable[["Rule"], int]) -> Callable[["Event"], List["Rule"]]:
        raise NotImplementedError

    def date_field(self, rule: "Rule") -> Optional["FieldSpec"]:
        return None

    def files(self, rule: "Rule", bucket: Optional[str]) -> Tuple[Tuple["Required", ...], Optional[str]]:
        return (), None

    def complete(self, store, rule: "Rule", schedule: "Schedule", deadline) -> Tuple[Optional[list], str]:
        """Its `files`, filled from the business date, all there (a timer's `require`)."""
        from ..evidence import files
        from ..templates import TemplateError

        try:
            wanted = files(rule, {}, schedule, None)
        except TemplateError as e:
            return None, f"its `require` cannot be named for the date: {e}"
        missing = store.missing(wanted, deadline)
        if missing:
            return None, "missing " + ", ".join(map(str, missing))
        return wanted, ""

    def decision_fields(self, rule: "Rule", schedule: "Schedule") -> Dict[str, Any]:
        return {}

    def admit(self, parsed: Iterable["Parsed"], rules, environ: Mapping[str, str], call,
              memory: dict) -> Iterable["Parsed"]:
        return parsed

    def answer(self, decisions: list) -> Optional[dict]:
        return None

    def vet(self, event: "Event", rules) -> Optional[str]:
        return None

    def secrets(self, rules, environ: Mapping[str, str]) -> Tuple[str, ...]:
        return ()

    def summary(self, rule: "Rule") -> str:
        raise NotImplementedError

    def listed(self, rule: "Rule") -> Dict[str, Any]:
        raise NotImplementedError

    def files_dated(self, rule: "Rule") -> bool:
        return True

    released_by = "the timer releases it only if they are there when it fires"

    def created(self, event: "Event") -> Optional[Tuple[str, str]]:
        return None

    trigger_kinds: Tuple[str, ...] = ()

    def takes_trigger(self, t) -> bool:
        return True

    def feeds(self, t, rule: "Rule", s: dict) -> bool:
        return False

    def wiring(self, rules, s: dict, found: Dict[str, list], where: Callable[[Any, str], str]) -> list:
        return []

    def explained(self) -> Dict[str, Tuple[Tuple[str, ...], Optional[str], Callable[[dict, Any], Any]]]:
        return {}

    def explain_options(self) -> list:
        return []

    def never(self, rule: "Rule") -> Iterable[Tuple[str, str]]:
        return ()

    def templates(self, rule: "Rule") -> List[Tuple[str, Any]]:
        return []

    def channels(self, rule: "Rule") -> List[Tuple[str, str, bool]]:
        return []

    def together(self, kind: str, name: str) -> str:
        return f"are on {kind} {name!r}"

    def keyed(self, rule: "Rule") -> Optional[Tuple[Any, Tuple[str, ...], FrozenSet[str]]]:
        return None

    def overlap(self, a: "Rule", b: "Rule", example: Callable[[Any], str]) -> str:
        return ""


def built_at(when: datetime, timespec: str) -> str:
    """A built event's time: UTC, `Z`, to `timespec` (as the clouds write them)."""
    return when.astimezone(timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def built_id(doc: dict) -> str:
    """A stable id for a built event: the same facts give the same id, as a redelivery would."""
    return hashlib.md5(json.dumps(doc, sort_keys=True).encode("utf-8", "surrogatepass")).hexdigest().upper()


_sources: Dict[str, Source] = {}


def registry() -> Dict[str, Source]:
    """Every source by name, in the registry's order (the modules imported at the first call). Tests may add one
    (`monkeypatch.setitem(registry(), name, source)`)."""
    if not _sources:
        for name in _REGISTERED:
            _sources[name] = importlib.import_module(f"{__name__}.{name}").SOURCE
    return _sources


def get(name: str) -> Source:
    """The source named `name` (`rule.on`, `event.source`). Raises KeyError for a name no source has."""
    return registry()[name]


def names() -> Tuple[str, ...]:
    return tuple(registry())
