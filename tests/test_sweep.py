"""The sweep and the ledger, against the DataWorks emulator (its clock drives T+1 generation and the 24-hour hold)
and the OSS stand-in (the files, and the ledger's objects), through the real SDKs, on both APIs."""
import json
import threading
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from checks import invoke
from conftest import orders_rules, sample
from dwtrigger.ops import fc

LEDGER = 'ledger: "oss://etl-ledger/dwtrigger/"'
EXPECT = 'expect: {by: "06:00", days: 3}'
ORDERS = "exports/orders/dt={day}/_SUCCESS"
NODE = 700001234567


def rules(node: int = NODE, extra: str = "") -> str:
    return orders_rules(f"{{workspace: 10001, node: {node}}}", extra=f"{LEDGER}\n    {EXPECT}\n    {extra}")


def event_for(day: str) -> bytes:
    doc = json.loads(sample("oss/native-put-orders.json"))
    doc["events"][0]["oss"]["object"]["key"] = ORDERS.format(day=day)
    doc["events"][0]["responseElements"]["requestId"] = f"R-{day}"
    return json.dumps(doc).encode()


def sweep(h, now=None):
    decisions, tally = h.runtime.sweep(fc.context_for("sweep", timeout=60), now)
    return [d.record() for d in decisions], tally


def released(h, node: int = NODE) -> list:
    return sorted((i["Bizdate"], i["Triggers"]) for i in h.emu.instances(workspace=h.workspace(10001), node=node)
                  if i["Triggers"])


def test_a_file_whose_event_never_arrived_is_released_by_the_sweep(harness):
    h = harness(rules())
    h.oss.put("etl-landing", ORDERS.format(day="2026-03-11"))
    records, tally = sweep(h)
    assert [(d["outcome"], d["biz_date"]) for d in records] == [
        ("triggered", "2026-03-11"), ("overdue", "2026-03-10"), ("overdue", "2026-03-09")]
    d = records[0]
    assert (d["outcome"], d["source"], d["biz_date"], d["rule"]) == ("triggered", "sweep", "2026-03-11", "orders")
    assert d["reason"].startswith("the sweep found oss://etl-landing/exports/orders/dt=2026-03-11/_SUCCESS")
    assert released(h) == [(1773158400000, 1)]                       # 2026-03-11 00:00 Shanghai
    assert (tally.released, tally.with_evidence, tally.lookups, tally.overdue) == (1, 1, 1, 2)


def test_no_evidence_is_overdue_after_by_and_not_before(harness):
    h = harness(rules())
    clock = h.emu.clock.now()                                        # 2026-03-12 09:00 Shanghai
    records, _ = sweep(h, clock - timedelta(hours=4))               # 05:00: 03-11 is not due yet
    assert [d["biz_date"] for d in records] == ["2026-03-10", "2026-03-09"]
    records, tally = sweep(h, clock)                                 # 09:00: 03-11 due at 06:00
    assert [(d["outcome"], d["biz_date"]) for d in records] == [
        ("overdue", "2026-03-11"), ("overdue", "2026-03-10"), ("overdue", "2026-03-09")]
    assert records[0]["reason"].startswith("no evidence by 2026-03-12T06:00:00+08:00: missing oss://etl-landing/")
    assert h.calls() == [] and tally.overdue == 3                    # no look-up without evidence


def test_an_early_file_is_released_by_the_sweep_once_the_instance_exists(harness):
    h = harness(rules())
    h.oss.put("etl-landing", ORDERS.format(day="2026-03-13"))       # its instance is generated on 03-13
    [early], raised = invoke(h, "oss", event_for("2026-03-13"))
    assert (early["outcome"], early["error_code"], raised) == ("failed", "InstanceNotFound", True)
    h.emu.clock.advance(2 * 24 * 3600)                               # 2026-03-14 09:00: the instance exists
    records, _ = sweep(h, h.emu.clock.now())
    assert [(d["outcome"], d["biz_date"]) for d in records if d["outcome"] == "triggered"] == [
        ("triggered", "2026-03-13")]


def test_a_trigger_held_by_dataworks_is_not_sent_again_until_the_hold_expires(harness):
    h = harness(rules(node=700001300002))                            # its parents never finish
    h.oss.put("etl-landing", ORDERS.format(day="2026-03-10"))
    [first], _ = invoke(h, "oss", event_for("2026-03-10"))
    assert first["outcome"] == "triggered" and first["held_until"] == "2026-03-13T09:00:00+08:00"
    [again], _ = invoke(h, "oss", event_for("2026-03-10"))           # a redelivery during the hold
    assert (again["outcome"], again["held_until"]) == ("already_triggered", first["held_until"])
    assert again["reason"].startswith("held since 2026-03-12T09:00:00+08:00")
    assert len(h.calls("trigger")) == 1
    h.emu.clock.advance(25 * 3600)                                   # the hold expired, the instance still waits
    records, _ = sweep(h, h.emu.clock.now())
    assert [(d["outcome"], d["biz_date"]) for d in records if d["outcome"] == "triggered"] == [
        ("triggered", "2026-03-10")]
    assert len(h.calls("trigger")) == 2


def test_two_concurrent_deliveries_with_a_ledger_send_exactly_one_trigger(harness):
    h, other = harness(rules()), harness(rules())                    # two FC instances
    h.oss.put("etl-landing", ORDERS.format(day="2026-03-10"))
    start, results = threading.Barrier(2), []

    def deliver(runner):
        start.wait()
        results.extend(invoke(runner, "oss", event_for("2026-03-10"))[0])

    threads = [threading.Thread(target=deliver, args=(runner,)) for runner in (h, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(d["outcome"] for d in results) == ["already_triggered", "triggered"], [(d["outcome"], d.get("error_code"), d["reason"]) for d in results]
    assert len(h.calls("trigger")) == 1 and released(h) == [(1773072000000, 1)]


def test_the_sweep_asks_dataworks_nothing_for_what_the_ledger_knows_is_done(harness):
    rules_text = f"version: 1\ndefaults: {{timezone: Asia/Shanghai, region: cn-shanghai, {LEDGER}}}\nrules:\n" + "".join(
            f'  - {{name: r{n}, on: oss, bucket: etl-landing, key: "x/{n}/dt={{bizdate:%Y-%m-%d}}/ok", '
            f'expect: {{by: "06:00", days: 3}}, trigger: [{{workspace: 10001, node: {NODE}, at: "00:30"}}]}}\n'
            for n in range(100))
    h = harness(rules_text)
    for day in ("2026-03-11", "2026-03-10", "2026-03-09"):
        for n in range(100):
            h.oss.put("etl-landing", f"x/{n}/dt={day}/ok")
        h.oss.put("etl-ledger", f"dwtrigger/done/{h.api}/{h.workspace(10001)}/{NODE}/{day}/"
                                f"{_cycle_ms(day)}.json", b"{}")
    records, tally = sweep(h)
    assert (records, tally.candidates, tally.done, tally.lookups) == ([], 300, 300, 0)
    assert h.calls() == []


def _cycle_ms(day: str) -> int:
    """The 00:30 instance of a business date: 00:30 Shanghai on the next day, in epoch ms."""
    cycle = datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(0, 30), ZoneInfo("Asia/Shanghai"))
    return int(cycle.timestamp() * 1000)
