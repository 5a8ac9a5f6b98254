"""No access key, secret, STS token or signature in any log line, outcome record or raised error, in any
encoding, whatever DataWorks or STS answers."""
import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from checks import SECRETS
from conftest import BOTH_APIS, ROLE_KEY, orders_rules, sample
from dwtrigger import app
from dwtrigger.ops import fc

pytestmark = BOTH_APIS      # each API's SDK, its answers and errors

ROLE = 'role_arn: "acs:ram::1234567890123456:role/dwtrigger-cross"'
UNKNOWN_ROLE = 'role_arn: "acs:ram::1234567890123456:role/not-allowed"'


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
    "STS unreachable": dict(rules=rules_with(ROLE), env={"DWTRIGGER_STS_ENDPOINT": "http://127.0.0.1:9"},
                            context_timeout=2),
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
        texts.append(repr(h.handle("oss", sample("oss/native-put-orders.json"), context)))
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


TOKEN, SECRET, KEY_ID = (ROLE_KEY[k] for k in ("ALIBABA_CLOUD_SECURITY_TOKEN", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                                              "ALIBABA_CLOUD_ACCESS_KEY_ID"))


def encoded(secret: str) -> list:
    """The forms a hostile answer can echo a secret in (base64 trimmed to the characters it alone decides)."""
    return [secret, quote(secret, safe=""), quote_plus(secret), base64.b64encode(secret.encode()).decode()[:-4],
            base64.urlsafe_b64encode(("x" + secret).encode()).decode()[4:-4]]


ECHOES = {
    "code": {"Success": False, "ErrorCode": TOKEN},
    "request id": {"Success": False, "RequestId": SECRET, "ErrorCode": "Denied"},
    "message, encoded": {"Success": False, "ErrorMessage": " ".join(
        [quote(TOKEN, safe=""), base64.b64encode(SECRET.encode()).decode(),
         base64.urlsafe_b64encode(("x" + KEY_ID).encode()).decode(), quote_plus(SECRET)])},
    "message, headers": {"Success": False, "ErrorMessage": "Authorization: ACS3-HMAC-SHA256 Credential=STS.other,"
                         "SignedHeaders=host,Signature=deadbeef x-acs-security-token: other-token"},
}


@pytest.mark.parametrize("name", ECHOES)
def test_an_answer_that_echoes_credentials_leaks_none_of_them(name, harness, capfd):
    h = harness(rules_with(""))
    h.emu.set_faults(malformed_rate=1, malformed_body=json.dumps(ECHOES[name]))
    with pytest.raises(app.TriggerFailed) as err:
        h.handle("oss", sample("oss/native-put-orders.json"), fc.context_for("oss", timeout=2))
    out, captured = capfd.readouterr()
    everything = "\n".join([str(err.value), repr(err.value.decisions), h.stream.getvalue(), out, captured])
    assert h.lines()[0]["outcome"] == "failed"
    leaked = [form for secret in (TOKEN, SECRET, KEY_ID) for form in encoded(secret) if form in everything]
    leaked += [s for s in ("deadbeef", "other-token", "STS.other", "ACS3-HMAC-SHA256") if s in everything]
    assert not leaked, f"{leaked} leaked in: {everything[:2000]}"
