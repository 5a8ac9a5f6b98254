"""`require`: a rule fires only when all its files are there, whatever order they land in, checked through the real
OSS SDK against the OSS stand-in (signatures verified) and released through the real DataWorks SDK (both APIs)."""
import itertools
import json
import threading

import pytest

from checks import invoke
from conftest import ROOT, sample

SALES = {"orders": "sales-1-orders.json", "items": "sales-2-items.json", "customers": "sales-3-customers.json"}
KEYS = {"orders": "exports/sales/dt=2026-03-10/orders/_SUCCESS",
        "items": "exports/sales/dt=2026-03-10/items/part-0001.done",
        "customers": "exports/sales/dt=2026-03-10/customers/_SUCCESS"}
WANTED = {"orders": "oss://etl-landing/exports/sales/dt=2026-03-10/orders/_SUCCESS",
          "customers": "oss://etl-landing/exports/sales/dt=2026-03-10/customers/_SUCCESS",
          "items": "oss://etl-landing/exports/sales/dt=2026-03-10/items/*.done"}
NODE, CYCLE_MS = 700001235400, 1773165600000                  # sales_trigger, 2026-03-11 02:00 Shanghai


def land(h, name: str) -> list:
    """The file lands in OSS, then its notification reaches the function."""
    h.oss.put("etl-landing", KEYS[name])
    records, _ = invoke(h, "oss", sample(f"oss/{SALES[name]}"))
    return records


def released(h) -> list:
    return [(i["ProjectId"], i["CycTime"], i["Triggers"]) for i in h.emu.instances(node=NODE) if i["Triggers"]]


@pytest.mark.parametrize("order", list(itertools.permutations(SALES)))
def test_the_last_file_to_land_fires_whatever_the_order(harness, order):
    h = harness()
    for n, name in enumerate(order):
        [d] = land(h, name)
        missing = [WANTED[other] for other in ("orders", "customers", "items") if other not in order[:n + 1]]
        if missing:
            assert (d["outcome"], d["rule"]) == ("waiting_for_files", "sales-complete")
            assert d["reason"] == f"waiting for {len(missing)} of 2 required objects: " + ", ".join(missing)
            assert h.calls() == []                             # nothing asked of DataWorks before the last file
        else:
            assert (d["outcome"], d["biz_date"], d["cycle_time_ms"]) == ("triggered", "2026-03-10", CYCLE_MS)
    assert released(h) == [(h.workspace(10001), CYCLE_MS, 1)]


def test_a_literal_entry_is_looked_at_and_a_wildcard_one_listed_under_its_prefix(harness):
    h = harness()
    land(h, "orders")
    checks = sorted((c["operation"], c["bucket"], c["key"], c["params"].get("prefix")) for c in h.oss.calls)
    assert checks == [("GetObjectMeta", "etl-landing", KEYS["customers"], None),      # concurrent: any order
                      ("ListObjectsV2", "etl-landing", None, "exports/sales/dt=2026-03-10/items/")]


def test_a_wildcard_entry_needs_a_key_it_matches_not_just_the_prefix(harness):
    h = harness()
    h.oss.put("etl-landing", KEYS["customers"])
    h.oss.put("etl-landing", "exports/sales/dt=2026-03-10/items/part-0001.tmp")       # under the prefix: no match
    [d] = land(h, "orders")
    assert (d["outcome"], d["reason"]) == \
        ("waiting_for_files", f"waiting for 1 of 2 required objects: {WANTED['items']}")


def test_two_last_files_landing_at_once_release_exactly_once(harness):
    h, other = harness(), harness()            # two FC instances
    for name in SALES:
        h.oss.put("etl-landing", KEYS[name])
    results = {}
    start = threading.Barrier(2)

    def deliver(runner, name):
        start.wait()
        results[name] = invoke(runner, "oss", sample(f"oss/{SALES[name]}"))[0]

    threads = [threading.Thread(target=deliver, args=pair) for pair in ((h, "items"), (other, "customers"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert released(h) == [(h.workspace(10001), CYCLE_MS, 1)]
    outcomes = sorted(d["outcome"] for records in results.values() for d in records)
    assert "triggered" in outcomes and set(outcomes) <= {"triggered", "already_triggered", "failed"}


TIMER_RULES = """\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - name: check-orders
    on: timer
    timer: nightly
    bucket: etl-landing
    require:
      - "exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS"
      - "oss://etl-reference/calendars/{bizdate:%Y%m%d}.ok"
    trigger: [{workspace: 10001, node: 700001235000}]
"""


def test_a_timer_rule_is_the_check_node_for_many_files(harness):
    h = harness(TIMER_RULES)
    nightly = sample("timer/nightly.json")                  # fired 2026-03-12 00:00 Shanghai: business date 03-11
    [d] = invoke(h, "timer", nightly)[0]
    assert (d["outcome"], d["reason"]) == ("waiting_for_files", (
        "waiting for 2 of 2 required objects: oss://etl-landing/exports/orders/dt=2026-03-11/_SUCCESS, "
        "oss://etl-reference/calendars/20260311.ok"))
    h.oss.put("etl-landing", "exports/orders/dt=2026-03-11/_SUCCESS")
    h.oss.put("etl-reference", "calendars/20260311.ok")
    [d] = invoke(h, "timer", nightly)[0]
    assert (d["outcome"], d["biz_date"]) == ("triggered", "2026-03-11")


def test_dry_run_names_the_checks_and_makes_none(harness):
    h = harness(dry_run=True)
    [d] = invoke(h, "oss", sample("oss/sales-1-orders.json"))[0]
    assert d["outcome"] == "dry_run"
    assert d["reason"].startswith(f"dry run, nothing sent; would check {WANTED['customers']}, {WANTED['items']}, "
                                  "then call ")
    assert h.oss.calls == [] and h.calls() == []


def test_an_unknown_bucket_is_a_permanent_failure_not_a_missing_file(harness):
    h = harness(TIMER_RULES.replace("oss://etl-reference/", "oss://no-such-bucket/"))
    h.oss.put("etl-landing", "exports/orders/dt=2026-03-11/_SUCCESS")
    [d], raised = invoke(h, "timer", sample("timer/nightly.json"))
    assert (d["outcome"], d["error_code"], d["retryable"], raised) == ("failed", "NoSuchBucket", False, True)
    assert d["reason"].startswith("OSS: ") and h.calls() == []


def test_a_sibling_capture_fills_the_other_files(harness):
    """A `{name}` the key captures fills the entries; the file whose event arrived is never asked for."""
    rules = """\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - name: region-complete
    on: oss
    bucket: etl-landing
    key: "exports/{region}/dt={bizdate:%Y-%m-%d}/a.done"
    require: ["exports/{region}/dt={bizdate:%Y-%m-%d}/b.done"]
    trigger: [{workspace: 10001, node: 700001234567}]
"""
    h = harness(rules)
    event = json.loads(sample("oss/native-put-orders.json"))
    event["events"][0]["oss"]["object"]["key"] = "exports/emea/dt=2026-03-10/a.done"
    [d] = invoke(h, "oss", json.dumps(event).encode())[0]
    assert d["reason"] == "waiting for 1 of 1 required objects: oss://etl-landing/exports/emea/dt=2026-03-10/b.done"
    assert [c["key"] for c in h.oss.calls] == ["exports/emea/dt=2026-03-10/b.done"]


# OSS's RAM actions for the operations a `require` check makes (GetObjectMeta is authorised as oss:GetObject).
RAM_ACTIONS = {"GetObjectMeta": "oss:GetObject", "HeadObject": "oss:GetObject", "ListObjectsV2": "oss:ListObjects"}


def test_the_checks_need_only_what_the_oss_policy_grants(harness):
    h = harness()
    land(h, "orders")
    [statement] = json.loads((ROOT / "deploy" / "ram" / "oss-require.json").read_text())["Statement"]
    assert {RAM_ACTIONS[c["operation"]] for c in h.oss.calls} == set(statement["Action"])


def test_missing_credentials_fail_the_check_clearly(harness):
    h = harness(env={"ALIBABA_CLOUD_ACCESS_KEY_ID": "", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ""})
    [d], raised = invoke(h, "oss", sample("oss/sales-1-orders.json"))
    assert (d["outcome"], d["error_code"], d["retryable"], raised) == ("failed", "NoCredentials", False, True)
    assert h.oss.calls == [] and h.calls() == []


def test_a_double_star_slash_entry_is_satisfied_by_a_file_right_under_its_prefix(harness):
    """`**/` is zero or more whole segments: parts/p-0.csv satisfies parts/**/*.csv (one listing under parts/)."""
    rules = """\
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - name: orders-parts
    on: oss
    bucket: etl-landing
    key: "exports/orders/dt={bizdate:%Y-%m-%d}/_SUCCESS"
    require: ["exports/orders/dt={bizdate:%Y-%m-%d}/parts/**/*.csv"]
    trigger: [{workspace: 10001, node: 700001234567}]
"""
    h = harness(rules)
    orders = sample("oss/native-put-orders.json")
    [d] = invoke(h, "oss", orders)[0]
    assert (d["outcome"], d["reason"]) == ("waiting_for_files", "waiting for 1 of 1 required objects: "
                                           "oss://etl-landing/exports/orders/dt=2026-03-10/parts/**/*.csv")
    assert [(c["operation"], c["params"].get("prefix")) for c in h.oss.calls] == [
        ("ListObjectsV2", "exports/orders/dt=2026-03-10/parts/")]
    h.oss.put("etl-landing", "exports/orders/dt=2026-03-10/parts/p-0.csv")
    [d] = invoke(h, "oss", orders)[0]
    assert (d["outcome"], d["biz_date"]) == ("triggered", "2026-03-10")
