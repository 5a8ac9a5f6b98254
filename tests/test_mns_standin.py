"""The MNS stand-in through the official SDK (aliyun-mns-sdk), unmodified, over loopback HTTP with MNS signatures;
raw requests (signed as the SDK signs) where the SDK cannot send what a case needs."""

import hashlib
import http.client
import threading
import time
from datetime import datetime, timezone
from email.utils import formatdate

import pytest
from mns.account import Account
from mns.mns_exception import MNSServerException
from mns.queue import Message

from dwtrigger.ops.emulator import MnsStandIn
from dwtrigger.ops.emulator.mns_signature import authorization
from standins import wait_until

AK, SECRET = "LTAImnskey", "mns-secret"
STS = ("STS.mnskey", "sts-secret", "sts-token-0123456789")
KEYS = [{"access_key_id": AK, "access_key_secret": SECRET},
        dict(zip(("access_key_id", "access_key_secret", "security_token"), STS))]
QUEUE = "dwtrigger-dlq"
NOW = datetime(2026, 3, 12, 1, tzinfo=timezone.utc)
NOW_MS = int(NOW.timestamp() * 1000)


@pytest.fixture(scope="module")
def standin():
    with MnsStandIn(KEYS, [QUEUE, "other"], visibility_timeout=30, now=NOW) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(standin):
    standin.reset()


def queue(standin, ak=AK, secret=SECRET, token="", name=QUEUE):
    q = Account(standin.url, ak, secret, token).get_queue(name)
    q.set_encoding(False)
    return q


def refused(call) -> MNSServerException:
    with pytest.raises(MNSServerException) as caught:
        call()
    return caught.value


def test_messages_are_sent_received_and_deleted_as_the_sdk_expects(standin):
    q = queue(standin)
    sent = q.send_message(Message('{"a": "<&>"}'))
    assert sent.message_body_md5 == hashlib.md5(b'{"a": "<&>"}').hexdigest().upper()
    standin.clock.advance(2)
    [got] = q.batch_receive_message(16, 0)
    assert (got.message_id, got.message_body, got.dequeue_count) == (sent.message_id, '{"a": "<&>"}', 1)
    assert (got.enqueue_time, got.first_dequeue_time, got.next_visible_time) == (NOW_MS, NOW_MS + 2000,
                                                                                NOW_MS + 32_000)
    q.delete_message(got.receipt_handle)
    assert standin.messages(QUEUE) == []
    assert refused(lambda: q.batch_receive_message(16, 0)).type == "MessageNotExist"
    assert [(c["operation"], c["status"], c["code"]) for c in standin.calls] == [
        ("SendMessage", 201, None), ("BatchReceiveMessage", 200, None), ("DeleteMessage", 204, None),
        ("BatchReceiveMessage", 404, "MessageNotExist")]


def test_a_received_message_is_invisible_until_its_visibility_timeout_then_comes_back_with_a_new_handle(standin):
    q = queue(standin)
    q.send_message(Message("first"))
    q.send_message(Message("second", priority=1))                      # priority 1 goes first
    first = q.batch_receive_message(1, 0)[0]
    assert first.message_body == "second"
    assert [m.message_body for m in q.batch_receive_message(16, 0)] == ["first"]
    assert refused(lambda: q.batch_receive_message(16, 0)).type == "MessageNotExist"
    standin.clock.advance(29)
    assert refused(lambda: q.receive_message(0)).type == "MessageNotExist"
    standin.clock.advance(1)
    again = q.batch_receive_message(16, 0)
    assert [(m.message_body, m.dequeue_count) for m in again] == [("second", 2), ("first", 2)]
    assert again[0].receipt_handle != first.receipt_handle
    stale = refused(lambda: q.delete_message(first.receipt_handle))     # an earlier receipt's handle
    assert (stale.type, stale.message) == ("ReceiptHandleError", "The receipt handle you provide is not valid.")
    standin.clock.advance(30)                                           # visible again: the handle has lapsed
    assert refused(lambda: q.delete_message(again[0].receipt_handle)).type == "ReceiptHandleError"
    assert [m["dequeue_count"] for m in standin.messages(QUEUE)] == [2, 2]


def test_batch_delete_deletes_what_it_can_and_names_each_handle_it_could_not(standin):
    q = queue(standin)
    for body in ("a", "b"):
        q.send_message(Message(body))
    a, b = q.batch_receive_message(16, 0)
    error = refused(lambda: q.batch_delete_message([a.receipt_handle, "1-bogus"]))
    assert error.type == "ReceiptHandleError"
    assert error.sub_errors == [{"ErrorCode": "ReceiptHandleError", "ErrorMessage": "The receipt handle you provide "
                                 "is not valid.", "ReceiptHandle": "1-bogus"}]
    assert [m["body"] for m in standin.messages(QUEUE)] == ["b"]
    q.batch_delete_message([b.receipt_handle])
    assert standin.messages(QUEUE) == []


def test_change_visibility_gives_a_new_handle_and_a_new_time(standin):
    q = queue(standin)
    q.send_message(Message("x"))
    got = q.batch_receive_message(1, 0)[0]
    standin.clock.advance(10)
    changed = q.change_message_visibility(got.receipt_handle, 60)
    assert changed.receipt_handle != got.receipt_handle and int(changed.next_visible_time) == NOW_MS + 70_000
    assert refused(lambda: q.delete_message(got.receipt_handle)).type == "ReceiptHandleError"
    standin.clock.advance(59)
    q.delete_message(changed.receipt_handle)


def test_a_long_poll_waits_for_a_message_or_for_its_time_on_the_clock(standin):
    q = queue(standin)
    got = []
    poll = threading.Thread(target=lambda: got.extend(q.batch_receive_message(16, 30)))
    poll.start()
    wait_until(lambda: standin.in_flight == 1)
    standin.send(QUEUE, "late")
    poll.join(10)
    assert [m.message_body for m in got] == ["late"]
    q.delete_message(got[0].receipt_handle)
    errors = []
    poll = threading.Thread(target=lambda: errors.append(refused(lambda: q.batch_receive_message(16, 30)).type))
    poll.start()
    for _ in range(200):        # until the poll ends: each step takes the clock 30 s on, whenever the poll started
        standin.clock.advance(30)
        poll.join(0.05)
        if not poll.is_alive():
            break
    assert errors == ["MessageNotExist"] and standin.calls[-1]["params"] == {"numOfMessages": "16", "waitseconds": "30"}


def test_the_signature_is_checked_as_mns_checks_it(standin):
    q = queue(standin, secret="wrong")
    error = refused(lambda: q.send_message(Message("x")))
    assert (error.type, error.message) == ("SignatureDoesNotMatch", "The http request you provided is not authorized.")
    assert refused(lambda: queue(standin, ak="LTAIunknown").send_message(Message("x"))).type == "InvalidAccessKeyId"
    assert refused(lambda: queue(standin, *STS[:2]).send_message(Message("x"))).type == "InvalidSecurityToken"
    queue(standin, *STS).send_message(Message("sts"))                 # an STS key with its token
    assert [m["body"] for m in standin.messages(QUEUE)] == ["sts"]
    assert refused(lambda: queue(standin, name="missing").send_message(Message("x"))).type == "QueueNotExist"
    assert [c["access_key_id"] for c in standin.calls] == [AK, "LTAIunknown", STS[0], STS[0], AK]
    assert not any(secret in repr(standin.calls) for secret in (SECRET, "wrong", STS[1], STS[2]))


def raw(standin, method, uri, headers):
    conn = http.client.HTTPConnection(standin.endpoint, timeout=10)
    conn.request(method, uri, headers=headers)
    response = conn.getresponse()
    return response.status, response.read().decode()


@pytest.mark.parametrize("age,tamper,status,code", [
    (0, False, 404, "MessageNotExist"),          # signed as the SDK signs: accepted (the queue is empty)
    (16 * 60, False, 403, "TimeExpired"),        # Date more than 15 minutes from real time
    (0, True, 403, "SignatureDoesNotMatch"),     # an x-mns- header changed after signing
])
def test_a_raw_request_is_refused_for_an_old_date_or_a_changed_header(standin, age, tamper, status, code):
    uri = f"/queues/{QUEUE}/messages?numOfMessages=16&waitseconds=0"
    headers = {"x-mns-version": "2015-06-06", "Date": formatdate(time.time() - age, usegmt=True)}
    headers["Authorization"] = authorization(AK, SECRET, "GET", uri, headers)
    if tamper:
        headers["x-mns-version"] = "2015-06-07"
    got, body = raw(standin, "GET", uri, headers)
    assert (got, f"<Code>{code}</Code>" in body) == (status, True)


def test_what_is_not_served_is_refused_before_authentication(standin):
    got, body = raw(standin, "GET", f"/queues/{QUEUE}/messages?peekonly=true", {})
    assert got == 400 and "<Code>InvalidArgument</Code>" in body
    error = refused(lambda: queue(standin).batch_receive_message(17, 0))
    assert (error.type, error.message) == ("InvalidArgument", "The value of numOfMessages should between 1 and 16.")
