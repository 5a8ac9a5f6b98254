"""`dwtrigger emulator`: the operator's sandbox. Without a subcommand it serves a local DataWorks (both APIs, STS),
OSS stand-in and MNS stand-in (the dead-letter queue `drain` reads) until Ctrl-C; its subcommands steer one that
runs, found by --emulator URL or DWTRIGGER_EMULATOR as every command reaching it finds it: land and remove files
(`put`, `rm`, `ls`), send a dead letter (`send`), and set or advance its clock (`clock`), which replay, trigger,
sweep, doctor and drain then run by (reach.clock), as do the MNS stand-in's visibility timeouts.

A seed (--seed) is the DataWorks emulator's (emulator/seed.py) plus, for the OSS stand-in, optional
``buckets: [name, ...]`` beside the sandbox's own (the demo's and the ledger's) and ``objects: [bucket/key, ...]``:
empty files there from the start, Last-Modified the emulator's clock at start; for the MNS stand-in, ``queues:
[name, ...]`` beside s.yaml's dead-letter queue.
"""
from __future__ import annotations

import errno
import json
import re
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Iterator, List, Optional, Tuple
from urllib.parse import quote, urlencode

import click
import yaml

from .reach import EMULATOR_ENV, EMULATOR_URL, Refused, When, ask_emulator, mns_port, oss_port

# The emulator and the demo are imported only to serve: every other command starts without them (a fifth of a second).
OCTET_STREAM = "application/octet-stream"   # what a file lands as, as with the SDK's PutObject
LEDGER_BUCKET = "etl-ledger"                # rules.yaml's commented `ledger: oss://etl-ledger/dwtrigger/`
DEAD_LETTERS = "dwtrigger-dlq"              # s.yaml's vars.dlq
STAND_IN_SEED_KEYS = ("buckets", "objects", "queues")   # a seed's parts for the stand-ins; the rest is DataWorks'



@click.group("emulator", invoke_without_command=True)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65534),
              help="DataWorks' port; the OSS stand-in takes the next one, the MNS stand-in the one after.")
@click.option("--seed", type=click.Path(exists=True, dir_okay=False),
              help="World seed (YAML/JSON): the DataWorks world, plus `buckets:` and `objects:` for OSS, `queues:` "
                   "for MNS.")
@click.pass_context
def emulator(ctx, port, seed):
    """A local DataWorks (both APIs, STS AssumeRole), OSS and MNS, for development: prints how to reach them.

    The subcommands steer one that runs: land and remove files, list them, send a dead letter, set or advance its
    clock."""
    if ctx.invoked_subcommand is None:
        _serve(port, seed)
    elif any(ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE for name in ("port", "seed")):
        raise Refused(f"--port and --seed start an emulator: give them without `{ctx.invoked_subcommand}` (which "
                      "reaches a running one by --emulator URL)")


def _serve(port: int, seed: Optional[str]) -> None:
    from .emulator import DEFAULT_SEED, Emulator, MnsStandIn, OssStandIn

    world, oss_seed, queues = _seeds(Path(seed) if seed else DEFAULT_SEED)
    emu = Emulator(world, port=port)
    oss = OssStandIn(oss_seed, port=oss_port(port), clock=emu.clock.now)
    mns = MnsStandIn(oss_seed["keys"], queues, port=mns_port(port), clock=emu.clock)
    takes = f"--port {port} takes {port} to {mns_port(port)}"

    def bound(emu) -> None:
        with _port(oss_port(port), f"for the OSS stand-in ({takes})"):
            oss.start()
        with _port(mns_port(port), f"for the MNS stand-in ({takes})"):
            mns.start()
        _announce(emu, oss, mns, bool(seed))

    try:
        with _port(port, "for DataWorks"):
            emu.serve_forever(bound)
    except KeyboardInterrupt:                  # Ctrl-C is how it is meant to stop: no "Aborted!", exit 0
        click.echo("emulator stopped", err=True)
    finally:
        oss.stop()
        mns.stop()


def _seeds(path: Path) -> Tuple[dict, dict, List[str]]:
    """The DataWorks emulator's seed, the OSS stand-in's and the MNS stand-in's queues, from one seed file."""
    world = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(world, dict):
        raise ValueError(f"{path}: a seed is a mapping (now, keys, workspaces, buckets, objects, ...)")
    from .demo import BUCKETS

    extra = {name: world.pop(name) or [] for name in STAND_IN_SEED_KEYS if name in world}
    buckets = {name: [] for name in (*BUCKETS, LEDGER_BUCKET, *map(str, extra.get("buckets", ())))}
    for path_ in map(str, extra.get("objects", ())):
        bucket, _, key = path_.partition("/")
        if bucket not in buckets:
            raise ValueError(f"{path}: objects: {path_!r} is in no bucket of the sandbox ({', '.join(buckets)}): "
                             "write BUCKET/KEY, and name other buckets under `buckets:`")
        buckets[bucket].append(key)
    oss = {"keys": world.get("keys", []), "buckets": [{"name": n, "objects": keys} for n, keys in buckets.items()]}
    return world, oss, list(dict.fromkeys((DEAD_LETTERS, *map(str, extra.get("queues", ())))))


@contextmanager
def _port(port: int, whose: str) -> Iterator[None]:
    try:
        yield
    except OSError as e:
        if e.errno != errno.EADDRINUSE:
            raise
        raise Refused(f"port {port}, {whose}, is in use (another `dwtrigger emulator`?): stop that process, or "
                      "choose free ports with --port N (DataWorks on N, the OSS stand-in on N+1, MNS on N+2)") from None


def _announce(emu, oss, mns, own_seed: bool) -> None:
    key = ("one of the seed's keys in ALIBABA_CLOUD_ACCESS_KEY_ID and _SECRET (and _SECURITY_TOKEN)" if own_seed
           else "the demo seed's development key, unless ALIBABA_CLOUD_ACCESS_KEY_ID is set")
    buckets = ", ".join(oss.buckets())
    click.echo(f"DataWorks emulator on {emu.url}  (admin: {emu.url}/_admin/calls)\n"
               f"OSS stand-in on {oss.url}  (buckets {buckets})\n"
               f"MNS stand-in on {mns.url}  (queues {', '.join(mns.queues())})\n"
               f"Its clock: {emu.clock.now().isoformat()}{'' if emu.clock.fixed else ' (running)'}\n"
               f"Reach them from replay, trigger, sweep, doctor and drain with --emulator {emu.url}, or in another "
               "shell:\n"
               f"  export {EMULATOR_ENV}={emu.url}\n"
               f"(with {key}). Steer it with `dwtrigger emulator put|rm|ls|send|clock`. Ctrl-C stops it.", err=True)


emulator_option = click.option("--emulator", "url", envvar=EMULATOR_ENV, default=EMULATOR_URL, show_default=True,
                               show_envvar=True, metavar="URL", help="The running emulator (the URL it printed).")


def _object(path: str) -> Tuple[str, str]:
    bucket, _, key = path.removeprefix("oss://").partition("/")
    if not bucket or not key:
        raise Refused(f"{path!r}: name a file as BUCKET/KEY, e.g. etl-landing/exports/orders/dt=2026-03-11/_SUCCESS")
    return bucket, key


def _admin_path(bucket: str, key: str) -> str:
    return f"/_admin/objects/{quote(bucket)}/{quote(key, safe='/')}"


@emulator.command()
@click.argument("path", metavar="BUCKET/KEY")
@click.option("--file", "source", type=click.File("rb"), help="The file's content from this file (- for stdin).")
@click.option("--body", help="The file's content as text.  [default: empty, as a _SUCCESS marker]")
@emulator_option
def put(path, source, body, url):
    """Land a file in the OSS stand-in.

    It lands as a signed PutObject would land it (ETag, Last-Modified from the emulator's clock). No notification
    is sent: replay an event for it, or let the sweep find it."""
    if source is not None and body is not None:
        raise Refused("give --file or --body, not both")
    data = source.read() if source is not None else (body or "").encode()
    bucket, key = _object(path)
    landed = ask_emulator(url, "PUT", _admin_path(bucket, key), data, part=oss_port,
                          headers={"Content-Type": OCTET_STREAM})     # urllib's default is a form's
    click.echo(f"landed oss://{landed['bucket']}/{landed['key']}  {landed['size']} bytes  ETag {landed['etag']}  "
               f"Last-Modified {landed['last_modified']}")


@emulator.command()
@click.argument("path", metavar="BUCKET/KEY")
@emulator_option
def rm(path, url):
    """Remove a file from the OSS stand-in; exit 1 when it was not there."""
    bucket, key = _object(path)
    if not ask_emulator(url, "DELETE", _admin_path(bucket, key), part=oss_port)["removed"]:
        click.echo(f"oss://{bucket}/{key} is not there: nothing removed (`dwtrigger emulator ls {bucket}` lists "
                   "what is)", err=True)
        raise SystemExit(1)
    click.echo(f"removed oss://{bucket}/{key}")


@emulator.command()
@click.argument("where", required=False, metavar="[BUCKET[/PREFIX]]")
@emulator_option
def ls(where, url):
    """List the OSS stand-in's files.

    Every bucket's, one's, or those under a prefix, with size and Last-Modified."""
    where = (where or "").removeprefix("oss://")
    bucket, _, prefix = where.partition("/")
    query = urlencode({name: value for name, value in (("bucket", bucket), ("prefix", prefix)) if value})
    listing = ask_emulator(url, "GET", "/_admin/objects" + (f"?{query}" if query else ""), part=oss_port)
    for described in listing["objects"]:
        click.echo(f"oss://{described['bucket']}/{described['key']}  {described['size']} bytes  Last-Modified "
                   f"{described['last_modified']}")
    if not listing["objects"]:
        click.echo(f"no files in {'oss://' + where if where else ', '.join(listing['buckets'])}", err=True)


@emulator.command()
@click.option("--queue", default=DEAD_LETTERS, show_default=True, help="The MNS stand-in's queue.")
@click.option("--file", "source", type=click.File("rb"), help="The message's body from this file (- for stdin).")
@click.option("--body", help="The message's body as text.")
@emulator_option
def send(queue, source, body, url):
    """Send a message to the MNS stand-in, as a dead letter lands in the dead-letter queue.

    Its body is what FC's failure destination or EventBridge writes there (a record of events/ or of a dead-letter
    file); `dwtrigger drain --queue QUEUE` then replays it."""
    if (source is None) == (body is None):
        raise Refused("give the message's body with --file or --body (one of them)")
    data = source.read() if source is not None else body.encode()
    sent = ask_emulator(url, "POST", f"/_admin/queues/{quote(queue, safe='')}/messages", data, part=mns_port)
    click.echo(f"sent message {sent['message_id']} to queue {sent['queue']}")


class Span(click.ParamType):
    """A span of time as 2h, 90m, 1d12h, 30s, -1h."""
    name = "SPAN"
    _UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    _FORM = re.compile(r"(-?)((?:\d+[dhms])+)\Z")

    def convert(self, value, param, ctx):
        if isinstance(value, timedelta):
            return value
        form = self._FORM.match(value.strip())
        if not form:
            self.fail(f"{value!r} is not a span of time: write e.g. 2h, 90m, 1d12h or -30m", param, ctx)
        seconds = sum(int(n) * self._UNITS[u] for n, u in re.findall(r"(\d+)([dhms])", form.group(2)))
        return timedelta(seconds=-seconds if form.group(1) else seconds)


@emulator.command()
@click.option("--set", "when", type=When(), help="Set it to this time (ISO 8601 with a UTC offset).")
@click.option("--advance", type=Span(), help="Then move it on by this span: 2h, 90m, 1d12h (-30m goes back).")
@emulator_option
def clock(when, advance, url):
    """Print the emulator's clock, after setting or advancing it.

    replay, trigger, sweep and doctor reaching the emulator run by this time; so do its instances' states and the
    Last-Modified of files landing."""
    asked = {**({"now": when.isoformat()} if when else {}),
             **({"advance": advance.total_seconds()} if advance is not None else {})}
    told = ask_emulator(url, "POST" if asked else "GET", "/_admin/clock", json.dumps(asked).encode() if asked else None)
    click.echo(told["now"])
