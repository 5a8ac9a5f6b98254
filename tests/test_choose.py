"""choose: the one instance an event names, from whatever a look-up listed, in the port's normalised facts (the
same table holds for every API, since each adapter maps into those facts)."""
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from dwtrigger.dataworks import Instance
from dwtrigger.dataworks.choose import Unresolved, choose

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY, NODE = date(2026, 3, 10), 700001234567
BIZ, AT_0030 = 1773072000000, 1773160200000            # 2026-03-10 00:00 and 2026-03-11 00:30, Shanghai
HOUR, DAY_MS = 3_600_000, 86_400_000


def inst(n: int, waiting=True, node=NODE, biz=BIZ, cycle_ms=AT_0030, cycle=True, frozen=False) -> Instance:
    return Instance(n, node, "WaitTrigger" if waiting else "Success", waiting=waiting, ready=waiting, frozen=frozen,
                    cycle=cycle, cycle_ms=cycle_ms, biz_date_ms=biz)


@pytest.mark.parametrize("listed, cycle_ms, chosen", [
    ([inst(1)], None, 1),
    ([inst(9, waiting=False, node=NODE + 1), inst(1)], None, 1),                 # another node's, listed first
    ([inst(8, biz=BIZ - DAY_MS, cycle_ms=AT_0030 - DAY_MS), inst(1)], None, 1),  # the day before's, waiting
    ([inst(7, cycle=False), inst(1)], None, 1),                                   # a backfill or manual run
    ([inst(2, cycle_ms=AT_0030 + HOUR), inst(1)], AT_0030 + HOUR, 2),            # the scheduled time picks
    ([inst(1, waiting=False), inst(2, cycle_ms=AT_0030 + HOUR)], None, 2),        # the one still waiting
    ([inst(2, waiting=False, cycle_ms=AT_0030 + HOUR), inst(1, waiting=False)], None, 1),   # none: the earliest
])
def test_choose_takes_only_the_asked_node_and_business_date(listed, cycle_ms, chosen):
    assert choose(listed, NODE, DAY, SHANGHAI, cycle_ms).instance_id == chosen


@pytest.mark.parametrize("listed, cycle_ms, code, words", [
    ([], None, "InstanceNotFound", "no cycle instance for business date 2026-03-10"),
    ([], None, "InstanceNotFound", "other Data Studio generation than the rule's `api`"),
    ([inst(9, node=NODE + 1)], None, "InstanceNotFound", "1 listed instance(s) of other nodes or business dates"),
    ([inst(8, biz=BIZ - DAY_MS)], None, "InstanceNotFound", "is Asia/Shanghai the workspace's time zone?"),
    ([inst(7, cycle=False)], None, "InstanceNotFound", "no cycle instance"),
    ([inst(1)], AT_0030 + HOUR, "InstanceNotFound", "scheduled: 00:30"),
    ([inst(2, cycle_ms=AT_0030 + HOUR), inst(1)], None, "Ambiguous", "00:30, 01:30"),
    ([inst(1, frozen=True)], None, "NodeFrozen", "frozen"),
])
def test_choose_says_why_there_is_not_exactly_one(listed, cycle_ms, code, words):
    with pytest.raises(Unresolved) as err:
        choose(listed, NODE, DAY, SHANGHAI, cycle_ms)
    assert err.value.code == code and words in err.value.reason


def test_a_business_date_is_its_date_in_the_workspace_zone_not_an_exact_ms():
    # DataWorks' Bizdate is midnight; a listing is matched by the date it names in the zone, so the check never
    # trips on how a zone writes a midnight (a DST day's) while another day's instance is still refused.
    berlin = ZoneInfo("Europe/Berlin")
    on_dst_day = inst(1, biz=1774738800000)          # 2026-03-29 00:00 +01:00, the day Berlin springs forward
    assert choose([on_dst_day], NODE, date(2026, 3, 29), berlin).instance_id == 1
    with pytest.raises(Unresolved):
        choose([on_dst_day], NODE, date(2026, 3, 28), berlin)
