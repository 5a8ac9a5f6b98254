"""SDK clients are cached by everything that shapes them: concurrent invocations in one FC instance, each with its
own (rotating) keys, never get a client built from another's keys."""
import sys
import threading

import pytest

from dwtrigger.credentials import ClientCache, RoleKeys

KEYS = [RoleKeys(f"STS.key-{n}", f"secret-{n}", f"token-{n}") for n in range(4)]


class Built:
    """What the cache built: the keys and the place it was built for."""

    def __init__(self, keys: RoleKeys, shape: tuple):
        self.access_key_id, self.shape = keys.access_key_id, shape


def get(cache: ClientCache, keys: RoleKeys, *shape) -> Built:
    return cache.get(keys, shape, lambda: Built(keys, shape))


@pytest.fixture
def fast_switching():
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)                 # interleave the threads as finely as the interpreter allows
    yield
    sys.setswitchinterval(before)


def test_concurrent_invocations_with_rotating_keys_each_get_their_own_client(fast_switching):
    cache, wrong, start = ClientCache(), [], threading.Barrier(len(KEYS))

    def invocations(keys: RoleKeys) -> None:
        start.wait()
        for n in range(300):
            shape = ("dataworks", f"dataworks-{n % 3}.example:443")
            client = get(cache, keys, *shape)
            if (client.access_key_id, client.shape) != (keys.access_key_id, shape):
                wrong.append((keys.access_key_id, client.access_key_id, shape, client.shape))

    threads = [threading.Thread(target=invocations, args=(keys,)) for keys in KEYS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_a_client_is_reused_while_nothing_that_shapes_it_changes():
    cache = ClientCache()
    first = get(cache, KEYS[0], "dataworks", "2020-05-18", "dw:1", "https")
    assert get(cache, KEYS[0], "dataworks", "2020-05-18", "dw:1", "https") is first
    assert get(cache, KEYS[0], "dataworks", "2020-05-18", "dw:1", "http") is not first
    assert get(cache, KEYS[0], "dataworks", "2024-05-18", "dw:1", "https") is not first
    assert get(cache, KEYS[0], "oss", "cn-shanghai", None, "https") is not first
    rotated = get(cache, KEYS[1], "dataworks", "2020-05-18", "dw:1", "https")
    assert rotated is not first and rotated.access_key_id == "STS.key-1"
    assert get(cache, KEYS[0], "dataworks", "2020-05-18", "dw:1", "https") is not first   # older keys' were dropped
