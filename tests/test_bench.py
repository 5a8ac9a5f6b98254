"""`make bench` (bench/perf.py) measures something real: the naive relay it compares against releases an
instance through the product SDK on the emulator, as dwtrigger does, and the whole bench runs end to end on a
tiny configuration. No timing is asserted here: the figures are for `make bench` to print."""
import importlib.util
import json
import sys

import pytest

from conftest import ROOT
from dwtrigger.ops.emulator import Emulator

pytestmark = pytest.mark.slow      # slow: run once, on FC's Python (Makefile)

_spec = importlib.util.spec_from_file_location("perf", ROOT / "bench" / "perf.py")
perf = sys.modules["perf"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(perf)


@pytest.mark.parametrize("keep_alive", [True, False], ids=["http11", "http10"])
@pytest.mark.parametrize("relay", perf.RELAYS)
def test_each_relay_releases_exactly_the_instances_its_events_name(tmp_path, relay, keep_alive):
    rules = tmp_path / "rules.yaml"
    rules.write_text(perf.relay_rules())
    with (perf.KeepAliveEmulator if keep_alive else Emulator)(perf.SEED) as emu:
        days = perf.DAYS[10:13]
        child = perf.run_relay(emu, relay, days, initialize=False, env=perf.relay_env(relay, emu, rules),
                               work=tmp_path)
        assert child.result["outcomes"] == ["triggered"] * 3 and child.result["warm_events"] == 2
        accepted = [c for c in emu.calls if c["action"] == "RunTriggerNode" and c["status"] == 200]
        assert {c["params"]["NodeId"] for c in accepted} == {str(perf.NODES[relay])} and len(accepted) == 3
        released = {i["Bizdate"] for i in emu.instances(perf.WORKSPACE, perf.NODES[relay]) if i["Released"]}
        assert released == {perf.biz_ms(d) for d in days}
        with pytest.raises(RuntimeError, match="run failed"):       # already released: the bench refuses the run
            perf.run_relay(emu, relay, days[:1], False, perf.relay_env(relay, emu, rules), tmp_path)


def test_the_naive_relay_is_what_the_issue_describes():
    source = (ROOT / "bench" / "naive.py").read_text()
    assert "from alibabacloud_dataworks_public20200518.client import Client" in source
    assert "from alibabacloud_dataworks_public20200518 import models" in source
    assert "dwtrigger" not in source.split('"""', 2)[2]               # nothing of the product
    assert len(source.splitlines()) <= 50


def test_generated_rules_load_and_every_matched_event_matches(tmp_path):
    from dwtrigger.rules import parse_rules

    for n in (1, 7, 120):
        assert len(parse_rules(perf.many_rules(n)).rules) == n
    job = {"kind": "cost", "rules": perf.rules_file(tmp_path, 30), "env": perf.ROLE_ENV}
    job["matched"], job["unmatched"] = perf.cost_events(30, perf.random.Random(1), pool=5)
    child = perf.spawn(job, {}, 120, tmp_path)
    assert not child.error and child.result["rules"] == 30
    assert child.result["matched_us"] > 0 and child.result["unmatched_us"] > 0


def test_the_bench_runs_end_to_end_on_a_tiny_configuration(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert perf.main(["--quick", "--rounds", "1", "--load-events", "30", "--imports", "3", "--quiet",
                      "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    figures = {row["figure"] for row in report["table"]}
    assert {"DataWorks requests per final decision, no ledger", "  with a ledger", "warm throughput on loopback",
            "own CPU per matched event, 100 rules"} <= figures
    assert all(row["figure"] in printed for row in report["table"])
    assert [row["figure"] for row in report["table"] if row["dwtrigger"] is None] == []
    assert [len(report["relays"][relay]["cold_ms"]) for relay in perf.RELAYS] == [1, 1]
    for run in ("load", "load_ledger"):     # each run's limit, and above it the requests its faults force again
        assert 0 < report[run]["floor"] <= report[run]["floor_faults"] and report[run]["floor"] <= 2
        assert report[run]["floor"] <= report[run]["per_decision"]
    assert "failing" in report["load"]                      # the load run's own checks, reported below the table
    assert set(report["imports"]) == set(perf.RELAYS)
    # counted by the emulator: each daily event needs its look-up; an hourly node's day is listed once for its hours
    daily, hours = [row for row in report["table"] if row["figure"] == "  DataWorks requests per release"]
    assert daily["naive"] == hours["naive"] == 2.0 and 1.0 <= daily["dwtrigger"] <= 2.0
    assert 1.0 < hours["dwtrigger"] < 2.0
    # CPU per signed request: the relay's warm CPU over the requests it made, on each side
    relays = report["relays"]
    per_request = [row for row in report["table"] if row["figure"] == "  relay CPU per DataWorks request"]
    assert [row["naive"] for row in per_request] == pytest.approx(
        [relays["naive"][cpu][0] / relays["naive"][n][0] / 1e3
         for cpu, n in (("warm_cpu_us", "requests"), ("hours_cpu_us", "hours_requests"))])


def test_a_figure_that_times_out_reads_timeout():
    row = perf.Row("slow", None, goal="<= 1 s", check=lambda v: v <= 1)
    table = perf.render([row, perf.Row("pair", 2.0, 4.0, "ms", "ratio <= 0.7", lambda r: r <= 0.7, compared=True)])
    assert "timeout" in table.splitlines()[2] and table.splitlines()[2].rstrip().endswith("no")
    assert "0.50x" in table.splitlines()[3] and table.splitlines()[3].rstrip().endswith("yes")


def test_what_the_probe_hides_is_what_the_function_package_does_not_ship():
    """dwtrigger's probe runs without the modules only the test tools installed here (FC never has them)."""
    shipped = (ROOT / "requirements" / "runtime.txt").read_text().lower()
    assert perf.ABSENT["dwtrigger"] and not [m for m in perf.ABSENT["dwtrigger"] if m in shipped]
