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


@pytest.mark.parametrize("keys", [KEYS[0], RoleKeys("LTAI.long-lived", "secret-ak")], ids=["sts", "access_key"])
def test_the_role_keys_sign_as_the_credentials_library_would_give_them(keys):
    """What tea-openapi reads of a credential (`get_credential()`: keys, type, provider name, which rides in the
    x-acs-credentials-provider header) is the library's static provider's, field for field, without its client."""
    from alibabacloud_credentials.client import Client
    from alibabacloud_credentials.models import Config

    from dwtrigger.credentials import StaticCredential, credential_client

    library = Client(Config(type="sts" if keys.security_token else "access_key", access_key_id=keys.access_key_id,
                            access_key_secret=keys.access_key_secret, security_token=keys.security_token))
    ours = credential_client(keys)
    assert isinstance(ours, StaticCredential)
    assert ours.get_credential().to_map() == library.get_credential().to_map()


def test_the_scrubber_of_a_set_of_keys_is_built_once():
    """Every invocation with the same keys shares one Scrubber (its regex of every encoded form of every key)."""
    from dwtrigger.credentials import InvocationKeys

    context = type("Context", (), {"credentials": KEYS[1]})()
    first, second = (InvocationKeys(context, {}) for _ in range(2))
    first.get(), second.get()
    assert first.scrub is second.scrub and first.scrub("x secret-1 y") == "x [redacted] y"
