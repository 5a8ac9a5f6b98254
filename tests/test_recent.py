"""An FC instance's memory of what became of instances (recent.py): certainties for TTL_S, a held trigger until
its hold ends, bounded in size."""
from dwtrigger.recent import FRESH_S, TTL_S, Listings, Recent, Seen

HOUR_MS = 3_600_000


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_release_is_remembered_for_ttl_s_and_then_forgotten():
    clock = Clock()
    recent = Recent(clock=clock)
    recent.put("k", Seen(1, 2, "sent", 0))
    clock.now = TTL_S - 1
    assert recent.get("k").what == "sent"
    clock.now = TTL_S
    assert recent.get("k") is None


def test_a_held_trigger_is_remembered_until_its_hold_ends():
    """A look-up cannot show a hold: forgetting it after TTL_S would send into it again on the next redelivery."""
    clock = Clock()
    recent = Recent(clock=clock)
    recent.put("k", Seen(1, 2, "sent", 0, held_until_ms=24 * HOUR_MS))
    clock.now = 23.9 * 3600
    assert recent.get("k").held_until_ms == 24 * HOUR_MS
    clock.now = 24 * 3600
    assert recent.get("k") is None


def test_the_oldest_entry_goes_first_when_memory_is_full():
    recent = Recent(clock=Clock(), size=2)
    for key in "abc":
        recent.put(key, Seen(1, 2, "sent", 0))
    assert [recent.get(key) is not None for key in "abc"] == [False, True, True]


def test_a_listing_answers_for_fresh_s_and_never_for_an_instance_sent_a_trigger_since():
    listings, key = Listings(), ("2020-05-18", 10001, "PROD", 700001234567, 1773072000000)
    listings.put(key, 1_000, ["listed"])
    assert listings.get(key, 1_000 + int(FRESH_S * 1000) - 1, 1773160200000) == ["listed"]
    assert listings.get(key, 1_000 + int(FRESH_S * 1000), 1773160200000) is None      # old: look again
    assert listings.get(key, 999, 1773160200000) is None                                # a clock gone back
    listings.touch(key, 1773160200000)
    assert listings.get(key, 1_000, 1773160200000) is None and listings.get(key, 1_000, None) is None
    assert listings.get(key, 1_000, 1773163800000) == ["listed"]                        # another hour of the day
    listings.touch(key, None)
    assert listings.get(key, 1_000, 1773163800000) is None
