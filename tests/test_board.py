"""The board (dwtrigger.board) through `dwtrigger status` as a user runs it, and the page the sweep publishes, on a
realistic day (board_day.py) against the emulator and the OSS stand-in over loopback."""
import io
import json
import socket
from datetime import date, datetime

import msgspec
import pytest
from click.testing import CliRunner

from board_day import BIZ, HELD, LATE, LATER, NOW, ORDERS, day
from conftest import ROLE_KEY, ROOT
from dwtrigger import board
from dwtrigger.board import Live
from dwtrigger.ops import fc
from dwtrigger.ops.cli import main
from dwtrigger.outcomes import DecisionLog
from dwtrigger.rules import parse_rules


@pytest.fixture(scope="module")
def today(tmp_path_factory):
    with day(tmp_path_factory.mktemp("board")) as d:
        yield d


def status(d, *args, env=None):
    return CliRunner().invoke(main, ["status", "--rules", str(d.path), "--endpoint", d.emu.endpoint, "--protocol",
                                     "http", "--now", NOW, *args], env={**d.env, **(env or {})})


def test_one_aligned_line_per_rule_node_and_date_and_exit_1_for_the_overdue(today):
    result = status(today)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "rule    node          biz_date    verdict                      at     why",
        f"orders  {ORDERS}  {BIZ}  released                     00:40  DataWorks released it (SUCCESS)",
        f"held    {HELD}  {BIZ}  waiting_for_time_or_parents  -      DataWorks holds the trigger sent 2026-03-12 "
        "00:40 until 2026-03-13 00:40: it runs once its time and parents allow",
        f"late    {LATE}  {BIZ}  overdue                      -      no evidence by 2026-03-12 06:00: missing "
        f"oss://etl-landing/exports/late/dt={BIZ}/_SUCCESS",
        f"later   {LATER}  {BIZ}  waiting_for_files            -      missing "
        f"oss://etl-landing/exports/later/dt={BIZ}/*.ok",
        "as of 2026-03-12 09:00 Asia/Shanghai (each row's times in its rule's zone)"]


def test_the_readme_shows_the_board_as_it_is(today):
    lines = status(today).output.splitlines()
    readme = (ROOT / "README.md").read_text()
    assert "$ dwtrigger status --now 2026-03-12T09:00:00+08:00\n" + "\n".join(lines) + "\n```" in readme


def test_json_is_the_documented_schema_with_the_ledger_and_dataworks_facts(today):
    before = len(today.emu.calls)
    result = status(today, "--json", "--rule", "held")
    assert result.exit_code == 0, result.output
    made = msgspec.json.decode(result.output, type=board.Board)
    assert made.schema == 1 and made.now == "2026-03-12T01:00:00+00:00" and made.stopped is None
    [row] = made.rows
    assert (row.rule, row.node, row.workspace, row.biz_date, row.timezone, row.verdict) == (
        "held", HELD, 10001, BIZ, "Asia/Shanghai", "waiting_for_time_or_parents")
    assert row.due == "2026-03-12T06:00:00+08:00" and row.cycle_time == "2026-03-12T00:30:00+08:00"
    assert row.evidence == f"oss://etl-landing/exports/held/dt={BIZ}/_SUCCESS" and row.missing == ""
    [send] = row.sends
    assert (send.claim, send.state, send.sent_at, send.held_until, send.status) == (
        1, "sent", "2026-03-12T00:40:00+08:00", "2026-03-13T00:40:00+08:00", "NOT_RUN")
    assert row.dataworks == "asked" and row.instance.status == "NOT_RUN" and row.instance.began_at is None
    assert [c["action"] for c in today.emu.calls[before:]] == ["ListInstances"]     # one look-up, no trigger
    assert set(json.loads(result.output)) == {"schema", "now", "rows", "stopped"}


def test_the_run_is_timed_and_done_releases_are_not_looked_up_unless_the_page_wants_times(today, tmp_path):
    made = msgspec.json.decode(status(today, "--json", "--rule", "orders").output, type=board.Board)
    [row] = made.rows
    assert row.verdict == "released" and row.at == "2026-03-12T00:40:00+08:00"
    assert row.instance.began_at == row.instance.finished_at == "2026-03-12T00:40:00+08:00"
    assert [f.object for f in row.files] == [f"oss://etl-landing/exports/orders/dt={BIZ}/_SUCCESS",
                                             f"oss://etl-landing/exports/orders/dt={BIZ}/*"]
    assert [f.landed_at for f in row.files] == [None, None]          # read only for the page's timeline
    page = tmp_path / "board.html"
    timed = msgspec.json.decode(status(today, "--json", "--rule", "orders", "--html", str(page)).stdout,
                                type=board.Board)
    assert [f.landed_at for f in timed.rows[0].files] == ["2026-03-12T00:10:00+08:00"] * 2
    assert page.read_text().startswith("<!doctype html>")


def test_a_date_without_evidence_before_it_is_due_asks_dataworks_nothing(today):
    before = len(today.emu.calls)
    result = status(today, "--rule", "later", "--date", BIZ)
    assert result.exit_code == 0 and "waiting_for_files" in result.output
    assert today.emu.calls[before:] == []


def test_a_dead_endpoint_stops_the_asking_and_the_board_says_it_could_not_check(today):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = CliRunner().invoke(main, ["status", "--rules", str(today.path), "--endpoint", f"127.0.0.1:{port}",
                                       "--protocol", "http", "--now", NOW, "--json"], env=today.env)
    assert result.exit_code == 2, result.output
    made = msgspec.json.decode(result.stdout, type=board.Board)
    verdicts = {r.rule: r.verdict for r in made.rows}          # the ledger's word, and overdue without DataWorks'
    assert verdicts == {"orders": "released", "held": "waiting_for_time_or_parents", "late": "overdue",
                        "later": "waiting_for_files"}
    assert [r.rule for r in made.rows if r.dataworks.startswith("not known")] == ["orders", "held", "late"]
    assert made.stopped.startswith(f"DataWorks at 127.0.0.1:{port} could not be reached 3 times in a row")
    assert "not asked again by this command" in {r.rule: r.dataworks for r in made.rows}["held"]


def test_look_ups_are_paced_at_the_sweeps_rate(today):
    """Live spaces its calls 1/qps apart on its clock (never sleeping past the deadline)."""
    slept, clock = [], [100.0]
    rules = parse_rules(today.path.read_text())
    from dwtrigger import app

    runtime = app.Runtime(rules, environ=today.env, wall_clock=today.emu.clock.now)
    call, _ = runtime.invocation(fc.context_for("status", timeout=30), __import__("time").monotonic())
    live = Live(call, qps=2.0, sleep=lambda s: slept.append(s) or clock.__setitem__(0, clock[0] + s),
                clock=lambda: clock[0])
    made = board.build(rules.rules, today.emu.clock.now(), call, live)
    assert live.made == 3 and slept == [0.5, 0.5]          # orders and held (sends on record), late (overdue)
    assert {r.rule: r.verdict for r in made.rows}["late"] == "overdue"


def test_rules_on_the_board_are_those_with_expect_or_a_ledger_or_the_one_named(today):
    rules = parse_rules("""
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai}
rules:
  - {name: plain, on: oss, bucket: bucket-one, key: "a/{bizdate:%Y%m%d}.ok", trigger: [{workspace: 1, node: 2}]}
  - {name: kept, on: oss, bucket: bucket-one, key: "b/{bizdate:%Y%m%d}.ok", ledger: "oss://bucket-one/l/",
     trigger: [{workspace: 1, node: 3}]}
""")
    assert [r.name for r in board.shown(rules)] == ["kept"]
    assert [r.name for r in board.shown(rules, "plain")] == ["plain"]
    assert board.dates(rules.rules[0], datetime.fromisoformat(NOW)) == [date(2026, 3, 11)]
    with pytest.raises(LookupError):
        board.shown(rules, "nope")


def test_status_refuses_what_it_cannot_show(today, tmp_path):
    plain = tmp_path / "plain.yaml"
    plain.write_text("version: 1\ndefaults: {timezone: Asia/Shanghai, region: cn-shanghai}\nrules:\n"
                     "  - {name: plain, on: oss, bucket: bucket-one, key: 'a/{bizdate:%Y%m%d}.ok', "
                     "trigger: [{workspace: 1, node: 2}]}\n")
    result = CliRunner().invoke(main, ["status", "--rules", str(plain)], env=ROLE_KEY)
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"Error: no rule in {plain} keeps `expect` or a `ledger`: name one with "
                                     "--rule NAME")
    unknown = status(today, "--rule", "nope")
    assert unknown.exit_code == 2 and unknown.stderr.strip() == f"Error: no rule named 'nope' in {today.path}"


def test_the_sweep_publishes_the_page_from_its_own_look_ups(tmp_path):
    """No DataWorks call beyond the sweep's own (a look-up and a trigger per release), the page at index.html and
    <date>.html as text/html, and its summary line says so."""
    with day(tmp_path, page="oss://etl-ledger/board/") as d:
        calls = [c["action"] for c in d.emu.calls]
        assert calls == ["ListInstances", "RunTriggerNode"] * 2
        assert sorted(k for k in d.oss.objects("etl-ledger") if k.startswith("board/")) == [
            "board/2026-03-12.html", "board/index.html"]
        put = [c for c in d.oss.calls if c["operation"] == "PutObject" and c["key"].startswith("board/")]
        assert len(put) == 2
        assert d.oss.content_type("etl-ledger", "board/index.html") == "text/html; charset=utf-8"
        page = d.oss.body("etl-ledger", "board/index.html").decode()
        assert page == d.oss.body("etl-ledger", "board/2026-03-12.html").decode()
        for rule, verdict in (("orders", "released"), ("held", "waiting_for_time_or_parents"),
                              ("late", "waiting_for_files"), ("later", "waiting_for_files")):
            assert f'data-rule="{rule}" data-node=' in page and f'data-verdict="{verdict}"' in page.split(
                f'data-rule="{rule}"')[1][:80]


def test_a_page_that_cannot_be_written_is_one_line_and_never_fails_the_sweep(tmp_path):
    with day(tmp_path, page="oss://no-such-bucket/board/") as d:
        d.at("2026-03-12T01:00:00+08:00")
        out = io.StringIO()
        decisions, tally = d.sweep(log=DecisionLog(service="dwtrigger-board-test", stream=out))
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        [note] = [line for line in lines if line.get("message") == "status_page"]
        assert note["status_page"]["published"] is False and note["status_page"]["page"] == (
            "oss://no-such-bucket/board/index.html")
        assert note["status_page"]["error_code"] == "NoSuchBucket" and "fn-role-secret" not in out.getvalue()
        assert tally.failed == 0 and [line["message"] for line in lines][-2:] == ["sweep", "status_page"]


def test_a_learned_board_judges_only_by_the_runs_listings():
    rules = parse_rules("""
version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai, ledger: "oss://bucket-one/l/"}
rules:
  - {name: m, on: mns, topic: t, trigger: [{workspace: 1, node: 2, at: "00:30"}]}
""")
    from dwtrigger.schedule import Schedule

    rule = rules.rules[0]
    with pytest.raises(board.NotAsked, match="not looked up by this sweep run"):
        board.Learned()(rule, rule.trigger[0], Schedule(date(2026, 3, 11), None, rule.timezone))


def test_an_mns_rules_evidence_is_the_ledgers_asked_record_and_its_notices_show(today, tmp_path):
    from dwtrigger.ledger import Notice, asked, noticed

    node, day_ = 700001235000, date.fromisoformat(BIZ)
    rules = tmp_path / "mns.yaml"
    rules.write_text(f"""\
version: 1
defaults: {{timezone: Asia/Shanghai, region: cn-shanghai, ledger: "oss://etl-ledger/mns-board/"}}
rules:
  - {{name: nightly, on: mns, topic: t, expect: {{by: "06:00", days: 1}}, trigger: [{{workspace: 10001, node: {node},
     at: "00:05"}}]}}
""")
    today.oss.put("etl-ledger", "mns-board/" + asked("nightly", node, day_), b'{"event_id": "m-1"}')
    notice = Notice("overdue", 1773266700000, "no evidence by 06:00", ["ops"], ["ops"], sent_at=1773266760000)
    today.oss.put("etl-ledger", "mns-board/" + noticed("nightly", node, day_, "overdue"), msgspec.json.encode(notice))
    result = CliRunner().invoke(main, ["status", "--rules", str(rules), "--endpoint", today.emu.endpoint,
                                       "--protocol", "http", "--now", NOW, "--json"], env=today.env)
    assert result.exit_code == 0, result.output
    [row] = msgspec.json.decode(result.stdout, type=board.Board).rows
    record = f"oss://etl-ledger/mns-board/asked/nightly/{node}/{BIZ}.json"
    assert (row.asked, row.evidence, row.verdict) == (record, record, "waiting_for_trigger")
    assert [(n.kind, n.noted_at, n.sent_at, n.delivered) for n in row.notices] == [
        ("overdue", "2026-03-12T06:05:00+08:00", "2026-03-12T06:06:00+08:00", ["ops"])]
