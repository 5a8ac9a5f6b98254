"""`dwtrigger logs setup`: the SLS project, logstore, index, saved searches and alert rules the decision records
need (sls_config.py), made so through the official SLS SDK (alibabacloud-sls20201230, the operator's install only:
imported when the command runs), idempotently.

Everything is read first (a Get per resource; what is missing under a missing parent is not asked about), compared
with what it should be — only the fields dwtrigger sets, so what a person added (another index key, a label) stays
— and then created or updated, parents first. A second run reads and changes nothing; `--dry-run` only reads and
says, field by field, what would change. A read SLS refuses or an endpoint that does not answer stops the command
before any change (exit 2); a write refused stops it there, saying what was done and what was not (exit 1).
"""
from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, List, Mapping, Optional, Tuple

import click

from .. import wire
from ..credentials import ENV_ID, ENV_SECRET, ENV_TOKEN, read_keys
from ..redact import clean
from ..settings import Settings
from . import sls_config as want
from .ram import SLS, SLS_SETUP
from .reach import SLS_ENV, Refused

CALL_S = 20                     # each call's whole time: connect, send, every read
NOT_FOUND = {"ProjectNotExist", "LogStoreNotExist", "IndexConfigNotExist", "SavedSearchNotExist", "JobNotExist"}
AUTH_CODES = {"Unauthorized", "SignatureNotMatch", "InvalidAccessKeyId", "RequestTimeExpired", "InvalidRequestTime"}
_INDEX_FIELDS = ("keys", "line", "log_reduce", "log_reduce_black_list", "log_reduce_white_list", "max_text_len",
                 "scan_index")                 # what an UpdateIndex body carries of a GetIndex answer
_MISSING = object()
_EMPTY = ("", [], {}, False, None)      # what SLS may leave out of an answer rather than echo


class SlsRefused(Exception):
    """SLS answered a call with an error (its code), or no answer came (`unreached`)."""

    def __init__(self, operation: str, code: str, message: str, unreached: bool = False):
        super().__init__(code)
        self.operation, self.code, self.message, self.unreached = operation, code, message, unreached


@dataclass
class Change:
    what: str                   # "alert dwtrigger-failed"
    create: bool
    apply: Callable[[], Any]
    fields: List[Tuple[str, Any, Any]] = field(default_factory=list)    # (path, held, wanted) of an update
    detail: str = ""


@click.group("logs")
def logs():
    """The decision records in SLS: `dwtrigger logs setup`."""


@logs.command()
@click.option("--region", required=True, metavar="REGION", help="The SLS region (s.yaml's vars.region).")
@click.option("--project", required=True, metavar="NAME", help="The SLS project (s.yaml's vars.logProject).")
@click.option("--logstore", required=True, metavar="NAME", help="The logstore (s.yaml's vars.logstore).")
@click.option("--action-policy", default=want.ACTION_POLICY, show_default=True, metavar="ID",
              help="The SLS action policy the alerts notify through (one with your channels).")
@click.option("--endpoint", envvar=SLS_ENV, show_envvar=True, metavar="HOST[:PORT]",
              help="The SLS endpoint.  [default: REGION.log.aliyuncs.com]")
@click.option("--dry-run", is_flag=True, help="Read and say what would change; change nothing.")
def setup(region, project, logstore, action_policy, endpoint, dry_run):
    """Create or update, idempotently, the SLS project, logstore, the JSON index on every decision field, the saved
    searches and the alert rules (failed, overdue, a sweep stopped at its deadline).

    Credentials: ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET (/ _SECURITY_TOKEN), else the default chain of
    alibabacloud-credentials (~/.aliyun/config.json's current profile, ~/.alibabacloud/credentials.ini, an ECS RAM
    role); the identity needs deploy/ram/sls-setup.json. Exit 0 when SLS holds all of it (under --dry-run: when
    the differences were said), 1 when a change was refused, 2 when SLS could not be read."""
    host = (endpoint or f"{region}.log.aliyuncs.com").strip().rstrip("/")
    sls = Sls(_client(region, host, os.environ), host, project, logstore)
    try:
        changes = sls.plan(region, action_policy)
    except SlsRefused as e:                     # nothing was changed: SLS could not be read
        raise Refused(_refusal(e, sls.endpoint)) from None
    if not changes:
        click.echo(f"SLS is as configured: nothing to change (project {project}, logstore {logstore}, index, "
                   f"{len(want.SAVED_SEARCHES)} saved searches, {len(want.ALERTS)} alerts)")
        return
    for done, change in enumerate(changes):
        if dry_run:
            _say(change, "would create" if change.create else "would update")
            continue
        try:
            change.apply()
        except SlsRefused as e:
            click.echo(f"{_refusal(e, sls.endpoint)}; {done} of {len(changes)} changes were made, "
                       f"{change.what} and the rest were not", err=True)
            sys.exit(1)
        _say(change, "created" if change.create else "updated")
    made = sum(c.create for c in changes)
    if dry_run:
        click.echo(f"dry run: {made} would be created, {len(changes) - made} updated; nothing changed")
    else:
        click.echo(f"{made} created, {len(changes) - made} updated")


def _say(change: Change, verb: str) -> None:
    click.echo(f"{verb} {change.what}{change.detail if change.create else ''}")
    for path, held, wanted in change.fields:
        click.echo(f"  {path}: {_shown(held)} -> {_shown(wanted)}")


def _shown(value: Any) -> str:
    if value is _MISSING:
        return "(none)"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 100 else text[:97] + "..."


class Sls:
    """The SDK's client for one project and logstore: each call bounded (wire.budget), never redirected, and its
    refusal an SlsRefused."""

    def __init__(self, client, endpoint: str, project: str, logstore: str):
        from alibabacloud_sls20201230 import models

        self.client, self.endpoint, self.project, self.logstore, self.models = client, endpoint, project, logstore, \
            models

    def call(self, operation: str, *args) -> Any:
        """The body of an SLS answer as a dict (None for an empty one); None for a resource that does not exist."""
        method = getattr(self.client, re.sub(r"(?<!^)([A-Z])", r"_\1", operation).lower())     # get_log_store
        with wire.budget(CALL_S) as spent:
            try:
                answer = method(*args)
            except Exception as e:  # noqa: BLE001 - classified below: an SLS error, or no answer
                refused = _classified(operation, e, spent)
                if refused.code in NOT_FOUND and operation.startswith("Get"):
                    return None
                raise refused from None
        body = getattr(answer, "body", None)
        return body.to_map() if body is not None and hasattr(body, "to_map") else body

    # ---- the plan ----

    def plan(self, region: str, action_policy: str) -> List[Change]:
        m, p, ls = self.models, self.project, self.logstore
        changes: List[Change] = []
        project = self.call("GetProject", p, m.GetProjectRequest())
        if project is None:
            changes.append(Change(f"project {p}", True, lambda: self.call("CreateProject", m.CreateProjectRequest(
                project_name=p, description="dwtrigger decision records (dwtrigger logs setup)")),
                detail=f" in {region}"))
        store = None if project is None else self.call("GetLogStore", p, ls)
        wanted_store = want.logstore(ls)
        if store is None:
            changes.append(Change(f"logstore {ls}", True, lambda: self.call(
                "CreateLogStore", p, m.CreateLogStoreRequest().from_map(wanted_store)),
                detail=f": {want.TTL_DAYS} days, {want.SHARDS} shards (split up to {want.MAX_SHARDS})"))
        else:
            fields = differences({k: v for k, v in wanted_store.items() if k != "shardCount"}, store)
            if fields:
                body = {**wanted_store, "shardCount": store.get("shardCount", want.SHARDS)}
                changes.append(Change(f"logstore {ls}", False, lambda: self.call(
                    "UpdateLogStore", p, ls, m.UpdateLogStoreRequest().from_map(body)), fields))
        self._index(changes, None if store is None else self.call("GetIndex", p, ls))
        for search in want.saved_searches(ls):
            name = search["savedsearchName"]
            held = None if project is None else self.call("GetSavedSearch", p, name)
            self._named(changes, f"saved search {name}", search, held,
                        lambda s=search: self.call("CreateSavedSearch", p, m.CreateSavedSearchRequest().from_map(s)),
                        lambda s=search, n=name: self.call("UpdateSavedSearch", p, n,
                                                           m.UpdateSavedSearchRequest().from_map(s)))
        for alert in want.alerts(p, ls, region, action_policy):
            name = alert["name"]
            held = None if project is None else self.call("GetAlert", p, name)
            self._named(changes, f"alert {name}", alert, held,
                        lambda a=alert: self.call("CreateAlert", p, m.CreateAlertRequest().from_map(a)),
                        lambda a=alert, n=name: self.call("UpdateAlert", p, n, m.UpdateAlertRequest().from_map(
                            {k: v for k, v in a.items() if k != "name"})))
        return changes

    def _index(self, changes: List[Change], held: Optional[dict]) -> None:
        m, p, ls, wanted = self.models, self.project, self.logstore, want.index()
        if held is None:
            changes.append(Change(f"index of {ls}", True, lambda: self.call(
                "CreateIndex", p, ls, m.CreateIndexRequest(body=m.Index().from_map(wanted))),
                detail=f": message as JSON, {len(want.index_fields())} fields typed; functionName"))
            return
        fields = differences(wanted, held)
        if fields:
            merged = merge({k: v for k, v in held.items() if k in _INDEX_FIELDS}, wanted)
            changes.append(Change(f"index of {ls}", False, lambda: self.call(
                "UpdateIndex", p, ls, m.UpdateIndexRequest(body=m.Index().from_map(merged))),
                [(_index_path(path), h, w) for path, h, w in fields]))

    @staticmethod
    def _named(changes: List[Change], what: str, wanted: dict, held: Optional[dict], create, update) -> None:
        if held is None:
            changes.append(Change(what, True, create))
        elif fields := differences(wanted, held):
            changes.append(Change(what, False, update, fields))


def differences(wanted: Any, held: Any, path: str = "") -> List[Tuple[str, Any, Any]]:
    """(path, held, wanted) for each field dwtrigger sets that SLS holds otherwise; fields it does not set are not
    compared, and an empty value dwtrigger sets (false, "", []) matches one SLS leaves out. Lists of the same length
    are compared item by item."""
    if isinstance(wanted, dict) and isinstance(held, dict):
        return [d for k, v in wanted.items()
                for d in differences(v, held.get(k, _MISSING), f"{path}.{k}" if path else k)]
    if isinstance(wanted, list) and isinstance(held, list) and len(wanted) == len(held) and wanted \
            and all(isinstance(w, dict) for w in wanted):
        return [d for i, (w, h) in enumerate(zip(wanted, held)) for d in differences(w, h, f"{path}[{i}]")]
    same = wanted == held or held is _MISSING and any(wanted == e and type(wanted) is type(e) for e in _EMPTY)
    return [] if same else [(path, held, wanted)]


def merge(held: dict, wanted: dict) -> dict:
    """What SLS holds with dwtrigger's fields over it, dict by dict (a hand-made key or subfield stays)."""
    out = dict(held)
    for k, v in wanted.items():
        out[k] = merge(held[k], v) if isinstance(v, dict) and isinstance(held.get(k), dict) else v
    return out


def _index_path(path: str) -> str:
    """keys.message.json_keys.outcome.type -> message.outcome.type: how a search names the field."""
    return path.replace("keys.", "", 1).replace(".json_keys.", ".") if path.startswith("keys.") else path


def _classified(operation: str, error: Exception, spent: wire.Budget) -> SlsRefused:
    """An SLS error answer (the SDK's TeaException under whatever wraps it), or the transport's failure."""
    stopped = wire.stopped(spent)
    if stopped:
        return SlsRefused(operation, stopped[0], stopped[1], unreached=stopped[0] == "DeadlineExceeded")
    for e in wire.chain(error):
        data = getattr(e, "data", None)
        if isinstance(data, dict) and (data.get("httpCode") or data.get("statusCode")) and getattr(e, "code", None):
            return SlsRefused(operation, clean(str(e.code), 60), clean(str(getattr(e, "message", "")), 200))
    where = wire.unreachable(error)
    if where:
        return SlsRefused(operation, "Unreachable", f"no connection could be made to {where}", unreached=True)
    return SlsRefused(operation, "BadResponse", f"its answer could not be read ({type(error).__name__})")


def _refusal(e: SlsRefused, endpoint: str) -> str:
    """One sentence: what SLS said (or that it did not answer), and what to do."""
    if e.unreached:
        return (f"SLS at {endpoint} did not answer {e.operation} ({e.message}): check --endpoint ({SLS_ENV}), "
                "--region and this machine's network")
    action = SLS.get(e.operation, f"log:{e.operation}")
    if e.code == "Unauthorized" and "denied" in e.message:
        return (f"SLS refused {e.operation}: the identity of these keys may not {action}: grant it "
                f"({SLS_SETUP})")
    if e.code in AUTH_CODES:
        return (f"SLS refused {e.operation} ({e.code}): check the access key (ALIBABA_CLOUD_ACCESS_KEY_ID and _SECRET, "
                "or the default credentials) and this machine's clock")
    return f"SLS refused {e.operation} ({e.code}: {e.message})"


def _client(region: str, host: str, environ: Mapping[str, str]):
    """The SLS SDK's client: the keys in the environment, else alibabacloud-credentials' default chain."""
    try:
        from alibabacloud_sls20201230.client import Client
        from alibabacloud_tea_openapi.utils_models import Config
    except ImportError:
        raise Refused("logs setup needs the SLS SDK: pip install alibabacloud-sls20201230==5.15.1 (`pipx install .` "
                      "of a checkout brings it)") from None
    wire.install()
    protocol = Settings.read(environ).protocol
    if protocol not in ("https", "http"):
        raise Refused(f"DWTRIGGER_PROTOCOL={protocol!r}: https, or http for a local stand-in")
    if "://" in host or not host:
        raise Refused(f"--endpoint {host!r}: give HOST[:PORT] (http with DWTRIGGER_PROTOCOL=http)")
    config = Config(region_id=region, endpoint=host, protocol=protocol, connect_timeout=5000, read_timeout=15000)
    if environ.get(ENV_ID):
        keys = read_keys(None, environ)
        config.access_key_id, config.access_key_secret = keys.access_key_id, keys.access_key_secret
        config.security_token = keys.security_token or None
    else:
        config.credential = _default_chain()
    return Client(config)


def _default_chain():
    """alibabacloud-credentials' default chain, asked now, so no credentials is one sentence before any call."""
    from alibabacloud_credentials.client import Client as Credentials

    wire.guard_tea()                     # the chain's STS and metadata calls under the guard too
    chain = Credentials()
    try:
        chain.get_credential()
    except Exception:  # noqa: BLE001 - the chain's own exception names each source it tried
        raise Refused(f"no credentials: set {ENV_ID} and {ENV_SECRET} (and {ENV_TOKEN} for STS keys), or configure "
                      "the aliyun CLI (`aliyun configure`) or ~/.alibabacloud/credentials.ini, for an identity that "
                      f"{SLS_SETUP} allows") from None
    return chain
