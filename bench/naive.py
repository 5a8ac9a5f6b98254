"""The naive relay: what a user writes in an afternoon, kept as `make bench`'s yardstick (issue 13).

An FC handler for the native OSS trigger: the full DataWorks SDK imported at the top, json and a regex for the
business date in the key (or an hourly node's hour), a new client per call, ListInstances then RunTriggerNode on
the first DAILY instance (of that hour).
No retries, no deadline, no rules file. Configuration from the environment: DW_PROJECT_ID, DW_NODE_ID,
DW_ENDPOINT, DW_PROTOCOL (http only for a local emulator) and FC's ALIBABA_CLOUD_* role keys.
"""
import json
import os
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alibabacloud_dataworks_public20200518 import models
from alibabacloud_dataworks_public20200518.client import Client
from alibabacloud_tea_openapi.models import Config

BIZDATE, HOUR = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/_SUCCESS$"), re.compile(r"/(\d{10})/[^/]*\.done$")


def new_client() -> Client:
    return Client(Config(access_key_id=os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                         access_key_secret=os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                         security_token=os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN"),
                         endpoint=os.environ.get("DW_ENDPOINT", "dataworks.cn-shanghai.aliyuncs.com"),
                         protocol=os.environ.get("DW_PROTOCOL", "https")))


def handler(event, context):
    key = json.loads(event)["events"][0]["oss"]["object"]["key"]
    found, hour = BIZDATE.search(key), HOUR.search(key)
    if not found and not hour:
        print(json.dumps({"outcome": "ignored", "key": key}))
        return {"outcome": "ignored", "key": key}
    cycle = hour and datetime.strptime(hour.group(1), "%Y%m%d%H").replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    bizdate = found.group(1) if found else f"{cycle - timedelta(days=1):%Y-%m-%d}"
    project, node = int(os.environ["DW_PROJECT_ID"]), int(os.environ["DW_NODE_ID"])
    client = new_client()
    listing = client.list_instances(models.ListInstancesRequest(
        project_id=project, project_env="PROD", node_id=node, bizdate=f"{bizdate} 00:00:00", page_size=100))
    instance = next(i for i in listing.body.data.instances if i.dag_type == "DAILY"
                    and (not hour or i.cyc_time == int(cycle.timestamp() * 1000)))
    answer = client.run_trigger_node(models.RunTriggerNodeRequest(
        app_id=project, node_id=node, cycle_time=instance.cyc_time, biz_date=instance.bizdate))
    if not answer.body.success:
        raise RuntimeError(f"RunTriggerNode failed for {key}: {answer.body.to_map()}")
    result = {"outcome": "triggered", "key": key, "node": node, "instance": instance.instance_id}
    print(json.dumps(result))
    return result
