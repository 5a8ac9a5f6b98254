"""What `dwtrigger logs setup` makes SLS hold, as the JSON of SLS's 2020-12-30 API: the project, the logstore, its
index, the saved searches docs/deploy.md uses and the alert rules. Pure data: logs.py compares it with what SLS holds.

FC writes each stdout line of a function into the `message` field of one log (topic `FCLogs:<function>`), so the
index is a JSON index on `message` whose leaves are the decision record's fields (outcomes.Decision: the one list,
typed from its annotations), the fields the decision log adds around them, and the sweep summary line's counts
(sweep.Tally, under `sweep`). SLS JSON indexes take leaf nodes only: each is `name` or `sweep.name`.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Dict, List, Tuple

from ..outcomes import Decision
from ..sweep import Tally

TTL_DAYS = 30                   # the ledger's lifecycle (docs/sweep.md): nothing reads decisions older than a month
SHARDS, MAX_SHARDS = 2, 16      # each shard takes 5 MB/s of writes; auto split grows them under load
ACTION_POLICY = "sls.builtin"   # SLS's built-in action policy; `--action-policy` names one with your channels
ALERT_POLICY = "sls.builtin.dynamic"   # SLS's built-in alert policy: notifies through the rule's action policy
# SLS's default delimiters (the console's), for the full-text index and the text fields.
TOKENS = [",", " ", "'", '"', ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":", "\n",
          "\t", "\r"]
# What the decision log writes around a decision's fields (outcomes.DecisionLog: Powertools' `level`, `message`,
# `timestamp`, `service`; the invocation's `request_id` and `function_name`).
ENVELOPE = ("level", "message", "timestamp", "service", "request_id", "function_name")
_SLS_TYPE = {str: "text", int: "long", float: "double", bool: "text"}   # SLS has no boolean: "true"/"false"


def _typed(cls) -> Dict[str, str]:
    """Each field of a msgspec Struct or dataclass and its SLS type, from its annotations (Optional[X] is X)."""
    hints = typing.get_type_hints(cls)
    names = cls.__struct_fields__ if hasattr(cls, "__struct_fields__") else [f.name for f in dataclasses.fields(cls)]
    out = {}
    for name in names:
        hint = hints[name]
        inner = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        out[name] = _SLS_TYPE[inner[0]]
    return out


def index_fields() -> Dict[str, str]:
    """Every leaf of a decision line and of the sweep summary line, and its SLS type."""
    fields = {name: "text" for name in ENVELOPE}
    fields.update(_typed(Decision))
    fields.update({f"sweep.{name}": kind for name, kind in _typed(Tally).items()})
    return fields


def _text() -> dict:
    return {"token": TOKENS, "caseSensitive": False, "chn": False}


def index() -> dict:
    """The logstore's index: full text, `message` as JSON with every leaf typed and analysed, FC's functionName."""
    leaves = {name: {"type": kind, "doc_value": True} for name, kind in sorted(index_fields().items())}
    return {"line": _text(),
            "keys": {"message": {"type": "json", **_text(), "doc_value": True, "index_all": True, "max_depth": 3,
                                 "json_keys": leaves},
                     "functionName": {"type": "text", **_text(), "doc_value": True}}}


def logstore(name: str) -> dict:
    return {"logstoreName": name, "ttl": TTL_DAYS, "shardCount": SHARDS, "autoSplit": True,
            "maxSplitShard": MAX_SHARDS}


# docs/deploy.md's queries ("Watch outcomes in SLS"), each a saved search: (name, what it shows, query).
SAVED_SEARCHES: Tuple[Tuple[str, str, str], ...] = (
    ("dwtrigger-failures", "dwtrigger: failures by rule and code",
     'message.outcome: failed | SELECT "message.rule" AS rule, "message.error_code" AS error_code, count(*) AS n '
     "GROUP BY rule, error_code ORDER BY n DESC"),
    ("dwtrigger-outcomes", "dwtrigger: outcomes by count",
     '* | SELECT "message.outcome" AS outcome, count(*) AS n WHERE "message.outcome" IS NOT NULL GROUP BY outcome '
     "ORDER BY n DESC"),
    ("dwtrigger-rule-date", "dwtrigger: one rule's business date (edit the rule and date)",
     'message.rule: "orders-daily" and message.biz_date: "2026-03-10"'),
    ("dwtrigger-overdue", "dwtrigger: overdue business dates",
     'message.outcome: overdue | SELECT "message.rule" AS rule, "message.biz_date" AS biz_date, '
     '"message.reason" AS reason, count(*) AS n GROUP BY rule, biz_date, reason'),
    ("dwtrigger-sweep-deadline", "dwtrigger: sweep runs stopped at their deadline",
     "message.sweep.stopped_at_deadline: true"),
)


def saved_searches(logstore_name: str) -> List[dict]:
    return [{"savedsearchName": name, "displayName": shown, "logstore": logstore_name, "topic": "",
             "searchQuery": query} for name, shown, query in SAVED_SEARCHES]


def _query(name: str) -> str:
    return next(query for found, _, query in SAVED_SEARCHES if found == name)


# The alert rules: (name, what fires it, query, window, condition, severity: 8 high, 6 medium).
ALERTS: Tuple[Tuple[str, str, str, str, str, int], ...] = (
    ("dwtrigger-failed", "dwtrigger: failed decisions", _query("dwtrigger-failures"), "-10m", "n > 0", 8),
    ("dwtrigger-overdue", "dwtrigger: overdue business dates", _query("dwtrigger-overdue"), "-10m", "n > 0", 6),
    ("dwtrigger-sweep-deadline", "dwtrigger: the sweep stopped at its deadline 3 runs in a row",
     _query("dwtrigger-sweep-deadline") + " | SELECT count(*) AS n", "-30m", "n >= 3", 6),
)
EVERY = "10m"                   # the sweep's period: each alert looks at what the last run(s) wrote


def alerts(project: str, logstore_name: str, region: str, action_policy: str) -> List[dict]:
    return [{"name": name, "displayName": shown, "description": f"{shown} (dwtrigger logs setup)",
             "schedule": {"type": "FixedRate", "interval": EVERY, "runImmediately": False},
             "configuration": {
                 "version": "2.0", "type": "default",
                 "queryList": [{"storeType": "log", "region": region, "project": project, "store": logstore_name,
                                "query": query, "timeSpanType": "Relative", "start": start, "end": "now",
                                "powerSqlMode": "auto"}],
                 "groupConfiguration": {"type": "no_group", "fields": []},
                 "joinConfigurations": [],
                 "conditionConfiguration": {"condition": condition, "countCondition": ""},
                 "severityConfigurations": [{"severity": severity,
                                             "evalCondition": {"condition": condition, "countCondition": ""}}],
                 "policyConfiguration": {"alertPolicyId": ALERT_POLICY, "actionPolicyId": action_policy,
                                         "repeatInterval": "1h"},
                 "labels": [{"key": "app", "value": "dwtrigger"}],
                 "annotations": [{"key": "title", "value": shown}],
                 "autoAnnotation": True, "sendResolved": False, "noDataFire": False, "noDataSeverity": 6,
                 "threshold": 1}}
            for name, shown, query, start, condition, severity in ALERTS]
