"""retry.py: the invocation's deadline, on a clock the test holds."""
import pytest

from dwtrigger.ops import fc
from dwtrigger.retry import Deadline


@pytest.mark.parametrize("timeout, margin", [(1.5, 0.5), (3, 0.5), (10, 1.0), (60, 3.0), (600, 3.0)])
def test_an_invocation_ends_a_tenth_of_fc_s_timeout_before_it_between_half_a_second_and_three(timeout, margin):
    """The margin is the time left to log the decisions and raise before FC stops the function."""
    deadline = Deadline.for_invocation(fc.context_for("oss", timeout=timeout), 100.0, clock=lambda: 100.0)
    assert (deadline.at, deadline.left()) == (100.0 + timeout - margin, timeout - margin)
