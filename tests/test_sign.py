"""`dwtrigger sign` (ops/sign.py): what it prints is a call the http function takes (its real signature check, 200),
the secret never printed; a call it cannot sign is one line and exit 2; `--event` runs through `dwtrigger replay`
against a local emulator, on the emulator's clock."""
import json

import pytest

from commands import NO_KEYS, RULES, run
from conftest import ROLE_KEY, Harness
from test_secrets import encoded

SECRET = "s3cr3t-airflow-signing-key-0001"
ENV = {"DWTRIGGER_AIRFLOW_SECRET": SECRET}
NOW = "2026-03-12T01:00:00Z"            # the world's clock
SIGN = ("sign", "--rule", "partner-api", "--secret-env", "DWTRIGGER_AIRFLOW_SECRET", "--rules", RULES)


def signed(*args, env=ENV):
    """What `dwtrigger sign` printed: (headers, body)."""
    result = run(*SIGN, *args, env={**NO_KEYS, **env})
    assert (result.exit_code, result.stderr) == (0, ""), result.output
    head, body = result.stdout.split("\n\n")
    assert body.endswith("\n") and "\n" not in body[:-1]
    assert not [form for form in encoded(SECRET) if form in result.output]
    return dict(line.split(": ", 1) for line in head.splitlines()), body[:-1]


def posted(h: Harness, headers: dict, body: str, path: str = "/"):
    """(status, body) of the http function given this call (FC's HTTP trigger event of it)."""
    event = {"version": "v1", "rawPath": path, "body": body, "isBase64Encoded": False, "headers": headers,
             "queryParameters": {}, "requestContext": {"http": {"method": "POST", "path": path}}}
    answer = h.handle("http", json.dumps(event).encode())
    return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture
def h(emulator, oss_standin) -> Harness:
    return Harness(emulator, None, ENV, None, oss=oss_standin)          # the checkout's rules.yaml


def test_it_prints_the_headers_and_the_body_of_a_call_the_function_takes(h):
    headers, body = signed("--bizdate", "2026-03-09", "--now", NOW)
    assert list(headers) == ["X-Dwtrigger-Caller", "X-Dwtrigger-Timestamp", "X-Dwtrigger-Signature", "Content-Type"]
    assert (headers["X-Dwtrigger-Caller"], headers["X-Dwtrigger-Timestamp"]) == ("airflow", "1773277200")
    assert body == '{"rule":"partner-api","bizdate":"2026-03-09","request_id":"partner-api-2026-03-09"}'
    status, answer = posted(h, headers, body)
    assert status == 200 and [(d["outcome"], d["node"], d["biz_date"], d["message_id"]) for d in answer["outcomes"]] \
        == [("triggered", 700001235200, "2026-03-09", "partner-api-2026-03-09")]
    assert h.sent_cycles() == ["1773093600000"]            # 2026-03-10 06:00 Shanghai


def test_a_cycle_a_path_and_a_request_id_are_signed_as_given(h):
    headers, body = signed("--cycle", "2026-03-10 06:00", "--path", "/release", "--request-id", "run-7", "--now",
                           NOW)
    assert json.loads(body) == {"rule": "partner-api", "cycle": "2026-03-10 06:00", "request_id": "run-7"}
    assert posted(h, headers, body, "/")[0] == 401                 # the path is signed
    status, answer = posted(h, headers, body, "/release")
    assert status == 200 and answer["outcomes"][0]["biz_date"] == "2026-03-09"


def test_another_secret_in_the_variable_signs_a_call_the_function_refuses(h):
    headers, body = signed("--bizdate", "2026-03-09", "--now", NOW, env={"DWTRIGGER_AIRFLOW_SECRET": "not-it"})
    assert posted(h, headers, body) == (401, {"error": "the signature does not match (caller 'airflow': sign METHOD, "
                                                       "PATH, X-Dwtrigger-Timestamp and the body with its secret)"})
    assert h.calls() == []


@pytest.mark.parametrize("args, env, error", [
    (("--bizdate", "2026-03-09"), {}, "DWTRIGGER_AIRFLOW_SECRET is not set: export the caller's secret in it (it is "
                                      "read from there, never printed)"),
    (("--bizdate", "2026-03-09"), {"DWTRIGGER_AIRFLOW_SECRET": ""}, "DWTRIGGER_AIRFLOW_SECRET is not set: export "
                                                                    "the caller's secret in it (it is read from "
                                                                    "there, never printed)"),
    (("--bizdate", "2026-03-09", "--rule", "nightly"), ENV,
     "rule 'nightly' is an `on: timer` rule: only `on: http` rules take signed calls"),
    (("--bizdate", "2026-03-09", "--rule", "nope"), ENV, f"no rule named 'nope' in {RULES}"),
    (("--bizdate", "2026-03-09", "--secret-env", "OTHER"), {"OTHER": SECRET},
     "rule 'partner-api' lists no caller whose secret_env is OTHER: its callers: airflow (DWTRIGGER_AIRFLOW_SECRET)"),
    ((), ENV, "give --bizdate YYYY-MM-DD or --cycle 'YYYY-MM-DD HH:MM' (one of them)"),
    (("--bizdate", "2026-03-09", "--cycle", "2026-03-10 06:00"), ENV,
     "give --bizdate YYYY-MM-DD or --cycle 'YYYY-MM-DD HH:MM' (one of them)"),
    (("--bizdate", "2026-03-09", "--path", "/release?x=1"), ENV, "--path '/release?x=1': give the path the call is "
     "POSTed to, from its leading /, without a query string (FC's rawPath, which the signature covers)"),
    (("--bizdate", "2026-03-09", "--request-id", "x" * 129), ENV, "--request-id must be 1 to 128 characters"),
])
def test_what_it_cannot_sign_is_one_line_and_exit_2(args, env, error):
    result = run(*SIGN, *args, env={**NO_KEYS, "DWTRIGGER_AIRFLOW_SECRET": None, **env})
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"Error: {error}\n")
    assert SECRET not in result.output


def test_its_event_runs_through_replay_against_the_emulator_on_its_clock(emulator):
    """Locally, end to end: the FC HTTP trigger event of a signed call, replayed through the http function."""
    url = f"http://{emulator.endpoint}"
    env = {**NO_KEYS, **ROLE_KEY, **ENV, "DWTRIGGER_EMULATOR": url}          # the world's key
    event = run(*SIGN, "--bizdate", "2026-03-09", "--event", env=env)
    assert event.exit_code == 0 and json.loads(event.stdout)["headers"]["X-Dwtrigger-Timestamp"] == "1773277200"
    replayed = run("replay", "-", "--rules", RULES, "--quiet", env=env, input=event.stdout)
    assert replayed.exit_code == 0, replayed.output
    assert [c["params"]["NodeId"] for c in emulator.calls if c["action"] == "RunTriggerNode"] == ["700001235200"]
    again = run("replay", "-", "--rules", RULES, "--quiet", env={**env, "DWTRIGGER_AIRFLOW_SECRET": "not-it"},
                input=event.stdout)
    assert again.exit_code == 1 and "rejected: the signature does not match" in again.stderr
