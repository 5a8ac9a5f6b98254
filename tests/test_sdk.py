"""dataworks/sdk.py: a deferred module behaves as the real one the moment anything but its import-time names is
used, and leaves sys.modules once the SDK is imported."""
import json
import os
import subprocess
import sys

import pytest

from dwtrigger.dataworks import sdk


@pytest.fixture
def unloaded():
    """A small stdlib module no test imports, taken out of sys.modules and put back as it was."""
    name, before = "colorsys", sys.modules.pop("colorsys", None)
    yield name
    sys.modules.pop(name, None)
    if before is not None:
        sys.modules[name] = before


def test_a_deferred_module_loads_and_forwards_on_first_real_use(unloaded):
    placeholder = sdk.Deferred(unloaded, frozenset({"rgb_to_hsv"}))
    sys.modules[unloaded] = placeholder
    later = placeholder.rgb_to_hsv                    # an import-time name: nothing loads
    assert isinstance(later, sdk.Later) and sys.modules[unloaded] is placeholder
    with pytest.raises(AttributeError):
        placeholder.__path__                          # while importing: a plain module, not a package
    placeholder._later, placeholder._importing = frozenset(), False
    assert placeholder.hls_to_rgb(0, 0.5, 0) == (0.5, 0.5, 0.5)        # the real function, the real module loaded
    assert sys.modules[unloaded] is not placeholder and sys.modules[unloaded].__name__ == unloaded
    assert later(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)                    # a Later calls the real one


def test_loading_the_sdk_defers_its_unused_modules_and_leaves_no_placeholder_behind():
    """In a fresh interpreter (this one has the SDK imported already): none of DEFERRED loads with the SDK, none
    stays in sys.modules as a placeholder, and a later import of one is the real module."""
    probe = (
        "import json, sys\n"
        "from dwtrigger.dataworks import sdk\n"
        "sdk.load()\n"
        "loaded = sorted(m for m in sys.modules if m in sdk.DEFERRED or m.startswith(('aiohttp.', 'asyncio.')))\n"
        "placeholders = [m for m in sys.modules.values() if isinstance(m, sdk.Deferred)]\n"
        "import asyncio\n"
        "print(json.dumps({'loaded': loaded, 'placeholders': len(placeholders),\n"
        "                  'real': type(asyncio).__name__ == 'module' and hasattr(asyncio, 'run')}))\n")
    env = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"loaded": [], "placeholders": 0, "real": True}
