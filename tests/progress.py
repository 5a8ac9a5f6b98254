"""`make test`'s progress: it runs the two suites at once and holds each one's output until it ends (make's
--output-sync), so for ten minutes nothing would show. It hands them the terminal as a file descriptor named by
DWTRIGGER_TEST_PROGRESS, where each suite says how far it is every DWTRIGGER_TEST_PROGRESS_S seconds (60) and when
it is done, one whole line at a time (one write each, so the two suites' lines never mix):

    python 3.12: 640/2088 tests, 4m10s

pytest's own output, its closing summary line included, is untouched. conftest.py imports these hooks; without the
variable they do nothing. Under pytest-xdist (`-n`) the controller says it, from what its workers report; the
workers, which do not have the descriptor, say nothing.
"""
from __future__ import annotations

import os
import sys
import time

import pytest

_FD = os.environ.get("DWTRIGGER_TEST_PROGRESS")
_EVERY_S = float(os.environ.get("DWTRIGGER_TEST_PROGRESS_S") or 60)
_LABEL = "python %d.%d" % sys.version_info[:2]
_state = {"total": 0, "done": 0, "started": time.monotonic(), "said": time.monotonic(), "quiet": False}


def _say(end: str = "") -> None:
    elapsed = int(time.monotonic() - _state["started"])
    line = f"{_LABEL}: {_state['done']}/{_state['total']} tests, {elapsed // 60}m{elapsed % 60:02d}s{end}\n"
    try:
        os.write(int(_FD), line.encode())
    except (OSError, ValueError):
        pass                        # no such descriptor (the variable outlived make): no progress, the suite goes on
    _state["said"] = time.monotonic()


def pytest_configure(config) -> None:
    if hasattr(config, "workerinput"):       # an xdist worker: its controller counts
        _state["quiet"] = True


def pytest_collection_finish(session) -> None:
    _state.update(total=len(session.items), started=time.monotonic(), said=time.monotonic())


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids) -> None:
    """The controller's count: each worker collects the whole run."""
    _state["total"] = _state["total"] or len(ids)


def pytest_runtest_logfinish(nodeid, location) -> None:
    _state["done"] += 1
    if _FD and not _state["quiet"] and time.monotonic() - _state["said"] >= _EVERY_S:
        _say()


def pytest_sessionfinish(session, exitstatus) -> None:
    if _FD and not _state["quiet"] and _state["total"]:
        _say(", done")
