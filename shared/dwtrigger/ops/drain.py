"""`dwtrigger drain`: the dead-letter queue replayed in place, through the official MNS SDK (aliyun-mns-sdk, the
operator's install only: imported when the command runs).

Messages are received in batches (long polling, a bounded wait), each replayed as `replay` replays a record
(replayer.py), and deleted right after its replay only when every decision of every record in it ended released,
so a receipt handle is used while it is fresh. The rest stay: MNS makes them visible again after the queue's
visibility timeout. A body that cannot be read is left and counted, never deleted. The drain ends when a receive
finds nothing visible, when --max messages were taken, or when the queue comes round to a message this drain
already had (its visibility timeout passed during the drain), which is not replayed twice.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Set

import click

from ..credentials import read_keys
from .inputs import Unreadable, read
from .options import output_options, rules_option, so_far, source_option, timeout_option
from .reach import MNS_ENV, Refused, reaching, require_keys
from .replayer import Replayer
from ..settings import Settings

BATCH = 16                      # BatchReceiveMessage takes at most 16
EMPTY = "MessageNotExist"       # MNS's answer to a receive that found nothing visible


@dataclass
class Tally:
    received: int = 0
    released: int = 0           # every record released: deleted (or, under --dry-run, would be)
    left: int = 0
    unreadable: int = 0         # of those left, bodies with a record that is not an event
    seen: Set[str] = field(default_factory=set)
    problems: List[str] = field(default_factory=list)   # deletes, or a receive after the first, that failed


@click.command("drain")
@click.option("--queue", required=True, metavar="NAME", help="The dead-letter MNS queue.")
@click.option("--max", "most", type=click.IntRange(min=1), metavar="N",
              help="Take at most N messages.  [default: until no message is visible]")
@click.option("--wait", default=3, show_default=True, type=click.IntRange(0, 30),
              help="Seconds each receive waits for a message (MNS long polling) before the drain ends.")
@click.option("--mns-endpoint", metavar="[http(s)://]HOST[:PORT]",
              help=f"The queue's MNS endpoint, as the console shows it.  [env var: {MNS_ENV}; default: "
                   "https://ACCOUNT.mns.REGION.aliyuncs.com from --account and --region]")
@click.option("--account", metavar="UID", help="The Alibaba Cloud account id that owns the queue.")
@click.option("--region", metavar="REGION", help="The queue's region, e.g. cn-shanghai.")
@rules_option
@source_option
@click.option("--dry-run", is_flag=True, help="Decide and log, send nothing and delete nothing.")
@timeout_option(60, "each record")
@output_options
@reaching
def drain(queue, most, wait, mns_endpoint, account, region, rules_path, source, dry_run, timeout, quiet, log,
          environ):
    """Replay the dead-letter queue: delete each message whose every record ended released (triggered or
    already_triggered), leave the rest for later, and sum up.

    Credentials: ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET (/ _SECURITY_TOKEN); the identity needs
    mns:BatchReceiveMessage and mns:DeleteMessage on the queue, and what `replay` needs. Left messages become
    visible again after the queue's visibility timeout. Exit 0 only when every message taken was released and
    deleted (under --dry-run: would be); 1 while any remain."""
    url = endpoint(mns_endpoint or environ.get(MNS_ENV), account, region, environ)
    require_keys(environ)                       # even a dry run reads the queue
    replayer = Replayer(rules_path, environ, dry_run, timeout, log)
    messages = _queue(url, queue, environ)
    tally = Tally()
    try:
        while most is None or tally.received < most:
            batch = _receive(messages, min(BATCH, most - tally.received if most else BATCH), wait, tally, url)
            fresh = [m for m in batch if m.message_id not in tally.seen]
            for m in fresh:
                so_far(f"{tally.received} messages taken, {tally.released} released and deleted")
                if replayer.stopped():          # DataWorks cannot be reached: the rest stay in the queue, untried
                    _leave(m, replayer, tally)
                else:
                    _drain_one(messages, m, replayer, source, dry_run, tally)
            if not batch or len(fresh) < len(batch) or replayer.stopped():
                break
    except Refused:
        raise                                   # the queue could not be read: nothing was taken
    except BaseException:                       # interrupted: what was done is said
        _report(replayer, tally, dry_run, quiet)
        raise
    _report(replayer, tally, dry_run, quiet)
    sys.exit(1 if tally.left or tally.problems else 0)


def endpoint(given: Optional[str], account: Optional[str], region: Optional[str], environ: Mapping[str, str]) -> str:
    """The URL the SDK takes: as given (http when DWTRIGGER_PROTOCOL=http, unless it names its scheme), else the
    region's public endpoint of the account."""
    if given:
        if account or region:
            raise Refused(f"--mns-endpoint (or {MNS_ENV}, or --emulator) names the queue's endpoint: drop "
                          "--account and --region")
        given = given.rstrip("/")
        return given if "://" in given else f"{Settings.read(environ).protocol}://{given}"
    if not (account and region):
        raise Refused("name the queue's endpoint: --account UID --region REGION (its public endpoint "
                      f"https://UID.mns.REGION.aliyuncs.com), or --mns-endpoint (or {MNS_ENV})")
    return f"https://{account}.mns.{region}.aliyuncs.com"


def _queue(url: str, name: str, environ: Mapping[str, str]):
    try:
        from mns.account import Account
    except ImportError:
        raise Refused("drain needs the MNS SDK: pip install aliyun-mns-sdk==1.3.0 (`pipx install .` of a "
                      "checkout brings it)") from None

    keys = read_keys(None, environ)
    queue = Account(url, keys.access_key_id, keys.access_key_secret, keys.security_token or "").get_queue(name)
    queue.set_encoding(False)                   # bodies as they were sent: `read` decodes a base64 dead letter
    return queue


def _receive(messages, count: int, wait: int, tally: Tally, url: str) -> list:
    """The next batch ([] when nothing is visible). A queue that cannot be read before anything was taken could
    not be checked (exit 2); later, what was done stands and the rest remains (exit 1)."""
    from mns.mns_exception import MNSExceptionBase, MNSServerException

    try:
        return messages.batch_receive_message(count, wait)
    except MNSExceptionBase as e:
        if isinstance(e, MNSServerException) and e.type == EMPTY:
            return []
        why = _refusal(e, messages.queue_name, url)
        if not tally.received:
            raise Refused(why) from None
        tally.problems.append(f"{why}; the drain stopped there: what is still in the queue remains")
        return []


def _refusal(e, queue: str, url: str) -> str:
    from mns.mns_exception import MNSServerException

    if not isinstance(e, MNSServerException):
        return f"cannot reach MNS at {url}: {e.message}: check --mns-endpoint, or --account and --region"
    if e.type == "QueueNotExist":
        return f"MNS at {url} has no queue {queue}: check --queue, and the endpoint's account and region"
    return (f"MNS refused to read queue {queue} ({e.type}: {e.message}): check ALIBABA_CLOUD_ACCESS_KEY_ID and "
            "_SECRET (and _SECURITY_TOKEN), and that the identity may mns:BatchReceiveMessage and mns:DeleteMessage "
            "on it")


def _drain_one(messages, message, replayer: Replayer, source: Optional[str], dry_run: bool, tally: Tally) -> None:
    """Replay one message's records; delete it when all were released."""
    from mns.mns_exception import MNSExceptionBase

    tally.received += 1
    tally.seen.add(message.message_id)
    label = f"{messages.queue_name}/{message.message_id}"
    items = read(label, message.message_body.encode("utf-8", "surrogatepass"), source)
    released = all([replayer.run(item) for item in items])      # every record runs, released or not
    if not released:
        tally.left += 1
        tally.unreadable += any(isinstance(item, Unreadable) for item in items)
        return
    if not dry_run:
        try:
            messages.delete_message(message.receipt_handle)
        except MNSExceptionBase as e:
            tally.left += 1
            tally.problems.append(f"{label}: released, but not deleted ({e.type}: {e.message}): it will be received "
                                  "again, and a replay of it is already_triggered: drain again (a longer visibility "
                                  "timeout on the queue avoids this)")
            return
    tally.released += 1


def _leave(message, replayer: Replayer, tally: Tally) -> None:
    """A message taken but not replayed: it becomes visible again after the queue's visibility timeout."""
    tally.received += 1
    tally.seen.add(message.message_id)
    tally.left += 1
    replayer.not_tried(1)


def _report(replayer: Replayer, tally: Tally, dry_run: bool, quiet: bool) -> None:
    replayer.problems += tally.problems
    untried = replayer.untried
    replayer.report(f"{untried} messages not tried, left in the queue" if untried else "")
    done = "would be deleted (dry run)" if dry_run else "deleted"
    unreadable = f" ({tally.unreadable} unreadable)" if tally.unreadable else ""
    click.echo(f"messages: {tally.received} received, {tally.released} released and {done}, {tally.left} left"
               f"{unreadable}", err=True)
    if (tally.left or tally.problems) and not quiet:
        click.echo("Left messages become visible again after the queue's visibility timeout: fix what is said above "
                   "and drain again.", err=True)
