"""The 2020-05-18 adapter: the generic call sends exactly what the product SDK's methods send (the product SDK is
the oracle), and paging is bounded by the API's own limit whatever TotalCount claims."""
import time
from datetime import date

import pytest
from alibabacloud_credentials.client import Client as CredClient
from alibabacloud_credentials.models import Config as CredConfig
from alibabacloud_dataworks_public20200518 import models
from alibabacloud_dataworks_public20200518.client import Client
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions

from conftest import ROLE_KEY
from dwtrigger.credentials import RoleKeys, credential_client
from dwtrigger.dataworks import DataWorksError, v20200518
from dwtrigger.dataworks.v20200518 import DataWorks20200518
from dwtrigger.retry import Deadline

KEYS = RoleKeys(*ROLE_KEY.values())


def sent(emu) -> list:
    return [(c["action"], c["version"], c["params"], c["status"]) for c in emu.calls]


def test_the_generic_call_sends_what_the_product_sdk_sends(emulator):
    product = Client(Config(endpoint=emulator.endpoint, protocol="http", credential=CredClient(CredConfig(
        type="sts", access_key_id=KEYS.access_key_id, access_key_secret=KEYS.access_key_secret,
        security_token=KEYS.security_token))))
    listing = product.list_instances_with_options(models.ListInstancesRequest(
        project_id=10001, project_env="PROD", node_id=700001234567, bizdate="2026-03-10 00:00:00", page_number=1,
        page_size=100), RuntimeOptions()).body.data.instances
    [instance] = [i for i in listing if i.dag_type == "DAILY"]
    product.run_trigger_node_with_options(models.RunTriggerNodeRequest(
        node_id=700001234567, cycle_time=instance.cyc_time, biz_date=instance.bizdate, app_id=10001), RuntimeOptions())
    by_product = sent(emulator)
    emulator.reset()

    ours = DataWorks20200518(emulator.endpoint, "http", credential_client(KEYS))
    deadline = Deadline(time.monotonic() + 10)
    [found] = [i for i in ours.list_instances(10001, "PROD", 700001234567, date(2026, 3, 10), deadline)
               if i.dag_type == "DAILY"]
    assert (found.instance_id, found.cycle_ms, found.biz_date_ms) == \
        (instance.instance_id, instance.cyc_time, instance.bizdate)
    assert ours.trigger(10001, 700001234567, found.cycle_ms, found.biz_date_ms, deadline)
    assert sent(emulator) == by_product


def test_paging_stops_at_the_apis_limit(emulator, monkeypatch):
    monkeypatch.setattr(v20200518, "PAGE_SIZE", 1)              # the world's hourly node: 24 instances a day
    monkeypatch.setattr(v20200518, "MAX_PAGES", 3)
    ours = DataWorks20200518(emulator.endpoint, "http", credential_client(KEYS))
    with pytest.raises(DataWorksError) as err:
        ours.list_instances(10001, "PROD", 700001234999, date(2026, 3, 10), Deadline(time.monotonic() + 10))
    assert (err.value.code, err.value.retryable) == ("BadResponse", True)
    assert "did not end within 3 pages (TotalCount 24)" in err.value.message
    assert [c["params"]["PageNumber"] for c in emulator.calls] == ["1", "2", "3"]
