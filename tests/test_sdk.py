"""dataworks/sdk.py: a deferred module behaves as the real one the moment anything but its import-time names is
used, and leaves sys.modules once the SDK is imported."""
import importlib
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


def test_loading_the_sdk_leaves_no_placeholder_behind():
    sdk.load()
    assert "alibabacloud_tea_openapi.client" in sys.modules
    assert not [name for name in sdk.DEFERRED if isinstance(sys.modules.get(name), sdk.Deferred)]
    assert importlib.import_module("asyncio").get_event_loop_policy    # any later import is the real module
