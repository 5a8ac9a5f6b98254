"""What the stand-ins' tests share: the OSS SDK's client set up as the product sets it up, and a wait for a server's
state (a request under way, an answer begun) that gives up, failing, after a while."""
import time

import alibabacloud_oss_v2 as oss

AK, SECRET = "LTAIosskey", "oss-secret"        # the OSS stand-in's key in test_oss_standin's seed


def client(standin, ak=AK, secret=SECRET, token=None, region="cn-shanghai", retryer=oss.retry.NopRetryer(), **cfg):
    """The product's set-up; retries off unless a test passes the SDK's default retryer (None)."""
    config = oss.config.load_default()
    config.region = region
    config.credentials_provider = oss.credentials.StaticCredentialsProvider(ak, secret, token)
    config.endpoint = f"http://{standin.endpoint}"
    config.use_path_style = True
    config.retryer = retryer
    for name, value in cfg.items():
        setattr(config, name, value)
    return oss.Client(config)


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
