"""Options several commands share, spelled once: the rules file, the time budget, and where the decision log goes."""
from __future__ import annotations

import functools
import os
import sys
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

import click

from .. import sources
from ..outcomes import DecisionLog
from .reach import Refused

rules_option = click.option("--rules", "rules_path", default="rules.yaml", envvar="DWTRIGGER_RULES",
                            show_default=True, show_envvar=True, type=click.Path(dir_okay=False),
                            help="The rules file.")


source_option = click.option(
    "--source", type=click.Choice(sources.names()),
    help="Which function takes every event (default: detected from each one's shape); needed for raw events (not "
         "JSON, or a bare JSON string) such as MNS STREAM message bodies.")


def timeout_option(default: int, what: str):
    return click.option("--timeout", default=default, show_default=True, type=click.IntRange(min=1),
                        help=f"Seconds {what} may take, retries included (as the function's timeout).")


def output_options(command: Callable) -> Callable:
    """--quiet and --log PATH, as `demo --log` has it; the command gets `quiet` and `log` (an open DecisionLog)."""
    @click.option("--quiet", "-q", is_flag=True,
                  help="Say on stderr only what did not end released and the summary; no progress bar, and no "
                       "decision log on stdout (unless --log).")
    @click.option("--log", "log_path", type=click.Path(dir_okay=False),
                  help="Append the decision log (one JSON line per decision) to this file instead of stdout.")
    @functools.wraps(command)
    def with_log(*args, quiet, log_path, **kwargs):
        with decision_log(log_path, quiet) as log:
            return command(*args, quiet=quiet, log=log, **kwargs)
    return with_log


@contextmanager
def decision_log(path: Optional[str], quiet: bool) -> Iterator[DecisionLog]:
    """The command's decision log, written to `path`, else (unless quiet) to stdout as it is now. Powertools keeps
    one handler per service name for the process, so the handler's stream is pointed there for the command and
    back afterwards."""
    try:
        target = open(path, "a", encoding="utf-8") if path else open(os.devnull, "w") if quiet else None
    except OSError as e:
        raise Refused(f"cannot write the decision log to {path}: {e.strerror}") from None
    log = DecisionLog()
    handler = log.logger.registered_handler
    previous = handler.stream
    handler.setStream(target or sys.stdout)
    try:
        yield log
    finally:
        handler.setStream(previous)
        if target is not None:
            target.close()


DONE = "done so far"            # the context's key for what a Ctrl-C line says was done


def so_far(done: str) -> None:
    """What is done so far, for the line a Ctrl-C leaves (cli._Group)."""
    click.get_current_context().obj[DONE] = done
