"""What the load tests share (tests/test_load.py, tests/test_load_sweep.py): bench/reliability.py, loaded once,
and the check that none of its failing figures is above 0."""
import importlib.util
import sys

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("reliability", ROOT / "bench" / "reliability.py")
reliability = sys.modules["reliability"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reliability)


def none_failing(figures):
    failing = reliability.failing(figures)
    assert {name: figures[name] for name in failing} == dict.fromkeys(failing, 0)
