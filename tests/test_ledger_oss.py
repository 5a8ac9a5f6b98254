"""The OSS adapter of the ledger (ledger/oss.py) over the OSS stand-in, through the real SDK: the names and bytes a
deployed ledger holds, and objects that are not ours (misnamed, off the schema, stray names) left out. The port's
contract, which this adapter passes too, is test_ledger_contract's."""
import json
from datetime import date

from conftest import ROLE_KEY
from dwtrigger import oss
from dwtrigger.credentials import RoleKeys
from dwtrigger.ledger import Entry, Notice, Slot
from ledgers import Ticking, oss_book

NODE, CYCLE_MS = 700001234567, 1773160200000


def standin_store(standin) -> oss.ObjectStore:
    return oss.store("cn-shanghai", standin.endpoint, "http", False, RoleKeys(*ROLE_KEY.values()))


def test_each_record_keeps_its_name_and_bytes_and_where_says_it(oss_standin):
    clock = Ticking()
    ours = oss_book(standin_store(oss_standin), clock)
    slot, day = Slot("2020-05-18", 10001, NODE, CYCLE_MS), date(2026, 3, 10)
    entry = Entry("sending", "orders", "e-1", 1773277200000, until=1773277270000, token="t")
    assert ours.create_claim(slot, 1, entry)
    ours.mark_done("2020-05-18", 10001, NODE, day, CYCLE_MS)
    ours.mark_done("2020-05-18", 10001, NODE, day, None)
    ours.note_asked("nightly", NODE, day, "e-2")
    claims = f"dwtrigger/claims/2020-05-18/10001/{NODE}/{CYCLE_MS}/"
    assert oss_standin.body("etl-ledger", claims + "0001.json") == (
        b'{"state":"sending","rule":"orders","event_id":"e-1","claimed_at":1773277200000,"until":1773277270000,'
        b'"token":"t"}')
    assert oss_standin.body("etl-ledger", f"dwtrigger/done/2020-05-18/10001/{NODE}/2026-03-10/{CYCLE_MS}.json") == b"{}"
    assert oss_standin.body("etl-ledger", f"dwtrigger/done/2020-05-18/10001/{NODE}/2026-03-10/day.json") == b"{}"
    assert json.loads(oss_standin.body("etl-ledger", f"dwtrigger/asked/nightly/{NODE}/2026-03-10.json")) == {
        "event_id": "e-2"}
    assert ours.where(slot, 1) == f"oss://etl-ledger/{claims}0001.json"
    assert ours.where(slot, 0) == f"oss://etl-ledger/{claims}"
    assert ours.where_asked("nightly", NODE, day) == f"oss://etl-ledger/dwtrigger/asked/nightly/{NODE}/2026-03-10.json"


# ---- notices: what the sweep owes or said about a release -----------------------------------------------------

def test_a_notice_is_kept_by_kind_and_an_object_not_ours_is_left_out(oss_standin):
    clock = Ticking()
    ours = oss_book(standin_store(oss_standin), clock)
    day = date(2026, 3, 10)
    assert ours.notices("orders", NODE, day) == {}
    ours.note("orders", NODE, day, Notice("overdue", 1773190800000, "no evidence by 06:00", ["ops"], ["ops"],
                                          1773190801000, 1))
    ours.note("orders", NODE, day, Notice("stuck", 1773190800000, channels=["ops", "pager"], failures=3))
    folder = f"dwtrigger/noticed/orders/{NODE}/2026-03-10/"
    oss_standin.put("etl-ledger", folder + "released_late.json", b'{"kind": "overdue", "noted_at": 1}')  # misnamed
    oss_standin.put("etl-ledger", folder + "gossip.json", b'{"kind": "gossip", "noted_at": 1}')
    oss_standin.put("etl-ledger", folder + "overdue.json.tmp", b"{}")
    found = ours.notices("orders", NODE, day)
    assert sorted(found) == ["overdue", "stuck"]
    assert found["overdue"].done and found["overdue"].delivered == ["ops"]
    assert not found["stuck"].done and found["stuck"].failures == 3
    assert json.loads(oss_standin.body("etl-ledger", folder + "overdue.json"))["sent_at"] == 1773190801000
    assert ours.notices("orders", NODE, date(2026, 3, 11)) == {}


def test_a_rule_s_notices_are_listed_at_once_and_a_new_one_is_created_only_once(oss_standin):
    clock = Ticking()
    ours = oss_book(standin_store(oss_standin), clock)
    day = date(2026, 3, 10)
    assert ours.noticed("orders") == set() and ours.notice("orders", NODE, day, "overdue") is None
    first = Notice("overdue", 1773190800000, "first", ["ops"])
    assert ours.note_first("orders", NODE, day, first)
    assert not ours.note_first("orders", NODE, day, Notice("overdue", 1773190900000, "second", ["ops"]))
    assert ours.notice("orders", NODE, day, "overdue") == first and first.owed
    ours.note("orders", NODE, date(2026, 3, 11), Notice("stuck", 1773190800000, failures=1))
    ours.note("orders-2", NODE, day, Notice("stuck", 1773190800000, failures=1))        # another rule's
    oss_standin.put("etl-ledger", f"dwtrigger/noticed/orders/{NODE}/2026-03-10/gossip.json", b"{}")
    oss_standin.put("etl-ledger", "dwtrigger/noticed/orders/x1/2026-03-10/stuck.json", b"{}")
    assert ours.noticed("orders") == {(NODE, "2026-03-10", "overdue"), (NODE, "2026-03-11", "stuck")}
    assert not ours.notice("orders", NODE, date(2026, 3, 11), "stuck").owed          # counting, owed to no one
    assert ours.notice("orders", NODE, day, "stuck") is None
