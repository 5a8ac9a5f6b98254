"""SDK clients are cached by everything that shapes them: concurrent invocations in one FC instance, each with its
own (rotating) keys, never get a client built from another's keys."""
import sys
import threading

import pytest

from dwtrigger.credentials import ClientCache, RoleKeys

KEYS = [RoleKeys(f"STS.key-{n}", f"secret-{n}", f"token-{n}") for n in range(4)]


class Built:
    """What the cache built: the keys and place it was built for."""

    def __init__(self, api, endpoint, protocol, credential):
        self.api, self.endpoint, self.protocol, self.credential = api, endpoint, protocol, credential

    @property
    def access_key_id(self) -> str:
        return self.credential.get_credential().access_key_id


@pytest.fixture
def fast_switching():
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)                 # interleave the threads as finely as the interpreter allows
    yield
    sys.setswitchinterval(before)


def test_concurrent_invocations_with_rotating_keys_each_get_their_own_client(fast_switching):
    cache, wrong, start = ClientCache(Built), [], threading.Barrier(len(KEYS))

    def invocations(keys: RoleKeys) -> None:
        start.wait()
        for n in range(300):
            endpoint = f"dataworks-{n % 3}.example:443"
            client = cache.get(keys, "2020-05-18", endpoint, "https", None, None)
            if (client.access_key_id, client.endpoint) != (keys.access_key_id, endpoint):
                wrong.append((keys.access_key_id, client.access_key_id, endpoint, client.endpoint))

    threads = [threading.Thread(target=invocations, args=(keys,)) for keys in KEYS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_a_client_is_reused_while_nothing_that_shapes_it_changes():
    cache = ClientCache(Built)
    first = cache.get(KEYS[0], "2020-05-18", "dw:1", "https", None, None)
    assert cache.get(KEYS[0], "2020-05-18", "dw:1", "https", None, None) is first
    assert cache.get(KEYS[0], "2020-05-18", "dw:1", "http", None, None) is not first
    assert cache.get(KEYS[0], "2024-05-18", "dw:1", "https", None, None).api == "2024-05-18"
    assert cache.get(KEYS[0], "2020-05-18", "dw:1", "https", "acs:ram::1:role/r", "http://sts") is not first
    rotated = cache.get(KEYS[1], "2020-05-18", "dw:1", "https", None, None)
    assert rotated is not first and rotated.access_key_id == "STS.key-1"
    assert cache.get(KEYS[0], "2020-05-18", "dw:1", "https", None, None) is not first   # older keys' were dropped
