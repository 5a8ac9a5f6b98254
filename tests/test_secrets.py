"""No access key, secret, STS token or signature in any log line, outcome record or raised error."""
import pytest

from conftest import ROLE_KEY, orders_rules, sample
from dwtrigger import app, fc

ROLE = 'role_arn: "acs:ram::1234567890123456:role/dwtrigger-cross"'
UNKNOWN_ROLE = 'role_arn: "acs:ram::1234567890123456:role/not-allowed"'
SECRETS = list(ROLE_KEY.values()) + ["rotated-secret", "rotated-token-9876543210", "STS.rotated-key",
                                     "wrong-secret", "Signature=", "ACS3-HMAC-SHA256", "x-acs-security-token"]


def rules_with(extra: str) -> str:
    return orders_rules('{workspace: 10001, node: 700001234567, at: "00:30"}', extra)


SCENARIOS = {
    "triggered": dict(),
    "bad signature": dict(env={"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "wrong-secret"}),
    "throttled then ok": dict(faults={"script": ["throttle", "error", "html_502"]}),
    "always failing": dict(faults={"error_rate": 1.0}, context_timeout=2),
    "assumed role": dict(rules=rules_with(ROLE), sts=True),
    "assume role refused": dict(rules=rules_with(UNKNOWN_ROLE), sts=True),
    "python3.10 context credentials": dict(credentials=fc.Credentials("STS.rotated-key", "rotated-secret",
                                                                      "rotated-token-9876543210")),
    "dry run": dict(dry_run=True),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_secret_reaches_any_output(name, harness, emulator, capfd):
    spec = SCENARIOS[name]
    env = dict(spec.get("env", {}))
    if spec.get("sts"):
        env["DWTRIGGER_STS_ENDPOINT"] = emulator.sts_endpoint
    h = harness(spec.get("rules"), env=env, dry_run=spec.get("dry_run"))
    emulator.set_faults(**spec.get("faults", {}))
    context = fc.Context(fc.Function("dwtrigger-oss", timeout=spec.get("context_timeout", 60)),
                         credentials=spec.get("credentials"))
    texts = []
    try:
        texts.append(repr(h.runtime.invoke("oss", sample("oss/native-put-orders.json"), context)))
    except app.TriggerFailed as e:
        texts += [str(e), repr(e.decisions)]
    out, err = capfd.readouterr()
    texts += [h.stream.getvalue(), out, err]
    assert h.lines(), "the scenario must have logged its decision"
    everything = "\n".join(texts)
    leaked = [s for s in SECRETS if s in everything]
    assert not leaked, f"{leaked} leaked in: {everything[:2000]}"


def test_the_credential_objects_do_not_print_their_values():
    from dwtrigger.credentials import RoleKeys

    keys = RoleKeys("STS.fn-role-key", "fn-role-secret", "fn-role-token-0123456789")
    creds = fc.Credentials("STS.fn-role-key", "fn-role-secret", "fn-role-token-0123456789")
    for text in (repr(keys), str(keys), repr(creds)):
        assert not any(s in text for s in ROLE_KEY.values()), text
