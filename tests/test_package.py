"""The FC packages deploy/package.py builds: self-contained, runnable in a bare interpreter, resolvable for 3.12.

(a) builds for this interpreter's version and runs each handler with `python -I -S deploy/smoke.py`: sys.path
holds only the package and the standard library, the event goes through the real SDK to the emulator.
(b) resolves the python3.12 build with pip (network: PyPI) and checks every dependency comes as a wheel.
Run with -s to see each package's size and cold import time (the figures in docs/deploy.md, "Packages: size and cold
start").
"""
import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import EVENTS, ROLE_KEY, ROOT
from deployed import FUNCTIONS       # first: it puts deploy/ on sys.path, where package.py finds wiring.py
from dwtrigger import sources

pytestmark = pytest.mark.slow      # slow: run once, on FC's Python (Makefile)

SPEC = importlib.util.spec_from_file_location("package", ROOT / "deploy" / "package.py")
package = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(package)

LOCAL = "%d.%d" % sys.version_info[:2]
SAMPLES = {"oss": "oss/native-put-orders.json", "mns": "mns/topic-json-finance.json", "timer": "timer/nightly.json",
           "sweep": "sweep/every-10-minutes.json", "rocketmq": "rocketmq/eventbridge-base64.json",
           "kafka": "kafka/eventbridge-json-value.json", "rabbitmq": "rabbitmq/eventbridge-list.json",
           "http": "http/call-1-bizdate.json"}
# Alone, without the demo's earlier samples: only the sweep sample's own file landed, so 03-11 and 03-10 are overdue.
ALONE = {"sweep": ["overdue", "overdue", "triggered"]}
DEV_ONLY = {"click", "pytest", "moto", "hypothesis", "boto3", "botocore", "jsonschema"}


def pinned(python: str) -> dict:
    """name -> version the lock gives `python` (packaging's marker evaluation, not package.py's)."""
    environment = {"python_version": python, "python_full_version": f"{python}.0"}
    lines = [line.split("#")[0].strip() for line in package.LOCK.read_text().splitlines()]
    requirements = [Requirement(line) for line in lines if line]
    return {canonicalize_name(r.name): str(r.specifier).removeprefix("==") for r in requirements
            if r.marker is None or r.marker.evaluate(environment)}


def shipped(code) -> dict:
    """name -> version of every distribution installed in a package."""
    dists = (d.stem.rsplit("-", 1) for d in code.glob("*.dist-info"))
    return {canonicalize_name(name): version for name, version in dists}


def expectation(sample: str) -> dict:
    entry = yaml.safe_load((EVENTS / sample).with_name("expected.yaml").read_text())[sample.split("/")[1]]
    return entry if isinstance(entry, dict) else {"outcomes": entry}


def expected_outcomes(sample: str) -> list:
    return expectation(sample)["outcomes"]


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    return package.build(LOCAL, tmp_path_factory.mktemp("build"))


def test_each_package_holds_the_handler_dwtrigger_the_rules_and_exactly_the_runtime_lock(packages):
    assert set(packages) == set(SAMPLES)
    for fn, code in packages.items():
        assert (code / "index.py").read_bytes() == (ROOT / "functions" / fn / "index.py").read_bytes()
        assert (code / "rules.yaml").read_bytes() == (ROOT / "rules.yaml").read_bytes()
        assert (code / "dwtrigger" / "app.py").is_file()
        assert not (code / "dwtrigger" / package.OPERATOR_ONLY).exists()
        assert (code / "dwtrigger" / "dataworks" / "v20240518.py").is_file()
        assert shipped(code) == pinned(LOCAL) and not DEV_ONLY & set(shipped(code))
        files = sorted(p.relative_to(code).as_posix() for p in code.rglob("*") if p.is_file())
        assert sorted(zipfile.ZipFile(code.with_suffix(".zip")).namelist()) == files


def test_s_yaml_code_and_handlers_point_at_the_built_packages(packages):
    out = next(iter(packages.values())).parent
    for props in FUNCTIONS:
        archive = zipfile.ZipFile(out / props["code"].removeprefix("./build/"))
        hooks = props.get("instanceLifecycleConfig", {}).values()
        for handler in [props["handler"], *(hook["handler"] for hook in hooks)]:
            module, function = handler.rsplit(".", 1)
            source = archive.read(f"{module.replace('.', '/')}.py")
            defined = {node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
            assert function in defined, f"{props['functionName']}: {handler} not in {archive.filename}"


def bare_python(*args: str, env=None) -> subprocess.CompletedProcess:
    """This interpreter without site-packages, the environment or the working directory on sys.path."""
    return subprocess.run([sys.executable, "-I", "-S", *args], env=env or {}, capture_output=True, text=True,
                          timeout=120)


def pyenv(tmp_path, *releases: str) -> dict:
    """An environment whose PATH holds only pyenv's shim for python3.X, which fails (the version is installed, not
    selected), and whose PYENV_ROOT holds `releases` of it (this interpreter, under each name)."""
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / f"python{LOCAL}"
    shim.write_text(f"#!/bin/sh\necho 'pyenv: python{LOCAL}: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    for release in releases:
        home = tmp_path / "pyenv" / "versions" / release / "bin"
        home.mkdir(parents=True)
        (home / f"python{LOCAL}").symlink_to(os.path.realpath(sys.executable))
    return {"PATH": str(shims), "PYENV_ROOT": str(tmp_path / "pyenv"), "HOME": str(tmp_path)}


def test_make_package_finds_fcs_python_under_pyenv_where_make_test_does(tmp_path, monkeypatch):
    """One definition (deploy/fcpython.py): the Makefile's FC_INTERPRETER, which `make test` builds its second venv
    with and `make package` passes on, and package.py's own look when run alone, are the newest release."""
    env = pyenv(tmp_path, f"{LOCAL}.2", f"{LOCAL}.10", f"{LOCAL}-dev")
    newest = str(tmp_path / "pyenv" / "versions" / f"{LOCAL}.10" / "bin" / f"python{LOCAL}")
    made = subprocess.run([shutil.which("make"), "--no-print-directory", "-n", "package", f"FC_PYTHON={LOCAL}",
                           f"PYTHON={os.path.realpath(sys.executable)}"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[-1] == (f".venv/bin/python deploy/package.py --python {LOCAL} --out build "
                                            f"--interpreter {newest}")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert package.bytecode_compiler(LOCAL, None) == newest


def test_without_fcs_python_make_package_warns_that_nothing_is_compiled(tmp_path, monkeypatch, capsys):
    for name, value in pyenv(tmp_path).items():
        monkeypatch.setenv(name, value)
    assert package.bytecode_compiler("3.99", None) is None
    assert capsys.readouterr().err.startswith("warning: no python3.99 found (pass --interpreter): the packages ship "
                                              "without bytecode")


def signed_now(sample, secret: str, tmp_path):
    """The sample's call signed again with this machine's clock (the function in its package runs by it)."""
    event = json.loads(sample.read_text())
    stamp = str(int(time.time()))
    event["headers"].update(sources.get("http").signed_headers(event["headers"]["X-Dwtrigger-Caller"], secret,
                                                               event["rawPath"], stamp, event["body"].encode()))
    path = tmp_path / sample.name
    path.write_text(json.dumps(event))
    return path


@pytest.mark.parametrize("fn", sorted(SAMPLES))
def test_each_handler_runs_a_sample_from_its_package_alone(packages, emulator, oss_standin, fn, tmp_path):
    stdlib_path = json.loads(bare_python("-c", "import json, sys; print(json.dumps(sys.path))").stdout)
    env = {"DWTRIGGER_ENDPOINT": emulator.endpoint, "DWTRIGGER_PROTOCOL": "http", **ROLE_KEY,
           "DWTRIGGER_OSS_ENDPOINT": oss_standin.endpoint, "FC_FUNCTION_NAME": f"dwtrigger-{fn}"}
    for landed in expectation(SAMPLES[fn]).get("land", []):
        oss_standin.put(*landed.split("/", 1))
    env.update(expectation(SAMPLES[fn]).get("env", {}))
    sample = EVENTS / SAMPLES[fn]
    if fn == "http":                    # a call signed now, as the sample's caller signs it (a recorded one is stale)
        sample = signed_now(sample, env["DWTRIGGER_AIRFLOW_SECRET"], tmp_path)
    run = bare_python(str(ROOT / "deploy" / "smoke.py"), str(packages[fn]), str(sample), env=env)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["sys_path"] == [str(packages[fn]), *stdlib_path]
    assert report["foreign"] == []
    assert [d["outcome"] for d in report["outcomes"]] == (ALONE.get(fn) or expected_outcomes(SAMPLES[fn]))
    released = {d["node"] for d in report["outcomes"] if d["outcome"] == "triggered"}
    assert {int(c["params"]["NodeId"]) for c in emulator.calls if c["action"] == "RunTriggerNode"} == released
    granted = {a for s in json.loads((ROOT / "deploy" / "ram" / "dataworks.json").read_text())["Statement"]
               for a in s["Action"]}
    assert {f"dataworks:{c['action']}" for c in emulator.calls} <= granted
    sizes = [package.size(path) / 1e6 for path in (packages[fn], packages[fn].with_suffix(".zip"))]
    print(f"\n{fn}: {sizes[0]:.1f} MB ({sizes[1]:.1f} MB zipped); python{LOCAL} -I -S: import index "
          f"{report['import_ms']} ms, initializer {report['initialize_ms']} ms, "
          f"first event {report['first_call_ms']} ms")


REFUSALS = {
    "a misspelt time zone": ("timezone: Asia/Shanghai      #", "timezone: Asia/Shangai      #", [
        "RULES:4: field 'defaults.timezone': unknown time zone 'Asia/Shangai' (did you mean 'Asia/Shanghai'?)"]),
    "a rule no trigger feeds": ("topic: billing-done", "topic: payroll-done", [
        "RULES:73: rule 'billing-feed': no trigger in s.yaml feeds topic payroll-done: subscribe a queue to it "
        "(vars.subscriptions) with an eventbridge trigger on that queue, or add a mns_topic trigger, to the mns "
        "function; or remove the rule",
        "s.yaml: eventbridge trigger 'billing-done' of resource mns on queue dwtrigger-billing-done (subscribed to "
        "topic billing-done) feeds no rule in rules.yaml: remove it, or add a rule"]),
}


@pytest.mark.parametrize("old, new, problems", REFUSALS.values(), ids=REFUSALS.keys())
def test_make_package_refuses_rules_that_do_not_validate_or_no_trigger_feeds(tmp_path, capsys, old, new, problems):
    """Before pip runs: nothing is built, and the loader's (or the wiring check's) messages say why."""
    rules = tmp_path / "rules.yaml"
    rules.write_text((ROOT / "rules.yaml").read_text().replace(old, new, 1))
    with pytest.raises(SystemExit) as refused:
        package.main(["--out", str(tmp_path / "build"), "--rules", str(rules)])
    assert str(refused.value) == f"refusing to build: {len(problems)} problem(s) with {rules} and {ROOT / 's.yaml'}"
    assert capsys.readouterr().err.splitlines() == [p.replace("RULES", str(rules)) for p in problems]
    assert not (tmp_path / "build").exists()


def test_make_package_builds_with_a_warning_for_a_trigger_kept_for_a_disabled_rule(tmp_path, capsys, monkeypatch):
    """Switching a rule off never stops a deployment: its trigger is named, and the packages are built."""
    rules = tmp_path / "rules.yaml"
    text = (ROOT / "rules.yaml").read_text()
    rules.write_text(text.replace("  - name: nightly\n", "  - name: nightly\n    enabled: false\n", 1))
    built = []
    monkeypatch.setattr(package, "build", lambda *args: built.append(args))
    package.main(["--python", "3.12", "--out", str(tmp_path / "build"), "--rules", str(rules)])
    line = text.splitlines().index("  - name: nightly") + 1
    assert capsys.readouterr().err.splitlines() == [
        f"warning: s.yaml: timer trigger 'nightly' of resource timer is kept for disabled rule 'nightly' (enabled: "
        f"false at {rules}:{line}): meanwhile it invokes the function for events no rule in play takes; remove it if "
        "the rule stays off"]
    assert built == [("3.12", tmp_path / "build", None, rules)]


def test_python312_resolves_every_dependency_as_a_binary_wheel(tmp_path):
    pip_install = package.install_args("3.12", tmp_path / "target")
    report = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "pip", *pip_install, "--dry-run", "--report", str(report)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    resolved = json.loads(report.read_text())["install"]
    sdists = [i["download_info"]["url"] for i in resolved if not i["download_info"]["url"].endswith(".whl")]
    assert sdists == []
    assert {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"] for i in resolved} == pinned("3.12")


def test_nothing_that_ships_imports_the_operator_only_folder():
    """The boundary package.py relies on: a handler importing dwtrigger.ops would fail on FC, not here."""
    shared = ROOT / "shared"
    offenders = []
    for path in [*(shared / "dwtrigger").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]:
        inside = shared in path.parents
        if inside and shared / "dwtrigger" / "ops" in path.parents:
            continue
        package = ".".join(path.relative_to(shared).parent.parts) if inside else ""
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) \
                    if node.level else node.module
                names = [base, *(f"{base}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            if any(n == "dwtrigger.ops" or n.startswith("dwtrigger.ops.") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
