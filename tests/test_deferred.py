"""deferred.py: a deferred module behaves as the real one the moment anything but its import-time names is used,
and leaves sys.modules when the block ends."""
import sys

import pytest

from dwtrigger.deferred import Deferred, Later, deferring


@pytest.fixture
def unloaded():
    """A small stdlib module no test imports, taken out of sys.modules and put back as it was."""
    name, before = "colorsys", sys.modules.pop("colorsys", None)
    yield name
    sys.modules.pop(name, None)
    if before is not None:
        sys.modules[name] = before


def test_a_deferred_module_loads_and_forwards_on_first_real_use(unloaded):
    with deferring({unloaded: frozenset({"rgb_to_hsv"})}):
        placeholder = sys.modules[unloaded]
        from colorsys import rgb_to_hsv              # an import-time name: nothing loads
        assert isinstance(placeholder, Deferred) and isinstance(rgb_to_hsv, Later)
        with pytest.raises(AttributeError):
            placeholder.__path__                      # inside the block: a plain module, not a package
    assert unloaded not in sys.modules                # the block ended: no placeholder left behind
    assert placeholder.hls_to_rgb(0, 0.5, 0) == (0.5, 0.5, 0.5)        # the real function, the real module loaded
    assert sys.modules[unloaded] is not placeholder and sys.modules[unloaded].__name__ == unloaded
    assert rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)               # a Later calls the real one


def test_a_module_already_imported_is_left_as_it_is():
    import json
    with deferring({"json": frozenset({"dumps"})}):
        assert sys.modules["json"] is json
