"""Shared test fixtures: sample events from events/, the emulator on loopback, and a runtime wired to both.

Nothing is patched: the runtime calls the real SDK, which signs real requests to the emulator on 127.0.0.1.
The emulator and the OSS stand-in are started once per run and reset to their seed before each test (`emulator`,
`oss_standin`): no test sees what another left (instances, clock, faults, objects, calls).
A test that takes `harness` runs on 2020-05-18 (the `api` fixture); one whose behaviour depends on the DataWorks API
runs on both (`BOTH_APIS`): the rules are the same, moved to the world's workspaces on that API, and
`Harness.calls("lookup")` / `("trigger")` name each API's actions.
Hypothesis runs few examples by default and each test's full count in CI (`CI` set): `examples(n)`.
"""
from __future__ import annotations

import io
import json
import os
import signal
import socket
import uuid
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest
import yaml
from hypothesis import settings

from dwtrigger import app
from dwtrigger.ops import fc
from dwtrigger.dataworks import API_2020, API_2024, APIS
from dwtrigger.ops.emulator import Emulator, OssStandIn
from dwtrigger.outcomes import DecisionLog
from dwtrigger.retry import Backoff
from dwtrigger.rules import RuleSet, load_rules, parse_rules
from progress import (pytest_collection_finish, pytest_configure, pytest_runtest_logfinish,  # noqa: F401 - hooks
                      pytest_sessionfinish, pytest_xdist_node_collection_finished)

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
WORLD = Path(__file__).with_name("world.yaml")
ROLE_KEY = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "STS.fn-role-key", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "fn-role-secret",
            "ALIBABA_CLOUD_SECURITY_TOKEN": "fn-role-token-0123456789"}


# A shell starts a background job (`.ci/run &`, nohup) with SIGINT ignored, and every child inherits that: the tests
# that press Ctrl-C on a process they start (the emulator, replay) would then wait on it for ever. A handler instead
# of the inherited "ignore" gives each child the default back (a signal handled here is reset to it by exec).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


MIRROR = {10001: 30001, 10002: 30002}       # world.yaml's new-Data-Studio workspaces: the same nodes, on 2024-05-18
ACTIONS = {API_2020: {"lookup": "ListInstances", "trigger": "RunTriggerNode"},
           API_2024: {"lookup": "ListTaskInstances", "trigger": "TriggerSchedulerTaskInstance"}}
# What DataWorks answers a trigger that comes too late: the 2020 refusal, the 2024 "no effect" (the emulator's marks).
REPEATS = {"Emulator.Instance.AlreadyRun", "Emulator.Instance.NoEffect"}


# A test that takes `api` (a harness test does) runs on 2020-05-18 unless the API changes the behaviour it holds (how
# an instance's state, an answer, a refusal or a page is read, what goes on the wire): those are marked BOTH_APIS (a
# test, or a module's pytestmark) and run once per API. ONE_API names the default where a reader might wonder.
BOTH_APIS = pytest.mark.both_apis
ONE_API = pytest.mark.parametrize("api", [API_2020])


def pytest_generate_tests(metafunc) -> None:
    """BOTH_APIS: once per API, for a test that takes `api` and does not parametrise it itself."""
    def names(mark) -> List[str]:
        given = mark.args[0]
        return [name.strip() for name in given.split(",")] if isinstance(given, str) else list(given)

    test = metafunc.definition
    if "api" in metafunc.fixturenames and test.get_closest_marker("both_apis") and \
            not any("api" in names(mark) for mark in test.iter_markers("parametrize")):
        metafunc.parametrize("api", APIS)


# Hypothesis: a developer's run is quick, CI (`CI` set, as .ci/run runs) takes each test's whole count, the same
# examples every run (derandomized, no example database), and prints how to reproduce a failure.
settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def examples(ci: int) -> int:
    """A property test's examples: `ci` in CI, a tenth of it (at least 20) elsewhere."""
    return ci if settings.get_current_profile_name() == "ci" else max(20, ci // 10)


BUCKETS = ("etl-landing", "etl-landing-backup", "etl-reference", "etl-ledger")   # the OSS stand-in's, cn-shanghai


def oss_seed(world: Path = WORLD, buckets=BUCKETS) -> dict:
    """The OSS stand-in's seed: the world's keys and empty buckets."""
    return {"keys": yaml.safe_load(world.read_text())["keys"], "buckets": [{"name": name} for name in buckets]}


def sample(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def orders_rules(target: str, extra: str = "") -> str:
    """A rules file with one rule taking the orders sample (events/oss/native-put-orders.json) to `target`."""
    return f"""\
version: 1
defaults: {{timezone: Asia/Shanghai, region: cn-shanghai}}
rules:
  - name: orders
    on: oss
    bucket: etl-landing
    key: "exports/orders/dt={{bizdate:%Y-%m-%d}}/_SUCCESS"
    {extra}
    trigger: [{target}]
"""


def queue_rules(contacts_node: int = 700001235200) -> str:
    """Two rules on the etl-events queue: `crm` takes the first message of events/mns/queue-eventbridge-list.json,
    `contacts` the second (releasing `contacts_node`)."""
    return f"""\
version: 1
defaults: {{timezone: Asia/Shanghai, region: cn-shanghai}}
rules:
  - {{name: crm, on: mns, queue: etl-events, message: {{source: [crm-daily]}},
     trigger: [{{workspace: 10001, node: 700001235100}}]}}
  - {{name: contacts, on: mns, queue: etl-events, message: {{source: [crm-contacts]}},
     trigger: [{{workspace: 10001, node: {contacts_node}}}]}}
"""


def on_api(rules: RuleSet, api: str) -> RuleSet:
    """The same rules for the world's workspaces on `api` (on 2024-05-18: the mirrored workspaces)."""
    if api == API_2020:
        return rules

    def moved(rule):
        return replace(rule, api=api, trigger=tuple(replace(t, workspace=MIRROR.get(t.workspace, t.workspace))
                                                    for t in rule.trigger))
    return RuleSet(tuple(map(moved, rules.rules)), rules.path, tuple(map(moved, rules.disabled)))


class Harness:
    """A Runtime wired to the emulator, with its log lines captured, for the rules moved to `api`."""

    def __init__(self, emu: Emulator, rules_text: Optional[str], env: Dict[str, str], dry_run: Optional[bool],
                 api: str = API_2020, oss: Optional[OssStandIn] = None):
        self.emu, self.oss, self.stream, self.api = emu, oss, io.StringIO(), api
        self.rules_text = rules_text
        self.env = {"DWTRIGGER_ENDPOINT": emu.endpoint, "DWTRIGGER_PROTOCOL": "http", **ROLE_KEY,
                    **({"DWTRIGGER_OSS_ENDPOINT": oss.endpoint} if oss else {}), **env}
        rules = on_api(parse_rules(rules_text) if rules_text else load_rules(str(ROOT / "rules.yaml")), api)
        # Powertools reuses the handler of a service name it has seen: a fresh name per harness isolates logs.
        log = DecisionLog(service=f"dwtrigger-test-{uuid.uuid4().hex[:8]}", stream=self.stream)
        self.runtime = app.Runtime(rules, environ=self.env, log=log, dry_run=dry_run,
                                   backoff=Backoff(base_s=0.01, cap_s=0.05), wall_clock=emu.clock.now)

    def invoke(self, source: str, raw: bytes, context=None) -> List[dict]:
        """The decision records of one invocation."""
        return [d.record() for d in self.runtime.run(source, raw, context or fc.context_for(source))]

    def handle(self, source: str, raw: bytes, context=None) -> dict:
        """One invocation through the handlers' body, `app.handle`: what FC gets back, or TriggerFailed raised."""
        app.use_runtime(self.runtime)
        try:
            return app.handle(source, raw, context or fc.context_for(source))
        finally:
            app.use_runtime(None)

    def lines(self) -> List[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]

    def calls(self, action: Optional[str] = None) -> List[dict]:
        """The calls DataWorks received: all, or of one action ("lookup" and "trigger" name this API's)."""
        action = ACTIONS[self.api].get(action, action)
        return [c for c in self.emu.calls if action is None or c["action"] == action]

    def actions(self) -> List[str]:
        """The calls DataWorks received, as "lookup" and "trigger" (other actions by name)."""
        names = {action: kind for kind, action in ACTIONS[self.api].items()}
        return [names.get(c["action"], c["action"]) for c in self.emu.calls]

    def wire(self, workspace: int, node: int, biz_date: str, biz_ms: int, cycle_ms: int, env: str = "PROD"):
        """The (look-up, trigger) parameters this API puts on the wire for an instance, as the emulator records
        them (query and form body together), for the world's 2020 `workspace` moved to this API."""
        if self.api == API_2020:
            return ({"ProjectId": str(workspace), "ProjectEnv": env, "NodeId": str(node),
                     "Bizdate": f"{biz_date} 00:00:00", "PageNumber": "1", "PageSize": "100"},
                    {"AppId": str(workspace), "NodeId": str(node), "CycleTime": str(cycle_ms), "BizDate": str(biz_ms)})
        return ({"ProjectId": str(MIRROR[workspace]), "ProjectEnv": env.title(), "TaskId": str(node),
                 "Bizdate": str(biz_ms), "TriggerType": "Scheduler", "WorkflowInstanceType": "Normal",
                 "PageNumber": "1", "PageSize": "500"},
                {"EnvType": env.title(), "TaskId": str(node), "TriggerTime": str(cycle_ms)})

    def workspace(self, workspace: int) -> int:
        """Where a 2020 workspace of the world stands on this harness's API."""
        return workspace if self.api == API_2020 else MIRROR[workspace]

    def sent_cycles(self) -> List[str]:
        """The scheduled time (epoch ms) each trigger named."""
        return [c["params"]["CycleTime" if self.api == API_2020 else "TriggerTime"] for c in self.calls("trigger")]


def pytest_collection_modifyitems(items) -> None:
    """The slow and load modules first: spread over workers (make test), each starts at once rather than last."""
    items.sort(key=lambda item: not (item.get_closest_marker("slow") or item.get_closest_marker("load")))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """pytest-xdist sends each report to its controller as UTF-8: a lone surrogate that a test logged or failed on
    (hostile input holds them) is sent backslash-escaped, or the whole run would stop on it."""
    report = (yield).get_result()
    report.sections = [(title, _utf8(text)) for title, text in report.sections]
    if report.longrepr is not None and _utf8(str(report.longrepr)) != str(report.longrepr):
        report.longrepr = _utf8(str(report.longrepr))


def _utf8(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.fixture(scope="session")
def world_emulator():
    """The world's emulator, started once per run: tests take it as `emulator`, reset."""
    with Emulator(WORLD) as emu:
        yield emu


@pytest.fixture(scope="session")
def world_oss():
    """The OSS stand-in with the world's buckets, started once per run: tests take it as `oss_standin`, reset."""
    with OssStandIn(oss_seed()) as standin:
        yield standin


@pytest.fixture
def emulator(world_emulator):
    """The world's emulator as its seed has it (clock, instances, parents, faults; no calls). Reset again after the
    test, which ends its requests' injected waits as stopping the server did."""
    world_emulator.reset()
    yield world_emulator
    world_emulator.reset()


@pytest.fixture
def api() -> str:
    """The DataWorks API the harness moves the rules to: 2020-05-18, or each of APIS under BOTH_APIS."""
    return API_2020


@pytest.fixture
def oss_standin(world_oss):
    """The world's buckets as seeded (objects, no faults, no calls), reset again after the test."""
    world_oss.reset()
    yield world_oss
    world_oss.reset()


@pytest.fixture
def refused():
    """host:port of a port bound and never listening: every connection is refused, and no one else takes it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def harness(emulator, oss_standin, api):
    def make(rules_text: Optional[str] = None, env: Optional[Dict[str, str]] = None,
             dry_run: Optional[bool] = None) -> Harness:
        return Harness(emulator, rules_text, env or {}, dry_run, api, oss_standin)
    return make


@contextmanager
def side_by_side(emulator: Callable[[], Emulator],
                 standin: Callable[[Emulator, int], OssStandIn]) -> Iterator[Tuple[Emulator, OssStandIn]]:
    """DataWorks on a port P the system gives and the OSS stand-in on P+1, as `dwtrigger emulator` serves them. Each
    server holds its port from its bind on (no port is found free, let go, and handed over for another to take
    meanwhile); when P+1 is someone else's, another P."""
    for _ in range(50):
        emu = emulator().start()
        try:
            oss = standin(emu, int(emu.endpoint.rsplit(":", 1)[1]) + 1).start()
        except OSError:
            emu.stop()
            continue
        try:
            yield emu, oss
        finally:
            oss.stop()
            emu.stop()
        return
    raise RuntimeError("no two consecutive free ports")
