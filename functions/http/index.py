"""FC handler for signed HTTP calls: the request in, the HTTP response out (see dwtrigger.app, sources/http.py)."""
from dwtrigger.app import handle, warm_up


def initialize(context):
    """instanceLifecycleConfig.initializer: rules and SDK loaded before the first event."""
    warm_up()


def handler(event, context):
    return handle("http", event, context)
