"""The SLS stand-in through the official SDK (alibabacloud-sls20201230), unmodified, over loopback HTTP: it checks
the v1 signature the SDK sends exactly as SLS does, keeps what it is given and answers with SLS's JSON shapes and
error codes. Requests the SDK never sends (a stale date, a body that is not the one signed, no signature) are
signed by hand."""
import hashlib
import http.client
import json
from email.utils import formatdate

import pytest
from alibabacloud_sls20201230 import models
from alibabacloud_sls20201230.client import Client
from alibabacloud_tea_openapi.utils_models import Config

from checks import SECRETS
from conftest import ROLE_KEY
from dwtrigger import wire
from dwtrigger.ops import sls_config
from dwtrigger.ops.emulator import SlsStandIn
from dwtrigger.ops.emulator.sls_signature import SCHEME, signature, string_to_sign

KEY = {"access_key_id": "LTAIsls-test-key", "access_key_secret": "sls-test-secret-0123"}
STS = {"access_key_id": ROLE_KEY["ALIBABA_CLOUD_ACCESS_KEY_ID"],
       "access_key_secret": ROLE_KEY["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
       "security_token": ROLE_KEY["ALIBABA_CLOUD_SECURITY_TOKEN"]}
PROJECT = "dwtrigger-1234567890123456"


@pytest.fixture(scope="module")
def served():
    with SlsStandIn([KEY, STS], "cn-shanghai") as standin:
        yield standin


@pytest.fixture
def sls(served):
    served.reset()
    return served


def client(sls, key=KEY, **changed) -> Client:
    key = {**key, **changed}
    return Client(Config(access_key_id=key["access_key_id"], access_key_secret=key["access_key_secret"],
                         security_token=key.get("security_token"), endpoint=sls.endpoint, protocol="http",
                         region_id="cn-shanghai"))


def call(method, *args):
    """One SDK call as dwtrigger makes it (within a budget: its transport resolves <project>.localhost); the SLS
    error it raised, as (status, code, message), or its answer."""
    wire.install()
    with wire.budget(10):
        try:
            return method(*args)
        except Exception as e:  # noqa: BLE001 - the SDK wraps its TeaException
            found = next(x for x in wire.chain(e) if isinstance(getattr(x, "data", None), dict))
            return found.data["httpCode"], found.code, found.message


def made(sls, key=KEY) -> Client:
    c = client(sls, key)
    assert call(c.create_project, models.CreateProjectRequest(project_name=PROJECT, description="d")).status_code == 200
    assert call(c.create_log_store, PROJECT, models.CreateLogStoreRequest(logstore_name="decisions", ttl=30,
                                                                          shard_count=2)).status_code == 200
    return c


def test_what_the_sdk_sends_is_kept_and_answered_in_slss_shapes(sls):
    c = made(sls)
    project = call(c.get_project, PROJECT, models.GetProjectRequest()).body
    assert (project.project_name, project.description, project.region, project.status) == (
        PROJECT, "d", "cn-shanghai", "Normal")
    store = call(c.get_log_store, PROJECT, "decisions").body
    assert (store.logstore_name, store.ttl, store.shard_count, store.mode) == ("decisions", 30, 2, "standard")
    index = sls_config.index()
    assert call(c.create_index, PROJECT, "decisions", models.CreateIndexRequest(
        body=models.Index().from_map(index))).status_code == 200
    got = call(c.get_index, PROJECT, "decisions").body.to_map()
    assert got["keys"]["message"]["json_keys"] == index["keys"]["message"]["json_keys"]
    assert got["line"] == index["line"] and got["index_mode"] == "v2"
    [alert] = sls_config.alerts(PROJECT, "decisions", "cn-shanghai", "sls.builtin")[:1]
    assert call(c.create_alert, PROJECT, models.CreateAlertRequest().from_map(alert)).status_code == 200
    held = call(c.get_alert, PROJECT, alert["name"]).body.to_map()
    assert {k: held[k] for k in alert} == alert and held["status"] == "ENABLED"
    [search] = sls_config.saved_searches("decisions")[:1]
    assert call(c.create_saved_search, PROJECT, models.CreateSavedSearchRequest().from_map(search)).status_code == 200
    assert call(c.get_saved_search, PROJECT, search["savedsearchName"]).body.to_map() == search
    assert [(x["operation"], x["project"], x["status"]) for x in sls.calls][:2] == [
        ("CreateProject", None, 200), ("CreateLogStore", PROJECT, 200)]


def test_what_is_not_there_and_what_is_there_twice_get_slss_codes(sls):
    c = client(sls)
    assert call(c.get_project, PROJECT, models.GetProjectRequest())[:2] == (404, "ProjectNotExist")
    c = made(sls)
    assert call(c.create_project, models.CreateProjectRequest(project_name=PROJECT))[:2] == (
        400, "ProjectAlreadyExist")
    assert call(c.get_log_store, PROJECT, "other")[:2] == (404, "LogStoreNotExist")
    assert call(c.get_index, PROJECT, "decisions")[:2] == (404, "IndexConfigNotExist")
    assert call(c.get_alert, PROJECT, "nothing")[:2] == (404, "JobNotExist")
    assert call(c.get_saved_search, PROJECT, "nothing")[:2] == (404, "SavedSearchNotExist")
    assert call(c.update_index, PROJECT, "decisions", models.UpdateIndexRequest(
        body=models.Index().from_map(sls_config.index())))[:2] == (404, "IndexConfigNotExist")
    bad = {"keys": {"message": {"type": "json", "json_keys": {"tags": {"type": "json"}}}}}
    assert call(c.create_index, PROJECT, "decisions", models.CreateIndexRequest(body=models.Index().from_map(bad)))[
        :2] == (400, "ParameterInvalid")              # JSON indexes take leaves only


def test_a_wrong_secret_an_unknown_key_and_a_wrong_token_are_refused_as_sls_refuses_them(sls):
    made(sls)
    sls.gateway.clear_calls()
    assert call(client(sls, access_key_secret="wrong-secret").get_project, PROJECT, models.GetProjectRequest()) == (
        401, "SignatureNotMatch", "Signature not matched.")
    assert call(client(sls, access_key_id="LTAInobody").get_project, PROJECT, models.GetProjectRequest()) == (
        401, "Unauthorized", "The AccessKeyId is unauthorized.")
    assert call(client(sls, STS, security_token="forged-token").get_project, PROJECT, models.GetProjectRequest())[
        :2] == (401, "Unauthorized")
    assert call(client(sls, STS).get_project, PROJECT, models.GetProjectRequest()).status_code == 200
    assert [x["status"] for x in sls.calls] == [401, 401, 401, 200]
    recorded = json.dumps(sls.calls)                 # key ids are recorded, never secrets, tokens or signatures
    assert not [s for s in SECRETS + [KEY["access_key_secret"]] if s in recorded and not s.startswith("STS.")]
    assert {x["access_key_id"] for x in sls.calls} == {KEY["access_key_id"], "LTAInobody", STS["access_key_id"]}


def test_a_denied_operation_is_refused_naming_its_ram_action_and_resource(sls):
    c = made(sls)
    sls.deny("CreateAlert")
    [alert] = sls_config.alerts(PROJECT, "decisions", "cn-shanghai", "sls.builtin")[:1]
    assert call(c.create_alert, PROJECT, models.CreateAlertRequest().from_map(alert)) == (
        401, "Unauthorized", "denied by sts or ram, action: log:CreateJob, resource: "
                             f"acs:log:cn-shanghai:1234567890123456:project/{PROJECT}/job/dwtrigger-failed")


def by_hand(sls, method: str, path: str, body: bytes = b"", date=None, md5=None, secret=None, project=PROJECT,
            authorization=None):
    """A request signed as the SDK signs (or not), sent to <project>.localhost's address."""
    port = int(sls.endpoint.rsplit(":", 1)[1])
    headers = {"Host": f"{project}.localhost:{port}", "Date": date or formatdate(usegmt=True),
               "Content-Type": "application/json", "x-log-apiversion": "0.6.0", "x-log-signaturemethod": "hmac-sha256",
               "x-log-bodyrawsize": str(len(body)),
               "Content-MD5": md5 if md5 is not None else (hashlib.md5(body).hexdigest().upper() if body else "")}
    signed = signature(secret or KEY["access_key_secret"], string_to_sign(method, path, {}, headers))
    headers["Authorization"] = authorization or f"{SCHEME} {KEY['access_key_id']}:{signed}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        connection.close()


def test_requests_the_sdk_never_sends_are_refused_with_slss_codes(sls):
    made(sls)
    assert by_hand(sls, "GET", "/logstores/decisions")[0] == 200
    assert by_hand(sls, "GET", "/logstores/decisions", date="Mon, 07 Dec 2020 01:00:00 GMT") == (400, {
        "errorCode": "RequestTimeExpired",
        "errorMessage": "Request time has been expired while server time is more than 15 minutes away."})
    assert by_hand(sls, "GET", "/logstores/decisions", date="yesterday")[1]["errorCode"] == "InvalidRequestTime"
    assert by_hand(sls, "GET", "/logstores/decisions", authorization="LOG nothing")[1]["errorCode"] == \
        "ParameterInvalid"
    signed_other = by_hand(sls, "PUT", "/logstores/decisions", body=b'{"ttl": 1}',
                           md5=hashlib.md5(b'{"ttl": 30}').hexdigest().upper())
    assert signed_other == (400, {"errorCode": "InvalidContentMd5",
                                  "errorMessage": "Content-MD5 does not match the request body."})
    assert by_hand(sls, "DELETE", "/logstores/decisions")[1]["errorCode"] == "ParameterInvalid"   # not served
    assert sls.projects()[PROJECT]["logstores"]["decisions"]["ttl"] == 30
