"""One delivery in a process of its own, so a test can end it between two steps (a real crash, not a mock).

Usage: python crash_child.py SPEC.json, where SPEC holds the rules text, the API the harness moved them to, the
environment, the wall-clock time (ISO), the source, the event and the function's timeout. It runs the event through
`Runtime.run` as the FC handler does and prints its outcomes, if it lives that long.
"""
import json
import sys
from datetime import datetime

from conftest import on_api
from dwtrigger import app
from dwtrigger.ops import fc
from dwtrigger.rules import parse_rules


def main(path: str) -> None:
    spec = json.loads(open(path, encoding="utf-8").read())
    now = datetime.fromisoformat(spec["now"])
    runtime = app.Runtime(on_api(parse_rules(spec["rules"]), spec["api"]), environ=spec["env"],
                          wall_clock=lambda: now)
    decisions = runtime.run(spec["source"], spec["event"].encode(), fc.context_for(spec["source"],
                                                                                     timeout=spec["timeout"]))
    print(json.dumps([d.outcome for d in decisions]), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
