"""FC handler for oss events: bytes and context in, decisions out (see dwtrigger.app)."""
from dwtrigger.app import handle


def handler(event, context):
    return handle("oss", event, context)
