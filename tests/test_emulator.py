"""The DataWorks emulator, exercised through the real SDK (no mocks): what the product's tests will rely on."""

import hashlib
import http.client
import json
import re
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from alibabacloud_credentials.client import Client as CredClient
from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_credentials.models import Config as CredConfig
from alibabacloud_dataworks_public20200518 import models as dw
from alibabacloud_dataworks_public20200518.client import Client
from alibabacloud_dataworks_public20240518 import models as dw24
from alibabacloud_dataworks_public20240518.client import Client as Client24
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi import utils_models as open_api_util_models
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from alibabacloud_tea_openapi.utils import Utils
from darabonba.exceptions import RetryError
from darabonba.request import DaraRequest
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import UnretryableException

from dwtrigger.ops.emulator import DEFAULT_SEED, Emulator
from standins import wait_until

ROLE = "acs:ram::1234567890:role/dwtrigger-cross"
WORLD = Path(__file__).with_name("world.yaml")
WS, BERLIN = 10001, 20002
NEW_WS, NEW_BERLIN = 30001, 30002   # on the 2024-05-18 API (new Data Studio), with WS's and BERLIN's nodes
DAILY, HOURLY, PENDING, FROZEN, DEV_NODE = 700001, 700002, 700003, 700004, 700005
BERLIN_DAILY, BERLIN_HOURLY, LEGACY = 800001, 800002, 800003   # LEGACY: in BERLIN only
SHANGHAI_NODES = [
    {"id": DAILY, "name": "orders_trigger", "deployed": "2026-03-01", "at": "00:30", "instances": [
        {"bizdate": "2026-03-05", "status": "SUCCESS"},
        {"bizdate": "2026-03-09", "dag_type": "SUPPLY_DATA"}]},
    {"id": HOURLY, "name": "clicks_trigger", "deployed": "2026-03-01", "hourly": True},
    {"id": PENDING, "name": "ledger_trigger", "deployed": "2026-03-01", "at": "09:00", "parents_done": False},
    {"id": FROZEN, "name": "frozen_trigger", "deployed": "2026-03-01", "at": "00:30", "frozen": True},
    {"id": DEV_NODE, "name": "dev_trigger", "deployed": "2026-03-01", "at": "00:30", "env": "DEV"}]
BERLIN_NODES = [{"id": BERLIN_DAILY, "deployed": "2026-03-01", "at": "00:30"},
                {"id": BERLIN_HOURLY, "deployed": "2026-03-01", "hourly": True}]
SEED = {
    "now": "2026-03-12T10:00:00+08:00",
    "keys": [{"access_key_id": "LTAItestkey", "access_key_secret": "test-secret"},
             {"access_key_id": "STS.testkey", "access_key_secret": "sts-secret", "security_token": "sts-token"}],
    "roles": [ROLE],
    "workspaces": [
        {"id": WS, "timezone": "Asia/Shanghai", "nodes": SHANGHAI_NODES},
        {"id": BERLIN, "timezone": "Europe/Berlin",
         "nodes": BERLIN_NODES + [{"id": LEGACY, "deployed": "2026-03-01", "at": "00:30"}]},
        {"id": NEW_WS, "timezone": "Asia/Shanghai", "api": "2024-05-18", "nodes": SHANGHAI_NODES},
        {"id": NEW_BERLIN, "timezone": "Europe/Berlin", "api": "2024-05-18", "nodes": BERLIN_NODES}],
}


def ms(iso: str) -> int:
    """Epoch ms of a wall time with an explicit offset: independent of the emulator's zone handling."""
    return int(datetime.fromisoformat(iso).timestamp()) * 1000


@pytest.fixture(scope="module")
def emu():
    started = time.perf_counter()
    with Emulator(SEED) as server:
        print(f"emulator started in {time.perf_counter() - started:.3f}s")
        yield server


@pytest.fixture(autouse=True)
def fresh(emu):
    emu.reset()


def sdk(emu, ak="LTAItestkey", secret="test-secret", token=None, **cred):
    kind = "sts" if token else "access_key"
    credential = CredClient(CredConfig(type=cred.pop("type", kind), access_key_id=ak, access_key_secret=secret,
                                       security_token=token, **cred))
    return Client(open_api_models.Config(endpoint=emu.endpoint, protocol="http", credential=credential))


def listing(client, bizdate, node=None, workspace=WS, env="PROD", **kw):
    request = dw.ListInstancesRequest(project_id=workspace, project_env=env, node_id=node,
                                      bizdate=f"{bizdate} 00:00:00", **kw)
    return client.list_instances(request).body


def instance(client, bizdate, node=DAILY, workspace=WS):
    (found,) = listing(client, bizdate, node, workspace).data.instances
    return found


def trigger_request(inst, node=None, app=WS):
    return dw.RunTriggerNodeRequest(node_id=node or inst.node_id, cycle_time=inst.cyc_time, biz_date=inst.bizdate,
                                    app_id=app)


def trigger(client, inst, node=None, app=WS):
    return client.run_trigger_node(trigger_request(inst, node, app)).body


def status(client, bizdate, node=DAILY):
    return instance(client, bizdate, node).status


def refused(call, code, status_code=400, exc=ClientException):
    with pytest.raises(exc) as info:
        call()
    assert type(info.value) is exc
    assert (info.value.code, info.value.status_code) == (code, status_code)
    return info.value


# --- instances ------------------------------------------------------------------------------------------------

def test_daily_instance_in_shanghai(emu):
    inst = instance(sdk(emu), "2026-03-11")
    assert (inst.cyc_time, inst.bizdate) == (ms("2026-03-12T00:30:00+08:00"), ms("2026-03-11T00:00:00+08:00"))
    assert (inst.node_id, inst.node_name, inst.dag_type, inst.task_type) == (DAILY, "orders_trigger", "DAILY", "NORMAL")
    assert inst.status == "WAIT_TRIGGER"
    assert inst.instance_id in {i["InstanceId"] for i in emu.instances(WS, DAILY)}


def test_dataworks_doc_example():
    """DataWorks' own example (UTC+8): Bizdate 1590336000000 = 2020-05-25 00:00, CycTime 1590422400000 = 05-26 00:00."""
    seed = {"now": "2020-05-26T12:00:00+08:00",
            "workspaces": [{"id": 1, "nodes": [{"id": 2, "deployed": "2020-05-25", "at": "00:00"}]}]}
    first = Emulator(seed).instances()[0]
    assert (first["Bizdate"], first["CycTime"], first["Status"]) == (1590336000000, 1590422400000, "WAIT_TRIGGER")


def test_seed_override_and_backfill_instance(emu):
    client = sdk(emu)
    assert status(client, "2026-03-05") == "SUCCESS"
    found = listing(client, "2026-03-09", DAILY).data.instances
    assert sorted(i.dag_type for i in found) == ["DAILY", "SUPPLY_DATA"]
    assert len({(i.cyc_time, i.bizdate) for i in found}) == 1 and len({i.instance_id for i in found}) == 2


def test_hourly_instances_and_paging(emu):
    client = sdk(emu)
    pages = [listing(client, "2026-03-11", HOURLY, page_number=n, page_size=10).data for n in (1, 2, 3)]
    assert [p.total_count for p in pages] == [24, 24, 24]
    found = [i for p in pages for i in p.instances]
    assert [len(p.instances) for p in pages] == [10, 10, 4]
    assert [i.cyc_time for i in found] == [ms("2026-03-12T00:00:00+08:00") + h * 3_600_000 for h in range(24)]
    assert {i.bizdate for i in found} == {ms("2026-03-11T00:00:00+08:00")}
    # 10:00 now: 00:00..10:00 have passed, 11:00..23:00 have not
    assert [i.status for i in found] == ["WAIT_TRIGGER"] * 11 + ["WAIT_TIME"] * 13
    assert listing(client, "2026-03-11", HOURLY, page_number=4, page_size=10).data.instances == []


def test_page_size_limit(emu):
    client = sdk(emu)
    assert len(listing(client, "2026-03-11", page_size=100).data.instances) == 27  # 3 daily + 24 hourly; DEV excluded
    refused(lambda: listing(client, "2026-03-11", page_size=101), "InvalidParameter")


def test_dst_zone_europe_berlin(emu):
    emu.clock.set(datetime(2026, 4, 1, 12, tzinfo=timezone.utc))
    client = sdk(emu)
    before = instance(client, "2026-03-28", BERLIN_DAILY, BERLIN)
    after = instance(client, "2026-03-29", BERLIN_DAILY, BERLIN)
    assert (before.cyc_time, before.bizdate) == (ms("2026-03-29T00:30:00+01:00"), ms("2026-03-28T00:00:00+01:00"))
    assert (after.cyc_time, after.bizdate) == (ms("2026-03-30T00:30:00+02:00"), ms("2026-03-29T00:00:00+01:00"))
    spring = listing(client, "2026-03-28", BERLIN_HOURLY, BERLIN, page_size=100).data.instances
    assert len(spring) == 23  # 02:00 does not exist on 2026-03-29
    assert spring[2].cyc_time == ms("2026-03-29T03:00:00+02:00")
    assert trigger(client, after, app=BERLIN).success is True


def test_t_plus_one_generation(emu):
    client = sdk(emu)
    assert status(client, "2026-03-12") == "WAIT_TIME"  # cycle 2026-03-13 00:30, generated a day ahead
    assert listing(client, "2026-03-13", DAILY).data.total_count == 0
    assert listing(client, "2026-02-28", DAILY).data.total_count == 0  # before deployment
    emu.clock.advance(86400)
    assert status(client, "2026-03-13") == "WAIT_TIME"


def test_dev_env_node_only_listed_in_dev(emu):
    client = sdk(emu)
    assert [i.node_id for i in listing(client, "2026-03-11", env="DEV").data.instances] == [DEV_NODE]
    assert DEV_NODE not in {i.node_id for i in listing(client, "2026-03-11").data.instances}


# --- triggers -------------------------------------------------------------------------------------------------

def test_trigger_releases_waiting_instance_once(emu):
    client = sdk(emu)
    inst = instance(client, "2026-03-11")
    assert trigger(client, inst).success is True
    assert status(client, "2026-03-11") == "SUCCESS"
    (state,) = [i for i in emu.instances(WS, DAILY) if i["InstanceId"] == inst.instance_id]
    assert (state["Triggers"], state["Released"]) == (1, True)
    refused(lambda: trigger(client, inst), "Emulator.Instance.AlreadyRun")
    refused(lambda: trigger(client, instance(client, "2026-03-05")), "Emulator.Instance.AlreadyRun")


def test_the_triggered_instances_are_exactly_those_with_a_trigger(emu):
    """instances(triggered=True), which the tests' duplicate count reads, is the whole dump's triggered part."""
    client = sdk(emu)
    trigger(client, instance(client, "2026-03-11"))
    trigger(client, instance(client, "2026-03-11", PENDING))
    emu.clock.advance(24 * 3600 + 1)                                  # the held one expired: still triggered once
    def ids(instances):
        return sorted((i["InstanceId"], i["Triggers"], i["Status"]) for i in instances)

    whole = emu.instances()
    assert ids(emu.instances(triggered=True)) == ids(i for i in whole if i["Triggers"]) and len(whole) > 100
    assert ids(emu.instances(WS, PENDING, triggered=True)) == ids(i for i in emu.instances(WS, PENDING) if i["Triggers"])
    emu.reset()
    assert emu.instances(triggered=True) == []


def test_held_trigger_released_when_parents_finish(emu):
    client = sdk(emu)
    inst = instance(client, "2026-03-11", PENDING)
    assert inst.status == "NOT_RUN"
    assert trigger(client, inst).success is True
    emu.clock.advance(23 * 3600)
    assert status(client, "2026-03-11", PENDING) == "NOT_RUN"
    emu.finish_parents(WS, PENDING, "2026-03-11")
    assert status(client, "2026-03-11", PENDING) == "SUCCESS"


def test_held_trigger_expires_after_24_hours(emu):
    client = sdk(emu)
    inst = instance(client, "2026-03-11", PENDING)
    trigger(client, inst)
    emu.clock.advance(24 * 3600 + 1)
    emu.finish_parents(WS, PENDING, "2026-03-11")
    assert status(client, "2026-03-11", PENDING) == "WAIT_TRIGGER"
    assert trigger(client, inst).success is True
    assert status(client, "2026-03-11", PENDING) == "SUCCESS"
    assert [i["Triggers"] for i in emu.instances(WS, PENDING) if i["InstanceId"] == inst.instance_id] == [2]


def test_trigger_before_cycle_time_runs_at_cycle_time(emu):
    client = sdk(emu)
    inst = instance(client, "2026-03-12")
    trigger(client, inst)
    assert status(client, "2026-03-12") == "WAIT_TIME"
    emu.clock.set(datetime.fromisoformat("2026-03-13T00:30:00+08:00"))
    assert status(client, "2026-03-12") == "SUCCESS"


def test_frozen_node_refused(emu):
    client = sdk(emu)
    inst = instance(client, "2026-03-11", FROZEN)
    assert (inst.task_type, inst.status) == ("PAUSE", "NOT_RUN")
    refused(lambda: trigger(client, inst), "Emulator.Instance.Frozen")


def test_no_matching_daily_instance_refused(emu):
    client = sdk(emu)
    inst = instance(client, "2026-03-11")
    refused(lambda: trigger(client, inst, node=HOURLY), "Emulator.Instance.NotFound")
    inst.cyc_time += 60_000
    refused(lambda: trigger(client, inst), "Emulator.Instance.NotFound")
    future = dw.RunTriggerNodeRequest(node_id=DAILY, cycle_time=ms("2026-03-14T00:30:00+08:00"),
                                      biz_date=ms("2026-03-13T00:00:00+08:00"), app_id=WS)
    refused(lambda: client.run_trigger_node(future), "Emulator.Instance.NotFound")


def test_missing_and_invalid_parameters(emu):
    client = sdk(emu)
    inst = instance(client, "2026-03-11")
    missing = dw.RunTriggerNodeRequest(node_id=DAILY, cycle_time=inst.cyc_time, biz_date=inst.bizdate)
    error = refused(lambda: client.run_trigger_node(missing), "MissingParameter")
    assert '"AppId"' in error.data["Message"]
    bad = dw.RunTriggerNodeRequest(node_id="orders", cycle_time=inst.cyc_time, biz_date=inst.bizdate, app_id=WS)
    assert '"NodeId"' in refused(lambda: client.run_trigger_node(bad), "InvalidParameter").data["Message"]
    refused(lambda: trigger(client, inst, app=99999), "InvalidParameter")
    refused(lambda: listing(client, "2026-03-11", workspace=99999), "InvalidParameter")
    refused(lambda: listing(client, "2026-03-11", env="TEST"), "InvalidParameter")
    no_date = dw.ListInstancesRequest(project_id=WS, project_env="PROD", bizdate="2026-03-11")
    refused(lambda: client.list_instances(no_date), "InvalidParameter")
    refused(lambda: client.list_instances(dw.ListInstancesRequest(project_env="PROD")), "MissingParameter")
    assert [c["code"] for c in emu.calls][-3:] == ["InvalidParameter", "InvalidParameter", "MissingParameter"]


# --- authentication -------------------------------------------------------------------------------------------

def test_wrong_secret_and_unknown_key(emu):
    refused(lambda: listing(sdk(emu, secret="wrong"), "2026-03-11"), "SignatureDoesNotMatch")
    refused(lambda: listing(sdk(emu, ak="LTAInobody"), "2026-03-11"), "InvalidAccessKeyId.NotFound", 404)
    assert [(c["access_key_id"], c["status"]) for c in emu.calls] == [("LTAItestkey", 400), ("LTAInobody", 404)]


def test_sts_key_needs_its_token(emu):
    assert listing(sdk(emu, "STS.testkey", "sts-secret", "sts-token"), "2026-03-11").success is True
    code = "InvalidSecurityToken.MismatchWithAccessKey"
    refused(lambda: listing(sdk(emu, "STS.testkey", "sts-secret", "other-token"), "2026-03-11"), code)
    refused(lambda: listing(sdk(emu, "STS.testkey", "sts-secret"), "2026-03-11"), code)


def signed_headers(emu, body: str, secret="test-secret", stamp=None, nonce=None):
    """Headers the SDK would send for `body`, signed by the SDK's own signer."""
    payload = hashlib.sha256(body.encode()).hexdigest()
    request = DaraRequest()
    request.method, request.pathname = "POST", "/"
    request.headers = {"host": emu.endpoint, "x-acs-action": "ListInstances", "x-acs-version": "2020-05-18",
                       "x-acs-date": stamp or Utils.get_timestamp(),
                       "x-acs-signature-nonce": nonce or Utils.get_nonce(),
                       "content-type": "application/x-www-form-urlencoded", "x-acs-content-sha256": payload}
    request.headers["Authorization"] = Utils.get_authorization(request, "ACS3-HMAC-SHA256", payload,
                                                               "LTAItestkey", secret)
    return request.headers


def raw_post(emu, body: str, headers: dict):
    connection = http.client.HTTPConnection(*emu.endpoint.split(":"), timeout=5)
    try:
        connection.request("POST", "/", body=body.encode(), headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


BODY = "Bizdate=2026-03-11%2000%3A00%3A00&ProjectEnv=PROD&ProjectId=10001"


def test_raw_signed_request_accepted(emu):
    status_code, body = raw_post(emu, BODY, signed_headers(emu, BODY))
    assert (status_code, body["Data"]["TotalCount"]) == (200, 27)


def test_tampered_body_rejected(emu):
    tampered = BODY.replace("10001", "20002")
    headers = signed_headers(emu, BODY)
    body = raw_post(emu, tampered, headers)[1]
    assert (body["Code"], body["Message"]) == ("SignatureDoesNotMatch",
                                               "x-acs-content-sha256 does not match the request body.")
    headers["x-acs-content-sha256"] = hashlib.sha256(tampered.encode()).hexdigest()
    body = raw_post(emu, tampered, headers)[1]  # hash fixed, signature not
    assert (body["Code"], body["Message"]) == ("SignatureDoesNotMatch",
                                               "Specified signature does not match our calculation.")
    swapped = dict(signed_headers(emu, BODY), **{"x-acs-action": "RunTriggerNode"})
    assert raw_post(emu, BODY, swapped)[1]["Code"] == "SignatureDoesNotMatch"
    unsigned = dict(signed_headers(emu, BODY), **{"x-acs-extra": "1"})
    assert raw_post(emu, BODY, unsigned)[1]["Message"] == "Headers ['x-acs-extra'] must be signed."


def test_replayed_nonce_rejected(emu):
    headers = signed_headers(emu, BODY)
    assert raw_post(emu, BODY, headers)[0] == 200
    status_code, body = raw_post(emu, BODY, headers)
    assert (status_code, body["Code"]) == (400, "SignatureNonceUsed")


def test_stale_date_and_missing_authorization(emu):
    stale = (datetime.now(timezone.utc) - timedelta(minutes=16)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert raw_post(emu, BODY, signed_headers(emu, BODY, stamp=stale))[1]["Code"] == "InvalidTimeStamp.Expired"
    fresh_enough = (datetime.now(timezone.utc) - timedelta(minutes=14)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert raw_post(emu, BODY, signed_headers(emu, BODY, stamp=fresh_enough))[0] == 200
    headers = signed_headers(emu, BODY)
    del headers["Authorization"]
    status_code, body = raw_post(emu, BODY, headers)
    assert (status_code, body["Code"], body["HostId"]) == (400, "IncompleteSignature", "dataworks.aliyuncs.com")
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}


def test_calls_never_hold_secrets(emu):
    assumed = CredClient(CredConfig(type="ram_role_arn", access_key_id="LTAItestkey", access_key_secret="test-secret",
                                    role_arn=ROLE, role_session_name="s", sts_endpoint=emu.sts_endpoint))
    listing(Client(open_api_models.Config(endpoint=emu.endpoint, protocol="http", credential=assumed)), "2026-03-11")
    listing(sdk(emu, "STS.testkey", "sts-secret", "sts-token"), "2026-03-11")
    headers = signed_headers(emu, BODY)
    raw_post(emu, BODY, headers)
    issued = assumed.get_credential()
    recorded = json.dumps(emu.calls)
    assert "LTAItestkey" in recorded and issued.access_key_id in recorded
    for secret in ("test-secret", "sts-secret", "sts-token", issued.access_key_secret, issued.security_token,
                   headers["Authorization"].rsplit("Signature=", 1)[1]):
        assert secret not in recorded
    assert not any({"Signature", "SecurityToken"} & set(c["params"]) for c in emu.calls)


# --- faults ---------------------------------------------------------------------------------------------------

def test_throttle_without_retry_after_is_plain_client_exception(emu):
    emu.set_faults(script=["throttle"])
    client = sdk(emu)
    error = refused(lambda: listing(client, "2026-03-11"), "Throttling.User", 429)
    assert not isinstance(error, ThrottlingException)
    assert listing(client, "2026-03-11").success is True


def test_throttle_with_retry_after_is_throttling_exception(emu):
    emu.set_faults(script=["throttle"], retry_after_ms=1500)
    error = refused(lambda: listing(sdk(emu), "2026-03-11"), "Throttling.User", 429, ThrottlingException)
    assert error.retry_after == 1500  # milliseconds: darabonba sleeps retry_after / 1000 s


def test_qps_limit(emu, monkeypatch):
    """Five calls in one rolling second of a qps=3 emulator: three answered, two throttled; once that second has
    passed, answered again. On a stepped clock for the window, so a slow machine cannot spread the calls out."""
    now = [0.0]
    monkeypatch.setattr(emu._faults, "clock", lambda: now[0])
    emu.set_faults(qps=3)
    client = sdk(emu)

    def outcome():
        try:
            return listing(client, "2026-03-11").success
        except ClientException as e:
            return e.code
    outcomes = []
    for _ in range(5):
        outcomes.append(outcome())
        now[0] += 0.2
    assert outcomes == [True, True, True, "Throttling.User", "Throttling.User"]
    now[0] = 1.0                                    # the first call (at 0.0) has left the window
    assert outcome() is True


def test_reads_and_writes_are_throttled_by_quotas_of_their_own(emu):
    """DataWorks splits its quota into reads and writes: a full read window holds no trigger back, and the reverse."""
    client = sdk(emu)
    inst = instance(client, "2026-03-11")
    emu.set_faults(read_qps=2, write_qps=1)

    def outcome(call):
        try:
            return call().body.success
        except ClientException as e:
            return e.code

    reads = [outcome(lambda: client.list_instances(dw.ListInstancesRequest(
        project_id=WS, project_env="PROD", bizdate="2026-03-11 00:00:00"))) for _ in range(3)]
    writes = [outcome(lambda: client.run_trigger_node(trigger_request(inst))) for _ in range(2)]
    assert (reads, writes) == ([True, True, "Throttling.User"], [True, "Throttling.User"])
    assert [c["fault"] for c in emu.calls[-5:]] == [None, None, "throttle", None, "throttle"]


@pytest.mark.parametrize("fault,exc,code,status_code", [
    ("error", ServerException, "InternalError.System", 500),
    ("forbidden", ClientException, "ResourceNotAuthorized.Api", 403),
])
def test_error_faults(emu, fault, exc, code, status_code):
    emu.set_faults(script=[fault])
    refused(lambda: listing(sdk(emu), "2026-03-11"), code, status_code, exc)
    assert (emu.calls[-1]["status"], emu.calls[-1]["code"], emu.calls[-1]["fault"]) == (status_code, code, fault)


@pytest.mark.parametrize("fault,inner,text", [("html_502", RuntimeError, "Failed to parse the value as json"),
                                              ("drop", RetryError, "Remote end closed connection")])
def test_unretryable_faults(emu, fault, inner, text):
    emu.set_faults(script=[fault])
    with pytest.raises(UnretryableException) as info:
        listing(sdk(emu), "2026-03-11")
    assert info.value.code is None and type(info.value.inner_exception) is inner
    assert text in str(info.value.inner_exception)
    assert emu.calls[-1]["fault"] == fault
    assert emu.calls[-1]["status"] == {"html_502": 502, "drop": None}[fault]


def test_success_false_raises_nothing(emu):
    client = sdk(emu)
    inst = instance(client, "2026-03-11")
    emu.set_faults(script=["success_false"])
    body = trigger(client, inst)
    assert (body.success, emu.calls[-1]["status"], emu.calls[-1]["code"]) == (False, 200, "Emulator.Injected.SuccessFalse")
    assert status(client, "2026-03-11") == "WAIT_TRIGGER"  # a faulted request changes nothing


def test_latency_and_read_timeout(emu):
    emu.set_faults(latency_ms=400, script=["latency", "ok"])
    client = sdk(emu)
    quick = RuntimeOptions(read_timeout=200)
    request = dw.ListInstancesRequest(project_id=WS, project_env="PROD", bizdate="2026-03-11 00:00:00")
    with pytest.raises(UnretryableException):
        client.list_instances_with_options(request, quick)
    assert client.list_instances_with_options(request, quick).body.success is True


def test_a_held_request_acts_and_is_answered_when_let_go_not_before(emu):
    client = sdk(emu)
    inst = instance(client, "2026-03-11")
    wait_until(lambda: emu.in_flight == 0)   # the listing's handler may still be closing its connection
    emu.set_faults(script=["hold"], actions=["RunTriggerNode"])
    answered = []
    held = threading.Thread(target=lambda: answered.append(client.run_trigger_node_with_options(
        trigger_request(inst), RuntimeOptions(read_timeout=60_000)).body.success))
    held.start()
    wait_until(lambda: emu.in_flight == 1)
    assert answered == [] and [c["action"] for c in emu.calls] == ["ListInstances"]    # nothing acted yet
    admin(emu, "let-go", {})                                # POST /_admin/let-go: Emulator.let_go()
    held.join(10)
    assert answered == [True] and [c["action"] for c in emu.calls] == ["ListInstances", "RunTriggerNode"]
    assert [i["Triggers"] for i in emu.instances(WS, inst.node_id) if i["CycTime"] == inst.cyc_time] == [1]


def test_rates_are_seeded_and_scoped(emu):
    emu.set_faults(error_rate=0.5, random_seed=7, actions=["ListInstances"])
    client = sdk(emu)

    def run():
        for _ in range(12):
            try:
                listing(client, "2026-03-11")
            except ServerException:
                pass
        return [c["fault"] for c in emu.calls[-12:]]

    first = run()
    assert set(first) == {"error", None}
    emu.set_faults(error_rate=0.5, random_seed=7, actions=["ListInstances"])
    assert run() == first
    emu.set_faults(error_rate=1.0, actions=["RunTriggerNode"])
    assert listing(client, "2026-03-11").success is True


def test_faults_apply_after_authentication_and_never_to_sts(emu):
    emu.set_faults(script=["error"], error_rate=1.0)
    refused(lambda: listing(sdk(emu, secret="wrong"), "2026-03-11"), "SignatureDoesNotMatch")
    assumed = sdk(emu, type="ram_role_arn", role_arn=ROLE, role_session_name="s", sts_endpoint=emu.sts_endpoint)
    refused(lambda: listing(assumed, "2026-03-11"), "InternalError.System", 500, ServerException)
    assert [(c["action"], c["fault"]) for c in emu.calls] == [
        ("ListInstances", None), ("AssumeRole", None), ("ListInstances", "error")]


def test_invalid_fault_config(emu):
    for config in ({"nonsense": 1}, {"script": ["explode"]}, {"error_rate": 0.7, "drop_rate": 0.7},
                   {"script": ["latency"]}, {"script": ["drip"]}, {"drip_rate": 0.1, "drip_ms": 0},
                   {"script": ["malformed"]}, {"malformed_rate": 0.1, "malformed_body": {"Success": True}},
                   {"redirect_status": 304}, {"endless_pages": "yes"}, {"foreign_instances": 1}):
        with pytest.raises(ValueError):
            emu.set_faults(**config)


def text_call(client, action, body, runtime=None, version="2020-05-18") -> dict:
    """One call through the SDK's generic call_api, the answer's body returned as text, unparsed."""
    params = open_api_util_models.Params(action=action, version=version, protocol="HTTP", pathname="/",
                                         method="POST", auth_type="AK", style="RPC", req_body_type="formData",
                                         body_type="string")
    return client.call_api(params, open_api_util_models.OpenApiRequest(body=body), runtime or RuntimeOptions())


def state(emu, inst, node=DAILY) -> tuple:
    (found,) = [i for i in emu.instances(WS, node) if i["InstanceId"] == inst.instance_id]
    return found["Triggers"], found["Released"]


@pytest.mark.parametrize("status_code,key,method,credentials", [
    (302, ("STS.testkey", "sts-secret", "sts-token"), "GET", True),   # 301/302/303 turn the POST into a GET
    (307, ("LTAItestkey", "test-secret", None), "POST", False),
])
def test_redirect_leads_the_stock_sdk_to_a_decoy_that_lies(emu, status_code, key, method, credentials):
    client = sdk(emu, *key)
    inst = instance(client, "2026-03-11")
    emu.set_faults(script=["redirect"], redirect_status=status_code)
    body = trigger(client, inst)
    assert (body.success, body.request_id) == (True, "decoy")  # believed, yet nothing was triggered
    assert state(emu, inst) == (0, False)
    assert [(c["fault"], c["status"]) for c in emu.calls] == [(None, 200), ("redirect", status_code)]
    (seen,) = emu.decoy_calls
    assert (seen["method"], seen["path"], seen["credentials"]) == (method, "/_decoy/", credentials)
    # requests drops Authorization on the way to another host, but not the STS token headers
    assert "authorization" not in seen["headers"] and ("x-acs-security-token" in seen["headers"]) is credentials
    assert seen["headers"] == sorted(seen["headers"]) and all(h == h.lower() for h in seen["headers"])
    assert "sts-token" not in json.dumps(seen)
    assert admin(emu, "decoy") == emu.decoy_calls
    emu.reset()
    assert emu.decoy_calls == []


def test_redirect_points_to_another_host_on_the_same_port(emu):
    emu.set_faults(redirect_rate=1.0, redirect_status=308)
    connection = http.client.HTTPConnection(*emu.endpoint.split(":"), timeout=5)
    try:
        connection.request("POST", "/", body=BODY.encode(), headers=signed_headers(emu, BODY))
        response = connection.getresponse()
        assert response.status == 308
        assert response.getheader("Location") == f"http://localhost:{emu.endpoint.split(':')[1]}/_decoy/"
        assert json.loads(response.read())["Code"] == "Emulator.Injected.Redirect"
    finally:
        connection.close()
    assert emu.decoy_calls == []   # not followed


def test_drip_outlasts_a_per_read_timeout(emu):
    """~230 bytes, one every 5 ms: the answer takes longer than the read timeout (the server's sleeps alone add up
    to more, however fast the machine), yet each read gets its byte 160 times sooner than the timeout (a loaded
    machine would have to stall a thread for 0.8 s to fail it)."""
    client = sdk(emu)
    inst = instance(client, "2026-03-11")
    emu.set_faults(script=["drip"], drip_ms=5)
    started = time.monotonic()
    body = client.run_trigger_node_with_options(trigger_request(inst), RuntimeOptions(read_timeout=800)).body
    elapsed = time.monotonic() - started
    assert body.success is True and state(emu, inst) == (1, True)   # the action ran: a drip is a normal answer
    assert elapsed > 0.8   # a lower bound only: every read got a byte in time, and together they outlast the timeout
    assert (emu.calls[-1]["fault"], emu.calls[-1]["status"]) == ("drip", 200)


def test_drip_stops_when_the_client_leaves(emu):
    emu.set_faults(script=["drip"], drip_ms=1000)
    request = dw.ListInstancesRequest(project_id=WS, project_env="PROD", bizdate="2026-03-11 00:00:00")
    with pytest.raises(UnretryableException):
        sdk(emu).list_instances_with_options(request, RuntimeOptions(read_timeout=100))
    wait_until(lambda: emu.calls and emu.in_flight == 0)   # a few bytes into a response that would take minutes
    assert emu.calls[-1]["fault"] == "drip"


@pytest.mark.parametrize("malformed", ['{"Data": "x"}', "null", "[1]", '{"Success": "maybe"}', ""])
def test_malformed_body_is_exactly_the_configured_one(emu, malformed):
    client = sdk(emu)
    inst = instance(client, "2026-03-11")
    admin(emu, "faults", {"malformed_rate": 1.0, "malformed_body": malformed, "actions": ["RunTriggerNode"]})
    for _ in range(2):
        answer = text_call(client, "RunTriggerNode", trigger_request(inst).to_map())
        assert (answer["statusCode"], answer["body"]) == (200, malformed)
        assert answer["headers"]["content-type"] == "application/json;charset=utf-8"
    assert state(emu, inst) == (0, False)
    assert [(c["fault"], c["status"]) for c in emu.calls[-2:]] == [("malformed", 200)] * 2


def test_malformed_success_reaches_the_typed_sdk_unchecked(emu):
    client = sdk(emu)
    inst = instance(client, "2026-03-11")
    emu.set_faults(script=["malformed"], malformed_body='{"Success": "maybe"}')
    assert trigger(client, inst).success == "maybe"
    assert state(emu, inst) == (0, False)


def test_endless_pages(emu):
    client = sdk(emu)
    first = listing(client, "2026-03-11", HOURLY, page_size=10).data
    emu.set_faults(endless_pages=True)
    seventh = listing(client, "2026-03-11", HOURLY, page_number=7, page_size=10).data
    assert (seventh.page_number, seventh.page_size, seventh.total_count) == (7, 10, 1_000_000_000)
    assert [i.to_map() for i in seventh.instances] == [i.to_map() for i in first.instances]
    assert emu.calls[-1]["fault"] is None
    smaller = listing(client, "2026-03-11", HOURLY, page_number=2, page_size=5).data.instances
    assert [i.instance_id for i in smaller] == [i.instance_id for i in first.instances[:5]]


def test_foreign_instances(emu):
    client = sdk(emu)
    (real,) = listing(client, "2026-03-11", DAILY).data.instances
    emu.set_faults(foreign_instances=True)
    page = listing(client, "2026-03-11", DAILY).data
    other, day_before, same = page.instances
    assert page.total_count == 3 and same.to_map() == real.to_map()
    assert len({real.instance_id, other.instance_id, day_before.instance_id}) == 3
    assert dict(other.to_map(), NodeId=DAILY, Status=real.status, InstanceId=real.instance_id) == real.to_map()
    assert (other.node_id, other.status) == (DAILY + 1, "SUCCESS")
    assert dict(day_before.to_map(), CycTime=real.cyc_time, Bizdate=real.bizdate, InstanceId=real.instance_id) \
        == real.to_map()
    assert (day_before.cyc_time, day_before.bizdate) == (real.cyc_time - 86_400_000, real.bizdate - 86_400_000)
    assert (day_before.node_id, day_before.status, day_before.dag_type) == (DAILY, "WAIT_TRIGGER", "DAILY")
    assert trigger(client, day_before).success is True   # the world releases the previous business date's instance
    released = {i["Bizdate"] for i in emu.instances(WS, DAILY) if i["Released"]}
    assert released == {day_before.bizdate} == {ms("2026-03-10T00:00:00+08:00")}
    assert listing(client, "2026-03-13", DAILY).data.instances == []   # nothing to copy: no lie
    second = listing(client, "2026-03-11", HOURLY, page_number=2, page_size=10).data
    assert (second.total_count, len(second.instances)) == (26, 10)


def test_calls_record_arrival_on_the_monotonic_clock(emu):
    client = sdk(emu)
    before = time.monotonic()
    listing(client, "2026-03-11")
    listing(client, "2026-03-12")
    after = time.monotonic()
    first, second = (c["monotonic"] for c in emu.calls)
    assert before <= first < second <= after


# --- reset isolation ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [{"latency_ms": 30_000, "script": ["latency"]}, {"script": ["hold"]},
                                   {"drip_ms": 1000, "script": ["drip"]}])
def test_reset_discards_a_request_in_flight(emu, fault):
    client = sdk(emu)
    inst = instance(client, "2026-03-11")
    emu.set_faults(**fault)
    failed = []
    slow = threading.Thread(target=lambda: failed.append(pytest.raises(
        UnretryableException, client.run_trigger_node_with_options, trigger_request(inst),
        RuntimeOptions(read_timeout=60_000))))
    wait_until(lambda: emu.in_flight == 0)   # the listing's handler may still be closing its connection
    slow.start()
    wait_until(lambda: emu.in_flight == 1)
    emu.reset()
    slow.join(10)   # the injected wait (30 s, or minutes of drip) ended with the reset
    assert not slow.is_alive() and len(failed) == 1   # answered by a closed connection
    wait_until(lambda: emu.in_flight == 0)   # its handler has finished
    assert emu.calls == [] and state(emu, inst) == (0, False)
    assert status(client, "2026-03-11") == "WAIT_TRIGGER"


def test_stop_ends_injected_waits():
    with Emulator(SEED) as server:
        server.set_faults(latency_ms=30_000, script=["latency"])
        answered = []
        slow = threading.Thread(target=lambda: answered.append(pytest.raises(
            UnretryableException, listing, sdk(server), "2026-03-11")))
        slow.start()
        wait_until(lambda: server.in_flight == 1)
    slow.join(10)
    assert not slow.is_alive() and len(answered) == 1 and server.calls == []


# --- STS ------------------------------------------------------------------------------------------------------

def test_assume_role_then_call_with_the_role(emu):
    client = sdk(emu, type="ram_role_arn", role_arn=ROLE, role_session_name="dwtrigger", sts_endpoint=emu.sts_endpoint)
    assert listing(client, "2026-03-11").success is True
    sts_call, dw_call = emu.calls
    assert (sts_call["action"], sts_call["status"], sts_call["access_key_id"]) == ("AssumeRole", 200, "LTAItestkey")
    assert sts_call["params"]["RoleArn"] == ROLE and "Signature" not in sts_call["params"]
    assert dw_call["access_key_id"].startswith("STS.") and dw_call["role_arn"] == ROLE


def test_assume_role_from_sts_source_key(emu):
    client = sdk(emu, "STS.testkey", "sts-secret", "sts-token", type="ram_role_arn", role_arn=ROLE,
                 role_session_name="s", sts_endpoint=emu.sts_endpoint)
    assert listing(client, "2026-03-11").success is True
    assert emu.calls[-1]["role_arn"] == ROLE


@pytest.mark.parametrize("secret,role,code", [
    ("test-secret", "acs:ram::1234567890:role/other", "EntityNotExist.Role"),
    ("wrong", ROLE, "SignatureDoesNotMatch"),
])
def test_assume_role_refused(emu, secret, role, code):
    client = sdk(emu, secret=secret, type="ram_role_arn", role_arn=role, role_session_name="s", sts_endpoint=emu.sts_endpoint)
    with pytest.raises(UnretryableException) as info:  # the SDK wraps the credentials provider's failure
        listing(client, "2026-03-11")
    assert type(info.value.inner_exception) is CredentialException and code in str(info.value.inner_exception)
    assert [(c["action"], c["code"]) for c in emu.calls] == [("AssumeRole", code)]


def test_sts_endpoint_needs_http_scheme(emu):
    client = sdk(emu, type="ram_role_arn", role_arn=ROLE, role_session_name="s", sts_endpoint=emu.endpoint)
    with pytest.raises(UnretryableException, match="SSL"):  # a TLS handshake against a plain-HTTP server
        listing(client, "2026-03-11")
    assert all(c["action"] != "AssumeRole" or c["status"] != 200 for c in emu.calls)


# --- admin, reset, seeds --------------------------------------------------------------------------------------

def admin(emu, route, data=None):
    request = urllib.request.Request(f"{emu.url}/_admin/{route}", method="GET" if data is None else "POST",
                                     data=None if data is None else json.dumps(data).encode())
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_admin_endpoints(emu):
    client = sdk(emu)
    listing(client, "2026-03-11")
    assert [c["action"] for c in admin(emu, "calls")] == ["ListInstances"]
    assert admin(emu, "clock", {"advance": 3600}) == {"now": "2026-03-12T11:00:00+08:00", "fixed": True}
    assert admin(emu, "clock", {"now": "2026-03-12T02:00:00Z"}) == {"now": "2026-03-12T02:00:00+00:00", "fixed": True}
    assert admin(emu, "clock") == {"now": "2026-03-12T02:00:00+00:00", "fixed": True}
    pending = [i for i in admin(emu, f"instances?workspace={WS}&node={PENDING}") if i["Bizdate"] == ms(
        "2026-03-11T00:00:00+08:00")]
    assert [i["Status"] for i in pending] == ["NOT_RUN"]
    admin(emu, "parents", {"workspace": WS, "node": PENDING, "bizdate": "2026-03-11"})
    assert status(client, "2026-03-11", PENDING) == "WAIT_TRIGGER"
    admin(emu, "faults", {"script": ["forbidden"]})
    refused(lambda: listing(client, "2026-03-11"), "ResourceNotAuthorized.Api", 403)
    admin(emu, "reset", {})
    assert admin(emu, "calls") == [] and emu.clock.now() == datetime.fromisoformat(SEED["now"])
    for route, data, code in (("faults", {"bogus": 1}, 400), ("nowhere", None, 404)):
        with pytest.raises(urllib.error.HTTPError) as info:
            admin(emu, route, data)
        assert info.value.code == code


def test_reset_restores_seed_state(emu):
    client = sdk(emu)
    inst = instance(client, "2026-03-11")
    trigger(client, inst)
    emu.clock.advance(86400)
    emu.set_faults(script=["error"])
    emu.reset()
    assert emu.calls == [] and emu.clock.now() == datetime.fromisoformat(SEED["now"])
    again = instance(client, "2026-03-11")
    assert (again.instance_id, again.status) == (inst.instance_id, "WAIT_TRIGGER")


def test_seed_files_and_validation(tmp_path):
    yaml_seed = tmp_path / "seed.yaml"
    yaml_seed.write_text("now: 2026-03-12T10:00:00+08:00\nworkspaces:\n  - id: 1\n    nodes:\n"
                         "      - {id: 2, deployed: 2026-03-01, times: [00:30, 12:00]}\n")
    json_seed = tmp_path / "seed.json"
    json_seed.write_text(json.dumps({"workspaces": [{"id": 1, "nodes": [{"id": 2, "deployed": "2026-03-01"}]}]}))
    cycles = [datetime.fromtimestamp(i["CycTime"] / 1000, timezone(timedelta(hours=8))).strftime("%H:%M")
              for i in Emulator(yaml_seed).instances() if i["Bizdate"] == ms("2026-03-11T00:00:00+08:00")]
    assert cycles == ["00:30", "12:00"]  # unquoted 12:00 is YAML 1.1's integer 720, read back as a time
    assert Emulator(json_seed).instances()[0]["NodeId"] == 2
    assert Emulator(DEFAULT_SEED).instances(10001)
    for bad in ({"workspaces": [{"id": 1, "nodes": [{"id": 2, "deployed": "2026-03-01", "hourli": True}]}]},
                {"workspaces": [{"id": 1, "nodes": [{"id": 2}]}]},
                {"roles": ["dwtrigger-cross"]},
                {"workspaces": [{"id": 1, "timezone": "Mars/Base"}]},
                {"workspaces": [{"id": 1, "api": "2024-05-19"}]},
                {"workspaces": [{"id": n, "api": "2024-05-18", "nodes": [{"id": 2, "deployed": "2026-03-01"}]}
                                for n in (1, 3)]},   # a TaskId names one task
                {"faults": {"qps": 1, "nope": 2}}):
        with pytest.raises(ValueError):
            Emulator(bad)


def test_emulator_without_fixed_clock_follows_real_time():
    with Emulator({"workspaces": []}) as server:
        assert abs(server.clock.now() - datetime.now(timezone.utc)) < timedelta(seconds=5)
        server.clock.advance(3600)
        assert server.clock.now() - datetime.now(timezone.utc) > timedelta(minutes=59)
        assert server.url == server.sts_endpoint == f"http://{server.endpoint}"
    with pytest.raises(RuntimeError):
        server.endpoint


# --- the 2024-05-18 API (new Data Studio) ---------------------------------------------------------------------

BIZ = ms("2026-03-11T00:00:00+08:00")            # business date 2026-03-11 in Shanghai
AT_0030 = ms("2026-03-12T00:30:00+08:00")        # its 00:30 instance's scheduled time
NO_EFFECT = "Emulator.Instance.NoEffect"


def sdk24(emu):
    credential = CredClient(CredConfig(type="access_key", access_key_id="LTAItestkey", access_key_secret="test-secret"))
    return Client24(open_api_util_models.Config(endpoint=emu.endpoint, protocol="http", credential=credential))


def tasks(client, bizdate=BIZ, task=None, workspace=NEW_WS, **kw):
    request = dw24.ListTaskInstancesRequest(project_id=workspace, bizdate=bizdate, task_id=task, **kw)
    return client.list_task_instances(request).body.paging_info


def task_instance(client, bizdate=BIZ, task=DAILY, workspace=NEW_WS):
    (found,) = tasks(client, bizdate, task, workspace).task_instances
    return found


def fire(client, task, trigger_time, env=None):
    request = dw24.TriggerSchedulerTaskInstanceRequest(env_type=env, task_id=task, trigger_time=trigger_time)
    return client.trigger_scheduler_task_instance(request).body


def get_task(client, instance_id):
    return client.get_task_instance(dw24.GetTaskInstanceRequest(id=instance_id)).body.task_instance


def task_state(emu, task, workspace=NEW_WS) -> tuple:
    (found,) = [i for i in emu.instances(workspace, task.task_id) if i["InstanceId"] == task.id]
    return found["Triggers"], found["Released"]


def fired(emu) -> list:
    return [(c["status"], c["code"]) for c in emu.calls if c["action"] == "TriggerSchedulerTaskInstance"]


def test_task_instance_in_shanghai(emu):
    client = sdk24(emu)
    task = task_instance(client)
    assert task.to_map() == {
        "Id": task.id, "TaskId": DAILY, "TaskName": "orders_trigger", "TaskType": "TRIGGER", "Status": "WaitTrigger",
        "Bizdate": 1773158400000, "TriggerTime": 1773246600000, "PeriodNumber": 1, "ProjectId": NEW_WS,
        "ProjectEnv": "Prod", "TriggerType": "Scheduler", "TriggerRecurrence": "Normal",
        "WorkflowInstanceType": "Normal", "WorkflowId": task.workflow_id,
        "WorkflowInstanceId": task.workflow_instance_id, "RunNumber": 1}
    assert (task.bizdate, task.trigger_time) == (BIZ, AT_0030)
    assert len({task.id, task.workflow_id, task.workflow_instance_id}) == 3
    emu.reset()
    assert task_instance(client).to_map() == task.to_map()   # ids are stable
    (dumped,) = [i for i in emu.instances(NEW_WS, DAILY) if i["InstanceId"] == task.id]
    assert (dumped["CycTime"], dumped["Bizdate"], dumped["Status"], dumped["Api"]) == \
        (AT_0030, BIZ, "WAIT_TRIGGER", "2024-05-18")
    for other in (ms("2026-03-11T00:00:00+01:00"), BIZ + 1, ms("2026-03-11T00:30:00+08:00")):
        assert tasks(client, other).total_count == 0   # only the business date's exact midnight matches


def test_task_instances_in_berlin_across_dst(emu):
    emu.clock.set(datetime(2026, 4, 1, 12, tzinfo=timezone.utc))
    client = sdk24(emu)
    before = task_instance(client, ms("2026-03-28T00:00:00+01:00"), BERLIN_DAILY, NEW_BERLIN)
    after = task_instance(client, ms("2026-03-29T00:00:00+01:00"), BERLIN_DAILY, NEW_BERLIN)
    assert (before.bizdate, before.trigger_time) == (1774652400000, ms("2026-03-29T00:30:00+01:00"))
    assert (after.bizdate, after.trigger_time) == (1774738800000, ms("2026-03-30T00:30:00+02:00"))
    spring = tasks(client, before.bizdate, BERLIN_HOURLY, NEW_BERLIN, page_size=100).task_instances
    by_time = sorted(spring, key=lambda t: t.trigger_time)
    assert [t.period_number for t in by_time] == list(range(1, 24))   # 02:00 does not exist on 2026-03-29
    assert (by_time[2].trigger_time, by_time[2].period_number) == (ms("2026-03-29T03:00:00+02:00"), 3)
    assert tasks(client, ms("2026-03-28T00:00:00+08:00"), BERLIN_DAILY, NEW_BERLIN).total_count == 0
    assert fire(client, BERLIN_DAILY, after.trigger_time).success is True
    assert task_state(emu, after, NEW_BERLIN) == (1, True)


def test_task_statuses_and_kinds(emu):
    client = sdk24(emu)
    hourly = sorted(tasks(client, task=HOURLY, page_size=24).task_instances, key=lambda t: t.trigger_time)
    assert [t.trigger_time for t in hourly] == [ms("2026-03-12T00:00:00+08:00") + h * 3_600_000 for h in range(24)]
    assert [t.period_number for t in hourly] == list(range(1, 25))
    assert [t.status for t in hourly] == ["WaitTrigger"] * 11 + ["WaitTime"] * 13   # 10:00 now
    assert task_instance(client, ms("2026-03-05T00:00:00+08:00")).status == "Success"
    assert task_instance(client, ms("2026-03-12T00:00:00+08:00")).status == "WaitTime"
    assert task_instance(client, task=PENDING).status == "NotRun"
    frozen = task_instance(client, task=FROZEN)
    assert (frozen.status, frozen.trigger_recurrence, frozen.trigger_type) == ("NotRun", "Pause", "Scheduler")
    backfill = tasks(client, ms("2026-03-09T00:00:00+08:00"), DAILY).task_instances
    assert sorted((t.trigger_type, t.workflow_instance_type) for t in backfill) == [
        ("Manual", "SupplementData"), ("Scheduler", "Normal")]
    assert {t.trigger_time for t in backfill} == {ms("2026-03-10T00:30:00+08:00")}
    assert len({t.id for t in backfill}) == 2


def test_every_status_and_dag_type_in_2024_spelling():
    statuses = ["NOT_RUN", "WAIT_TIME", "WAIT_RESOURCE", "RUNNING", "CHECKING", "CHECKING_CONDITION", "FAILURE",
                "SUCCESS", "WAIT_TRIGGER"]
    instances = [{"bizdate": f"2026-03-0{n}", "status": s} for n, s in enumerate(statuses, 1)] + [
        {"bizdate": "2026-03-10", "dag_type": kind} for kind in ("MANUAL", "SMOKE_TEST", "BUSINESS_PROCESS_DAG")]
    node = {"id": 2, "deployed": "2026-03-01", "instances": instances}
    seed = dict(SEED, workspaces=[{"id": 1, "api": "2024-05-18", "nodes": [node]}])
    with Emulator(seed) as server:
        client = sdk24(server)
        got = [task_instance(client, ms(f"2026-03-0{n}T00:00:00+08:00"), 2, 1).status for n in range(1, 10)]
        kinds = tasks(client, ms("2026-03-10T00:00:00+08:00"), 2, 1).task_instances
    assert got == ["NotRun", "WaitTime", "WaitResource", "Running", "Checking", "CheckingCondition", "Failure",
                   "Success", "WaitTrigger"]
    assert sorted((t.workflow_instance_type, t.trigger_type) for t in kinds) == [
        ("Manual", "Manual"), ("ManualWorkflow", "Manual"), ("Normal", "Scheduler"), ("SmokeTest", "Manual")]


def test_task_paging_by_id_descending_and_the_500_limit(emu):
    client = sdk24(emu)
    pages = [tasks(client, task=HOURLY, page_number=n) for n in (1, 2, 3, 4)]   # PageSize defaults to 10
    assert [(p.page_number, p.page_size, p.total_count, len(p.task_instances)) for p in pages] == [
        (1, 10, 24, 10), (2, 10, 24, 10), (3, 10, 24, 4), (4, 10, 24, 0)]
    ids = [t.id for p in pages for t in p.task_instances]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 24   # Id Desc, the API's default SortBy
    times = [t.trigger_time for p in pages for t in p.task_instances]
    assert times not in (sorted(times), sorted(times, reverse=True))   # so never rely on time order
    assert tasks(client, page_size=500).total_count == 27   # 3 daily + 24 hourly; DEV excluded
    assert len(tasks(client, page_size=101).task_instances) == 27   # beyond 2020-05-18's limit of 100
    for bad in ({"page_size": 501}, {"page_size": 0}, {"page_number": 0}):
        refused(lambda: tasks(client, **bad), "InvalidParameter")


def test_task_filters(emu):
    client = sdk24(emu)
    refused(lambda: tasks(client, status="WaitTrigger"), "InvalidParameter")   # as documented: filter client-side
    refused(lambda: tasks(client, status="WAIT_TIME"), "InvalidParameter")
    assert {t.task_id for t in tasks(client, status="NotRun").task_instances} == {PENDING, FROZEN}
    assert tasks(client, task=HOURLY, status="WaitTime").total_count == 13
    day9 = ms("2026-03-09T00:00:00+08:00")
    (manual,) = tasks(client, day9, trigger_type="Manual").task_instances
    assert (manual.task_id, manual.workflow_instance_type) == (DAILY, "SupplementData")
    assert [t.id for t in tasks(client, day9, DAILY, workflow_instance_type="SupplementData").task_instances] == [
        manual.id]
    assert DAILY not in {t.task_id for t in tasks(client, day9, trigger_type="Manual", status="Success").task_instances}
    (dev,) = tasks(client, project_env="Dev").task_instances
    assert (dev.task_id, dev.project_env) == (DEV_NODE, "Dev")
    for bad in ({"trigger_type": "Cron"}, {"workflow_instance_type": "DAILY"}, {"project_env": "PROD"}):
        refused(lambda: tasks(client, **bad), "InvalidParameter")
    refused(lambda: tasks(client, workspace=99999), "InvalidParameter")
    as_2020 = dw24.ListTaskInstancesRequest(project_id=NEW_WS, bizdate="2026-03-11 00:00:00")
    refused(lambda: client.list_task_instances(as_2020), "InvalidParameter")
    refused(lambda: client.list_task_instances(dw24.ListTaskInstancesRequest(project_id=NEW_WS)), "MissingParameter")


def test_task_trigger_releases_once_and_a_repeat_has_no_effect(emu):
    client = sdk24(emu)
    task = task_instance(client)
    first = fire(client, DAILY, task.trigger_time)
    assert first.success is True
    assert task_instance(client).status == "Success" and task_state(emu, task) == (1, True)
    again = fire(client, DAILY, task.trigger_time)
    assert again.to_map().keys() == first.to_map().keys() and again.success is True   # the caller cannot tell
    assert task_state(emu, task) == (1, True)
    ran = task_instance(client, ms("2026-03-05T00:00:00+08:00"))   # seeded Success: never triggered
    answer = text_call(client, "TriggerSchedulerTaskInstance", {"TaskId": DAILY, "TriggerTime": ran.trigger_time},
                       version="2024-05-18")
    assert (answer["statusCode"], set(json.loads(answer["body"]))) == (200, {"RequestId", "Success"})
    assert json.loads(answer["body"])["Success"] is True and task_state(emu, ran) == (0, False)
    assert fired(emu) == [(200, None), (200, NO_EFFECT), (200, NO_EFFECT)]   # the mark is recorded only


def test_held_task_trigger_released_when_parents_finish(emu):
    client = sdk24(emu)
    task = task_instance(client, task=PENDING)
    assert (task.status, task.trigger_time) == ("NotRun", ms("2026-03-12T09:00:00+08:00"))
    assert fire(client, PENDING, task.trigger_time).success is True
    emu.clock.advance(23 * 3600)
    emu.finish_parents(WS, PENDING, "2026-03-11")   # the 2020 workspace's node of the same id: not this one
    assert task_instance(client, task=PENDING).status == "NotRun"
    emu.finish_parents(NEW_WS, PENDING, "2026-03-11")
    assert task_instance(client, task=PENDING).status == "Success"
    assert status(sdk(emu), "2026-03-11", PENDING) == "WAIT_TRIGGER"
    assert task_state(emu, task) == (1, True)


def test_held_task_trigger_expires_after_24_hours(emu):
    client = sdk24(emu)
    task = task_instance(client, task=PENDING)
    fire(client, PENDING, task.trigger_time)
    emu.clock.advance(24 * 3600 + 1)
    emu.finish_parents(NEW_WS, PENDING, "2026-03-11")
    assert task_instance(client, task=PENDING).status == "WaitTrigger"
    assert fire(client, PENDING, task.trigger_time).success is True
    assert task_instance(client, task=PENDING).status == "Success"
    assert task_state(emu, task) == (2, True) and fired(emu) == [(200, None), (200, None)]


def test_task_trigger_before_its_time_runs_at_its_time(emu):
    client = sdk24(emu)
    task = task_instance(client, ms("2026-03-12T00:00:00+08:00"))
    assert fire(client, DAILY, task.trigger_time).success is True
    assert task_instance(client, task.bizdate).status == "WaitTime"
    emu.clock.set(datetime.fromisoformat("2026-03-13T00:30:00+08:00"))
    assert task_instance(client, task.bizdate).status == "Success"


def test_task_trigger_refusals(emu):
    client = sdk24(emu)
    frozen = task_instance(client, task=FROZEN)
    refused(lambda: fire(client, FROZEN, frozen.trigger_time), "Emulator.Instance.Frozen")
    for task, at in ((DAILY, AT_0030 + 60_000), (HOURLY, AT_0030), (DAILY, ms("2026-03-14T00:30:00+08:00")),
                     (DAILY, ms("2026-03-12T00:30:00+01:00")), (999, AT_0030), (DAILY, 10 ** 18)):
        refused(lambda: fire(client, task, at), "Emulator.Instance.NotFound")
    backfill = [t for t in tasks(client, ms("2026-03-09T00:00:00+08:00"), DAILY).task_instances
                if t.workflow_instance_type == "SupplementData"]
    assert fire(client, DAILY, backfill[0].trigger_time).success is True   # releases that time's DAILY instance
    released = [i for i in emu.instances(NEW_WS, DAILY) if i["Released"]]
    assert [(i["DagType"], i["Bizdate"]) for i in released] == [("DAILY", ms("2026-03-09T00:00:00+08:00"))]
    refused(lambda: fire(client, DAILY, AT_0030, env="PROD"), "InvalidParameter")
    no_time = dw24.TriggerSchedulerTaskInstanceRequest(task_id=DAILY)
    refused(lambda: client.trigger_scheduler_task_instance(no_time), "MissingParameter")
    assert task_state(emu, task_instance(client)) == (0, False)


def test_env_type_goes_in_the_query(emu):
    client = sdk24(emu)
    (dev,) = tasks(client, project_env="Dev").task_instances
    refused(lambda: fire(client, DEV_NODE, dev.trigger_time), "Emulator.Instance.NotFound")   # default Prod
    assert fire(client, DEV_NODE, dev.trigger_time, env="Dev").success is True
    default, chosen = emu.calls[-2:]
    assert (default["params"], default["query"]) == (
        {"TaskId": str(DEV_NODE), "TriggerTime": str(dev.trigger_time)}, [])
    assert (chosen["params"], chosen["query"]) == (
        {"EnvType": "Dev", "TaskId": str(DEV_NODE), "TriggerTime": str(dev.trigger_time)}, ["EnvType"])
    assert task_state(emu, dev) == (1, True)


def test_get_task_instance(emu):
    client = sdk24(emu)
    listed = task_instance(client)
    assert get_task(client, listed.id).to_map() == dict(listed.to_map(), Tags=[])
    assert (emu.calls[-1]["action"], emu.calls[-1]["query"], emu.calls[-1]["params"]) == (
        "GetTaskInstance", ["Id"], {"Id": str(listed.id)})
    fire(client, DAILY, listed.trigger_time)
    assert get_task(client, listed.id).status == "Success"
    (dev,) = tasks(client, project_env="Dev").task_instances
    assert get_task(client, dev.id).to_map() == dict(dev.to_map(), Tags=[])   # no environment asked
    backfill = tasks(client, ms("2026-03-09T00:00:00+08:00"), DAILY, workflow_instance_type="SupplementData")
    assert get_task(client, backfill.task_instances[0].id).workflow_instance_type == "SupplementData"
    legacy = instance(sdk(emu), "2026-03-11")   # the 2020 workspace's instance is not this API's
    for unknown in (12345, legacy.instance_id):
        refused(lambda: get_task(client, unknown), "Emulator.Instance.NotFound")


def test_a_call_to_a_workspace_on_the_other_api(emu):
    old, new = sdk(emu), sdk24(emu)
    empty = listing(old, "2026-03-11", workspace=NEW_WS)
    assert (empty.success, empty.data.total_count, empty.data.instances) == (True, 0, [])
    page = tasks(new, workspace=WS)
    assert (page.total_count, page.task_instances) == (0, [])
    legacy = instance(old, "2026-03-11")   # same node id, zone and times as NEW_WS's
    refused(lambda: trigger(old, legacy, app=NEW_WS), "Emulator.Instance.NotFound")
    legacy_only = instance(old, "2026-03-11", LEGACY, BERLIN)
    refused(lambda: fire(new, LEGACY, legacy_only.cyc_time), "Emulator.Instance.NotFound")
    for api, workspace in (("2020-05-18", WS), ("2024-05-18", NEW_WS)):
        assert {(i["Api"], i["Triggers"]) for i in emu.instances(workspace)} == {(api, 0)}
    as_2020 = {"ProjectId": NEW_WS, "Bizdate": BIZ}   # a 2024-05-18 action asked under the 2020-05-18 version
    refused(lambda: text_call(new, "ListTaskInstances", as_2020), "InvalidAction.NotFound")


def test_same_node_ids_in_two_workspaces_stay_apart(emu):
    old, new = sdk(emu), sdk24(emu)
    legacy, task = instance(old, "2026-03-11"), task_instance(new)
    assert (legacy.node_id, legacy.cyc_time, legacy.bizdate) == (task.task_id, task.trigger_time, task.bizdate)
    ids = {ws: {i["InstanceId"] for i in emu.instances(ws, DAILY)} for ws in (WS, NEW_WS)}
    assert ids[WS].isdisjoint(ids[NEW_WS]) and len(ids[WS]) == len(ids[NEW_WS]) == 13   # 12 days + a backfill
    assert legacy.instance_id in ids[WS] and task.id in ids[NEW_WS]
    assert fire(new, DAILY, task.trigger_time).success is True
    assert (status(old, "2026-03-11"), state(emu, legacy)) == ("WAIT_TRIGGER", (0, False))
    assert trigger(old, legacy).success is True   # its own first trigger, not a repeat
    assert (state(emu, legacy), task_state(emu, task)) == ((1, True), (1, True))


def test_faults_apply_to_the_2024_actions(emu):
    client = sdk24(emu)
    emu.set_faults(script=["throttle", "error", "forbidden"])
    refused(lambda: tasks(client), "Throttling.User", 429)
    refused(lambda: fire(client, DAILY, AT_0030), "InternalError.System", 500, ServerException)
    refused(lambda: get_task(client, 12345), "ResourceNotAuthorized.Api", 403)
    assert tasks(client).total_count == 27
    emu.set_faults(error_rate=1.0, actions=["TriggerSchedulerTaskInstance"])
    task = task_instance(client)
    refused(lambda: fire(client, DAILY, task.trigger_time), "InternalError.System", 500, ServerException)
    assert task_state(emu, task) == (0, False)
    assert [c["fault"] for c in emu.calls] == ["throttle", "error", "forbidden", None, None, "error"]


def test_endless_pages_on_list_task_instances(emu):
    client = sdk24(emu)
    first = tasks(client, task=HOURLY)
    emu.set_faults(endless_pages=True)
    seventh = tasks(client, task=HOURLY, page_number=7)
    assert (seventh.page_number, seventh.page_size, seventh.total_count) == (7, 10, 1_000_000_000)
    assert [t.to_map() for t in seventh.task_instances] == [t.to_map() for t in first.task_instances]
    assert emu.calls[-1]["fault"] is None


def test_foreign_instances_on_list_task_instances(emu):
    client = sdk24(emu)
    (real,) = tasks(client, task=DAILY).task_instances
    emu.set_faults(foreign_instances=True)
    page = tasks(client, task=DAILY)
    other, day_before, same = page.task_instances
    assert page.total_count == 3 and same.to_map() == real.to_map()
    assert len({real.id, other.id, day_before.id}) == 3
    assert dict(other.to_map(), TaskId=DAILY, Status=real.status, Id=real.id) == real.to_map()
    assert (other.task_id, other.status) == (DAILY + 1, "Success")
    assert dict(day_before.to_map(), Bizdate=real.bizdate, TriggerTime=real.trigger_time, Id=real.id) == real.to_map()
    assert (day_before.bizdate, day_before.trigger_time) == (ms("2026-03-10T00:00:00+08:00"),
                                                             ms("2026-03-11T00:30:00+08:00"))
    assert (day_before.status, day_before.workflow_instance_type, day_before.trigger_type) == (
        "WaitTrigger", "Normal", "Scheduler")
    assert fire(client, DAILY, day_before.trigger_time).success is True   # the previous business date's instance
    released = {i["Bizdate"] for i in emu.instances(NEW_WS, DAILY) if i["Released"]}
    assert released == {day_before.bizdate}
    led_by_backfill = tasks(client, ms("2026-03-09T00:00:00+08:00"), DAILY, workflow_instance_type="SupplementData")
    _, copy, backfill = led_by_backfill.task_instances
    assert (copy.workflow_instance_type, copy.trigger_type, copy.status) == ("Normal", "Scheduler", "WaitTrigger")
    assert (backfill.workflow_instance_type, led_by_backfill.total_count) == ("SupplementData", 3)
    assert tasks(client, ms("2026-03-13T00:00:00+08:00"), DAILY).task_instances == []   # nothing to copy: no lie
    second = tasks(client, task=HOURLY, page_number=2)
    assert (second.total_count, len(second.task_instances)) == (26, 10)


def test_seed_files_speak_both_apis():
    raw = {w["id"]: w for w in yaml.safe_load(WORLD.read_text())["workspaces"]}
    for old, new in ((10001, 30001), (10002, 30002)):
        assert raw[new]["nodes"] is raw[old]["nodes"]   # one list through a YAML alias: they cannot drift
        assert (raw[new]["timezone"], raw[new]["api"]) == (raw[old]["timezone"], "2024-05-18")
        assert "api" not in raw[old]   # the default: 2020-05-18
    world = Emulator(WORLD)
    assert {i["Api"] for i in world.instances(30002)} == {"2024-05-18"}
    assert {i["Api"] for i in world.instances(10002)} == {"2020-05-18"}
    demo = [i for i in Emulator(DEFAULT_SEED).instances(20001) if i["Bizdate"] == BIZ]
    assert [(i["NodeId"], i["NodeName"], i["CycTime"], i["Api"]) for i in demo] == [
        (910000000001, "inventory_trigger", ms("2026-03-12T01:30:00+08:00"), "2024-05-18")]


# --- parents (GetNodeParents, ListUpstreamTasks) ----------------------------------------------------------------

CHILD, LOAD, PAUSED, REMOTE, SELFISH, ORPHAN = 900001, 900002, 900003, 900004, 900005, 900006


def kin_nodes(other: int) -> list:
    """LOAD runs on 2026-03-11 (succeeded the day before); CHILD waits on it and on REMOTE in `other`; SELFISH on
    its own previous cycle; ORPHAN on a frozen node."""
    return [
        {"id": LOAD, "name": "load", "deployed": "2026-03-01", "at": "00:10", "instances": [
            {"bizdate": "2026-03-10", "status": "SUCCESS"}, {"bizdate": "2026-03-11", "status": "RUNNING"}]},
        {"id": PAUSED, "name": "paused", "deployed": "2026-03-01", "frozen": True},
        {"id": CHILD, "name": "child", "deployed": "2026-03-10", "at": "00:30",
         "parents": [LOAD, {"id": REMOTE, "workspace": other}]},
        {"id": SELFISH, "name": "selfish", "deployed": "2026-03-10", "at": "00:30",
         "parents": [{"id": SELFISH, "cross_cycle": True}]},
        {"id": ORPHAN, "name": "orphan", "deployed": "2026-03-10", "parents": [PAUSED]}]


KIN_SEED = {"now": SEED["now"], "keys": SEED["keys"], "workspaces": [
    {"id": 40001, "nodes": kin_nodes(40002)}, {"id": 50001, "api": "2024-05-18", "nodes": kin_nodes(50002)}]
    + [{"id": ws, "api": api, "nodes": [{"id": REMOTE, "name": "remote", "deployed": "2026-03-01", "instances": [
        {"bizdate": day, "status": "SUCCESS"} for day in ("2026-03-10", "2026-03-11")]}]}
       for ws, api in ((40002, "2020-05-18"), (50002, "2024-05-18"))]}


@pytest.fixture(scope="module")
def kin_emu():
    with Emulator(KIN_SEED) as server:
        yield server


@pytest.fixture
def kin(kin_emu):
    kin_emu.reset()
    return kin_emu


def statuses(emu, workspace, node) -> dict:
    return {datetime.fromtimestamp(i["Bizdate"] / 1000, timezone(timedelta(hours=8))).strftime("%m-%d"): i["Status"]
            for i in emu.instances(workspace, node)}


def test_get_node_parents(kin):
    client = sdk(kin)
    nodes = client.get_node_parents(dw.GetNodeParentsRequest(node_id=CHILD, project_env="PROD")).body.data.nodes
    assert [n.to_map() for n in nodes] == [
        {"NodeId": LOAD, "NodeName": "load", "ProjectId": 40001, "SchedulerType": "NORMAL", "StepType": "0",
         "ProgramType": "VIRTUAL", "Repeatability": True},
        {"NodeId": REMOTE, "NodeName": "remote", "ProjectId": 40002, "SchedulerType": "NORMAL", "StepType": "0",
         "ProgramType": "VIRTUAL", "Repeatability": True}]
    [own] = client.get_node_parents(dw.GetNodeParentsRequest(node_id=SELFISH, project_env="PROD")).body.data.nodes
    assert (own.node_id, own.step_type) == (SELFISH, "3")
    [paused] = client.get_node_parents(dw.GetNodeParentsRequest(node_id=ORPHAN, project_env="PROD")).body.data.nodes
    assert paused.scheduler_type == "PAUSE"
    assert client.get_node_parents(dw.GetNodeParentsRequest(node_id=LOAD, project_env="PROD")).body.data.nodes == []
    refused(lambda: client.get_node_parents(dw.GetNodeParentsRequest(node_id=CHILD, project_env="DEV")),
            "Emulator.Node.NotFound")
    refused(lambda: client.get_node_parents(dw.GetNodeParentsRequest(node_id=CHILD, project_env="TEST")),
            "InvalidParameter")
    refused(lambda: client.get_node_parents(dw.GetNodeParentsRequest(project_env="PROD")), "MissingParameter")
    refused(lambda: sdk(kin, secret="wrong").get_node_parents(dw.GetNodeParentsRequest(
        node_id=CHILD, project_env="PROD")), "SignatureDoesNotMatch")
    assert (kin.calls[0]["action"], kin.calls[0]["query"], kin.calls[0]["params"]) == (
        "GetNodeParents", [], {"NodeId": str(CHILD), "ProjectEnv": "PROD"})


def test_list_upstream_tasks(kin):
    client = sdk24(kin)

    def upstream(task=CHILD, **kw):
        return client.list_upstream_tasks(dw24.ListUpstreamTasksRequest(id=task, **kw)).body.paging_info

    first = upstream()
    assert (first.page_number, first.page_size, first.total_count) == (1, 10, 2)
    assert [(u.dependency_type, u.task.to_map()) for u in first.upstream_tasks] == [
        ("Normal", {"Id": LOAD, "Name": "load", "ProjectId": 50001, "EnvType": "Prod", "Type": "TRIGGER",
                    "InstanceMode": "T+1", "Trigger": {"Type": "Scheduler", "Recurrence": "Normal"}}),
        ("Normal", {"Id": REMOTE, "Name": "remote", "ProjectId": 50002, "EnvType": "Prod", "Type": "TRIGGER",
                    "InstanceMode": "T+1", "Trigger": {"Type": "Scheduler", "Recurrence": "Normal"}})]
    assert [(t.id, t.step_type, t.project_env) for t in first.tasks] == [(LOAD, "Normal", "Prod"),
                                                                        (REMOTE, "Normal", "Prod")]
    second = upstream(page_number=2, page_size=1)
    assert [u.task.id for u in second.upstream_tasks] == [REMOTE] and second.total_count == 2
    assert [(u.dependency_type, u.task.id) for u in upstream(SELFISH).upstream_tasks] == [("CrossCycle", SELFISH)]
    assert upstream(ORPHAN).upstream_tasks[0].task.trigger.recurrence == "Pause"
    assert (kin.calls[0]["query"], kin.calls[0]["params"]) == (["Id"], {"Id": str(CHILD)})   # a GET: all in the query
    refused(lambda: upstream(page_size=101), "InvalidParameter")
    refused(lambda: upstream(project_env="Dev"), "Emulator.Node.NotFound")
    refused(lambda: upstream(12345), "Emulator.Node.NotFound")
    refused(lambda: sdk(kin).get_node_parents(dw.GetNodeParentsRequest(node_id=LOAD + 99, project_env="PROD")),
            "Emulator.Node.NotFound")


@pytest.mark.parametrize("workspace, other", [(40001, 40002), (50001, 50002)])
def test_a_child_waits_until_every_parent_succeeded(kin, workspace, other):
    assert statuses(kin, workspace, CHILD) == {"03-10": "WAIT_TRIGGER", "03-11": "NOT_RUN", "03-12": "NOT_RUN"}
    assert statuses(kin, workspace, ORPHAN)["03-11"] == "NOT_RUN"          # its parent is frozen
    kin.finish_parents(workspace, CHILD, "2026-03-11")
    assert statuses(kin, workspace, CHILD)["03-11"] == "WAIT_TRIGGER"
    assert statuses(kin, workspace, SELFISH) == {"03-10": "WAIT_TRIGGER", "03-11": "NOT_RUN", "03-12": "NOT_RUN"}
    [first] = [i for i in kin.instances(workspace, SELFISH) if i["Bizdate"] == ms("2026-03-10T00:00:00+08:00")]
    if workspace == 40001:
        trigger(sdk(kin), instance(sdk(kin), "2026-03-10", SELFISH, workspace), app=workspace)
    else:
        fire(sdk24(kin), SELFISH, first["CycTime"])
    assert statuses(kin, workspace, SELFISH) == {"03-10": "SUCCESS", "03-11": "WAIT_TRIGGER", "03-12": "NOT_RUN"}


def test_seed_parents_are_checked():
    def seed(nodes, api="2020-05-18"):
        return {"workspaces": [{"id": 1, "api": api, "nodes": nodes},
                               {"id": 2, "api": "2024-05-18", "nodes": [{"id": 9, "deployed": "2026-03-01"}]}]}

    day = {"deployed": "2026-03-01"}
    assert Emulator(seed([{"id": 3, **day, "parents": [{"id": 3, "cross_cycle": True}]}])).instances(1)
    for nodes, message in (
            ([{"id": 3, **day, "parents": [4]}], "parent 4 is not a node of a 2020-05-18 workspace 1"),
            ([{"id": 3, **day, "parents": [{"id": 9, "workspace": 2}]}], "parent 9 is not a node of a 2020-05-18"),
            ([{"id": 3, **day, "parents": [3]}], "same-cycle loop: 3 -> 3"),
            ([{"id": 3, **day, "parents": [4]}, {"id": 4, **day, "parents": [3]}], "same-cycle loop: 3 -> 4 -> 3"),
            ([{"id": 3, **day, "parents": [{"id": 4, "cycle": "cross"}]}], "unknown keys ['cycle']")):
        with pytest.raises(ValueError, match=re.escape(message)):
            Emulator(seed(nodes))
