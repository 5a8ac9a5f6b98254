"""`dwtrigger drain` as an operator runs it: the real MNS SDK against the MNS stand-in, each message replayed through
the real SDK to the DataWorks emulator, over loopback. The stand-in's clock is fixed, so "visible again after the
visibility timeout" is a step of the clock, not a wait."""
import base64
import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from mns.account import Account
from mns.queue import Message

from checks import SECRETS
from conftest import ROLE_KEY, ROOT, oss_seed, sample
from dead_letters import fc_record
from dwtrigger.ops.cli import main
from dwtrigger.ops.drain import endpoint
from dwtrigger.ops.emulator import MnsStandIn
from dwtrigger.ops.reach import MNS_ENV, environment

RULES = str(ROOT / "rules.yaml")
QUEUE = "dwtrigger-dlq"
NOW = datetime(2026, 3, 12, 1, tzinfo=timezone.utc)
NIGHTLY = json.dumps(fc_record(sample("timer/nightly.json")))                      # triggers node 700001235000
CRM = base64.b64encode(sample("mns/queue-eventbridge-base64.json")).decode()       # EventBridge's, base64: 700001235100
NOBODY = json.dumps(fc_record(b'{"triggerTime": "2026-03-11T16:05:00Z", "triggerName": "nobody"}'))
GARBLED = "not a dead letter"
IGNORED_TO_DO = ("; nothing was sent: add or enable the rule that should take it (`dwtrigger explain` says why "
                 "each misses) and replay it, or drop the record if it should release nothing")
UNREADABLE = ("unreadable: not valid JSON at line 1, column 1: Expecting value; if it is a raw MNS STREAM message "
              "body, pass --source mns")
LEFT_ADVICE = ("Left messages become visible again after the queue's visibility timeout: fix what is said above and "
               "drain again.")


@pytest.fixture(scope="module")
def mns_served():
    with MnsStandIn(oss_seed()["keys"], [QUEUE], now=NOW) as standin:
        yield standin


@pytest.fixture
def mns(mns_served):
    """The queue empty, its clock at NOW, no calls: one stand-in for the module, reset for each test."""
    mns_served.reset()
    return mns_served


def send(mns, *bodies: str) -> list:
    """The bodies sent through the SDK as they are (no base64 of the SDK's own); their message ids."""
    queue = Account(mns.url, ROLE_KEY["ALIBABA_CLOUD_ACCESS_KEY_ID"], ROLE_KEY["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                    ROLE_KEY["ALIBABA_CLOUD_SECURITY_TOKEN"]).get_queue(QUEUE)
    queue.set_encoding(False)
    return [queue.send_message(Message(body)).message_id for body in bodies]


def drain(emulator, mns, *args, key=ROLE_KEY):
    env = {"DWTRIGGER_ENDPOINT": emulator.endpoint, "DWTRIGGER_PROTOCOL": "http",
           "POWERTOOLS_SERVICE_NAME": "dwtrigger-drain-test", **key}
    return CliRunner().invoke(main, ["drain", "--queue", QUEUE, "--mns-endpoint", mns.endpoint, "--rules", RULES,
                                     "--wait", "0", *args], env=env, prog_name="dwtrigger")


def released(emulator) -> list:
    return sorted(c["params"]["NodeId"] for c in emulator.calls if c["action"] == "RunTriggerNode")


def operations(mns) -> list:
    return [c["operation"] for c in mns.calls]


def test_released_messages_are_deleted_and_the_rest_left_until_their_visibility_timeout(emulator, mns):
    _, _, nobody, garbled = send(mns, NIGHTLY, CRM, NOBODY, GARBLED)
    mns.gateway.clear_calls()
    result = drain(emulator, mns)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{QUEUE}/{nobody}: ignored: no rule matched{IGNORED_TO_DO}",
        f"{QUEUE}/{garbled}: {UNREADABLE}",
        "outcome            count", "triggered          2", "ignored            1", "unreadable         1",
        "messages: 4 received, 2 released and deleted, 2 left (1 unreadable)", LEFT_ADVICE]
    assert released(emulator) == ["700001235000", "700001235100"]
    assert [json.loads(line)["outcome"] for line in result.stdout.splitlines()] == ["triggered", "triggered",
                                                                                   "ignored"]
    assert operations(mns) == ["BatchReceiveMessage", "DeleteMessage", "DeleteMessage", "BatchReceiveMessage"]
    assert mns.messages(QUEUE) == [{"message_id": nobody, "body": NOBODY, "dequeue_count": 1, "visible": False},
                                   {"message_id": garbled, "body": GARBLED, "dequeue_count": 1, "visible": False}]
    secrets = [*SECRETS, ROLE_KEY["ALIBABA_CLOUD_ACCESS_KEY_SECRET"], ROLE_KEY["ALIBABA_CLOUD_SECURITY_TOKEN"]]
    assert not any(secret in result.output for secret in secrets)

    mns.clock.advance(30)                                # the queue's visibility timeout: they are there again
    again = drain(emulator, mns)
    assert again.exit_code == 1 and "messages: 2 received, 0 released and deleted, 2 left (1 unreadable)" in again.stderr
    assert [m["dequeue_count"] for m in mns.messages(QUEUE)] == [2, 2]


def test_a_failed_message_stays_and_goes_once_its_cause_is_fixed(emulator, mns):
    [nightly] = send(mns, NIGHTLY)
    emulator.set_faults(forbidden_rate=1.0)
    failed = drain(emulator, mns, "--timeout", "5")
    assert failed.exit_code == 1
    assert failed.stderr.startswith(f"{QUEUE}/{nightly}: failed: ")
    assert "messages: 1 received, 0 released and deleted, 1 left\n" in failed.stderr
    assert [m["message_id"] for m in mns.messages(QUEUE)] == [nightly]

    emulator.set_faults()
    assert "messages: 0 received" in drain(emulator, mns).stderr       # still invisible: nothing to take yet
    mns.clock.advance(30)
    fixed = drain(emulator, mns)
    assert fixed.exit_code == 0, fixed.output
    assert fixed.stderr.splitlines()[-1] == "messages: 1 received, 1 released and deleted, 0 left"
    assert mns.messages(QUEUE) == [] and released(emulator) == ["700001235000"]


def test_max_caps_the_messages_taken(emulator, mns):
    send(mns, NIGHTLY, CRM, NIGHTLY)
    result = drain(emulator, mns, "--max", "2")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == "messages: 2 received, 2 released and deleted, 0 left"
    assert [c["params"]["numOfMessages"] for c in mns.calls if c["operation"] == "BatchReceiveMessage"] == ["2"]
    assert [(m["body"], m["visible"]) for m in mns.messages(QUEUE)] == [(NIGHTLY, True)]


def test_the_queue_is_read_in_batches_of_sixteen_with_the_wait_asked_for(emulator, mns):
    send(mns, *[NIGHTLY] * 17)
    result = drain(emulator, mns, "--max", "17", "--wait", "30")     # never polls an empty queue: no waiting
    assert result.exit_code == 0, result.output
    assert "triggered          1\nalready_triggered  16\n" in result.stderr
    assert [c["params"] for c in mns.calls if c["operation"] == "BatchReceiveMessage"] == [
        {"numOfMessages": "16", "waitseconds": "30"}, {"numOfMessages": "1", "waitseconds": "30"}]
    assert mns.messages(QUEUE) == []


def test_dry_run_deletes_nothing_and_sends_nothing(emulator, mns):
    send(mns, NIGHTLY, NOBODY)
    result = drain(emulator, mns, "--dry-run")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-2] == ("messages: 2 received, 1 released and would be deleted (dry run), "
                                              "1 left")
    assert "DeleteMessage" not in operations(mns) and released(emulator) == []
    assert len(mns.messages(QUEUE)) == 2
    mns.clock.advance(30)
    send(mns, NIGHTLY)
    assert drain(emulator, mns, "--dry-run", "--max", "1").exit_code == 0


def test_a_message_whose_receipt_lapsed_during_its_replay_is_not_counted_as_deleted(emulator):
    with MnsStandIn(oss_seed()["keys"], [QUEUE], now=NOW, visibility_timeout=0) as mns:
        [nightly] = send(mns, NIGHTLY)
        mns.gateway.clear_calls()
        result = drain(emulator, mns)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"{QUEUE}/{nightly}: released, but not deleted (ReceiptHandleError: The receipt handle you provide is not "
        "valid.): it will be received again, and a replay of it is already_triggered: drain again (a longer "
        "visibility timeout on the queue avoids this)")
    assert "messages: 1 received, 0 released and deleted, 1 left" in result.stderr
    assert operations(mns) == ["BatchReceiveMessage", "DeleteMessage", "BatchReceiveMessage"]   # came round: stop


def test_an_empty_queue_is_done(emulator, mns):
    result = drain(emulator, mns, "--quiet")
    assert (result.exit_code, result.stderr, result.stdout) == (0, "outcome            count\n"
                                                                   "messages: 0 received, 0 released and deleted, "
                                                                   "0 left\n", "")


@pytest.mark.parametrize("key,why", [
    ({**ROLE_KEY, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "a-wrong-secret"},
     "MNS refused to read queue dwtrigger-dlq (SignatureDoesNotMatch: The http request you provided is not "
     "authorized.): check ALIBABA_CLOUD_ACCESS_KEY_ID and _SECRET (and _SECURITY_TOKEN), and that the identity may "
     "mns:BatchReceiveMessage and mns:DeleteMessage on it"),
    ({"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAInobody", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "nobodys-secret"},
     "MNS refused to read queue dwtrigger-dlq (InvalidAccessKeyId: The access Id you provided is not exist.): check "
     "ALIBABA_CLOUD_ACCESS_KEY_ID and _SECRET (and _SECURITY_TOKEN), and that the identity may "
     "mns:BatchReceiveMessage and mns:DeleteMessage on it"),
])
def test_a_key_the_queue_refuses_is_one_sentence_and_no_secret(emulator, mns, key, why):
    send(mns, NIGHTLY)
    result = drain(emulator, mns, key=key)
    assert (result.exit_code, result.output) == (2, f"Error: {why}\n")
    assert [m["dequeue_count"] for m in mns.messages(QUEUE)] == [0] and released(emulator) == []


def test_a_missing_queue_or_an_endpoint_nobody_answers_could_not_be_checked(emulator, mns, refused):
    missing = CliRunner().invoke(main, ["drain", "--queue", "nope", "--mns-endpoint", mns.endpoint, "--rules", RULES,
                                        "--wait", "0"], env={"DWTRIGGER_PROTOCOL": "http", **ROLE_KEY})
    assert (missing.exit_code, missing.output) == (2, f"Error: MNS at {mns.url} has no queue nope: check --queue, "
                                                      "and the endpoint's account and region\n")
    url = f"http://{refused}"                 # where MNS stood, and nobody answers now
    gone = CliRunner().invoke(main, ["drain", "--queue", QUEUE, "--mns-endpoint", url, "--rules", RULES],
                              env={"DWTRIGGER_PROTOCOL": "http", **ROLE_KEY})
    assert gone.exit_code == 2
    assert gone.output.startswith(f"Error: cannot reach MNS at {url}: ") and gone.output.count("\n") == 1
    assert gone.output.endswith(": check --mns-endpoint, or --account and --region\n")


def test_the_endpoint_is_the_regions_public_one_unless_named():
    assert endpoint(None, "1234567890123456", "cn-shanghai", {}) == "https://1234567890123456.mns.cn-shanghai.aliyuncs.com"
    assert endpoint("http://1234.mns.cn-hangzhou.aliyuncs.com/", None, None, {}) == "http://1234.mns.cn-hangzhou.aliyuncs.com"
    assert endpoint("127.0.0.1:8767", None, None, {"DWTRIGGER_PROTOCOL": "http"}) == "http://127.0.0.1:8767"
    assert environment({}, "http://127.0.0.1:8765")[MNS_ENV] == "127.0.0.1:8767"   # --emulator: its MNS stand-in


@pytest.mark.parametrize("args,why", [
    ((), "name the queue's endpoint: --account UID --region REGION (its public endpoint "
         "https://UID.mns.REGION.aliyuncs.com), or --mns-endpoint (or DWTRIGGER_MNS_ENDPOINT)"),
    (("--region", "cn-shanghai"), "name the queue's endpoint: --account UID --region REGION (its public endpoint "
                                  "https://UID.mns.REGION.aliyuncs.com), or --mns-endpoint (or DWTRIGGER_MNS_ENDPOINT)"),
    (("--mns-endpoint", "127.0.0.1:1", "--account", "1234"), "--mns-endpoint (or DWTRIGGER_MNS_ENDPOINT, or "
                                                             "--emulator) names the queue's endpoint: drop --account "
                                                             "and --region"),
])
def test_a_drain_without_its_endpoint_is_refused_before_anything_is_read(args, why):
    result = CliRunner().invoke(main, ["drain", "--queue", QUEUE, *args], env={**ROLE_KEY})
    assert (result.exit_code, result.output) == (2, f"Error: {why}\n")
