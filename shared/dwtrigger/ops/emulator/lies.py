"""The ListInstances / ListTaskInstances lies of faults.py, told on an honest answer of either API.

`endless_pages`: every page holds page 1's instances (PageNumber echoes the request) and TotalCount is
1,000,000,000. `foreign_instances`: page 1 of a non-empty answer starts with a copy of its first instance for
another node (the asked one + 1), already successful, and one for the asked node a business day earlier, waiting;
every page's TotalCount counts them.
"""

from dataclasses import dataclass
from typing import Callable, Collection, Dict, Mapping

from .params import integer
from .world import World, stable_id

ENDLESS_TOTAL = 1_000_000_000
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Spelling:
    """Where an API's listing keeps its page and how it names an instance's fields."""
    page: str                     # Data | PagingInfo
    items: str                    # Instances | TaskInstances
    id: str                       # InstanceId | Id
    node: str                     # NodeId | TaskId
    cycle: str                    # CycTime | TriggerTime
    ran: Dict[str, str]           # fields of an instance that already ran
    waiting: Dict[str, str]       # fields of a waiting recurring instance


def liar(honest: Callable[[World, Mapping[str, str]], dict], spelling: Spelling):
    """`honest` (world, params) -> answer, made to tell the lies asked for."""
    def answer(world: World, params: Mapping[str, str], lies: Collection[str]) -> dict:
        told = honest(world, params)
        page = told[spelling.page]
        if "foreign_instances" in lies and page["TotalCount"]:
            page["TotalCount"] += 2
        if "endless_pages" in lies:
            first = honest(world, {**params, "PageNumber": "1"})[spelling.page]
            page.update({spelling.items: first[spelling.items], "TotalCount": ENDLESS_TOTAL})
        if "foreign_instances" in lies and page["PageNumber"] == 1 and page[spelling.items]:
            page[spelling.items] = [*_foreign(page[spelling.items][0], params, spelling), *page[spelling.items]]
        return told
    return answer


def _foreign(real: dict, params: Mapping[str, str], s: Spelling) -> list:
    """Copies of the first real instance: another node's, and the asked node's a business day earlier."""
    other_node = dict(real, **s.ran, **{s.node: integer(params, s.node, real[s.node]) + 1,
                                        s.id: stable_id(f"{real[s.id]}/other-node")})
    day_before = dict(real, **s.waiting, **{"Bizdate": real["Bizdate"] - DAY_MS, s.cycle: real[s.cycle] - DAY_MS,
                                            s.id: stable_id(f"{real[s.id]}/day-before")})
    return [other_node, day_before]
