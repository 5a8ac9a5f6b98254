"""Business date and cycle time: exact epoch milliseconds in the workspace zone.

Expected values are literal: each was computed from an explicit UTC instant (calendar.timegm), not by the code
under test. Events here are normalised `Event` objects: the raw shapes are covered by test_events.py.
"""
import json
from datetime import datetime, timezone

import pytest

from dwtrigger.events import NOT_JSON, Event
from dwtrigger.matching import match
from dwtrigger.rules import parse_rules
from dwtrigger.schedule import ScheduleError, resolve

RULES = parse_rules("""\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - {name: landed, on: oss, bucket: b, key: "in/**", trigger: [{workspace: 1, node: 10}, {workspace: 1, node: 11, at: "00:30"}]}
  - {name: dated, on: oss, bucket: b, key: "d/{bizdate:%Y%m%d}/_SUCCESS", trigger: [{workspace: 1, node: 20, at: "00:30"}]}
  - {name: hourly, on: oss, bucket: b, key: "h/{cycle:%Y%m%d%H}.done", trigger: [{workspace: 1, node: 30}]}
  - name: berlin-daily
    on: timer
    timer: t
    timezone: Europe/Berlin
    trigger: [{workspace: 2, node: 40, at: "00:30"}, {workspace: 2, node: 41, at: "03:30"}, {workspace: 2, node: 42, at: "02:30"}]
  - {name: berlin-hourly, on: oss, timezone: Europe/Berlin, bucket: b, key: "bh/{cycle:%Y-%m-%d-%H}", trigger: [{workspace: 2, node: 43}]}
  - {name: msg-date, on: mns, topic: t, bizdate: {field: meta.day, format: "%Y%m%d"}, trigger: [{workspace: 1, node: 50}]}
  - {name: msg-cycle, on: mns, topic: c, cycle: {field: at, format: "%Y-%m-%d %H:%M"}, trigger: [{workspace: 1, node: 51}]}
  - {name: utc-workspace, on: timer, timer: u, timezone: UTC, trigger: [{workspace: 3, node: 60}]}
  - name: timer-cycle
    on: timer
    timer: c
    cycle: {field: run.at, format: "%Y-%m-%d %H:%M"}
    trigger: [{workspace: 3, node: 61}]
""")


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(timezone.utc)


def oss(key: str, when: str) -> Event:
    return Event("oss", "oss-native", "e1", at(when), bucket="b", key=key, event_name="ObjectCreated:PutObject")


def plan(rule_name: str, event: Event, node_index: int = 0):
    """The schedule the relay resolves: from the captures of a rule that took the event."""
    rule = RULES.named(rule_name)
    captures, why = match(rule, event)
    assert captures is not None, why
    return resolve(rule, rule.trigger[node_index], captures, event)


def test_a_file_landing_at_0010_shanghai_is_still_utc_yesterday():
    # 2026-03-10T16:10Z is 2026-03-11 00:10 in Shanghai: the business date is 03-10, not 03-09.
    s = plan("landed", oss("in/x.csv", "2026-03-10T16:10:00+00:00"))
    assert f"{s.biz_date}" == "2026-03-10"
    assert s.biz_date_ms == 1773072000000           # 2026-03-10 00:00 +08:00
    assert s.cycle is None and s.cycle_ms is None   # no `at`: the look-up decides


def test_at_gives_the_cycle_on_the_day_after_the_business_date():
    s = plan("landed", oss("in/x.csv", "2026-03-10T16:10:00+00:00"), node_index=1)
    assert s.cycle_ms == 1773160200000               # 2026-03-11 00:30 +08:00
    assert s.cycle.isoformat() == "2026-03-11T00:30:00+08:00"


def test_a_bizdate_capture_wins_over_the_event_time():
    s = plan("dated", oss("d/20260310/_SUCCESS", "2026-05-01T00:00:00+00:00"))
    assert (f"{s.biz_date}", s.biz_date_ms, s.cycle_ms) == ("2026-03-10", 1773072000000, 1773160200000)


@pytest.mark.parametrize("key, biz, biz_ms, cycle_ms", [
    ("h/2026010107.done", "2025-12-31", 1767110400000, 1767222000000),   # year end: 07:00 on Jan 1st
    ("h/2026010100.done", "2025-12-31", 1767110400000, 1767196800000),   # midnight instance
])
def test_hourly_instance_named_by_a_cycle_capture(key, biz, biz_ms, cycle_ms):
    s = plan("hourly", oss(key, "2026-06-01T00:00:00+00:00"))
    assert (f"{s.biz_date}", s.biz_date_ms, s.cycle_ms) == (biz, biz_ms, cycle_ms)


@pytest.mark.parametrize("landed, biz, biz_ms", [
    ("2025-12-31T16:05:00+00:00", "2025-12-31", 1767110400000),   # 00:05 on Jan 1st in Shanghai
    ("2026-02-28T16:00:00+00:00", "2026-02-28", 1772208000000),   # 00:00 on Mar 1st: February has 28 days
    ("2028-02-29T16:00:00+00:00", "2028-02-29", 1835366400000),   # leap year
    ("2026-03-31T15:59:59+00:00", "2026-03-30", 1774800000000),   # 23:59:59 on Mar 31st
])
def test_month_and_year_ends(landed, biz, biz_ms):
    s = plan("landed", oss("in/x", landed))
    assert (f"{s.biz_date}", s.biz_date_ms) == (biz, biz_ms)


def timer(name: str, fired: str, payload: str = "") -> Event:
    try:
        document = json.loads(payload)
    except ValueError:
        document = NOT_JSON
    return Event("timer", "timer", "t1", at(fired), timer=name, payload=payload, document=document)


def test_berlin_on_the_spring_forward_day():
    # DST starts 2026-03-29 02:00 CET -> 03:00 CEST. Timer fired 2026-03-30 00:00 CEST -> business date 03-29.
    event = timer("t", "2026-03-29T22:00:00+00:00")
    at_0030, at_0330, _ = (plan("berlin-daily", event, i) for i in range(3))
    assert f"{at_0030.biz_date}" == "2026-03-29"
    assert at_0030.biz_date_ms == 1774738800000           # 2026-03-29 00:00 +01:00 (still winter time)
    assert at_0030.cycle_ms == 1774823400000              # 2026-03-30 00:30 +02:00
    assert at_0330.cycle.isoformat() == "2026-03-30T03:30:00+02:00"


def test_berlin_business_date_on_the_change_days():
    spring = plan("berlin-daily", timer("t", "2026-03-29T22:30:00+00:00"))   # 03-30 00:30 CEST
    assert (f"{spring.biz_date}", spring.biz_date_ms) == ("2026-03-29", 1774738800000)
    autumn = plan("berlin-daily", timer("t", "2026-10-25T23:30:00+00:00"))   # 10-26 00:30 CET
    assert (f"{autumn.biz_date}", autumn.biz_date_ms) == ("2026-10-25", 1792879200000)   # midnight was CEST


def test_berlin_hourly_cycle_inside_the_change():
    # 2026-03-29 03:00 exists only as CEST; 00:00 is still CET.
    s = plan("berlin-hourly", oss("bh/2026-03-29-03", "2026-03-29T01:00:00+00:00"))
    assert s.cycle_ms == 1774746000000                    # 2026-03-29 03:00 +02:00 = 01:00Z
    assert f"{s.biz_date}" == "2026-03-28"
    # On the fall-back day 02:30 happens twice; DataWorks' look-up value is used by default, and a computed
    # one takes the first occurrence (summer time).
    autumn = plan("berlin-daily", timer("t", "2026-10-24T22:30:00+00:00"), 2)
    assert autumn.cycle_ms == 1792888200000               # 2026-10-25 02:30 +02:00


def test_a_utc_workspace_does_not_shift():
    s = plan("utc-workspace", timer("u", "2026-03-11T00:00:00+00:00"))
    assert (f"{s.biz_date}", s.biz_date_ms) == ("2026-03-10", 1773100800000)


def test_a_timer_payload_field_names_the_cycle():
    s = plan("timer-cycle", timer("c", "2026-06-01T00:00:00+00:00", '{"run": {"at": "2026-03-11 00:30"}}'))
    assert (f"{s.biz_date}", s.biz_date_ms, s.cycle_ms) == ("2026-03-10", 1773072000000, 1773160200000)
    with pytest.raises(ScheduleError, match="the timer payload has no field 'run.at'"):
        plan("timer-cycle", timer("c", "2026-06-01T00:00:00+00:00", '{"run": {}}'))


def mns(topic: str, body: str) -> Event:
    """A message Event as the parser builds it: the body and, when it is JSON, its document."""
    try:
        document = json.loads(body)
    except ValueError:
        document = NOT_JSON
    return Event("mns", "mns-topic-json", "m1", at("2026-06-01T00:00:00+00:00"), topic=topic, body=body,
                 document=document)


def test_bizdate_and_cycle_from_message_fields():
    s = plan("msg-date", mns("t", '{"meta": {"day": "20260310"}}'))
    assert (f"{s.biz_date}", s.biz_date_ms, s.cycle_ms) == ("2026-03-10", 1773072000000, None)
    s = plan("msg-date", mns("t", '{"meta": {"day": 20260310}}'))          # a number works too
    assert s.biz_date_ms == 1773072000000
    s = plan("msg-cycle", mns("c", '{"at": "2026-03-11 00:30"}'))
    assert (f"{s.biz_date}", s.cycle_ms) == ("2026-03-10", 1773160200000)


@pytest.mark.parametrize("body, words", [
    ("not json", "not JSON"),
    ('{"meta": {}}', "no field 'meta.day'"),
    ('{"meta": {"day": "2026-03-10"}}', "not in format"),
    ('{"meta": {"day": ["20260310"]}}', "must be a string"),
])
def test_a_message_without_a_usable_date_says_why(body, words):
    with pytest.raises(ScheduleError, match=words):
        plan("msg-date", mns("t", body))


@pytest.mark.parametrize("key", ["d/99991231/_SUCCESS", "d/00010101/_SUCCESS", "d/19691231/_SUCCESS"])
def test_dates_dataworks_cannot_hold_are_a_schedule_error(key):
    with pytest.raises(ScheduleError, match="out of range"):
        plan("dated", oss(key, "2026-05-01T00:00:00+00:00"))
    with pytest.raises(ScheduleError, match="out of range"):
        plan("landed", oss("in/x", "0001-01-01T00:00:00+00:00"))
