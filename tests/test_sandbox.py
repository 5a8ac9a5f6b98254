"""`dwtrigger emulator` as the operator's sandbox: served as a process (its announcement, a seed's files, Ctrl-C,
ports in use), and its subcommands against a running pair (files landed exactly as a signed PutObject lands them,
removed, listed; the clock set and advanced), and the commands reaching it running by its clock."""

import json
import signal
import socket
from datetime import datetime, timedelta, timezone

import alibabacloud_oss_v2 as oss
import pytest
import yaml
from click.testing import CliRunner

from conftest import ROOT, sample, side_by_side
from dead_letters import fc_record
from dwtrigger.ops.cli import main
from dwtrigger.ops.emulator import DEFAULT_SEED, Emulator, OssStandIn
from dwtrigger.ops.reach import clock, environment
from dwtrigger.ops.sandbox import _seeds
from sessions import CLEAN, free_ports, started
from standins import client

RULES = str(ROOT / "rules.yaml")
SUCCESS = "exports/orders/dt=2026-03-11/_SUCCESS"


def run(*args, env=None, input=None):
    return CliRunner().invoke(main, list(args), env={**CLEAN, **(env or {})}, input=input, prog_name="dwtrigger")


def test_the_emulator_says_how_to_reach_it_lands_its_seeds_files_and_stops_on_ctrl_c(tmp_path):
    seed = yaml.safe_load(DEFAULT_SEED.read_text())
    seed.update(buckets=["etl-archive"], objects=[f"etl-landing/{SUCCESS}", "etl-archive/2026/03/11.tar"],
                queues=["replays"])
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(seed))
    proc = started("--seed", str(tmp_path / "seed.yaml"))
    port = proc.port
    url = f"http://127.0.0.1:{port}"
    try:
        assert proc.said == [
            f"DataWorks emulator on {url}  (admin: {url}/_admin/calls)\n",
            f"OSS stand-in on http://127.0.0.1:{port + 1}  (buckets etl-archive, etl-landing, etl-landing-backup, "
            "etl-ledger)\n",
            f"MNS stand-in on http://127.0.0.1:{port + 2}  (queues dwtrigger-dlq, replays)\n",
            "Its clock: 2026-03-12T09:00:00+08:00\n",
            f"Reach them from replay, trigger, sweep, doctor and drain with --emulator {url}, or in another shell:\n",
            f"  export DWTRIGGER_EMULATOR={url}\n",
            "(with one of the seed's keys in ALIBABA_CLOUD_ACCESS_KEY_ID and _SECRET (and _SECURITY_TOKEN)). Steer "
            "it with `dwtrigger emulator put|rm|ls|send|clock`. Ctrl-C stops it.\n"]
        listed = run("emulator", "ls", env={"DWTRIGGER_EMULATOR": url})
        assert (listed.exit_code, listed.stdout) == (0, (
            "oss://etl-archive/2026/03/11.tar  0 bytes  Last-Modified 2026-03-12T01:00:00Z\n"
            f"oss://etl-landing/{SUCCESS}  0 bytes  Last-Modified 2026-03-12T01:00:00Z\n"))
        swept = run("sweep", "--rules", RULES, env={"DWTRIGGER_EMULATOR": url, "DWTRIGGER_SWEEP_QPS": "50"})
        assert "triggered: orders-daily node 700001234567 bizdate 2026-03-11 the sweep found " in swept.stderr
        dead = json.dumps(fc_record(sample("timer/nightly.json")))
        sent = run("emulator", "send", "--body", dead, env={"DWTRIGGER_EMULATOR": url})
        assert (sent.exit_code, sent.stdout[:13], sent.stdout.endswith(" to queue dwtrigger-dlq\n")) == (
            0, "sent message ", True)
        drained = run("drain", "--queue", "dwtrigger-dlq", "--wait", "0", "--rules", RULES,
                      env={"DWTRIGGER_EMULATOR": url})
        assert (drained.exit_code, drained.stderr.splitlines()[-1]) == (
            0, "messages: 1 received, 1 released and deleted, 0 left")
        assert [json.loads(line)["node"] for line in drained.stdout.splitlines()] == [700001235000]
        again = run("drain", "--queue", "dwtrigger-dlq", "--wait", "0", "--rules", RULES,
                    env={"DWTRIGGER_EMULATOR": url})
        assert (again.exit_code, again.stderr.splitlines()[-1]) == (
            0, "messages: 0 received, 0 released and deleted, 0 left")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, rest = proc.communicate(timeout=30)        # one that does not stop fails the test, not the run
        finally:
            proc.kill()
    assert (proc.returncode, rest) == (0, "emulator stopped\n")         # no "Aborted!", no traceback


def test_a_seeds_file_in_no_bucket_is_refused_before_anything_is_served(tmp_path):
    (tmp_path / "seed.yaml").write_text("objects: [etl-landng/x]\n")
    result = run("emulator", "--seed", str(tmp_path / "seed.yaml"), "--port", str(free_ports()))
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {tmp_path / 'seed.yaml'}: objects: 'etl-landng/x' is in no bucket of the "
                             "sandbox (etl-landing, etl-landing-backup, etl-ledger): write BUCKET/KEY, and name other "
                             "buckets under `buckets:`\n")


@pytest.mark.parametrize("busy, whose", [(0, "for DataWorks"),
                                         (1, "for the OSS stand-in (--port {n} takes {n} to {m})"),
                                         (2, "for the MNS stand-in (--port {n} takes {n} to {m})")])
def test_a_port_in_use_is_named_with_whose_it_is_and_what_to_do(busy, whose):
    for _ in range(20):                    # the other two, found free, may be taken meanwhile: then on other ports
        port = free_ports()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", port + busy))
            taken.listen()
            result = run("emulator", "--port", str(port))
        if f"port {port + busy}," in result.stderr:
            break
    assert result.exit_code == 2
    assert result.stderr == (f"Error: port {port + busy}, {whose.format(n=port, m=port + 2)}, is in use (another "
                             "`dwtrigger emulator`?): stop that process, or choose free ports with --port N (DataWorks "
                             "on N, the OSS stand-in on N+1, MNS on N+2)\n")
    for other in {0, 1, 2} - {busy}:                              # the other ports, bound first, are free again
        with socket.socket() as again:
            again.bind(("127.0.0.1", port + other))


@pytest.fixture(scope="module")
def pair():
    """A running sandbox, in this process: DataWorks on P, the OSS stand-in on P+1 on its clock."""
    world, oss_seed, _ = _seeds(DEFAULT_SEED)
    with side_by_side(lambda: Emulator(world), lambda emu, port: OssStandIn(oss_seed, port=port,
                                                                            clock=emu.clock.now)) as both:
        yield both


@pytest.fixture
def sandbox(pair):
    emu, standin = pair
    emu.reset()
    standin.reset()
    return emu, standin, {"DWTRIGGER_EMULATOR": emu.url}


def test_put_lands_a_file_as_a_signed_put_object_would(sandbox):
    emu, standin, env = sandbox
    emu.clock.set("2026-03-12T07:00:00.250+08:00")
    landed = run("emulator", "put", f"etl-landing/{SUCCESS}", "--body", "rows=42\n", env=env)
    assert (landed.exit_code, landed.stdout) == (0, f'landed oss://etl-landing/{SUCCESS}  8 bytes  ETag '
                                                    '"8E6F46B6DA48ECBF0542B84BF855DAD5"  Last-Modified '
                                                    '2026-03-11T23:00:00Z\n')
    sdk = client(standin, "LTAIdemokey", "demo-secret")
    sdk.put_object(oss.PutObjectRequest(bucket="etl-landing", key="signed", body=b"rows=42\n"))
    by_hand, signed = (sdk.head_object(oss.HeadObjectRequest(bucket="etl-landing", key=key))
                       for key in (SUCCESS, "signed"))
    assert [(h.etag, h.hash_crc64, h.content_length, h.content_type, h.last_modified) for h in (by_hand, signed)] == \
        [('"8E6F46B6DA48ECBF0542B84BF855DAD5"', signed.hash_crc64, 8, "application/octet-stream",
          datetime(2026, 3, 11, 23, tzinfo=timezone.utc))] * 2
    assert [c["operation"] for c in standin.calls] == ["PutObject", "HeadObject", "HeadObject"]  # put is no API call


def test_put_takes_a_file_or_stdin_and_refuses_both_or_a_path_without_key(sandbox, tmp_path):
    _, standin, env = sandbox
    (tmp_path / "part.csv").write_bytes(b"a,b\n")
    assert run("emulator", "put", "etl-landing/p/1.csv", "--file", str(tmp_path / "part.csv"), env=env).exit_code == 0
    assert run("emulator", "put", "oss://etl-landing/p/2.csv", "--file", "-", input=b"c\n", env=env).exit_code == 0
    assert (standin.body("etl-landing", "p/1.csv"), standin.body("etl-landing", "p/2.csv")) == (b"a,b\n", b"c\n")
    both = run("emulator", "put", "etl-landing/x", "--file", str(tmp_path / "part.csv"), "--body", "y", env=env)
    assert (both.exit_code, both.stderr) == (2, "Error: give --file or --body, not both\n")
    bare = run("emulator", "put", "etl-landing", env=env)
    assert (bare.exit_code, bare.stderr) == (2, "Error: 'etl-landing': name a file as BUCKET/KEY, e.g. "
                                                "etl-landing/exports/orders/dt=2026-03-11/_SUCCESS\n")
    unknown = run("emulator", "put", "etl-landng/x", env=env)
    assert (unknown.exit_code, unknown.stderr) == (
        2, f"Error: the emulator at {env['DWTRIGGER_EMULATOR']} refused: no bucket 'etl-landng' in the seed\n")


def test_rm_removes_a_file_and_says_when_it_was_not_there(sandbox):
    _, standin, env = sandbox
    standin.put("etl-landing", "odd key/ä+1")
    removed = run("emulator", "rm", "etl-landing/odd key/ä+1", env=env)
    assert (removed.exit_code, removed.stdout, standin.objects("etl-landing")) == (
        0, "removed oss://etl-landing/odd key/ä+1\n", [])
    again = run("emulator", "rm", "etl-landing/odd key/ä+1", env=env)
    assert (again.exit_code, again.stdout, again.stderr) == (1, "", (
        "oss://etl-landing/odd key/ä+1 is not there: nothing removed (`dwtrigger emulator ls etl-landing` lists what "
        "is)\n"))


def test_ls_lists_a_bucket_or_a_prefix_and_says_when_there_is_nothing(sandbox):
    _, standin, env = sandbox
    for key in ("a/1", "a/2", "b/1"):
        standin.put("etl-landing", key, b"xy")
    assert run("emulator", "ls", "etl-landing/a/", env=env).stdout == (
        "oss://etl-landing/a/1  2 bytes  Last-Modified 2026-03-12T01:00:00Z\n"
        "oss://etl-landing/a/2  2 bytes  Last-Modified 2026-03-12T01:00:00Z\n")
    empty = run("emulator", "ls", "oss://etl-ledger", env=env)
    assert (empty.exit_code, empty.stdout, empty.stderr) == (0, "", "no files in oss://etl-ledger\n")


def test_clock_prints_sets_and_advances_the_emulators_time(sandbox):
    emu, _, env = sandbox
    assert run("emulator", "clock", env=env).stdout == "2026-03-12T09:00:00+08:00\n"
    moved = run("emulator", "clock", "--set", "2026-03-12T05:00:00+08:00", "--advance", "1d1h30m", env=env)
    assert (moved.exit_code, moved.stdout) == (0, "2026-03-13T06:30:00+08:00\n")
    assert run("emulator", "clock", "--advance", "-30m", env=env).stdout == "2026-03-13T06:00:00+08:00\n"
    assert emu.clock.now() == datetime.fromisoformat("2026-03-13T06:00:00+08:00")
    bad = run("emulator", "clock", "--advance", "2 hours", env=env)
    assert bad.exit_code == 2 and bad.stderr.endswith(
        "Error: Invalid value for '--advance': '2 hours' is not a span of time: write e.g. 2h, 90m, 1d12h or -30m\n")
    mixed = run("emulator", "--port", "9000", "clock", env=env)
    assert (mixed.exit_code, mixed.stderr) == (2, "Error: --port and --seed start an emulator: give them without "
                                                  "`clock` (which reaches a running one by --emulator URL)\n")


def test_a_subcommand_or_a_command_reaching_no_emulator_says_so_in_one_sentence():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))                 # bound, never listening
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        for args in (("emulator", "clock"), ("sweep", "--rules", RULES)):
            result = run(*args, "--emulator", url)
            assert (result.exit_code, result.stderr) == (2, (
                f"Error: no emulator answers at {url} ([Errno 111] Connection refused): start one with `dwtrigger "
                "emulator`, or name the one running with --emulator URL or DWTRIGGER_EMULATOR\n")), args


def test_ledger_stamps_and_doctors_judgement_follow_the_emulators_clock(sandbox, tmp_path):
    emu, standin, env = sandbox
    rules = tmp_path / "rules.yaml"
    rules.write_text((ROOT / "rules.yaml").read_text().replace("# ledger:", "ledger:"))
    emu.clock.set("2026-03-12T00:00:00+08:00")               # before orders-daily's 03-11 instance is due (00:30)
    doctor = run("doctor", "--rule", "orders-daily", "--bizdate", "2026-03-11", "--rules", str(rules), env=env)
    [scheduled] = [line for line in doctor.stdout.splitlines() if "scheduled time passed" in line]
    assert scheduled.startswith("  ✘ scheduled time passed: 2026-03-12 00:30 +08:00, 30 min from now")
    assert run("trigger", "--rule", "orders-daily", "--bizdate", "2026-03-10", "--rules", str(rules),
               env=env).exit_code == 0
    [claim] = [key for key in standin.objects("etl-ledger") if "/claims/" in key]
    entry = json.loads(standin.body("etl-ledger", claim))
    assert entry["claimed_at"] == entry["sent_at"] == int(emu.clock.now().timestamp() * 1000)


def test_a_running_emulator_clock_is_read_once_and_runs_on_with_real_time():
    world = {k: v for k, v in yaml.safe_load(DEFAULT_SEED.read_text()).items() if k != "now"}
    with Emulator(world) as emu:
        emu.clock.advance(timedelta(days=30).total_seconds())
        ahead = clock(environment({}, emu.url))
        told, emu_now = ahead(), emu.clock.now()
        assert timedelta(0) <= emu_now - told < timedelta(minutes=1)     # read once; the same time line after
    assert clock({})().tzinfo is not None


def test_the_emulator_is_reached_directly_whatever_proxy_is_set(sandbox):
    _, _, env = sandbox
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))                 # a proxy that refuses everything
        proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
        result = run("emulator", "clock", env={**env, "http_proxy": proxy, "HTTP_PROXY": proxy, "no_proxy": ""})
    assert (result.exit_code, result.stdout) == (0, "2026-03-12T09:00:00+08:00\n")
