"""The sweep's notices, end to end: the sweep against the DataWorks emulator and the OSS stand-in (which keeps the
ledger), its notices sent to local receivers that check each channel's signature (receivers.py).

What a person relies on: an overdue release is told once, and once more when it is released after all; a release
that keeps failing is told stuck; a channel that fails never fails the sweep and is tried again on the next run
(that channel only); nothing of a channel's URL or secret appears in any line; a dry run sends and writes nothing."""
import json
from datetime import timedelta

import pytest

from checks import assert_no_secrets
from conftest import ONE_API, orders_rules
from receivers import Receiver, environment, secret_forms
from sweeps import NODE, ORDERS, outcomes, sweep
from dwtrigger.notices import STUCK_AFTER

pytestmark = ONE_API

NOTIFY = ("notify: {dingtalk: {webhook_env: DT_WEBHOOK, secret_env: DT_SECRET}, "
          "webhook: {url_env: HOOK_URL, secret_env: HOOK_SECRET}}")
RULES = orders_rules(f"{{workspace: 10001, node: {NODE}}}",
                     extra='ledger: "oss://etl-ledger/dwtrigger/"\n    expect: {by: "06:00", days: 1}\n    ' + NOTIFY)
FOLDER = f"dwtrigger/noticed/orders/{NODE}/2026-03-11/"
OVERDUE_BODY = {"kind": "overdue", "rule": "orders", "workspace": 10001, "node": NODE, "biz_date": "2026-03-11",
                "cycle_time": None, "reason": "no evidence by 2026-03-12T06:00:00+08:00: missing "
                                              "oss://etl-landing/exports/orders/dt=2026-03-11/_SUCCESS",
                "sent_at": "2026-03-12T09:00:00+08:00"}


@pytest.fixture
def dingtalk():
    receiver = Receiver("dingtalk")
    yield receiver
    receiver.close()


@pytest.fixture
def webhook():
    receiver = Receiver("webhook")
    yield receiver
    receiver.close()


@pytest.fixture
def h(harness, dingtalk, webhook):
    return harness(RULES, env=environment(dingtalk, webhook))


def notices(h) -> list:
    """The notice lines logged so far, each checked for every form of the channels' secrets."""
    text = h.stream.getvalue()
    assert_no_secrets(text, secret_forms())
    return [line["notice"] for line in map(json.loads, text.splitlines()) if line.get("message") == "notice"]


def said(lines) -> list:
    return [(n["kind"], n["channel"], n["delivered"], n["error_code"]) for n in lines]


def stored(h, kind: str) -> dict:
    return json.loads(h.oss.body("etl-ledger", FOLDER + f"{kind}.json"))


def test_overdue_is_told_once_on_every_channel_across_runs(h, dingtalk, webhook):
    for _ in range(3):
        records, tally = sweep(h)
        assert outcomes(records) == [("overdue", "2026-03-11")]
    assert webhook.taken == [OVERDUE_BODY] and webhook.refused == []
    [message] = dingtalk.taken
    assert message["markdown"]["title"] == f"dwtrigger overdue: orders node {NODE} 2026-03-11"
    assert said(notices(h)) == [("overdue", "dingtalk", True, None), ("overdue", "webhook", True, None)]
    overdue = stored(h, "overdue")
    assert (overdue["channels"], overdue["delivered"], overdue["attempts"]) == (["dingtalk", "webhook"],) * 2 + (1,)
    assert overdue["sent_at"] and overdue["reason"] == OVERDUE_BODY["reason"]


def test_released_after_an_overdue_notice_is_told_once(h, dingtalk, webhook):
    sweep(h)
    h.oss.put("etl-landing", ORDERS.format(day="2026-03-11"))
    records, tally = sweep(h)
    assert outcomes(records) == [("triggered", "2026-03-11")]
    assert (tally.notices_sent, tally.notices_failed) == (2, 0)
    for _ in range(2):                                          # the ledger now knows it ran, or a look-up shows it
        records, tally = sweep(h)
        assert tally.notices_sent == 0
    assert [body["kind"] for body in webhook.taken] == ["overdue", "released_late"]
    late = webhook.taken[1]
    assert late == {**OVERDUE_BODY, "kind": "released_late",
                    "reason": "released after it was overdue: the sweep's trigger was accepted"}
    assert [m["markdown"]["title"] for m in dingtalk.taken][1] == (
        f"dwtrigger released late: orders node {NODE} 2026-03-11")


def test_a_release_never_overdue_is_told_nothing(h, dingtalk, webhook):
    h.oss.put("etl-landing", ORDERS.format(day="2026-03-11"))
    records, _ = sweep(h)
    assert outcomes(records) == [("triggered", "2026-03-11")]
    assert (dingtalk.requests, webhook.requests, notices(h)) == (0, 0, [])
    assert [key for key in h.oss.objects("etl-ledger") if "/noticed/" in key] == []


def test_a_release_that_keeps_failing_is_told_stuck_after_its_runs_in_a_row(h, dingtalk, webhook):
    h.oss.put("etl-landing", ORDERS.format(day="2026-03-11"))
    h.emu.set_faults(forbidden_rate=1, actions=["RunTriggerNode"])
    for run in range(1, STUCK_AFTER):
        records, tally = sweep(h)
        assert outcomes(records) == [("failed", "2026-03-11")] and tally.notices_sent == 0
        assert stored(h, "stuck")["failures"] == run and "channels" not in stored(h, "stuck")
    records, tally = sweep(h)
    assert tally.notices_sent == 2
    [stuck] = webhook.taken
    assert stuck["kind"] == "stuck" and stuck["reason"].startswith(
        f"its release with evidence failed in {STUCK_AFTER} sweep runs in a row, the last: ResourceNotAuthorized")
    sweep(h)
    assert len(webhook.taken) == len(dingtalk.taken) == 1             # said once


def test_a_success_starts_the_stuck_count_over(h, webhook):
    h.oss.put("etl-landing", ORDERS.format(day="2026-03-11"))
    h.emu.set_faults(forbidden_rate=1, actions=["RunTriggerNode"])
    for _ in range(STUCK_AFTER - 1):
        sweep(h)
    h.emu.set_faults()
    records, _ = sweep(h)
    assert outcomes(records) == [("triggered", "2026-03-11")]
    assert "failures" not in stored(h, "stuck") and webhook.taken == []     # 0: left out of the object


FAULTS = {"500": ("status", 500, b"down"), "errcode": ("status", 200, {"errcode": 310000, "errmsg": "sign not match"}),
          "redirect": ("redirect", 302), "refusal": ("status", 403, b"forbidden")}


@pytest.mark.parametrize("fault", sorted(FAULTS) + ["refused port"])
def test_a_failing_channel_never_fails_the_sweep_and_is_tried_again_next_run_alone(harness, dingtalk, webhook,
                                                                                    fault):
    env = environment(dingtalk, webhook)
    if fault == "refused port":
        env["DT_WEBHOOK"] = "http://127.0.0.1:9/robot/send?access_token=x"
    else:
        dingtalk.script.extend([FAULTS[fault]] * 500)
    h = harness(RULES, env=env)
    records, tally = sweep(h, timeout=8)
    assert outcomes(records) == [("overdue", "2026-03-11")] and not tally.failed
    assert (tally.notices_sent, tally.notices_failed, len(webhook.taken)) == (1, 1, 1)
    [(kind, channel, delivered, code)] = [n for n in said(notices(h)) if n[1] == "dingtalk"]
    assert (kind, delivered) == ("overdue", False) and code
    overdue = stored(h, "overdue")
    assert overdue["delivered"] == ["webhook"] and "sent_at" not in overdue
    assert overdue["last_error"].startswith(f"dingtalk: {code}: ")
    dingtalk.script.clear()
    healed = harness(RULES, env=environment(dingtalk, webhook))
    records, tally = sweep(healed)
    assert (tally.notices_sent, tally.notices_failed) == (1, 0)
    assert len(dingtalk.taken) == 1 and len(webhook.taken) == 1       # the webhook took it: not sent again
    assert stored(h, "overdue")["delivered"] == ["webhook", "dingtalk"] and stored(h, "overdue")["sent_at"]


def test_an_answer_quoting_the_url_leaks_no_token_into_any_line_or_the_ledger(harness, dingtalk, webhook):
    dingtalk.script.extend([("status", 400, f"bad request to {dingtalk.url}&sign=abc".encode())] * 5)
    h = harness(RULES, env=environment(dingtalk, webhook))
    sweep(h)
    [line] = [n for n in notices(h) if n["channel"] == "dingtalk"]
    assert line["error"].startswith("the channel answered HTTP 400: bad request to ")
    assert_no_secrets(json.dumps(stored(h, "overdue")), secret_forms())


def test_a_variable_not_set_is_logged_by_name_and_the_other_channel_still_hears(harness, dingtalk, webhook):
    env = environment(dingtalk, webhook)
    del env["HOOK_SECRET"]
    h = harness(RULES, env=env)
    records, tally = sweep(h)
    assert outcomes(records) == [("overdue", "2026-03-11")]
    [line] = [n for n in notices(h) if n["channel"] == "webhook"]
    assert (line["delivered"], line["error_code"], line["attempts"]) == (False, "MissingSetting", 0)
    assert line["error"] == ("the environment variable HOOK_SECRET (notify.webhook.secret_env) is not set in the "
                             "function's environment")
    assert len(dingtalk.taken) == 1


def test_a_dry_run_says_what_it_would_send_and_sends_and_writes_nothing(harness, dingtalk, webhook):
    h = harness(RULES, env=environment(dingtalk, webhook), dry_run=True)
    records, tally = sweep(h)
    assert outcomes(records) == [("overdue", "2026-03-11")]
    lines = notices(h)
    assert [(n["kind"], n["channel"], n["would_send"], n["dry_run"], n["delivered"]) for n in lines] == [
        ("overdue", "dingtalk", True, True, False), ("overdue", "webhook", True, True, False)]
    assert (dingtalk.requests, webhook.requests, tally.notices_sent) == (0, 0, 0)
    assert [key for key in h.oss.objects("etl-ledger") if "/noticed/" in key] == []


def test_a_run_of_a_later_day_tells_the_new_date_and_not_the_old_one_again(h, webhook):
    sweep(h)
    sweep(h, h.emu.clock.now() + timedelta(days=1))
    assert [(body["kind"], body["biz_date"]) for body in webhook.taken] == [("overdue", "2026-03-11"),
                                                                             ("overdue", "2026-03-12")]


def test_a_ledger_that_cannot_record_the_notice_sends_nothing_and_the_sweep_goes_on(h, dingtalk, webhook):
    h.oss.set_faults(forbidden_rate=1, actions=["PutObject"])
    records, tally = sweep(h, timeout=4)
    assert outcomes(records) == [("overdue", "2026-03-11")] and not tally.failed
    [line] = notices(h)
    assert (line["kind"], line["channel"], line["delivered"], line["error_code"]) == (None, None, False, "AccessDenied")
    assert line["error"].startswith("the ledger could not be read or written: ")
    assert (dingtalk.requests, webhook.requests, tally.notices_sent) == (0, 0, 0)
    h.oss.set_faults()
    sweep(h)
    assert len(webhook.taken) == len(dingtalk.taken) == 1
