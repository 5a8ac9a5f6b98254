"""bench/cost.py counts what docs/cost.md cites. The cheap part is held here: the OSS requests `require` costs per
event, as counted on the OSS stand-in, are the page's (one per entry: GetObjectMeta for a named file,
ListObjectsV2 for a pattern). The rest of the page comes from `bench/cost.py --events 1000` (minutes), as it says."""
import importlib.util
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow      # slow: run once, on FC's Python (Makefile)


def _load(name: str):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def test_require_costs_one_oss_request_per_entry_and_event_as_the_cost_page_says():
    _load("reliability")
    cost = _load("cost")
    figures = cost.required(6)
    assert figures["require OSS requests"] == 2 * 6
    assert figures["by operation"] == {"GetObjectMeta": 6, "ListObjectsV2": 6}
    page = (ROOT / "docs" / "cost.md").read_text()
    assert "one per entry per event (`GetObjectMeta` for a named file, `ListObjectsV2` for a pattern)" in page
