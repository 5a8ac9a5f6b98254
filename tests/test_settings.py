"""The settings: every DWTRIGGER_* variable the functions read, read once when the Runtime starts, and refused
there (named, one line) when the functions could not use it."""
import dataclasses

import pytest

from conftest import ROOT
from dwtrigger import app
from dwtrigger.rules import load_rules
from dwtrigger.settings import Settings, SettingsError

RULES = load_rules(str(ROOT / "rules.yaml"))


def test_an_empty_environment_is_the_cloud_with_rules_yaml_beside_the_code(tmp_path):
    assert Settings.read({"FC_FUNC_CODE_PATH": str(tmp_path)}) == Settings(
        rules_path=str(tmp_path / "rules.yaml"), dry_run=False, endpoint=None, protocol="https", sts_endpoint=None,
        oss_endpoint=None, oss_internal=False, mns_topic=None, sweep_qps=5.0, dataworks_qps=(50.0, 20.0))


def test_each_variable_lands_in_its_field_and_empty_counts_as_unset():
    environ = {"DWTRIGGER_RULES": "/etc/r.yaml", "DWTRIGGER_DRY_RUN": "Yes", "DWTRIGGER_ENDPOINT": "127.0.0.1:1",
               "DWTRIGGER_PROTOCOL": "HTTP", "DWTRIGGER_STS_ENDPOINT": "http://127.0.0.1:1",
               "DWTRIGGER_OSS_ENDPOINT": "127.0.0.1:2", "DWTRIGGER_OSS_INTERNAL": "on",
               "DWTRIGGER_MNS_TOPIC": "etl-done", "DWTRIGGER_SWEEP_QPS": "0.5", "DWTRIGGER_DATAWORKS_QPS": "5/2.5"}
    assert Settings.read(environ) == Settings("/etc/r.yaml", True, "127.0.0.1:1", "http", "http://127.0.0.1:1",
                                              "127.0.0.1:2", True, "etl-done", 0.5, (5.0, 2.5))
    blank = Settings.read({k: "" for k in environ} | {"FC_FUNC_CODE_PATH": "/code"})
    assert blank == Settings("/code/rules.yaml")
    assert Settings.read({"DWTRIGGER_DRY_RUN": "no", "DWTRIGGER_OSS_INTERNAL": "false"}).dry_run is False


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings.read({}).dry_run = True


@pytest.mark.parametrize("value", ["0", "1e-300", "-5", "51", "fast", "nan", "inf"])
def test_a_sweep_pace_out_of_range_is_refused_when_the_function_starts(value):
    message = f"DWTRIGGER_SWEEP_QPS={value!r}: the sweep's DataWorks calls per second, a number from 0.1 to 50"
    with pytest.raises(SettingsError) as refused:
        Settings.read({"DWTRIGGER_SWEEP_QPS": value})
    assert str(refused.value) == message
    with pytest.raises(SettingsError) as at_start:           # every function, not only the sweep's, at start
        app.Runtime(RULES, environ={"DWTRIGGER_SWEEP_QPS": value})
    assert str(at_start.value) == message


@pytest.mark.parametrize("value", ["50", "50/", "/20", "50/20/5", "0/20", "50/0.01", "50/-1", "fast/slow", "nan/20",
                                   "50/inf", "20000/20", "50 20"])
def test_a_dataworks_quota_that_is_not_two_paces_in_range_is_refused_when_the_function_starts(value):
    message = (f"DWTRIGGER_DATAWORKS_QPS={value!r}: the DataWorks quota as READ/WRITE calls a second (Enterprise "
               "50/20), each a number from 0.1 to 10000")
    with pytest.raises(SettingsError) as refused:
        Settings.read({"DWTRIGGER_DATAWORKS_QPS": value})
    assert str(refused.value) == message
    with pytest.raises(SettingsError) as at_start:
        app.Runtime(RULES, environ={"DWTRIGGER_DATAWORKS_QPS": value})
    assert str(at_start.value) == message


def test_the_dataworks_quota_sets_each_fc_instance_s_read_and_write_ceilings():
    runtime = app.Runtime(RULES, environ={"DWTRIGGER_DATAWORKS_QPS": " 5 / 5 "})
    pacing = runtime.pacers("dataworks.cn-shanghai.aliyuncs.com")
    assert runtime.settings.dataworks_qps == (5.0, 5.0) and (pacing.read.ceiling, pacing.write.ceiling) == (5.0, 5.0)


def test_the_runtime_reads_the_environment_it_is_given_once():
    environ = {"DWTRIGGER_ENDPOINT": "127.0.0.1:9", "DWTRIGGER_DRY_RUN": "1", "DWTRIGGER_SWEEP_QPS": "50"}
    runtime = app.Runtime(RULES, environ=environ)
    environ["DWTRIGGER_ENDPOINT"] = "elsewhere:1"
    assert runtime.settings == Settings.read({**environ, "DWTRIGGER_ENDPOINT": "127.0.0.1:9"})
    assert runtime.dry_run and runtime.endpoint(RULES.rules[0]) == "127.0.0.1:9"
