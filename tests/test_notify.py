"""The notice channels against local receivers that check each signature as DingTalk and a webhook receiver do:
what is sent, how each failure is classified (retried or not), that every call ends by its deadline, and that the
URLs' tokens and the secrets are scrubbed wherever the deployment writes."""
import json
import time

import pytest

from receivers import (DINGTALK_SECRET, DINGTALK_TOKEN, WEBHOOK_SECRET, WEBHOOK_TOKEN, Receiver, environment,
                       secret_forms, self_signed)
from dwtrigger import notify
from dwtrigger.redact import Scrubber
from dwtrigger.retry import MIN_CALL_S, Backoff, Deadline
from dwtrigger.rules import Channel, parse_rules

DINGTALK = Channel("dingtalk", "DT_WEBHOOK", "DT_SECRET")
WEBHOOK = Channel("webhook", "HOOK_URL", "HOOK_SECRET")
MESSAGE = notify.Message("overdue", "orders", 10001, 700001234567, "2026-03-11", None,
                         "no evidence by 2026-03-12T06:00:00+08:00: missing oss://etl-landing/x", "2026-03-12T09:00:00+08:00")


@pytest.fixture(scope="module")
def dingtalk():
    receiver = Receiver("dingtalk")
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def webhook():
    receiver = Receiver("webhook")
    yield receiver
    receiver.close()


@pytest.fixture(autouse=True)
def fresh(dingtalk, webhook):
    for receiver in (dingtalk, webhook):
        receiver.taken.clear(), receiver.refused.clear(), receiver.script.clear()


def send(channel, env, seconds: float = 5.0):
    return notify.deliver(channel, MESSAGE, env, Deadline(time.monotonic() + seconds), Backoff(0.01, 0.05), time.sleep)


def test_dingtalk_gets_a_signed_markdown_message(dingtalk, webhook):
    error, attempts = send(DINGTALK, environment(dingtalk, webhook))
    assert (error, attempts, dingtalk.refused) == (None, 1, [])
    [taken] = dingtalk.taken
    assert taken["msgtype"] == "markdown"
    assert taken["markdown"]["title"] == "dwtrigger overdue: orders node 700001234567 2026-03-11"
    assert taken["markdown"]["text"] == (
        "#### dwtrigger overdue: orders node 700001234567 2026-03-11\n\n- rule: orders\n- workspace: 10001\n"
        "- node: 700001234567\n- business date: 2026-03-11\n- scheduled: -\n\nno evidence by 2026-03-12T06:00:00+08:00: "
        "missing oss://etl-landing/x\n\nsent at 2026-03-12T09:00:00+08:00")


def test_the_webhook_gets_the_json_body_signed_with_a_timestamp(dingtalk, webhook):
    error, attempts = send(WEBHOOK, environment(dingtalk, webhook))
    assert (error, attempts, webhook.refused) == (None, 1, [])
    assert webhook.taken == [{"kind": "overdue", "rule": "orders", "workspace": 10001, "node": 700001234567,
                              "biz_date": "2026-03-11", "cycle_time": None,
                              "reason": "no evidence by 2026-03-12T06:00:00+08:00: missing oss://etl-landing/x",
                              "sent_at": "2026-03-12T09:00:00+08:00"}]


def test_a_signature_made_with_another_secret_is_refused_by_the_receivers_and_not_retried(dingtalk, webhook):
    env = environment(dingtalk, webhook) | {"DT_SECRET": "SECanother", "HOOK_SECRET": "another"}
    error, attempts = send(DINGTALK, env)
    assert (error.code, error.retryable, attempts, dingtalk.refused) == ("DingTalk.310000", False, 1, ["sign"])
    assert error.message == ("DingTalk refused the message: errcode 310000 (sign not match) (the robot's security "
                             "settings refused it: check its signing secret, keywords or IP allow-list)")
    error, attempts = send(WEBHOOK, env)
    assert (error.code, error.retryable, attempts, error.status) == ("Refused", False, 1, 401)
    assert webhook.refused == ["signature"] and error.message == 'the channel answered HTTP 401: {"error": "signature"}'


@pytest.mark.parametrize("answer, code", [((200, {"errcode": 130101, "errmsg": "send too fast"}), "DingTalk.130101"),
                                          ((200, {"errcode": -1, "errmsg": "busy"}), "DingTalk.-1"),
                                          ((500, b"oops"), "ServerError"), ((429, b""), "Throttled"),
                                          ((200, b"<html>"), "BadResponse")])
def test_a_transient_refusal_is_tried_again_and_then_taken(dingtalk, webhook, answer, code):
    dingtalk.script.append(("status", *answer))
    error, attempts = send(DINGTALK, environment(dingtalk, webhook))
    assert (error, attempts, len(dingtalk.taken)) == (None, 2, 1)


def test_a_channel_that_keeps_failing_ends_by_the_deadline_with_its_last_error(dingtalk, webhook):
    """On a clock that only the pauses between tries move: the tries stop when the next pause would pass the
    deadline, whatever the machine's speed."""
    webhook.script.extend([("status", 503, b"down")] * 1000)
    now = [0.0]
    error, attempts = notify.deliver(WEBHOOK, MESSAGE, environment(dingtalk, webhook), Deadline(1.0, lambda: now[0]),
                                     Backoff(0.01, 0.05), lambda s: now.__setitem__(0, now[0] + s))
    assert now[0] <= 1.0
    assert (error.code, error.retryable, error.message) == ("ServerError", True, "the channel answered HTTP 503: down")
    assert attempts >= 2 and webhook.taken == []


def test_a_send_that_finds_no_time_left_ends_with_the_channels_last_error_not_the_deadlines(dingtalk, webhook):
    """A loaded machine: the next try began with time to spare, and by the time it would send there is none."""
    webhook.script.extend([("status", 503, b"down")] * 10)
    now = [0.0]

    def clock():                          # after the pause, each reading finds the machine 0.6 x MIN_CALL_S later
        if now[0]:
            now[0] += MIN_CALL_S * 0.6
        return now[0]

    error, attempts = notify.deliver(WEBHOOK, MESSAGE, environment(dingtalk, webhook), Deadline(5.0, clock),
                                     Backoff(0.01, 0.05), lambda s: now.__setitem__(0, 5.0 - 2 * MIN_CALL_S))
    assert (error.code, error.message, attempts) == ("ServerError", "the channel answered HTTP 503: down", 1)


@pytest.mark.parametrize("answer, code", [((400, b"bad"), "Refused"), ((404, b""), "Refused"),
                                          ((200, {"errcode": 300001, "errmsg": "token is not exist"}),
                                           "DingTalk.300001")])
def test_a_refusal_is_not_tried_again(dingtalk, webhook, answer, code):
    dingtalk.script.append(("status", *answer))
    error, attempts = send(DINGTALK, environment(dingtalk, webhook))
    assert (error.code, error.retryable, attempts, dingtalk.requests > 0) == (code, False, 1, True)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_never_followed(dingtalk, webhook, status):
    webhook.script.append(("redirect", status))
    error, attempts = send(WEBHOOK, environment(dingtalk, webhook))
    assert (error.code, error.retryable, attempts) == ("Redirected", False, 1)
    assert error.message == f"the channel answered HTTP {status}; redirects are never followed (check the URL)"


def test_a_receiver_that_never_answers_costs_the_delivery_its_deadline_and_no_more(dingtalk, webhook):
    dingtalk.script.extend([("hang",)] * 3)
    started = time.monotonic()
    error, attempts = send(DINGTALK, environment(dingtalk, webhook), seconds=1.0)
    assert time.monotonic() - started < notify.READ_S / 2     # the 1 s deadline ends it, not the read timeout
    assert error.retryable and error.code in ("DeadlineExceeded", "Timeout") and dingtalk.taken == []


def test_a_port_nobody_listens_on_is_a_retryable_connection_error():
    env = {"HOOK_URL": "http://127.0.0.1:9/hooks/x", "HOOK_SECRET": WEBHOOK_SECRET}
    error, attempts = send(WEBHOOK, env, seconds=1.0)
    assert (error.code, error.retryable, error.message) == ("ConnectionError", True, "the connection was refused")
    assert attempts >= 2


@pytest.mark.parametrize("url, code, message", [
    ("http://hooks.example.com/x", "InsecureUrl",
     "HOOK_URL holds an http:// URL to another machine: notices go over https (http only to a loopback address)"),
    ("ftp://hooks.example.com/x", "BadUrl", "HOOK_URL does not hold an https:// URL"),
    ("https://[::1/x", "BadUrl", "HOOK_URL does not hold an https:// URL"),
    ("hooks.example.com/x", "BadUrl", "HOOK_URL does not hold an https:// URL")])
def test_a_url_that_is_not_https_is_refused_before_any_call(url, code, message):
    error, attempts = send(WEBHOOK, {"HOOK_URL": url, "HOOK_SECRET": WEBHOOK_SECRET})
    assert (error.code, error.retryable, error.message, attempts) == (code, False, message, 0)


@pytest.mark.parametrize("missing, field", [("DT_WEBHOOK", "webhook_env"), ("DT_SECRET", "secret_env")])
def test_a_variable_not_set_is_named_with_the_field_that_names_it(dingtalk, webhook, missing, field):
    env = environment(dingtalk, webhook)
    del env[missing]
    error, attempts = send(DINGTALK, env)
    assert (error.code, error.retryable, attempts) == ("MissingSetting", False, 0)
    assert error.message == (f"the environment variable {missing} (notify.dingtalk.{field}) is not set in the "
                             "function's environment")


def test_the_secrets_to_scrub_cover_every_form_of_the_urls_tokens_and_the_secrets(dingtalk, webhook):
    rules = parse_rules("""\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai, ledger: "oss://etl-ledger/d/"}
rules:
  - name: r
    on: oss
    bucket: etl-landing
    key: "x/{bizdate:%Y-%m-%d}/ok"
    notify: {dingtalk: {webhook_env: DT_WEBHOOK, secret_env: DT_SECRET}, webhook: {url_env: HOOK_URL, secret_env: HOOK_SECRET}}
    trigger: [{workspace: 1, node: 2}]
""")
    scrub = Scrubber(notify.secrets(rules.rules, environment(dingtalk, webhook)))
    text = json.dumps({"a": dingtalk.url, "b": f"token={DINGTALK_TOKEN}", "c": f"/hooks/{WEBHOOK_TOKEN}",
                       "d": secret_forms()})
    assert not any(form in scrub(text) for form in secret_forms() + [DINGTALK_TOKEN, WEBHOOK_TOKEN])
    assert not any(secret in scrub(text) for secret in (DINGTALK_SECRET, WEBHOOK_SECRET))


@pytest.mark.parametrize("channel, late_s, code", [(WEBHOOK, 600, "Refused"), (DINGTALK, 2 * 3600, "DingTalk.310000")])
def test_a_signature_stamped_too_long_ago_is_refused_as_a_replay(dingtalk, webhook, channel, late_s, code):
    error, attempts = notify.deliver(channel, MESSAGE, environment(dingtalk, webhook), Deadline(time.monotonic() + 5),
                                     Backoff(0.01, 0.05), time.sleep, epoch=lambda: time.time() - late_s)
    assert (error.code, error.retryable, dingtalk.taken, webhook.taken) == (code, False, [], [])
    assert (dingtalk.refused or webhook.refused) == ["timestamp" if channel is DINGTALK else "signature"]


def test_https_to_a_receiver_whose_certificate_no_authority_signed_is_refused_and_not_retried(tmp_path):
    receiver = Receiver("webhook", tls_cert=self_signed(tmp_path))
    try:
        assert receiver.url.startswith("https://127.0.0.1:")
        error, attempts = send(WEBHOOK, environment(None, receiver))
        assert (error.code, error.retryable, attempts, receiver.taken) == ("TlsError", False, 1, [])
        assert error.message == "the TLS handshake failed (the certificate could not be verified)"
    finally:
        receiver.close()


def test_https_to_a_receiver_whose_certificate_is_trusted_delivers(tmp_path, monkeypatch):
    """The same receiver, its certificate made the trusted authority (no public CA signs for 127.0.0.1)."""
    cert = self_signed(tmp_path)
    monkeypatch.setattr(notify, "_ca_bundle", lambda: cert[0])
    receiver = Receiver("webhook", tls_cert=cert)
    try:
        assert send(WEBHOOK, environment(None, receiver)) == (None, 1)
        assert [body["kind"] for body in receiver.taken] == ["overdue"]
    finally:
        receiver.close()
