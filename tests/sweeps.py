"""A sweep run through a harness's runtime, for the sweep's tests and the notices' (test_sweep, test_notices)."""
from dwtrigger.ops import fc

ORDERS = "exports/orders/dt={day}/_SUCCESS"
NODE = 700001234567                 # orders' node


def sweep(h, now=None, timeout=60):
    """The sweep's decision records and tally."""
    decisions, tally = h.runtime.sweep(fc.context_for("sweep", timeout=timeout), now)
    return [d.record() for d in decisions], tally


def outcomes(records) -> list:
    return [(d["outcome"], d["biz_date"]) for d in records]
