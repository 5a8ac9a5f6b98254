"""What the dead-letter queue holds, for the tests of what reads it back (test_dead_letters, test_drain, test_sandbox)."""


def fc_record(event: bytes) -> dict:
    """FC's failure-destination record of `event`."""
    return {"timestamp": 1773190000000, "requestContext": {"requestId": "r-1", "functionArn": "acs:fc:x",
            "condition": "UnhandledInvocationError", "approximateInvokeCount": 4},
            "requestPayload": event.decode(), "responseContext": {"statusCode": 200}}
