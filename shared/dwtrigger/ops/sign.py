"""`dwtrigger sign`: the headers and the body of a signed `on: http` call (sources/http.py checks them), for a caller
to send as they are, or to check its own signing against. The caller's secret is read from the environment variable
named by --secret-env, which must be one the rule lists in its `callers`, and is never printed; the signature is
signing.py's, through the http source's `signed_headers` (the code the http function checks with).

Printed as an HTTP message's head and body: one `Name: value` line per header, a blank line, the body on one line
(send its bytes exactly: they are signed). `--event` prints instead the FC HTTP trigger event the call becomes, one
JSON line, for `dwtrigger replay` to run through the http function locally (docs/http.md).
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Dict

import click

from .. import sources
from ..rules import load_rules
from .options import rules_option
from .reach import EMULATOR_ENV, Refused, When, clock

SOURCE = "http"                     # the source whose calls it signs (sources/http.py), asked through the registry
MAX_REQUEST_ID = 128                # sources/http.py refuses a longer request_id


@click.command("sign")
@click.option("--rule", "rule_name", required=True, metavar="NAME", help="The `on: http` rule the call releases.")
@click.option("--bizdate", type=click.DateTime(["%Y-%m-%d"]), help="The business date (YYYY-MM-DD).")
@click.option("--cycle", type=click.DateTime(["%Y-%m-%d %H:%M"]),
              help="Instead of --bizdate: the instance's scheduled time in the rule's zone ('YYYY-MM-DD HH:MM').")
@click.option("--secret-env", required=True, metavar="NAME",
              help="The environment variable holding the caller's secret: the `secret_env` of one of the rule's "
                   "`callers`, which names the caller.")
@click.option("--request-id", metavar="ID",
              help="The call's request_id.  [default: RULE-DATE, the same for the same release]")
@click.option("--path", default="/", show_default=True, help="The path the call is POSTed to (signed).")
@click.option("--now", type=When(), help="Sign as of this time (ISO 8601 with a UTC offset).  [default: now, or "
                                         "the emulator's clock with --emulator]")
@click.option("--emulator", envvar=EMULATOR_ENV, metavar="URL", show_envvar=True,
              help="A local `dwtrigger emulator`: sign by its clock, as `replay --emulator` runs by it.")
@click.option("--event", "as_event", is_flag=True,
              help="Print the FC HTTP trigger event the call becomes (for `dwtrigger replay`).")
@rules_option
def sign(rule_name, bizdate, cycle, secret_env, request_id, path, now, emulator, as_event, rules_path):
    """The headers and the body of a signed call to an `on: http` rule; the secret is read from --secret-env and
    never printed. Exit 2 when the rule is no `on: http` rule, the variable is not one of its callers' or not set."""
    if (bizdate is None) == (cycle is None):
        raise Refused("give --bizdate YYYY-MM-DD or --cycle 'YYYY-MM-DD HH:MM' (one of them)")
    http, rule = sources.get(SOURCE), _rule(rules_path, rule_name)
    try:
        caller = http.caller(rule, secret_env)
    except LookupError as e:
        raise Refused(str(e).strip("'\"")) from None
    secret = os.environ.get(secret_env)
    if not secret:
        raise Refused(f"{secret_env} is not set: export the caller's secret in it (it is read from there, never "
                      "printed)")
    if not path.startswith("/") or "?" in path:
        raise Refused(f"--path {path!r}: give the path the call is POSTed to, from its leading /, without a query "
                      "string (FC's rawPath, which the signature covers)")
    named = {"bizdate": f"{bizdate:%Y-%m-%d}"} if bizdate else {"cycle": f"{cycle:%Y-%m-%d %H:%M}"}
    if request_id is None:
        request_id = f"{rule_name}-{next(iter(named.values()))}".replace(" ", "T")
    if not 0 < len(request_id) <= MAX_REQUEST_ID:
        raise Refused(f"--request-id must be 1 to {MAX_REQUEST_ID} characters")
    body = json.dumps({"rule": rule_name, **named, "request_id": request_id}, separators=(",", ":"))
    when = now or clock({EMULATOR_ENV: emulator} if emulator else {})()
    headers = {**http.signed_headers(caller, secret, path, str(int(when.timestamp())), body.encode()),
               "Content-Type": "application/json"}
    click.echo(json.dumps(_event(path, headers, body, when)) if as_event else
               "".join(f"{name}: {value}\n" for name, value in headers.items()) + "\n" + body)


def _rule(rules_path: str, rule_name: str):
    """The named rule of the source this command signs for, or Refused."""
    try:
        rule = load_rules(rules_path).named(rule_name)
    except LookupError as e:
        raise Refused(str(e).strip("'\"")) from None
    if rule.on != SOURCE:
        raise Refused(f"rule {rule_name!r} is an `on: {rule.on}` rule: only `on: {SOURCE}` rules take signed calls")
    return rule


def _event(path: str, headers: Dict[str, str], body: str, when: datetime) -> Dict[str, object]:
    """The FC 3.0 HTTP trigger event of this call (docs/reference.md), as the http function receives it."""
    at = when.astimezone(timezone.utc)
    return {"version": "v1", "rawPath": path, "body": body, "isBase64Encoded": False, "headers": headers,
            "queryParameters": {},
            "requestContext": {"http": {"method": "POST", "path": path, "protocol": "HTTP/1.1"},
                               "time": f"{at:%Y-%m-%dT%H:%M:%SZ}", "timeEpoch": str(int(at.timestamp() * 1000))}}

