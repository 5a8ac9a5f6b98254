"""The adapters: the generic call sends exactly what each product SDK's methods send (the product SDKs are the
oracles: same action, version, parameters and which of them travel in the query), answers map into the port's
facts, paging is bounded by the API's own limit whatever TotalCount claims, and a deployment that uses one API never
imports the other's adapter."""
import ast
import importlib
import json
import subprocess
import sys
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from alibabacloud_credentials.client import Client as CredClient
from alibabacloud_credentials.models import Config as CredConfig
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions

from conftest import MIRROR, ROLE_KEY, ROOT, orders_rules
from dwtrigger import dataworks
from dwtrigger.credentials import RoleKeys, credential_client
from dwtrigger.dataworks import API_2020, API_2024, DataWorksError, v20200518, v20240518
from dwtrigger.ops.emulator import Emulator
from dwtrigger.retry import Deadline

KEYS = RoleKeys(*ROLE_KEY.values())
NODE, HOURLY, DAY, BIZ_MS = 700001234567, 700001234999, date(2026, 3, 10), 1773072000000


def sent(emu) -> list:
    return [(c["action"], c["version"], c["query"], c["params"], c["status"]) for c in emu.calls]


def credential():
    return CredClient(CredConfig(type="sts", access_key_id=KEYS.access_key_id,
                                 access_key_secret=KEYS.access_key_secret, security_token=KEYS.security_token))


def product_2020(emu):
    """The look-up and trigger as the 2020-05-18 product SDK makes them; returns (CycTime, Bizdate)."""
    from alibabacloud_dataworks_public20200518 import models
    from alibabacloud_dataworks_public20200518.client import Client

    client = Client(Config(endpoint=emu.endpoint, protocol="http", credential=credential()))
    listing = client.list_instances_with_options(models.ListInstancesRequest(
        project_id=10001, project_env="PROD", node_id=NODE, bizdate="2026-03-10 00:00:00", page_number=1,
        page_size=100), RuntimeOptions()).body.data.instances
    [found] = [i for i in listing if i.dag_type == "DAILY"]
    client.run_trigger_node_with_options(models.RunTriggerNodeRequest(
        node_id=NODE, cycle_time=found.cyc_time, biz_date=found.bizdate, app_id=10001), RuntimeOptions())
    return found.cyc_time, found.bizdate


def product_2024(emu):
    """The same through the 2024-05-18 product SDK, on the world's new-Data-Studio workspace."""
    from alibabacloud_dataworks_public20240518 import models
    from alibabacloud_dataworks_public20240518.client import Client

    client = Client(Config(endpoint=emu.endpoint, protocol="http", credential=credential()))
    listing = client.list_task_instances_with_options(models.ListTaskInstancesRequest(
        project_id=MIRROR[10001], project_env="Prod", task_id=NODE, bizdate=BIZ_MS, trigger_type="Scheduler",
        workflow_instance_type="Normal", page_number=1, page_size=500), RuntimeOptions())
    [found] = listing.body.paging_info.task_instances
    client.trigger_scheduler_task_instance_with_options(models.TriggerSchedulerTaskInstanceRequest(
        env_type="Prod", task_id=NODE, trigger_time=found.trigger_time), RuntimeOptions())
    return found.trigger_time, found.bizdate


@pytest.mark.parametrize("api, product", [(API_2020, product_2020), (API_2024, product_2024)])
def test_the_generic_call_sends_what_the_product_sdk_sends(emulator, api, product):
    cycle_ms, biz_ms = product(emulator)
    by_product = sent(emulator)
    emulator.reset()

    workspace = 10001 if api == API_2020 else MIRROR[10001]
    ours = dataworks.adapter(api, emulator.endpoint, "http", credential_client(KEYS))
    deadline = Deadline(time.monotonic() + 10)
    [found] = [i for i in ours.list_instances(workspace, "PROD", NODE, DAY, BIZ_MS, deadline) if i.cycle]
    assert (found.node, found.cycle_ms, found.biz_date_ms, found.waiting, found.frozen) == \
        (NODE, cycle_ms, biz_ms, True, False)
    assert ours.trigger(workspace, "PROD", NODE, found.cycle_ms, found.biz_date_ms, deadline)
    assert sent(emulator) == by_product


def test_the_2024_calls_on_the_wire(emulator):
    """EnvType in the query, everything else in the form body; Bizdate as epoch ms; the recurring instances only."""
    ours = dataworks.adapter(API_2024, emulator.endpoint, "http", credential_client(KEYS))
    deadline = Deadline(time.monotonic() + 10)
    [found] = ours.list_instances(30001, "PROD", NODE, DAY, BIZ_MS, deadline)
    ours.trigger(30001, "PROD", NODE, found.cycle_ms, found.biz_date_ms, deadline)
    assert [(c["action"], c["query"], c["params"]) for c in emulator.calls] == [
        ("ListTaskInstances", [], {"ProjectId": "30001", "ProjectEnv": "Prod", "TaskId": str(NODE),
                                   "Bizdate": str(BIZ_MS), "TriggerType": "Scheduler",
                                   "WorkflowInstanceType": "Normal", "PageNumber": "1", "PageSize": "500"}),
        ("TriggerSchedulerTaskInstance", ["EnvType"],
         {"EnvType": "Prod", "TaskId": str(NODE), "TriggerTime": "1773160200000"})]


def test_one_listing_of_several_tasks_goes_as_the_product_sdk_sends_a_list(emulator):
    """2024-05-18 `list_many`: TaskIds as the product SDK writes a list (a JSON array in the form body), every
    task's instances in the answer, and no more tasks than a listing may name."""
    from alibabacloud_dataworks_public20240518 import models
    from alibabacloud_dataworks_public20240518.client import Client

    product = Client(Config(endpoint=emulator.endpoint, protocol="http", credential=credential()))
    product.list_task_instances_with_options(
        models.ListTaskInstancesRequest(project_id=MIRROR[10001], project_env="Prod", task_ids=[NODE, HOURLY],
                                        bizdate=BIZ_MS, trigger_type="Scheduler", workflow_instance_type="Normal",
                                        page_number=1, page_size=500), RuntimeOptions())
    by_product = sent(emulator)
    emulator.reset()
    ours = dataworks.adapter(API_2024, emulator.endpoint, "http", credential_client(KEYS))
    listed = ours.list_many(MIRROR[10001], "PROD", (NODE, HOURLY), DAY, BIZ_MS, Deadline(time.monotonic() + 10))
    assert sent(emulator) == by_product and by_product[0][3]["TaskIds"] == f"[{NODE},{HOURLY}]"
    assert sorted((i.node, i.biz_date_ms) for i in listed) == [(NODE, BIZ_MS)] + [(HOURLY, BIZ_MS)] * 24
    with pytest.raises(ValueError):
        ours.list_many(MIRROR[10001], "PROD", list(range(1, ours.nodes_per_listing + 2)), DAY, BIZ_MS,
                       Deadline(time.monotonic() + 10))
    old = dataworks.adapter(API_2020, emulator.endpoint, "http", credential_client(KEYS))
    assert old.nodes_per_listing == 1
    with pytest.raises(ValueError):
        old.list_many(10001, "PROD", (NODE, HOURLY), DAY, BIZ_MS, Deadline(time.monotonic() + 10))


@pytest.mark.parametrize("raw", ["700001234567", "[700001234567,", '["700001234567"]', "[1.5]", "{}"])
def test_the_emulator_refuses_task_ids_that_are_not_a_json_array_of_integers(emulator, raw):
    from alibabacloud_tea_openapi.client import Client as OpenApi
    from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params

    client = OpenApi(Config(endpoint=emulator.endpoint, protocol="http", credential=credential()))
    with pytest.raises(Exception) as err:
        client.call_api(Params(action="ListTaskInstances", version=API_2024, protocol="HTTPS", pathname="/",
                               method="POST", auth_type="AK", style="RPC", req_body_type="formData",
                               body_type="json"),
                        OpenApiRequest(body={"ProjectId": str(MIRROR[10001]), "Bizdate": str(BIZ_MS), "TaskIds": raw}),
                        RuntimeOptions())
    assert getattr(err.value, "code", None) == "InvalidParameter" and "TaskIds" in str(err.value)


@pytest.mark.parametrize("api, module, workspace, total", [(API_2020, v20200518, 10001, 24),
                                                           (API_2024, v20240518, 30001, 24)])
def test_paging_stops_at_the_apis_limit(emulator, monkeypatch, api, module, workspace, total):
    monkeypatch.setattr(module, "PAGE_SIZE", 1)                # the world's hourly node: 24 instances a day
    monkeypatch.setattr(module, "MAX_PAGES", 3)
    ours = dataworks.adapter(api, emulator.endpoint, "http", credential_client(KEYS))
    with pytest.raises(DataWorksError) as err:
        ours.list_instances(workspace, "PROD", HOURLY, DAY, BIZ_MS, Deadline(time.monotonic() + 10))
    assert (err.value.code, err.value.retryable) == ("BadResponse", True)
    assert f"did not end within 3 pages (TotalCount {total})" in err.value.message
    assert [c["params"]["PageNumber"] for c in emulator.calls] == ["1", "2", "3"]


def test_describe_names_each_apis_calls_without_an_sdk():
    old = dataworks.describe(API_2020, 10001, "PROD", NODE, DAY, BIZ_MS, None, lookup=True)
    new = dataworks.describe(API_2024, 30001, "DEV", NODE, DAY, BIZ_MS, 1773160200000, lookup=False)
    assert [str(c) for c in old] == [
        f"ListInstances(ProjectId=10001, ProjectEnv=PROD, NodeId={NODE}, Bizdate=2026-03-10 00:00:00, "
        "PageNumber=1, PageSize=100)",
        f"RunTriggerNode(AppId=10001, NodeId={NODE}, CycleTime=the instance's CycTime, "
        "BizDate=the instance's Bizdate)"]
    assert [str(c) for c in new] == [
        f"TriggerSchedulerTaskInstance(EnvType=Dev, TaskId={NODE}, TriggerTime=1773160200000)"]


PROBE = """
import json, sys
from dwtrigger import app
app.warm_up()
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("dwtrigger.dataworks", "alibabacloud_dataworks")))))
"""


@pytest.mark.parametrize("api", [API_2020, API_2024])
def test_a_deployment_on_one_api_never_imports_the_other(tmp_path, api):
    rules = tmp_path / "rules.yaml"
    rules.write_text(orders_rules("{workspace: 10001, node: 700001234567}", extra=f'api: "{api}"'))
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60,
                         env={"DWTRIGGER_RULES": str(rules)})
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    other = v20240518 if api == API_2020 else v20200518
    assert f"dwtrigger.dataworks.v{api.replace('-', '')}" in loaded
    assert other.__name__ not in loaded and not [m for m in loaded if m.startswith("alibabacloud_dataworks")]


# --- parents and phases (dwtrigger doctor) ----------------------------------------------------------------------

CHILD, LOAD, REMOTE = 900001, 900002, 900003
PHASED = {"NOT_RUN": "not_run", "WAIT_TIME": "wait_time", "WAIT_TRIGGER": "wait_trigger",
          "WAIT_RESOURCE": "wait_resource", "RUNNING": "running", "CHECKING": "running",
          "CHECKING_CONDITION": "running", "FAILURE": "failed", "SUCCESS": "succeeded"}
PHASE_DAYS = {status: date(2026, 3, 1 + n) for n, status in enumerate(PHASED)}


def family(other: int) -> list:
    """A child with a parent in its workspace, one in `other` and one on its own previous cycle; `LOAD` has an
    instance in every status, one business date each."""
    return [{"id": LOAD, "name": "load", "deployed": "2026-02-01", "instances": [
                {"bizdate": f"{day}", "status": status} for status, day in PHASE_DAYS.items()]},
            {"id": CHILD, "name": "child", "deployed": "2026-02-01",
             "parents": [LOAD, {"id": REMOTE, "workspace": other}, {"id": CHILD, "cross_cycle": True}]}]


FAMILY = {"now": "2026-03-12T09:00:00+08:00",
          "keys": [{"access_key_id": KEYS.access_key_id, "access_key_secret": KEYS.access_key_secret,
                    "security_token": KEYS.security_token}],
          "workspaces": [{"id": 40001, "nodes": family(40002)}, {"id": 50001, "api": API_2024, "nodes": family(50002)}]
          + [{"id": ws, "api": api, "nodes": [{"id": REMOTE, "name": "remote", "deployed": "2026-02-01"}]}
             for ws, api in ((40002, API_2020), (50002, API_2024))]}


@pytest.fixture(scope="module")
def kin():
    with Emulator(FAMILY) as emu:
        yield emu


def product_parents(emu, api) -> None:
    """The node's parents as each API's product SDK asks for them."""
    client_module = importlib.import_module(f"alibabacloud_dataworks_public{api.replace('-', '')}.client")
    models = importlib.import_module(f"alibabacloud_dataworks_public{api.replace('-', '')}.models")
    client = client_module.Client(Config(endpoint=emu.endpoint, protocol="http", credential=credential()))
    if api == API_2020:
        client.get_node_parents_with_options(models.GetNodeParentsRequest(node_id=CHILD, project_env="PROD"),
                                             RuntimeOptions())
    else:
        client.list_upstream_tasks_with_options(models.ListUpstreamTasksRequest(
            id=CHILD, project_env="Prod", page_number=1, page_size=100), RuntimeOptions())


@pytest.mark.parametrize("api, workspace, other", [(API_2020, 40001, 40002), (API_2024, 50001, 50002)])
def test_parents_are_asked_as_the_product_sdk_asks_and_mapped(kin, api, workspace, other):
    kin.reset()
    product_parents(kin, api)
    by_product = sent(kin)
    kin.reset()
    ours = dataworks.adapter(api, kin.endpoint, "http", credential_client(KEYS))
    parents = ours.parents(workspace, "PROD", CHILD, Deadline(time.monotonic() + 10))
    assert sent(kin) == by_product
    assert by_product[0][:3] == (("GetNodeParents", API_2020, []) if api == API_2020 else
                                 ("ListUpstreamTasks", API_2024, ["Id", "PageNumber", "PageSize", "ProjectEnv"]))
    assert parents == [dataworks.Parent(LOAD, workspace, "load", False),
                       dataworks.Parent(REMOTE, other, "remote", False), dataworks.Parent(CHILD, workspace, "child", True)]


@pytest.mark.parametrize("api, workspace", [(API_2020, 40001), (API_2024, 50001)])
def test_every_status_maps_to_a_phase_whatever_its_spelling(kin, api, workspace):
    ours = dataworks.adapter(api, kin.endpoint, "http", credential_client(KEYS))
    deadline = Deadline(time.monotonic() + 10)
    for status, day in PHASE_DAYS.items():
        biz_ms = int(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()) * 1000
        [found] = ours.list_instances(workspace, "PROD", LOAD, day, biz_ms, deadline)
        phase = PHASED[status]
        assert (found.phase, found.waiting, found.ready) == \
            (phase, phase in ("not_run", "wait_time", "wait_trigger"), phase == "wait_trigger"), status


def test_an_older_answer_with_only_the_deprecated_tasks_list(kin):
    kin.reset()
    kin.set_faults(script=["malformed"], malformed_body=json.dumps({"RequestId": "r", "PagingInfo": {
        "TotalCount": 1, "PageNumber": 1, "Tasks": [{"Id": 7, "Name": "old", "StepType": "CrossCycle"}]}}))
    ours = dataworks.adapter(API_2024, kin.endpoint, "http", credential_client(KEYS))
    assert ours.parents(50001, "PROD", CHILD, Deadline(time.monotonic() + 10)) == \
        [dataworks.Parent(7, 50001, "old", True)]                  # no ProjectId: the child's workspace


@pytest.mark.parametrize("api, body, message", [
    (API_2020, '{"RequestId": "r", "Success": true}', "GetNodeParents answered Success without Data"),
    (API_2020, '{"Success": true, "Data": {"Nodes": [{"NodeId": "x"}]}}', "GetNodeParents answered off its schema"),
    (API_2024, '{"RequestId": "r"}', "ListUpstreamTasks answered without PagingInfo"),
    (API_2024, '{"PagingInfo": {"TotalCount": 1, "UpstreamTasks": [{"Task": {}}]}}',
     "ListUpstreamTasks answered off its schema"),
])
def test_a_parents_answer_off_its_schema_is_a_retryable_bad_response(kin, api, body, message):
    kin.reset()
    kin.set_faults(script=["malformed"], malformed_body=body)
    ours = dataworks.adapter(api, kin.endpoint, "http", credential_client(KEYS))
    with pytest.raises(DataWorksError) as err:
        ours.parents(40001 if api == API_2020 else 50001, "PROD", CHILD, Deadline(time.monotonic() + 10))
    assert (err.value.code, err.value.retryable) == ("BadResponse", True)
    assert err.value.message.startswith(message)


def test_upstream_paging_stops_at_the_limit(kin, monkeypatch):
    kin.reset()
    monkeypatch.setattr(v20240518, "UPSTREAM_PAGE_SIZE", 1)
    monkeypatch.setattr(v20240518, "MAX_PAGES", 2)
    ours = dataworks.adapter(API_2024, kin.endpoint, "http", credential_client(KEYS))
    with pytest.raises(DataWorksError) as err:
        ours.parents(50001, "PROD", CHILD, Deadline(time.monotonic() + 10))
    assert "did not end within 2 pages (TotalCount 3)" in err.value.message
    assert [c["params"]["PageNumber"] for c in kin.calls] == ["1", "2"]


@pytest.mark.parametrize("api, product", [(API_2020, product_2020), (API_2024, product_2024)])
def test_a_released_instance_says_when_it_ran_in_both_apis_spellings(emulator, api, product):
    """BeginRunningTime/FinishTime (2020-05-18), StartedTime/FinishedTime (2024-05-18): the board's run marks; an
    instance that has not run has none."""
    workspace = 10001 if api == API_2020 else MIRROR[10001]
    ours = dataworks.adapter(api, emulator.endpoint, "http", credential_client(KEYS))
    deadline = Deadline(time.monotonic() + 10)
    [before] = [i for i in ours.list_instances(workspace, "PROD", NODE, DAY, BIZ_MS, deadline) if i.cycle]
    assert (before.status in ("WAIT_TRIGGER", "WaitTrigger"), before.began_ms, before.finished_ms) == (True, None, None)
    product(emulator)
    [after] = [i for i in ours.list_instances(workspace, "PROD", NODE, DAY, BIZ_MS, deadline) if i.cycle]
    ran = int(emulator.clock.now().timestamp() * 1000)
    assert (after.phase, after.began_ms, after.finished_ms) == ("succeeded", ran, ran)


def test_every_typed_decode_goes_through_a_decoder_built_at_import():
    """msgspec builds a type's decoding information on its first use, and two threads doing that at once for one type
    crash the process (a segfault in msgspec._core: the load run's eight FC instances met it on a first ListInstances
    answer, and FC runs an instance's concurrent requests as threads too). So no answer, ledger record, request body
    or channel reply is decoded by `msgspec.json.decode(..., type=T)`: each type has a Decoder built at import
    (dataworks/openapi.py)."""
    typed = []
    for path in sorted((ROOT / "shared" / "dwtrigger").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith(("json.decode", "msgpack.decode")) and \
                    any(keyword.arg == "type" for keyword in node.keywords):
                typed.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert typed == []
