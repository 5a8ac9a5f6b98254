"""dataworks/sdk.py: the SDK imported without the modules only its async, WebSocket and RSA paths use."""
import json
import os
import subprocess
import sys


def test_loading_the_sdk_defers_its_unused_modules_and_leaves_no_placeholder_behind():
    """In a fresh interpreter (this one has the SDK imported already): none of DEFERRED loads with the SDK, none
    stays in sys.modules as a placeholder, and a later import of one is the real module."""
    probe = (
        "import json, sys\n"
        "from dwtrigger.dataworks import sdk\n"
        "from dwtrigger.deferred import Deferred\n"
        "sdk.load()\n"
        "loaded = sorted(m for m in sys.modules if m in sdk.DEFERRED or m.startswith(('aiohttp.', 'asyncio.')))\n"
        "placeholders = [m for m in sys.modules.values() if isinstance(m, Deferred)]\n"
        "import asyncio\n"
        "print(json.dumps({'loaded': loaded, 'placeholders': len(placeholders),\n"
        "                  'real': type(asyncio).__name__ == 'module' and hasattr(asyncio, 'run')}))\n")
    env = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"loaded": [], "placeholders": 0, "real": True}
