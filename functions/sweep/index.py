"""FC handler for the sweep: a timer runs it every few minutes (see dwtrigger.sweep)."""
from dwtrigger.app import handle_sweep, warm_up


def initialize(context):
    """instanceLifecycleConfig.initializer: rules and SDKs loaded before the first run."""
    warm_up()


def handler(event, context):
    return handle_sweep(event, context)
