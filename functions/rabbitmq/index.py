"""FC handler for rabbitmq events: bytes and context in, decisions out (see dwtrigger.app)."""
from dwtrigger.app import handle, warm_up


def initialize(context):
    """instanceLifecycleConfig.initializer: rules and SDK loaded before the first event."""
    warm_up()


def handler(event, context):
    return handle("rabbitmq", event, context)
