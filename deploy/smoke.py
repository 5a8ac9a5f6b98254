"""Run one event through a built package in a bare interpreter: only the package and the standard library.

    python3.12 -I -S deploy/smoke.py build/timer events/timer/nightly.json

This is what FC does on a cold start, minus the cloud: import the handler, run the instance initializer
(`initialize`, when the module has one), call the handler with the event's bytes and a python3.12-shaped
context (no `credentials`: the role's keys come from ALIBABA_CLOUD_*), then import every shipped dwtrigger
module. Prints one JSON line: the import, initializer and first-call times, whether the handler raised, the
outcomes, sys.path, and every module loaded from outside the package and the standard library (there must be
none). Point DWTRIGGER_ENDPOINT / DWTRIGGER_PROTOCOL at a DataWorks (`dwtrigger emulator`) or set
DWTRIGGER_DRY_RUN=true.
"""
import importlib
import json
import os
import pkgutil
import sys
import sysconfig
import time
import types
import uuid


def ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)


def main(code: str, event_path: str) -> dict:
    code = os.path.abspath(code)
    sys.path.insert(0, code)
    os.environ.setdefault("FC_FUNC_CODE_PATH", code)
    started = time.perf_counter()
    import index
    imported = time.perf_counter()
    function = types.SimpleNamespace(name=os.environ.get("FC_FUNCTION_NAME", "dwtrigger-smoke"),
                                     handler="index.handler", memory=512, timeout=60)
    context = types.SimpleNamespace(request_id=str(uuid.uuid4()), function=function, region="cn-shanghai",
                                    account_id="1234567890")
    if hasattr(index, "initialize"):
        index.initialize(context)
    initialized = time.perf_counter()
    with open(event_path, "rb") as f:
        event = f.read()
    try:
        answer, raised = index.handler(event, context), False
        # The http function answers its HTTP trigger: the records are in the response's JSON body.
        outcomes = (json.loads(answer["body"]) if "statusCode" in answer else answer)["outcomes"]
    except Exception as e:      # TriggerFailed: FC would retry; its decisions are the outcomes
        if not hasattr(e, "decisions"):
            raise
        outcomes, raised = [d.record() for d in e.decisions], True
    called = time.perf_counter()
    import dwtrigger
    for module in pkgutil.walk_packages(dwtrigger.__path__, "dwtrigger."):
        importlib.import_module(module.name)
    stdlib = tuple(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib"))
    foreign = sorted(name for name, module in sys.modules.items() if getattr(module, "__file__", None)
                     and module.__file__ != __file__ and not module.__file__.startswith((code, *stdlib)))
    return {"import_ms": ms(started, imported), "initialize_ms": ms(imported, initialized),
            "first_call_ms": ms(initialized, called), "raised": raised, "outcomes": outcomes, "sys_path": sys.path,
            "foreign": foreign}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
