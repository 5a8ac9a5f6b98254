"""Business date and cycle time: exact epoch milliseconds in the workspace zone.

Expected values are literal: each was computed from an explicit UTC instant (calendar.timegm), not by the code
under test. Events here are normalised `Event` objects: the raw shapes are covered by test_events.py.
"""
import json
from datetime import date, datetime, timezone

import pytest

from dwtrigger import schedule
from dwtrigger.events import NOT_JSON, Event
from dwtrigger.matching import match
from dwtrigger.relay import required
from dwtrigger.rules import INSTANT_FORMATS, parse_rules
from dwtrigger.schedule import ScheduleError, resolve, written

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
  - {name: msg-epoch, on: mns, topic: e, bizdate: {field: ts, format: epoch_ms}, trigger: [{workspace: 1, node: 52}]}
  - {name: msg-epoch-s, on: mns, topic: es, cycle: {field: ts, format: epoch_s}, trigger: [{workspace: 1, node: 53}]}
  - {name: msg-iso, on: mns, topic: i, cycle: {field: at, format: iso}, trigger: [{workspace: 1, node: 54}]}
  - {name: berlin-iso, on: mns, topic: bi, timezone: Europe/Berlin, cycle: {field: at, format: iso},
     trigger: [{workspace: 2, node: 44}]}
  - {name: berlin-epoch, on: mns, topic: be, timezone: Europe/Berlin, bizdate: {field: ts, format: epoch_ms},
     trigger: [{workspace: 2, node: 45, at: "02:30"}]}
  - {name: ran-on, on: oss, bucket: b, key: "run/{bizdate:%Y%m%d}/_SUCCESS", bizdate_offset: -1,
     trigger: [{workspace: 1, node: 70, at: "00:30"}]}
  - {name: hour-ran, on: oss, bucket: b, key: "hr/{cycle:%Y%m%d%H}.done", bizdate_offset: -1,
     trigger: [{workspace: 1, node: 71}]}
  - {name: msg-ran, on: mns, topic: r, bizdate: {field: day, format: "%Y%m%d"}, bizdate_offset: -1,
     trigger: [{workspace: 1, node: 72}]}
  - {name: epoch-ran, on: mns, topic: er, timezone: Europe/Berlin, cycle: {field: ts, format: epoch_ms},
     bizdate_offset: -1, trigger: [{workspace: 2, node: 73}]}
  - {name: ran-require, on: oss, bucket: b, key: "rr/{bizdate:%Y%m%d}/a/_SUCCESS", bizdate_offset: -1,
     require: ["rr/{bizdate:%Y-%m-%d}/b/_SUCCESS", "oss://other/rr/{bizdate:%Y%m%d}/c/*.done"],
     trigger: [{workspace: 1, node: 74}]}
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


# ---- instants in a message field: epoch_ms, epoch_s, iso ------------------------------------------------

@pytest.mark.parametrize("ts, biz, biz_ms", [
    (1773158399999, "2026-03-10", 1773072000000),     # 2026-03-10 23:59:59.999 Shanghai
    (1773158400000, "2026-03-11", 1773158400000),     # 2026-03-11 00:00 Shanghai, still 03-10 in UTC
    ("1773158400000", "2026-03-11", 1773158400000),   # digits in a string
    (1773072000000, "2026-03-10", 1773072000000),     # DataWorks' own BizDate ms round-trips
])
def test_an_epoch_ms_bizdate_is_the_date_in_the_workspace_zone(ts, biz, biz_ms):
    s = plan("msg-epoch", mns("e", json.dumps({"ts": ts})))
    assert (f"{s.biz_date}", s.biz_date_ms, s.cycle_ms) == (biz, biz_ms, None)


@pytest.mark.parametrize("ts, cycle_ms", [(1773160200, 1773160200000), ("1773160200", 1773160200000),
                                          (1773160200.5, 1773160200500)])
def test_an_epoch_seconds_cycle(ts, cycle_ms):
    s = plan("msg-epoch-s", mns("es", json.dumps({"ts": ts})))
    assert (f"{s.biz_date}", s.biz_date_ms, s.cycle_ms) == ("2026-03-10", 1773072000000, cycle_ms)
    assert s.cycle.isoformat(timespec="milliseconds").endswith("+08:00")


@pytest.mark.parametrize("at, cycle_ms", [
    ("2026-03-10T16:30:00Z", 1773160200000),
    ("2026-03-11T00:30:00+08:00", 1773160200000),
    ("2026-03-10T17:30:00.000+01:00", 1773160200000),
    ("2026-03-10 11:30-05", 1773160200000),
    ("2026-03-11T00:30:00,5+0800", 1773160200500),
    ("2026-03-10T16:30:00.123456789z", 1773160200123),
])
def test_an_iso_cycle_with_an_offset_is_read_in_the_workspace_zone(at, cycle_ms):
    s = plan("msg-iso", mns("i", json.dumps({"at": at})))
    assert (f"{s.biz_date}", s.biz_date_ms, s.cycle_ms) == ("2026-03-10", 1773072000000, cycle_ms)
    assert s.cycle.isoformat()[:19] == "2026-03-11T00:30:00"


@pytest.mark.parametrize("rule, topic, body, reason", [
    ("msg-iso", "i", {"at": "2026-03-11T00:30:00"},
     "field 'at' of the message is '2026-03-11T00:30:00': an ISO 8601 time without a UTC offset (Z or +08:00): "
     "`format: iso` reads instants only; for a wall-clock time in the rule's time zone use a strptime format, e.g. "
     "\"%Y-%m-%dT%H:%M:%S\""),
    ("msg-iso", "i", {"at": "11/03/2026 00:30 +08:00"},
     "field 'at' of the message is '11/03/2026 00:30 +08:00': not an ISO 8601 date-time (e.g. "
     "2026-03-11T00:30:00+08:00)"),
    ("msg-iso", "i", {"at": "2026-02-30T00:30:00Z"}, "field 'at' of the message is '2026-02-30T00:30:00Z': day is "
                                                     "out of range for month"),
    ("msg-epoch", "e", {"ts": 1773158400000.0}, "field 'ts' of the message is '1773158400000.0': not epoch "
                                                "milliseconds (a whole number)"),
    ("msg-epoch", "e", {"ts": True}, "field 'ts' of the message is 'True': not epoch milliseconds (a whole number)"),
    ("msg-epoch-s", "es", {"ts": "1773160200.5"}, "field 'ts' of the message is '1773160200.5': not epoch seconds "
                                                  "(a whole number)"),
    ("msg-epoch", "e", {"ts": 10 ** 19}, "the event names a business date out of range (DataWorks' dates run from "
                                         "1970-01-01 to 9998-12-30)"),
])
def test_an_instant_that_cannot_be_read_says_why(rule, topic, body, reason):
    with pytest.raises(ScheduleError) as err:
        plan(rule, mns(topic, json.dumps(body)))
    assert str(err.value) == reason


@pytest.mark.parametrize("at, biz, biz_ms, cycle_ms", [
    ("2026-10-25T00:30:00Z", "2026-10-24", 1792792800000, 1792888200000),       # 02:30 CEST, the first one
    ("2026-10-25T01:30:00Z", "2026-10-24", 1792792800000, 1792891800000),       # 02:30 CET, an hour later
    ("2026-10-25T02:30:00+01:00", "2026-10-24", 1792792800000, 1792891800000),
    ("2026-03-29T01:00:00Z", "2026-03-28", 1774652400000, 1774746000000),       # 03:00 CEST, right after the gap
])
def test_an_iso_cycle_keeps_its_instant_across_berlin_dst_changes(at, biz, biz_ms, cycle_ms):
    s = plan("berlin-iso", mns("bi", json.dumps({"at": at})))
    assert (f"{s.biz_date}", s.biz_date_ms, s.cycle_ms) == (biz, biz_ms, cycle_ms)


@pytest.mark.parametrize("ts, biz, biz_ms, cycle_ms", [
    (1774738800000, "2026-03-29", 1774738800000, 1774830600000),   # 03-29 00:00 CET; cycle 03-30 02:30 CEST
    (1792879199999, "2026-10-24", 1792792800000, 1792888200000),   # 10-24 23:59:59.999 CEST; cycle 10-25 02:30 CEST
    (1792879200000, "2026-10-25", 1792879200000, 1792978200000),   # 10-25 00:00 CEST; cycle 10-26 02:30 CET
])
def test_an_epoch_ms_bizdate_crosses_midnight_in_berlin(ts, biz, biz_ms, cycle_ms):
    s = plan("berlin-epoch", mns("be", json.dumps({"ts": ts})))
    assert (f"{s.biz_date}", s.biz_date_ms, s.cycle_ms) == (biz, biz_ms, cycle_ms)


def test_every_instant_format_the_rules_accept_is_read():
    assert set(schedule._INSTANTS) == set(INSTANT_FORMATS)


# ---- bizdate_offset ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, biz, biz_ms, cycle_ms", [
    ("run/20260311/_SUCCESS", "2026-03-10", 1773072000000, 1773160200000),
    ("run/20260301/_SUCCESS", "2026-02-28", 1772208000000, 1772296200000),   # back across a month end
])
def test_an_offset_moves_a_captured_date_to_the_business_date(key, biz, biz_ms, cycle_ms):
    s = plan("ran-on", oss(key, "2026-06-01T00:00:00+00:00"))
    assert (f"{s.biz_date}", s.biz_date_ms, s.cycle_ms) == (biz, biz_ms, cycle_ms)


def test_an_offset_moves_a_captured_cycle_by_whole_days():
    s = plan("hour-ran", oss("hr/2026031108.done", "2026-06-01T00:00:00+00:00"))
    assert (f"{s.biz_date}", s.biz_date_ms, s.cycle_ms) == ("2026-03-09", 1772985600000, 1773100800000)


def test_an_offset_moves_a_message_field_and_a_cycle_instant_on_the_wall_clock():
    s = plan("msg-ran", mns("r", '{"day": "20260311"}'))
    assert (f"{s.biz_date}", s.biz_date_ms, s.cycle_ms) == ("2026-03-10", 1773072000000, None)
    # 2026-03-30 03:30 CEST, one day back: 2026-03-29 03:30 CEST, 23 hours earlier (the clocks went forward).
    s = plan("epoch-ran", mns("er", json.dumps({"ts": 1774834200000})))
    assert (f"{s.biz_date}", s.biz_date_ms, s.cycle_ms) == ("2026-03-28", 1774652400000, 1774747800000)


def test_a_release_by_hand_names_the_business_date_itself():
    rule = RULES.named("ran-on")
    event = Event("oss", "manual", "manual:1", at("2026-06-01T00:00:00+00:00"))
    s = resolve(rule, rule.trigger[0], {"bizdate": date(2026, 3, 10)}, event)
    assert (f"{s.biz_date}", s.biz_date_ms, s.cycle_ms) == ("2026-03-10", 1773072000000, 1773160200000)
    assert written(rule, s)["bizdate"] == date(2026, 3, 11)


def test_require_is_filled_with_the_date_as_the_key_wrote_it():
    rule = RULES.named("ran-require")
    event = oss("rr/20260311/a/_SUCCESS", "2026-06-01T00:00:00+00:00")
    captures, _ = match(rule, event)
    s = resolve(rule, rule.trigger[0], captures, event)
    assert f"{s.biz_date}" == "2026-03-10"
    assert [str(w) for w in required(rule, captures, event, s)] == [
        "oss://b/rr/2026-03-11/b/_SUCCESS", "oss://other/rr/20260311/c/*.done"]
