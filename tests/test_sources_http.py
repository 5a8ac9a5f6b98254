"""`on: http` (sources/http.py): signed calls through FC's HTTP trigger, each answered with its status and body and
logged as one decision line; the request_id memory per instance and in the ledger; the rule's fields and s.yaml."""
import base64
import hashlib
import hmac
import json

import msgspec
import pytest

from commands import run
from conftest import ROLE_KEY, ROOT, Harness
from dwtrigger import board, signing
from dwtrigger.ledger.oss import requested
from dwtrigger.ops import fc
from dwtrigger.rules import RulesError, parse_rules
from dwtrigger.sources import http
from test_secrets import encoded

NOW = 1773277200                    # the world's clock: 2026-03-12T01:00:00Z
SECRET, CI_SECRET = "s3cr3t-airflow-signing-key-0001", "s3cr3t-ci-signing-key-000000002"
ENV = {"AIRFLOW_SECRET": SECRET, "CI_SECRET": CI_SECRET}
RULES = """version: 1
defaults: {timezone: Asia/Shanghai, region: cn-shanghai, env: PROD%s}
rules:
  - name: partner-api
    on: http
    callers:
      - {name: airflow, secret_env: AIRFLOW_SECRET}
    trigger: [{workspace: 10001, node: 700001235200}]
  - name: ci-only
    on: http
    callers: [{name: ci, secret_env: CI_SECRET}]
    trigger: [{workspace: 10001, node: 700001234567}]
"""
LEDGER = ", ledger: 'oss://etl-ledger/dwtrigger/'"
EVENTS = ROOT / "events" / "http"
DAY = {"rule": "partner-api", "bizdate": "2026-03-09", "request_id": "run-1"}


def call(body=DAY, *, stamp=NOW, secret=SECRET, caller="airflow", b64=False, headers=None, method="POST",
         path="/release") -> bytes:
    """The FC HTTP trigger event of a call, signed as a caller signs it (`headers` replaces the signed ones)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signed = {"X-Dwtrigger-Caller": caller, "X-Dwtrigger-Timestamp": str(stamp),
              "X-Dwtrigger-Signature": signing.sign(secret, (method, path, str(stamp)), raw)}
    return json.dumps({"version": "v1", "rawPath": path, "isBase64Encoded": b64,
                       "body": base64.b64encode(raw).decode() if b64 else raw.decode(),
                       "headers": {"Content-Type": "application/json", **(signed if headers is None else headers)},
                       "queryParameters": {},
                       "requestContext": {"http": {"method": method, "path": path}, "requestId": "1-fc-req"}}).encode()


@pytest.fixture
def h(emulator, oss_standin) -> Harness:
    return Harness(emulator, RULES % "", ENV, None, oss=oss_standin)


def answered(h: Harness, raw: bytes, timeout: int = 60):
    """(status, body) of one call through the handler (a function of `timeout` seconds), and its decision lines."""
    before = len(h.lines())
    answer = h.handle("http", raw, fc.context_for("http", timeout=timeout))
    assert answer["headers"] == {"Content-Type": "application/json"} and answer["isBase64Encoded"] is False
    return answer["statusCode"], json.loads(answer["body"]), h.lines()[before:]


def refused(h: Harness, raw: bytes, status: int, reason: str) -> None:
    """The call is refused: `status`, {"error": reason}, one `rejected` line with that reason, nothing sent."""
    sent = len(h.calls())
    got_status, body, lines = answered(h, raw)
    assert (got_status, body) == (status, {"error": reason})
    assert [(line["outcome"], line["reason"], line["error_code"]) for line in lines] == [
        ("rejected", reason, {401: "Unauthorized", 403: "Forbidden", 409: "Conflict"}.get(status))]
    assert len(h.calls()) == sent


def test_a_signed_call_releases_its_rules_nodes_and_answers_200_with_the_decisions(h):
    status, body, lines = answered(h, call())
    assert status == 200 and [d["outcome"] for d in body["outcomes"]] == ["triggered"]
    [line] = lines
    assert body["outcomes"] == [{k: line[k] for k in body["outcomes"][0]}]
    assert (line["rule"], line["node"], line["biz_date"], line["message_id"]) == (
        "partner-api", 700001235200, "2026-03-09", "run-1")
    assert h.sent_cycles() == ["1773093600000"]           # 2026-03-10 06:00 Shanghai


def test_a_cycle_names_the_local_scheduled_time_in_the_rules_zone(h):
    status, body, _ = answered(h, call({"rule": "partner-api", "cycle": "2026-03-10 06:00", "request_id": "c"}))
    assert status == 200 and body["outcomes"][0]["biz_date"] == "2026-03-09"
    assert h.sent_cycles() == ["1773093600000"]


def test_a_failed_release_answers_502_with_the_decisions_rather_than_raising(emulator, refused):
    h = Harness(emulator, RULES % "", {**ENV, "DWTRIGGER_ENDPOINT": refused}, None)
    status, body, lines = answered(h, call(), timeout=3)        # retried until the deadline, then answered
    assert status == 502 and [d["outcome"] for d in body["outcomes"]] == ["failed"] == [l["outcome"] for l in lines]


@pytest.mark.parametrize("raw, status, reason", [
    (call(headers={}), 401, "missing header X-Dwtrigger-Caller, X-Dwtrigger-Timestamp, X-Dwtrigger-Signature"),
    (call(headers={"X-Dwtrigger-Caller": "airflow", "X-Dwtrigger-Timestamp": str(NOW)}), 401,
     "missing header X-Dwtrigger-Signature"),
    (call(secret="not-the-secret"), 401, "the signature does not match (caller 'airflow': sign METHOD, PATH, "
                                         "X-Dwtrigger-Timestamp and the body with its secret)"),
    (call(secret=CI_SECRET), 401, "the signature does not match (caller 'airflow': sign METHOD, PATH, "
                                  "X-Dwtrigger-Timestamp and the body with its secret)"),
    (call(path="/other").replace(b'"rawPath": "/other"', b'"rawPath": "/release"'), 401,
     "the signature does not match (caller 'airflow': sign METHOD, PATH, X-Dwtrigger-Timestamp and the body with "
     "its secret)"),
    (call(caller="mallory"), 401, "caller 'mallory' is listed by no on: http rule"),
    (call(stamp=NOW + 301), 401, "X-Dwtrigger-Timestamp is 301 s ahead of this function's clock (more than 300 s)"),
    (call(stamp=NOW - 301), 401, "X-Dwtrigger-Timestamp is 301 s behind this function's clock (more than 300 s)"),
    (call(headers={"X-Dwtrigger-Caller": "airflow", "X-Dwtrigger-Timestamp": "soon",
                   "X-Dwtrigger-Signature": "v1=00"}), 401, "X-Dwtrigger-Timestamp is not UNIX seconds"),
    (call({**DAY, "rule": "nope"}), 403, "no on: http rule named 'nope'"),
    (call({**DAY, "rule": "ci-only"}), 403, "rule 'ci-only' does not list caller 'airflow' in its `callers`"),
    (call(b"x" * (16 * 1024 + 1)), 400, "the body is 16385 bytes, over the 16384-byte limit"),
    (call(b"not json"), 400,
     'the body is not {"rule", "bizdate" or "cycle", "request_id"} JSON: it is not a JSON object'),
    (call(b'["partner-api"]'), 400,
     'the body is not {"rule", "bizdate" or "cycle", "request_id"} JSON: it is not a JSON object'),
    (call({**DAY, "request_id": 7}), 400, 'the body is not {"rule", "bizdate" or "cycle", "request_id"} JSON: '
     'Expected `str`, got `int` - at `$.request_id`'),
    (call({**DAY, "extra": 1}), 400,
     'the body is not {"rule", "bizdate" or "cycle", "request_id"} JSON: Object contains unknown field `extra`'),
    (call({"rule": "partner-api", "request_id": "r"}), 400,
     "give exactly one of `bizdate` (YYYY-MM-DD) and `cycle` (YYYY-MM-DD HH:MM)"),
    (call({**DAY, "cycle": "2026-03-10 06:00"}), 400,
     "give exactly one of `bizdate` (YYYY-MM-DD) and `cycle` (YYYY-MM-DD HH:MM)"),
    (call({**DAY, "bizdate": "2026-02-30"}), 400,
     "`bizdate` must be a date YYYY-MM-DD, `cycle` a local time YYYY-MM-DD HH:MM"),
    (call({**DAY, "request_id": ""}), 400,
     "`rule` and `request_id` must be non-empty (`request_id` at most 128 characters)"),
])
def test_each_refusal_answers_its_status_and_reason_in_one_rejected_line_and_sends_nothing(h, raw, status, reason):
    refused(h, raw, status, reason)


@pytest.mark.parametrize("skew", [-300, 300])
def test_a_timestamp_exactly_300_s_off_is_taken(h, skew):
    assert answered(h, call(stamp=NOW + skew))[0] == 200


def test_a_caller_whose_secret_is_unset_is_refused_naming_the_variable(emulator):
    h = Harness(emulator, RULES % "", {"CI_SECRET": CI_SECRET}, None)
    refused(h, call(), 401, "the secret of caller 'airflow' is not set: set AIRFLOW_SECRET in the function's "
                            "environment")


def test_a_base64_body_is_signed_and_read_as_its_decoded_bytes(h):
    assert answered(h, call(b64=True))[0] == 200
    raw = json.dumps(DAY).encode()
    wrong = json.loads(call(b64=True))
    wrong["headers"]["X-Dwtrigger-Signature"] = signing.sign(SECRET, ("POST", "/release", str(NOW)),
                                                              base64.b64encode(raw))
    assert answered(h, json.dumps(wrong).encode())[0] == 401


def test_the_signature_is_compared_in_constant_time(h, monkeypatch):
    compared, compare = [], hmac.compare_digest

    def spy(a, b):
        if a.startswith(b"v1="):            # ours (the emulators in this process compare their own signatures)
            compared.append((type(a), type(b)))
        return compare(a, b)
    monkeypatch.setattr(signing.hmac, "compare_digest", spy)
    assert answered(h, call())[0] == 200 and compared == [(bytes, bytes)]


def test_a_reused_request_id_with_another_body_is_409_and_the_same_body_is_decided_again(h):
    assert answered(h, call())[0] == 200
    status, body, _ = answered(h, call())
    assert status == 200 and [d["outcome"] for d in body["outcomes"]] == ["already_triggered"]
    refused(h, call({**DAY, "bizdate": "2026-03-08"}), 409,
            "request_id 'run-1' was used within 10 min with another body: use a new request_id for a new request")
    h.emu.clock.advance(600)
    assert answered(h, call({**DAY, "bizdate": "2026-03-08"}, stamp=NOW + 600))[0] == 200


def test_instances_agree_on_request_ids_through_the_ledger(emulator, oss_standin):
    first, second = (Harness(emulator, RULES % LEDGER, ENV, None, oss=oss_standin) for _ in range(2))
    assert answered(first, call())[0] == 200
    assert [k for k in oss_standin.objects("etl-ledger") if k.startswith("dwtrigger/requests/partner-api/")]
    refused(second, call({**DAY, "bizdate": "2026-03-08"}), 409,
            "request_id 'run-1' was used within 10 min with another body: use a new request_id for a new request")
    assert answered(second, call())[0] == 200


def test_a_record_left_by_a_crash_before_the_release_passes_only_the_same_body(emulator, oss_standin):
    """The record is written first: a crash after it leaves the id naming its body, and that body goes on."""
    first, second = (Harness(emulator, RULES % LEDGER, ENV, None, oss=oss_standin) for _ in range(2))
    refused(first, call({**DAY, "rule": "partner-api", "bizdate": "2026-02-30"}), 400,
            "`bizdate` must be a date YYYY-MM-DD, `cycle` a local time YYYY-MM-DD HH:MM")     # nothing recorded
    digest = hashlib.sha256(json.dumps(DAY).encode()).hexdigest()
    oss_standin.put("etl-ledger", "dwtrigger/" + requested("partner-api", "run-1"),
                    json.dumps({"digest": digest, "at": NOW * 1000}).encode())
    refused(second, call({**DAY, "bizdate": "2026-03-08"}), 409,
            "request_id 'run-1' was used within 10 min with another body: use a new request_id for a new request")
    assert answered(second, call())[0] == 200


def test_no_secret_or_signature_reaches_a_line_or_an_answer(h, capfd):
    raws = [call(), call(secret="guess"), call(stamp=NOW - 999), call({**DAY, "rule": "ci-only"}), call(b"{")]
    said = [h.handle("http", raw)["body"] for raw in raws]
    out = "".join(capfd.readouterr()) + h.stream.getvalue() + "".join(said)
    signatures = [json.loads(raw)["headers"]["X-Dwtrigger-Signature"] for raw in raws]
    for secret in (SECRET, CI_SECRET):
        assert not [form for form in encoded(secret) if form in out]
    assert not [s for s in signatures if s in out or s[3:] in out]


def test_the_secrets_are_scrubbed_from_every_line(h):
    """A reason that would hold a secret (a caller named like it) has it removed."""
    h.env["AIRFLOW_SECRET"] = "airflow"
    h.handle("http", call(secret="x"))
    assert "airflow" not in h.stream.getvalue().split('"reason"')[1]


@pytest.mark.parametrize("body, field, message", [
    ("callers: []", "callers", "required: the callers that may call it, each `{name, secret_env}`"),
    ("callers: [{name: a, secret_env: 'https://x/y'}]", "callers[0].secret_env", "holds a URL"),
    ("callers: [{name: a, secret_env: S}, {name: a, secret_env: T}]", "callers[1].name", "caller 'a' is listed twice"),
])
def test_a_rules_callers_problems_name_the_field(body, field, message):
    with pytest.raises(RulesError) as err:
        parse_rules(f"version: 1\nrules:\n  - name: r\n    on: http\n    {body}\n    timezone: UTC\n"
                    "    region: cn-shanghai\n    trigger: [{workspace: 1, node: 2}]\n")
    [problem] = err.value.problems
    assert problem.field == field and message in problem.message


def test_the_wiring_wants_one_post_trigger_each_callers_secret_and_says_which_auth_types_serve():
    rules = parse_rules(RULES % "")

    class T:
        resource = "http"

        def __init__(self, config):
            self.config = config

        def __str__(self):
            return "s.yaml: http trigger 'release'"
    where = lambda rules, name: f"rules.yaml: rule {name!r}"        # noqa: E731
    env = {"resources": {"http": {"props": {"environmentVariables": {"AIRFLOW_SECRET": "${env(AIRFLOW_SECRET)}",
                                                                     "CI_SECRET": "${env(CI_SECRET)}"}}}}}
    assert http.SOURCE.wiring(rules, env, {"http": []}, where) == [
        (None, "rules.yaml: rule 'partner-api': no HTTP trigger on the http function: add one (triggerType: http, "
               "methods: [POST]), or remove the rule")]
    post = T({"methods": ["POST"], "authType": "anonymous"})
    assert http.SOURCE.wiring(rules, env, {"http": [post]}, where) == []
    get, jwt = T({"methods": ["GET"], "authType": "anonymous"}), T({"methods": ["POST"], "authType": "jwt"})
    assert [p for _, p in http.SOURCE.wiring(rules, env, {"http": [get, jwt]}, where)] == [
        "s.yaml: http trigger 'release' does not take POST (its `methods`): callers POST; add POST",
        "s.yaml: http trigger 'release' has authType 'jwt': use anonymous (every call is signed and checked) or "
        "function (callers that hold RAM keys sign for FC's gateway)"]
    del env["resources"]["http"]["props"]["environmentVariables"]["CI_SECRET"]
    assert [p for _, p in http.SOURCE.wiring(rules, env, {"http": [post]}, where)] == [
        "rules.yaml: rule 'ci-only': caller 'ci''s secret_env CI_SECRET is not among the environmentVariables of "
        "resource http in s.yaml: add `CI_SECRET: ${env(CI_SECRET)}` (the secret from the shell that runs `s deploy`)"]


def test_a_call_is_the_evidence_the_board_shows(emulator, oss_standin, tmp_path):
    """`dwtrigger status` of an http rule with `expect`: the ledger's record of the call is its evidence, the date
    without a call is overdue."""
    text = RULES % LEDGER
    text = text.replace("      - {name: airflow, secret_env: AIRFLOW_SECRET}\n",
                        "      - {name: airflow, secret_env: AIRFLOW_SECRET}\n    expect: {by: \"06:00\", days: 3}\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text(text)
    assert answered(Harness(emulator, text, ENV, None, oss=oss_standin), call())[0] == 200
    env = {"DWTRIGGER_OSS_ENDPOINT": oss_standin.endpoint, **ROLE_KEY, **{k: None for k in ENV}}
    result = run("status", "--rule", "partner-api", "--rules", str(rules), "--endpoint", emulator.endpoint,
                 "--protocol", "http", "--now", "2026-03-12T09:00:00+08:00", "--json", env=env)
    assert result.exit_code == 1, result.output                        # 2026-03-10 and -11 are overdue
    rows = msgspec.json.decode(result.stdout, type=board.Board).rows
    record = "oss://etl-ledger/dwtrigger/asked/partner-api/700001235200/2026-03-09.json"
    assert [(row.biz_date, row.verdict, row.evidence) for row in rows] == [
        ("2026-03-11", "overdue", None), ("2026-03-10", "overdue", None), ("2026-03-09", "released", record)]


@pytest.mark.parametrize("sample, status, shown", [
    ("call-1-bizdate.json", 0, ["  MATCH partner-api: matched", "      capture bizdate = 2026-03-09"]),
    ("call-4-cycle-base64.json", 0, ["  MATCH partner-api: matched", "      capture cycle = 2026-03-09 06:00:00"]),
    ("refused-unsigned.json", 1, ["  rejected: missing header X-Dwtrigger-Caller, X-Dwtrigger-Timestamp, "
                                  "X-Dwtrigger-Signature"]),
    ("refused-unknown-rule.json", 1, ["  rejected: no on: http rule named 'no-such-rule'"]),
    ("refused-wrong-signature.json", 0, ["  MATCH partner-api: matched", "      capture bizdate = 2026-03-09"]),
])
def test_explain_shows_what_a_call_releases_and_what_it_refuses_offline(sample, status, shown):
    """Offline: the headers it names, the body, the rule and its callers; not the time, secret or signature."""
    result = run("explain", str(EVENTS / sample), "--rules", str(ROOT / "rules.yaml"), env={"DWTRIGGER_RULES": None})
    assert result.exit_code == status and result.stdout.splitlines()[0] == f"{EVENTS / sample}  (http function)"
    assert [line for line in result.stdout.splitlines() if line in shown] == shown
